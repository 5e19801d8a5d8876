"""The staff console over HTTP on the live app: every route refused without a session, CSRF on every form,
login cookies, lockout, roles and masking, transfers taken, notes stored, history, tickets, numbers."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
import pytest

from api.console import CONSOLE_ROUTERS
from models.call_record import utc_now
from services.console.sessions import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from tests.console_client import (
    ADMIN,
    STAFF,
    ConsoleClient,
    cookie_value,
    create_users,
    csrf_in,
    live_record,
    login_attempt,
    set_cookie_header,
)
from tests.stack import DEMO_CALLER, LiveStack, live_stack

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SID = "CA" + "c" * 32
TRANSFER_SID = "CA" + "d" * 32
MASKED = "+91******3210"


@pytest.fixture
async def stack(mongo_uri: str, database_name: str):
    async with live_stack(mongo_uri, database_name, console_login_max_failures=3) as running:
        await create_users(running)
        yield running


@pytest.fixture
async def client(stack: LiveStack):
    async with httpx.AsyncClient(base_url=stack.app_url, timeout=10) as http:
        yield http


def console_routes() -> list[tuple[str, str]]:
    routes = []
    for router in CONSOLE_ROUTERS:
        for route in router.routes:
            path = "/console" + getattr(route, "path", "")
            if path == "/console/login":
                continue
            path = path.replace("{call_sid}", SID).replace("{ticket_id}", "TKT-000111")
            methods = getattr(route, "methods", None) or ()
            routes.extend((method, path) for method in sorted(methods) if method != "HEAD")
    return routes


async def test_every_console_route_is_refused_without_a_session(stack: LiveStack, client: httpx.AsyncClient) -> None:
    await stack.services.db.calls.save(live_record(SID))
    routes = console_routes()
    assert len(routes) >= 12  # pages, streams and forms; a new route is covered without editing this list
    for method, path in routes:
        response = await client.request(
            method, path, data={"text": "x", "status": "open"} if method == "POST" else None
        )
        if method == "GET" and not path.endswith("/stream"):
            assert response.status_code == 303, (method, path)
            assert response.headers["location"].startswith("/console/login?next=/console"), path
        else:
            assert response.status_code == 401, (method, path, response.status_code)
    # A forged cookie is no session either.
    forged = await client.get("/console", headers={"Cookie": f"{SESSION_COOKIE}=eyJ1IjoiYXNoYSJ9.forged.sig"})
    assert forged.status_code == 303
    record = await stack.services.db.calls.get(SID)
    assert record is not None and "staff_notes" not in record and "transfer_taken_by" not in record


async def test_state_changing_forms_without_the_csrf_token_are_refused(
    stack: LiveStack, client: httpx.AsyncClient
) -> None:
    await stack.services.db.calls.save(live_record(TRANSFER_SID, transfer=True))
    ticket = await stack.services.db.tickets.create(category="callback", description="Call back please")
    staff = await ConsoleClient.login(client, *STAFF)
    forms = [
        (f"/console/calls/{TRANSFER_SID}/notes", {"text": "priority account"}),
        (f"/console/calls/{TRANSFER_SID}/take", {}),
        (f"/console/tickets/{ticket.ticket_id}/status", {"status": "resolved"}),
        (f"/console/tickets/{ticket.ticket_id}/notes", {"text": "called back"}),
        ("/console/logout", {}),
    ]
    for path, data in forms:
        for csrf in (None, "", "wrong-token"):
            response = await staff.post(path, data, csrf=csrf)
            assert response.status_code == 403, (path, csrf)
    record = await stack.services.db.calls.get(TRANSFER_SID)
    assert record is not None and "staff_notes" not in record and "transfer_taken_by" not in record
    stored = await stack.services.db.tickets.collection.find_one({"_id": ticket.ticket_id})
    assert stored["status"] == "open" and "notes" not in stored
    # Another session's token does not pass either.
    admin = await ConsoleClient.login(client, *ADMIN)
    assert (await staff.post(f"/console/calls/{TRANSFER_SID}/notes", {"text": "x"}, csrf=admin.csrf)).status_code == 403
    # The login form has its own token: a post without it (or without its cookie) is refused.
    refused = await client.post("/console/login", data={"username": ADMIN[0], "password": ADMIN[1]})
    assert refused.status_code == 403 and set_cookie_header(refused, SESSION_COOKIE) is None
    page = await client.get("/console/login")
    no_cookie = await client.post(
        "/console/login", data={"username": ADMIN[0], "password": ADMIN[1], "csrf_token": csrf_in(page.text)}
    )
    assert no_cookie.status_code == 403 and set_cookie_header(no_cookie, SESSION_COOKIE) is None


async def test_login_sets_a_hardened_cookie_and_logout_ends_the_page_flow(client: httpx.AsyncClient) -> None:
    response = await login_attempt(client, *ADMIN)
    assert response.status_code == 303 and response.headers["location"] == "/console"
    header = set_cookie_header(response, SESSION_COOKIE)
    assert header is not None
    flags = {part.strip().lower() for part in header.split(";")[1:]}
    assert {"httponly", "secure", "samesite=lax", "path=/console"} <= flags
    assert ADMIN[1] not in header
    admin = await ConsoleClient.login(client, *ADMIN)
    out = await admin.post("/console/logout", {})
    assert out.status_code == 303 and out.headers["location"] == "/console/login"
    cleared = set_cookie_header(out, SESSION_COOKIE)
    assert cleared is not None and 'console_session=""' in cleared
    # The old cookie is void even if someone kept a copy: logout ends the user's sessions everywhere.
    assert (await admin.get("/console")).status_code == 303
    assert (await admin.get("/console/live/stream")).status_code == 401
    assert (await ConsoleClient.login(client, *ADMIN)).csrf != admin.csrf  # a new login works, with a new token


async def test_a_password_reset_voids_existing_sessions(stack: LiveStack, client: httpx.AsyncClient) -> None:
    staff = await ConsoleClient.login(client, *STAFF)
    assert (await staff.get("/console")).status_code == 200
    await stack.services.console.accounts.create_user(STAFF[0], "staff", "a-new-password-1")
    assert (await staff.get("/console")).status_code == 303


async def test_wrong_passwords_lock_the_account_with_a_clear_message(
    stack: LiveStack, client: httpx.AsyncClient
) -> None:
    for _ in range(2):
        wrong = await login_attempt(client, STAFF[0], "not-the-password")
        assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text
    third = await login_attempt(client, STAFF[0], "not-the-password")
    assert third.status_code == 429 and "locked" in third.text
    # Locked: even the right password is refused, and no session is issued.
    right = await login_attempt(client, *STAFF)
    assert right.status_code == 429 and "Too many failed logins" in right.text
    assert set_cookie_header(right, SESSION_COOKIE) is None
    # Other users are not affected; the lock lives in the database (any node sees it).
    assert (await login_attempt(client, *ADMIN)).status_code == 303
    user = await stack.services.db.console_users.get(STAFF[0])
    assert user is not None and user.is_locked(utc_now())
    # Unknown users get the same answer as wrong passwords, and nothing is stored for them.
    unknown = await login_attempt(client, "nobody", "whatever-password")
    assert unknown.status_code == 401 and await stack.services.db.console_users.get("nobody") is None


async def test_staff_see_masked_numbers_and_no_admin_pages(stack: LiveStack, client: httpx.AsyncClient) -> None:
    await stack.services.db.calls.save(live_record(SID))
    staff = await ConsoleClient.login(client, *STAFF)
    admin = await ConsoleClient.login(client, *ADMIN)
    staff_page = await staff.get(f"/console/live/{SID}")
    assert staff_page.status_code == 200 and MASKED in staff_page.text and DEMO_CALLER not in staff_page.text
    admin_page = await admin.get(f"/console/live/{SID}")
    assert admin_page.status_code == 200 and DEMO_CALLER in admin_page.text
    for path in ("/console/calls", f"/console/calls/{SID}", "/console/stats"):
        assert (await staff.get(path)).status_code == 403, path
        assert (await admin.get(path)).status_code == 200, path
    assert 'href="/console/calls"' not in staff_page.text and 'href="/console/stats"' not in staff_page.text
    assert (await staff.get("/console/live/CA" + "0" * 32)).status_code == 404


async def read_event(response: httpx.Response, event: str) -> str:
    name, data = None, []
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif line == "" and name == event:
            return "\n".join(data)
        elif line == "":
            name, data = None, []
    raise AssertionError("stream ended")


async def test_board_stream_shows_live_calls_and_transfer_cards_per_role(
    stack: LiveStack, client: httpx.AsyncClient
) -> None:
    await stack.services.db.calls.save(live_record(SID))
    await stack.services.db.calls.save(live_record(TRANSFER_SID, transfer=True))
    staff = await ConsoleClient.login(client, *STAFF)
    async with client.stream("GET", "/console/live/stream", headers=staff._headers()) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        board = await asyncio.wait_for(read_event(response, "board"), timeout=10)
    assert f'data-call-sid="{SID}"' in board and MASKED in board and DEMO_CALLER not in board
    assert f'id="transfer-{TRANSFER_SID}"' in board
    for fact in ("Caller wants to complain about a delayed order", "ORD-482913", "TKT-000111", "kal tak pahunch"):
        assert fact in board
    assert "Greeting" in board  # a new call's record says what it is doing: `phase`
    await stack.services.db.calls.patch(SID, {"phase": "tool"})
    async with client.stream("GET", "/console/live/stream", headers=staff._headers()) as response:
        deadline = asyncio.get_running_loop().time() + 10
        while "Running a tool" not in (board := await asyncio.wait_for(read_event(response, "board"), timeout=10)):
            assert asyncio.get_running_loop().time() < deadline


async def test_taking_a_transfer_records_who_took_it_once(stack: LiveStack, client: httpx.AsyncClient) -> None:
    await stack.services.db.calls.save(live_record(TRANSFER_SID, transfer=True))
    await stack.services.db.calls.save(live_record(SID))
    staff = await ConsoleClient.login(client, *STAFF)
    admin = await ConsoleClient.login(client, *ADMIN)
    taken = await staff.post(f"/console/calls/{TRANSFER_SID}/take", {})
    assert taken.status_code == 303
    record = await stack.services.db.calls.get(TRANSFER_SID)
    assert record is not None and record["transfer_taken_by"]["username"] == STAFF[0]
    again = await admin.post(f"/console/calls/{TRANSFER_SID}/take", {})
    assert again.status_code == 409 and STAFF[0] in again.text
    assert (await staff.post(f"/console/calls/{SID}/take", {})).status_code == 409  # no transfer to take
    page = await admin.get(f"/console/live/{TRANSFER_SID}")
    assert f"Taken by <b>{STAFF[0]}</b>" in page.text


async def test_a_note_is_stored_in_the_call_record_with_its_author(stack: LiveStack, client: httpx.AsyncClient) -> None:
    await stack.services.db.calls.save(live_record(SID))
    staff = await ConsoleClient.login(client, *STAFF)
    response = await staff.post(f"/console/calls/{SID}/notes", {"text": "  customer is a priority account  "})
    assert response.status_code == 303 and response.headers["location"] == f"/console/live/{SID}"
    record = await stack.services.db.calls.get(SID)
    assert record is not None
    (note,) = record["staff_notes"]
    assert note["text"] == "customer is a priority account" and note["author"] == STAFF[0]
    assert abs((utc_now() - note["at"]).total_seconds()) < 60
    # The session's own whole-record writes leave the console's field alone.
    await stack.services.db.calls.save(live_record(SID))
    record = await stack.services.db.calls.get(SID)
    assert record is not None and len(record["staff_notes"]) == 1
    assert (await staff.post(f"/console/calls/{SID}/notes", {"text": "   "})).status_code == 422
    assert (await staff.post(f"/console/calls/{SID}/notes", {"text": "x" * 1001})).status_code == 422
    assert (await staff.post("/console/calls/CA" + "0" * 32 + "/notes", {"text": "hi"})).status_code == 404


async def test_history_filters_detail_tickets_and_numbers(stack: LiveStack, client: httpx.AsyncClient) -> None:
    db = stack.services.db
    done = live_record(SID, caller="+919812345678")
    done.status, done.ended_at, done.duration_s = "completed", utc_now(), 80.0
    done.usage.cost_inr = 4.5
    await db.calls.save(done)
    await db.calls.save(live_record(TRANSFER_SID, transfer=True))
    ticket = await db.tickets.create(category="callback", description="Call back about ORD-482913", phone=DEMO_CALLER)
    admin = await ConsoleClient.login(client, *ADMIN)

    by_number = await admin.get("/console/calls", params={"number": "98123 45678"})
    assert by_number.status_code == 200 and SID in by_number.text and TRANSFER_SID not in by_number.text
    transferred = await admin.get("/console/calls", params={"transferred": "yes"})
    assert TRANSFER_SID in transferred.text and f'data-call-sid="{SID}"' not in transferred.text
    completed = await admin.get("/console/calls", params={"status": "completed"})
    assert SID in completed.text and TRANSFER_SID not in completed.text
    assert (await admin.get("/console/calls", params={"number": "hello"})).status_code == 422
    assert (await admin.get("/console/calls", params={"status": "nonsense"})).status_code == 422
    today = utc_now().date()
    backwards = {"date_from": str(today), "date_to": str(today - timedelta(days=1))}
    assert (await admin.get("/console/calls", params=backwards)).status_code == 422

    detail = await admin.get(f"/console/calls/{TRANSFER_SID}")
    for fact in ("lookup_order", "order_id=ORD-482913", "status=shipped", "Order ORD-482913 is late", "Transcript"):
        assert fact in detail.text

    staff = await ConsoleClient.login(client, *STAFF)
    queue = await staff.get("/console/tickets")
    assert ticket.ticket_id in queue.text and MASKED in queue.text
    assert (
        await staff.post(f"/console/tickets/{ticket.ticket_id}/notes", {"text": "called, no answer"})
    ).status_code == 303
    moved = await staff.post(f"/console/tickets/{ticket.ticket_id}/status", {"status": "in_progress"})
    assert moved.status_code == 303
    stored = await db.tickets.collection.find_one({"_id": ticket.ticket_id})
    assert stored["status"] == "in_progress" and stored["notes"][0]["author"] == STAFF[0]
    assert ticket.ticket_id not in (await staff.get("/console/tickets")).text
    assert "called, no answer" in (await staff.get("/console/tickets", params={"queue": "in_progress"})).text
    assert (await staff.post(f"/console/tickets/{ticket.ticket_id}/status", {"status": "bogus"})).status_code == 422
    assert (await staff.post("/console/tickets/TKT-999999/notes", {"text": "x"})).status_code == 404

    stats = await admin.get("/console/stats")
    assert stats.status_code == 200
    assert "<svg" in stats.text and "Calls per hour" in stats.text and "Cost per day" in stats.text
    assert "<b>2</b> calls today" in stats.text
    assert json.dumps("4.5")[1:-1] in stats.text  # the day's cost is a bar's value


async def test_login_redirects_back_only_to_console_pages(client: httpx.AsyncClient) -> None:
    page = await client.get("/console/login", params={"next": "//evil.example/x"})
    token, cookie = csrf_in(page.text), cookie_value(page, LOGIN_CSRF_COOKIE) or ""
    assert 'value="/console"' in page.text
    response = await client.post(
        "/console/login",
        data={"username": ADMIN[0], "password": ADMIN[1], "csrf_token": token, "next": "https://evil.example"},
        headers={"Cookie": f"{LOGIN_CSRF_COOKIE}={cookie}"},
    )
    assert response.status_code == 303 and response.headers["location"] == "/console"
