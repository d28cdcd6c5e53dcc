"""``purchaseflow load``: Locust load scenarios with an invariant audit after every run.

    purchaseflow load --url URL --scenario FILE [--users N --spawn-rate R --run-time T]
    purchaseflow load --reference --scenario FILE --headless --run-time 30s

Standard library only at import: every ``purchaseflow`` invocation builds this parser. The
run itself is ``load/run.py``; ``docs/load.md`` is the performance tester's guide.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

from conformance.doubles._cli import port_number
from load.config import (
    DEFAULT_ADAPTER,
    DEFAULT_ADMIN_TOKEN,
    DEFAULT_GATEWAY_PORT,
    DEFAULT_SMTP_PORT,
    DEFAULT_WEBHOOK_SECRET,
    parse_duration,
)

EXAMPLES = """\
examples:
  purchaseflow load --reference --scenario scenarios/seeds/seed_001_order_checkout.yaml \\
      --headless --users 20 --run-time 1m --threshold 'create_order:p95<500ms'
  purchaseflow load --url http://127.0.0.1:8000 --scenario scenarios/library/steady_mix.yaml \\
      --headless --arrival-rate 20 --users 50 --run-time 2m --processes 2
  purchaseflow load --url http://127.0.0.1:8000 --scenario FILE --master --expect-workers 2
  purchaseflow load --url http://SHOP:8000 --scenario FILE --worker --master-host MASTER

exit status: 0 passed, 1 a threshold broken, 2 bad options, 3 an invariant broken,
4 the load generator failed, 5 slower than --baseline. See docs/load.md.
"""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _processes(text: str) -> int:
    if text.strip() == "-1":
        return os.cpu_count() or 1
    return _positive_int(text)


def _number(minimum: float, *, strict: bool) -> Any:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < minimum or (strict and value == minimum):
            raise argparse.ArgumentTypeError(
                f"must be {'>' if strict else '>='} {minimum:g}, not {text}")
        return value

    return parse


def _in_range(convert: Callable[[str], float], low: float, high: float) -> Any:
    """An argparse type: ``convert(text)``, from ``low`` to ``high``."""
    noun = "whole number" if convert is int else "number"

    def parse(text: str) -> float:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a {noun}: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low:g} to {high:g}, not {text}")
        return value

    return parse


def _duration(text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be longer than 0 s: {text!r}")
    return seconds


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "load", help="Locust load scenarios against any shop, with an invariant audit after",
        description=(__doc__ or "").splitlines()[0], epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)

    shop = parser.add_argument_group("the shop under test")
    where = shop.add_mutually_exclusive_group()
    where.add_argument("--url", help="the shop's base URL")
    where.add_argument("--reference", action="store_true",
                       help="start the reference implementation in the scenario's profile")
    shop.add_argument("--scenario", required=True, metavar="FILE",
                      help="scenario file: catalog, buyers, mixes, funnel, load settings")
    shop.add_argument("--adapter", default=DEFAULT_ADAPTER, metavar="MODULE:CLASS",
                      help="the shop's adapter, built as CLASS(url, admin_token=...) "
                           "(default: %(default)s)")
    shop.add_argument("--admin-token",
                      default=os.environ.get("PURCHASEFLOW_ADMIN_TOKEN", DEFAULT_ADMIN_TOKEN),
                      help="the shop's admin token (env PURCHASEFLOW_ADMIN_TOKEN)")
    shop.add_argument("--keep-data", action="store_true",
                      help="do not reset the shop and load the scenario's data first")
    shop.add_argument("--buyers", type=_positive_int, default=100, metavar="N",
                      help="buyer accounts the users log in as (default: %(default)s)")
    shop.add_argument("--shop-workers", type=_positive_int, default=1, metavar="N",
                      help="with --reference: server worker processes (default: 1)")
    shop.add_argument("--shop-database-url", metavar="URL",
                      help="with --reference: the shop's database (SQLAlchemy URL, e.g. "
                           "postgresql+psycopg://...; the run resets it; default: a new "
                           "SQLite file)")
    shop.add_argument("--shop-writer-priority", type=_in_range(int, 0, 39), default=0,
                      metavar="N",
                      help="with --reference: serve --writer-priority N (Linux, needs "
                           "CAP_SYS_NICE; default 0)")

    workload = parser.add_argument_group("workload (defaults: the scenario's run.load)")
    workload.add_argument("--users", type=_positive_int, metavar="N",
                          help="concurrent users (open workload: the most at once)")
    workload.add_argument("--spawn-rate", type=_number(0, strict=True), metavar="R",
                          help="users started per second")
    workload.add_argument("--run-time", type=_duration, metavar="T",
                          help="how long to load: 90, 90s, 2m, 1h30m")
    workload.add_argument("--stage", action="append", default=[], metavar="T:USERS[:RATE]",
                          help="closed workload in stages (repeatable), e.g. 30s:10 1m:50")
    workload.add_argument("--arrival-rate", type=_number(0, strict=True), metavar="R",
                          help="open workload: buyers arriving per second")
    model = workload.add_mutually_exclusive_group()
    model.add_argument("--open", action="store_true",
                       help="open workload at the scenario's arrival rate, with its bursts")
    model.add_argument("--closed", action="store_true",
                       help="closed workload even when the scenario's run.load gives an "
                            "arrival rate")
    workload.add_argument("--arrivals", choices=("poisson", "constant"), default="poisson",
                          help="open workload: how arrivals are spaced (default: poisson)")
    workload.add_argument("--mix", metavar="NAME", help="one of the scenario's buyers.mixes")
    workload.add_argument("--think-time-scale", type=_number(0, strict=False), default=1.0,
                          metavar="F", help="multiply think times by F (0: none)")
    workload.add_argument("--seed", type=int, help="random seed (default: run.seed)")
    workload.add_argument("--retries", type=_in_range(int, 0, 10), default=0, metavar="N",
                          help="send a checkout again up to N times, with the same "
                               "Idempotency-Key, after no answer, a 429 or a 5xx "
                               "(default: 0)")
    workload.add_argument("--retry-backoff", type=_number(0, strict=True), default=0.5,
                          metavar="S", help="seconds before the first retry, doubled at each "
                                            "next, unless the shop's Retry-After says "
                                            "(default: %(default)s)")
    workload.add_argument("--lose-answers", type=_in_range(float, 0, 1), default=0.0,
                          metavar="P",
                          help="relay the users through a link that drops the shop's answer "
                               "to a share P (0 to 1) of the requests sent with an "
                               "Idempotency-Key, after the shop did the work (with "
                               "--retries: idempotency under lost answers)")

    spread = parser.add_argument_group("distributed load")
    role = spread.add_mutually_exclusive_group()
    role.add_argument("--processes", type=_processes, metavar="N",
                      help="N Locust worker processes on this machine (-1: one per core)")
    role.add_argument("--master", action="store_true",
                      help="run the Locust master; workers connect with --worker")
    role.add_argument("--worker", action="store_true",
                      help="run a Locust worker for the master at --master-host")
    spread.add_argument("--expect-workers", type=_positive_int, default=1, metavar="N")
    spread.add_argument("--master-host", default="127.0.0.1")
    spread.add_argument("--master-port", type=port_number, default=5557)
    spread.add_argument("--master-bind-host", default="127.0.0.1",
                        help="interface the master listens on (default: loopback only)")

    reports = parser.add_argument_group("reports")
    reports.add_argument("--out", default="purchaseflow-load", metavar="DIR",
                         help="folder for the reports (default: %(default)s)")
    reports.add_argument("--html", metavar="FILE", help="Locust's HTML report (default: "
                                                        "DIR/report.html)")
    reports.add_argument("--csv", metavar="PREFIX", help="Locust's CSV files (default: "
                                                         "DIR/locust)")
    reports.add_argument("--headless", action="store_true",
                         help="no web UI (without it, Locust's web UI shows the run)")
    reports.add_argument("--web-host", default="127.0.0.1")
    reports.add_argument("--web-port", type=port_number, default=8089)
    reports.add_argument("--web-linger", type=_positive_int, default=30, metavar="S",
                         help="seconds the web UI stays up after the run (default: 30)")
    reports.add_argument("--quiet", action="store_true",
                         help="Locust's own output only in DIR/locust.log")
    reports.add_argument("--baseline", metavar="DIR",
                         help="compare this run with an earlier run's --out folder, as "
                              "purchaseflow load-diff does, and exit 5 on a regression")
    reports.add_argument("--threshold", action="append", default=[], metavar="EXPR",
                         help="fail the run unless EXPR holds, e.g. 'create_order:p95<500ms', "
                              "'failures<1%%' (repeatable; default: failures<1%%)")

    doubles = parser.add_argument_group("gateway double and mail sink")
    doubles.add_argument("--gateway-url", metavar="URL",
                         help="a running gateway double (default: start one)")
    doubles.add_argument("--gateway-port", type=port_number, default=DEFAULT_GATEWAY_PORT,
                         help="port of the gateway double this run starts (default: "
                              "%(default)s, where purchaseflow serve looks)")
    doubles.add_argument("--mailsink-url", metavar="URL",
                         help="HTTP API of a running mail sink (default: start one)")
    doubles.add_argument("--smtp-port", type=port_number, default=DEFAULT_SMTP_PORT,
                         help="SMTP port of the mail sink this run starts (default: %(default)s)")
    doubles.add_argument("--webhook-secret",
                         default=os.environ.get("PURCHASEFLOW_WEBHOOK_SECRET",
                                                DEFAULT_WEBHOOK_SECRET),
                         help="secret the gateway double signs webhooks with")

    after = parser.add_argument_group("after the run")
    after.add_argument("--stop-timeout", type=_number(0, strict=False), default=10.0,
                       metavar="S", help="seconds users get to finish a request at the end")
    after.add_argument("--settle-timeout", type=_number(0, strict=False), default=60.0,
                       metavar="S", help="longest wait for the shop to come to rest before "
                                         "the audit (default: 60)")
    after.add_argument("--ttl-grace", type=_number(0, strict=False), default=10.0, metavar="S",
                       help="how long past its expiry an unpaid order may stay pending (I11)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from load.run import execute

    return execute(args)
