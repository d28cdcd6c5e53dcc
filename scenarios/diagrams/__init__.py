"""Sequence diagrams: the seeds' notations parsed into one model, and traces checked against it.

    parse_text(text, notation=None) -> SequenceDiagram     notation detected when not given
    parse_file(path, notation=None) -> SequenceDiagram
    SequenceDiagram.to_mermaid() -> str
    project(diagram, observable, participant_map=None) -> SequenceDiagram
    check_trace(diagram, trace, observable=None, participant_map=None, message_map=None,
                *, correlation_id=None, complete=True) -> TraceVerdict

See docs/diagrams.md for the model, the notations and the matching rule.
"""

from scenarios.diagrams.errors import DiagramParseError
from scenarios.diagrams.model import (
    Activation,
    Branch,
    Fragment,
    FragmentKind,
    Item,
    Message,
    Notation,
    Note,
    NotePlacement,
    Participant,
    ParticipantKind,
    SequenceDiagram,
)
from scenarios.diagrams.notation import detect_notation, parse_file, parse_text
from scenarios.diagrams.projection import project
from scenarios.diagrams.trace_check import ANY_LABEL, TraceChecker, TraceVerdict, check_trace

__all__ = [
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
]
