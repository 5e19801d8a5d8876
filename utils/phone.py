"""Phone numbers as carriers hand them over (E.164), and which of them we may text or call back.

`utils.hinglish.normalize_phone` reads a number the way a caller *says* it; this module decides what a
number *is*, on libphonenumber's metadata (the `phonenumbers` package): its country and its type.
SMS goes only to mobile numbers of the configured countries, never to premium-rate, shared-cost,
toll-free or landline ranges (an SMS "pumping" target), and never to a number libphonenumber does
not consider valid.
"""

from __future__ import annotations

import re
from collections.abc import Collection

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

E164 = re.compile(r"^\+[1-9]\d{6,14}$")

# Types that can receive an SMS. FIXED_LINE_OR_MOBILE is what libphonenumber says where the numbering
# plan does not tell the two apart (the US and Canada, for instance).
_TEXTABLE = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
# Types a person answers: what a callback may be placed to.
_PERSONAL = _TEXTABLE | {PhoneNumberType.FIXED_LINE}


def e164_or_none(value: str | None) -> str | None:
    """The value if it is an E.164 number ("+919876543210"), else None: a carrier's `From` may be a
    SIP URI ("sip:alice@example.com"), a client identity ("client:alice") or "anonymous"."""
    if value is None:
        return None
    value = value.strip()
    return value if E164.fullmatch(value) else None


def _parsed(phone: str) -> phonenumbers.PhoneNumber | None:
    if e164_or_none(phone) is None:
        return None
    try:
        number = phonenumbers.parse(phone, None)
    except NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def country_of(phone: str) -> str | None:
    """ISO 3166 alpha-2 country of a valid E.164 number ("IN"), else None."""
    number = _parsed(phone)
    return phonenumbers.region_code_for_number(number) if number is not None else None


def _of_type(phone: str, countries: Collection[str], types: frozenset[int]) -> bool:
    number = _parsed(phone)
    if number is None:
        return False
    allowed = {country.upper() for country in countries}
    return phonenumbers.region_code_for_number(number) in allowed and phonenumbers.number_type(number) in types


def may_text(phone: str, countries: Collection[str]) -> bool:
    """Whether we may send an SMS to `phone`: a valid mobile number of one of `countries`."""
    return _of_type(phone, countries, _TEXTABLE)


def may_call_back(phone: str, countries: Collection[str]) -> bool:
    """Whether a callback may be placed to `phone`: a valid mobile or landline number (no premium,
    shared-cost or toll-free range) of one of `countries`."""
    return _of_type(phone, countries, _PERSONAL)
