"""Mermaid sequenceDiagram: parser details, errors with line numbers, and the renderer."""

from __future__ import annotations

import pytest

from reference_impl.domain.trace import MessageKind
from scenarios.diagrams import (
    Activation,
    Branch,
    DiagramParseError,
    Fragment,
    FragmentKind,
    Message,
    Note,
    NotePlacement,
    Participant,
    ParticipantKind,
    SequenceDiagram,
    parse_text,
)


def mermaid(body: str) -> SequenceDiagram:
    return parse_text("sequenceDiagram\n" + body, "mermaid")


def test_participants_aliases_and_actors() -> None:
    d = mermaid(
        "    actor User\n"
        "    participant Frontend as Frontend<br/>(React)\n"
        "    participant DB as PostgreSQL\n"
        '    participant Cache@{ "type": "database" }\n'
        "    User->>Shop: hi\n"
    )
    assert d.participants == (
        Participant("User", "User", ParticipantKind.ACTOR),
        Participant("Frontend", "Frontend\n(React)"),
        Participant("DB", "PostgreSQL"),
        Participant("Cache", "Cache"),
        Participant("Shop", "Shop"),  # implicit, in order of first use
    )
    assert d.participant("Shop").line == 6


def test_declaration_after_use_keeps_first_position() -> None:
    d = mermaid("    A->>B: x\n    participant B as Bee\n")
    assert d.participants == (Participant("A", "A"), Participant("B", "Bee"))


@pytest.mark.parametrize(
    ("arrow", "kind"),
    [
        ("->>", MessageKind.SYNC),
        ("->", MessageKind.SYNC),
        ("-)", MessageKind.ASYNC),
        ("-x", MessageKind.ASYNC),
        ("-->>", MessageKind.REPLY),
        ("-->", MessageKind.REPLY),
        ("--)", MessageKind.REPLY),
        ("--x", MessageKind.REPLY),
    ],
)
def test_arrow_kinds(arrow: str, kind: MessageKind) -> None:
    (message,) = mermaid(f"    Alice{arrow}Bob: hello: world\n").items
    assert message == Message("Alice", "Bob", "hello: world", kind)


def test_names_with_dashes_and_spaces() -> None:
    (message,) = mermaid("    jelly-bean->>Order Service: go\n").items
    assert isinstance(message, Message)
    assert (message.source, message.target) == ("jelly-bean", "Order Service")


def test_self_message_and_activations() -> None:
    d = mermaid(
        "    A->>+B: call\n    B->>B: think\n    B-->>-A: done\n    activate A\n    deactivate A\n"
    )
    call, think, done, on, off = d.items
    assert isinstance(call, Message) and call.activation == "+"
    assert isinstance(think, Message) and think.is_self
    assert isinstance(done, Message) and done.activation == "-"
    assert (on, off) == (Activation("A", True), Activation("A", False))


def test_notes() -> None:
    d = mermaid(
        "    Note over A: one\n"
        "    note over A, B: two<br>lines\n"
        "    note left of A: three\n"
        "    NOTE RIGHT OF B: four\n"
    )
    assert d.items == (
        Note(NotePlacement.OVER, ("A",), "one"),
        Note(NotePlacement.OVER, ("A", "B"), "two\nlines"),
        Note(NotePlacement.LEFT_OF, ("A",), "three"),
        Note(NotePlacement.RIGHT_OF, ("B",), "four"),
    )


def test_fragments_nest_with_their_branches() -> None:
    d = mermaid(
        "    loop every minute\n"
        "        alt ok\n"
        "            A->>B: x\n"
        "        else failed\n"
        "            A->>C: y\n"
        "        else\n"
        "        end\n"
        "    end\n"
        "    opt maybe\n        A->>B: o\n    end\n"
        "    par one\n        A->>B: p\n    and two\n        A->>C: q\n    end\n"
        "    critical connect\n        A->>B: c\n    option timeout\n        A->>A: log\n    end\n"
        "    break when down\n        A->>B: b\n    end\n"
        "    rect rgb(191, 223, 255)\n        A->>B: r\n    end\n"
    )
    loop, opt, par, critical, brk, rect = d.items
    assert isinstance(loop, Fragment) and loop.kind is FragmentKind.LOOP
    assert loop.guard == "every minute" and loop.line == 2
    (alt,) = loop.branches[0].items
    assert alt == Fragment(
        FragmentKind.ALT,
        (
            Branch("ok", (Message("A", "B", "x"),)),
            Branch("failed", (Message("A", "C", "y"),)),
            Branch("", ()),
        ),
    )
    assert isinstance(alt, Fragment) and [b.line for b in alt.branches] == [3, 5, 7]
    kinds = [f.kind for f in (opt, par, critical, brk, rect) if isinstance(f, Fragment)]
    assert kinds == [
        FragmentKind.OPT,
        FragmentKind.PAR,
        FragmentKind.CRITICAL,
        FragmentKind.BREAK,
        FragmentKind.RECT,
    ]
    assert isinstance(par, Fragment) and [b.guard for b in par.branches] == ["one", "two"]
    assert isinstance(critical, Fragment) and critical.branches[1].guard == "timeout"
    assert isinstance(rect, Fragment) and rect.guard == "rgb(191, 223, 255)"


def test_title_autonumber_comments_and_markdown_fence() -> None:
    text = (
        "# Heading\n"
        "\n"
        "```mermaid\n"
        "%% a comment\n"
        "sequenceDiagram\n"
        "    Title: The flow\n"
        "    autonumber\n"
        "    %% another\n"
        "    A->>B: x\n"
        "```\n"
        "trailing prose -> not: a message\n"
    )
    d = parse_text(text)
    assert d.title == "The flow"
    assert d.autonumber
    (message,) = d.items
    assert isinstance(message, Message) and message.line == 9
    assert mermaid("    title plain words\n").title == "plain words"


def test_entity_codes_and_line_breaks_decode() -> None:
    (message,) = mermaid("    A->>B: a#59; b #35; c<br/>d\n").items
    assert isinstance(message, Message) and message.label == "a; b # c\nd"


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        ("    A->>B: x\n    end\n", 3, "`end` without an open fragment"),
        (
            "    A->>B: x\n    alt one\n    A->>B: y\n",
            4,
            "missing `end` for `alt` opened at line 3",
        ),
        (
            "    loop\n    else other\n    end\n",
            3,
            "`else` is not allowed in `loop` (opened at line 2)",
        ),
        ("    and more\n", 2, "`and` without an open fragment"),
        ("    A->>B: x\n    A ~~ B\n", 3, "unknown statement 'A ~~ B'"),
        ("    A->>B no colon\n", 2, "unknown statement"),
        ("    box Aqua Group\n", 2, "`box` is not supported"),
        ("    participant A\n    participant A\n", 3, "declared twice (first at line 2)"),
        ("    participant\n", 2, "unknown participant syntax 'participant'"),
        ("    participant A as\n", 2, "unknown participant syntax"),
        ("    actor A->>B: x\n", 2, "unknown participant syntax"),
    ],
)
def test_errors_name_the_line(body: str, line: int, reason: str) -> None:
    with pytest.raises(DiagramParseError) as caught:
        mermaid(body)
    assert caught.value.line == line
    assert reason in str(caught.value)
    assert str(caught.value).startswith(f"line {line}: ")


def test_errors_count_lines_of_the_whole_markdown_file() -> None:
    text = "# Title\n\n```mermaid\nsequenceDiagram\n    A->>B: x\n    oops\n```\n"
    with pytest.raises(DiagramParseError, match=r"^line 6: unknown statement 'oops'$"):
        parse_text(text)


def test_missing_header_and_unclosed_fence() -> None:
    with pytest.raises(DiagramParseError, match="line 1: expected `sequenceDiagram`"):
        parse_text("flowchart LR\n", "mermaid")
    with pytest.raises(DiagramParseError, match="line 2: the ```mermaid block is never closed"):
        parse_text("intro\n```mermaid\nsequenceDiagram\n")


def test_render_escapes_what_mermaid_would_misread() -> None:
    d = SequenceDiagram(
        participants=(Participant("A", "A"), Participant("B", "B")),
        items=(Message("A", "B", "semi; colon #1 and #59; literal\nnext"),),
    )
    rendered = d.to_mermaid()
    assert "A->>B: semi#59; colon #1 and #35;59#59; literal<br/>next" in rendered
    assert parse_text(rendered) == d


def test_render_gives_unsafe_names_an_id_and_keeps_their_label() -> None:
    d = SequenceDiagram(
        participants=(Participant("Order-Service", "Order-Service"), Participant("end", "end")),
        items=(Message("Order-Service", "end", "x"),),
    )
    rendered = d.to_mermaid()
    assert "participant Order_Service as Order-Service" in rendered
    assert "participant end_2 as end" in rendered
    assert "Order_Service->>end_2: x" in rendered
    again = parse_text(rendered)
    assert [p.label for p in again.participants] == ["Order-Service", "end"]


def test_render_draws_found_messages_from_an_edge_participant() -> None:
    d = parse_text("[->Buyer:Authorized\nBuyer->]:gone\n", "sequencediagram.org")
    rendered = d.to_mermaid()
    assert "participant _edge_ as (edge)" in rendered
    assert "_edge_->>Buyer: Authorized" in rendered
    again = parse_text(rendered)
    assert again == d
    assert again.participant_names == ("Buyer",)


def test_render_layout() -> None:
    d = mermaid(
        "    actor U\n    title T\n    U->>+S: go\n    alt yes\n        S-->>-U: ok\n"
        "    else no\n        note over S: hmm\n    end\n"
    )
    assert d.to_mermaid() == (
        "sequenceDiagram\n"
        "    title T\n"
        "    actor U\n"
        "    participant S\n"
        "\n"
        "    U->>+S: go\n"
        "    alt yes\n"
        "        S-->>-U: ok\n"
        "    else no\n"
        "        note over S: hmm\n"
        "    end\n"
    )
