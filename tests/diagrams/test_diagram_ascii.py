"""The ASCII-art notation of seed 003: parser details and errors."""

from __future__ import annotations

import pytest

from scenarios.diagrams import DiagramParseError, Message, Notation, SequenceDiagram, parse_text


def ascii_art(text: str) -> SequenceDiagram:
    return parse_text(text, Notation.ASCII)


DIAGRAM = """\
Shop Front      API          Store

 |               |             |
 |   two words   |             |
 |-------------->|             |
 |               |   on two    |
 |               |   rows      |
 |               |             |
 |               |<------------|
 | spans both                  |
 |---------------------------->|
 |  reply        |             |
 |<--------------| on the arrow row
"""


def test_arrows_directions_spans_and_multi_row_labels() -> None:
    d = ascii_art(DIAGRAM)
    assert d.notation is Notation.ASCII
    assert d.participant_names == ("Shop Front", "API", "Store")
    assert [(m.source, m.target, m.text, m.line) for m in d.messages()] == [
        ("Shop Front", "API", "two words", 5),
        ("Store", "API", "on two rows", 9),
        ("Shop Front", "Store", "spans both", 11),
        ("API", "Shop Front", "reply on the arrow row", 13),
    ]


def test_detected_without_being_told() -> None:
    assert parse_text(DIAGRAM).notation is Notation.ASCII


def test_arrow_ends_tolerate_a_column_of_drift() -> None:
    text = "A      B      C\n |      |      |\n |  x         |\n |----------->|\n"
    (message,) = ascii_art(text).items
    assert message == Message("A", "C", "x")


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        (
            "A     B\n |     |\n | x   |\n |---->|\n | dangling\n",
            5,
            "label 'dangling' is not followed by an arrow",
        ),
        (
            "A     B\n |     |     |\n",
            2,
            "3 lifelines but 2 participant names in the header (line 1)",
        ),
        ("A     B\n", 1, "no row of lifelines"),
        ("A     B\n |     |\n |     |      <---\n", 3, "is on no lifeline"),
        ("A     B\n |     |\n |---->|<----|\n", 3, "more than one arrow on a row"),
        ("\n\n", 1, "empty diagram"),
        (" |  |\nA  B\n", 1, "expected a header line of participant names"),
    ],
)
def test_errors_name_the_line(text: str, line: int, reason: str) -> None:
    with pytest.raises(DiagramParseError) as caught:
        ascii_art(text)
    assert caught.value.line == line
    assert reason in str(caught.value)
