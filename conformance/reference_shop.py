"""Start the reference implementation as a real server process on loopback.

The demo, the load and conformance tests and the concurrency tests all need "a real shop
on a port": ``purchaseflow serve`` in a subprocess (so ``--workers`` means real processes),
ready when ``/healthz`` answers, and stopped with SIGTERM, then SIGKILL if it lingers.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


class ShopStartError(RuntimeError):
    pass


class ReferenceShop:
    """``with ReferenceShop(stock_commit="reserve", workers=2) as shop: shop.url``.

    Every keyword in ``settings`` becomes a ``PURCHASEFLOW_<NAME>`` variable of the server;
    ``scenario`` passes ``--scenario FILE`` (the profile), which explicit settings override.
    """

    def __init__(
        self,
        *,
        workers: int = 1,
        database_url: str | None = None,
        port: int | None = None,
        scenario: str | None = None,
        startup_timeout: float = 30.0,
        **settings: object,
    ) -> None:
        self.workers = workers
        self.scenario = scenario
        self.port = port or free_port()
        self.startup_timeout = startup_timeout
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if database_url is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="purchaseflow-shop-")
            database_url = f"sqlite:///{Path(self._tmp.name) / 'shop.db'}"
        self.database_url = database_url
        self.settings = settings
        self._process: subprocess.Popen[bytes] | None = None
        # Lives as long as the shop: output() reads it after the process ended.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int:
        """The server's process id (its workers are its children)."""
        if self._process is None:
            raise ShopStartError("the shop is not running")
        return self._process.pid

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PURCHASEFLOW_DATABASE_URL"] = self.database_url
        for name, value in self.settings.items():
            key = f"PURCHASEFLOW_{name.upper()}"
            if isinstance(value, bool):
                env[key] = "true" if value else "false"
            elif isinstance(value, Mapping):
                env[key] = json.dumps(dict(value))
            elif value is None:
                env[key] = "null"
            else:
                env[key] = str(value)
        return env

    def start(self) -> Self:
        command = [
            sys.executable, "-m", "reference_impl.cli", "serve",
            "--host", LOOPBACK, "--port", str(self.port), "--workers", str(self.workers),
            # If this process ends without stopping the server (killed, or crashed), the
            # server stops itself rather than hold the port and the database.
            "--parent-pid", str(os.getpid()),
        ]
        if self.scenario:
            command += ["--scenario", self.scenario]
        self._process = subprocess.Popen(
            command, env=self.environment(), stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait_until_ready()
        except BaseException:
            # Ctrl-C or a failed start: ``with`` never reaches __exit__, so stop it here,
            # or the server would outlive us.
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ShopStartError(f"purchaseflow serve exited: {self.output()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise ShopStartError(f"purchaseflow serve did not answer within {self.startup_timeout} s")

    def output(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def stop(self, timeout: float = 15.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            # The whole process group: uvicorn's supervisor and its workers.
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
