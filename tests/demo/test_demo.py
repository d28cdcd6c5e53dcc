"""Issue 8's proof: the demo runs end to end, writes its report folder, and leaves no
process behind; the README's two commands work in a clean copy with a fresh venv."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _tagged(tag: str) -> set[int]:
    """PIDs of live processes whose environment carries ``tag``: the demo and everything it
    started, however deep, and not the servers other tests run at the same time."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().split(") ")[-1][:1]
        except OSError:
            continue
        if f"PURCHASEFLOW_TEST_TAG={tag}".encode() in environ and state != "Z":
            found.add(int(entry.name))
    return found


def _env(tag: str) -> dict[str, str]:
    return {**os.environ, "PURCHASEFLOW_TEST_TAG": tag}


def test_demo_writes_its_report_and_leaves_nothing_behind(tmp_path: Path) -> None:
    tag = uuid.uuid4().hex
    out = tmp_path / "report"
    result = subprocess.run(
        [sys.executable, "-m", "reference_impl.cli", "demo", "--out", str(out),
         "--load-seconds", "10"],
        capture_output=True, text=True, timeout=400, cwd=tmp_path, env=_env(tag))
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
    assert not _tagged(tag), "the demo left processes behind"


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


def test_ctrl_c_stops_the_demo_and_leaves_nothing_behind(tmp_path: Path) -> None:
    import signal
    import time

    tag = uuid.uuid4().hex
    process = subprocess.Popen(
        [sys.executable, "-m", "reference_impl.cli", "demo", "--out", str(tmp_path / "r")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        cwd=tmp_path, env=_env(tag))
    # Interrupt it once it runs a shop of its own (inside the seed walk-throughs).
    deadline = time.monotonic() + 90
    while len(_tagged(tag)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(_tagged(tag)) > 1, "the demo never started a server"
    time.sleep(2)
    os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends
    _, stderr = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "Traceback" not in stderr, stderr[-3000:]
    deadline = time.monotonic() + 20
    while _tagged(tag) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = {pid: Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:200]
            for pid in _tagged(tag)}
    assert not left, f"Ctrl-C left processes behind: {left}"
