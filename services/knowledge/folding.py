"""From a question or an entry to search terms: script, spelling and synonym folding.

`search_terms` is the one function both sides go through, so an entry's words and a caller's words meet
on the same terms: Devanagari is romanised (`transliterate`), letters are folded to a spelling key
(vowel length, doubled letters, w/v, ph/f, z/j: "paisaa waapas" == "paisa vapas"), English words lose
plural and tense endings, filler words go, and a Hinglish phrase ("kab tak aayega") adds the English
terms it means ("delivery time days", `services.knowledge.synonyms`).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from services.knowledge.synonyms import SYNONYMS
from services.knowledge.transliterate import transliterate

_STOPWORDS_RAW = (
    "a an the is are was were be been am i me my mine you your we our us it its this that these those "
    "of to in on at for from with by and or but if then so as do does did done can could will would "
    "should shall may might must have has had please what when where which who whom why how much many "
    "any some there here about get got want need tell know "
    "mera meri mere mujhe mujhko hum humko hamara hamari aap aapka aapki aapke tum tumhara "
    "kya kyu kyun kaise kaisa kaha kahan kab kaun kitna kitne kitni kis kisi "
    "hai hain tha thi the ho hoga hogi hota hoti hote raha rahi rahe "
    "ka ki ke ko se me mein mai main par pe aur ya bhi to toh hi na nahi ji haan ha "
    "karna karni karne karo kar kiya kijiye karein chahiye chahie chaiye sakta sakti sakte "
    "ek tak wala wali wale abhi please plz bhai sir madam batao bataiye bataye"
)

_WORD = re.compile(r"[a-z0-9]+")
_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "ed", "es", "s", "e")


def _spelling_key(word: str) -> str:
    """One key for the Roman spellings of one word."""
    word = word.replace("w", "v").replace("ph", "f").replace("z", "j").replace("q", "k")
    word = word.replace("ee", "i").replace("oo", "u")
    return re.sub(r"(.)\1+", r"\1", word)


def _stem(word: str) -> str:
    """Strip one English ending (refunds/refund, charges/charge, damaged/damage); leaves short words."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def _words(text: str) -> list[str]:
    if text.isascii():
        return _WORD.findall(text.lower())
    text = unicodedata.normalize("NFC", text)
    text = transliterate(text)
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _WORD.findall(text)


@lru_cache(maxsize=4096)
def fold_word(word: str) -> str:
    return _stem(_spelling_key(word))


def fold_words(text: str) -> list[str]:
    """Every word of `text` as a folded term, fillers included (phrases are matched on these)."""
    return [fold_word(word) for word in _words(text)]


STOPWORDS = frozenset(fold_word(word) for word in _STOPWORDS_RAW.split())


def content_words(text: str) -> str:
    """The folded words of `text` without fillers, as one string (for whole-phrase similarity)."""
    return " ".join(word for word in fold_words(text) if word not in STOPWORDS)


def _phrase_table() -> dict[tuple[str, ...], tuple[str, ...]]:
    table: dict[tuple[str, ...], tuple[str, ...]] = {}
    for phrase, meaning in SYNONYMS.items():
        key = tuple(fold_words(phrase))
        if not key or len(key) > MAX_PHRASE_WORDS:
            raise ValueError(f"synonym phrase {phrase!r} must have 1-{MAX_PHRASE_WORDS} words")
        table[key] = tuple(fold_words(meaning))
    return table


MAX_PHRASE_WORDS = 4
PHRASES = _phrase_table()


_PHRASE_STARTS = frozenset(key[0] for key in PHRASES)


def search_terms(text: str) -> list[str]:
    """The folded terms of `text` without fillers, plus the terms of every synonym phrase in it.

    Phrases are matched on all words (fillers too: "kab tak aayega" is made of them), longest first,
    and do not overlap.
    """
    return list(_search_terms(text))


@lru_cache(maxsize=16_384)  # entries' texts are folded again on every index rebuild
def _search_terms(text: str) -> tuple[str, ...]:
    words = fold_words(text)
    terms = [word for word in words if word not in STOPWORDS]
    i = 0
    while i < len(words):
        if words[i] not in _PHRASE_STARTS:
            i += 1
            continue
        for size in range(min(MAX_PHRASE_WORDS, len(words) - i), 0, -1):
            meaning = PHRASES.get(tuple(words[i : i + size]))
            if meaning is not None:
                terms.extend(meaning)
                i += size
                break
        else:
            i += 1
    return tuple(terms)
