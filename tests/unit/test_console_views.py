"""What the console shows of a record, per role, and the chart geometry (pure functions, no I/O)."""

from __future__ import annotations

from datetime import timedelta

from models.call_record import utc_now
from services.console.charts import HEIGHT, LABEL_SPACE, TOP_SPACE, bar_chart, percentile
from services.console.sessions import SessionCodec
from services.console.views import Viewer, activity, board, call_view, ids_in, transfer_card
from tests.stack import make_settings

STAFF = Viewer(username="ravi", role="staff", csrf_token="t")
ADMIN = Viewer(username="asha", role="admin", csrf_token="t")


def record(**fields: object) -> dict[str, object]:
    return {
        "call_sid": "CA1",
        "status": "in_progress",
        "from_number": "+919876543210",
        "started_at": utc_now() - timedelta(seconds=65),
        "transcript": [{"role": "caller", "text": f"line {i}, mera number 98765 43210 hai"} for i in range(5)],
        "tool_calls": [
            {"name": "lookup_order", "arguments": {"order_id": "ORD-482913"}, "ok": True, "output": {"x": 1}},
            {"name": "create_ticket", "arguments": {}, "ok": True, "output": {"ticket_id": "TKT-123456"}},
        ],
        **fields,
    }


def test_phase_is_shown_when_the_record_has_one_and_status_otherwise() -> None:
    assert activity(record(phase="tool"))[0] == "tool"
    assert activity(record(phase="speaking"))[1].startswith("Speaking")
    assert activity(record())[0] == "in_progress"
    assert activity(record(phase="not-a-phase"))[0] == "in_progress"
    assert activity(record(transfer={"status": "dialing"}))[0] == "transferring"
    assert activity(record(status="completed", phase="speaking"))[0] == "completed"  # an ended call is not speaking


def test_staff_see_numbers_masked_everywhere_and_admins_in_full() -> None:
    staff_view, admin_view = call_view(record(), STAFF), call_view(record(), ADMIN)
    assert staff_view["caller"] == "+91******3210" and admin_view["caller"] == "+919876543210"
    assert "98765 43210" not in staff_view["transcript"][0]["text"]
    assert "98765 43210" in admin_view["transcript"][0]["text"]
    assert call_view(record(from_number=None), STAFF)["caller"] == "unknown"


def test_board_keeps_live_calls_and_open_transfers_with_their_last_lines() -> None:
    calls = [
        record(),
        record(call_sid="CA2", status="transferred", transfer={"status": "dialing", "reason": "angry"}),
        record(call_sid="CA3", status="transferred", transfer={"status": "connected"}),
    ]
    shown = board(calls, STAFF)
    assert [row["call_sid"] for row in shown["calls"]] == ["CA1"]
    assert [card["call_sid"] for card in shown["transfers"]] == ["CA2"]
    assert [line["text"][:6] for line in shown["calls"][0]["last_lines"]] == ["line 2", "line 3", "line 4"]
    assert shown["calls"][0]["duration"].startswith("1:0")


def test_transfer_card_names_orders_tickets_and_who_took_it() -> None:
    document = record(
        tickets=["TKT-000111"],
        transfer={"status": "requested", "reason": "refund", "summary": "s"},
        transfer_taken_by={"username": "ravi", "at": utc_now()},
    )
    assert ids_in(document) == (["ORD-482913"], ["TKT-000111", "TKT-123456"])
    card = transfer_card(document, STAFF)
    assert card is not None and card["open"] and card["taken_by"] == "ravi"
    assert transfer_card(record(), STAFF) is None


def test_bar_chart_scales_to_the_largest_value_inside_the_plot() -> None:
    chart = bar_chart("t", ["a", "b", "c"], [[1, 4, 2], [0, 2, 8]], series_names=("x", "y"))
    assert chart.max_value == 8 and len(chart.bars) == 6
    tallest = max(chart.bars, key=lambda bar: bar.height)
    assert tallest.value == 8 and tallest.y == TOP_SPACE
    assert all(bar.y + bar.height <= HEIGHT - LABEL_SPACE + 0.1 for bar in chart.bars)
    assert bar_chart("t", ["a"], [[0]]).empty


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50 and percentile(values, 0.95) == 95
    assert percentile([], 0.5) == 0 and percentile([7.0], 0.95) == 7


def test_session_cookies_are_signed_and_bound_to_their_purpose() -> None:
    codec = SessionCodec(make_settings())
    session, cookie = codec.new_session("asha", 3)
    assert codec.read_session(cookie) == session
    assert codec.read_session(cookie[:-2] + "xx") is None
    assert codec.read_session("") is None
    token, login_cookie = codec.new_login_token()
    assert codec.login_token_valid(login_cookie, token) and not codec.login_token_valid(login_cookie, token + "x")
    assert codec.read_session(login_cookie) is None  # a login-form cookie is no session
    other = SessionCodec(make_settings(console_secret_key="k" * 32))
    assert other.read_session(cookie) is None
    assert codec.secure and not SessionCodec(make_settings(console_cookie_secure=False)).secure
