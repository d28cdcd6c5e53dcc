"""``purchaseflow check --url URL``: the conformance suite against any shop's HTTP API.

The exit statuses are in ``EPILOG`` (printed by ``--help``).
"""

from __future__ import annotations

import argparse
from typing import Any

from reference_impl.cli import CommandError

EPILOG = """exit status:
  0  every checked invariant held (the report says which did not apply, and why)
  1  an invariant was violated: the report has the minimal sequence and a replay script
  2  the harness or the shop failed: unreachable, not speaking HTTP, setup refused

The shop must call the gateway double and send mail to the sink: by default this command
starts both on the reference implementation's default ports (gateway 127.0.0.1:8780, SMTP
127.0.0.1:8025); --gateway-url and --mail-url use running ones instead. Guide:
docs/conformance.md."""


def register(subparsers: Any) -> None:
    from conformance.check_options import OPTIONS, CheckConfig

    parser = subparsers.add_parser(
        "check", help="check a shop's HTTP API against the purchase-flow invariants",
        description=__doc__.splitlines()[0] if __doc__ else None, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = CheckConfig(url="")
    for name, kind, text in OPTIONS:
        flag = "--" + name.replace("_", "-")
        default = getattr(defaults, name)
        if kind is bool:
            parser.add_argument(flag, action="store_true", default=None, help=text)
        elif name == "url":
            parser.add_argument(flag, required=True, help=text)
        else:
            shown = f" (default {default})" if default not in (None, "") and "default" not in \
                text else ""
            parser.add_argument(flag, type=kind, default=None,
                                help=text.replace("%(default)s", str(default)) + shown)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from conformance.check_options import HarnessError, config_from, preflight

    config = config_from(vars(args))
    try:
        preflight(config)  # a wrong URL or option fails before the harness loads
        from conformance.check_run import run_check

        report = run_check(config)
    except HarnessError as exc:
        raise CommandError(str(exc), 2) from None
    print(f"purchaseflow check: {report.summary_line()}")
    for verdict in report.verdicts.values():
        if verdict.status == "failed":
            first = verdict.findings[0] if verdict.findings else ""
            print(f"  {verdict.invariant} {verdict.title}: {first}")
    for error in report.errors:
        print(f"  harness: {error}")
    if "markdown" in report.files:
        print(f"report: {report.files['markdown'].resolve()}")
    return report.exit_code
