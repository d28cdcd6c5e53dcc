"""The ASCII-art notation of seed 003: parser.

    User          Browser/Client         Server           Database     <- header: names
                                                                          2+ spaces apart
     |                  |                   |                  |       <- first lifeline row
     |   Browse Store   |                   |                  |       <- label
     |----------------->|                   |                  |       <- arrow User -> Browser
     |                  |                   | Fetch Product    |
     |                  |                   | Details          |       <- label on two rows
     |                  |                   |<-----------------|       <- Database -> Server

Rules, each forced by something seed 003 draws:

- The header's names pair, in order, with the ``|`` columns of the first row that holds
  only lifelines.
- An arrow is a run of 3+ ``-`` with ``>`` at its right end or ``<`` at its left end; the
  head points at the target. Each end belongs to the nearest lifeline within two columns
  (seed 003's arrows from User to Server stop one column short), and an arrow may cross
  other lifelines ("Proceed to Checkout" runs from User to Server over Browser/Client).
- A label is all the text written since the previous arrow, rows joined by spaces, on the
  arrow's own row too. Text is not tied to the column it sits in: seed 003 writes every
  "Display ..." label in the Browser/Client-Server column above an arrow from Browser/Client
  to User, and ends "Display Order" / "Confirmation" on the arrow's row.
- Rows of bare lifelines separate nothing: "Verify Inventory & Payment Info" sits two rows
  above its arrow.
- Every message is sync: the notation has one kind of arrow.
"""

from __future__ import annotations

import re

from reference_impl.domain.trace import MessageKind
from scenarios.diagrams.errors import DiagramParseError
from scenarios.diagrams.model import (
    Item,
    Message,
    Notation,
    Participant,
    ParticipantKind,
    SequenceDiagram,
)

_NAME_GAP = re.compile(r"\s{2,}")
_LIFELINES_ONLY = re.compile(r"^[\s|]*\|[\s|]*$")
_ARROW = re.compile(r"<-{3,}|-{3,}>")
_TOLERANCE = 2  # columns an arrow's end may miss its lifeline by


def parse(text: str) -> SequenceDiagram:
    lines = text.splitlines()
    header_at = next((i for i, line in enumerate(lines) if line.strip()), None)
    if header_at is None:
        raise DiagramParseError(1, "empty diagram: expected a header line of participant names")
    header = lines[header_at]
    if "|" in header:
        raise DiagramParseError(header_at + 1, "expected a header line of participant names")
    names = _NAME_GAP.split(header.strip())
    columns = _lifeline_columns(lines, header_at, len(names))
    participants = tuple(
        Participant(name, name, ParticipantKind.PARTICIPANT, header_at + 1) for name in names
    )
    items: list[Item] = []
    label: list[str] = []
    label_line = 0
    for index in range(header_at + 1, len(lines)):
        number, row = index + 1, lines[index]
        arrows = list(_ARROW.finditer(row))
        if len(arrows) > 1:
            raise DiagramParseError(number, "more than one arrow on a row")
        rest = row
        if arrows:
            arrow = arrows[0]
            rest = row[: arrow.start()] + " " * len(arrow[0]) + row[arrow.end() :]
        pieces = [piece.strip() for piece in rest.split("|") if piece.strip()]
        if pieces and not label:
            label_line = number
        label.extend(pieces)
        if arrows:
            source, target = _ends(arrows[0], row, columns, names, number)
            items.append(Message(source, target, " ".join(label), MessageKind.SYNC, "", number))
            label = []
    if label:
        raise DiagramParseError(
            label_line, f"label {' '.join(label)!r} is not followed by an arrow"
        )
    return SequenceDiagram(participants, tuple(items), notation=Notation.ASCII)


def _lifeline_columns(lines: list[str], header_at: int, count: int) -> list[int]:
    for index in range(header_at + 1, len(lines)):
        if _LIFELINES_ONLY.match(lines[index]):
            columns = [i for i, char in enumerate(lines[index]) if char == "|"]
            if len(columns) != count:
                raise DiagramParseError(
                    index + 1,
                    f"{len(columns)} lifelines but {count} participant names"
                    f" in the header (line {header_at + 1})",
                )
            return columns
    raise DiagramParseError(header_at + 1, "no row of lifelines (`|`) under the header")


def _ends(
    arrow: re.Match[str], row: str, columns: list[int], names: list[str], number: int
) -> tuple[str, str]:
    # The arrow's ends are the columns just outside its dashes, where the lifelines run.
    left = _nearest(arrow.start() - 1, columns, number, row)
    right = _nearest(arrow.end(), columns, number, row)
    if left == right:
        raise DiagramParseError(number, "arrow starts and ends on the same lifeline")
    if arrow[0].endswith(">"):
        return names[left], names[right]
    return names[right], names[left]


def _nearest(column: int, columns: list[int], number: int, row: str) -> int:
    best = min(range(len(columns)), key=lambda i: abs(columns[i] - column))
    if abs(columns[best] - column) > _TOLERANCE:
        raise DiagramParseError(
            number, f"arrow end at column {column + 1} is on no lifeline: {row.strip()!r}"
        )
    return best
