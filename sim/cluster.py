"""Running an experiment's tasks on an existing Dask cluster (``--scheduler ADDRESS``).

Dask distributed is an optional extra (``pip install 'purchaseflow[cluster]'``); every
worker of the cluster needs purchaseflow installed too, since it imports ``sim`` to run a
task. Each task is one replication of one point, exactly as in a local process pool, so a
cluster gives the same results as one machine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sim.errors import SimulationError

if TYPE_CHECKING:
    from sim.experiment import Task
    from sim.model import RunResult

CONNECT_TIMEOUT = "10s"


def run_on_dask(
    address: str, tasks: Sequence[Task], done: Callable[[RunResult], None]
) -> list[RunResult]:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise SimulationError(
            "--scheduler needs Dask distributed: pip install 'purchaseflow[cluster]'"
        ) from None
    from sim.experiment import run_task

    try:
        client = Client(  # type: ignore[no-untyped-call]
            address, timeout=CONNECT_TIMEOUT, set_as_default=False
        )
    except (OSError, TimeoutError, ValueError) as exc:
        raise SimulationError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    results: list[RunResult] = []
    try:
        futures = client.map(run_task, list(tasks), pure=False)
        for future in as_completed(futures, loop=client.loop):  # type: ignore[no-untyped-call]
            result = future.result()
            results.append(result)
            done(result)
    finally:
        client.close()  # type: ignore[no-untyped-call]
    return results
