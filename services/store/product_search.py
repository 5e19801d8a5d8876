"""Fuzzy matching of spoken product names (English, Hinglish, Devanagari), apart from any database.

`ProductRepository.search` (in `services.store.products`) loads a `_SearchIndex` of every product's
folded names and aliases and scores the caller's words against it with `match_score`.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from services.store.client import Document


def fold_for_search(text: str) -> str:
    """Lower-case, drop punctuation, keep Devanagari vowel signs (rapidfuzz's default processor
    splits "कुकर" into "क कर" because matras are not alphanumeric)."""
    text = unicodedata.normalize("NFC", text).casefold()
    text = text.replace("\u093c", "").replace("\u0901", "\u0902")  # nukta; chandrabindu → anusvara
    kept = [ch if unicodedata.category(ch)[0] in "LMN" else " " for ch in text]
    return " ".join("".join(kept).split())


# Words callers wrap around a product name ("mujhe ek pressure cooker chahiye, stock mein hai?").
_FILLER_WORDS = frozenset(
    "mujhe mereko humko hume chahiye chahie chaiye kya hai hain ka ki ke ko me mein mai main ek do "
    "available stock price kitne kitna ka wala wali wale please i want need a an the is it in for of "
    "मुझे चाहिए क्या है हैं का की के को में एक उपलब्ध स्टॉक वाला वाली".split()
)


def strip_fillers(text: str) -> str:
    words = [word for word in fold_for_search(text).split() if word not in _FILLER_WORDS]
    return " ".join(words)


def match_score(query: str, name: str) -> float:
    """0-100: how well a folded query names a product (one folded name or alias).

    Two views, the better one counts: word sets (an alias inside the query, "atta 10 kilo" ⊃ "atta",
    scores 100) and each query word against its closest name word, which forgives spelling
    ("presure cookar") without letting "tel" match inside "intel" as a substring search would.
    """
    query_words, name_words = query.split(), name.split()
    if not query_words or not name_words:
        return 0.0
    per_word = sum(max(_word_similarity(word, other) for other in name_words) for word in query_words)
    return max(fuzz.token_set_ratio(query, name), per_word / len(query_words))


def _word_similarity(word: str, other: str) -> float:
    # Fuzzy matching words of three letters or fewer mostly finds noise ("bat" ~ "boat").
    if len(word) <= 3 or len(other) <= 3:
        return 100.0 if word == other else 0.0
    return fuzz.ratio(word, other)


@dataclass(frozen=True)
class ProductMatch:
    sku: str
    name: str
    score: float


@dataclass
class _SearchIndex:
    """Folded names and aliases of every product, and the products of each subcategory."""

    names: list[str] = field(default_factory=list)
    owners: list[tuple[str, str]] = field(default_factory=list)  # (sku, display name) per entry of `names`
    by_subcategory: dict[str, list[str]] = field(default_factory=dict)

    def add(self, document: Document) -> None:
        sku, name = document["_id"], document["name"]
        for text in [name, *document.get("hinglish_aliases", []), *document.get("hindi_aliases", [])]:
            self.names.append(fold_for_search(text))
            self.owners.append((sku, name))
        self.by_subcategory.setdefault(document.get("subcategory", ""), []).append(sku)

    def best_matches(self, wanted: str, *, min_score: float, limit: int) -> list[ProductMatch]:
        """Best matches of a folded query first, at most one per product, only those scoring
        `min_score` or more."""
        best: dict[str, tuple[float, float, str]] = {}
        for text, (sku, name) in zip(self.names, self.owners, strict=True):
            score = match_score(wanted, text)
            if score < min_score:
                continue
            ranked = (score, fuzz.ratio(wanted, text), name)  # ties: the closer whole name wins
            if sku not in best or ranked > best[sku]:
                best[sku] = ranked
        ordered = sorted(best.items(), key=lambda item: (-item[1][0], -item[1][1], item[0]))
        return [ProductMatch(sku=sku, name=name, score=score) for sku, (score, _, name) in ordered[:limit]]
