"""From text to tokens: Unicode folding, word splitting and lexicon lookup (steps 1-2 of the rules).

Everything the parsers in ``numbers`` and ``ids`` read goes through ``tokenize``: text is folded
(``fold``), split into words (``split_words``) and every word is looked up in one lexicon built from
the tables of ``lexicon`` (``classify``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

from utils.hinglish.lexicon import (
    CONTEXT_WORDS,
    DIGIT_NOUNS,
    ENGLISH_IN_DEVANAGARI,
    ENGLISH_NUMBERS,
    ENGLISH_TENS,
    ENGLISH_ZERO_WORDS,
    FRACTION_PREFIXES,
    FRACTIONS,
    HESITATIONS,
    HINDI_DEVANAGARI,
    HINDI_ROMAN,
    HOLD_ON_PHRASES,
    MULTIPLIERS,
    REPEATERS,
    TIMES_WORDS,
    VERBS_BEFORE_DO,
    WEAK_WORDS,
)

# --------------------------------------------------------------------------------------------------
# Unicode folding and word splitting
# --------------------------------------------------------------------------------------------------

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
_LATIN_ACCENTS = re.compile("[\u0300-\u036f]")
_NUKTA = "\u093c"
_CHANDRABINDU, _ANUSVARA = "\u0901", "\u0902"
_COMMA_IN_NUMBER = re.compile(r"(?<=\d),(?=\d)")
# A word breaks between digits and letters, and between Devanagari and other letters ("सातeight").
DIGITS_OR_LETTERS = re.compile(r"[0-9]+|[\u0900-\u097f]+|[^0-9\u0900-\u097f]+")


def fold(text: str) -> str:
    """Fold spelling variants that carry no meaning, so tables need one entry per real spelling."""
    text = unicodedata.normalize("NFD", text.translate(_ZERO_WIDTH))
    text = _LATIN_ACCENTS.sub("", text).replace(_NUKTA, "").replace(_CHANDRABINDU, _ANUSVARA)
    text = unicodedata.normalize("NFC", text).casefold()
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)


def split_words(text: str) -> list[str]:
    """Split folded text into words; punctuation breaks words, and so do letter/digit and script boundaries."""
    text = _COMMA_IN_NUMBER.sub("", fold(text))
    spaced = "".join(ch if unicodedata.category(ch)[0] in "LMN" else " " for ch in text)
    return [part for word in spaced.split() for part in DIGITS_OR_LETTERS.findall(word)]


# --------------------------------------------------------------------------------------------------
# Lexicon
# --------------------------------------------------------------------------------------------------

# Kinds of lexicon entry. "other" words are ignored and end a run of number words.
VALUE, DIGITS, MULT, REPEAT, TIMES, PREFIX = "value", "digits", "mult", "repeat", "times", "prefix"
HESITATION, DIGIT_NOUN, OTHER = "hesitation", "digit_noun", "other"
NUMBERISH = frozenset({VALUE, DIGITS, MULT, REPEAT, TIMES, PREFIX})


@dataclass(frozen=True)
class Word:
    kind: str
    value: Fraction = Fraction(0)
    tens: bool = False  # English round ten: absorbs a following unit ("twenty one")
    ambiguity: str = ""  # "", "context" or "weak" (see the utils.hinglish docstring)
    english_digit: bool = False  # an English word for 0-9 ("nine", "नाइन"): its run may end in "oh"


def _build_lexicon() -> dict[str, Word]:
    lexicon: dict[str, Word] = {}

    def add(spellings: Iterable[str], entry: Word) -> None:
        for spelling in spellings:
            key = fold(spelling)
            if lexicon.get(key, entry) != entry:
                raise ValueError(f"lexicon spelling {spelling!r} has two meanings")
            lexicon[key] = entry

    for table in (ENGLISH_NUMBERS, ENGLISH_IN_DEVANAGARI):
        for number, spellings in table.items():
            add(spellings, Word(VALUE, Fraction(number), english_digit=number <= 9))
    for table in (HINDI_ROMAN, HINDI_DEVANAGARI):
        for number, spellings in table.items():
            add(spellings, Word(VALUE, Fraction(number)))
    for number, spellings in ENGLISH_TENS.items():
        add(spellings, Word(VALUE, Fraction(number), tens=True))
    for number, spellings in MULTIPLIERS.items():
        add(spellings, Word(MULT, Fraction(number)))
    for count, spellings in REPEATERS.items():
        add(spellings, Word(REPEAT, Fraction(count)))
    add(TIMES_WORDS, Word(TIMES))
    for value, spellings in FRACTIONS.items():
        add(spellings, Word(VALUE, value))
    for value, spellings in FRACTION_PREFIXES.items():
        add(spellings, Word(PREFIX, value))
    for spelling, number in WEAK_WORDS.items():
        add([spelling], Word(VALUE, Fraction(number), ambiguity="weak", english_digit=spelling in ENGLISH_ZERO_WORDS))
    for spelling in CONTEXT_WORDS:
        key = fold(spelling)
        lexicon[key] = replace(lexicon[key], ambiguity="context")  # KeyError = table typo
    add(HESITATIONS, Word(HESITATION))
    add(DIGIT_NOUNS, Word(DIGIT_NOUN))
    return lexicon


_LEXICON = _build_lexicon()
_FOLDED_VERBS_BEFORE_DO = frozenset(map(fold, VERBS_BEFORE_DO))
_FOLDED_HOLD_ON = frozenset((fold(a), fold(b)) for a, b in HOLD_ON_PHRASES)
_FOLDED_DO = frozenset(map(fold, ("do", "दो")))
_OTHER_WORD = Word(OTHER)
# Stands in for the value of a very long digit run: larger than any scale, never a quantity, and it
# keeps int() away from Python's limit on digit-string conversion.
HUGE = Fraction(10**30)


@dataclass(frozen=True)
class Token:
    text: str
    word: Word

    @property
    def kind(self) -> str:
        return self.word.kind


def classify(words: Sequence[str]) -> list[Token]:
    """Look every word up, turning hold-on phrases and verb+"do" into ordinary (ignored) words."""
    tokens: list[Token] = []
    for i, text in enumerate(words):
        word = _LEXICON.get(text, _OTHER_WORD)
        if text.isascii() and text.isdigit():
            word = Word(DIGITS, Fraction(int(text)) if len(text) < 30 else HUGE)
        nxt = words[i + 1] if i + 1 < len(words) else ""
        prev = words[i - 1] if i else ""
        if (text, nxt) in _FOLDED_HOLD_ON or (prev, text) in _FOLDED_HOLD_ON:
            word = _OTHER_WORD
        if text in _FOLDED_DO and prev in _FOLDED_VERBS_BEFORE_DO:
            word = _OTHER_WORD
        tokens.append(Token(text, word))
    return tokens


def tokenize(text: str) -> list[Token]:
    return classify(split_words(text))
