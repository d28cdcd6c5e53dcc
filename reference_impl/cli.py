"""The ``purchaseflow`` console script.

Subcommands are plugins found through the ``purchaseflow.commands`` entry-point group, so
this module never imports the harness packages above it (DESIGN.md section 2). A plugin is
a callable ``register(subparsers)`` that adds one parser and sets ``handler`` on it with
``parser.set_defaults(handler=fn)``; ``fn(args)`` returns the exit code.

Errors reach the user as one readable line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points

EXIT_USAGE = 2


class CommandError(Exception):
    """Raised by a subcommand for a failure the user can act on; printed as one line."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def fraction_argument(option: str, text: str) -> float:
    """An option's share, as a fraction or a percentage: ``0.05`` or ``5%``."""
    clean = text.strip()
    try:
        return float(clean[:-1]) / 100 if clean.endswith("%") else float(clean)
    except ValueError:
        raise CommandError(
            f"{option} expects a number or a percentage (0.05, 5%), not {text!r}"
        ) from None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="purchaseflow",
        description="Simulation and conformance harness for e-commerce purchase flows.",
    )
    subparsers = parser.add_subparsers(
        title="commands", dest="command", metavar="COMMAND", parser_class=_Parser
    )
    for entry in sorted(entry_points(group="purchaseflow.commands"), key=lambda e: e.name):
        register: Callable[[argparse._SubParsersAction[_Parser]], None]
        try:
            register = entry.load()
        except Exception as exc:
            # One broken plugin (often stale entry points: reinstall) must not take down
            # every other command.
            print(f"purchaseflow: command {entry.name!r} is unavailable: {exc}", file=sys.stderr)
            continue
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(handler(args) or 0)
    except CommandError as exc:
        print(f"purchaseflow {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"purchaseflow {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    # Through the package, so that the CommandError plugins raise is the one caught here
    # (run as __main__, this module's own classes are different objects).
    from reference_impl.cli import main as package_main

    sys.exit(package_main())
