"""Search of the knowledge base (policies and FAQs): folding of Hinglish, Roman Hindi and Devanagari
questions into search terms, and in-memory ranking. No database here: `services.store.knowledge`
owns the collection and keeps a `KnowledgeIndex` of it."""

from __future__ import annotations

from services.knowledge.folding import fold_words, search_terms
from services.knowledge.ranking import KnowledgeIndex, Passage
from services.knowledge.transliterate import transliterate

__all__ = ["KnowledgeIndex", "Passage", "fold_words", "search_terms", "transliterate"]
