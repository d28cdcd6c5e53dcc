"""sequencediagram.org text (seed 000's notation): parser details and errors."""

from __future__ import annotations

import pytest

from reference_impl.domain.trace import MessageKind
from scenarios.diagrams import (
    Activation,
    DiagramParseError,
    Fragment,
    FragmentKind,
    Message,
    Notation,
    Note,
    NotePlacement,
    Participant,
    ParticipantKind,
    SequenceDiagram,
    parse_text,
)


def sdo(text: str) -> SequenceDiagram:
    return parse_text(text, Notation.SEQUENCEDIAGRAM_ORG)


@pytest.mark.parametrize(
    ("arrow", "kind"),
    [
        ("->", MessageKind.SYNC),
        ("->>", MessageKind.ASYNC),
        ("-x", MessageKind.ASYNC),
        ("-->", MessageKind.REPLY),
        ("-->>", MessageKind.REPLY),
        ("--x", MessageKind.REPLY),
    ],
)
def test_arrow_kinds(arrow: str, kind: MessageKind) -> None:
    (message,) = sdo(f"Order Management{arrow}Account Management:hi: there\n").items
    assert message == Message("Order Management", "Account Management", "hi: there", kind)


def test_found_and_lost_messages() -> None:
    d = sdo("[->Buyer:Authorized\nBuyer->]:Left\n]->Buyer:From the right\n")
    assert d.items == (
        Message(None, "Buyer", "Authorized"),
        Message("Buyer", None, "Left"),
        Message(None, "Buyer", "From the right"),
    )
    assert d.participant_names == ("Buyer",)


def test_label_formatting_and_line_breaks() -> None:
    (message,) = sdo(r"A->B:<align:center>Product added\nCart details" + "\n").items
    assert isinstance(message, Message)
    assert message.label == "Product added\nCart details"
    assert message.text == "Product added Cart details"


def test_activation_colours_and_presentation_statements() -> None:
    d = sdo(
        "title Buying\n"
        "autonumber\n"
        "participantspacing 20\n"
        "space 3\n"
        "== phase two ==\n"
        "A->B:x\n"
        "activate B#lightgray\n"
        "activate A #ff00ff\n"
        "deactivate B\n"
        "bottomparticipants\n"
    )
    assert d.title == "Buying" and d.autonumber and d.bottom_participants
    _, on_b, on_a, off_b = d.items
    assert (on_b, on_a, off_b) == (
        Activation("B", True),
        Activation("A", True),
        Activation("B", False),
    )
    assert isinstance(on_b, Activation) and on_b.colour == "lightgray"
    assert isinstance(on_a, Activation) and on_a.colour == "ff00ff"


def test_participants_shapes_and_quoted_aliases() -> None:
    d = sdo(
        'participant "Order\\nManagement" as OM #lightblue\n'
        "actor Buyer\n"
        "database Stock DB\n"
        'Buyer->OM:buy\n"Stock DB"-->OM:ok\n'
    )
    assert d.participants == (
        Participant("OM", "Order\nManagement"),
        Participant("Buyer", "Buyer", ParticipantKind.ACTOR),
        Participant("Stock DB", "Stock DB"),
    )
    assert d.items[1] == Message("Stock DB", "OM", "ok", MessageKind.REPLY)


def test_fragments_par_uses_else_and_notes() -> None:
    d = sdo(
        "loop#2f2e7b #lightblue each item\n"
        "A->B:add\n"
        "end\n"
        "par\n"
        "A->B:one\n"
        "else\n"
        "A->C:two\n"
        "end\n"
        "note over A,B:short\n"
        "note right of C\n"
        "long\n"
        "note\n"
        "end note\n"
        "// a comment\n"
        "/* a\n"
        "block */\n"
    )
    loop, par, short, long = d.items
    assert isinstance(loop, Fragment) and loop.kind is FragmentKind.LOOP
    assert loop.guard == "each item"
    assert isinstance(par, Fragment) and par.kind is FragmentKind.PAR and len(par.branches) == 2
    assert short == Note(NotePlacement.OVER, ("A", "B"), "short")
    assert long == Note(NotePlacement.RIGHT_OF, ("C",), "long\nnote")
    assert isinstance(long, Note) and long.line == 10


def test_par_branches_render_to_mermaid_and() -> None:
    d = sdo("par\nA->B:one\nelse\nA->C:two\nend\n")
    rendered = d.to_mermaid()
    assert "    par\n        A->>B: one\n    and\n        A->>C: two\n    end\n" in rendered
    assert parse_text(rendered) == d


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("A->B:x\nend\n", 2, "`end` without an open fragment"),
        ("A->B:x\n\nalt ok\nA->B:y\n", 4, "missing `end` for `alt` opened at line 3"),
        ("opt\nelse\nend\n", 2, "`else` is not allowed in `opt` (opened at line 1)"),
        ("A->B:x\nparallel\n", 2, "`parallel` is not supported"),
        ("A<->B:x\n", 1, "two-way arrow `<->` is not supported"),
        ("A->*B:x\n", 1, "creation messages are not supported"),
        ('participant "Unclosed as X\n', 1, "unknown participant syntax"),
        ("A->B:x\nwhat is this\n", 2, "unknown statement 'what is this'"),
        ("note over A\nnever closed\n", 1, "never closed with `end note`"),
        ("A->B:x\n/* open\n", 2, "`/*` comment is never closed"),
    ],
)
def test_errors_name_the_line(text: str, line: int, reason: str) -> None:
    with pytest.raises(DiagramParseError) as caught:
        sdo(text)
    assert caught.value.line == line
    assert reason in str(caught.value)
