"""Values said back to the caller: ids spelled for TTS, rupees with Indian grouping, dates."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from utils.hinglish.tokens import DIGITS_OR_LETTERS, fold

MONTHS: tuple[str, ...] = (
    *("January", "February", "March", "April", "May", "June"),
    *("July", "August", "September", "October", "November", "December"),
)


def _digit_groups(digits: str) -> list[str]:
    """Threes from the left; a lone last digit joins the group before it ("987 654 3210")."""
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    if len(groups) > 1 and len(groups[-1]) == 1:
        groups[-2:] = [groups[-2] + groups[-1]]
    return groups


def speak_digits(s: str) -> str:
    """Spell an id for TTS: "ORD-482913" -> "O R D, 4 8 2, 9 1 3".

    Letters and digits are spaced so they are read one by one; commas give pauses between the
    letter block and each group of (up to four) digits. A leading "+" is read as "plus".
    """
    groups: list[str] = ["plus"] if s.strip().startswith("+") else []
    for part in DIGITS_OR_LETTERS.findall(fold(s)):
        if part.isdigit():
            groups.extend(" ".join(group) for group in _digit_groups(part))
        else:
            letters = [ch.upper() for ch in part if ch.isalnum()]
            if letters:
                groups.append(" ".join(letters))
    return ", ".join(groups)


def _indian_grouping(whole: str) -> str:
    """ "123456" -> "1,23,456": the last three digits, then pairs (lakh, crore)."""
    if len(whole) <= 3:
        return whole
    head, tail = whole[:-3], whole[-3:]
    pairs = [head[max(0, i - 2) : i] for i in range(len(head), 0, -2)]
    return ",".join([*reversed(pairs), tail])


def format_inr(amount: float | int | Decimal) -> str:
    """Rupees with Indian grouping: 123456.5 -> "₹1,23,456.50", 1499 -> "₹1,499", -5 -> "-₹5".

    Rounded half-up to paise; amounts that round to whole rupees are shown without decimals.
    """
    try:
        value = Decimal(str(amount))
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {amount!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not an amount: {amount!r}")
    value = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "-" if value < 0 else ""
    whole, paise = f"{abs(value):.2f}".split(".")
    text = "₹" + _indian_grouping(whole) + ("" if paise == "00" else "." + paise)
    return sign + text


def format_date_indian(d: date | datetime) -> str:
    """ "5 March 2026": day first, no leading zero, English month name (locale independent)."""
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"
