"""Numbers at a glance, from the database with bounded reads: calls per hour (last 24 h), turn latency
p50/p95, transfers and callback tickets, and cost per day (last 7 days), in the support timezone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from models.call_record import utc_now
from services.console.charts import Chart, bar_chart, percentile
from services.store.database import Database

MAX_CALLS = 5000  # past this many calls in a week the charts show the newest ones (and say so)
MAX_TICKETS = 5000
DAYS = 7
PROJECTION = {"started_at": 1, "transfer.status": 1, "latencies.turns": 1, "usage.cost_inr": 1}


@dataclass(frozen=True)
class Glance:
    charts: list[Chart]
    calls_today: int
    p50_ms: float
    p95_ms: float
    truncated: bool


def _turn_ms(document: dict[str, Any]) -> list[float]:
    turns = (document.get("latencies") or {}).get("turns") or []
    return [
        float(t["speech_end_to_audio_ms"]) for t in turns if isinstance(t.get("speech_end_to_audio_ms"), int | float)
    ]


async def at_a_glance(db: Database, zone_name: str, now: datetime | None = None) -> Glance:
    zone = ZoneInfo(zone_name)
    moment = now or utc_now()
    today = moment.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    week_start = today - timedelta(days=DAYS - 1)
    calls = await db.calls.started_between(
        week_start, moment + timedelta(seconds=1), limit=MAX_CALLS, projection=PROJECTION
    )
    tickets = await db.tickets.created_between(week_start, moment + timedelta(seconds=1), limit=MAX_TICKETS)

    hour_start = moment.astimezone(zone).replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    hours = [hour_start + timedelta(hours=i) for i in range(24)]
    per_hour = [0.0] * 24
    days = [week_start + timedelta(days=i) for i in range(DAYS)]
    day_keys = [day.date() for day in days]
    latency: dict[int, list[float]] = {i: [] for i in range(DAYS)}
    transfers, callbacks, cost = [0.0] * DAYS, [0.0] * DAYS, [0.0] * DAYS
    all_turns: list[float] = []
    for document in calls:
        started = document["started_at"].astimezone(zone)
        slot = int((started - hour_start).total_seconds() // 3600)
        if 0 <= slot < 24:
            per_hour[slot] += 1
        if started.date() not in day_keys:
            continue
        day = day_keys.index(started.date())
        turns = _turn_ms(document)
        latency[day].extend(turns)
        if day == DAYS - 1:
            all_turns.extend(turns)
        if document.get("transfer"):
            transfers[day] += 1
        cost[day] += float((document.get("usage") or {}).get("cost_inr") or 0.0)
    for ticket in tickets:
        created = ticket["created_at"].astimezone(zone).date()
        if ticket.get("category") == "callback" and created in day_keys:
            callbacks[day_keys.index(created)] += 1

    day_labels = [day.strftime("%a %d") for day in days]
    charts = [
        bar_chart(
            "Calls per hour (last 24 h)", [h.strftime("%H") for h in hours], [per_hour], unit="calls", label_every=3
        ),
        bar_chart(
            "Turn latency per day (ms)",
            day_labels,
            [[percentile(latency[i], 0.5) for i in range(DAYS)], [percentile(latency[i], 0.95) for i in range(DAYS)]],
            unit="ms",
            series_names=("p50", "p95"),
        ),
        bar_chart(
            "Transfers and callbacks per day",
            day_labels,
            [transfers, callbacks],
            series_names=("transfers", "callbacks"),
        ),
        bar_chart("Cost per day (₹)", day_labels, [cost], unit="₹"),
    ]
    return Glance(
        charts=charts,
        calls_today=sum(1 for d in calls if d["started_at"].astimezone(zone) >= today),
        p50_ms=percentile(all_turns, 0.5),
        p95_ms=percentile(all_turns, 0.95),
        truncated=len(calls) >= MAX_CALLS,
    )
