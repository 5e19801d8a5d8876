"""`search_knowledge_base`: the business's own policy and FAQ passages for a caller's question.

The passages come verbatim from the `knowledge` collection (title + body), best first, so the assistant
can answer from them and from nothing else; an empty result says so plainly, and what to do instead.
"""

from __future__ import annotations

from models.tools import SearchKnowledgeBaseArgs
from services.tools.registry import ToolContext, ToolReply, success
from utils.logger import get_logger

log = get_logger(__name__)

MAX_PASSAGES = 3

KNOWLEDGE_TOOL_DESCRIPTION = (
    "Search the company's own policies and FAQs (returns, refunds by payment method incl. COD and UPI, "
    "replacement, cancellation, delivery times and charges, pincodes, warranty, EMI, invoices, damaged "
    "items, account and address changes). Pass the caller's question in their words; Hinglish is fine. "
    "Answer policy questions only from the passages returned; if none are returned, say you do not have "
    "that information."
)

_ANSWER_RULE = (
    "Answer only from these passages, briefly, in the caller's language. If they do not answer the "
    "question, say you do not have that information."
)
_NOTHING_FOUND = (
    "Nothing in our policies matches. Tell the caller you do not have that information; do not guess. "
    "Offer a callback ticket or a human agent."
)


async def search_knowledge_base(args: SearchKnowledgeBaseArgs, ctx: ToolContext) -> ToolReply:
    passages = await ctx.db.knowledge.search(args.query, limit=MAX_PASSAGES)
    log.info("knowledge_searched", call_sid=ctx.call_sid, passages=[p.entry_id for p in passages])
    if not passages:
        return success(found=False, passages=[], next_step=_NOTHING_FOUND)
    return success(
        found=True,
        passages=[{"title": p.title, "text": p.body, "source": p.entry_id} for p in passages],
        next_step=_ANSWER_RULE,
    )
