"""What callers say: every spelling of every number word, and the words around numbers.

Data only. Spellings are written naturally (accents, nukta, chandrabindu and all); the lexicon in
``utils.hinglish.tokens`` folds them exactly like input, so one entry per real spelling is enough.
How the ambiguous and filler words are treated is described in the ``utils.hinglish`` docstring.
"""

from __future__ import annotations

from fractions import Fraction

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

# Nouns that say a number before them is a count of digits, not a digit: "last four digits teen do ek
# shunya", "aakhri chaar ank ...", "6 digit ka code". Only a lone number word right before one is a count.
DIGIT_NOUNS: tuple[str, ...] = (
    *("digit", "digits", "dijit", "dijits", "didgit", "ank", "anka", "ankon", "ankh", "number", "numbers"),
    *("nambar", "numbar", "nambers", "अंक", "अंकों", "अंको", "डिजिट", "डिजिट्स", "नंबर", "नम्बर"),
)

# Only "both sides" count (see module docstring): value of each weak word.
WEAK_WORDS: dict[str, int] = {"no": 9, "नो": 9, "o": 0, "oh": 0, "ओ": 0}
# ...except that English digit runs may end in "oh" (zero): "one two three oh" = 1230.
ENGLISH_ZERO_WORDS: tuple[str, ...] = ("o", "oh", "ओ")

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
