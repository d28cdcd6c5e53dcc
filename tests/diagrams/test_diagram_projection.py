"""Projection onto the observable participants: what a boundary recorder can see."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from scenarios.diagrams import (
    Activation,
    Fragment,
    Message,
    SequenceDiagram,
    parse_text,
    project,
)

Seed = Callable[[str], SequenceDiagram]


def texts(diagram: SequenceDiagram) -> list[str]:
    return [m.text for m in diagram.messages()]


def test_drops_hidden_self_and_edge_messages() -> None:
    d = parse_text(
        "[->A:found\nA->B:visible\nB->B:self\nB->C:to hidden\nC-->B:from hidden\nB-->A:back\n",
        "sequencediagram.org",
    )
    p = project(d, {"A", "B"})
    assert p.participant_names == ("A", "B")
    assert texts(p) == ["visible", "back"]


def test_participants_folded_into_one_actor_talk_internally() -> None:
    d = parse_text("U->F:click\nF->B:POST\nB-->F:200\nF-->U:show\n", "sequencediagram.org")
    p = project(d, {"U", "F", "B"}, {"U": "Buyer", "F": "Buyer", "B": "Storefront"})
    assert texts(p) == ["POST", "200"]


def test_keeps_empty_branches_and_drops_empty_fragments() -> None:
    d = parse_text(
        "sequenceDiagram\n"
        "    alt in stock\n"
        "        B->>DB: check\n"
        "    else not\n"
        "        B-->>F: 409\n"
        "    end\n"
        "    loop\n"
        "        B->>DB: write\n"
        "    end\n"
    )
    p = project(d, {"F", "B"})
    (alt,) = p.items
    assert isinstance(alt, Fragment)
    assert [len(b.items) for b in alt.branches] == [0, 1]


def test_hidden_message_activations_survive_as_statements(seed: Seed) -> None:
    d = parse_text("sequenceDiagram\n    F->>+B: call\n    B->>DB: q\n    B-->>-F: done\n")
    assert project(d, {"B", "DB"}).items == (
        Activation("B", True),
        Message("B", "DB", "q"),
        Activation("B", False),
    )
    # The seed's boundary view still renders to Mermaid and parses back.
    boundary = project(
        seed("001"),
        {"User", "Frontend", "Backend", "PaymentGateway", "EmailService"},
        {"User": "Buyer", "Frontend": "Buyer", "Backend": "Storefront"},
    )
    assert parse_text(boundary.to_mermaid()) == boundary


def test_seed_001_boundary(seed: Seed) -> None:
    boundary = project(
        seed("001"),
        {"User", "Frontend", "Backend", "PaymentGateway", "EmailService"},
        {"User": "Buyer", "Frontend": "Buyer"},
    )
    assert all("Database" not in (m.source, m.target) for m in boundary.messages())
    assert not any(m.is_self for m in boundary.messages())
    assert texts(boundary)[:3] == [
        texts(seed("001"))[4],  # the POST /api/orders
        '409 Conflict (body: { error: "Items not available or prices changed" })',
        "Initiate payment (amount, orderId)",
    ]


def test_unknown_names_are_refused() -> None:
    d = parse_text("A->B:x\n", "sequencediagram.org")
    with pytest.raises(
        ValueError, match=r"observable names 'Z', not in the diagram \(participants: A, B\)"
    ):
        project(d, {"A", "Z"})
    with pytest.raises(ValueError, match="participant_map names 'Q'"):
        project(d, {"A"}, {"Q": "Buyer"})
    assert isinstance(next(project(d, {"A", "B"}).messages()), Message)
