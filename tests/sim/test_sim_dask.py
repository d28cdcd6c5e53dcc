"""The same sweep on a Dask cluster (``--scheduler``) gives the same summary as locally.

The cluster is a ``distributed.LocalCluster`` inside this process (``processes=False``:
in-process transport, no port opened, no dashboard).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sim import Experiment, SimulationError, parse_axis, run_experiment
from sim.report import summary_json
from tests.sim.conftest import small_flash_sale

distributed = pytest.importorskip(
    "distributed", reason="Dask distributed is not installed: pip install 'purchaseflow[cluster]'"
)


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    cluster = distributed.LocalCluster(
        processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def test_a_sweep_on_dask_matches_the_local_run(scheduler: str) -> None:
    experiment = Experiment(small_flash_sale("reserve"), replications=2, seed=13,
                            compare=parse_axis("stock_commit=reserve,on_payment"))
    done: list[int] = []
    on_dask = run_experiment(experiment, scheduler=scheduler, progress=lambda r: done.append(1))
    local = run_experiment(experiment, workers=1)
    assert len(done) == 4
    remote, here = summary_json(on_dask), summary_json(local)
    remote.pop("timing"), here.pop("timing")
    assert remote == here


def test_an_unreachable_scheduler_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sim.cluster.CONNECT_TIMEOUT", "1s")  # nothing listens on port 9
    with pytest.raises(SimulationError, match="cannot reach the Dask scheduler"):
        run_experiment(Experiment(small_flash_sale()), scheduler="tcp://127.0.0.1:9")
