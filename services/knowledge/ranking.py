"""Ranking knowledge entries for a question, in memory: BM25 over folded terms, field-weighted, with
fuzzy spelling repair and a bonus for a close search phrase.

Built once from the whole (small) collection and queried without the database: a question costs
well under a millisecond for hundreds of entries. `KnowledgeRepository` rebuilds it when entries change.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from models.knowledge import KnowledgeEntry
from services.knowledge.folding import content_words, search_terms

# How much a term counts by where it appears: callers' own phrasings and the title say most.
TITLE_WEIGHT, PHRASE_WEIGHT, TAG_WEIGHT, BODY_WEIGHT = 3.0, 2.5, 2.0, 1.0
_K1, _B = 1.2, 0.5
# A query word missing from every entry may be a misspelling ("refnd", "replacment") of one that is not.
_MIN_FUZZY_LEN, _FUZZY_CUTOFF = 4, 82.0
_PHRASE_BONUS, _PHRASE_CUTOFF = 2.0, 70.0
MIN_SCORE = 2.0  # below this the best entry shares no meaningful term with the question
RELATIVE_CUTOFF = 0.35  # passages after the first must score at least this share of the best


@dataclass(frozen=True)
class Passage:
    entry_id: str
    title: str
    body: str
    score: float


@dataclass(frozen=True)
class _Doc:
    entry: KnowledgeEntry
    length: float
    phrases: tuple[str, ...]  # folded search phrases and title, for the fuzzy phrase bonus


class KnowledgeIndex:
    """An inverted index of folded terms: term -> {entry index: weighted term frequency}."""

    def __init__(self, entries: Iterable[KnowledgeEntry]) -> None:
        self._docs: list[_Doc] = []
        self._postings: dict[str, dict[int, float]] = defaultdict(dict)
        for entry in entries:
            self._add(entry)
        self._average_length = sum(doc.length for doc in self._docs) / len(self._docs) if self._docs else 1.0
        count = len(self._docs)
        self._idf = {term: math.log(1 + (count - len(p) + 0.5) / (len(p) + 0.5)) for term, p in self._postings.items()}
        self._vocabulary = [term for term in self._postings if len(term) >= _MIN_FUZZY_LEN]
        # BM25 per posting, precomputed: a question then only adds numbers up.
        self._impact = {
            term: {index: idf * self._saturate(frequency, self._docs[index].length) for index, frequency in p.items()}
            for term, p in self._postings.items()
            for idf in (self._idf[term],)
        }
        self._repairs: dict[str, tuple[str, float] | None] = {}

    def __len__(self) -> int:
        return len(self._docs)

    def _saturate(self, frequency: float, length: float) -> float:
        norm = _K1 * (1 - _B + _B * length / self._average_length)
        return frequency * (_K1 + 1) / (frequency + norm)

    def _add(self, entry: KnowledgeEntry) -> None:
        weighted: dict[str, float] = defaultdict(float)
        fields = [
            (TITLE_WEIGHT, [entry.title]),
            (PHRASE_WEIGHT, entry.search_phrases),
            (TAG_WEIGHT, entry.tags),
            (BODY_WEIGHT, [entry.body]),
        ]
        for weight, texts in fields:
            for text in texts:
                for term in search_terms(text):
                    weighted[term] += weight
        index = len(self._docs)
        for term, frequency in weighted.items():
            self._postings[term][index] = frequency
        phrases = tuple(content_words(text) for text in [entry.title, *entry.search_phrases])
        self._docs.append(_Doc(entry, float(sum(weighted.values())), phrases))

    def _repair(self, term: str) -> tuple[str, float] | None:
        """The indexed term closest in spelling, with its similarity 0-1; cached per index."""
        if term in self._repairs:
            return self._repairs[term]
        found = None
        if len(term) >= _MIN_FUZZY_LEN and self._vocabulary:
            match = process.extractOne(term, self._vocabulary, scorer=fuzz.ratio, score_cutoff=_FUZZY_CUTOFF)
            if match is not None:
                found = (match[0], match[1] / 100)
        if len(self._repairs) < 10_000:
            self._repairs[term] = found
        return found

    def search(self, question: str, limit: int = 3) -> list[Passage]:
        """The best entries for `question`, best first; empty when nothing matches well enough."""
        weights: dict[str, float] = {}
        for term in search_terms(question):
            if term in self._postings:
                weights[term] = 1.0
                continue
            repaired = self._repair(term)
            if repaired is not None:
                weights[repaired[0]] = max(weights.get(repaired[0], 0.0), repaired[1])
        scores: dict[int, float] = defaultdict(float)
        for term, query_weight in weights.items():
            for index, impact in self._impact[term].items():
                scores[index] += query_weight * impact
        if not scores:
            return []
        folded_question = content_words(question)
        # Only the leaders get the phrase bonus (it only adds), so the final order is among them.
        leaders = heapq.nlargest(limit * 3, scores, key=scores.__getitem__)
        for index in leaders:
            closest = max(fuzz.token_set_ratio(folded_question, phrase) for phrase in self._docs[index].phrases)
            if closest >= _PHRASE_CUTOFF:
                scores[index] += _PHRASE_BONUS * (closest - _PHRASE_CUTOFF) / (100 - _PHRASE_CUTOFF)
        ranked = sorted(
            ((index, scores[index]) for index in leaders),
            key=lambda item: (-item[1], self._docs[item[0]].entry.entry_id),
        )
        best = ranked[0][1]
        if best < MIN_SCORE:
            return []
        passages = []
        for index, score in ranked[:limit]:
            if score < best * RELATIVE_CUTOFF:
                break
            entry = self._docs[index].entry
            passages.append(Passage(entry.entry_id, entry.title, entry.body, round(score, 3)))
        return passages
