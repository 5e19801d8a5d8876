"""No token or secret in any log line: the app's own lines and every stdlib logger's (uvicorn's access
log, httpx, ...) are rendered by the same structlog chain, whose privacy processor blanks secrets in
query strings and masks phone numbers."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from typing import Any

import httpx
import pytest

import app as app_module
from tests.stack import ADMIN_TOKEN, AGENT_NUMBER, LiveStack, live_stack, make_settings
from utils.logger import configure_logging, flush_logging

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CALL_SID = "CA" + "4" * 32
SECRET = "1893456789.SECRETwhisperTOKEN0123"
SIGNATURE = "SIGNATUREsecret0123"
OTP = "731946"


@pytest.fixture
async def stack(mongo_uri: str, database_name: str):
    async with live_stack(mongo_uri, database_name) as running:
        yield running


def json_lines(text: str) -> list[dict[str, Any]]:
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines and all(line.startswith("{") for line in lines), text  # every logger renders JSON
    return [json.loads(line) for line in lines]


async def test_access_log_and_library_logs_never_carry_a_token(stack: LiveStack) -> None:
    stream = io.StringIO()
    configure_logging(json_output=True, level="INFO", stream=stream)
    try:
        params = stack.sim.voice_webhook_params(CALL_SID, from_="+918000000000", to=AGENT_NUMBER)
        whisper = f"/whisper?call_sid={CALL_SID}&token={SECRET}"
        signed = await stack.sim.post_webhook(whisper, params)  # signed, but the token is not ours
        unsigned = await stack.sim.post_webhook(whisper, params, signature=None)
        assert signed.status_code == 403 and unsigned.status_code in (400, 403)
        async with httpx.AsyncClient(base_url=stack.app_url) as client:
            listed = await client.get(
                "/calls",
                params={"limit": "1", "signature": SIGNATURE, "otp": OTP, "to": "+919812345678"},
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
        assert listed.status_code == 200
        await asyncio.sleep(0.2)  # the access line is written as the response goes out
        flush_logging()
    finally:
        configure_logging(json_output=False)

    text = stream.getvalue()
    lines = json_lines(text)
    access = [line for line in lines if line.get("logger") == "uvicorn.access"]
    whisper_lines = [line["event"] for line in access if "/whisper?" in line["event"]]
    assert len(whisper_lines) == 2, access
    assert all(f"call_sid={CALL_SID}&token=[redacted]" in event and " 403" in event for event in whisper_lines)
    (calls_line,) = [line["event"] for line in access if "/calls?" in line["event"]]
    assert "signature=[redacted]" in calls_line and "otp=[redacted]" in calls_line and " 200" in calls_line
    assert "to=%2B91******5678" in calls_line
    assert all(line["level"] == "info" and "timestamp" in line for line in access)

    # A library logger (httpx, used by the simulator and the test) goes through the same processor.
    httpx_lines = [line["event"] for line in lines if line.get("logger") == "httpx"]
    assert any("/whisper?" in event and "token=[redacted]" in event for event in httpx_lines), httpx_lines
    # The app's own line about the refusal is there, with the call sid.
    assert any(line.get("event") == "whisper_rejected" and line.get("call_sid") == CALL_SID for line in lines)

    for raw in (SECRET, SECRET.split(".")[1], SIGNATURE, OTP, "9812345678", ADMIN_TOKEN):
        assert raw not in text


async def test_serve_keeps_our_logging_instead_of_uvicorns(monkeypatch: pytest.MonkeyPatch) -> None:
    """`app.serve` passes log_config=None: uvicorn's Config (which applies its log config when it is
    built) leaves the handlers of `configure_logging` in place, so its access log is scrubbed too."""
    built: dict[str, Any] = {}

    class FakeServer:
        started = True

        def __init__(self, config: Any, app: Any = None) -> None:
            built["config"] = config

        def run(self) -> None:
            built["access_handlers"] = list(logging.getLogger("uvicorn.access").handlers)
            built["error_handlers"] = list(logging.getLogger("uvicorn.error").handlers)
            built["root_handlers"] = list(logging.getLogger().handlers)

    stream = io.StringIO()
    configure_logging(json_output=True, stream=stream)
    try:
        ours = list(logging.getLogger().handlers)
        monkeypatch.setattr(app_module, "DrainingServer", FakeServer)  # the server class `serve` builds
        await asyncio.to_thread(app_module.serve, make_settings())
        logging.getLogger("uvicorn.access").info('%s - "GET /whisper?token=%s HTTP/1.1" 200', "1.2.3.4:5", SECRET)
        flush_logging()
    finally:
        configure_logging(json_output=False)
    assert built["config"].log_config is None
    assert built["access_handlers"] == [] and built["error_handlers"] == []
    assert built["root_handlers"] == ours
    assert logging.getLogger("uvicorn.access").propagate
    (line,) = json_lines(stream.getvalue())
    assert line["logger"] == "uvicorn.access" and "token=[redacted]" in line["event"]
    assert SECRET not in stream.getvalue()
