"""Mermaid ``sequenceDiagram``: parser and renderer (seeds 001, 002, 004).

The parser reads a bare diagram or the first ```` ```mermaid ```` block of a Markdown file
(the seeds are Markdown), and reports lines as numbered in the whole file. Like Mermaid's
own lexer it is case-insensitive and tries keywords before messages, so ``alt x -> y: z`` is
a fragment, not a message.

Arrows and the message kind they mean (a dotted line is always a reply):

    ->>  ->  <<->>      sync
    -)   -x             async
    -->> --> --) --x <<-->>   reply

Two conventions exist only so that every model survives a round trip through Mermaid:
a participant called ``_edge_`` stands for the diagram's edge (sequencediagram.org's found
and lost messages, which Mermaid cannot draw), and ``#35;`` / ``#59;`` escape ``#`` and ``;``
(Mermaid's own entity codes; a raw ``;`` would end the statement).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from reference_impl.domain.trace import MessageKind
from scenarios.diagrams.builder import DiagramBuilder
from scenarios.diagrams.errors import DiagramParseError
from scenarios.diagrams.model import (
    Activation,
    ActivationMark,
    Fragment,
    FragmentKind,
    Item,
    Message,
    Notation,
    Note,
    NotePlacement,
    ParticipantKind,
    SequenceDiagram,
    tidy_text,
)

EDGE = "_edge_"
_EDGE_LABEL = "(edge)"

ARROW_KINDS: Mapping[str, MessageKind] = {
    "->>": MessageKind.SYNC,
    "->": MessageKind.SYNC,
    "<<->>": MessageKind.SYNC,
    "-)": MessageKind.ASYNC,
    "-x": MessageKind.ASYNC,
    "-->>": MessageKind.REPLY,
    "-->": MessageKind.REPLY,
    "--)": MessageKind.REPLY,
    "--x": MessageKind.REPLY,
    "<<-->>": MessageKind.REPLY,
}
_RENDERED_ARROW: Mapping[MessageKind, str] = {
    MessageKind.SYNC: "->>",
    MessageKind.ASYNC: "-)",
    MessageKind.REPLY: "-->>",
}

# The keyword that opens each further branch; fragments not listed have a single branch.
BRANCH_KEYWORDS: Mapping[FragmentKind, frozenset[str]] = {
    FragmentKind.ALT: frozenset({"else"}),
    FragmentKind.PAR: frozenset({"and"}),
    FragmentKind.CRITICAL: frozenset({"option"}),
}
_BRANCH_KEYWORD_OF = {kind: next(iter(words)) for kind, words in BRANCH_KEYWORDS.items()}

_FENCE_OPEN = re.compile(r"^\s*(?P<fence>`{3,}|~{3,})\s*mermaid\s*$", re.IGNORECASE)
_HEADER = re.compile(r"^sequenceDiagram\s*$", re.IGNORECASE)
_PARTICIPANT = re.compile(r"^(?P<kind>participant|actor)(?:\s+(?P<rest>.*))?$", re.IGNORECASE)
_ALIAS = re.compile(r"^(?P<name>.+?)\s+as\s+(?P<label>.+)$", re.IGNORECASE)
_DANGLING_AS = re.compile(r"(^|\s)as$", re.IGNORECASE)
_CONFIG = re.compile(r"@\{.*\}\s*$")  # Mermaid 11 ``Name@{ "type": "database" }``: shape only
_TITLE = re.compile(r"^title(?:\s*:\s*|\s+)(?P<text>.*)$", re.IGNORECASE)  # seed 001: ``Title:``
_AUTONUMBER = re.compile(r"^autonumber\b", re.IGNORECASE)
_ACTIVATION = re.compile(r"^(?P<verb>activate|deactivate)\s+(?P<name>.+)$", re.IGNORECASE)
_NOTE = re.compile(
    r"^note\s+(?P<place>over|left\s+of|right\s+of)\s+(?P<who>[^:]+?)\s*:(?P<text>.*)$",
    re.IGNORECASE,
)
_OPEN = re.compile(
    r"^(?P<kw>loop|alt|opt|par|critical|break|rect)(?:\s+(?P<guard>.*))?$", re.IGNORECASE
)
_LOOP_BOUNDS = re.compile(r"^(?P<kw>loop)(?P<guard>\(.*)$", re.IGNORECASE)  # UML ``loop(1,*)``
_BRANCH = re.compile(r"^(?P<kw>else|and|option)(?:\s+(?P<guard>.*))?$", re.IGNORECASE)
_END = re.compile(r"^end$", re.IGNORECASE)
_IGNORED = re.compile(r"^(accTitle|accDescr)\b", re.IGNORECASE)  # accessibility text only
_UNSUPPORTED = re.compile(r"^(box|create|destroy|links?|properties|details)\b", re.IGNORECASE)
_MESSAGE = re.compile(
    r"^(?P<source>.+?)\s*(?P<arrow><<-->>|<<->>|-->>|->>|--\)|-\)|--x|-x|-->|->)"
    r"\s*(?P<mark>[+-]?)\s*(?P<target>[^:]+?)\s*:(?P<text>.*)$"
)
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_ENTITY = re.compile(r"#(\d+);")
_NEEDS_ESCAPE = re.compile(r";|#(?=\w+;)")


def parse(text: str) -> SequenceDiagram:
    lines, last_line = _diagram_lines(text)
    builder = DiagramBuilder(Notation.MERMAID, BRANCH_KEYWORDS)
    seen_header = False
    for number, raw in lines:
        line = raw.strip()
        if not line or line.startswith("%%"):
            continue
        if not seen_header:
            if not _HEADER.match(line):
                raise DiagramParseError(number, f"expected `sequenceDiagram`, found {line!r}")
            seen_header = True
            continue
        _statement(builder, line, number)
    if not seen_header:
        raise DiagramParseError(last_line, "no `sequenceDiagram` found")
    return builder.build(last_line)


def _diagram_lines(text: str) -> tuple[list[tuple[int, str]], int]:
    """The diagram's lines with their 1-based numbers in the file, and the last line number."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        opened = _FENCE_OPEN.match(line)
        if not opened:
            continue
        fence = opened["fence"]
        for j in range(i + 1, len(lines)):
            if lines[j].strip().startswith(fence):
                return [(k + 1, lines[k]) for k in range(i + 1, j)], j + 1
        raise DiagramParseError(i + 1, f"the {fence}mermaid block is never closed")
    return [(k + 1, line) for k, line in enumerate(lines)], max(len(lines), 1)


def _statement(builder: DiagramBuilder, line: str, number: int) -> None:
    if m := _PARTICIPANT.match(line):
        kind = ParticipantKind(m["kind"].lower())
        rest = _CONFIG.sub("", m["rest"] or "").strip()
        if not rest or _DANGLING_AS.search(rest) or _MESSAGE.match(rest):
            raise DiagramParseError(number, f"unknown participant syntax {line!r}")
        alias = _ALIAS.match(rest)
        name, label = (alias["name"].strip(), decode(alias["label"])) if alias else (rest, None)
        if name == EDGE:
            return
        builder.declare(name, label, kind, number)
    elif m := _TITLE.match(line):
        builder.title = decode(m["text"])
    elif _AUTONUMBER.match(line):
        builder.autonumber = True
    elif m := _ACTIVATION.match(line):
        name = builder.use(m["name"].strip(), number)
        builder.add(Activation(name, m["verb"].lower() == "activate", line=number))
    elif m := _NOTE.match(line):
        who = tuple(builder.use(p.strip(), number) for p in m["who"].split(","))
        placement = NotePlacement(" ".join(m["place"].lower().split()))
        builder.add(Note(placement, who, decode(m["text"]), number))
    elif m := _OPEN.match(line) or _LOOP_BOUNDS.match(line):
        kw = m["kw"].lower()
        builder.open(FragmentKind(kw), kw, decode(m["guard"] or ""), number)
    elif m := _BRANCH.match(line):
        builder.branch(m["kw"].lower(), decode(m["guard"] or ""), number)
    elif _END.match(line):
        builder.close(number)
    elif _IGNORED.match(line):
        return
    elif m := _UNSUPPORTED.match(line):
        raise DiagramParseError(number, f"`{m[1]}` is not supported: {line!r}")
    elif m := _MESSAGE.match(line):
        builder.add(_message(builder, m, number))
    else:
        raise DiagramParseError(number, f"unknown statement {line!r}")


def _message(builder: DiagramBuilder, m: re.Match[str], number: int) -> Message:
    source_name, target_name = m["source"].strip(), m["target"].strip()
    source = None if source_name == EDGE else builder.use(source_name, number)
    target = None if target_name == EDGE else builder.use(target_name, number)
    mark: ActivationMark = "+" if m["mark"] == "+" else "-" if m["mark"] == "-" else ""
    return Message(source, target, decode(m["text"]), ARROW_KINDS[m["arrow"]], mark, number)


def decode(text: str) -> str:
    """Mermaid text to model text: ``<br/>`` is a line break, ``#59;`` an entity code."""
    text = _BR.sub("\n", text)
    text = _ENTITY.sub(lambda m: chr(int(m[1])), text)
    return tidy_text(text)


def encode(text: str) -> str:
    """The inverse of ``decode`` for any model text."""
    text = _NEEDS_ESCAPE.sub(lambda m: f"#{ord(m[0])};", text)
    return text.replace("\n", "<br/>")


# -- rendering ----------------------------------------------------------------------------------

_KEYWORDS = frozenset(
    "participant actor title autonumber activate deactivate note loop alt opt par critical "
    "break rect else and option end box create destroy links link properties details "
    "accTitle accDescr sequenceDiagram".lower().split()
)
# Mermaid's lexer takes spaces in a name but not these characters; ``-`` could start an arrow.
_UNSAFE_CHARS = re.compile(r"[:,;+<>=#%\-\"@{}\n]")


def render(diagram: SequenceDiagram) -> str:
    ids = _mermaid_ids(diagram)
    out = ["sequenceDiagram"]
    if diagram.title is not None:
        out.append(f"    title {encode(diagram.title)}")
    if diagram.autonumber:
        out.append("    autonumber")
    if any(m.source is None or m.target is None for m in diagram.messages()):
        out.append(f"    participant {EDGE} as {_EDGE_LABEL}")
    for p in diagram.participants:
        pid = ids[p.name]
        declaration = f"    {p.kind.value} {pid}"
        if p.label != pid:
            declaration += f" as {encode(p.label)}"
        out.append(declaration)
    out.append("")
    for item in diagram.items:
        _render_item(item, ids, 1, out)
    return "\n".join(out) + "\n"


def _mermaid_ids(diagram: SequenceDiagram) -> dict[str, str]:
    ids: dict[str, str] = {}
    taken = {EDGE}
    for p in diagram.participants:
        pid = p.name
        if not _is_safe_name(pid) or pid in taken:
            base = re.sub(r"\W+", "_", p.name).strip("_") or "participant"
            pid, n = base, 2
            while pid in taken or not _is_safe_name(pid):
                pid, n = f"{base}_{n}", n + 1
        ids[p.name] = pid
        taken.add(pid)
    return ids


def _is_safe_name(name: str) -> bool:
    words = name.split(" ")
    return (
        bool(name)
        and name == name.strip()
        and not _UNSAFE_CHARS.search(name)
        and words[0].lower() not in _KEYWORDS
        and "as" not in (w.lower() for w in words[1:])
        and "  " not in name
    )


def _render_item(item: Item, ids: Mapping[str, str], depth: int, out: list[str]) -> None:
    pad = "    " * depth
    if isinstance(item, Message):
        source = EDGE if item.source is None else ids[item.source]
        target = EDGE if item.target is None else ids[item.target]
        arrow = _RENDERED_ARROW[item.kind]
        text = encode(item.label)
        out.append(f"{pad}{source}{arrow}{item.activation}{target}:{' ' if text else ''}{text}")
    elif isinstance(item, Note):
        who = ",".join(ids[p] for p in item.participants)
        out.append(f"{pad}note {item.placement.value} {who}: {encode(item.text)}")
    elif isinstance(item, Activation):
        verb = "activate" if item.active else "deactivate"
        out.append(f"{pad}{verb} {ids[item.participant]}")
    else:
        _render_fragment(item, ids, depth, out)


def _render_fragment(
    fragment: Fragment, ids: Mapping[str, str], depth: int, out: list[str]
) -> None:
    pad = "    " * depth
    for i, branch in enumerate(fragment.branches):
        keyword = fragment.kind.value if i == 0 else _BRANCH_KEYWORD_OF[fragment.kind]
        out.append(f"{pad}{keyword} {encode(branch.guard)}".rstrip())
        for item in branch.items:
            _render_item(item, ids, depth + 1, out)
    out.append(f"{pad}end")
