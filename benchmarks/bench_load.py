"""What the purchase-flow users cost the load generator, and how it scales (issue 7).

Two figures, each measured as requests per CPU-second of the Locust processes (their own
CPU time from the start of the test to its stop, ``load/locust_hooks.py``), so that the
server's speed does not enter them:

1. **Ratio**: the purchase-flow user (``load/locustfile.py``, through ``purchaseflow load``,
   think times off) against a plain ``FastHttpUser`` GET of ``/products``
   (``load/baseline_locustfile.py``), both running at the same time against the same
   server. Goal: at least 0.8. Measured against the reference implementation (with the
   gateway double and the mail sink), and against a stub server that answers every call
   of the flow with canned JSON.
2. **Speed-up**: requests per second of the purchase-flow user with ``--processes 2``
   against one process, against the stub (the generator must be what limits the load, not
   the server). Goal: at least 1.6.

    .venv/bin/python benchmarks/bench_load.py [--users 20] [--run-time 10]

The stub server is nginx where it is installed (``apt-get install nginx-light``), else this
file run with ``--stub PORT`` (``--python-stub`` forces the latter); both give the same
canned answers.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conformance.reference_shop import ReferenceShop, free_port
from load.config import LoadConfig
from load.locust_process import LocustCommand, run_locust
from load.plan import closed_stages

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios/library/steady_mix.yaml"
BASELINE = ROOT / "load/baseline_locustfile.py"
ADMIN_TOKEN = "bench-admin-token"
WEBHOOK_SECRET = "whsec_bench_secret"


# -- the stub server ---------------------------------------------------------------------------
# On two cores the stub takes its CPU from the generator's, and more so with two workers:
# every request costs it one epoll wake-up, one recv, a dict lookup and one send of bytes
# built at import (asyncio's event loop alone cost several times that).

def _response(body: Any, status: str = "200 OK") -> bytes:
    data = json.dumps(body).encode()
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode() + data


_PRODUCTS = [{"product_id": f"p{i}", "name": f"Product {i}", "description": "",
              "variants": [{"variant_id": f"v{i}", "sku": f"SKU-{i}", "name": "one",
                            "price": {"amount": 1000 + i, "currency": "EUR"},
                            "available": 100}]} for i in range(5)]
_ORDER = {"order_id": "ord_stub", "cart_id": "c_stub", "owner_id": "b0",
          "status": "pending_payment", "status_label": "pending_payment", "history": [],
          "lines": [], "total": {"amount": 1000, "currency": "EUR"},
          "payment": {"session_id": "cs_stub", "url": "http://127.0.0.1/pay/cs_stub"},
          "created_at": "2026-01-01T00:00:00Z", "expires_at": None}
#: (method, path prefix) -> canned answer; the first match wins.
_ROUTES: list[tuple[bytes, bytes, bytes]] = [
    (b"GET", b"/products/", _response(_PRODUCTS[0])),
    (b"GET", b"/products", _response({"items": _PRODUCTS, "next": None})),
    (b"POST", b"/carts", _response({"cart_id": "c_stub", "owner_id": None, "lines": []},
                                   "201 Created")),
    (b"PUT", b"/carts/", _response({"cart_id": "c_stub", "lines": []})),
    (b"GET", b"/carts/", _response({"cart_id": "c_stub", "lines": []})),
    (b"POST", b"/orders", _response(_ORDER, "201 Created")),
    (b"GET", b"/orders/", _response(_ORDER)),
    (b"POST", b"/v1/checkout/sessions/", _response({"id": "cs_stub", "outcome": "succeeded"})),
    (b"POST", b"/admin/tokens", _response({"token": "stub-token"})),
    (b"GET", b"/admin/", _response([])),
    (b"GET", b"/_control/status", _response({"idle": True})),
    (b"GET", b"/messages", _response({"object": "list", "data": []})),
]
_OK = _response({"ok": True})
#: The answer to each request line seen so far: the flow sends a few dozen distinct ones
#: (the stub's ids are fixed), so routing is one dict lookup; bounded all the same.
_ANSWERS: dict[bytes, bytes] = {}
_MAX_ANSWERS = 10_000


def _answer(request_line: bytes) -> bytes:
    answer = _ANSWERS.get(request_line)
    if answer is None:
        method, target = request_line.split(b" ", 2)[:2]
        path = target.split(b"?", 1)[0]
        answer = next((a for m, prefix, a in _ROUTES
                       if m == method and path.startswith(prefix)), _OK)
        if len(_ANSWERS) < _MAX_ANSWERS:
            _ANSWERS[request_line] = answer
    return answer


def _answers(data: bytes) -> tuple[bytes, bytes]:
    """The answers to the complete requests at the head of ``data``, and what is left."""
    out = b""
    while (end := data.find(b"\r\n\r\n")) >= 0:
        start = end + 4
        at = data.find(b"ength:", 0, end)  # Content-Length, in whatever case
        if at >= 0:
            start += int(data[at + 6:data.find(b"\r", at)])
            if len(data) < start:
                break
        out += _answer(data[:data.find(b"\r")])
        data = data[start:]
    return out, data


def serve_stub(port: int) -> None:
    """Serve HTTP/1.1 keep-alive on ``port`` until killed: one thread, one epoll loop."""
    listener = socket.create_server(("127.0.0.1", port), backlog=1024)
    listener.setblocking(False)
    poller = select.epoll()
    poller.register(listener.fileno(), select.EPOLLIN)
    # Client sockets stay blocking: recv only runs when epoll says there is data, and the
    # canned answers fit in any send buffer.
    clients: dict[int, socket.socket] = {}
    pending: dict[int, bytes] = {}  # the start of a request still being received
    while True:
        for fd, _ in poller.poll():
            if fd == listener.fileno():
                while True:
                    try:
                        sock, _ = listener.accept()
                    except BlockingIOError:
                        break
                    # As asyncio and uvicorn do: an answer is never held back for an ACK.
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    clients[sock.fileno()] = sock
                    poller.register(sock.fileno(), select.EPOLLIN)
                continue
            sock = clients[fd]
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                poller.unregister(fd)
                del clients[fd]
                pending.pop(fd, None)
                sock.close()
                continue
            if fd in pending:
                data = pending.pop(fd) + data
            out, rest = _answers(data)
            if rest:
                pending[fd] = rest
            if out:
                sock.sendall(out)


def _body_and_status(answer: bytes) -> tuple[int, str]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body.decode()


def nginx_config(port: int, workdir: Path) -> str:
    """The same canned answers as ``_ROUTES``, served by nginx (``return CODE 'body'``).

    nginx picks the location with the longest matching prefix, where ``_ROUTES`` takes the
    first route that matches in its order. A path's matching routes are those whose prefix
    is also a prefix of its location's, so each location gets those, in ``_ROUTES`` order,
    and answers by the first of them for the request's method.
    """
    by_prefix: dict[bytes, list[tuple[bytes, bytes]]] = {}
    for _, location, _ in _ROUTES:
        rules = by_prefix.setdefault(location, [])
        if rules:
            continue
        for method, prefix, answer in _ROUTES:
            if location.startswith(prefix) and method not in {m for m, _ in rules}:
                rules.append((method, answer))

    def ret(answer: bytes) -> str:
        status, body = _body_and_status(answer)
        if "'" in body or "$" in body or "\\" in body:
            raise ValueError(f"cannot quote {body!r} for nginx")
        return f"return {status} '{body}';"

    locations = [f"location / {{ {ret(_OK)} }}"]
    for prefix, answers in by_prefix.items():
        rules = " ".join(f"if ($request_method = {m.decode()}) {{ {ret(a)} }}"
                         for m, a in answers)
        locations.append(f"location {prefix.decode()} {{ {rules} {ret(_OK)} }}")
    temp = " ".join(f"{kind}_temp_path {workdir / kind};"
                    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""
worker_processes 1;
daemon off;
pid {workdir / "nginx.pid"};
error_log {workdir / "error.log"} warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    default_type application/json;
    keepalive_requests 100000000;
    {temp}
    server {{
        listen 127.0.0.1:{port} backlog=1024;
        {chr(10).join("        " + loc for loc in locations)}
    }}
}}
"""


class NginxStub:
    """The stub's answers from nginx, where it is installed: a C server costs the two
    cores the generator shares with it a fraction of what even the epoll stub does."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="bench-load-nginx-")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> NginxStub:
        workdir = Path(self._dir.name)
        config = workdir / "nginx.conf"
        config.write_text(nginx_config(self.port, workdir))
        self.process = subprocess.Popen(["nginx", "-p", str(workdir), "-c", str(config)])
        time.sleep(1.0)
        if self.process.poll() is not None:
            raise SystemExit(f"nginx did not start: {(workdir / 'error.log').read_text()}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
        self._dir.cleanup()


class StubServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> StubServer:
        self.process = subprocess.Popen([sys.executable, __file__, "--stub", str(self.port)])
        time.sleep(1.0)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)


# -- measuring ---------------------------------------------------------------------------------

@dataclass
class Measured:
    label: str
    requests: int
    cpu_seconds: float
    seconds: float
    processes: int

    @property
    def per_cpu_second(self) -> float:
        return self.requests / self.cpu_seconds if self.cpu_seconds else 0.0

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def start_flow(label: str, out: Path, url: str, *, users: int, run_time: float,
               processes: int | None = None, doubles: list[str],
               mix: str = "ordering") -> tuple[str, Path, subprocess.Popen[str]]:
    command = [sys.executable, "-m", "reference_impl.cli", "load", "--url", url,
               "--scenario", str(SCENARIO), "--mix", mix, "--think-time-scale", "0",
               "--headless", "--quiet", "--users", str(users), "--spawn-rate", str(users),
               "--run-time", f"{run_time:g}", "--stop-timeout", "1", "--settle-timeout", "10",
               "--admin-token", ADMIN_TOKEN, "--webhook-secret", WEBHOOK_SECRET,
               "--out", str(out), *doubles]
    if processes:
        command += ["--processes", str(processes)]
    return label, out, subprocess.Popen(command, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)


def finish_flow(started: tuple[str, Path, subprocess.Popen[str]]) -> Measured:
    label, out, process = started
    output, _ = process.communicate(timeout=300)
    summary = json.loads((out / "summary.json").read_text()) if (
        out / "summary.json").exists() else None
    if summary is None or summary["steps"].get("all") is None:
        raise SystemExit(f"{label}: the load run failed:\n{output[-3000:]}")
    if process.returncode != 0:
        print(f"  note: {label} ended with status {process.returncode}: {summary['verdict']}")
    metrics = summary["metrics"]
    return Measured(label, summary["steps"]["all"]["requests"], metrics["cpu_seconds"],
                    summary["duration_seconds"], metrics["processes"])


def run_baseline(out: Path, url: str, *, users: int, run_time: float) -> Measured:
    out.mkdir(parents=True, exist_ok=True)
    config = LoadConfig(url=url, scenario="", stages=closed_stages(users, users, run_time),
                        metrics_path=str(out / "metrics.json"))
    path = config.write(out / "config.json")
    command = LocustCommand(config_path=path, stats_prefix=out / "stats", locustfile=BASELINE,
                            stop_timeout=1)
    run_locust(command, timeout=run_time + 120, log_path=out / "locust.log", echo=None)
    stats = json.loads((out / "stats.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    requests = sum(e["num_requests"] for e in stats)
    seconds = (max(e["last_request_timestamp"] for e in stats)
               - min(e["start_time"] for e in stats))
    return Measured("plain GET", requests, metrics["cpu_seconds"], seconds,
                    metrics["processes"])


def side_by_side(tmp: Path, name: str, url: str, doubles: list[str], users: int,
                 run_time: float) -> tuple[Measured, Measured]:
    """The flow and the plain GET at once, against the same server."""
    flow = start_flow("purchase flow", tmp / f"{name}-flow", url, users=users,
                      run_time=run_time, doubles=doubles)
    time.sleep(1.5)  # the flow run's setup (reset, catalog, tokens), so that both overlap
    plain = run_baseline(tmp / f"{name}-plain", url, users=users, run_time=run_time)
    return finish_flow(flow), plain


def report(title: str, rows: list[Measured]) -> None:
    print(f"\n{title}")
    print(f"  {'user':<30}{'requests':>10}{'CPU-s':>8}{'req/CPU-s':>11}{'req/s':>9}"
          f"{'procs':>7}")
    for m in rows:
        print(f"  {m.label:<30}{m.requests:>10}{m.cpu_seconds:>8.2f}{m.per_cpu_second:>11.0f}"
              f"{m.per_second:>9.0f}{m.processes:>7}")


def verdict(values: list[float], goal: float) -> str:
    median = statistics.median(values)
    runs = ", ".join(f"{v:.2f}" for v in values)
    return f"{median:.2f} (runs: {runs}; goal >= {goal:g}: {'met' if median >= goal else 'MISSED'})"


def machine_load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--run-time", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3,
                        help="measure each figure this many times and give the median")
    parser.add_argument("--stub", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--python-stub", action="store_true",
                        help="serve the stub answers from Python even where nginx is installed")
    args = parser.parse_args()
    if args.stub:
        serve_stub(args.stub)
        return
    users, run_time = args.users, args.run_time
    print(f"before: {machine_load()}")
    ratios_ref: list[float] = []
    ratios_stub: list[float] = []
    speedups: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-load-") as name:
        tmp = Path(name)
        gateway_port, smtp_port = free_port(), free_port()
        with ReferenceShop(scenario=str(SCENARIO), admin_token=ADMIN_TOKEN,
                           webhook_secret=WEBHOOK_SECRET,
                           gateway_url=f"http://127.0.0.1:{gateway_port}", smtp_port=smtp_port,
                           worker_poll=0.1, tracing=False) as shop:
            doubles = ["--gateway-port", str(gateway_port), "--smtp-port", str(smtp_port)]
            for i in range(args.repeat):
                flow, plain = side_by_side(tmp, f"ref{i}", shop.url, doubles, users, run_time)
                report(f"against the reference implementation, at the same time ({i + 1}):",
                       [flow, plain])
                ratios_ref.append(flow.per_cpu_second / plain.per_cpu_second)
        nginx = shutil.which("nginx") and not args.python_stub
        stub_server = NginxStub() if nginx else StubServer()
        print(f"stub server: {'nginx' if nginx else 'Python epoll'}")
        with stub_server as stub:
            doubles = ["--gateway-url", stub.url, "--mailsink-url", stub.url]
            for i in range(args.repeat):
                flow, plain = side_by_side(tmp, f"stub{i}", stub.url, doubles, users, run_time)
                report(f"against the stub server, at the same time ({i + 1}):", [flow, plain])
                ratios_stub.append(flow.per_cpu_second / plain.per_cpu_second)
                one = finish_flow(start_flow("purchase flow, 1 process", tmp / f"one{i}",
                                             stub.url, users=users, run_time=run_time,
                                             doubles=doubles))
                two = finish_flow(start_flow("purchase flow, --processes 2", tmp / f"two{i}",
                                             stub.url, users=users, run_time=run_time,
                                             processes=2, doubles=doubles))
                report(f"against the stub server, one after the other ({i + 1}):", [one, two])
                speedups.append(two.per_second / one.per_second)
    print(f"\nafter: {machine_load()}")
    print("ratio of requests per CPU-second, purchase flow / plain GET:")
    print(f"  reference implementation: {verdict(ratios_ref, 0.8)}")
    print(f"  stub server:              {verdict(ratios_stub, 0.8)}")
    print(f"speed-up of requests per second with --processes 2: {verdict(speedups, 1.6)}")


if __name__ == "__main__":
    main()
