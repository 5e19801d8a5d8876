"""OpenAI Realtime usage accounting and cost estimate, from `response.done.response.usage`."""

from __future__ import annotations

from typing import Any

from models.call_record import Usage

# USD per 1M tokens. An estimate for dashboards, not billing: set these from OpenAI's pricing page
# for the configured model.
PRICE_PER_MILLION_USD = {
    "input_text": 0.60,
    "input_audio": 10.00,
    "input_cached": 0.30,
    "output_text": 2.40,
    "output_audio": 20.00,
}
USD_TO_INR = 84.0


def _tokens(details: Any, name: str) -> int:
    return int(getattr(details, name, 0) or 0) if details is not None else 0


def add_usage(total: Usage, usage: Any) -> dict[str, int]:
    """Add one response's usage to the call's total; returns this response's tokens by kind."""
    input_details = getattr(usage, "input_token_details", None)
    output_details = getattr(usage, "output_token_details", None)
    cached = _tokens(input_details, "cached_tokens")
    kinds = {
        "input_text": _tokens(input_details, "text_tokens"),
        "input_audio": _tokens(input_details, "audio_tokens"),
        "input_cached": cached,
        "output_text": _tokens(output_details, "text_tokens"),
        "output_audio": _tokens(output_details, "audio_tokens"),
    }
    total.input_text_tokens += kinds["input_text"]
    total.input_audio_tokens += kinds["input_audio"]
    total.input_cached_tokens += cached
    total.output_text_tokens += kinds["output_text"]
    total.output_audio_tokens += kinds["output_audio"]
    total.total_tokens += int(getattr(usage, "total_tokens", 0) or 0)
    # Cached tokens are billed at the cached rate instead of the full input rate.
    cost = sum(kinds[k] * PRICE_PER_MILLION_USD[k] for k in kinds) / 1_000_000
    cost -= cached * min(PRICE_PER_MILLION_USD["input_audio"], PRICE_PER_MILLION_USD["input_text"]) / 1_000_000
    total.cost_usd = round(total.cost_usd + max(cost, 0.0), 6)
    total.cost_inr = round(total.cost_usd * USD_TO_INR, 4)
    return kinds
