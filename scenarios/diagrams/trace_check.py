"""Does a recorded trace conform to a sequence diagram? (DESIGN.md section 7)

The diagram defines a language of message sequences:

    message         one event
    alt, critical   exactly one branch (critical: the main branch or one ``option``)
    opt             its branch or nothing
    loop            zero or more repetitions (UML's default); a guard that starts with UML
                    bounds, ``(min,max)``, ``(min,*)`` or ``(n)``, sets them instead
    par             every branch, interleaved in any order
    break           its branch or nothing; when taken, the innermost enclosing loop ends
                    there, or the whole diagram when no loop encloses it
    rect            its branch, as if not grouped
    notes, activations: nothing

Both sides are projected the same way (see ``projection``): a diagram message is expected,
and a trace event is checked, only when both its ends are observable and are different
actors. Trace events outside the projection are set aside in ``TraceVerdict.ignored``.

The trace is also projected onto the diagram's alphabet: an event that no diagram message
could ever match (a step the diagram does not draw at all, such as creating an empty cart
before seed 000's first "Add to cart") is set aside as well, so the diagram is checked on
what it draws: order, alternatives, loops, missing and repeated messages. ``strict=True``
turns this off and rejects such events.

Matching rule, for a diagram message and a trace event:

1. ends: ``participant_map`` maps each diagram participant to the actor name the trace uses
   (an unmapped participant keeps its own name); the mapped source and target must equal the
   event's source and target;
2. label: ``message_map`` is keyed by diagram label, line breaks and runs of spaces folded
   into one space, or by ``"line N"`` (the message drawn on line N of the diagram file) where
   one label is drawn twice with two meanings (seed 004's two ``POST /api/webhook``); a line
   key wins over a label key. A string value is the operation name the event's ``message``
   must equal; ``ANY_LABEL`` (``"*"``) or no entry matches any ``message``; ``None`` says the
   implementation does not send this message on purpose (the mapping says why), and the
   checker then does not expect it.

``late`` names messages (same keys as ``message_map``) that the implementation sends later
than drawn, on purpose: such a message is expected exactly once, anywhere from the place it
is drawn to the end of the sequence drawing it (its alt branch, loop body or par branch, or
the whole diagram). Seed 000 answers the buyer after the account check and the stock update
that its diagram draws after the answer; seed 001's confirmation email leaves through an
outbox, so it may reach the mail sink after the webhook's "200 OK" drawn below it.

The event's ``kind`` is not compared: the seeds draw the same exchange with different arrows
(004 draws the success redirect as a call, 001 as a reply).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from reference_impl.domain.trace import TraceEvent
from scenarios.diagrams.automaton import Algebra, Expr
from scenarios.diagrams.model import (
    Activation,
    Fragment,
    FragmentKind,
    Item,
    Message,
    Note,
    SequenceDiagram,
    normalize_label,
)
from scenarios.diagrams.projection import check_participants, project

ANY_LABEL: Final = "*"

_LINE_KEY = re.compile(r"line\s+(?P<line>\d+)", re.IGNORECASE)
_LOOP_BOUNDS = re.compile(r"^\(\s*(?P<low>\d+)\s*(?:,\s*(?P<high>\d+|\*)\s*)?\)")


@dataclass(frozen=True, slots=True)
class _Expected:
    message: Message
    source: str  # actor names, after participant_map
    target: str
    key: str | None  # None: any label

    def matches(self, event: TraceEvent) -> bool:
        return (
            str(event.source) == self.source
            and str(event.target) == self.target
            and (self.key is None or event.message == self.key)
        )

    def describe(self) -> str:
        m = self.message
        head = f"{self.source} -> {self.target}" + (f": {self.key}" if self.key else "")
        drawn = (
            ""
            if (m.source, m.target) == (self.source, self.target)
            else (f"{m.source} -> {m.target}: ")
        )
        return f"{head} (line {m.line}: {drawn}{m.text})"


@dataclass(frozen=True, slots=True)
class TraceVerdict:
    ok: bool
    reason: str  # empty when ok
    position: int | None  # index in ``checked`` of the event that did not fit (len: ended early)
    expected: tuple[str, ...]  # what the diagram allowed there
    saw: TraceEvent | None
    checked: tuple[TraceEvent, ...]  # the events matched against the diagram, in order
    ignored: tuple[TraceEvent, ...]  # events outside the projection, or another correlation id

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        return f"conforms ({len(self.checked)} events)" if self.ok else self.reason


class TraceChecker:
    """A diagram compiled once for checking many traces (one per order in a simulation)."""

    def __init__(
        self,
        diagram: SequenceDiagram,
        observable: Iterable[str] | None = None,
        participant_map: Mapping[str, str] | None = None,
        message_map: Mapping[str, str | None] | None = None,
        *,
        late: Iterable[str] = (),
    ) -> None:
        visible = frozenset(diagram.participant_names if observable is None else observable)
        self._participant_map = dict(participant_map or {})
        check_participants(diagram, self._participant_map, "participant_map")
        self._by_line: dict[int, str | None] = {}
        self._by_label: dict[str, str | None] = {}
        lines = {m.line for m in diagram.messages()}
        labels = {m.text for m in diagram.messages()}
        unknown: list[str] = []
        for key, value in (message_map or {}).items():
            if by_line := _LINE_KEY.fullmatch(key.strip()):
                self._by_line[int(by_line["line"])] = value
                known = int(by_line["line"]) in lines
            else:
                self._by_label[normalize_label(key)] = value
                known = normalize_label(key) in labels
            if not known:
                unknown.append(repr(key))
        if unknown:
            raise ValueError(
                f"message_map names {', '.join(unknown)}: no such message label or line"
            )
        self._late_lines: set[int] = set()
        self._late_labels: set[str] = set()
        for key in late:
            if by_line := _LINE_KEY.fullmatch(key.strip()):
                self._late_lines.add(int(by_line["line"]))
                known = int(by_line["line"]) in lines
            else:
                self._late_labels.add(normalize_label(key))
                known = normalize_label(key) in labels
            if not known:
                unknown.append(repr(key))
        if unknown:
            raise ValueError(f"late names {', '.join(unknown)}: no such message label or line")
        self.projected = project(diagram, visible, self._participant_map)
        self.actors = frozenset(self._actor(name) for name in visible)
        self._algebra = Algebra()
        self._symbols: list[_Expected] = []
        normal, broke = self._compile(self.projected.items)
        self._start = self._algebra.alt(normal, broke)

    @property
    def states_built(self) -> int:
        """Automaton states built so far. Derivatives in canonical form are finitely many,
        so once every state is built, a longer trace costs only time linear in its length."""
        return len(self._algebra)

    def check(
        self,
        trace: Iterable[TraceEvent],
        *,
        correlation_id: str | None = None,
        complete: bool = True,
        strict: bool = False,
    ) -> TraceVerdict:
        """``complete=False`` accepts a trace that stops early: any prefix of a conforming
        trace (an abandoned flow; seed 001's 409 branch, which the diagram draws as an alt
        that goes on to create the order). ``strict=True`` also checks events the diagram
        never draws (see the module's docstring)."""
        checked: list[TraceEvent] = []
        ignored: list[TraceEvent] = []
        for event in trace:
            wanted = correlation_id is None or event.correlation_id == correlation_id
            drawn = strict or any(s.matches(event) for s in self._symbols)
            (checked if wanted and drawn and self._is_observable(event) else ignored).append(
                event
            )
        states = frozenset({self._start})
        for index, event in enumerate(checked):
            matched = frozenset(i for i, s in enumerate(self._symbols) if s.matches(event))
            following = frozenset(
                d for state in states for d in self._algebra.derive(state, matched)
            )
            if not following:
                return self._reject(index, checked, ignored, states)
            states = following
        if complete and not any(s.nullable for s in states):
            expected = self._expected(states)
            after = _after(checked, len(checked)) if checked else "with no events"
            reason = f"trace ended early {after}, expected one of: {'; '.join(expected)}"
            return TraceVerdict(
                False, reason, len(checked), expected, None, tuple(checked), tuple(ignored)
            )
        return TraceVerdict(True, "", None, (), None, tuple(checked), tuple(ignored))

    # -- compiling the fragment tree ------------------------------------------------------------

    def _compile(self, items: Iterable[Item]) -> tuple[Expr, Expr]:
        """The sequences ``items`` complete with, and those that end in a taken break."""
        alg = self._algebra
        normal, broke = alg.eps, alg.empty
        for item in reversed(list(items)):
            n, x = self._compile_item(item)
            if self._is_late(item):  # anywhere from here to the end of this sequence
                broke = alg.alt(x, alg.shuffle(n, broke))
                normal = alg.shuffle(n, normal)
            else:
                broke = alg.alt(x, alg.cat(n, broke))
                normal = alg.cat(n, normal)
        return normal, broke

    def _compile_item(self, item: Item) -> tuple[Expr, Expr]:
        alg = self._algebra
        if isinstance(item, Message):
            return self._symbol(item), alg.empty
        if isinstance(item, Note | Activation):
            return alg.eps, alg.empty
        return self._compile_fragment(item)

    def _compile_fragment(self, fragment: Fragment) -> tuple[Expr, Expr]:
        alg = self._algebra
        compiled = [self._compile(b.items) for b in fragment.branches]
        normals = [n for n, _ in compiled]
        brokes = [x for _, x in compiled]
        kind = fragment.kind
        if kind in (FragmentKind.ALT, FragmentKind.CRITICAL):
            return alg.alt(*normals), alg.alt(*brokes)
        body, body_broke = normals[0], brokes[0]
        if kind is FragmentKind.OPT:
            return alg.opt(body), body_broke
        if kind is FragmentKind.RECT:
            return body, body_broke
        if kind is FragmentKind.BREAK:
            return alg.eps, alg.alt(body, body_broke)
        if kind is FragmentKind.LOOP:
            low, high = loop_bounds(fragment)
            # The loop absorbs a break taken in any iteration before the last allowed one.
            before_break = None if high is None else high - 1
            broken = (
                alg.empty if high == 0 else alg.cat(alg.repeat(body, 0, before_break), body_broke)
            )
            return alg.alt(alg.repeat(body, low, high), broken), alg.empty
        # PAR: a break taken in one branch leaves the par once the other branches complete.
        broken_par = [
            alg.interleave([x, *(n for j, n in enumerate(normals) if j != i)])
            for i, x in enumerate(brokes)
        ]
        return alg.interleave(normals), alg.alt(*broken_par)

    def _symbol(self, message: Message) -> Expr:
        if message.line in self._by_line:
            key = self._by_line[message.line]
        else:
            key = self._by_label.get(message.text, ANY_LABEL)
        if key is None:  # not sent, on purpose
            return self._algebra.eps
        assert message.source is not None and message.target is not None  # projected
        self._symbols.append(
            _Expected(
                message,
                self._actor(message.source),
                self._actor(message.target),
                None if key == ANY_LABEL else key,
            )
        )
        return self._algebra.sym(len(self._symbols) - 1)

    # -- helpers --------------------------------------------------------------------------------

    def _is_late(self, item: Item) -> bool:
        return isinstance(item, Message) and (
            item.line in self._late_lines or item.text in self._late_labels
        )

    def _actor(self, participant: str) -> str:
        return self._participant_map.get(participant, participant)

    def _is_observable(self, event: TraceEvent) -> bool:
        source, target = str(event.source), str(event.target)
        return source in self.actors and target in self.actors and source != target

    def _expected(self, states: frozenset[Expr]) -> tuple[str, ...]:
        symbols = {s for state in states for s in self._algebra.first(state)}
        ordered = sorted(symbols, key=lambda s: (self._symbols[s].message.line, s))
        return tuple(self._symbols[s].describe() for s in ordered)

    def _reject(
        self,
        index: int,
        checked: list[TraceEvent],
        ignored: list[TraceEvent],
        states: frozenset[Expr],
    ) -> TraceVerdict:
        event = checked[index]
        expected = self._expected(states)
        saw = _describe_event(index, event)
        after = _after(checked, index)
        if not expected:
            reason = f"unexpected extra message {saw} {after}: the diagram ends there"
        else:
            choices = "; ".join(expected)
            if any(s.nullable for s in states):
                choices += "; the end of the trace"
            reason = f"{after}, expected one of: {choices}, saw {saw}"
        return TraceVerdict(False, reason, index, expected, event, tuple(checked), tuple(ignored))


def loop_bounds(fragment: Fragment) -> tuple[int, int | None]:
    """(min, max) repetitions of a loop; max None is unbounded. Default: zero or more."""
    m = _LOOP_BOUNDS.match(fragment.guard)
    if not m:
        return 0, None
    low = int(m["low"])
    high_text = m["high"]
    high = low if high_text is None else None if high_text == "*" else int(high_text)
    if high is not None and high < low:
        raise ValueError(f"line {fragment.line}: loop bounds {m[0]} have max below min")
    return low, high


def _describe_event(index: int, event: TraceEvent) -> str:
    return f"#{index + 1} {event.source} -> {event.target}: {event.message}"


def _after(checked: list[TraceEvent], index: int) -> str:
    if index == 0:
        return "at the start of the trace"
    return f"after {_describe_event(index - 1, checked[index - 1])}"


def check_trace(
    diagram: SequenceDiagram,
    trace: Iterable[TraceEvent],
    observable: Iterable[str] | None = None,
    participant_map: Mapping[str, str] | None = None,
    message_map: Mapping[str, str | None] | None = None,
    *,
    correlation_id: str | None = None,
    complete: bool = True,
    strict: bool = False,
) -> TraceVerdict:
    """Checks one trace; see the module docstring for the language and the matching rule
    (``TraceChecker`` also takes ``late``)."""
    checker = TraceChecker(diagram, observable, participant_map, message_map)
    return checker.check(trace, correlation_id=correlation_id, complete=complete, strict=strict)
