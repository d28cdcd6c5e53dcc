"""The settings of a conformance run, shared by ``purchaseflow check`` and the pytest plugin,
and the checks that need no harness (options valid, something speaking HTTP at the URL).

Kept free of heavy imports: the pytest plugin reads ``OPTIONS`` at every pytest start, and
a mistyped URL must fail in a moment, before Schemathesis and Hypothesis are loaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Any

import httpx

#: The canonical adapter, as ``--adapter`` spells it.
CANONICAL = "conformance.adapters:CanonicalAdapter"
#: The default budget (seconds) and the phases of a run, in order (conformance/suite.py).
DEFAULT_BUDGET = 90.0
PHASES: tuple[str, ...] = ("walks", "races", "schema", "exploration")

#: The reference implementation's development defaults (reference_impl/config.py), so that
#: ``purchaseflow serve`` and ``purchaseflow check`` work together without flags.
DEFAULT_ADMIN_TOKEN = "dev-admin-token"
DEFAULT_WEBHOOK_SECRET = "whsec_dev_secret"
DEFAULT_GATEWAY_PORT = 8780
DEFAULT_SMTP_PORT = 8025


class HarnessError(Exception):
    """The run could not start: bad options, the SUT unreachable, a double's port taken."""


@dataclass
class CheckConfig:
    url: str
    scenario: str | None = None
    adapter: str = CANONICAL
    admin_token: str = DEFAULT_ADMIN_TOKEN
    webhook_secret: str = DEFAULT_WEBHOOK_SECRET
    gateway_url: str | None = None
    gateway_port: int = DEFAULT_GATEWAY_PORT
    mail_url: str | None = None
    smtp_port: int = DEFAULT_SMTP_PORT
    deliver: str = "auto"
    only: str | None = None
    max_examples: int | None = None
    budget: float = DEFAULT_BUDGET
    seed: int = 0
    phases: str = ",".join(PHASES)
    report_dir: str = "purchaseflow-report"
    junit: str | None = None
    fail_fast: bool = False


#: (name, type, help) of every setting; the defaults are CheckConfig's.
OPTIONS: tuple[tuple[str, type, str], ...] = (
    ("url", str, "base URL of the shop under test"),
    ("scenario", str, "scenario file: the profile the shop claims (default: the seed "
                      "scenario whose profile the shop's /healthz names)"),
    ("adapter", str, "module:Class of the shop's adapter, called as Class(url, "
                     "admin_token=...) (default: the canonical contract)"),
    ("admin_token", str, "the shop's harness admin token (env PURCHASEFLOW_ADMIN_TOKEN)"),
    ("webhook_secret", str, "the shop's webhook signing secret (env "
                            "PURCHASEFLOW_WEBHOOK_SECRET)"),
    ("gateway_url", str, "a running gateway double (purchaseflow gateway) the shop calls"),
    ("gateway_port", int, "else start the gateway double on this port (the shop's "
                          "gateway URL must point there)"),
    ("mail_url", str, "a running mail sink's HTTP API (purchaseflow mailsink)"),
    ("smtp_port", int, "else start the mail sink's SMTP server on this port"),
    ("deliver", str, "payments' webhooks: 'gateway' (the double calls the shop), 'direct' "
                     "(the harness signs and sends them), or 'auto'"),
    ("only", str, "check only these invariants, e.g. I1,I3,C1"),
    ("max_examples", int, "Hypothesis examples of the exploration (and Schemathesis' per "
                          "operation); the budget still applies"),
    ("budget", float, "seconds for the whole run (default %(default)s)"),
    ("seed", int, "random seed; the same seed replays the same run"),
    ("phases", str, "comma-separated phases to run: walks,races,schema,exploration"),
    ("report_dir", str, "where the report goes"),
    ("junit", str, "also write JUnit XML here (default: REPORT_DIR/junit.xml)"),
    ("fail_fast", bool, "stop at the first violated invariant"),
)


def config_from(values: dict[str, Any]) -> CheckConfig:
    """A CheckConfig from parsed options, None meaning "the default"."""
    known = {f.name for f in fields(CheckConfig)}
    given = {k: v for k, v in values.items() if k in known and v is not None}
    given.setdefault("admin_token", os.environ.get("PURCHASEFLOW_ADMIN_TOKEN",
                                                   DEFAULT_ADMIN_TOKEN))
    given.setdefault("webhook_secret", os.environ.get("PURCHASEFLOW_WEBHOOK_SECRET",
                                                      DEFAULT_WEBHOOK_SECRET))
    return CheckConfig(**given)




def probe(url: str) -> None:
    """HarnessError in one line unless something answering HTTP listens at ``url``."""
    try:
        httpx.get(url.rstrip("/") + "/", timeout=10.0, trust_env=False)
    except httpx.ConnectError as exc:
        raise HarnessError(f"cannot connect to {url}: {exc} (is the shop running?)") from None
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.LocalProtocolError) as exc:
        raise HarnessError(f"{url} does not speak HTTP: {exc}") from None
    except httpx.TimeoutException:
        raise HarnessError(f"{url} did not answer within 10 s") from None
    except httpx.HTTPError as exc:
        raise HarnessError(f"{url}: {type(exc).__name__}: {exc}") from None


def preflight(config: CheckConfig) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
    """Validate the options and probe the URL: ``(only, phases)`` or HarnessError."""
    from conformance.invariants import parse_only

    try:
        only = parse_only(config.only)
    except ValueError as exc:
        raise HarnessError(str(exc)) from None
    phases = tuple(p.strip() for p in config.phases.split(",") if p.strip())
    unknown = [p for p in phases if p not in PHASES]
    if unknown:
        raise HarnessError(f"unknown phase(s) {', '.join(unknown)}; known: {', '.join(PHASES)}")
    if config.deliver not in ("auto", "gateway", "direct"):
        raise HarnessError("--deliver must be auto, gateway or direct")
    probe(config.url)
    return only, phases
