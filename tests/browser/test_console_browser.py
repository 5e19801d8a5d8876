"""The console in a real browser (Debian's headless Chromium driven by Playwright) against the real app on
loopback, a simulated Twilio call and the fake Realtime server: log in, watch the call appear and its
transcript grow, push a note, see the transfer card and take it, and check a staff user's view.

Screenshots of the main pages land in tests/browser/screenshots/ (not committed; docs/img/ holds the two
the README shows).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, Playwright, async_playwright, expect

from tests.console_client import ADMIN, STAFF, create_users
from tests.fakes.mulaw import tone
from tests.fakes.realtime_server import Script, Turn
from tests.stack import DEMO_CALLER, LiveStack, live_stack, wait_for_record

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package (setup.sh installs it); never `playwright install`
CHROMIUM_INSTALLED = CHROMIUM.exists()
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"
TWILIO_NUMBER = "+918000000000"
MASKED = "+91******3210"
NOTE = "Customer is a priority account; offer free replacement"
TRANSFER_REASON = "Caller wants to complain about a delayed order"
TURNS = [
    Turn(
        transcript="Mera order ORD 482913 kahan hai?",
        tool_calls=[("lookup_order", '{"order_id": "ORD 482913"}')],
        reply_transcript="Aapka order shipped hai, kal tak pahunch jayega.",
    ),
    Turn(
        transcript="Mujhe kisi insaan se baat karni hai",
        tool_calls=[("transfer_to_human", json.dumps({"reason": TRANSFER_REASON, "department": "orders"}))],
        reply_transcript="Main aapko hamari support team se connect kar rahi hoon.",
        reply_ms=1200,
    ),
]
TIMEOUT_MS = 15_000


@pytest.fixture
async def stack(seeded: tuple[str, str]) -> AsyncIterator[LiveStack]:
    async with live_stack(*seeded, console_poll_interval_s=0.2) as running:
        await create_users(running)
        yield running


@pytest.fixture
async def playwright() -> AsyncIterator[Playwright]:
    assert CHROMIUM_INSTALLED, "Chromium is missing: ./setup.sh installs Debian's chromium package"
    async with async_playwright() as driver:
        yield driver


async def browser(playwright: Playwright, profile: Path) -> BrowserContext:
    """A fresh profile per user: nothing carried over between users or runs."""
    return await playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 1200, "height": 900},
    )


async def log_in(context: BrowserContext, stack: LiveStack, username: str, password: str) -> Page:
    page = context.pages[0] if context.pages else await context.new_page()
    await page.goto(f"{stack.app_url}/console")
    await expect(page).to_have_url(re.compile(r"/console/login\?next=/console$"))
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(f"{stack.app_url}/console")
    return page


async def shot(page: Page, name: str, selector: str | None = None) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    target = page.locator(selector).first if selector else page
    await target.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


async def caller_speaks(call: Any, session: Any, outputs: int) -> None:
    await call.say_and_wait(tone(500, 440))
    await session.wait_for(lambda: len(session.function_outputs) >= outputs, timeout=10, what="tool outputs")


async def test_staff_console_in_a_real_browser(stack: LiveStack, playwright: Playwright, tmp_path: Path) -> None:
    admin_browser = await browser(playwright, tmp_path / "admin")
    staff_browser = await browser(playwright, tmp_path / "staff")
    console_errors: list[str] = []
    for context in (admin_browser, staff_browser):
        context.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    try:
        admin = await log_in(admin_browser, stack, *ADMIN)
        await expect(admin.locator("#board")).to_contain_text("No live calls", timeout=TIMEOUT_MS)

        # A call comes in: it appears on the board by itself (SSE), greeting first.
        stack.realtime.script = Script(greeting_ms=300, reply_ms=400, turns=list(TURNS))
        call = await stack.sim.place_call(from_=DEMO_CALLER, to=TWILIO_NUMBER)
        await call.connect_stream()
        (session,) = await stack.realtime.wait_for_sessions(1)
        card = admin.locator(f'a.call[data-call-sid="{call.call_sid}"]')
        await expect(card).to_be_visible(timeout=TIMEOUT_MS)
        await expect(card.locator("header .caller")).to_have_text(DEMO_CALLER)  # admins see the full number
        await call.wait_for_media(timeout=10, min_bytes=300 * 8)
        await call.wait_playback_idle(timeout=10)
        await expect(card).to_contain_text("Thanks for calling", timeout=TIMEOUT_MS)
        await shot(admin, "live-board")

        # Open it: the transcript grows and the tool call shows as it happens.
        await card.click()
        await expect(admin).to_have_url(f"{stack.app_url}/console/live/{call.call_sid}")
        await caller_speaks(call, session, 1)
        transcript = admin.locator("#call .transcript")
        await expect(transcript).to_contain_text("Mera order ORD 482913 kahan hai?", timeout=TIMEOUT_MS)
        await expect(admin.locator("#call .tools")).to_contain_text("lookup_order", timeout=TIMEOUT_MS)
        await expect(transcript).to_contain_text("kal tak pahunch jayega", timeout=TIMEOUT_MS)

        # A note for the assistant: stored in the record with its author, shown on the page.
        await admin.fill("textarea[name=text]", NOTE)
        await admin.click(".note-form button[type=submit]")
        await expect(admin.locator("#call .notes")).to_contain_text(NOTE, timeout=TIMEOUT_MS)
        record = await wait_for_record(stack, call.call_sid, lambda r: bool(r.get("staff_notes")))
        assert [(n["text"], n["author"]) for n in record["staff_notes"]] == [(NOTE, ADMIN[0])]
        # ...and it reached the live Realtime session as a system item (the caller never hears it).
        await session.wait_for(lambda: NOTE in json.dumps(list(session.items.values())), what="note item")
        await shot(admin, "call-live")

        # The caller asks for a human: the transfer card appears on the board with its context.
        await admin.goto(f"{stack.app_url}/console")
        await session.wait_for(
            lambda: session.responses[-1]["kind"] == "tool_followup" and session.responses[-1]["status"] == "completed",
            timeout=10,
            what="spoken follow-up",
        )
        await call.wait_playback_idle(timeout=10)
        await caller_speaks(call, session, 2)
        transfer = admin.locator(f"#transfer-{call.call_sid}")
        await expect(transfer).to_be_visible(timeout=TIMEOUT_MS)
        await expect(transfer.locator(".reason")).to_have_text(TRANSFER_REASON)
        await expect(transfer.locator(".orders")).to_contain_text("ORD-482913")
        await expect(transfer).to_contain_text("Mujhe kisi insaan se baat karni hai")
        await stack.rest.wait_for_call_update(call.call_sid, timeout=15)
        await shot(admin, "transfer-card", f"#transfer-{call.call_sid}")
        await shot(admin, "live-board-transfer")

        # Staff: masked numbers everywhere, no admin pages; they take the transfer.
        staff = await log_in(staff_browser, stack, *STAFF)
        staff_card = staff.locator(f"#transfer-{call.call_sid}")
        await expect(staff_card.locator("header .caller")).to_have_text(MASKED, timeout=TIMEOUT_MS)
        assert DEMO_CALLER not in await staff.content()
        await expect(staff.locator("nav")).not_to_contain_text("History")
        await staff_card.locator("button.take").click()
        await expect(staff.locator(f"#transfer-{call.call_sid} .taken")).to_contain_text(STAFF[0], timeout=TIMEOUT_MS)
        record = await wait_for_record(stack, call.call_sid, lambda r: bool(r.get("transfer_taken_by")))
        assert record["transfer_taken_by"]["username"] == STAFF[0]
        # The admin's board shows who took it without a reload.
        await expect(transfer.locator(".taken")).to_contain_text(STAFF[0], timeout=TIMEOUT_MS)
        for admin_page in ("/console/calls", f"/console/calls/{call.call_sid}", "/console/stats"):
            response = await staff.goto(f"{stack.app_url}{admin_page}")
            assert response is not None and response.status == 403, admin_page
            await expect(staff.locator("main")).to_contain_text("Admins only")
        await staff.goto(f"{stack.app_url}/console/tickets")
        await shot(staff, "tickets-staff")

        # The admin's history, the call in full, and the numbers.
        await admin.goto(f"{stack.app_url}/console/calls")
        await expect(admin.locator(f'tr[data-call-sid="{call.call_sid}"]')).to_contain_text(DEMO_CALLER)
        await shot(admin, "history")
        await admin.goto(f"{stack.app_url}/console/calls/{call.call_sid}")
        await expect(admin.locator("main")).to_contain_text("lookup_order")
        await expect(admin.locator("main")).to_contain_text(NOTE)
        await shot(admin, "call-detail")
        await admin.goto(f"{stack.app_url}/console/stats")
        await expect(admin.locator("svg").first).to_be_visible()
        await shot(admin, "stats")

        # Log out: the console is closed again.
        await admin.click("button.link")
        await expect(admin).to_have_url(re.compile(r"/console/login$"))
        await admin.goto(f"{stack.app_url}/console")
        await expect(admin).to_have_url(re.compile(r"/console/login\?next=/console$"))
        await call.wait_closed(timeout=5)
        # The vendored scripts ran under the console's Content-Security-Policy without a refusal.
        assert [text for text in console_errors if "Content Security Policy" in text or "Refused" in text] == []
    finally:
        # Close the pages (and their event streams) before the app stops.
        await asyncio.gather(admin_browser.close(), staff_browser.close())
