"""Builds a SequenceDiagram statement by statement; shared by the line-based parsers.

It owns what every notation has in common: participants declared explicitly or on first use
(in order of first appearance, as Mermaid and sequencediagram.org both draw them), and the
stack of open fragments with its errors (``end`` without a fragment, a missing ``end``, a
branch keyword the open fragment does not take).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from scenarios.diagrams.errors import DiagramParseError
from scenarios.diagrams.model import (
    Branch,
    Fragment,
    FragmentKind,
    Item,
    Notation,
    Participant,
    ParticipantKind,
    SequenceDiagram,
)


@dataclass
class _OpenBranch:
    guard: str
    line: int
    items: list[Item] = field(default_factory=list)


@dataclass
class _OpenFragment:
    kind: FragmentKind
    keyword: str  # as written, for error messages
    line: int
    branches: list[_OpenBranch]


class DiagramBuilder:
    def __init__(
        self,
        notation: Notation,
        branch_keywords: Mapping[FragmentKind, frozenset[str]],
    ) -> None:
        self._notation = notation
        self._branch_keywords = branch_keywords
        self._participants: dict[str, Participant] = {}
        self._declared_at: dict[str, int] = {}
        self._top: list[Item] = []
        self._stack: list[_OpenFragment] = []
        self.title: str | None = None
        self.autonumber = False
        self.bottom_participants = False

    def declare(self, name: str, label: str | None, kind: ParticipantKind, line: int) -> None:
        if name in self._declared_at:
            raise DiagramParseError(
                line,
                f"participant {name!r} is declared twice (first at line {self._declared_at[name]})",
            )
        self._declared_at[name] = line
        # A declaration after first use keeps the participant where it first appeared.
        first_line = self._participants[name].line if name in self._participants else line
        self._participants[name] = Participant(name, label or name, kind, first_line)

    def use(self, name: str, line: int) -> str:
        if not name:
            raise DiagramParseError(line, "empty participant name")
        if name not in self._participants:
            self._participants[name] = Participant(name, name, ParticipantKind.PARTICIPANT, line)
        return name

    def add(self, item: Item) -> None:
        if self._stack:
            self._stack[-1].branches[-1].items.append(item)
        else:
            self._top.append(item)

    def open(self, kind: FragmentKind, keyword: str, guard: str, line: int) -> None:
        self._stack.append(_OpenFragment(kind, keyword, line, [_OpenBranch(guard, line)]))

    def branch(self, keyword: str, guard: str, line: int) -> None:
        if not self._stack:
            raise DiagramParseError(line, f"`{keyword}` without an open fragment")
        frame = self._stack[-1]
        allowed = self._branch_keywords.get(frame.kind, frozenset())
        if keyword not in allowed:
            raise DiagramParseError(
                line,
                f"`{keyword}` is not allowed in `{frame.keyword}` (opened at line {frame.line})",
            )
        frame.branches.append(_OpenBranch(guard, line))

    def close(self, line: int) -> None:
        if not self._stack:
            raise DiagramParseError(line, "`end` without an open fragment")
        frame = self._stack.pop()
        branches = tuple(Branch(b.guard, tuple(b.items), b.line) for b in frame.branches)
        self.add(Fragment(frame.kind, branches, frame.line))

    def build(self, last_line: int) -> SequenceDiagram:
        if self._stack:
            frame = self._stack[-1]
            raise DiagramParseError(
                last_line, f"missing `end` for `{frame.keyword}` opened at line {frame.line}"
            )
        return SequenceDiagram(
            participants=tuple(self._participants.values()),
            items=tuple(self._top),
            title=self.title,
            autonumber=self.autonumber,
            notation=self._notation,
            bottom_participants=self.bottom_participants,
        )
