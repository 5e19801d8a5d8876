"""Start a local MongoDB-compatible server (FerretDB 1.24 on SQLite) for tests and development.

Production points `MONGODB_URI` at MongoDB or Atlas; nothing in the product depends on FerretDB.
`mongod` is used instead when it is on PATH. `setup.sh` builds the FerretDB binary into `.tools/bin`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FERRETDB_BIN = REPO_ROOT / ".tools" / "bin" / ("ferretdb.exe" if os.name == "nt" else "ferretdb")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # (host, port) for AF_INET


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"database server exited early with code {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"database server did not listen on port {port} within {timeout_s}s")


class LocalMongo:
    """A throwaway server process on a loopback port; `uri` is ready once `start()` returns."""

    def __init__(self, port: int | None = None, data_dir: Path | None = None) -> None:
        self.port = port or free_port()
        self._own_dir = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="voice-agent-db-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    def _command(self) -> list[str]:
        mongod = shutil.which("mongod")
        if mongod:
            return [mongod, "--bind_ip", "127.0.0.1", "--port", str(self.port), "--dbpath", str(self.data_dir)]
        binary = os.environ.get("FERRETDB_BIN") or (str(FERRETDB_BIN) if FERRETDB_BIN.exists() else None)
        binary = binary or shutil.which("ferretdb")
        if not binary:
            raise RuntimeError("FerretDB not found: run ./setup.sh (it builds .tools/bin/ferretdb)")
        return [
            binary,
            "--handler=sqlite",
            f"--sqlite-url=file:{self.data_dir}/",
            f"--listen-addr=127.0.0.1:{self.port}",
            "--telemetry=disable",
            "--log-level=error",
            "--debug-addr=",
            f"--state-dir={self.data_dir}",
        ]

    def start(self, timeout_s: float = 30.0) -> LocalMongo:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            self._command(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        try:
            _wait_for_port(self.port, self.process, timeout_s)
        except RuntimeError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> LocalMongo:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    """`python -m devtools.ferretdb --port 27017 --data .data/db`: run in the foreground until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=27017)
    parser.add_argument("--data", type=Path, default=REPO_ROOT / ".data" / "db")
    args = parser.parse_args()
    server = LocalMongo(port=args.port, data_dir=args.data).start()
    print(f"local database ready at {server.uri} (data in {args.data})", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while server.process and server.process.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
