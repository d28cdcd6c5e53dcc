"""Buyers walking the purchase flow against any HTTP shop (issue 7).

``purchaseflow load`` runs this file with Locust (``docs/load.md``). It also runs on its own:

    locust -f load/locustfile.py                     # Locust's web UI, the default config
    python load/locustfile.py                        # one user, every request printed

On its own it reads ``PURCHASEFLOW_LOAD_URL`` (default http://127.0.0.1:8000, a
``purchaseflow serve`` with its default settings), ``PURCHASEFLOW_LOAD_SCENARIO`` (default
``scenarios/library/steady_mix.yaml``), ``PURCHASEFLOW_LOAD_GATEWAY_URL`` and
``PURCHASEFLOW_LOAD_ADMIN_TOKEN``; the shop must already hold the scenario's catalog.

* ``Buyer``: a ``FastHttpUser``; each of its sessions is a browsing or an order session,
  weighted by the scenario's mix (TPC-W's by default), each a Markov chain over the funnel
  (``load/funnel.py``). Closed workload: a user thinks between sessions; open workload: it
  waits for the next arrival (``load/open_workload.py``).
* ``ScenarioShape``: the load's shape apart from the users' behaviour: the closed
  workload's stages, or the open workload's pool of users.
"""

from __future__ import annotations

import os
import random
from itertools import count
from typing import Any

import numpy as np
from locust import FastHttpUser, run_single_user
from locust.exception import InterruptTaskSet, StopUser

from load.adapters import build_adapter
from load.config import (
    DEFAULT_ADMIN_TOKEN,
    DEFAULT_GATEWAY_PORT,
    DEFAULT_SCENARIO,
    DEFAULT_URL,
    LoadConfig,
    config_from_environment,
)
from load.funnel import FlowContext, session_class
from load.locust_hooks import LocustHooks, StagedShape
from load.metrics import RunMetrics
from load.plan import closed_stages
from scenarios import load_scenario


def standalone_config() -> LoadConfig:
    """The config when this file runs without ``purchaseflow load``."""
    scenario_path = os.environ.get("PURCHASEFLOW_LOAD_SCENARIO", str(DEFAULT_SCENARIO))
    load = load_scenario(scenario_path).run
    return LoadConfig(
        url=os.environ.get("PURCHASEFLOW_LOAD_URL", DEFAULT_URL),
        scenario=scenario_path,
        admin_token=os.environ.get("PURCHASEFLOW_LOAD_ADMIN_TOKEN", DEFAULT_ADMIN_TOKEN),
        gateway_url=os.environ.get("PURCHASEFLOW_LOAD_GATEWAY_URL",
                                   f"http://127.0.0.1:{DEFAULT_GATEWAY_PORT}"),
        stages=closed_stages(load.load.users, load.load.spawn_rate,
                             load.load.run_time or load.duration),
        seed=load.seed,
    )


CONFIG = config_from_environment() or standalone_config()
SCENARIO = load_scenario(CONFIG.scenario)
METRICS = RunMetrics()
CONTEXT = FlowContext(CONFIG, SCENARIO, build_adapter(CONFIG.adapter, CONFIG.url,
                                                      CONFIG.admin_token), METRICS)
HOOKS = LocustHooks(CONFIG, METRICS)
HOOKS.install()

_user_numbers = count()


class Buyer(FastHttpUser):
    # An adapter's call paths are relative to its own base URL (a shop under a prefix).
    host = getattr(CONTEXT.adapter, "base_url", CONFIG.url)
    tasks = (session_class(CONTEXT),)  # type: ignore[assignment]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # No cookie jar: as with the suite's transport, a shop's session cookie is the
        # adapter's to keep and send, never the client's to replay (and it costs every
        # request two passes of http.cookiejar).
        self.client.client.cookiejar = None
        runner = self.environment.runner
        worker = max(0, getattr(runner, "worker_index", 0)) if runner is not None else 0
        # One stream per user, reproducible from the run's seed.
        seed = [CONFIG.seed, worker, next(_user_numbers)]
        self.rng = random.Random("/".join(map(str, seed)))
        self.np_rng = np.random.default_rng(seed)
        self.sessions = 0
        self.holding_arrival = False

    def wait_time(self) -> float:
        """Between two sessions: think (closed), or wait for the next arrival (open).

        Waiting happens here, not in a task, so that a stopping run ends a waiting user at
        once instead of granting it ``--stop-timeout``.
        """
        if HOOKS.open is not None:
            HOOKS.gate.take()
            self.holding_arrival = True
            return 0.0
        return CONTEXT.think_seconds(self.np_rng)

    def before_session(self) -> None:
        """Called as each session starts."""
        if CONFIG.max_sessions is not None and self.sessions >= CONFIG.max_sessions:
            raise StopUser()
        if HOOKS.open is not None:
            if not self.holding_arrival:
                # A user just spawned: its first session waits for an arrival too.
                raise InterruptTaskSet(reschedule=False)
            self.holding_arrival = False
        self.sessions += 1


class ScenarioShape(StagedShape):
    stages = CONFIG.stages


if __name__ == "__main__":
    run_single_user(Buyer)
