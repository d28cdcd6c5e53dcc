"""What ``purchaseflow load`` hands to the Locust processes: one JSON file, named by an env var.

Locust runs in a subprocess (``import locust`` monkey-patches the whole process with
gevent), so the CLI cannot pass Python objects to it. It writes a ``LoadConfig`` as JSON and
sets ``PURCHASEFLOW_LOAD_CONFIG`` to its path; every Locust process (master, local workers
forked by ``--processes``, workers on other machines started by ``purchaseflow load
--worker``) reads it at import. Without the variable the locustfile builds a default config
from ``PURCHASEFLOW_LOAD_*`` variables, so that ``locust -f load/locustfile.py`` and
``python load/locustfile.py`` (``run_single_user``) work on their own.

Standard library only: the CLI imports this module to build its parser.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

CONFIG_ENV = "PURCHASEFLOW_LOAD_CONFIG"
#: The defaults of ``purchaseflow serve`` (reference_impl/config.py), so that a shop started
#: with no settings and the doubles started by ``purchaseflow load`` find each other.
DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_ADMIN_TOKEN = "dev-admin-token"
DEFAULT_WEBHOOK_SECRET = "whsec_dev_secret"
DEFAULT_GATEWAY_PORT = 8780
DEFAULT_SMTP_PORT = 8025
DEFAULT_ADAPTER = "conformance.adapters:CanonicalAdapter"
DEFAULT_SCENARIO = Path(__file__).resolve().parents[1] / "scenarios/library/steady_mix.yaml"


@dataclass(frozen=True, slots=True)
class Stage:
    """Until ``until`` seconds into the run, hold ``users`` users, spawned at ``spawn_rate``/s."""

    until: float
    users: int
    spawn_rate: float


@dataclass(frozen=True, slots=True)
class Burst:
    """``buyers`` arrivals spread at random over [at, at + over) seconds of the open run."""

    at: float
    buyers: int
    over: float


@dataclass(frozen=True, slots=True)
class OpenWorkload:
    """Arrivals per second (Poisson or evenly spaced) and bursts, for ``run_time`` seconds.

    Dispatching starts ``start_after`` seconds into the test, once the pool of users is
    spawned, so that the ramp-up is not counted as dropped arrivals.
    """

    rate: float
    run_time: float
    start_after: float
    bursts: tuple[Burst, ...] = ()
    poisson: bool = True

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OpenWorkload:
        fields = dict(data)
        bursts = tuple(Burst(**b) for b in fields.pop("bursts", ()))
        return cls(bursts=bursts, **fields)


@dataclass(frozen=True, slots=True)
class LoadConfig:
    url: str
    scenario: str
    adapter: str = DEFAULT_ADAPTER
    admin_token: str = DEFAULT_ADMIN_TOKEN
    gateway_url: str = f"http://127.0.0.1:{DEFAULT_GATEWAY_PORT}"
    #: A key of ``scenario.buyers.mixes``; None is the scenario's own ``buyers.mix``.
    mix: str | None = None
    #: Think times are multiplied by this (0: no think time, the generator at full speed).
    think_scale: float = 1.0
    seed: int = 0
    #: Buyer ids the users log in as, and their headers (minted once by the CLI).
    buyers: tuple[str, ...] = ()
    auth: dict[str, dict[str, str]] = field(default_factory=dict)
    #: The load's shape (``LoadTestShape``): closed stages, or the open pool.
    stages: tuple[Stage, ...] = ()
    open: OpenWorkload | None = None
    #: Where the master (or the only process) writes the run's own metrics (JSON).
    metrics_path: str | None = None
    #: Each user stops after this many sessions (debugging, ``run_single_user``).
    max_sessions: int | None = None
    #: Tries of a checkout after a transient failure, same Idempotency-Key (``retrying.py``).
    retries: int = 0
    #: The first retry's pause in seconds, doubled at each next, unless Retry-After says.
    retry_backoff: float = 0.5

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> LoadConfig:
        data: dict[str, Any] = json.loads(text)
        stages = tuple(Stage(**s) for s in data.pop("stages", ()))
        open_data = data.pop("open", None)
        open_workload = OpenWorkload.from_json(open_data) if open_data is not None else None
        return cls(stages=stages, open=open_workload, buyers=tuple(data.pop("buyers", ())),
                   **data)

    def write(self, path: Path) -> Path:
        path.write_text(self.to_json(), encoding="utf-8")
        return path


def config_from_environment(environ: dict[str, str] | None = None) -> LoadConfig | None:
    """The config named by ``PURCHASEFLOW_LOAD_CONFIG``, or None when it is not set."""
    environ = dict(os.environ) if environ is None else environ
    path = environ.get(CONFIG_ENV)
    if not path:
        return None
    return LoadConfig.from_json(Path(path).read_text(encoding="utf-8"))


_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?$")


def parse_duration(text: str) -> float:
    """Seconds in ``90``, ``90s``, ``2m``, ``1h30m``, ``1m30s`` (Locust's ``--run-time``)."""
    match = _DURATION.match(text.strip())
    if not text.strip() or match is None or not any(match.groups()):
        raise ValueError(f"not a duration: {text!r} (e.g. 30, 30s, 2m, 1h30m)")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds
