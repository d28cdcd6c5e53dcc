"""The yardstick for the purchase-flow users: a plain ``FastHttpUser`` GET, nothing else.

``benchmarks/bench_load.py`` runs it beside ``load/locustfile.py`` against the same server
and compares requests per CPU-second: what walking the flow through the adapters costs on
top of Locust's own client. It takes the same config (``PURCHASEFLOW_LOAD_CONFIG``: the
URL, the shape, where to write the metrics) and measures its CPU the same way; on its own
it GETs ``PURCHASEFLOW_LOAD_URL`` (default http://127.0.0.1:8000) ``/products``.

    python load/baseline_locustfile.py
"""

from __future__ import annotations

import os

from locust import FastHttpUser, run_single_user, task

from load.config import DEFAULT_URL, LoadConfig, Stage, config_from_environment
from load.locust_hooks import LocustHooks, StagedShape
from load.metrics import RunMetrics

#: The same request as the users' ``list_products`` (``CanonicalAdapter``).
PATH = "/products?limit=100"

CONFIG = config_from_environment() or LoadConfig(
    url=os.environ.get("PURCHASEFLOW_LOAD_URL", DEFAULT_URL), scenario="",
    stages=(Stage(60, 10, 10),))
METRICS = RunMetrics()
LocustHooks(CONFIG, METRICS).install()


class PlainGet(FastHttpUser):
    host = CONFIG.url

    @task
    def get(self) -> None:
        self.client.get(PATH, name="plain_get")


class BaselineShape(StagedShape):
    stages = CONFIG.stages


if __name__ == "__main__":
    run_single_user(PlainGet)
