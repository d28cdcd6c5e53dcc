"""A server process sets its garbage collector for serving; an app built in a test does not
touch the test process's (reference_impl/http/gc_tuning.py)."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

from reference_impl.config import Settings
from reference_impl.http.app import create_app
from reference_impl.http.gc_tuning import SERVING_THRESHOLDS

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc, json
from reference_impl.http.app import app_from_env
before = gc.get_threshold()
app_from_env()
print(json.dumps({"before": before, "after": gc.get_threshold(),
                  "frozen": gc.get_freeze_count(),
                  "tracked": len(gc.get_objects())}))
"""


def test_the_server_factory_freezes_the_built_app_and_raises_the_thresholds(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "PURCHASEFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'shop.db'}"}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True, timeout=120).stdout
    state = json.loads(out.splitlines()[-1])
    assert tuple(state["before"]) == (700, 10, 10)  # CPython's defaults
    assert tuple(state["after"]) == SERVING_THRESHOLDS
    # The modules and the app are frozen: far more than the few objects made since.
    assert state["frozen"] > 50_000 > state["tracked"]


def test_an_app_built_in_process_leaves_the_collector_alone(tmp_path: Path) -> None:
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    create_app(Settings(database_url=f"sqlite:///{tmp_path / 'shop.db'}"), run_workers=False)
    assert (gc.get_threshold(), gc.get_freeze_count()) == (before, frozen)
