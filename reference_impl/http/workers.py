"""Several uvicorn worker processes, each accepting connections on a socket of its own.

uvicorn's own supervisor shares one listening socket between its workers, and asyncio
accepts every connection waiting on a socket each time it wakes. So a burst of new
keep-alive connections lands almost whole on one worker: 43 of 50 in our order benchmark,
whose wrk opens its 50 connections at once, as a load generator starting its users does.
That worker then serves them on one core while the other idles.

Here each worker listens on a socket of its own, all bound to the same port with
``SO_REUSEPORT``, and the kernel spreads the connections over them by their addresses
(nginx's ``reuse_port``). A worker that dies is replaced on the same socket; connections
that arrived meanwhile wait in that socket's queue.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import threading
from multiprocessing.context import SpawnProcess
from types import FrameType

import uvicorn
from uvicorn.config import STARTUP_FAILURE

log = logging.getLogger("purchaseflow.workers")

#: How long a worker has to finish its requests after SIGTERM before it is killed.
STOP_TIMEOUT = 15.0

_spawn = multiprocessing.get_context("spawn")


def reuse_port_supported() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def tcp_listener(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A TCP socket bound to ``host:port``, its connections without Nagle's delay.

    Made as an IPPROTO_TCP socket, so that asyncio sets TCP_NODELAY on the connections it
    accepts (uvicorn's own multi-worker socket is not, and Nagle's algorithm then delays
    every response on a kept-alive connection by ~40 ms).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def listeners(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` sockets listening on ``host:port`` together (``SO_REUSEPORT``).

    Raises ``OSError`` if the port is taken, even by another group of reuse-port sockets,
    which the kernel would otherwise let this server join, silently sharing its clients.
    """
    # Without SO_REUSEPORT, bind fails if anything at all is bound to the port.
    tcp_listener(host, port).close()
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sockets.append(tcp_listener(host, port, reuse_port=True))
            # Listening from now on: a worker that is still starting finds its share of
            # the connections queued, rather than the kernel handing them to the others.
            sockets[-1].listen(2048)  # uvicorn's default backlog
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _serve(config: uvicorn.Config, sock: socket.socket) -> None:
    """A worker process: one uvicorn server on its own socket."""
    config.configure_logging()  # a spawned process starts without (as uvicorn's workers)
    uvicorn.Server(config).run(sockets=[sock])


class Workers:
    """Runs one worker per socket until SIGINT or SIGTERM, replacing those that die.

    SIGHUP replaces every worker, one after the other, as uvicorn's supervisor does: the
    new one starts on the old one's socket before the old one is told to finish.
    """

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket]) -> None:
        self._config = config
        self._sockets = sockets
        self._processes: list[SpawnProcess] = []
        self._stop = threading.Event()
        self._restart = threading.Event()
        self._wake = threading.Event()  # either of the two was asked for

    def _start(self, sock: socket.socket) -> SpawnProcess:
        process = _spawn.Process(target=_serve, args=(self._config, sock), daemon=False)
        process.start()
        return process

    def _request_stop(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, stopping the workers", signal.Signals(signum).name)
        self._stop.set()
        self._wake.set()

    def _request_restart(self, _signum: int, _frame: FrameType | None) -> None:
        self._restart.set()
        self._wake.set()

    def run(self) -> int:
        """Serve; returns the exit status (non-zero if a worker could not start)."""
        handlers = {signal.SIGINT: self._request_stop, signal.SIGTERM: self._request_stop,
                    signal.SIGHUP: self._request_restart}
        previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
        status = 0
        try:
            self._processes = [self._start(sock) for sock in self._sockets]
            while not self._stop.is_set():
                self._wake.wait(0.5)
                self._wake.clear()
                if self._stop.is_set():
                    break
                if self._restart.is_set():
                    self._restart.clear()
                    self._restart_all()
                status = self._replace_dead()
                if status:
                    break
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return status

    def _replace_dead(self) -> int:
        for index, process in enumerate(self._processes):
            if process.is_alive():
                continue
            if process.exitcode == STARTUP_FAILURE:
                # The app, its database or its socket is broken: every restart would fail
                # the same way (uvicorn's supervisor stops too).
                log.error("worker %s failed to start; stopping", process.pid)
                return STARTUP_FAILURE
            if self._stop.is_set():
                return 0
            log.warning("worker %s exited (%s); starting another", process.pid,
                        process.exitcode)
            self._processes[index] = self._start(self._sockets[index])
        return 0

    def _restart_all(self) -> None:
        log.info("received SIGHUP, replacing the workers")
        for index, old in enumerate(self._processes):
            self._processes[index] = self._start(self._sockets[index])
            old.terminate()  # it finishes its requests; the new one accepts meanwhile
            old.join(STOP_TIMEOUT)
            if old.is_alive():
                old.kill()
                old.join()

    def _stop_all(self) -> None:
        for process in self._processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes its requests, then exits
        for process in self._processes:
            process.join(STOP_TIMEOUT)
            if process.is_alive():
                process.kill()
                process.join()
