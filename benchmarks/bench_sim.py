"""Simulator benchmark (issue 5): how fast is the simulation, against SimPy itself?

    .venv/bin/python benchmarks/bench_sim.py                # all three measurements
    .venv/bin/python benchmarks/bench_sim.py --quick        # smaller, for a smoke run
    .venv/bin/python benchmarks/bench_sim.py --million      # run the full million sessions

1. Buyer sessions per CPU-second of the flash-sale scenario, against a bare SimPy model
   that schedules the same number of events (processes that only wait on timeouts),
   measured in the same run, one after the other, and given as a ratio. The goal is at
   least 0.6 of the bare SimPy rate. The ratio is the share of the simulator's time that
   SimPy's own event handling takes: an event the simulator stops scheduling makes it
   faster but, the bare model losing that event too, lowers the ratio; so the events per
   session are printed beside it.
2. 1,000,000 buyer sessions of the flash-sale scenario on one core, against 60 s. The
   scenario (about 2,200 sessions) is replicated until a million sessions have run; without
   ``--million`` a bounded prefix of the replications runs and the time of the million is
   extrapolated from it, and the output says so.
3. A sweep on 2 worker processes against the same sweep in this process: the speed-up
   (wall clock), against a goal of 1.7.

CPU time is ``time.process_time``; on a busy machine the wall-clock speed-up suffers first.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Generator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import simpy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scenarios import load_scenario  # noqa: E402
from sim.experiment import Experiment, execute  # noqa: E402
from sim.model import simulate  # noqa: E402
from sim.params import parse_axis  # noqa: E402

FLASH_SALE = ROOT / "scenarios" / "library" / "flash_sale_reserve.yaml"
MILLION = 1_000_000
GOAL_RATIO, GOAL_MILLION_SECONDS, GOAL_SPEEDUP = 0.6, 60.0, 1.7


def bare_simpy(sessions: int, events: int) -> tuple[float, int]:
    """CPU seconds of a SimPy model of ``sessions`` processes scheduling ``events`` events.

    An arrival process starts one session process per arrival; each session waits on
    timeouts only. Events: the two processes' starts and ends (2 each), one timeout per
    arrival, and the sessions' timeouts, spread so that the total is ``events``.
    """
    per_session_fixed = 3  # its arrival timeout, its start, its end
    waits = max(events - 2 - per_session_fixed * sessions, 0)
    base, extra = divmod(waits, sessions)

    def session(env: simpy.Environment, n: int) -> Generator[simpy.Event, Any, None]:
        for _ in range(n):
            yield env.timeout(1.0)

    def arrivals(env: simpy.Environment) -> Generator[simpy.Event, Any, None]:
        for i in range(sessions):
            yield env.timeout(0.01)
            env.process(session(env, base + (1 if i < extra else 0)))

    env = simpy.Environment()
    env.process(arrivals(env))
    started = time.process_time()
    env.run()
    return time.process_time() - started, next(env._eid)


def measure_ratio(replications: int) -> dict[str, float]:
    scenario = load_scenario(FLASH_SALE)
    # One replication first, untimed: the first run in a process also pays one-off costs
    # (numpy loading its submodules on first use, about 40 ms), which the bare model does
    # not, and which a short run would otherwise count as the simulator's speed.
    simulate(scenario, replication=replications)
    sessions = events = 0
    started = time.process_time()
    for r in range(replications):
        result = simulate(scenario, replication=r)
        sessions += int(result.metrics["sessions"])
        events += result.events
    sim_cpu = time.process_time() - started
    bare_cpu, bare_events = bare_simpy(sessions, events)
    return {
        "sessions": sessions,
        "events": events,
        "bare_events": bare_events,
        "sim_rate": sessions / sim_cpu,
        "bare_rate": sessions / bare_cpu,
        "ratio": bare_cpu / sim_cpu,
    }


def measure_million(full: bool, prefix_sessions: int) -> dict[str, float | bool]:
    scenario = load_scenario(FLASH_SALE)
    target = MILLION if full else min(prefix_sessions, MILLION)
    sessions = replication = 0
    started = time.process_time()
    while sessions < target:
        sessions += int(simulate(scenario, replication=replication).metrics["sessions"])
        replication += 1
    cpu = time.process_time() - started
    return {
        "sessions": sessions,
        "replications": replication,
        "cpu_seconds": cpu,
        "million_seconds": cpu * MILLION / sessions,
        "extrapolated": sessions < MILLION,
    }


def measure_speedup(replications: int) -> dict[str, float]:
    scenario = load_scenario(FLASH_SALE)
    experiment = Experiment(
        scenario, replications=replications,
        compare=parse_axis("stock_commit=at_order,on_payment,reserve"),
    )
    tasks = experiment.tasks(experiment.points())
    started = time.perf_counter()
    serial_cpu = sum(r.cpu_seconds for r in execute(tasks, workers=1))
    serial = time.perf_counter() - started
    started = time.perf_counter()
    parallel_cpu = sum(r.cpu_seconds for r in execute(tasks, workers=2))
    parallel = time.perf_counter() - started
    # CPU seconds per wall second: how many cores the runs really had (other work on the
    # machine takes its share; an idle machine gives 1.0 and 2.0).
    return {"tasks": len(tasks), "serial": serial, "parallel": parallel,
            "speedup": serial / parallel, "serial_cores": serial_cpu / serial,
            "parallel_cores": parallel_cpu / parallel}


def _spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def machine_speedup(tasks: int, seconds_each: float) -> float:
    """What 2 processes give a pure-Python loop on this machine right now (the baseline the
    sweep's speed-up can be read against when other work shares the CPUs)."""
    n = 200_000
    started = time.perf_counter()
    _spin(n)
    n = int(n * seconds_each / max(time.perf_counter() - started, 1e-6))
    started = time.perf_counter()
    for _ in range(tasks):
        _spin(n)
    serial = time.perf_counter() - started
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=2) as pool:
        list(pool.map(_spin, [n] * tasks))
    return serial / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--million", action="store_true",
                        help="run the full million sessions instead of extrapolating")
    args = parser.parse_args()
    quick = args.quick
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"flash-sale scenario: {FLASH_SALE.relative_to(ROOT)}; {os.cpu_count()} CPUs, "
          f"load average {load:.1f}")

    r = measure_ratio(2 if quick else 20)
    print(f"\n1. sessions per CPU-second, {r['sessions']:,} sessions, {r['events']:,} events, "
          f"{r['events'] / r['sessions']:.1f} per session (bare model: {r['bare_events']:,} "
          f"events)")
    print(f"   simulator  {r['sim_rate']:>10,.0f} sessions/s")
    print(f"   bare SimPy {r['bare_rate']:>10,.0f} sessions/s")
    verdict = "meets" if r["ratio"] >= GOAL_RATIO else "misses"
    print(f"   ratio      {r['ratio']:>10.2f}  ({verdict} the goal of {GOAL_RATIO})")

    m = measure_million(args.million, 10_000 if quick else 100_000)
    how = (
        f"EXTRAPOLATED from a prefix of {m['sessions']:,} sessions "
        f"({m['replications']} replications, {m['cpu_seconds']:.1f} CPU-s)"
        if m["extrapolated"]
        else f"measured over {m['sessions']:,} sessions ({m['replications']} replications)"
    )
    verdict = "meets" if m["million_seconds"] <= GOAL_MILLION_SECONDS else "misses"
    print(f"\n2. 1,000,000 sessions on one core: {m['million_seconds']:.1f} CPU-s, {how}; "
          f"{verdict} the goal of {GOAL_MILLION_SECONDS:.0f} s")

    s = measure_speedup(2 if quick else 6)
    verdict = "meets" if s["speedup"] >= GOAL_SPEEDUP else "misses"
    print(f"\n3. sweep of {s['tasks']} runs: 1 process {s['serial']:.2f} s, 2 processes "
          f"{s['parallel']:.2f} s (wall clock): speed-up {s['speedup']:.2f} "
          f"({verdict} the goal of {GOAL_SPEEDUP})")
    print(f"   cores the runs had: {s['serial_cores']:.2f} in 1 process, "
          f"{s['parallel_cores']:.2f} in 2")
    baseline = machine_speedup(int(s["tasks"]), s["serial"] / s["tasks"])
    print(f"   for reference, a pure-Python loop gets {baseline:.2f} from 2 processes on this "
          f"machine now (the most the sweep could get)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
