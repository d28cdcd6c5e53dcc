"""A replication leaves nothing behind in the process: the million-session run of the
benchmark, and every sweep worker, run one replication after another in one process, so
whatever one kept would add up (``benchmarks/bench_memory.py`` measures it at scale)."""

from __future__ import annotations

import gc
import tracemalloc

from sim import simulate
from tests.sim.conftest import library_scenario

#: Slack for what the interpreter itself may keep between two measurements (free lists,
#: interned strings); one replication of the flash sale allocates about 2 MiB at its peak.
ALLOWANCE = 32 * 1024


def held() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def test_replications_leave_no_memory_behind() -> None:
    scenario = library_scenario("flash_sale_reserve")
    simulate(scenario, replication=0)  # module caches and lazy imports: the process's
    tracemalloc.start()
    try:
        simulate(scenario, replication=1)
        before = held()
        for replication in range(2, 6):
            result = simulate(scenario, replication=replication)
            assert result.metrics["sessions"] > 1000  # a full flash sale each time
        del result
        after = held()
    finally:
        tracemalloc.stop()
    assert after - before < ALLOWANCE, f"{after - before} bytes kept by 4 replications"
