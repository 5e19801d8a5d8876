"""Spoken numbers: which number words really are numbers, and what they add up to (steps 3-5).

``normalize_digits`` reads a digit string ("nau aath, double four" -> "9844"), ``parse_quantity`` one
quantity ("teen sau" -> 300); ``digits_of`` is the same reading over tokens, for ``ids``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from utils.hinglish.tokens import (
    DIGIT_NOUN,
    DIGITS,
    HESITATION,
    HUGE,
    MULT,
    NUMBERISH,
    PREFIX,
    REPEAT,
    TIMES,
    VALUE,
    Token,
    tokenize,
)

# --------------------------------------------------------------------------------------------------
# Runs: which number words really are numbers
# --------------------------------------------------------------------------------------------------


_MAX_DIGIT_COUNT = 20  # "last four digits", "16 digit card number": counts of digits are small


def _is_digit_count(run: list[Token]) -> bool:
    """A lone number word before "digits"/"ank"/"number" counts the digits that follow ("last four digits")."""
    if len(run) != 1 or run[0].kind not in (VALUE, DIGITS):
        return False
    value = run[0].word.value
    return value.denominator == 1 and 1 <= value <= _MAX_DIGIT_COUNT


def _runs(tokens: Sequence[Token]) -> list[list[Token]]:
    """Group consecutive number words; hesitations are skipped, any other word ends the run, and a run
    that only counts digits ("chaar" in "aakhri chaar ank ...") is dropped."""
    runs: list[list[Token]] = [[]]
    for token in tokens:
        if token.kind in NUMBERISH:
            runs[-1].append(token)
        elif token.kind == DIGIT_NOUN and _is_digit_count(runs[-1]):
            runs[-1] = []
        elif token.kind != HESITATION and runs[-1]:
            runs.append([])
    return [run for run in runs if run]


def _resolve(run: list[Token], numeric_context: bool) -> list[Token]:
    """Apply the ambiguity rule (``utils.hinglish`` docstring, step 4) to one run."""
    run = list(run)
    while run and run[0].word.ambiguity == "weak":
        run.pop(0)
    while run and run[-1].word.ambiguity == "weak":
        if len(run) > 1 and run[-2].kind in (REPEAT, TIMES):
            break  # "double oh"
        if _ends_english_digits(run):
            break  # "one two three oh"
        run.pop()
    if len(run) == 1 and run[0].word.ambiguity == "context" and not numeric_context:
        return []
    return run


def _ends_english_digits(run: list[Token]) -> bool:
    """The run ends in "oh"s (zero) right after an English digit word: "one two three oh", "five six oh oh"."""
    i = len(run) - 1
    while i >= 0 and run[i].word.ambiguity == "weak" and run[i].word.english_digit:
        i -= 1
    return i < len(run) - 1 and i >= 0 and run[i].word.english_digit and run[i].word.ambiguity != "weak"


# --------------------------------------------------------------------------------------------------
# Parsing a run into chunks
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Chunk:
    value: Fraction
    raw: str | None = None  # digits exactly as written, keeps leading zeros ("098")

    def digits(self) -> str | None:
        if self.raw is not None:
            return self.raw
        if self.value.denominator != 1 or self.value < 0:
            return None  # "dedh" on its own is 1.5: not a digit string
        return str(self.value.numerator)


def _is_operand(token: Token) -> bool:
    return token.kind in (VALUE, DIGITS)


def _single(token: Token) -> _Chunk:
    return _Chunk(token.word.value, token.text if token.kind == DIGITS else None)


def _is_unit(token: Token) -> bool:
    """A 1-9 that may complete an English round ten ("twenty one", "twenty 1")."""
    value = token.word.value
    if token.kind == DIGITS:
        return len(token.text) == 1 and token.text != "0"
    return token.kind == VALUE and not token.word.tens and value.denominator == 1 and 1 <= value <= 9


def _compound(run: Sequence[Token], i: int) -> tuple[_Chunk | None, int]:
    """Read one number starting at run[i]: "teen sau pachees", "two thousand twenty five", "9876".

    Standard place-value reading with two Indian twists: Hindi round tens never absorb a unit, and
    "dozen" multiplies everything before it. Stops (without consuming) at whatever cannot continue
    the number, so the caller simply starts the next chunk there.
    """
    start = i
    total = Fraction(0)
    small: Fraction | None = None  # the part below the last big scale
    pending = Fraction(0)  # saade / sava / paune waiting for their number
    last = ""  # "value", "tens", "hundred", "big"
    last_big: int | None = None
    while i < len(run):
        token = run[i]
        followed_by_times = i + 1 < len(run) and run[i + 1].kind == TIMES
        if token.kind == PREFIX:
            if small is not None or pending:
                break
            pending = token.word.value
        elif _is_operand(token):
            value = token.word.value
            if followed_by_times and i > start:
                break  # "ek sau | do baar paanch"
            if small is None and (last_big is None or value < last_big):
                small, pending = value + pending, Fraction(0)
            elif last == "tens" and _is_unit(token):
                small = (small or Fraction(0)) + value
            elif last == "hundred" and small is not None and value < 100:
                small += value
            else:
                break
            last = "tens" if token.word.tens else "value"
        elif token.kind == MULT:
            scale = int(token.word.value)
            base = small if small is not None else 1 + pending
            pending = Fraction(0)
            if scale == 12:  # "do darjan": a count of dozens ends the number
                return _Chunk((total + base) * 12), i + 1
            if scale == 100:
                if last == "hundred" or base >= 100:
                    break
                small, last = base * 100, "hundred"
            else:
                if (last_big is not None and scale >= last_big) or base >= scale:
                    break
                total, small, last, last_big = total + base * scale, None, "big", scale
        else:
            break
        i += 1
    if i == start:  # nothing fits: let the caller skip this token
        return None, i + 1
    if i == start + 1 and run[start].kind == DIGITS:
        return _single(run[start]), i
    if small is None and last != "big":
        return None, i  # only a dangling "saade"
    return _Chunk(total + (small or 0)), i


def _parse_run(run: Sequence[Token]) -> list[_Chunk]:
    """Split one resolved run into chunks that are read one after another."""
    chunks: list[_Chunk] = []
    i = 0
    while i < len(run):
        token = run[i]
        count: Fraction | None = None
        if token.kind == REPEAT:
            count, i = token.word.value, i + 1
        elif _is_operand(token) and i + 1 < len(run) and run[i + 1].kind == TIMES:
            count, i = token.word.value, i + 2
        elif token.kind == TIMES:
            i += 1
            continue
        if count is not None:
            if i < len(run) and _is_operand(run[i]) and count.denominator == 1 and 1 <= count <= 9:
                chunks.extend([_single(run[i])] * int(count))
                i += 1
            continue
        chunk, i = _compound(run, i)
        if chunk is not None:
            chunks.append(chunk)
    return chunks


def _chunks(tokens: Sequence[Token], numeric_context: bool = False) -> list[_Chunk]:
    return [chunk for run in _runs(tokens) for chunk in _parse_run(_resolve(run, numeric_context))]


def digits_of(tokens: Sequence[Token]) -> str | None:
    """All chunks of all runs as one digit string; None without a number or with a fraction."""
    parts = [chunk.digits() for chunk in _chunks(tokens)]
    if not parts or any(part is None for part in parts):
        return None
    return "".join(part for part in parts if part is not None)


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------


def normalize_digits(text: str) -> str | None:
    """Turn a spoken or written digit sequence into ASCII digits, or None if it holds no number.

    Number words are read one after another and concatenated ("nine eight seven" -> "987",
    "nau aath, double four" -> "9844"); compounds are read as numbers ("teen sau" -> "300",
    "twenty one" -> "21", "एक सौ बीस" -> "120"). Other words are ignored.

    Ambiguity rule (details in the ``utils.hinglish`` docstring): Roman "no" and "o"/"oh" count as 9/0 only
    with a number word on both sides ("aath no saat" -> "897", "no, nine" -> "9"); "do", "sat",
    "tin", "saath", "bara", "bis", "दो", "वन" count only next to another number word ("do" -> None,
    "do nau" -> "29"); "do" after a verb ("de do", "likh do") and "ek minute" are never numbers.
    """
    return digits_of(tokenize(text))


def parse_quantity(text: str) -> int | None:
    """Read one spoken quantity ("do", "teen sau", "ek darjan", "paanch piece", "३") as an int.

    None when there is no number, when it is not whole ("dedh kilo") or when there are several
    ("do-teen", "2 3"): an agent should ask again rather than guess. A lone ambiguous word is
    accepted here ("do" -> 2) because the question asked for a number; "no" still is not 9.
    """
    tokens = tokenize(text)
    chunks = _chunks(tokens) or _chunks(tokens, numeric_context=True)
    if len(chunks) != 1:
        return None
    value = chunks[0].value
    return int(value) if value.denominator == 1 and 0 <= value < HUGE else None
