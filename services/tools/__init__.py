"""The assistant's tools: one registry (schemas + dispatch) and the seven tools behind it.

Tool outputs are read aloud, so they are short, in Indian formats (₹1,23,456, "5 March 2026"), and never
carry another customer's data: an order's status is shown to the phone it belongs to (or after its
delivery pincode), its tracking, amounts, payment and refund only after a one-time code texted to the
number on file (`services.tools.verification`).
"""

from __future__ import annotations

from models.tools import (
    CheckProductAvailabilityArgs,
    CreateTicketArgs,
    EndCallArgs,
    LookupOrderArgs,
    SearchKnowledgeBaseArgs,
    SendVerificationCodeArgs,
    TransferToHumanArgs,
)
from services.tools.handoff import end_call, support_hours_text, transfer_to_human, within_support_hours
from services.tools.knowledge import KNOWLEDGE_TOOL_DESCRIPTION, search_knowledge_base
from services.tools.orders import lookup_order, order_view
from services.tools.products import check_product_availability
from services.tools.registry import (
    ToolContext,
    ToolRegistry,
    ToolReply,
    ToolResult,
    compact_schema,
    failure,
    json_safe,
    success,
)
from services.tools.tickets import create_ticket
from services.tools.verification import send_verification_code

__all__ = [
    "ToolContext",
    "ToolRegistry",
    "ToolReply",
    "ToolResult",
    "build_tool_registry",
    "check_product_availability",
    "compact_schema",
    "create_ticket",
    "end_call",
    "failure",
    "json_safe",
    "lookup_order",
    "order_view",
    "search_knowledge_base",
    "send_verification_code",
    "success",
    "support_hours_text",
    "transfer_to_human",
    "within_support_hours",
]


# ------------------------------------------------------------------------------------------ registry


def build_tool_registry() -> ToolRegistry:
    registry = ToolRegistry()
    registry.register(
        "lookup_order",
        "Get an order's status, items and delivery date, or the caller's recent orders when no order number "
        "is given. Pass the order number exactly as the caller said it (spoken digits in Hindi or English are "
        "fine). If the result asks for verification, ask for the delivery pincode and call again with "
        "`verification`. Tracking, amounts, payment and refunds come only with `verification_code`.",
        LookupOrderArgs,
        lookup_order,
    )
    registry.register(
        "send_verification_code",
        "Text a six-digit one-time code to the mobile number registered on an order, so the caller can prove "
        "it is theirs: needed for tracking, amount, payment and refund details, and for a cancellation.",
        SendVerificationCodeArgs,
        send_verification_code,
    )
    registry.register(
        "check_product_availability",
        "Check if a product is in stock, its price and delivery date for a pincode; suggests alternatives "
        "when it is not available. Product names may be in English, Hinglish or Hindi; pincode and quantity "
        "as the caller said them.",
        CheckProductAvailabilityArgs,
        check_product_availability,
    )
    registry.register(
        "search_knowledge_base", KNOWLEDGE_TOOL_DESCRIPTION, SearchKnowledgeBaseArgs, search_knowledge_base
    )
    registry.register(
        "create_ticket",
        "Create a support ticket (complaint, refund, return, call-back request) and get its ticket number to "
        "read out. Order number and phone number may be passed as the caller said them.",
        CreateTicketArgs,
        create_ticket,
    )
    registry.register(
        "transfer_to_human",
        "Request a transfer to a human support agent. Say the returned message first; the call is moved after "
        "it plays. If it says transfer is unavailable, offer a callback ticket instead.",
        TransferToHumanArgs,
        transfer_to_human,
    )
    registry.register(
        "end_call",
        "End the call after the caller says goodbye or the issue is resolved. Say goodbye first; the call "
        "hangs up after the goodbye plays.",
        EndCallArgs,
        end_call,
    )
    return registry
