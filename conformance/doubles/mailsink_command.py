"""``purchaseflow mailsink``: run the SMTP sink and its HTTP API until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
from typing import Any

from conformance.doubles._cli import StopSignals, port_number
from reference_impl.cli import CommandError

DEFAULT_SMTP_PORT = 8025  # aiosmtpd's own default
DEFAULT_HTTP_PORT = 8026


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "mailsink",
        help="run the SMTP sink that records every message (HTTP API: GET /messages)",
        description="Run the SMTP sink on 127.0.0.1 until Ctrl-C or SIGTERM.",
    )
    parser.add_argument("--smtp-port", type=port_number, default=DEFAULT_SMTP_PORT,
                        help="0 picks a free port")
    parser.add_argument("--http-port", type=port_number, default=DEFAULT_HTTP_PORT,
                        help="0 picks a free port")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Imported here, not at the top: building the parser must stay fast (see _cli.py);
    # for the same reason this module lives outside the mailsink package.
    from conformance.doubles.mailsink.server import MailSink

    sink = MailSink(smtp_port=args.smtp_port, http_port=args.http_port)
    with StopSignals() as signals:
        try:
            sink.start()
        except (RuntimeError, TimeoutError) as exc:  # before OSError: TimeoutError is one
            raise CommandError(str(exc), exit_code=1) from None
        except OSError as exc:
            ports = f"SMTP port {args.smtp_port}, HTTP port {args.http_port}"
            raise CommandError(
                f"cannot listen on 127.0.0.1 ({ports}): {exc.strerror or exc}"
            ) from None
        try:
            print(f"mail sink SMTP on {sink.smtp_host}:{sink.smtp_port}", flush=True)
            print(f"mail sink HTTP API on {sink.http_url}/messages", flush=True)
            signum = signals.wait(alive=lambda: sink.running)
        finally:
            sink.stop()
    if signum is None:
        raise CommandError("the server stopped unexpectedly", exit_code=1)
    print("mail sink stopped", flush=True)
    return 0
