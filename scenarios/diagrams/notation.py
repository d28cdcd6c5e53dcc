"""Reading a diagram in any supported notation, telling the notation from the text itself."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path

from scenarios.diagrams import ascii_art, mermaid, sequencediagram_org
from scenarios.diagrams.errors import DiagramParseError
from scenarios.diagrams.model import Notation, SequenceDiagram

PARSERS: Mapping[Notation, Callable[[str], SequenceDiagram]] = {
    Notation.MERMAID: mermaid.parse,
    Notation.SEQUENCEDIAGRAM_ORG: sequencediagram_org.parse,
    Notation.ASCII: ascii_art.parse,
}

_MERMAID = re.compile(r"^\s*(?:(?:`{3,}|~{3,})\s*mermaid|sequenceDiagram)\b", re.IGNORECASE | re.M)
# A row that starts on a lifeline and holds an arrow (seed 003). sequencediagram.org arrows
# never follow a ``|``, and Mermaid was ruled out first.
_ASCII = re.compile(r"^\s*\|.*(?:-{3,}>|<-{3,})", re.M)


def detect_notation(text: str) -> Notation:
    if _MERMAID.search(text):
        return Notation.MERMAID
    if _ASCII.search(text):
        return Notation.ASCII
    return Notation.SEQUENCEDIAGRAM_ORG


def parse_text(text: str, notation: Notation | str | None = None) -> SequenceDiagram:
    """Parses ``text``; ``notation`` is detected when not given. Raises DiagramParseError."""
    chosen = detect_notation(text) if notation is None else Notation(notation)
    return PARSERS[chosen](text)


def parse_file(path: str | Path, notation: Notation | str | None = None) -> SequenceDiagram:
    """Parses a diagram file; a DiagramParseError then names the file as well as the line."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        return parse_text(text, notation)
    except DiagramParseError as error:
        raise error.with_path(str(path)) from None
