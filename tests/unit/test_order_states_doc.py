"""docs/order-states.md shows the diagram generated from the status table, not a stale copy."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from reference_impl.domain.order_status import TERMINAL_STATUSES, TRANSITIONS, to_mermaid

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "order-states.md"
REGENERATE = "python -m reference_impl.domain.order_status"


def _mermaid_blocks(text: str) -> list[str]:
    return re.findall(r"^```mermaid\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def test_doc_diagram_is_up_to_date() -> None:
    blocks = _mermaid_blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) == 1, f"{DOC} must hold exactly one ```mermaid block"
    assert blocks[0] == to_mermaid(), (
        f"{DOC.relative_to(ROOT)} is stale: replace its ```mermaid block with the output of "
        f"`{REGENERATE}`"
    )


def test_regeneration_command_prints_the_diagram() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reference_impl.domain.order_status"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout == to_mermaid()


def test_diagram_draws_every_row_of_the_table() -> None:
    lines = to_mermaid().splitlines()
    assert lines[0] == "stateDiagram-v2"
    assert "    [*] --> pending_payment" in lines
    for (source, event), target in TRANSITIONS.items():
        assert f"    {source.value} --> {target.value}: {event.value}" in lines
    for status in TERMINAL_STATUSES:
        assert f"    {status.value} --> [*]" in lines
    assert len(lines) == 2 + len(TRANSITIONS) + len(TERMINAL_STATUSES)
