"""Folding of Hinglish, Roman-Hindi and Devanagari questions, and ranking over the shipped knowledge base."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.knowledge import KnowledgeEntry
from services.knowledge import KnowledgeIndex, fold_words, search_terms, transliterate
from services.knowledge.folding import STOPWORDS
from services.store.seed import load_knowledge_entries

ENTRIES = load_knowledge_entries()
INDEX = KnowledgeIndex(ENTRIES)
BY_ID = {entry.entry_id: entry for entry in ENTRIES}


def top(question: str, limit: int = 3) -> list[str]:
    return [passage.entry_id for passage in INDEX.search(question, limit)]


# ------------------------------------------------------------------------------------------ folding


@pytest.mark.parametrize(
    ("devanagari", "roman"),
    [
        ("वापस", "vaapas"),
        ("पैसा वापस", "paisaa vaapas"),
        ("बदलना", "badalnaa"),  # the schwa between a vowel-consonant and a consonant-vowel goes
        ("पिनकोड", "pinkod"),
        ("समझना", "samajhnaa"),
        ("क्षमा", "kshamaa"),  # a conjunct is one cluster
        ("कब तक आएगा", "kab tak aaegaa"),
        ("ख़राब", "kharaab"),  # nukta dropped
        ("१२३ रुपये", "123 rupye"),
        ("COD रिफंड", "COD rifand"),  # Latin passes through
    ],
)
def test_transliteration(devanagari: str, roman: str) -> None:
    assert transliterate(devanagari) == roman


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("paisaa waapas", "paisa vapas"),  # vowel length, w/v
        ("पैसा वापस", "paisa wapas"),  # script
        ("REFUNDS", "refund"),  # case, plural
        ("meelega", "milega"),  # ee/i
        ("Rs. 1,499!", "rs 1 499"),  # punctuation
    ],
)
def test_spelling_variants_fold_to_the_same_terms(one: str, other: str) -> None:
    assert fold_words(one) == fold_words(other)


@pytest.mark.parametrize(
    ("question", "meaning"),
    [
        ("paisa wapas chahiye", {"refund"}),
        ("पैसा वापस", {"refund"}),
        ("wapsi kaise hogi", {"return"}),
        ("order kab tak aayega", {"delivery", "time"}),
        ("कब तक आएगा", {"delivery", "time"}),
        ("cash on delivery tha", {"cod"}),
        ("gpay se diya", {"upi"}),
        ("kisht mein", {"emi"}),
        ("saman toota hua hai", {"damag"}),
        ("bill chahiye", {"invoic"}),
    ],
)
def test_hinglish_phrases_add_their_english_terms(question: str, meaning: set[str]) -> None:
    assert meaning <= set(search_terms(question))


def test_fillers_are_not_search_terms() -> None:
    assert search_terms("mujhe kya karna chahiye aap bataiye") == []


# ------------------------------------------------------------------------------------------ ranking


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("COD order ka refund kab tak aayega?", "refund-cod"),
        ("cash on delivery ka paisa wapas kaise milega", "refund-cod"),
        ("कैश ऑन डिलीवरी रिफंड", "refund-cod"),
        ("UPI se pay kiya tha refund kab aayega", "refund-upi"),
        ("paisa wapas kab milega", "refund-timeline"),
        ("पैसा वापस कब मिलेगा", "refund-timeline"),
        ("mera order kab tak aayega", "delivery-time"),
        ("delivery charges kitne hain", "delivery-charges"),
        ("toota hua saman aaya", "damaged-item"),
        ("galat item aa gaya", "wrong-item"),
        ("mere pincode pe delivery hoti hai kya", "pincode-serviceable"),
        ("EMI pe le sakte hain", "emi-options"),
        ("GST bill kaise milega", "invoice-download"),
        ("delivery address change karna hai", "address-change-order"),
        ("mobile number badalna hai", "account-phone-change"),
        ("warranty claim kaise kare", "warranty-claim"),
        ("order cancel karna hai", "cancel-before-ship"),
        ("replacment chahiye", "replacement-policy"),  # misspelt
        ("return policy kya hai", "return-policy"),
    ],
)
def test_questions_find_their_policy_first(question: str, expected: str) -> None:
    assert top(question)[0] == expected


def test_passages_are_verbatim_with_titles() -> None:
    for passage in INDEX.search("COD refund"):
        entry = BY_ID[passage.entry_id]
        assert (passage.title, passage.body) == (entry.title, entry.body)


def test_unrelated_questions_find_nothing() -> None:
    assert INDEX.search("cricket score batao") == []
    assert INDEX.search("mujhe kya karna chahiye") == []  # fillers only
    assert KnowledgeIndex([]).search("refund") == []


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda entry: entry.entry_id)
def test_every_entry_is_found_by_its_first_search_phrase(entry: KnowledgeEntry) -> None:
    assert entry.entry_id in top(entry.search_phrases[0])


def test_the_seed_covers_what_a_support_line_needs() -> None:
    assert len(ENTRIES) >= 40
    tags = {tag for entry in ENTRIES for tag in entry.tags}
    wanted = {"returns", "refunds", "cod", "upi", "replacement", "cancellation", "delivery", "charges"}
    assert wanted | {"pincode", "warranty", "emi", "invoice", "damaged", "account", "address"} <= tags
    assert all(entry.language == "en" and entry.search_phrases for entry in ENTRIES)


def test_search_stays_fast_on_hundreds_of_entries() -> None:
    """Not a timing assert on the machine: a budget large enough to fail only on a per-entry scan blow-up."""
    entries = [entry.model_copy(update={"entry_id": f"{entry.entry_id}-{n}"}) for n in range(10) for entry in ENTRIES]
    index = KnowledgeIndex(entries)
    assert len(index) >= 500
    started = time.perf_counter()
    for _ in range(20):
        index.search("COD order ka refund kab tak aayega?")
    assert (time.perf_counter() - started) / 20 < 0.05


# ------------------------------------------------------------------------------------------ properties

_WORDS = st.sampled_from(
    ["refund", "cod", "paisa", "wapas", "kab", "tak", "aayega", "delivery", "charges", "पैसा", "वापस", "emi", "xyz"]
)
_QUESTIONS = st.lists(_WORDS, min_size=0, max_size=8).map(" ".join) | st.text(max_size=60)


@settings(max_examples=200, deadline=None)
@given(_QUESTIONS, st.integers(min_value=1, max_value=5))
def test_search_is_bounded_ordered_and_verbatim(question: str, limit: int) -> None:
    passages = INDEX.search(question, limit)
    assert len(passages) <= limit
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
    assert len({p.entry_id for p in passages}) == len(passages)
    for passage in passages:
        assert passage.body == BY_ID[passage.entry_id].body


@settings(max_examples=100, deadline=None)
@given(st.lists(_WORDS, min_size=1, max_size=6).map(" ".join), st.sampled_from(sorted(STOPWORDS)))
def test_a_filler_word_at_the_end_changes_nothing(question: str, filler: str) -> None:
    # Not every stop word is harmless inside a phrase ("kab" in "kab tak aayega"), but trailing ones are.
    if search_terms(question + " " + filler) == search_terms(question):
        assert top(question + " " + filler) == top(question)


@settings(max_examples=100, deadline=None)
@given(st.lists(_WORDS, min_size=1, max_size=6).map(" ".join))
def test_case_and_doubled_vowels_do_not_matter(question: str) -> None:
    stretched = question.upper().replace("A", "AA")
    assert top(stretched) == top(question)
