"""The app as its own process, exactly as `python app.py` serves it (`python -m bench.app_server`, i.e.
`app.serve()`), for tests that send it real signals or run several nodes of it on one database.

Only the command line configures it: a clean environment and working directory (no `.env`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from devtools.ferretdb import free_port

ROOT = Path(__file__).resolve().parents[1]
# Imports alone took 27 s in a full suite run on a loaded 2-core machine (nice 19 beside a benchmark).
START_TIMEOUT_S = 90.0


@dataclass
class AppNode:
    name: str
    process: asyncio.subprocess.Process
    url: str
    log_path: Path

    async def health(self, path: str = "/health") -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.url, timeout=2.0, trust_env=False) as client:
            return await client.get(path)

    def terminate(self) -> None:
        """SIGTERM, as an orchestrator stops it: the node drains (`app.DrainingServer`)."""
        self.process.send_signal(signal.SIGTERM)

    async def exit_code(self, timeout: float) -> int:
        try:
            return await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"{self.name} still running {timeout} s later:\n{self.log_tail()}") from None

    async def wait_for_log(self, text: str, timeout: float = 5.0) -> None:
        """Until `text` is in the node's log: its lines are written by a background thread, so a line
        logged just before an effect the test saw may reach the file a moment after it."""
        deadline = asyncio.get_running_loop().time() + timeout
        while text not in self.log_path.read_text(errors="replace"):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{text!r} not in {self.name}'s log within {timeout} s:\n{self.log_tail()}")
            await asyncio.sleep(0.05)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@contextlib.asynccontextmanager
async def app_node(
    workdir: Path,
    *,
    mongo_uri: str,
    database: str,
    realtime_url: str,
    twilio_api_url: str,
    name: str = "app",
    port: int | None = None,
    **settings: Any,
) -> AsyncIterator[AppNode]:
    """Start one node (settings by name, e.g. `drain_timeout_s=60`), yield it once `/health` is 200, kill
    it at the end if it is still running."""
    port = port or free_port()
    command = [sys.executable, "-m", "bench.app_server", "--port", str(port), "--log-level", "INFO"]
    command += ["--mongodb-uri", mongo_uri, "--mongodb-database", database]
    command += ["--realtime-url", realtime_url, "--twilio-api-url", twilio_api_url]
    for setting, value in settings.items():
        command += ["--setting", f"{setting.upper()}={value}"]
    log_path = workdir / f"{name}.log"
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), "HOME": str(workdir)}
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    node = AppNode(name, process, f"http://127.0.0.1:{port}", log_path)
    try:
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT_S
        while True:
            assert process.returncode is None, f"{name} exited during start-up:\n{node.log_tail()}"
            with contextlib.suppress(httpx.HTTPError):
                if (await node.health()).status_code == 200:
                    break
            assert asyncio.get_running_loop().time() < deadline, f"{name} not healthy:\n{node.log_tail()}"
            await asyncio.sleep(0.1)
        yield node
    finally:
        if process.returncode is None:
            process.kill()
        await asyncio.wait_for(process.wait(), 10)
