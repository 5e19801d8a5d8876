"""Prometheus instruments, named once. Every module imports from here; nothing else defines metrics.

Updating a prometheus_client metric is an in-memory increment (no I/O), so it is safe on the audio path.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

_LATENCY_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
_TOOL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)

ACTIVE_CALLS = Gauge("voice_active_calls", "Calls with a live media stream", registry=REGISTRY)
# Set once at start-up: the alert "calls near MAX_CONCURRENT_CALLS" divides by it (deploy/prometheus/alerts.yml).
CALL_CAPACITY = Gauge("voice_call_capacity", "MAX_CONCURRENT_CALLS of this node", registry=REGISTRY)
LOOP_TICK_OVERRUNS = Counter(
    "voice_loop_tick_overruns_total",
    "Event-loop ticks whose work took longer than LOOP_TICK_MS (services/loop_pacer.py): the node is saturated",
    registry=REGISTRY,
)
CALLS_TOTAL = Counter(
    "voice_calls_total", "Calls ended, by outcome and carrier", ["outcome", "carrier"], registry=REGISTRY
)
STREAMS_REJECTED = Counter(
    "voice_streams_rejected_total", "Webhooks or streams refused, by reason", ["reason"], registry=REGISTRY
)
GREETING_LATENCY = Histogram(
    "voice_greeting_latency_seconds",
    "Stream start to first greeting audio sent to Twilio",
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
TURN_LATENCY = Histogram(
    "voice_turn_latency_seconds",
    "End of caller speech to first assistant audio sent to Twilio",
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
BARGE_INS = Counter("voice_barge_ins_total", "Caller interruptions of assistant audio", registry=REGISTRY)
TOOL_DURATION = Histogram(
    "voice_tool_duration_seconds", "Tool call duration", ["tool"], buckets=_TOOL_BUCKETS, registry=REGISTRY
)
TOOL_CALLS = Counter("voice_tool_calls_total", "Tool calls by outcome", ["tool", "outcome"], registry=REGISTRY)
TRANSFERS = Counter("voice_transfers_total", "Human transfers by outcome", ["outcome"], registry=REGISTRY)
REALTIME_ERRORS = Counter(
    "voice_realtime_errors_total", "Error events and failures from OpenAI Realtime", ["code"], registry=REGISTRY
)
TOKENS = Counter("voice_openai_tokens_total", "OpenAI Realtime tokens used", ["kind"], registry=REGISTRY)
COST_USD = Counter("voice_openai_cost_usd_total", "Estimated OpenAI cost in USD", registry=REGISTRY)
REALTIME_SESSIONS_MOVED = Counter(
    "voice_realtime_sessions_moved_total",
    "Calls moved to a new Realtime session: reconnected, reconnect_failed, rotation",
    ["outcome"],
    registry=REGISTRY,
)
REALTIME_RECONNECT_GAP = Histogram(
    "voice_realtime_reconnect_gap_seconds",
    "Socket lost to new session ready (caller audio held meanwhile)",
    buckets=(0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0),
    registry=REGISTRY,
)
DB_ERRORS = Counter("voice_db_errors_total", "Database operation failures", ["operation"], registry=REGISTRY)
DROPPED_MESSAGES = Counter(
    "voice_stream_messages_dropped_total", "Malformed or oversized stream messages", ["reason"], registry=REGISTRY
)
SMS_MESSAGES = Counter(
    "voice_sms_total",
    "SMS to callers by kind (ticket, verification_code) and outcome (sent, failed, number_not_allowed, "
    "daily_cap, quota_unavailable)",
    ["kind", "outcome"],
    registry=REGISTRY,
)
TWILIO_REST_RETRIES = Counter(
    "voice_twilio_rest_retries_total",
    "Twilio REST requests retried (idempotent operations only: redirect, hang_up, fetch_call)",
    ["operation"],
    registry=REGISTRY,
)
TWILIO_REST_REJECTED = Counter(
    "voice_twilio_rest_rejected_total",
    "Twilio REST requests not sent because the circuit breaker was open",
    ["operation"],
    registry=REGISTRY,
)
TWILIO_CIRCUIT_STATE = Gauge(
    "voice_twilio_circuit_state", "Twilio REST circuit breaker: 0 closed, 1 half-open, 2 open", registry=REGISTRY
)
TWILIO_CIRCUIT_CHANGES = Counter(
    "voice_twilio_circuit_changes_total",
    "Twilio REST circuit breaker state changes, by the state entered",
    ["state"],
    registry=REGISTRY,
)
