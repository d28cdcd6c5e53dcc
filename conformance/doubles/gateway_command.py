"""``purchaseflow gateway``: run the payment gateway double until Ctrl-C or SIGTERM.

Fault flags are layered over ``--faults FILE`` (a flag wins over the file), and the result
is validated as a whole, so a bad file or flag is one readable line and exit status 2.
"""

from __future__ import annotations

import argparse
from typing import Any

from conformance.doubles._cli import StopSignals, port_number
from reference_impl.cli import CommandError
from reference_impl.domain.policies import WebhookDialect
from reference_impl.http.gc_tuning import tune_for_serving

DEFAULT_PORT = 8070


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "gateway",
        help="run the payment gateway double (Stripe-like, signed webhooks, faults)",
        description=(
            "Run the payment gateway double on 127.0.0.1 until Ctrl-C or SIGTERM. "
            "See docs/doubles.md for the API and the fault file format."
        ),
    )
    parser.add_argument(
        "--port", type=port_number, default=DEFAULT_PORT, help="0 picks a free port"
    )
    parser.add_argument("--webhook-url", help="the SUT's webhook URL (loopback only)")
    parser.add_argument(
        "--secret", help="webhook signing secret (default whsec_purchaseflow_test)"
    )
    parser.add_argument(
        "--dialect", choices=[d.value for d in WebhookDialect], default=WebhookDialect.GENERIC
    )
    parser.add_argument("--faults", metavar="FILE", help="fault configuration, YAML or JSON")
    parser.add_argument("--state", metavar="FILE", help="persist sessions, log and pending "
                        "deliveries here and resume them after a restart")

    retry = parser.add_argument_group("webhook delivery")
    retry.add_argument("--max-attempts", type=int, help="attempts per delivery (default 8)")
    retry.add_argument("--backoff", type=float, metavar="SECONDS",
                       help="first retry backoff (default 1), doubled each time")
    retry.add_argument("--max-backoff", type=float, metavar="SECONDS", help="default 60")
    retry.add_argument("--attempt-timeout", type=float, metavar="SECONDS", help="default 5")

    faults = parser.add_argument_group("faults (override --faults)")
    faults.add_argument("--seed", type=int)
    faults.add_argument("--latency", metavar="SPEC",
                        help="fixed:S, uniform:LOW:HIGH or exponential:MEAN[:CAP] seconds")
    faults.add_argument("--decline-rate", type=float, metavar="R")
    faults.add_argument("--error-rate", type=float, metavar="R", help="5xx on create")
    faults.add_argument("--timeout-rate", type=float, metavar="R", help="held response on create")
    faults.add_argument("--timeout-seconds", type=float, metavar="S", help="how long it is held")
    faults.add_argument("--outage", action="append", metavar="START:END",
                        help="503 from START to END seconds after start; repeatable")
    faults.add_argument("--webhook-delay", type=float, metavar="S")
    faults.add_argument("--webhook-delay-rate", type=float, metavar="R",
                        help="share of events delayed (default 1)")
    faults.add_argument("--duplicates", type=int, metavar="N", help="copies of an event")
    faults.add_argument("--duplicate-rate", type=float, metavar="R",
                        help="share of events duplicated (default 1)")
    faults.add_argument("--concurrent-duplicates", action="store_true", default=None)
    faults.add_argument("--reorder-window", type=int, metavar="N")
    faults.add_argument("--reorder", choices=["reverse", "shuffle"], dest="reorder_order")
    faults.add_argument("--drop-first", type=int, metavar="N")
    faults.add_argument("--stale-seconds", type=int, metavar="N")
    faults.add_argument("--stale-rate", type=float, metavar="R",
                        help="share of attempts signed stale (default 1)")
    faults.add_argument("--wrong-signature-rate", type=float, metavar="R")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Imported here, not at the top: building the parser must stay fast (see _cli.py);
    # for the same reason this module lives outside the gateway package.
    from pydantic import ValidationError

    from conformance.doubles.gateway.config import (
        DEFAULT_SECRET,
        DeliveryPolicy,
        check_loopback_url,
    )
    from conformance.doubles.gateway.faults import (
        FaultsError,
        describe_validation_error,
        load_faults,
    )
    from conformance.doubles.gateway.server import GatewayDouble
    from conformance.doubles.gateway.store import StateError

    if args.webhook_url is not None:
        try:
            check_loopback_url(args.webhook_url)
        except ValueError as exc:
            raise CommandError(f"--webhook-url: {exc}") from None
    try:
        faults = load_faults(args.faults, fault_overrides(args))
    except FaultsError as exc:
        raise CommandError(f"invalid faults: {exc}") from None
    retry = {
        key: value
        for key, value in (
            ("max_attempts", args.max_attempts),
            ("initial_backoff", args.backoff),
            ("max_backoff", args.max_backoff),
            ("attempt_timeout", args.attempt_timeout),
        )
        if value is not None
    }
    try:
        policy = DeliveryPolicy.model_validate(retry)
    except ValidationError as exc:
        raise CommandError(f"invalid delivery settings: {describe_validation_error(exc)}") from None
    try:
        double = GatewayDouble(
            webhook_url=args.webhook_url,
            secret=args.secret or DEFAULT_SECRET,
            dialect=args.dialect,
            faults=faults,
            delivery=policy,
            state_file=args.state,
            port=args.port,
        )
    except StateError as exc:
        raise CommandError(str(exc)) from None
    with StopSignals() as signals:
        try:
            double.start()
        except (RuntimeError, TimeoutError) as exc:  # before OSError: TimeoutError is one
            raise CommandError(str(exc), exit_code=1) from None
        except OSError as exc:
            raise CommandError(
                f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror}"
            ) from None
        # This process only serves now: the shop's collector settings, for the same reason
        # (a full collection of the built app stopped the loop for tens of milliseconds).
        tune_for_serving()
        try:
            target = args.webhook_url or "none yet (PUT /_control/webhook)"
            print(f"gateway double listening on {double.url}", flush=True)
            print(f"webhooks: {args.dialect} to {target}", flush=True)
            signum = signals.wait(alive=lambda: double.running)
        finally:
            double.stop()
    if signum is None:
        raise CommandError("the server stopped unexpectedly", exit_code=1)
    print("gateway double stopped", flush=True)
    return 0


def fault_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The nested fault settings given as flags, to merge over the file's."""
    out: dict[str, Any] = {}

    def put(path: str, value: Any) -> None:
        if value is None:
            return
        *parents, leaf = path.split(".")
        node = out
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value

    put("seed", args.seed)
    put("latency", parse_latency(args.latency) if args.latency else None)
    put("decline_rate", args.decline_rate)
    put("create.error_rate", args.error_rate)
    put("create.timeout_rate", args.timeout_rate)
    put("create.timeout_seconds", args.timeout_seconds)
    put("outages", [parse_outage(o) for o in args.outage] if args.outage else None)
    put("webhook.delay_seconds", args.webhook_delay)
    put("webhook.delay_rate", args.webhook_delay_rate)
    put("webhook.duplicates.copies", args.duplicates)
    put("webhook.duplicates.rate", args.duplicate_rate)
    put("webhook.duplicates.concurrent", args.concurrent_duplicates)
    put("webhook.reorder.window", args.reorder_window)
    put("webhook.reorder.order", args.reorder_order)
    put("webhook.drop_first", args.drop_first)
    put("webhook.stale_seconds", args.stale_seconds)
    put("webhook.stale_rate", args.stale_rate)
    put("webhook.wrong_signature_rate", args.wrong_signature_rate)
    return out


def parse_latency(spec: str) -> dict[str, Any]:
    kind, _, rest = spec.partition(":")
    names = {"fixed": ["seconds"], "uniform": ["low", "high"], "exponential": ["mean", "cap"]}
    if kind not in names or not rest:
        raise CommandError(
            f"--latency {spec!r}: use fixed:S, uniform:LOW:HIGH or exponential:MEAN[:CAP]"
        )
    values = rest.split(":")
    if len(values) > len(names[kind]) or (kind == "uniform" and len(values) != 2):
        raise CommandError(f"--latency {spec!r}: wrong number of values for {kind}")
    try:
        numbers = [float(v) for v in values]
    except ValueError:
        raise CommandError(f"--latency {spec!r}: values must be numbers of seconds") from None
    return {"distribution": kind, **dict(zip(names[kind], numbers, strict=False))}


def parse_outage(spec: str) -> dict[str, float]:
    start, sep, end = spec.partition(":")
    try:
        if not sep:
            raise ValueError
        return {"start": float(start), "end": float(end)}
    except ValueError:
        raise CommandError(f"--outage {spec!r}: use START:END in seconds") from None
