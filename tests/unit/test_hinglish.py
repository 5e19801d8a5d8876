"""Tests for utils.hinglish: a table of real-sounding caller utterances plus property tests.

Phone masking (utils.privacy) is tested in tests/test_security_units.py.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from utils.hinglish import (
    format_date_indian,
    format_inr,
    lexicon,
    normalize_digits,
    normalize_order_id,
    normalize_phone,
    normalize_pincode,
    normalize_ticket_id,
    parse_quantity,
    speak_digits,
)

UTTERANCES = json.loads((Path(__file__).parent / "data" / "hinglish_utterances.json").read_text("utf-8"))

PARSERS: dict[str, Callable[[str], Any]] = {
    "digits": normalize_digits,
    "phone": normalize_phone,
    "pincode": normalize_pincode,
    "order_id": normalize_order_id,
    "ticket_id": normalize_ticket_id,
    "quantity": parse_quantity,
}


# --------------------------------------------------------------------------------------------------
# The utterance table
# --------------------------------------------------------------------------------------------------


def test_utterance_table_is_big_and_well_formed() -> None:
    assert len(UTTERANCES) >= 120
    assert {row["kind"] for row in UTTERANCES} == set(PARSERS)
    assert len({(row["kind"], row["input"]) for row in UTTERANCES}) == len(UTTERANCES), "duplicate rows"
    assert sum(row["expected"] is None for row in UTTERANCES) >= 20, "keep plenty of must-fail cases"


@pytest.mark.parametrize("row", UTTERANCES, ids=[f"{row['kind']}:{row['input'][:40]}" for row in UTTERANCES])
def test_utterance(row: dict[str, Any]) -> None:
    assert PARSERS[row["kind"]](row["input"]) == row["expected"]


# --------------------------------------------------------------------------------------------------
# Lexicon completeness and the ambiguity rule
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("table", ["HINDI_ROMAN", "HINDI_DEVANAGARI"])
def test_every_hindi_number_0_to_99_has_a_spelling_that_reads_back(table: str) -> None:
    spellings: dict[int, tuple[str, ...]] = getattr(lexicon, table)
    assert set(spellings) == set(range(100))
    for number, words in spellings.items():
        for word in words:
            assert parse_quantity(word) == number, word


def test_english_numbers_read_back() -> None:
    for table in (lexicon.ENGLISH_NUMBERS, lexicon.ENGLISH_TENS):
        for number, words in table.items():
            for word in words:
                assert normalize_digits(word) == str(number), word


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no", None),  # English "no"
        ("no, nine eight", "98"),  # a leading "no" is an answer, not a digit
        ("nine eight, no", "98"),  # a trailing one too
        ("aath no saat", "897"),  # surrounded by numbers: Hindi nau
        ("aath no no saat", "8997"),
        ("double no", "99"),  # right after double/triple it must be the operand
        ("oh nine", "9"),
        ("nine oh one", "901"),
        ("do", None),  # English "do" / Hindi "give" on its own
        ("haan do", None),
        ("do nau", "29"),  # next to another number it is two
        ("do sau", "200"),
        ("de do, nau aath", "98"),  # "de do" = give
        ("number likh do: nau aath", "98"),  # "likh do" = write it down
        ("ek minute, nau aath", "98"),  # hold on
        ("iske saath", None),  # "saath" = with
        ("saath", None),
        ("saath saat", "607"),
        ("wait", None),
    ],
)
def test_ambiguity_rule(text: str, expected: str | None) -> None:
    assert normalize_digits(text) == expected


def test_parse_quantity_accepts_a_lone_context_word_but_not_weak_words() -> None:
    assert parse_quantity("do") == 2
    assert parse_quantity("sat") == 7
    assert parse_quantity("no") is None
    assert parse_quantity("oh") is None


def test_devanagari_spelling_variants_fold_together() -> None:
    assert normalize_digits("पाँच") == normalize_digits("पांच") == "5"
    assert parse_quantity("हज़ार") == parse_quantity("हजार") == 1000
    assert normalize_digits("अड़तीस") == normalize_digits("अडतीस") == "38"
    assert normalize_digits("पा\u200dच") == normalize_digits("पाच")  # zero-width joiner from keyboards


def test_hindi_round_tens_do_not_absorb_units_but_english_ones_do() -> None:
    assert normalize_digits("bees ek") == "201"
    assert normalize_digits("twenty one") == "21"
    assert normalize_digits("ninety eight seven") == "987"


# --------------------------------------------------------------------------------------------------
# Small deterministic formatters
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (123456.5, "₹1,23,456.50"),
        (1499, "₹1,499"),
        (1499.0, "₹1,499"),
        (0, "₹0"),
        (999, "₹999"),
        (1000, "₹1,000"),
        (100000, "₹1,00,000"),
        (12345678.9, "₹1,23,45,678.90"),
        (0.5, "₹0.50"),
        (-1499, "-₹1,499"),
        (1499.999, "₹1,500"),
        (Decimal("10.005"), "₹10.01"),
    ],
)
def test_format_inr(amount: float | int | Decimal, expected: str) -> None:
    assert format_inr(amount) == expected


def test_format_inr_rejects_non_numbers() -> None:
    with pytest.raises(ValueError):
        format_inr(float("nan"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(2026, 3, 5), "5 March 2026"),
        (datetime(2025, 12, 25, 23, 59), "25 December 2025"),
        (date(2024, 1, 31), "31 January 2024"),
    ],
)
def test_format_date_indian(value: date, expected: str) -> None:
    assert format_date_indian(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ORD-482913", "O R D, 4 8 2, 9 1 3"),
        ("TKT-000123", "T K T, 0 0 0, 1 2 3"),
        ("9876543210", "9 8 7, 6 5 4, 3 2 1 0"),
        ("+919876543210", "plus, 9 1 9, 8 7 6, 5 4 3, 2 1 0"),
        ("560001", "5 6 0, 0 0 1"),
        ("ord ४८२९१३", "O R D, 4 8 2, 9 1 3"),
    ],
)
def test_speak_digits(text: str, expected: str) -> None:
    assert speak_digits(text) == expected


# --------------------------------------------------------------------------------------------------
# Property tests
# --------------------------------------------------------------------------------------------------

# Separators a transcript may put between spoken digits; hesitations are allowed inside a number.
SEPARATORS = [" ", "  ", ", ", " - ", "-", ". ", "... ", " । ", "\n", " umm ", ", uh, ", " ji "]
DEVANAGARI_DIGITS = "०१२३४५६७८९"
WEAK = {9: ["no", "नो"], 0: ["o", "oh", "ओ"]}
REPEAT_WORDS = {
    2: [*lexicon.REPEATERS[2], "do baar", "दो बार"],
    3: [*lexicon.REPEATERS[3], "teen baar", "तीन बार"],
}


def _spellings(digit: int, *, weak: bool, ambiguous: bool) -> list[str]:
    """Every way to say one digit: English, Roman Hindi, Devanagari Hindi and digits."""
    words = [
        *lexicon.ENGLISH_NUMBERS[digit],
        *lexicon.ENGLISH_IN_DEVANAGARI[digit],
        *lexicon.HINDI_ROMAN[digit],
        *lexicon.HINDI_DEVANAGARI[digit],
        DEVANAGARI_DIGITS[digit],
        str(digit),
    ]
    if not ambiguous:
        words = [word for word in words if word not in lexicon.CONTEXT_WORDS]
    return words + (WEAK.get(digit, []) if weak else [])


@st.composite
def spoken(draw: st.DrawFn, digits: str) -> str:
    """Say `digits` the way a caller might: mixed languages and scripts, "double"/"do baar" runs.

    Follows the documented rule: "no"/"oh" only between other numbers (or after double/triple), and
    a lone ambiguous word ("do") is not offered when it would be the whole utterance.
    """
    pieces: list[str] = []
    i = 0
    while i < len(digits):
        digit = int(digits[i])
        same = len(digits[i:]) - len(digits[i:].lstrip(digits[i]))
        count = draw(st.integers(1, min(same, 3)))
        if count > 1 and draw(st.booleans()):
            word = draw(st.sampled_from(_spellings(digit, weak=True, ambiguous=True)))
            pieces.append(f"{draw(st.sampled_from(REPEAT_WORDS[count]))} {word}")
        else:
            count = 1
            interior = 0 < i < len(digits) - 1
            options = _spellings(digit, weak=interior, ambiguous=len(digits) > 1)
            pieces.append(draw(st.sampled_from(options)))
        i += count
    text = pieces[0]
    for piece in pieces[1:]:
        text += draw(st.sampled_from(SEPARATORS)) + piece
    return text


digit_strings = st.text(alphabet="0123456789", min_size=1, max_size=16)
mobiles = st.builds(
    lambda first, rest: first + rest, st.sampled_from("6789"), st.from_regex(r"[0-9]{9}", fullmatch=True)
)


@settings(max_examples=400, deadline=None)
@given(st.data(), digit_strings)
def test_spoken_digits_round_trip(data: st.DataObject, digits: str) -> None:
    text = data.draw(spoken(digits), label="spoken")
    assert normalize_digits(text) == digits


# Ways to say the country code or trunk prefix in front of a mobile number.
PHONE_PREFIXES = [
    *("", "+91 ", "+91-", "+91", "91", "91 ", "0", "0091 ", "+९१ "),
    *("zero ", "shunya ", "plus nine one ", "plus 91 ", "nine one, ", "प्लस नौ एक "),
]


@settings(max_examples=300, deadline=None)
@given(st.data(), mobiles)
def test_phone_round_trips_in_any_form(data: st.DataObject, mobile: str) -> None:
    body = data.draw(
        st.one_of(
            st.just(mobile),
            st.just(f"{mobile[:5]} {mobile[5:]}"),
            st.just(f"{mobile[:5]}-{mobile[5:]}"),
            st.just(f"{mobile[:3]} {mobile[3:6]} {mobile[6:]}"),
            st.just(mobile.translate(str.maketrans("0123456789", DEVANAGARI_DIGITS))),
            spoken(mobile),
        ),
        label="body",
    )
    prefix = data.draw(st.sampled_from(PHONE_PREFIXES), label="prefix")
    filler = data.draw(st.sampled_from(["", "mera number hai ", "haan ji, ", "my number is ", "नंबर है "]))
    assert normalize_phone(filler + prefix + body) == "+91" + mobile


@settings(max_examples=300, deadline=None)
@given(st.integers(-(10**13), 10**13))
def test_format_inr_round_trips(paise: int) -> None:
    amount = Decimal(paise) / 100
    for value in (amount, float(amount)):
        text = format_inr(value)
        assert re.fullmatch(r"-?₹(\d{1,3}|\d{1,2}(,\d{2})*,\d{3})(\.\d{2})?", text), text
        assert Decimal(text.replace("₹", "").replace(",", "")) == amount
        assert not text.endswith(".00")


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**9))
def test_format_inr_whole_amounts_have_no_decimals(rupees: int) -> None:
    assert "." not in format_inr(rupees)
    assert int(format_inr(rupees)[1:].replace(",", "")) == rupees


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parsers_never_raise_on_arbitrary_text(text: str) -> None:
    digits = normalize_digits(text)
    assert digits is None or re.fullmatch(r"[0-9]+", digits)
    phone = normalize_phone(text)
    assert phone is None or re.fullmatch(r"\+[0-9]{8,15}", phone)
    quantity = parse_quantity(text)
    assert quantity is None or quantity >= 0
    for parser in (normalize_pincode, normalize_order_id, normalize_ticket_id, speak_digits):
        parser(text)


@settings(max_examples=200, deadline=None)
@given(st.data(), st.text(alphabet="0123456789", min_size=6, max_size=6))
def test_ids_round_trip(data: st.DataObject, digits: str) -> None:
    said = data.draw(spoken(digits), label="spoken")
    order_prefix = data.draw(st.sampled_from(["", "ORD-", "ord ", "order number ", "o r d ", "ऑर्डर "]))
    ticket_prefix = data.draw(st.sampled_from(["", "TKT-", "tkt ", "ticket number ", "t k t ", "टिकट "]))
    assert normalize_order_id(order_prefix + said) == f"ORD-{digits}"
    assert normalize_ticket_id(ticket_prefix + said) == f"TKT-{digits}"


# --------------------------------------------------------------------------------------------------
# Words about digits, "oh" for zero, mixed scripts (issue 10)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("last four digits teen do ek shunya", "3210"),
        ("aakhri chaar ank paanch do nau ek", "5291"),
        ("आखिरी चार अंक तीन दो एक शून्य", "3210"),
        ("the last two digits are five five", "55"),
        ("6 digit ka code 1 2 3 4 5 6", "123456"),
        ("last do digits chaar paanch", "45"),  # "do" as a count is a count too
        ("ek do teen chaar, yahi last four digits hain", "1234"),  # the count after the digits
        ("98765 43210 number pe call karo", "9876543210"),  # a long run before "number" is the number
        ("ek do teen number pe", "123"),  # only a lone number word before the noun is a count
        ("one two three oh", "1230"),  # English runs may end in "oh"
        ("five six oh oh", "5600"),
        ("नाइन ओ", "90"),
        ("oh nine", "9"),  # a leading "oh" is still an exclamation
        ("nine eight, no", "98"),  # and a trailing "no" still an answer
        ("paanch oh", "5"),  # Hindi runs do not end in "oh"
        ("twenty oh", "20"),
        ("सातeight", "78"),  # scripts run together without a space
        ("नौ8सात six", "9876"),
    ],
)
def test_counts_zero_words_and_mixed_scripts(text: str, expected: str | None) -> None:
    assert normalize_digits(text) == expected


def test_read_back_stays_indian() -> None:
    assert format_inr(123456) == "₹1,23,456"
    assert format_inr(10_00_000) == "₹10,00,000"
    assert format_date_indian(date(2026, 3, 5)).startswith("5 March")
    assert speak_digits("560034") == "5 6 0, 0 3 4"


COUNT_PHRASES = [
    "last {n} digits ",
    "aakhri {n} ank ",
    "the last {n} digits are ",
    "{n} digit ka number ",
    "आखिरी {n} अंक ",
]


def _count_words(count: int) -> list[str]:
    words = [str(count), *lexicon.HINDI_ROMAN[count], *lexicon.HINDI_DEVANAGARI[count]]
    if count in lexicon.ENGLISH_NUMBERS:
        words.extend(lexicon.ENGLISH_NUMBERS[count])
    return words


@settings(max_examples=300, deadline=None)
@given(st.data(), digit_strings)
def test_a_count_of_digits_before_them_is_not_a_digit(data: st.DataObject, digits: str) -> None:
    count = data.draw(st.sampled_from(_count_words(len(digits))), label="count")
    phrase = data.draw(st.sampled_from(COUNT_PHRASES), label="phrase").format(n=count)
    said = data.draw(spoken(digits), label="spoken")
    assert normalize_digits(phrase + said) == digits


@settings(max_examples=200, deadline=None)
@given(st.data(), st.text(alphabet="123456789", min_size=1, max_size=8), st.integers(1, 4))
def test_english_digit_runs_may_end_in_oh(data: st.DataObject, head: str, zeros: int) -> None:
    words = [
        data.draw(st.sampled_from(lexicon.ENGLISH_NUMBERS[int(d)] + lexicon.ENGLISH_IN_DEVANAGARI[int(d)]))
        for d in head
    ]
    ohs = [data.draw(st.sampled_from(["oh", "o", "ओ"])) for _ in range(zeros)]
    assert normalize_digits(" ".join(words + ohs)) == head + "0" * zeros


def _script(word: str) -> str:
    return "deva" if any("\u0900" <= ch <= "\u097f" for ch in word) else "latin"


@settings(max_examples=300, deadline=None)
@given(st.data(), st.text(alphabet="0123456789", min_size=2, max_size=12))
def test_mixed_script_runs_read_without_spaces(data: st.DataObject, digits: str) -> None:
    """Devanagari and Roman number words (and digits) said in one breath: no space where the script changes."""
    words = []
    for d in digits:
        options = [
            *lexicon.ENGLISH_NUMBERS[int(d)],
            *lexicon.HINDI_ROMAN[int(d)],
            *lexicon.HINDI_DEVANAGARI[int(d)],
            *lexicon.ENGLISH_IN_DEVANAGARI[int(d)],
        ]
        words.append(data.draw(st.sampled_from([w for w in options if w not in lexicon.CONTEXT_WORDS])))
    text = words[0]
    for before, word in itertools.pairwise(words):
        text += ("" if _script(before) != _script(word) else " ") + word
    assert normalize_digits(text) == digits
