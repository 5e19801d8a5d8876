"""Helpers for console tests: users, an HTTP client that logs in through the real form, seeded call records.

Cookies are carried by hand: the app marks them Secure (PUBLIC_BASE_URL is https in tests) and httpx
would not send a Secure cookie over the loopback's plain http.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx

from models.call_record import CallRecord, ToolCallRecord, TranscriptLine, TransferInfo, utc_now
from services.console.sessions import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from tests.stack import DEMO_CALLER, LiveStack

ADMIN = ("asha", "admin-password-1")
STAFF = ("ravi", "staff-password-1")
_CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_in(html: str) -> str:
    match = _CSRF_INPUT.search(html)
    assert match is not None, "no CSRF field in the page"
    return match.group(1)


def set_cookie_header(response: httpx.Response, name: str) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return header
    return None


def cookie_value(response: httpx.Response, name: str) -> str | None:
    header = set_cookie_header(response, name)
    return None if header is None else header.split(";", 1)[0].split("=", 1)[1].strip('"')


async def create_users(stack: LiveStack) -> None:
    accounts = stack.services.console.accounts
    await accounts.create_user(ADMIN[0], "admin", ADMIN[1])
    await accounts.create_user(STAFF[0], "staff", STAFF[1])


async def login_attempt(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    page = await client.get("/console/login")
    assert page.status_code == 200
    login_cookie = cookie_value(page, LOGIN_CSRF_COOKIE)
    assert login_cookie is not None
    return await client.post(
        "/console/login",
        data={"username": username, "password": password, "csrf_token": csrf_in(page.text), "next": "/console"},
        headers={"Cookie": f"{LOGIN_CSRF_COOKIE}={login_cookie}"},
    )


class ConsoleClient:
    """A logged-in user: `get` and `post` send its session cookie; `csrf` is its session's token."""

    def __init__(self, client: httpx.AsyncClient, session_cookie: str, csrf: str) -> None:
        self.http = client
        self.cookie = session_cookie
        self.csrf = csrf

    @classmethod
    async def login(cls, client: httpx.AsyncClient, username: str, password: str) -> ConsoleClient:
        response = await login_attempt(client, username, password)
        assert response.status_code == 303, response.text
        cookie = cookie_value(response, SESSION_COOKIE)
        assert cookie is not None
        page = await client.get("/console", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"})
        assert page.status_code == 200
        return cls(client, cookie, csrf_in(page.text))

    def _headers(self) -> dict[str, str]:
        return {"Cookie": f"{SESSION_COOKIE}={self.cookie}"}

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.get(path, headers=self._headers(), **kwargs)

    async def post(self, path: str, data: dict[str, str], *, csrf: str | None = "session") -> httpx.Response:
        form = dict(data)
        if csrf is not None:
            form["csrf_token"] = self.csrf if csrf == "session" else csrf
        return await self.http.post(path, data=form, headers=self._headers())


def live_record(call_sid: str, *, transfer: bool = False, caller: str = DEMO_CALLER) -> CallRecord:
    """A call under way as the live session writes it; with `transfer`, one that asked for a human."""
    started = utc_now() - timedelta(seconds=75)
    record = CallRecord(
        call_sid=call_sid,
        stream_sid="MZ" + call_sid[2:],
        from_number=caller,
        to_number="+918000000000",
        started_at=started,
        transcript=[
            TranscriptLine(role="assistant", text="Namaste! Main aapki kya madad kar sakti hoon?", at=started),
            TranscriptLine(role="caller", text="Mera order ORD-482913 kahan hai?", at=started + timedelta(seconds=5)),
            TranscriptLine(
                role="assistant", text="Aapka order kal tak pahunch jayega.", at=started + timedelta(seconds=9)
            ),
        ],
        tool_calls=[
            ToolCallRecord(
                call_id="call_1",
                name="lookup_order",
                arguments={"order_id": "ORD-482913"},
                ok=True,
                output={"order_id": "ORD-482913", "status": "shipped"},
                duration_ms=42.0,
            )
        ],
    )
    if transfer:
        record.tickets = ["TKT-000111"]
        record.transfer = TransferInfo(
            status="dialing",
            reason="Caller wants to complain about a delayed order",
            department="orders",
            summary="Order ORD-482913 is late; caller asked for a human",
        )
    return record
