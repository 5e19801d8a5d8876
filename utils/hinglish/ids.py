"""Identifiers callers read out: Indian mobile numbers (to E.164), PIN codes, order and ticket ids."""

from __future__ import annotations

import re
from collections.abc import Sequence

from utils.hinglish.lexicon import ID_WORDS
from utils.hinglish.numbers import digits_of, normalize_digits
from utils.hinglish.tokens import classify, fold, split_words, tokenize

INDIAN_COUNTRY_CODE = "91"
INDIAN_MOBILE_FIRST_DIGITS = frozenset("6789")

_WRITTEN_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_PHONE_PUNCTUATION = re.compile(r"[\s\-().\u00a0]")


def _national(digits: str) -> str:
    """Drop an international ("0091"/"91") or trunk ("0") prefix from an Indian number."""
    country = INDIAN_COUNTRY_CODE
    for prefix in ("00" + country, "0" + country, country, "0"):
        rest = digits[len(prefix) :]
        if digits.startswith(prefix) and len(rest) == 10:
            return rest
    return digits


def _indian_mobile(digits: str) -> str | None:
    national = _national(digits)
    valid = len(national) == 10 and national[0] in INDIAN_MOBILE_FIRST_DIGITS
    return f"+{INDIAN_COUNTRY_CODE}{national}" if valid else None


def normalize_phone(text: str) -> str | None:
    """E.164 phone number from a spoken or written one ("+91 98765 43210", "nau aath saat ...").

    Indian numbers must be mobiles: 10 digits starting 6-9, optionally after +91 / 91 / 0 / 0091.
    A written E.164 number of another country ("+1 415 555 0100") is returned compacted; a spoken
    "plus" followed by a non-Indian number is accepted the same way. Anything else is None.
    """
    folded = fold(text)
    compact = _PHONE_PUNCTUATION.sub("", folded)
    if _WRITTEN_E164.fullmatch(compact):
        written = compact[1:]
        if written.startswith(INDIAN_COUNTRY_CODE):
            return _indian_mobile(written[len(INDIAN_COUNTRY_CODE) :])
        return compact
    tokens = tokenize(text)
    digits = digits_of(tokens)
    if digits is None:
        return None
    phone = _indian_mobile(digits)
    says_plus = "+" in folded or any(token.text in ("plus", "प्लस") for token in tokens)
    if phone is None and says_plus and not digits.startswith(INDIAN_COUNTRY_CODE):
        phone = f"+{digits}" if 8 <= len(digits) <= 15 and digits[0] != "0" else None
    return phone


def normalize_pincode(text: str) -> str | None:
    """Six-digit Indian PIN code (first digit 1-9) from "560001", "paanch chhe zero zero zero ek"."""
    digits = normalize_digits(text)
    if digits is None or len(digits) != 6 or digits[0] == "0":
        return None
    return digits


def _join_spelled(words: Sequence[str], prefixes: frozenset[str]) -> list[str]:
    """Join letters spelled one by one into a known prefix ("o r d" -> "ord").

    Only known prefixes are joined, so "o o" (zero zero) and other single letters stay as they were.
    """
    joined: list[str] = []
    i = 0
    while i < len(words):
        j = i
        while j < len(words) and len(words[j]) == 1 and "a" <= words[j] <= "z":
            j += 1
        if j - i >= 2 and "".join(words[i:j]) in prefixes:
            joined.append("".join(words[i:j]))
            i = j
        else:
            joined.append(words[i])
            i += 1
    return joined


def _normalize_id(text: str, prefix: str) -> str | None:
    """Canonical "<PREFIX>-123456" from anything that carries exactly six digits.

    Refuses text naming another id kind ("TKT-123456" where an order id is expected).
    """
    own = frozenset(map(fold, ID_WORDS[prefix] | {prefix}))
    foreign = frozenset(fold(word) for kind, words in ID_WORDS.items() if kind != prefix for word in words)
    foreign -= own
    words = _join_spelled(split_words(text), own | foreign)
    if any(word in foreign for word in words) and not any(word in own for word in words):
        return None
    digits = digits_of(classify([word for word in words if word not in own]))
    if digits is None or len(digits) != 6:
        return None
    return f"{prefix}-{digits}"


def normalize_order_id(text: str) -> str | None:
    """Canonical order id "ORD-482913" from "ord 482913", "order number char aath do nau ek teen",
    "o r d four eight two nine one three", "४८२९१३"; None unless exactly six digits are found."""
    return _normalize_id(text, "ORD")


def normalize_ticket_id(text: str) -> str | None:
    """Canonical ticket id "TKT-123456" from the same kinds of input as ``normalize_order_id``."""
    return _normalize_id(text, "TKT")
