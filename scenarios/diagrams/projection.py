"""Projecting a diagram onto the participants a recorder can observe (DESIGN.md section 7).

A black-box SUT is seen only at its boundary: harness to SUT, SUT to gateway, gateway to SUT,
SUT to mail. The projection keeps exactly the messages such a recorder could see:

- both ends are observable participants;
- the two ends are different actors once ``participant_map`` is applied. A self-message
  (seed 000's ``Product->Product: fetch if available``) is work inside one participant, and
  when the map folds several participants into one actor (seed 001's User and Frontend are
  both the harness's Buyer) their messages are work inside that actor: no wire carries them;
- found and lost messages (seed 000's ``[->Buyer:Authorized``) come from the diagram's edge,
  which no recorder observes.

Structure is kept: a branch that loses all its messages stays, empty, because "nothing
visible happens" is still one of an alt's choices (seed 001: the availability check talks
only to the database, so at the boundary it is the silent alternative to the 409). A
fragment left with no items in any branch is dropped, and so are notes and activations of
hidden participants.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from scenarios.diagrams.model import (
    Activation,
    Branch,
    Fragment,
    Item,
    Message,
    Note,
    SequenceDiagram,
)


def check_participants(diagram: SequenceDiagram, names: Iterable[str], what: str) -> None:
    known = diagram.participant_names
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ValueError(
            f"{what} names {', '.join(map(repr, unknown))}, not in the diagram "
            f"(participants: {', '.join(known)})"
        )


def is_observable(
    message: Message, observable: frozenset[str], participant_map: Mapping[str, str]
) -> bool:
    source, target = message.source, message.target
    if source is None or target is None:
        return False
    if source not in observable or target not in observable:
        return False
    return participant_map.get(source, source) != participant_map.get(target, target)


def project(
    diagram: SequenceDiagram,
    observable: Iterable[str],
    participant_map: Mapping[str, str] | None = None,
) -> SequenceDiagram:
    """The diagram as seen by a recorder of the ``observable`` participants only."""
    visible = frozenset(observable)
    check_participants(diagram, visible, "observable")
    mapping = dict(participant_map or {})
    check_participants(diagram, mapping, "participant_map")
    return SequenceDiagram(
        participants=tuple(p for p in diagram.participants if p.name in visible),
        items=_items(diagram.items, visible, mapping),
        title=diagram.title,
        autonumber=diagram.autonumber,
        notation=diagram.notation,
        bottom_participants=diagram.bottom_participants,
    )


def _kept_activation(message: Message, visible: frozenset[str]) -> tuple[Activation, ...]:
    # A hidden message's ``+``/``-`` may (de)activate a visible participant; keeping that as a
    # statement keeps the projected diagram's activations balanced, so Mermaid still draws it.
    if message.activation == "+" and message.target in visible:
        return (Activation(message.target, True, line=message.line),)
    if message.activation == "-" and message.source in visible:
        return (Activation(message.source, False, line=message.line),)
    return ()


def _items(
    items: Iterable[Item], visible: frozenset[str], mapping: Mapping[str, str]
) -> tuple[Item, ...]:
    kept: list[Item] = []
    for item in items:
        if isinstance(item, Message):
            if is_observable(item, visible, mapping):
                kept.append(item)
            else:
                kept.extend(_kept_activation(item, visible))
        elif isinstance(item, Note):
            if set(item.participants) <= visible:
                kept.append(item)
        elif isinstance(item, Activation):
            if item.participant in visible:
                kept.append(item)
        else:
            branches = tuple(
                Branch(b.guard, _items(b.items, visible, mapping), b.line) for b in item.branches
            )
            if any(b.items for b in branches):
                kept.append(Fragment(item.kind, branches, item.line))
    return tuple(kept)
