"""Admin API for the knowledge base (bearer ADMIN_API_TOKEN): list, read, add, edit, delete, try a search.

Bodies are validated by `models.knowledge` (unknown fields, empty titles, oversized bodies: 422).
A change is searchable by the next question on this node at once, on other nodes within
`KnowledgeRepository.refresh_s`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from pydantic import BaseModel
from pymongo.errors import PyMongoError

from api.deps import ServicesDep, require_admin
from models.knowledge import ENTRY_ID, KnowledgeEntry, KnowledgeEntryCreate, KnowledgeEntryUpdate, KnowledgeList
from services.store.knowledge import KnowledgeEntryExists
from utils.logger import get_logger

log = get_logger(__name__)
router = APIRouter(
    prefix="/knowledge",
    tags=["knowledge"],
    dependencies=[Depends(require_admin)],
    responses={
        401: {"description": "Missing or invalid admin token"},
        503: {"description": "Database unavailable"},
    },
)

EntryId = Annotated[str, Path(pattern=ENTRY_ID, description="The entry's slug, e.g. refund-cod")]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No entry with this id"}}


class SearchHit(BaseModel):
    entry_id: str
    title: str
    body: str
    score: float


class SearchResult(BaseModel):
    query: str
    hits: list[SearchHit]


def _unavailable(action: str, error: PyMongoError) -> HTTPException:
    log.error("knowledge_admin_failed", action=action, error=type(error).__name__)
    return HTTPException(status_code=503, detail="Database unavailable")


@router.get("", response_model=KnowledgeList)
async def list_entries(services: ServicesDep) -> KnowledgeList:
    try:
        entries = await services.db.knowledge.list_all()
    except PyMongoError as error:
        raise _unavailable("list", error) from None
    return KnowledgeList(total=len(entries), entries=entries)


@router.get("/search", response_model=SearchResult)
async def search_entries(
    services: ServicesDep,
    q: Annotated[str, Query(min_length=2, max_length=300)],
    limit: Annotated[int, Query(ge=1, le=10)] = 3,
) -> SearchResult:
    """What `search_knowledge_base` would return for a question (to tune titles and search phrases)."""
    try:
        passages = await services.db.knowledge.search(q, limit=limit)
    except PyMongoError as error:
        raise _unavailable("search", error) from None
    hits = [SearchHit(entry_id=p.entry_id, title=p.title, body=p.body, score=p.score) for p in passages]
    return SearchResult(query=q, hits=hits)


@router.get("/{entry_id}", response_model=KnowledgeEntry, responses=_NOT_FOUND)
async def get_entry(entry_id: EntryId, services: ServicesDep) -> KnowledgeEntry:
    try:
        entry = await services.db.knowledge.get(entry_id)
    except PyMongoError as error:
        raise _unavailable("get", error) from None
    if entry is None:
        raise HTTPException(status_code=404, detail="Knowledge entry not found")
    return entry


@router.post("", status_code=201, response_model=KnowledgeEntry, responses={409: {"description": "The id is taken"}})
async def add_entry(body: KnowledgeEntryCreate, services: ServicesDep) -> KnowledgeEntry:
    try:
        entry = await services.db.knowledge.create(body)
    except KnowledgeEntryExists:
        raise HTTPException(status_code=409, detail=f"Knowledge entry {body.entry_id!r} already exists") from None
    except PyMongoError as error:
        raise _unavailable("add", error) from None
    log.info("knowledge_entry_added", entry_id=entry.entry_id)
    return entry


@router.patch("/{entry_id}", response_model=KnowledgeEntry, responses=_NOT_FOUND)
async def edit_entry(entry_id: EntryId, body: KnowledgeEntryUpdate, services: ServicesDep) -> KnowledgeEntry:
    if not body.model_dump(exclude_unset=True, exclude_none=True):
        raise HTTPException(status_code=422, detail="Nothing to change: give at least one field")
    try:
        entry = await services.db.knowledge.update(entry_id, body)
    except PyMongoError as error:
        raise _unavailable("edit", error) from None
    if entry is None:
        raise HTTPException(status_code=404, detail="Knowledge entry not found")
    log.info("knowledge_entry_edited", entry_id=entry_id)
    return entry


@router.delete("/{entry_id}", status_code=204, responses=_NOT_FOUND)
async def delete_entry(entry_id: EntryId, services: ServicesDep) -> Response:
    try:
        deleted = await services.db.knowledge.delete(entry_id)
    except PyMongoError as error:
        raise _unavailable("delete", error) from None
    if not deleted:
        raise HTTPException(status_code=404, detail="Knowledge entry not found")
    log.info("knowledge_entry_deleted", entry_id=entry_id)
    return Response(status_code=204)
