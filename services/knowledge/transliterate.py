"""Devanagari to Roman letters, the way Hinglish callers spell words ("वापसी" -> "vaapasi").

Not a scholarly scheme (no diacritics): just enough that a question typed or transcribed in Devanagari
folds to the same search terms as its Roman-Hindi spelling (`services.knowledge.folding`).
"""

from __future__ import annotations

import re

_CONSONANTS = {
    "क": "k", "ख": "kh", "ग": "g", "घ": "gh", "ङ": "n",
    "च": "ch", "छ": "chh", "ज": "j", "झ": "jh", "ञ": "n",
    "ट": "t", "ठ": "th", "ड": "d", "ढ": "dh", "ण": "n",
    "त": "t", "थ": "th", "द": "d", "ध": "dh", "न": "n",
    "प": "p", "फ": "f", "ब": "b", "भ": "bh", "म": "m",
    "य": "y", "र": "r", "ल": "l", "व": "v", "श": "sh", "ष": "sh", "स": "s", "ह": "h",
    "ळ": "l", "क़": "k", "ख़": "kh", "ग़": "g", "ज़": "z", "ड़": "r", "ढ़": "rh", "फ़": "f",
}  # fmt: skip
_VOWELS = {
    "अ": "a", "आ": "aa", "इ": "i", "ई": "ee", "उ": "u", "ऊ": "oo", "ऋ": "ri",
    "ए": "e", "ऐ": "ai", "ओ": "o", "औ": "au", "ऑ": "o",
}  # fmt: skip
_MATRAS = {
    "\u093e": "aa", "\u093f": "i", "\u0940": "ee", "\u0941": "u", "\u0942": "oo", "\u0943": "ri",
    "\u0947": "e", "\u0948": "ai", "\u094b": "o", "\u094c": "au", "\u0949": "o",
}  # fmt: skip
_NASALS = {"\u0902": "n", "\u0901": "n", "\u0903": "h"}  # anusvara, chandrabindu, visarga
_VIRAMA, _NUKTA = "\u094d", "\u093c"
_DIGITS = {chr(0x0966 + value): str(value) for value in range(10)}


_DEVANAGARI = re.compile("[\u0900-\u097f]")


def is_devanagari(text: str) -> bool:
    return _DEVANAGARI.search(text) is not None


def transliterate(text: str) -> str:
    """Roman spelling of the Devanagari in `text`; other characters pass through unchanged.

    A consonant carries the inherent "a" unless a vowel sign or virama follows. Hindi speech drops
    some of them (schwa deletion), and so do Roman spellings: a word's last one ("वापस" -> "vaapas"),
    and one between a vowel-consonant and a consonant-vowel ("बदलना" -> "badalnaa", "पिनकोड" -> "pinkod").
    """
    if not is_devanagari(text):
        return text  # the common case (English bodies, Roman Hindi): nothing to do
    out: list[str] = []
    word: list[list[str]] = []  # syllables of the current word: [consonants, vowel]; vowel "" = inherent
    for ch in text.replace(_NUKTA, ""):
        if ch in _CONSONANTS:
            if word and word[-1][0].endswith(_VIRAMA):
                word[-1][0] = word[-1][0][:-1] + _CONSONANTS[ch]  # a conjunct: one cluster
            else:
                word.append([_CONSONANTS[ch], ""])
        elif ch in _MATRAS and word:
            word[-1][0] = word[-1][0].removesuffix(_VIRAMA)
            word[-1][1] = _MATRAS[ch]
        elif ch == _VIRAMA and word:
            word[-1][0] += _VIRAMA
        elif ch in _NASALS and word:
            word[-1][1] = (word[-1][1] or "a") + _NASALS[ch]
        elif ch in _VOWELS:
            word.append(["", _VOWELS[ch]])
        else:
            out.append(_spell(word))
            word = []
            out.append(_DIGITS.get(ch, ch))
    out.append(_spell(word))
    return "".join(out)


def _spell(word: list[list[str]]) -> str:
    if not word:
        return ""
    clusters = [cluster.removesuffix(_VIRAMA) for cluster, _ in word]
    vowels = [vowel if vowel or cluster.endswith(_VIRAMA) else "a" for cluster, vowel in word]
    inherent = [vowel == "" and not cluster.endswith(_VIRAMA) for cluster, vowel in word]
    if inherent[-1] and len(word) > 1:
        vowels[-1] = ""
    for i in range(len(word) - 2, 0, -1):  # right to left, as the rule is usually stated
        if inherent[i] and vowels[i - 1] and vowels[i + 1] and clusters[i + 1]:
            vowels[i] = ""
    return "".join(cluster + vowel for cluster, vowel in zip(clusters, vowels, strict=True))
