"""``serve --writer-priority N``: each worker's writer thread runs N nice levels above its
other threads, where the system allows it, and the server refuses to start where not."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conformance.reference_shop import ReferenceShop, free_port
from reference_impl.storage import writer_priority
from tests.cli.test_serve_command import workers

ROOT = Path(__file__).resolve().parents[2]
#: Runs a command without the capability to raise priorities (util-linux).
WITHOUT_SYS_NICE = ["setpriv", "--inh-caps=-sys_nice", "--bounding-set=-sys_nice"]


def _may_raise_priorities() -> bool:
    try:
        writer_priority.check(1)
    except writer_priority.WriterPriorityError:
        return False
    return True


def _nice_values(pid: int) -> list[int]:
    values = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/stat") as f:
                values.append(int(f.read().rsplit(")", 1)[1].split()[16]))
        except FileNotFoundError:  # a thread that ended since the listing
            continue
    return values


@pytest.mark.skipif(not writer_priority.supported(), reason="thread priorities need Linux")
@pytest.mark.skipif(not _may_raise_priorities(),
                    reason="this process may not raise priorities (needs CAP_SYS_NICE)")
def test_each_workers_writer_thread_runs_above_its_other_threads(tmp_path: Path) -> None:
    with ReferenceShop(workers=2, database_url=f"sqlite:///{tmp_path / 's.db'}",
                       writer_priority=7) as shop:
        found = workers(shop)
        assert len(found) == 2
        for worker in found:
            # The shop is ready once one worker answers; the other may still be starting
            # (one thread, no writer yet): wait for its writer, up to a bound.
            deadline = time.monotonic() + 20
            nice = _nice_values(worker.pid)
            while max(nice) - 7 not in nice and time.monotonic() < deadline:
                time.sleep(0.1)
                nice = _nice_values(worker.pid)
            base = max(nice)
            assert sorted(nice).count(base - 7) == 1, nice  # the writer, and it alone
            assert all(value in (base, base - 7) for value in nice), nice


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs util-linux's setpriv")
def test_without_the_capability_the_server_refuses_in_one_line() -> None:
    done = subprocess.run(
        [*WITHOUT_SYS_NICE, sys.executable, "-m", "reference_impl.cli", "serve",
         "--port", str(free_port()), "--writer-priority", "5"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line == (
        "purchaseflow serve: --writer-priority 5: this process may not raise a thread's "
        "priority (it needs CAP_SYS_NICE, as root has, or a raised RLIMIT_NICE); leave it at 0"
    )


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs util-linux's setpriv")
def test_a_writer_refused_its_priority_warns_and_still_commits(tmp_path: Path) -> None:
    # The server checks before its workers start; a worker refused anyway (the capability
    # taken away in between) keeps writing at the usual priority.
    script = f"""
import logging
from sqlalchemy import text
from reference_impl.storage import make_engine, create_schema
from reference_impl.storage.group_commit import GroupCommitter
logging.basicConfig(level=logging.WARNING, format="%(message)s")
engine = make_engine("sqlite:///{tmp_path / 'w.db'}")
create_schema(engine)
committer = GroupCommitter(engine, priority=3)
from reference_impl.service.tracing import Trace
print(committer.submit(lambda uow: 42, Trace(None, "", 0.0)).result(timeout=30))
committer.close()
"""
    done = subprocess.run([*WITHOUT_SYS_NICE, sys.executable, "-c", script], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "42"
    assert "--writer-priority 3: this process may not raise a thread's priority" in done.stderr
    assert "the writer runs at its usual priority" in done.stderr


def test_no_priority_changes_nothing() -> None:
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    writer_priority.check(0)
    assert writer_priority.raise_this_thread(0) == before
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before
