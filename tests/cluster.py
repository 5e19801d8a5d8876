"""Several nodes of the app on one database behind a real load balancer (HAProxy, from Debian), with one
set of fakes (OpenAI Realtime, Twilio REST, the Twilio simulator) shared by all nodes, as in production.

The balancer is configured as docs/deploy.md says (round robin, readiness on `/health`, WebSocket
tunnels kept when a node is marked down), with two test aids: `static-rr`, so the next request's node
is known (`Cluster.route_next_to`), and an `X-Served-By` response header naming the node that answered.

    async with two_node_cluster(mongo_uri, database, tmp_path) as cluster:
        await cluster.route_next_to("a")
        call = await cluster.sim.place_call()          # through the balancer, to node a
        assert cluster.served_by(cluster.sim.webhook_log[-1][2]) == "a"
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from devtools.ferretdb import free_port
from tests.fakes.realtime_server import FakeRealtimeServer
from tests.fakes.twilio_rest import FakeTwilioRest
from tests.fakes.twilio_sim import TwilioSimulator
from tests.nodes import AppNode, app_node
from tests.stack import ACCOUNT_SID, ADMIN_TOKEN, AUTH_TOKEN, PUBLIC_BASE_URL

SERVED_BY = "x-served-by"
CHECK_INTERVAL_MS = 200


def haproxy_config(port: int, nodes: Mapping[str, str]) -> str:
    """The balancer of docs/deploy.md on loopback, without TLS (the simulator signs for the public URL)."""
    servers = "\n".join(
        f"  server {name} {url.removeprefix('http://')} check inter {CHECK_INTERVAL_MS}ms fall 2 rise 1"
        for name, url in nodes.items()
    )
    return f"""global
  nbthread 1

defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  timeout tunnel 1h
  timeout client-fin 5s
  # A slow answer is not a failed check (a loaded test machine); only a 503 or no answer is.
  timeout check 3s

frontend voice
  bind 127.0.0.1:{port}
  default_backend nodes

backend nodes
  balance static-rr
  option httpchk GET /health
  http-check expect status 200
  http-response set-header X-Served-By %s
{servers}
"""


@dataclass
class LoadBalancer:
    process: asyncio.subprocess.Process
    url: str
    config_path: Path
    log_path: Path

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


@contextlib.asynccontextmanager
async def haproxy(workdir: Path, nodes: Mapping[str, str]) -> AsyncIterator[LoadBalancer]:
    binary = shutil.which("haproxy", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
    assert binary, "haproxy is missing: ./setup.sh install installs Debian's package"
    port = free_port()
    config_path = workdir / "haproxy.cfg"
    config_path.write_text(haproxy_config(port, nodes))
    log_path = workdir / "haproxy.log"
    with log_path.open("wb") as log:
        # -db: foreground, no daemon; the test owns the process.
        process = await asyncio.create_subprocess_exec(
            binary, "-db", "-f", str(config_path), stdout=log, stderr=subprocess.STDOUT
        )
    balancer = LoadBalancer(process, f"http://127.0.0.1:{port}", config_path, log_path)
    try:
        yield balancer
    finally:
        if process.returncode is None:
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


@dataclass
class Cluster:
    nodes: dict[str, AppNode]
    balancer: LoadBalancer
    realtime: FakeRealtimeServer
    rest: FakeTwilioRest
    sim: TwilioSimulator  # drives the app through the balancer
    database: str
    _http: httpx.AsyncClient = field(repr=False)

    @property
    def url(self) -> str:
        return self.balancer.url

    @staticmethod
    def served_by(response: httpx.Response) -> str:
        return response.headers.get(SERVED_BY, "")

    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    async def get(self, path: str, *, node: str | None = None, admin: bool = False) -> httpx.Response:
        """GET through the balancer, or straight from one node (`node=`)."""
        base = self.nodes[node].url if node else self.url
        return await self._http.get(base + path, headers=self.admin_headers() if admin else {})

    async def post(self, path: str, body: Any, *, node: str | None = None) -> httpx.Response:
        """POST JSON as the admin through the balancer, or straight to one node (`node=`)."""
        base = self.nodes[node].url if node else self.url
        return await self._http.post(base + path, json=body, headers=self.admin_headers())

    async def route_next_to(self, name: str) -> None:
        """Make the balancer's next request go to node `name`: with `static-rr` the nodes take turns,
        so it is the next one after a request the other node answered."""
        others = set(self.nodes) - {name}
        for _ in range(2 * len(self.nodes)):
            response = await self.get("/health/live")
            if self.served_by(response) in others and len(others) == 1:
                return
        raise AssertionError(f"cannot steer to {name}: balancer log:\n{self.balancer.log_tail()}")

    async def wait_routed_only_to(self, names: set[str], timeout: float = 10.0) -> None:
        """Until the balancer sends every request to `names` (e.g. a draining node's 503 was seen)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            answered = {self.served_by(await self.get("/health/live")) for _ in range(2 * len(self.nodes))}
            if answered <= names:
                return
            assert asyncio.get_running_loop().time() < deadline, f"still routed to {answered - names}"
            await asyncio.sleep(CHECK_INTERVAL_MS / 1000)

    async def wait_serving(self, timeout: float = 15.0) -> None:
        """Until every node answers through the balancer (its first health checks have passed)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            with contextlib.suppress(httpx.HTTPError):
                answered = {self.served_by(await self.get("/health/live")) for _ in range(2 * len(self.nodes))}
                if answered == set(self.nodes):
                    return
            assert self.balancer.process.returncode is None, f"haproxy exited:\n{self.balancer.log_tail()}"
            assert asyncio.get_running_loop().time() < deadline, f"not all nodes up:\n{self.balancer.log_tail()}"
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def two_node_cluster(
    mongo_uri: str, database: str, workdir: Path, *, names: tuple[str, ...] = ("a", "b"), **settings: Any
) -> AsyncIterator[Cluster]:
    """Nodes `names` (NODE_ID = the name, NODE_INTERNAL_URL = its own loopback URL) on one database."""
    realtime = FakeRealtimeServer()
    await realtime.start()
    rest = FakeTwilioRest(ACCOUNT_SID, AUTH_TOKEN)
    await rest.start()
    try:
        async with contextlib.AsyncExitStack() as stack:
            ports = {name: free_port() for name in names}
            starting = [
                stack.enter_async_context(
                    app_node(
                        workdir,
                        mongo_uri=mongo_uri,
                        database=database,
                        realtime_url=realtime.url,
                        twilio_api_url=rest.base_url,
                        name=name,
                        port=port,
                        node_id=name,
                        node_internal_url=f"http://127.0.0.1:{port}",
                        **settings,
                    )
                )
                for name, port in ports.items()
            ]
            nodes = {node.name: node for node in await asyncio.gather(*starting)}
            balancer = await stack.enter_async_context(haproxy(workdir, {n: node.url for n, node in nodes.items()}))
            sim = TwilioSimulator(
                app_base_url=balancer.url,
                public_base_url=PUBLIC_BASE_URL,
                account_sid=ACCOUNT_SID,
                auth_token=AUTH_TOKEN,
            )
            stack.push_async_callback(sim.aclose)
            rest.attach(sim)
            http = await stack.enter_async_context(httpx.AsyncClient(timeout=5.0, trust_env=False))
            cluster = Cluster(nodes, balancer, realtime, rest, sim, database, http)
            await cluster.wait_serving()
            yield cluster
    finally:
        await rest.stop()
        await realtime.stop()
