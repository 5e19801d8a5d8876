"""Normalise Hinglish function-call arguments (numbers, phones, PINs, ids) and format values for speech.

The speech-to-speech model hands us arguments the way Indian callers say them: "mera number hai nau
aath saat six five, double four, 3 2 1 0", "पाँच छह शून्य शून्य शून्य एक", "ORD dash four eight two...".
Everything here is a pure function over ``str`` (stdlib only) so it can be used anywhere and tested
exhaustively.

How a string is read (``normalize_digits`` and everything built on it)
----------------------------------------------------------------------
1. Unicode is folded: NFC, casefold, Latin accents dropped ("chār" -> "char"), Devanagari nukta
   dropped and chandrabindu folded into anusvara ("पाँच" == "पांच", "हज़ार" == "हजार"), zero-width
   joiners removed, every Unicode decimal digit ("४", "৪", full-width "４") turned into ASCII.
   Punctuation becomes a word break; commas *between* digits are dropped ("1,00,000").
2. Words are looked up in one lexicon: English, Roman Hindi and Devanagari Hindi numbers 0-99,
   multipliers (sau/hundred, hazaar/thousand, lakh, crore, darjan/dozen), repeaters
   (double/triple/डबल, and "<n> baar <digit>"), fractions (dedh, dhai, aadha, saade, sava, paune).
   Every other word is ignored ("mera", "number", "hai", "plus", "please", "haan", ...).
3. Number words form *runs*: consecutive number words, where only hesitations ("umm", "uh", "ji",
   "and", "aur", "dash", ...) are skipped; any other word ends the run.
4. Ambiguous words (the rule):
   * Weak words - Roman "no" (English "no" / Hindi nau = 9), "o"/"oh"/"ओ" (0) and Devanagari "नो" -
     count only when a number word stands on *both* sides of them in the same run, or right after
     "double"/"triple"/"baar". So "no, nine eight ..." and "... four three, no wait" ignore the
     "no", while "aath no saat" and "nine o one" and "double oh seven" read it as a digit.
   * Context words - "do"/"दो" (English verb, Hindi "give"), "sat", "tin", "saath"/"sath" (Hindi
     "with" vs 60), "bara" ("big"), "bis", "वन" (forest / "one") - count when their run holds at
     least one other number word ("do nau", "do sau", "do baar paanch"); a lone one is ignored
     ("haan do" -> None). ``parse_quantity`` relaxes this: when nothing else is numeric, a lone
     context word is the answer ("do" -> 2).
   * "do"/"दो" right after a Hindi/English verb ("de do", "likh do", "bhej do", "दे दो") is the verb.
   * Hold-on phrases "ek minute", "one second", "एक मिनट", ... are not numbers.
   * "tera" (13) is deliberately not in the lexicon: it means "your". Use "terah"/"tehra".
5. A run is parsed into chunks that are concatenated: plain digits keep their leading zeros
   ("0 98" -> "098"); a multiplier builds a compound ("teen sau" -> 300, "ek sau bees" -> 120,
   "two thousand twenty five" -> 2025, "dedh sau" -> 150); an English round ten absorbs a following
   unit ("twenty one" -> 21) but Hindi ones never do (Hindi has a word for every number, so
   "bees ek" is "201"); "double X"/"triple X"/"do baar X" repeat the next single number word.

Known limits: self-corrections ("nine eight, no, nine seven") are not understood; a repeat applies
forwards only ("paanch do baar" is not "55"); "to"/"for"/"won"/"ate" are never read as digits.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction

__all__ = [
    "format_date_indian",
    "format_inr",
    "mask_phone",
    "normalize_digits",
    "normalize_order_id",
    "normalize_phone",
    "normalize_pincode",
    "normalize_ticket_id",
    "parse_quantity",
    "speak_digits",
]

# --------------------------------------------------------------------------------------------------
# Data tables. Spellings are written naturally; the lexicon builder folds them exactly like input.
# --------------------------------------------------------------------------------------------------

ENGLISH_NUMBERS: dict[int, tuple[str, ...]] = {
    0: ("zero", "zeroo", "zeero", "jiro", "jero"),
    1: ("one",),
    2: ("two",),
    3: ("three",),
    4: ("four",),
    5: ("five",),
    6: ("six",),
    7: ("seven",),
    8: ("eight",),
    9: ("nine",),
    10: ("ten",),
    11: ("eleven",),
    12: ("twelve",),
    13: ("thirteen",),
    14: ("fourteen",),
    15: ("fifteen",),
    16: ("sixteen",),
    17: ("seventeen",),
    18: ("eighteen",),
    19: ("nineteen",),
}

# Round tens: "twenty one" means 21, so these may absorb a following unit.
ENGLISH_TENS: dict[int, tuple[str, ...]] = {
    20: ("twenty",),
    30: ("thirty",),
    40: ("forty", "fourty"),
    50: ("fifty",),
    60: ("sixty",),
    70: ("seventy",),
    80: ("eighty",),
    90: ("ninety",),
}

# English digit words as Devanagari speech-to-text writes them.
ENGLISH_IN_DEVANAGARI: dict[int, tuple[str, ...]] = {
    0: ("ज़ीरो", "जीरो"),
    1: ("वन",),
    2: ("टू",),
    3: ("थ्री",),
    4: ("फ़ोर", "फोर"),
    5: ("फ़ाइव", "फाइव"),
    6: ("सिक्स",),
    7: ("सेवन",),
    8: ("एट",),
    9: ("नाइन",),
}

# Hindi 0-99, Roman script. Every number has its own (irregular) name; first spelling is canonical.
HINDI_ROMAN: dict[int, tuple[str, ...]] = {
    0: ("shunya", "shoonya", "shunyaa", "sunya", "shuniya", "shunye", "sifar", "sifr"),
    1: ("ek", "aek", "ekk"),
    2: ("do", "doh", "dou"),
    3: ("teen", "tin", "tiin", "theen"),
    4: ("chaar", "char", "chhar", "chaarr"),
    5: ("paanch", "panch", "paach", "pach", "paanc", "paunch", "panchh"),
    6: ("chhe", "che", "chah", "chhah", "chheh", "cheh", "chhey", "chey", "chhai", "chha"),
    7: ("saat", "sat"),
    8: ("aath", "ath", "aat", "aathh"),
    9: ("nau", "nao", "nou", "naw"),
    10: ("das", "dus", "dass"),
    11: ("gyarah", "gyara", "gyaarah", "gyaara", "gyarha", "giarah", "igyarah"),
    12: ("barah", "bara", "baarah", "baara", "barha", "baraah"),
    13: ("terah", "terha", "tehra", "teraah"),
    14: ("chaudah", "chauda", "chaudha", "chodah", "chowdah", "chaudaa"),
    15: ("pandrah", "pandra", "pandraah", "pandhra", "pundrah", "pandrha"),
    16: ("solah", "sola", "solha", "solaa"),
    17: ("satrah", "satra", "satraah", "sattrah", "satrha"),
    18: ("atharah", "athara", "attharah", "atthara", "athrah", "athra", "athaarah"),
    19: ("unnis", "unnees", "unees", "unis", "unnish", "unnise"),
    20: ("bees", "bis", "biis"),
    21: ("ikkis", "ikkees", "ekkis", "ikis", "ikkish"),
    22: ("baais", "bais", "baees", "baaees", "baiis"),
    23: ("teis", "teiis", "teyis", "tehis", "teees"),
    24: ("chaubis", "chaubees", "chobis", "chowbis", "chaubiis"),
    25: ("pachchis", "pachees", "pachis", "pachchees", "pacchis", "pachhis"),
    26: ("chhabbis", "chhabbees", "chabbis", "chabees", "chhabis"),
    27: ("sattais", "sattaees", "sattaeis", "sataees", "sattaiis", "satais"),
    28: ("atthais", "atthaees", "athais", "athaees", "athaiis", "atthaeis"),
    29: ("untis", "unatis", "unattis", "untees", "untiis"),
    30: ("tees", "tis", "tiis"),
    31: ("ikattis", "iktees", "ikatis", "ekattis", "iktis", "ikattees"),
    32: ("battis", "battees", "batis", "bathis"),
    33: ("taintis", "taintees", "tentis", "tetis", "taentis", "tetees"),
    34: ("chauntis", "chautees", "chautis", "chontis", "chauntees"),
    35: ("paintis", "paintees", "pentis", "paitees", "paitis"),
    36: ("chhattis", "chhattees", "chattis", "chhatis", "chatis"),
    37: ("saintis", "saintees", "sentis", "saitees", "saitis"),
    38: ("adtis", "adtees", "artis", "artees", "arthis", "adhtis"),
    39: ("untalis", "untalees", "unchalis", "unatalis", "untaalis"),
    40: ("chalis", "chalees", "chaalis", "chaalees"),
    41: ("iktalis", "iktalees", "ikchalis", "iktaalis"),
    42: ("bayalis", "byalis", "bayalees", "bayaalis", "beyalis"),
    43: ("taintalis", "taintalees", "tentalis", "tetalis", "taitalis"),
    44: ("chavalis", "chauvalis", "chawalis", "chavalees", "chauwalis"),
    45: ("paintalis", "paintalees", "pentalis", "paitalis", "paintaalis"),
    46: ("chhiyalis", "chhiyalees", "chiyalis", "chhayalis", "chheyalis"),
    47: ("saintalis", "saintalees", "sentalis", "saitalis"),
    48: ("adtalis", "adtalees", "artalis", "adtaalis", "athtalis"),
    49: ("unchas", "unchaas", "unanchas", "unchaash"),
    50: ("pachas", "pachaas", "pachaass", "pachaash"),
    51: ("ikyavan", "ikyawan", "ikyaavan", "ekyavan", "ikkyavan"),
    52: ("bavan", "baavan", "bawan", "baawan"),
    53: ("tirpan", "tirepan", "trepan", "tirpann"),
    54: ("chauvan", "chauwan", "chauvaan", "chouvan"),
    55: ("pachpan", "pachapan", "pachpun"),
    56: ("chhappan", "chappan", "chhapan"),
    57: ("sattavan", "sattawan", "sattaavan", "satawan"),
    58: ("atthavan", "atthawan", "athavan", "athawan", "atthaavan"),
    59: ("unsath", "unsaath", "unasath"),
    60: ("saath", "sath", "saanth"),
    61: ("iksath", "iksaath", "eksath"),
    62: ("basath", "baasath", "basaath"),
    63: ("tirsath", "tiresath", "tirsaath"),
    64: ("chausath", "chausaath", "chosath", "chaunsath"),
    65: ("painsath", "painsaath", "pensath", "paisath"),
    66: ("chhiyasath", "chhiyasaath", "chiyasath", "chhiyaasath"),
    67: ("sadsath", "sarsath", "sadsaath", "sarsaath"),
    68: ("adsath", "arsath", "adsaath", "arsaath", "athsath"),
    69: ("unhattar", "unhatar", "unahattar"),
    70: ("sattar", "sattaar", "sattarr"),
    71: ("ikhattar", "ikahattar", "ikhatar"),
    72: ("bahattar", "bahatar", "bahatter"),
    73: ("tihattar", "tihatar", "tehattar"),
    74: ("chauhattar", "chauhatar", "chohattar"),
    75: ("pachhattar", "pachattar", "pachhatar", "pachatar"),
    76: ("chhihattar", "chhiyattar", "chihattar", "chhihatar"),
    77: ("satattar", "sathattar", "satahattar", "sathatar"),
    78: ("athattar", "athhattar", "athahattar", "athatar"),
    79: ("unyasi", "unasi", "unaasi", "unnasi"),
    80: ("assi", "asi", "assee", "aassi"),
    81: ("ikyasi", "ikyaasi", "ekyasi"),
    82: ("bayasi", "byasi", "bayaasi", "beyasi"),
    83: ("tirasi", "tiraasi", "tiryasi"),
    84: ("chaurasi", "chauraasi", "chorasi", "chaurasee"),
    85: ("pachasi", "pachaasi", "pachchasi"),
    86: ("chhiyasi", "chhiyaasi", "chiyasi"),
    87: ("sattasi", "sattaasi", "sataasi", "satasi"),
    88: ("atthasi", "atthaasi", "athasi", "athaasi"),
    89: ("navasi", "navaasi", "nauasi", "nawasi"),
    90: ("nabbe", "nabbay", "nabe", "nabbey"),
    91: ("ikyanve", "ikyaanave", "ikyanave", "ekyanve", "ikyanbe"),
    92: ("banve", "baanve", "banave", "baanave", "baanbe"),
    93: ("tiranve", "tiraanave", "tiranave", "tiraanve"),
    94: ("chauranve", "chauraanave", "chauranave", "choranve"),
    95: ("pachanve", "pachaanave", "pachanave", "pachaanve"),
    96: ("chhiyanve", "chhiyaanave", "chhiyanave", "chiyanve"),
    97: ("sattanve", "sattaanave", "sattanave", "sataanve"),
    98: ("atthanve", "atthaanave", "atthanave", "athanve", "athaanave"),
    99: ("ninyanve", "ninyaanave", "ninyanave", "ninnyanve", "ninanve", "ninyanbe"),
}

# Hindi 0-99, Devanagari. Nukta/chandrabindu variants need no entry of their own (folded on input).
HINDI_DEVANAGARI: dict[int, tuple[str, ...]] = {
    0: ("शून्य", "शुन्य", "सिफ़र", "सिफर"),
    1: ("एक",),
    2: ("दो",),
    3: ("तीन",),
    4: ("चार",),
    5: ("पाँच", "पांच", "पाच"),
    6: ("छह", "छः", "छे", "छै", "छ"),
    7: ("सात",),
    8: ("आठ",),
    9: ("नौ",),
    10: ("दस",),
    11: ("ग्यारह",),
    12: ("बारह",),
    13: ("तेरह",),
    14: ("चौदह",),
    15: ("पंद्रह", "पन्द्रह"),
    16: ("सोलह",),
    17: ("सत्रह",),
    18: ("अठारह", "अट्ठारह"),
    19: ("उन्नीस", "उन्निस"),
    20: ("बीस",),
    21: ("इक्कीस",),
    22: ("बाईस", "बाइस"),
    23: ("तेईस", "तेइस"),
    24: ("चौबीस",),
    25: ("पच्चीस",),
    26: ("छब्बीस",),
    27: ("सत्ताईस", "सत्ताइस"),
    28: ("अट्ठाईस", "अठाईस"),
    29: ("उनतीस", "उन्तीस"),
    30: ("तीस",),
    31: ("इकतीस",),
    32: ("बत्तीस",),
    33: ("तैंतीस", "तैतीस", "तेतीस"),
    34: ("चौंतीस", "चौतीस"),
    35: ("पैंतीस", "पैतीस"),
    36: ("छत्तीस",),
    37: ("सैंतीस", "सैतीस"),
    38: ("अड़तीस",),
    39: ("उनतालीस", "उन्तालीस"),
    40: ("चालीस",),
    41: ("इकतालीस",),
    42: ("बयालीस", "ब्यालीस"),
    43: ("तैंतालीस", "तैतालीस", "तेतालीस"),
    44: ("चौवालीस", "चवालीस"),
    45: ("पैंतालीस", "पैतालीस"),
    46: ("छियालीस", "छयालीस"),
    47: ("सैंतालीस", "सैतालीस"),
    48: ("अड़तालीस",),
    49: ("उनचास",),
    50: ("पचास",),
    51: ("इक्यावन",),
    52: ("बावन",),
    53: ("तिरपन", "तिरेपन"),
    54: ("चौवन", "चव्वन"),
    55: ("पचपन",),
    56: ("छप्पन",),
    57: ("सत्तावन",),
    58: ("अट्ठावन", "अठावन"),
    59: ("उनसठ",),
    60: ("साठ",),
    61: ("इकसठ",),
    62: ("बासठ",),
    63: ("तिरसठ",),
    64: ("चौंसठ", "चौसठ"),
    65: ("पैंसठ", "पैसठ"),
    66: ("छियासठ",),
    67: ("सड़सठ",),
    68: ("अड़सठ",),
    69: ("उनहत्तर",),
    70: ("सत्तर",),
    71: ("इकहत्तर",),
    72: ("बहत्तर",),
    73: ("तिहत्तर",),
    74: ("चौहत्तर",),
    75: ("पचहत्तर",),
    76: ("छिहत्तर", "छियत्तर"),
    77: ("सतहत्तर",),
    78: ("अठहत्तर",),
    79: ("उन्यासी", "उनासी", "उनयासी"),
    80: ("अस्सी",),
    81: ("इक्यासी",),
    82: ("बयासी", "ब्यासी"),
    83: ("तिरासी",),
    84: ("चौरासी",),
    85: ("पचासी",),
    86: ("छियासी",),
    87: ("सत्तासी",),
    88: ("अट्ठासी", "अठासी"),
    89: ("नवासी",),
    90: ("नब्बे",),
    91: ("इक्यानवे", "इक्यानबे"),
    92: ("बानवे", "बानबे"),
    93: ("तिरानवे", "तिरानबे"),
    94: ("चौरानवे", "चौरानबे"),
    95: ("पचानवे", "पचानबे"),
    96: ("छियानवे", "छियानबे"),
    97: ("सत्तानवे", "सत्तानबे"),
    98: ("अट्ठानवे", "अट्ठानबे", "अठानवे"),
    99: ("निन्यानवे", "निन्यानबे", "निन्नानवे"),
}

MULTIPLIERS: dict[int, tuple[str, ...]] = {
    12: ("dozen", "dozens", "darjan", "darjen", "darzan", "dazan", "दर्जन"),
    100: ("hundred", "sau", "sou", "सौ"),
    1000: ("thousand", "hazaar", "hazar", "hajar", "hajaar", "hazzar", "हज़ार"),
    100_000: ("lakh", "lakhs", "lac", "lacs", "laakh", "लाख"),
    10_000_000: ("crore", "crores", "karod", "karor", "करोड़"),
}

# "double five" = 55, "triple nine" = 999.
REPEATERS: dict[int, tuple[str, ...]] = {
    2: ("double", "dubble", "dabal", "dabbal", "dubal", "डबल"),
    3: ("triple", "tripple", "tripal", "trible", "ट्रिपल"),
}

# "<n> baar <digit>": "do baar paanch" = 55. Only meaningful right after a number.
TIMES_WORDS: tuple[str, ...] = ("baar", "bar", "बार")

# Stand-alone fractions; only useful before a multiplier ("dedh sau" = 150, "aadha darjan" = 6).
FRACTIONS: dict[Fraction, tuple[str, ...]] = {
    Fraction(1, 2): ("half", "aadha", "adha", "aadhaa", "aadhe", "आधा", "आधे"),
    Fraction(3, 2): ("dedh", "derh", "dedhh", "डेढ़"),
    Fraction(5, 2): ("dhai", "dhaai", "dhayi", "ढाई"),
}

# Prefixes adding to the next number: "saade teen sau" = 350, "sava sau" = 125, "paune do sau" = 175.
FRACTION_PREFIXES: dict[Fraction, tuple[str, ...]] = {
    Fraction(1, 2): ("saade", "saadhe", "sadhe", "sade", "saarhe", "साढ़े"),
    Fraction(1, 4): ("sava", "savva", "sawa", "सवा"),
    Fraction(-1, 4): ("paune", "pone", "पौने"),
}

# Only "both sides" count (see module docstring): value of each weak word.
WEAK_WORDS: dict[str, int] = {"no": 9, "नो": 9, "o": 0, "oh": 0, "ओ": 0}

# Real words in English or Hindi that are also number spellings: need another number in the run.
CONTEXT_WORDS: frozenset[str] = frozenset({"do", "दो", "sat", "tin", "saath", "sath", "bara", "bis", "वन"})

# "de do" (give), "likh do" (write it down): here "do"/"दो" is the verb, not 2.
VERBS_BEFORE_DO: frozenset[str] = frozenset(
    {
        *("de", "dedo", "kar", "bhej", "likh", "bata", "bol", "le", "rakh", "daal", "dal", "dikha"),
        *("sun", "bana", "check", "confirm", "cancel", "book", "note", "send", "karwa", "bhejwa"),
        *("दे", "कर", "भेज", "लिख", "बता", "बोल", "ले", "रख", "डाल", "दिखा", "सुन", "बना"),
    }
)

# "ek minute" means "hold on", not 1.
HOLD_ON_PHRASES: tuple[tuple[str, str], ...] = tuple(
    (number, unit)
    for number in ("ek", "one", "एक", "do", "दो")
    for unit in ("minute", "min", "second", "sec", "secend", "moment", "मिनट", "सेकंड", "सेकेंड")
)

# Skipped *inside* a run of number words (the rest of the non-number words end a run).
HESITATIONS: frozenset[str] = frozenset(
    {
        *("umm", "um", "uh", "uhh", "hmm", "hm", "er", "erm", "ah", "aa", "aaa", "ji", "jee"),
        *("and", "aur", "dash", "hyphen", "space", "comma", "उम्म", "अं", "जी", "और"),
    }
)

# Words that name an id kind; used to refuse a ticket id where an order id was asked for.
ID_WORDS: dict[str, frozenset[str]] = {
    "ORD": frozenset({"ord", "order", "ordr", "ऑर्डर", "आर्डर", "ऑडर", "ओर्डर"}),
    "TKT": frozenset({"tkt", "ticket", "tiket", "टिकट", "टिकिट"}),
}

MONTHS: tuple[str, ...] = (
    *("January", "February", "March", "April", "May", "June"),
    *("July", "August", "September", "October", "November", "December"),
)

# ITU calling codes of one and two digits; every other code has three (used only to mask logs).
_ONE_DIGIT_CODES = frozenset({"1", "7"})
_TWO_DIGIT_CODES = frozenset(
    "20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 "
    "60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98".split()
)

INDIAN_MOBILE_FIRST_DIGITS = frozenset("6789")

# --------------------------------------------------------------------------------------------------
# Unicode folding and tokenising
# --------------------------------------------------------------------------------------------------

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
_LATIN_ACCENTS = re.compile("[\u0300-\u036f]")
_NUKTA = "\u093c"
_CHANDRABINDU, _ANUSVARA = "\u0901", "\u0902"
_COMMA_IN_NUMBER = re.compile(r"(?<=\d),(?=\d)")
_DIGITS_OR_LETTERS = re.compile(r"[0-9]+|[^0-9]+")


def _fold(text: str) -> str:
    """Fold spelling variants that carry no meaning, so tables need one entry per real spelling."""
    text = unicodedata.normalize("NFD", text.translate(_ZERO_WIDTH))
    text = _LATIN_ACCENTS.sub("", text).replace(_NUKTA, "").replace(_CHANDRABINDU, _ANUSVARA)
    text = unicodedata.normalize("NFC", text).casefold()
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)


def _words(text: str) -> list[str]:
    """Split folded text into words; punctuation breaks words, and so does a letter/digit boundary."""
    text = _COMMA_IN_NUMBER.sub("", _fold(text))
    spaced = "".join(ch if unicodedata.category(ch)[0] in "LMN" else " " for ch in text)
    return [part for word in spaced.split() for part in _DIGITS_OR_LETTERS.findall(word)]


# --------------------------------------------------------------------------------------------------
# Lexicon
# --------------------------------------------------------------------------------------------------

# Kinds of lexicon entry. "other" words are ignored and end a run of number words.
_VALUE, _DIGITS, _MULT, _REPEAT, _TIMES, _PREFIX = "value", "digits", "mult", "repeat", "times", "prefix"
_HESITATION, _OTHER = "hesitation", "other"
_NUMBERISH = frozenset({_VALUE, _DIGITS, _MULT, _REPEAT, _TIMES, _PREFIX})


@dataclass(frozen=True)
class _Word:
    kind: str
    value: Fraction = Fraction(0)
    tens: bool = False  # English round ten: absorbs a following unit ("twenty one")
    ambiguity: str = ""  # "", "context" or "weak" (see module docstring)


def _build_lexicon() -> dict[str, _Word]:
    lexicon: dict[str, _Word] = {}

    def add(spellings: Iterable[str], entry: _Word) -> None:
        for spelling in spellings:
            key = _fold(spelling)
            if lexicon.get(key, entry) != entry:
                raise ValueError(f"lexicon spelling {spelling!r} has two meanings")
            lexicon[key] = entry

    for table in (ENGLISH_NUMBERS, ENGLISH_IN_DEVANAGARI, HINDI_ROMAN, HINDI_DEVANAGARI):
        for number, spellings in table.items():
            add(spellings, _Word(_VALUE, Fraction(number)))
    for number, spellings in ENGLISH_TENS.items():
        add(spellings, _Word(_VALUE, Fraction(number), tens=True))
    for number, spellings in MULTIPLIERS.items():
        add(spellings, _Word(_MULT, Fraction(number)))
    for count, spellings in REPEATERS.items():
        add(spellings, _Word(_REPEAT, Fraction(count)))
    add(TIMES_WORDS, _Word(_TIMES))
    for value, spellings in FRACTIONS.items():
        add(spellings, _Word(_VALUE, value))
    for value, spellings in FRACTION_PREFIXES.items():
        add(spellings, _Word(_PREFIX, value))
    for spelling, number in WEAK_WORDS.items():
        add([spelling], _Word(_VALUE, Fraction(number), ambiguity="weak"))
    for spelling in CONTEXT_WORDS:
        key = _fold(spelling)
        lexicon[key] = replace(lexicon[key], ambiguity="context")  # KeyError = table typo
    add(HESITATIONS, _Word(_HESITATION))
    return lexicon


_LEXICON = _build_lexicon()
_FOLDED_VERBS_BEFORE_DO = frozenset(map(_fold, VERBS_BEFORE_DO))
_FOLDED_HOLD_ON = frozenset((_fold(a), _fold(b)) for a, b in HOLD_ON_PHRASES)
_FOLDED_DO = frozenset(map(_fold, ("do", "दो")))
_OTHER_WORD = _Word(_OTHER)
# Stands in for the value of a very long digit run: larger than any scale, never a quantity, and it
# keeps int() away from Python's limit on digit-string conversion.
_HUGE = Fraction(10**30)


@dataclass(frozen=True)
class _Token:
    text: str
    word: _Word

    @property
    def kind(self) -> str:
        return self.word.kind


def _classify(words: Sequence[str]) -> list[_Token]:
    """Look every word up, turning hold-on phrases and verb+"do" into ordinary (ignored) words."""
    tokens: list[_Token] = []
    for i, text in enumerate(words):
        word = _LEXICON.get(text, _OTHER_WORD)
        if text.isascii() and text.isdigit():
            word = _Word(_DIGITS, Fraction(int(text)) if len(text) < 30 else _HUGE)
        nxt = words[i + 1] if i + 1 < len(words) else ""
        prev = words[i - 1] if i else ""
        if (text, nxt) in _FOLDED_HOLD_ON or (prev, text) in _FOLDED_HOLD_ON:
            word = _OTHER_WORD
        if text in _FOLDED_DO and prev in _FOLDED_VERBS_BEFORE_DO:
            word = _OTHER_WORD
        tokens.append(_Token(text, word))
    return tokens


def _tokens(text: str) -> list[_Token]:
    return _classify(_words(text))


# --------------------------------------------------------------------------------------------------
# Runs: which number words really are numbers
# --------------------------------------------------------------------------------------------------


def _runs(tokens: Sequence[_Token]) -> list[list[_Token]]:
    """Group consecutive number words; hesitations are skipped, any other word ends the run."""
    runs: list[list[_Token]] = [[]]
    for token in tokens:
        if token.kind in _NUMBERISH:
            runs[-1].append(token)
        elif token.kind != _HESITATION and runs[-1]:
            runs.append([])
    return [run for run in runs if run]


def _resolve(run: list[_Token], numeric_context: bool) -> list[_Token]:
    """Apply the ambiguity rule of the module docstring to one run."""
    run = list(run)
    while run and run[0].word.ambiguity == "weak":
        run.pop(0)
    while run and run[-1].word.ambiguity == "weak":
        if len(run) > 1 and run[-2].kind in (_REPEAT, _TIMES):
            break  # "double oh"
        run.pop()
    if len(run) == 1 and run[0].word.ambiguity == "context" and not numeric_context:
        return []
    return run


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


def _is_operand(token: _Token) -> bool:
    return token.kind in (_VALUE, _DIGITS)


def _single(token: _Token) -> _Chunk:
    return _Chunk(token.word.value, token.text if token.kind == _DIGITS else None)


def _is_unit(token: _Token) -> bool:
    """A 1-9 that may complete an English round ten ("twenty one", "twenty 1")."""
    value = token.word.value
    if token.kind == _DIGITS:
        return len(token.text) == 1 and token.text != "0"
    return token.kind == _VALUE and not token.word.tens and value.denominator == 1 and 1 <= value <= 9


def _compound(run: Sequence[_Token], i: int) -> tuple[_Chunk | None, int]:
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
        followed_by_times = i + 1 < len(run) and run[i + 1].kind == _TIMES
        if token.kind == _PREFIX:
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
        elif token.kind == _MULT:
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
    if i == start + 1 and run[start].kind == _DIGITS:
        return _single(run[start]), i
    if small is None and last != "big":
        return None, i  # only a dangling "saade"
    return _Chunk(total + (small or 0)), i


def _parse_run(run: Sequence[_Token]) -> list[_Chunk]:
    """Split one resolved run into chunks that are read one after another."""
    chunks: list[_Chunk] = []
    i = 0
    while i < len(run):
        token = run[i]
        count: Fraction | None = None
        if token.kind == _REPEAT:
            count, i = token.word.value, i + 1
        elif _is_operand(token) and i + 1 < len(run) and run[i + 1].kind == _TIMES:
            count, i = token.word.value, i + 2
        elif token.kind == _TIMES:
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


def _chunks(tokens: Sequence[_Token], numeric_context: bool = False) -> list[_Chunk]:
    return [chunk for run in _runs(tokens) for chunk in _parse_run(_resolve(run, numeric_context))]


def _digits_of(tokens: Sequence[_Token]) -> str | None:
    parts = [chunk.digits() for chunk in _chunks(tokens)]
    if not parts or any(part is None for part in parts):
        return None
    return "".join(part for part in parts if part is not None)


# --------------------------------------------------------------------------------------------------
# Public API: understanding callers
# --------------------------------------------------------------------------------------------------


def normalize_digits(text: str) -> str | None:
    """Turn a spoken or written digit sequence into ASCII digits, or None if it holds no number.

    Number words are read one after another and concatenated ("nine eight seven" -> "987",
    "nau aath, double four" -> "9844"); compounds are read as numbers ("teen sau" -> "300",
    "twenty one" -> "21", "एक सौ बीस" -> "120"). Other words are ignored.

    Ambiguity rule (details in the module docstring): Roman "no" and "o"/"oh" count as 9/0 only
    with a number word on both sides ("aath no saat" -> "897", "no, nine" -> "9"); "do", "sat",
    "tin", "saath", "bara", "bis", "दो", "वन" count only next to another number word ("do" -> None,
    "do nau" -> "29"); "do" after a verb ("de do", "likh do") and "ek minute" are never numbers.
    """
    return _digits_of(_tokens(text))


def parse_quantity(text: str) -> int | None:
    """Read one spoken quantity ("do", "teen sau", "ek darjan", "paanch piece", "३") as an int.

    None when there is no number, when it is not whole ("dedh kilo") or when there are several
    ("do-teen", "2 3"): an agent should ask again rather than guess. A lone ambiguous word is
    accepted here ("do" -> 2) because the question asked for a number; "no" still is not 9.
    """
    tokens = _tokens(text)
    chunks = _chunks(tokens) or _chunks(tokens, numeric_context=True)
    if len(chunks) != 1:
        return None
    value = chunks[0].value
    return int(value) if value.denominator == 1 and 0 <= value < _HUGE else None


_WRITTEN_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_PHONE_PUNCTUATION = re.compile(r"[\s\-().\u00a0]")


def _national(digits: str, country: str) -> str:
    """Drop an international ("0091"/"91") or trunk ("0") prefix from a national number."""
    for prefix in ("00" + country, "0" + country, country, "0"):
        rest = digits[len(prefix) :]
        if digits.startswith(prefix) and len(rest) == 10:
            return rest
    return digits


def _e164(digits: str, country: str) -> str | None:
    national = _national(digits, country)
    if country == "91":
        valid = len(national) == 10 and national[0] in INDIAN_MOBILE_FIRST_DIGITS
    else:  # no numbering plan for other countries here: only a plausible length
        valid = national[:1] not in ("", "0") and 4 <= len(national) <= 15 - len(country)
    return f"+{country}{national}" if valid else None


def normalize_phone(text: str, default_country: str = "91") -> str | None:
    """E.164 phone number from a spoken or written one ("+91 98765 43210", "nau aath saat ...").

    Indian numbers must be mobiles: 10 digits starting 6-9, optionally after +91 / 91 / 0 / 0091.
    A written E.164 number of another country ("+1 415 555 0100") is returned compacted; a spoken
    "plus" followed by a non-Indian number is accepted the same way. Anything else is None.
    """
    default_country = default_country.lstrip("+")
    folded = _fold(text)
    compact = _PHONE_PUNCTUATION.sub("", folded)
    if _WRITTEN_E164.fullmatch(compact):
        digits = compact[1:]
        if digits.startswith(default_country):
            return _e164(digits[len(default_country) :], default_country)
        return compact
    tokens = _tokens(text)
    digits = _digits_of(tokens)
    if digits is None:
        return None
    phone = _e164(digits, default_country)
    says_plus = "+" in folded or any(token.text in ("plus", "प्लस") for token in tokens)
    if phone is None and says_plus and not digits.startswith(default_country):
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
    prefix = prefix.upper()
    own = frozenset(map(_fold, ID_WORDS.get(prefix, frozenset()) | {prefix}))
    foreign = frozenset(_fold(word) for kind, words in ID_WORDS.items() if kind != prefix for word in words)
    foreign -= own
    words = _join_spelled(_words(text), own | foreign)
    if any(word in foreign for word in words) and not any(word in own for word in words):
        return None
    digits = _digits_of(_classify([word for word in words if word not in own]))
    if digits is None or len(digits) != 6:
        return None
    return f"{prefix}-{digits}"


def normalize_order_id(text: str, prefix: str = "ORD") -> str | None:
    """Canonical order id "ORD-482913" from "ord 482913", "order number char aath do nau ek teen",
    "o r d four eight two nine one three", "४८२९१३"; None unless exactly six digits are found."""
    return _normalize_id(text, prefix)


def normalize_ticket_id(text: str) -> str | None:
    """Canonical ticket id "TKT-123456" from the same kinds of input as ``normalize_order_id``."""
    return _normalize_id(text, "TKT")


# --------------------------------------------------------------------------------------------------
# Public API: talking and logging
# --------------------------------------------------------------------------------------------------


def _country_code_length(digits: str) -> int:
    if digits[:1] in _ONE_DIGIT_CODES:
        return 1
    return 2 if digits[:2] in _TWO_DIGIT_CODES else 3


def mask_phone(phone: str) -> str:
    """Mask a phone number for logs: "+919876543210" -> "+91******3210".

    Keeps a leading "+<country code>" and the last 4 digits; every other digit (any script) becomes
    "*", other characters stay where they are. With fewer than 6 digits only the last 2 survive.
    Without a "+" no country code is assumed, so nothing but the last 4 digits is shown.
    """
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
    for part in _DIGITS_OR_LETTERS.findall(_fold(s)):
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
    return sign + text if value != 0 else text


def format_date_indian(d: date | datetime) -> str:
    """ "5 March 2026": day first, no leading zero, English month name (locale independent)."""
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"
