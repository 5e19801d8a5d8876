"""Keep personal data and secrets out of logs: phone masking and secret redaction (stdlib only).

``mask_phone`` masks one number ("+919876543210" -> "+91******3210"); ``mask_phones_in_text`` masks
every phone-like run inside free text; ``redact`` walks a value (dicts, lists, tuples, strings) and
replaces whatever sits under a secret-looking key with ``"[redacted]"`` while masking phones in the
rest. ``utils.logger`` runs ``redact_fields`` over every log line.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

REDACTED = "[redacted]"

# A key containing any of these (case-insensitive) holds a secret: "auth_token", "X-Twilio-Signature".
SECRET_KEY_MARKERS = ("token", "secret", "password", "api_key", "apikey", "authorization", "signature")

# ITU calling codes of one and two digits; every other code has three.
_ONE_DIGIT_CODES = frozenset({"1", "7"})
_TWO_DIGIT_CODES = frozenset(
    "20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 "
    "60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98".split()
)

# +91 98765 43210, 919876543210, 09876543210, 9876543210: runs of digits, spaces and dashes that are
# not part of a longer word; only those holding 10-15 digits are masked.
_PHONE_IN_TEXT = re.compile(r"(?<![\w])(\+?\d[\d \-]{8,17}\d)(?![\w])")


def _country_code_length(digits: str) -> int:
    if digits[:1] in _ONE_DIGIT_CODES:
        return 1
    return 2 if digits[:2] in _TWO_DIGIT_CODES else 3


def mask_phone(phone: str | None) -> str:
    """Mask a phone number for logs: "+919876543210" -> "+91******3210"; None -> "".

    Keeps a leading "+<country code>" and the last 4 digits; every other digit (any script) becomes
    "*", other characters stay where they are. With fewer than 6 digits only the last 2 survive.
    Without a "+" no country code is assumed, so nothing but the last 4 digits is shown.
    """
    if not phone:
        return ""
    positions = [i for i, ch in enumerate(phone) if ch.isdecimal()]
    if len(positions) < 6:
        shown = set(positions[-2:])
    else:
        shown = set(positions[-4:])
        if phone.lstrip().startswith("+"):
            digits = "".join(str(unicodedata.decimal(phone[i])) for i in positions)
            shown.update(positions[: _country_code_length(digits)])
    hidden = set(positions) - shown
    return "".join("*" if i in hidden else ch for i, ch in enumerate(phone))


def mask_phones_in_text(text: str) -> str:
    """Mask every phone-looking number in free text: "call me on 98765 43210" -> "call me on ***** *3210"."""

    def replace(match: re.Match[str]) -> str:
        candidate = match.group(1)
        digit_count = sum(ch.isdigit() for ch in candidate)
        return mask_phone(candidate) if 10 <= digit_count <= 15 else candidate

    return _PHONE_IN_TEXT.sub(replace, text)


def is_secret_key(key: object) -> bool:
    return isinstance(key, str) and any(marker in key.lower() for marker in SECRET_KEY_MARKERS)


def redact(value: Any) -> Any:
    """Mask phones in strings and redact secret keys, recursively through dicts, lists and tuples."""
    if isinstance(value, str):
        return mask_phones_in_text(value)
    if isinstance(value, Mapping):
        return redact_fields(value)
    if isinstance(value, list | tuple):
        return type(value)(redact(item) for item in value)
    return value


def redact_fields(fields: Mapping[Any, Any]) -> dict[Any, Any]:
    """A copy of ``fields`` with secret keys' values replaced by ``"[redacted]"`` and phones masked."""
    return {key: REDACTED if is_secret_key(key) else redact(value) for key, value in fields.items()}
