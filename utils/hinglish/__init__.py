"""Normalise Hinglish function-call arguments (numbers, phones, PINs, ids) and format values for speech.

The speech-to-speech model hands us arguments the way Indian callers say them: "mera number hai nau
aath saat six five, double four, 3 2 1 0", "पाँच छह शून्य शून्य शून्य एक", "ORD dash four eight two...".
Everything here is a pure function over ``str`` (stdlib only) so it can be used anywhere and tested
exhaustively. Import from the package; the modules are:

* ``lexicon`` - data: every spelling of every number word, fillers, hold-on phrases, id words.
* ``tokens``  - Unicode folding, word splitting, lexicon lookup (steps 1-2 below).
* ``numbers`` - runs, the ambiguity rule and compounds (steps 3-5): ``normalize_digits``,
  ``parse_quantity``.
* ``ids``     - ``normalize_phone``, ``normalize_pincode``, ``normalize_order_id``, ``normalize_ticket_id``.
* ``speech``  - ``speak_digits``, ``format_inr``, ``format_date_indian``.

Masking phone numbers for logs lives in ``utils.privacy``.

How a string is read (``normalize_digits`` and everything built on it)
----------------------------------------------------------------------
1. Unicode is folded: NFC, casefold, Latin accents dropped ("chār" -> "char"), Devanagari nukta
   dropped and chandrabindu folded into anusvara ("पाँच" == "पांच", "हज़ार" == "हजार"), zero-width
   joiners removed, every Unicode decimal digit ("४", "৪", full-width "４") turned into ASCII.
   Punctuation becomes a word break, and so does a change of script ("सातeight" = "सात eight");
   commas *between* digits are dropped ("1,00,000").
2. Words are looked up in one lexicon: English, Roman Hindi and Devanagari Hindi numbers 0-99,
   multipliers (sau/hundred, hazaar/thousand, lakh, crore, darjan/dozen), repeaters
   (double/triple/डबल, and "<n> baar <digit>"), fractions (dedh, dhai, aadha, saade, sava, paune).
   Every other word is ignored ("mera", "number", "hai", "plus", "please", "haan", ...).
3. Number words form *runs*: consecutive number words, where only hesitations ("umm", "uh", "ji",
   "and", "aur", "dash", ...) are skipped; any other word ends the run. A run of one number word right
   before a word about digits ("digits", "ank", "number", "अंक") counts them and is dropped: "last four
   digits teen do ek shunya" -> "3210", "aakhri chaar ank ..." -> only the digits that follow.
4. Ambiguous words (the rule):
   * Weak words - Roman "no" (English "no" / Hindi nau = 9), "o"/"oh"/"ओ" (0) and Devanagari "नो" -
     count only when a number word stands on *both* sides of them in the same run, or right after
     "double"/"triple"/"baar". So "no, nine eight ..." and "... four three, no wait" ignore the
     "no", while "aath no saat" and "nine o one" and "double oh seven" read it as a digit. An English
     digit run may also *end* in "oh"s: "one two three oh" -> "1230" (a leading "oh" stays an exclamation).
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

from utils.hinglish.ids import normalize_order_id, normalize_phone, normalize_pincode, normalize_ticket_id
from utils.hinglish.numbers import normalize_digits, parse_quantity
from utils.hinglish.speech import format_date_indian, format_inr, speak_digits

__all__ = [
    "format_date_indian",
    "format_inr",
    "normalize_digits",
    "normalize_order_id",
    "normalize_phone",
    "normalize_pincode",
    "normalize_ticket_id",
    "parse_quantity",
    "speak_digits",
]
