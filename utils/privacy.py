"""Keep personal data and secrets out of logs: phone masking and secret redaction (stdlib only).

``mask_phone`` masks one number ("+919876543210" -> "+91******3210"); ``mask_phones_in_text`` masks
every phone-like run inside free text; ``scrub_secrets_in_text`` blanks secrets written inside free text
(``token=…`` in a URL's query, ``'api_key': '…'`` in a repr, ``Bearer …``, a URL's password);
``redact`` walks a value (dicts, lists, tuples, strings) and replaces whatever sits under a
secret-looking key with ``"[redacted]"`` while scrubbing every string in the rest. ``utils.logger``
runs ``redact_fields`` over every log line, the app's and every stdlib logger's (uvicorn's access log
included).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

REDACTED = "[redacted]"

# A key containing any of these (case-insensitive) holds a secret: "auth_token", "X-Twilio-Signature".
SECRET_KEY_MARKERS = (
    "token",
    "secret",
    "password",
    "passwd",
    "passcode",
    "api_key",
    "apikey",
    "authorization",
    "signature",
    "credential",
    "cookie",
    "private_key",
    "one_time_code",
    "otp_code",
    "verification_code",
)
# Keys that hold a secret only as a whole name: "otp" (but "otp_attempts" is a count).
SECRET_KEYS = frozenset({"otp", "pin", "passphrase"})
# Inside free text (a URL's query, "key=value" pairs, a repr) keys are judged by their words
# ("api_key" -> api, key; "X-Twilio-Signature" -> x, twilio, signature; "otpCode" -> otp, code): a
# "code", "otp", "sig" or "key" there is a one-time code, a signature or a key far more often than not,
# and a value blanked by mistake in free text costs little. "pincode" and "status" stay readable.
TEXT_SECRET_WORDS = frozenset(
    "token secret password passwd pwd passcode passphrase apikey key signature sig credential credentials "
    "cookie session sessionid otp code pin auth authorization bearer jwt".split()
)
# ... except a "code" that says what kind of code it is: "status_code", "errorCode", "country_code".
PUBLIC_CODE_WORDS = frozenset("status error http exit country response reason zip postal area currency lang".split())

# key=value in a URL query or free text: the key is not the tail of a longer word; the value runs to the
# next separator (&, #, whitespace, quote, bracket, comma, semicolon). "[redacted]" is not a value.
_KEY_VALUE_IN_TEXT = re.compile(r"(?<![\w%.\-])(?P<key>[A-Za-z%][\w.%\-]{0,63})=(?P<value>[^&#\s'\"<>(),;\[\]{}]+)")
# 'key': 'value' / "key": "value" (a dict's repr or JSON inside a string).
_QUOTED_PAIR_IN_TEXT = re.compile(
    r"(?P<q>['\"])(?P<key>[\w.\-]{1,64})(?P=q)\s*:\s*(?P<vq>['\"])(?P<value>[^'\"]*)(?P=vq)"
)
# An Authorization header written into a message, whatever its scheme ("Authorization: Basic dXNlcjpw").
_AUTHORIZATION_IN_TEXT = re.compile(
    r"(?P<head>\bauthorization['\"]?\s*[:=]\s*['\"]?)(?P<value>(?:(?:bearer|basic|digest|token)\s+)?[^\s'\",;}\[\]]+)",
    re.IGNORECASE,
)
# "Bearer <token>" anywhere.
_BEARER_IN_TEXT = re.compile(r"\b(?P<scheme>bearer)\s+(?P<value>[A-Za-z0-9\-._~+/]{8,}=*)", re.IGNORECASE)
# scheme://user:password@host (a database or broker URI).
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@]*:)(?P<value>[^@\s/]+)(?=@)")
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_KEY_WORDS = re.compile(r"[a-z]+|[0-9]+")

# ITU calling codes of one and two digits; every other code has three.
_ONE_DIGIT_CODES = frozenset({"1", "7"})
_TWO_DIGIT_CODES = frozenset(
    "20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 "
    "60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98".split()
)

# +91 98765 43210, 919876543210, 09876543210, 9876543210, %2B919876543210 (URL-encoded "+"): runs of
# digits, spaces and dashes that are not part of a longer word; only those holding 10-15 digits are masked.
_PHONE_IN_TEXT = re.compile(r"(?<![\w])((?:\+|%2[Bb])?\d[\d \-]{8,17}\d)(?![\w])")
_ENCODED_PLUS = "%2b"


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
        encoded_plus = candidate[:3].lower() == _ENCODED_PLUS
        number = "+" + candidate[3:] if encoded_plus else candidate
        digit_count = sum(ch.isdigit() for ch in number)
        if not 10 <= digit_count <= 15:
            return candidate
        return candidate[:3] + mask_phone(number)[1:] if encoded_plus else mask_phone(number)

    return _PHONE_IN_TEXT.sub(replace, text)


def is_secret_key(key: object) -> bool:
    """A log field or mapping key whose value is a secret ("auth_token", "X-Twilio-Signature", "otp")."""
    return isinstance(key, str) and _is_secret_name(key)


@functools.lru_cache(maxsize=1024)  # log field names are a small, fixed set: each is judged once
def _is_secret_name(key: str) -> bool:
    lowered = key.lower()
    return lowered in SECRET_KEYS or any(marker in lowered for marker in SECRET_KEY_MARKERS)


def _is_secret_text_key(key: str) -> bool:
    key = unquote(key)
    if is_secret_key(key):
        return True
    words = set(_KEY_WORDS.findall(_CAMEL_BOUNDARY.sub("_", key).lower()))
    if "code" in words and words & PUBLIC_CODE_WORDS:
        words.discard("code")
    return not words.isdisjoint(TEXT_SECRET_WORDS)


def scrub_secrets_in_text(text: str) -> str:
    """Blank secrets written inside free text, keeping the shape of the text (idempotent).

    "/whisper?call_sid=CA1&token=1.abc" -> "/whisper?call_sid=CA1&token=[redacted]"; likewise
    "otp=123456", "'api_key': 'sk-1'", "Authorization: Basic …", "Bearer …" and the password of
    "mongodb://user:pw@host".
    """

    def key_value(match: re.Match[str]) -> str:
        return f"{match['key']}={REDACTED}" if _is_secret_text_key(match["key"]) else match[0]

    def quoted_pair(match: re.Match[str]) -> str:
        if not _is_secret_text_key(match["key"]):
            return match[0]
        q, vq = match["q"], match["vq"]
        return f"{q}{match['key']}{q}: {vq}{REDACTED}{vq}"

    if ":" in text or "=" in text:
        text = _AUTHORIZATION_IN_TEXT.sub(lambda match: f"{match['head']}{REDACTED}", text)
    if "=" in text:
        text = _KEY_VALUE_IN_TEXT.sub(key_value, text)
    if ":" in text:
        text = _QUOTED_PAIR_IN_TEXT.sub(quoted_pair, text)
        text = _URL_PASSWORD.sub(lambda match: f"{match['head']}{REDACTED}", text)
    return _BEARER_IN_TEXT.sub(lambda match: f"{match['scheme']} {REDACTED}", text)


# Short strings already scrubbed and found to hold neither a secret nor a phone number: event names,
# reasons, call sids, which every call logs again and again. Only clean strings are kept (nothing to hide
# is held on to), and the set starts over when full.
_CLEAN_TEXTS: set[str] = set()
_CLEAN_KEPT = 4096
_CLEAN_MAX_CHARS = 128


def scrub_text(text: str) -> str:
    """Secrets blanked and phone numbers masked in one string (what every logged string goes through)."""
    if text in _CLEAN_TEXTS:
        return text
    scrubbed = mask_phones_in_text(scrub_secrets_in_text(text))
    if scrubbed == text and len(text) <= _CLEAN_MAX_CHARS:
        if len(_CLEAN_TEXTS) >= _CLEAN_KEPT:
            _CLEAN_TEXTS.clear()
        _CLEAN_TEXTS.add(text)
    return scrubbed


def redact(value: Any) -> Any:
    """Scrub strings and redact secret keys, recursively through dicts, lists and tuples."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return redact_fields(value)
    if isinstance(value, list | tuple):
        return type(value)(redact(item) for item in value)
    return value


def redact_fields(fields: Mapping[Any, Any]) -> dict[Any, Any]:
    """A copy of ``fields`` with secret keys' values replaced by ``"[redacted]"``, every string scrubbed."""
    return {key: REDACTED if is_secret_key(key) else redact(value) for key, value in fields.items()}
