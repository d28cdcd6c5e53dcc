"""Issue 8's proof: the demo runs end to end, writes its report folder, and leaves no
process behind; the README's two commands work in a clean copy with a fresh venv."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _our_processes() -> set[int]:
    """PIDs of purchaseflow servers, doubles and Locust processes now running."""
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    pids = set()
    for line in out.splitlines()[1:]:
        pid, _, args = line.strip().partition(" ")
        if re.search(r"reference_impl\.cli|purchaseflow (serve|gateway|mailsink|load|sim)|locust",
                     args) and int(pid) != os.getpid():
            pids.add(int(pid))
    return pids


def test_demo_writes_its_report_and_leaves_nothing_behind(tmp_path: Path) -> None:
    before = _our_processes()
    out = tmp_path / "report"
    result = subprocess.run(
        [sys.executable, "-m", "reference_impl.cli", "demo", "--out", str(out),
         "--load-seconds", "10"],
        capture_output=True, text=True, timeout=400, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["seeds"]) == 5
    for seed in summary["seeds"]:
        assert seed["ok"], seed
        assert {p["name"] for p in seed["paths"]} == {"happy", "failure"}
        for path in seed["paths"]:
            assert path["trace_verdict"] == "conforms", path
            assert path["boundary_verdict"] == "conforms", path
    stages = {s["name"].split(" ")[0]: s for s in summary["stages"]}
    assert set(stages) == {"conformance", "simulation", "load"}
    assert all(s["ok"] for s in stages.values()), stages
    assert any(p.endswith(".png") for p in stages["simulation"]["artifacts"])
    assert (out / "load" / "report.html").exists()
    assert list((out / "conformance").rglob("junit.xml"))
    index = (out / "index.html").read_text()
    for stage in stages.values():
        assert stage["name"] in index
    assert summary["seconds"] < 180, "the demo must finish within 3 minutes"
    assert _our_processes() <= before, "the demo left processes behind"


def _readme_commands() -> list[str]:
    return re.findall(r"```sh\n(.+?)\n```", (ROOT / "README.md").read_text())[:2]


def test_readme_commands_in_a_clean_copy(tmp_path: Path) -> None:
    """Both commands verbatim, in a copy of the tracked files with no venv. The test
    command is narrowed with PYTEST_ADDOPTS to one quick file, so it does not run this
    very suite again inside itself."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    clone = tmp_path / "clone"
    for name in files:
        source = ROOT / name
        if source.is_file():
            target = clone / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    main_job, tests = _readme_commands()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PURCHASEFLOW_", "VIRTUAL_ENV", "PYTEST"))}
    ran = subprocess.run(["bash", "-c", main_job],
                         cwd=clone, env=env, capture_output=True, text=True, timeout=900)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert (clone / ".venv" / "bin" / "purchaseflow").exists()
    assert (clone / "purchaseflow-demo" / "summary.json").exists()
    env["PYTEST_ADDOPTS"] = "-q tests/test_readme.py -p no:randomly"
    ran = subprocess.run(["bash", "-c", tests], cwd=clone, env=env, capture_output=True,
                         text=True, timeout=900)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert re.search(r"\d+ passed", ran.stdout)
