"""The message-sequence model that every notation parses into (DESIGN.md section 7).

A diagram is a list of participants and a tree of items: messages, notes, activations and
fragments (alt, opt, loop, par, critical, break, rect), each fragment holding one or more
branches of items. Text keeps its line breaks as ``"\\n"`` whatever the notation wrote
(Mermaid ``<br/>``, sequencediagram.org ``\\n``).

Equality is semantic: two diagrams are equal when they say the same thing, so that a diagram
rendered to Mermaid and parsed back equals the original. Source line numbers and pure
presentation (activation colours, ``bottomparticipants``, the notation read from) are kept
for error messages and tools but left out of ``==``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from reference_impl.domain.trace import MessageKind


class Notation(StrEnum):
    MERMAID = "mermaid"
    SEQUENCEDIAGRAM_ORG = "sequencediagram.org"  # seed 000
    ASCII = "ascii"  # seed 003


class ParticipantKind(StrEnum):
    # sequencediagram.org's other shapes (database, boundary, ...) are icons only and read
    # as PARTICIPANT; Mermaid's two keywords are the vocabulary the model keeps.
    PARTICIPANT = "participant"
    ACTOR = "actor"


@dataclass(frozen=True, slots=True)
class Participant:
    name: str  # the identifier messages use
    label: str  # what is drawn; equals name unless the notation gave a display name
    kind: ParticipantKind = ParticipantKind.PARTICIPANT
    line: int = field(default=0, compare=False)


#: ``"+"`` activates the target, ``"-"`` deactivates the source (Mermaid's ``->>+`` / ``-->>-``).
ActivationMark = Literal["", "+", "-"]


@dataclass(frozen=True, slots=True)
class Message:
    # None is the diagram's edge: a found message (seed 000's ``[->Buyer:Authorized``) has no
    # source, a lost message no target.
    source: str | None
    target: str | None
    label: str
    kind: MessageKind = MessageKind.SYNC
    activation: ActivationMark = ""
    line: int = field(default=0, compare=False)

    @property
    def is_self(self) -> bool:
        return self.source is not None and self.source == self.target

    @property
    def text(self) -> str:
        """The label on one line, runs of whitespace folded: what mappings and errors quote."""
        return normalize_label(self.label)

    def describe(self) -> str:
        source = self.source if self.source is not None else "[edge]"
        target = self.target if self.target is not None else "[edge]"
        return f"{source} -> {target}: {self.text} (line {self.line})"


class NotePlacement(StrEnum):
    OVER = "over"
    LEFT_OF = "left of"
    RIGHT_OF = "right of"


@dataclass(frozen=True, slots=True)
class Note:
    placement: NotePlacement
    participants: tuple[str, ...]
    text: str
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Activation:
    """An ``activate`` / ``deactivate`` statement (the ``+``/``-`` shorthand lives on Message)."""

    participant: str
    active: bool
    colour: str | None = field(default=None, compare=False)  # seed 000: ``#lightgray``
    line: int = field(default=0, compare=False)


class FragmentKind(StrEnum):
    ALT = "alt"  # one branch is taken
    OPT = "opt"  # the single branch is taken or not
    LOOP = "loop"  # the single branch repeats
    PAR = "par"  # all branches run, interleaved
    CRITICAL = "critical"  # the main branch, or one of its ``option`` branches
    BREAK = "break"  # taken or not; when taken, the enclosing loop (or the diagram) ends
    RECT = "rect"  # a highlighted group; no effect on the order of messages


@dataclass(frozen=True, slots=True)
class Branch:
    guard: str  # the text after alt/else/and/option/loop...; the colour for rect
    items: tuple[Item, ...]
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Fragment:
    kind: FragmentKind
    branches: tuple[Branch, ...]
    line: int = field(default=0, compare=False)

    @property
    def guard(self) -> str:
        return self.branches[0].guard


Item = Message | Note | Activation | Fragment


@dataclass(frozen=True, slots=True)
class SequenceDiagram:
    participants: tuple[Participant, ...]
    items: tuple[Item, ...]
    title: str | None = None
    autonumber: bool = False
    notation: Notation = field(default=Notation.MERMAID, compare=False)
    bottom_participants: bool = field(default=False, compare=False)  # seed 000

    def participant(self, name: str) -> Participant:
        for p in self.participants:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.participants)
        raise KeyError(f"no participant {name!r} in the diagram (participants: {known})")

    @property
    def participant_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.participants)

    def messages(self) -> Iterator[Message]:
        """Every message in document order, fragments walked depth first."""
        return (item for item in walk(self.items) if isinstance(item, Message))

    def fragments(self) -> Iterator[Fragment]:
        return (item for item in walk(self.items) if isinstance(item, Fragment))

    def to_mermaid(self) -> str:
        # Imported here because the renderer imports this module.
        from scenarios.diagrams.mermaid import render

        return render(self)


def walk(items: Iterable[Item]) -> Iterator[Item]:
    for item in items:
        yield item
        if isinstance(item, Fragment):
            for branch in item.branches:
                yield from walk(branch.items)


def normalize_label(text: str) -> str:
    return " ".join(text.split())


def tidy_text(text: str) -> str:
    """Strips every line of a label, keeping its line breaks: how all parsers store text."""
    return "\n".join(part.strip() for part in text.split("\n")).strip()
