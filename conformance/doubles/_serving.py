"""Run an ASGI app on loopback in a background thread.

Both doubles (gateway, mail sink) are real servers that tests start in process and the CLI
starts in the foreground, so they share this one runner.

The listening socket is bound by the caller's thread before the server thread starts: the
port is known at once (port 0 gives an ephemeral one) and a bind error is raised where the
caller can report it, instead of dying inside the thread.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

LOOPBACK = "127.0.0.1"

# How long stop() lets in-flight requests finish before uvicorn cancels them. A held
# response (the create-timeout fault) must not hold up a test's teardown.
GRACEFUL_SHUTDOWN_SECONDS = 1


def bind_loopback(port: int = 0) -> socket.socket:
    """A TCP socket bound (not yet listening) to 127.0.0.1:port.

    Until something listens on it, connections to it are refused: tests use that to play a
    receiver that is down, then hand the same socket to a server when it "comes back".
    """
    # proto=IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are
    # TCP, and without it every response on a kept-alive connection waits ~40 ms for a
    # delayed ACK (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((LOOPBACK, port))
    except OSError:
        sock.close()
        raise
    return sock


class ServerThread:
    """One uvicorn server for ``app`` on 127.0.0.1, in a daemon thread with its own loop."""

    def __init__(
        self,
        app: Any,
        *,
        port: int = 0,
        sock: socket.socket | None = None,
        name: str = "purchaseflow-double",
    ) -> None:
        self._app = app
        self._port = port
        self._sock = sock
        self._name = name
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._sock is None:
            raise RuntimeError(f"{self._name} is not started")
        return int(self._sock.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self._name} is already started")
        if self._sock is None:
            self._sock = bind_loopback(self._port)
        config = uvicorn.Config(
            self._app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="on",
            # httptools and uvloop where installed (they are dependencies): a double's CPU
            # is taken from the server it serves when both share a machine's cores, as in
            # the benchmarks, and the pure-Python stack cost half as much again per call.
            http="auto",
            loop="auto",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        )
        server = uvicorn.Server(config)
        self._server = server
        sock = self._sock
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=self._name, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive():
                self._thread = None
                self._close_socket()
                raise RuntimeError(f"{self._name} failed to start")
            if time.monotonic() >= deadline:
                self.stop()
                raise TimeoutError(f"{self._name} did not start within {timeout:g} s")
            time.sleep(0.005)

    def stop(self, timeout: float = 10.0) -> None:
        server, thread = self._server, self._thread
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(timeout)
            if thread.is_alive():
                server.force_exit = True
                thread.join(timeout)
        self._server = None
        self._thread = None
        self._close_socket()

    def _close_socket(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
