"""What both locustfiles share: the load's shape, and the run's own metrics.

``StagedShape`` holds the load's shape apart from the users' behaviour (Locust's
``LoadTestShape``): the stages of a closed workload, or the pool of an open one.

The run's own metrics are counted per process and gathered by the master:

* every process measures its CPU time from ``test_start`` to ``test_stop``
  (``load.metrics.CpuClock``);
* workers attach a cumulative snapshot of their ``RunMetrics`` to each report to the
  master, which keeps the latest one per worker;
* the master (or the only process) writes the merged snapshot at ``quit``, after the
  workers' final reports, to ``LoadConfig.metrics_path``;
* response times per step and per 2 s window (``load.metrics.LatencyWindows``): workers
  send the windows they closed since their last report, the master adds them up and writes
  them beside the metrics (``latency.json``), for ``purchaseflow load-diff``;
* the open workload: the master tells every worker its rate and bursts and how many
  workers share them (a worker on another machine knows only its own options); each worker
  (or the only process) dispatches its part through its ``ArrivalGate`` from
  ``test_start``.

Imported only by the locustfiles.
"""

from __future__ import annotations

import gc
import json
import random
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar

from locust import LoadTestShape, events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from load.config import LoadConfig, OpenWorkload, Stage
from load.metrics import LATENCY_FILE, CpuClock, LatencyWindows, RunMetrics, round_ms, step_of
from load.open_workload import ArrivalGate
from load.plan import arrival_offsets

METRICS_KEY = "purchaseflow_metrics"
LATENCY_KEY = "purchaseflow_latency"
SHARE_MESSAGE = "purchaseflow_share"


class StagedShape(LoadTestShape):
    """Hold each stage's users until its end, then stop; a locustfile sets ``stages``."""

    abstract = True
    stages: ClassVar[tuple[Stage, ...]] = ()

    def tick(self) -> tuple[int, float] | None:
        run_time = self.get_run_time()
        for stage in self.stages:
            if run_time < stage.until:
                return stage.users, stage.spawn_rate
        return None


class LocustHooks:
    def __init__(self, config: LoadConfig, metrics: RunMetrics) -> None:
        self.config = config
        self.metrics = metrics
        #: The open workload, when there is one: the users wait at the gate for arrivals.
        self.open: OpenWorkload | None = config.open
        self.gate = ArrivalGate(metrics)
        self.cpu = CpuClock()
        self.workers: dict[str, RunMetrics] = {}
        self.share = 1
        self.environment: Environment | None = None
        self.latency = LatencyWindows()
        self._started: float | None = None  # monotonic time of test_start
        self._stopped = False

    def install(self) -> None:
        events.init.add_listener(self._init)
        events.test_start.add_listener(self._test_start)
        events.test_stop.add_listener(self._test_stop)
        events.user_error.add_listener(self._user_error)
        events.request.add_listener(self._request)
        events.quit.add_listener(self._quit)

    def snapshot(self) -> RunMetrics:
        mine = RunMetrics.merge([self.metrics])
        mine.cpu_seconds = self.cpu.seconds()
        mine.processes = 1
        return mine

    def _init(self, environment: Environment, **_: Any) -> None:
        self.environment = environment
        runner = environment.runner
        if isinstance(runner, WorkerRunner):
            runner.register_message(SHARE_MESSAGE, self._on_share)
            events.report_to_master.add_listener(self._report)
        elif isinstance(runner, MasterRunner):
            events.worker_report.add_listener(self._worker_report)

    def _on_share(self, environment: Environment, msg: Any, **_: Any) -> None:
        self.share = max(1, int(msg.data["workers"]))
        self.open = OpenWorkload.from_json(msg.data["open"]) if msg.data["open"] else None

    def _report(self, client_id: str, data: dict[str, Any]) -> None:
        data[METRICS_KEY] = self.snapshot().to_json()
        # The windows closed since the last report; after the load, every one left.
        closed = None if self._stopped else self._window()
        data[LATENCY_KEY] = self.latency.take(closed).to_json()

    def _worker_report(self, client_id: str, data: dict[str, Any]) -> None:
        if METRICS_KEY in data:
            self.workers[client_id] = RunMetrics.from_json(data[METRICS_KEY])
        if LATENCY_KEY in data:
            self.latency.add(LatencyWindows.from_json(data[LATENCY_KEY]))

    def _window(self) -> int:
        started = self._started
        return 0 if started is None else int((time.monotonic() - started) / self.latency.seconds)

    def _request(self, name: str, response_time: float, **_: Any) -> None:
        if self._started is not None:
            self.latency.record(step_of(name), self._window(), round_ms(response_time))

    def _test_start(self, environment: Environment, **_: Any) -> None:
        self.cpu.start()
        self._started, self._stopped = time.monotonic(), False
        # What is alive now (modules, the scenario, the users) lives until the end: the
        # collector need not walk it again at every full collection during the load.
        gc.freeze()
        runner = environment.runner
        if isinstance(runner, MasterRunner):
            # Sent before the first spawn message, on the same channel: every worker knows
            # its share of the arrival rate before its own test_start.
            runner.send_message(SHARE_MESSAGE, {
                "workers": runner.worker_count,
                "open": asdict(self.open) if self.open is not None else None})
            return
        open_workload = self.open
        if open_workload is None:
            return
        index = getattr(runner, "worker_index", 0) if runner is not None else 0
        index = max(0, index) % self.share
        rng = random.Random(f"{self.config.seed}/arrivals/{index}")
        offsets = arrival_offsets(open_workload.rate, open_workload.bursts,
                                  open_workload.run_time, rng, poisson=open_workload.poisson,
                                  share=self.share, index=index)
        self.gate.start(offsets, open_workload.start_after)

    def _test_stop(self, environment: Environment, **_: Any) -> None:
        self.cpu.stop()
        self.gate.stop()
        self._stopped = True

    def _user_error(self, **_: Any) -> None:
        self.metrics.user_errors += 1

    def _quit(self, **_: Any) -> None:
        runner = self.environment.runner if self.environment else None
        if self.config.metrics_path is None or isinstance(runner, WorkerRunner):
            return
        parts = [*self.workers.values()]
        # The master runs no users, but its CPU is the generator's too.
        parts.append(self.snapshot())
        merged = RunMetrics.merge(parts)
        path = Path(self.config.metrics_path)
        path.write_text(json.dumps(merged.to_json(), indent=1), encoding="utf-8")
        path.with_name(LATENCY_FILE).write_text(
            json.dumps(self.latency.to_json()), encoding="utf-8")
