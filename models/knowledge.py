"""Knowledge-base entries: the business's own policies and FAQs, as stored and as the admin API takes them.

An entry is written in English (`body`, read to the model verbatim) and found by Hinglish and Roman-Hindi
questions through its `search_phrases` ("paisa wapas kab milega") and `tags`, besides its title and body.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from models.commerce import CommerceDocument, utc_now

ENTRY_ID = r"^[a-z0-9][a-z0-9-]{1,63}$"
KnowledgeLanguage = Literal["en", "hi", "hinglish"]

Tag = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=40)]
Phrase = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=120)]


class KnowledgeFields(BaseModel):
    """What staff write: every field but the id and the time of the last change."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=3, max_length=120)
    body: str = Field(min_length=10, max_length=2000, description="English text the assistant answers from")
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    language: KnowledgeLanguage = "en"
    search_phrases: list[Phrase] = Field(
        default_factory=list, max_length=40, description="How callers ask for it, e.g. 'COD ka paisa wapas'"
    )


class KnowledgeEntryCreate(KnowledgeFields):
    """POST /knowledge: a new entry with its own id (a slug such as `refund-cod`)."""

    entry_id: str = Field(pattern=ENTRY_ID)


class KnowledgeEntryUpdate(BaseModel):
    """PATCH /knowledge/<id>: only the fields given change."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str | None = Field(default=None, min_length=3, max_length=120)
    body: str | None = Field(default=None, min_length=10, max_length=2000)
    tags: list[Tag] | None = Field(default=None, max_length=20)
    language: KnowledgeLanguage | None = None
    search_phrases: list[Phrase] | None = Field(default=None, max_length=40)


class KnowledgeEntry(CommerceDocument, KnowledgeFields):
    """One document of the `knowledge` collection (`_id` = `entry_id`)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    entry_id: str = Field(pattern=ENTRY_ID)
    updated_at: datetime = Field(default_factory=utc_now)


class KnowledgeList(BaseModel):
    total: int
    entries: list[KnowledgeEntry]
