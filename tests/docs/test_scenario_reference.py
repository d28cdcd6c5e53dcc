"""docs/scenario-reference.md is generated from the scenario format's JSON Schema, and is
not a stale copy of it (regenerate: ``python -m scenarios.reference_doc``)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from scenarios.jsonschema_export import json_schema
from scenarios.reference_doc import DOC_PATH, REGENERATE, main, render_reference

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_page_is_what_the_schema_generates() -> None:
    assert DOC_PATH == ROOT / "docs" / "scenario-reference.md"
    assert DOC_PATH.read_text(encoding="utf-8") == render_reference(), (
        f"docs/scenario-reference.md is stale: run `{REGENERATE}` and commit the result")


def test_every_key_of_every_object_has_a_row() -> None:
    schema = json_schema()
    page = render_reference()
    sections = dict(re.findall(r"^## ([^\n]+)\n(.*?)(?=^## |\Z)", page, re.MULTILINE | re.DOTALL))
    objects = {"Top level": schema} | {
        name: d for name, d in schema["$defs"].items() if "properties" in d}
    for name, definition in objects.items():
        assert name in sections, f"no section for {name}"
        for key in definition["properties"]:
            assert f"| `{key}` |" in sections[name], f"{name}.{key} has no row"


def test_check_mode_tells_stale_from_fresh(tmp_path: Path) -> None:
    stale = tmp_path / "reference.md"
    stale.write_text("# an old page\n")
    assert main(["--output", str(stale), "--check"]) == 1
    assert main(["--output", str(stale)]) == 0
    assert stale.read_text() == render_reference()
    done = subprocess.run([sys.executable, "-m", "scenarios.reference_doc", "--check",
                           "--output", str(stale)], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
