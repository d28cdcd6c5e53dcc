"""The public surface of scenarios.diagrams (docs/diagrams.md lists the same names)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import scenarios.diagrams as diagrams
from scenarios.diagrams import DiagramParseError, Notation, detect_notation, parse_file, parse_text

DOCUMENTED = {
    "ANY_LABEL",
    "Activation",
    "Branch",
    "DiagramParseError",
    "Fragment",
    "FragmentKind",
    "Item",
    "Message",
    "Notation",
    "Note",
    "NotePlacement",
    "Participant",
    "ParticipantKind",
    "SequenceDiagram",
    "TraceChecker",
    "TraceVerdict",
    "check_trace",
    "detect_notation",
    "parse_file",
    "parse_text",
    "project",
}


def test_all_is_exactly_the_documented_surface() -> None:
    assert set(diagrams.__all__) == DOCUMENTED
    doc = (Path(__file__).resolve().parents[2] / "docs" / "diagrams.md").read_text()
    for name in DOCUMENTED:
        assert f"`{name}" in doc, name


def test_signatures() -> None:
    assert list(inspect.signature(diagrams.parse_text).parameters) == ["text", "notation"]
    assert list(inspect.signature(diagrams.check_trace).parameters) == [
        "diagram",
        "trace",
        "observable",
        "participant_map",
        "message_map",
        "correlation_id",
        "complete",
        "strict",
    ]


@pytest.mark.parametrize(
    ("text", "notation"),
    [
        ("sequenceDiagram\n    A->>B: x\n", Notation.MERMAID),
        ("Intro\n```mermaid\nsequenceDiagram\n```\n", Notation.MERMAID),
        ("A     B\n |     |\n |---->|\n", Notation.ASCII),
        ("title T\nA->B:x\n", Notation.SEQUENCEDIAGRAM_ORG),
    ],
)
def test_detect_notation(text: str, notation: Notation) -> None:
    assert detect_notation(text) is notation


def test_notation_can_be_forced_by_name() -> None:
    d = parse_text("A->B:x\n", "sequencediagram.org")
    assert d.notation is Notation.SEQUENCEDIAGRAM_ORG
    with pytest.raises(ValueError):
        parse_text("A->B:x\n", "plantuml")


def test_parse_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.txt"
    path.write_text("A->B:x\nalt first\nA->B:y\n")
    with pytest.raises(DiagramParseError) as caught:
        parse_file(path)
    assert str(caught.value) == f"{path}: line 3: missing `end` for `alt` opened at line 2"
    assert (caught.value.line, caught.value.path) == (3, str(path))
