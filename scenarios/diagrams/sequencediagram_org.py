"""sequencediagram.org text notation: parser (seed 000).

Arrows and the message kind they mean:

    ->          sync          (seed 000: ``Buyer->Shopping Cart:Add to cart``)
    ->>  -x     async         (seed 000: ``Order Management->>Account Management:...``)
    -->  -->> --x   reply     (seed 000: ``Product-->Shopping Cart:Product detail``)

``[`` or ``]`` in place of a participant is the diagram's edge: ``[->Buyer:Authorized`` is a
found message (seed 000), ``A->]:x`` a lost one. Names may contain spaces (``Shopping Cart``).
In labels ``\\n`` is a line break and formatting tags such as ``<align:center>`` are dropped.
Presentation-only statements (``bottomparticipants``, ``space``, ``participantspacing``,
activation colours such as ``#lightgray``...) are accepted; what would change the order of
messages but has no place in the model (``parallel``, ``ref``, ``destroy``...) is an error
rather than silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from reference_impl.domain.trace import MessageKind
from scenarios.diagrams.builder import DiagramBuilder
from scenarios.diagrams.errors import DiagramParseError
from scenarios.diagrams.model import (
    Activation,
    FragmentKind,
    Message,
    Notation,
    Note,
    NotePlacement,
    ParticipantKind,
    SequenceDiagram,
    tidy_text,
)

ARROW_KINDS: Mapping[str, MessageKind] = {
    "->": MessageKind.SYNC,
    "->>": MessageKind.ASYNC,
    "-x": MessageKind.ASYNC,
    "-->": MessageKind.REPLY,
    "-->>": MessageKind.REPLY,
    "--x": MessageKind.REPLY,
}

# sequencediagram.org separates the branches of par with ``else``, like those of alt.
BRANCH_KEYWORDS: Mapping[FragmentKind, frozenset[str]] = {
    FragmentKind.ALT: frozenset({"else"}),
    FragmentKind.PAR: frozenset({"else"}),
}

_EDGES = frozenset({"[", "]"})
_SHAPES = "participant|rparticipant|actor|boundary|control|database|entity|collections|queue"
_PARTICIPANT = re.compile(rf"^(?P<kind>{_SHAPES})\s+(?P<rest>.+)$", re.IGNORECASE)
_QUOTED_ALIAS = re.compile(r'^"(?P<label>[^"]*)"\s+as\s+(?P<name>.+)$', re.IGNORECASE)
_TRAILING_COLOURS = re.compile(r"(?:\s*#\S+)+$")
_TITLE = re.compile(r"^title\s+(?P<text>.*)$", re.IGNORECASE)
_AUTONUMBER = re.compile(r"^autonumber(?:\s+(?P<arg>\S+))?$", re.IGNORECASE)
_ACTIVATION = re.compile(
    r"^(?P<verb>activate|deactivate)\s+(?P<name>[^#]+?)\s*(?:#(?P<colour>\S+))?$", re.IGNORECASE
)
_NOTE = re.compile(
    r"^(?:note|box|abox|rbox)\s+(?P<place>over|left\s+of|right\s+of)\s+(?P<who>[^:]+?)"
    r"\s*(?::(?P<text>.*))?$",
    re.IGNORECASE,
)
_END_NOTE = re.compile(r"^end\s+(?:note|box|abox|rbox)$", re.IGNORECASE)
_OPEN = re.compile(
    r"^(?P<kw>alt|opt|loop|par|break|critical)(?:#\S+)?(?:\s+#\S+)?(?:\s+(?P<guard>.*))?$",
    re.IGNORECASE,
)
_ELSE = re.compile(r"^else(?:\s+#\S+)?(?:\s+(?P<guard>.*))?$", re.IGNORECASE)
_END = re.compile(r"^end$", re.IGNORECASE)
_PRESENTATION = re.compile(
    r"^(space|participantspacing|entryspacing|fontfamily|lifelinestyle|linear|frame|"
    r"autoactivation|activecolor)\b|^={2,}.*={2,}$|^\.{3}",
    re.IGNORECASE,
)
_UNSUPPORTED = re.compile(
    r"^(parallel|ref|state|group|box|expandable|seq|strict|neg|ignore|consider|assert|region|"
    r"destroy\w*|create)\b",
    re.IGNORECASE,
)
_MESSAGE = re.compile(
    r'^(?P<source>\[|\]|"[^"]*"|[^:\[\]"]+?)\s*(?P<arrow><-->|<->|-->>|->>|-->|->|--x|-x)'
    r'\s*(?P<target>\[|\]|"[^"]*"|[^:"]+?)\s*(?::(?P<text>.*))?$'
)
_FORMAT_TAG = re.compile(
    r"</?(?:align|size|color|background|difference|stroke|position|fontfamily)(?::[^>]*)?>",
    re.IGNORECASE,
)


def parse(text: str) -> SequenceDiagram:
    builder = DiagramBuilder(Notation.SEQUENCEDIAGRAM_ORG, BRANCH_KEYWORDS)
    lines = text.splitlines()
    in_comment_since: int | None = None
    open_note: tuple[int, NotePlacement, tuple[str, ...], list[str]] | None = None
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if in_comment_since is not None:
            if "*/" in line:
                in_comment_since = None
            continue
        if open_note is not None:
            note_line, placement, who, body = open_note
            if _END_NOTE.match(line):
                builder.add(Note(placement, who, decode("\\n".join(body)), note_line))
                open_note = None
            else:
                body.append(line)
            continue
        if not line or line.startswith("//"):
            continue
        if line.startswith("/*"):
            if "*/" not in line:
                in_comment_since = number
            continue
        if m := _NOTE.match(line):
            who = tuple(
                builder.use(_TRAILING_COLOURS.sub("", p).strip(), number)
                for p in m["who"].split(",")
            )
            placement = NotePlacement(" ".join(m["place"].lower().split()))
            if m["text"] is None:
                open_note = (number, placement, who, [])
            else:
                builder.add(Note(placement, who, decode(m["text"]), number))
            continue
        _statement(builder, line, number)
    if in_comment_since is not None:
        raise DiagramParseError(in_comment_since, "`/*` comment is never closed")
    if open_note is not None:
        raise DiagramParseError(open_note[0], "multi-line note is never closed with `end note`")
    return builder.build(max(len(lines), 1))


def _statement(builder: DiagramBuilder, line: str, number: int) -> None:
    if m := _PARTICIPANT.match(line):
        kind = (
            ParticipantKind.ACTOR if m["kind"].lower() == "actor" else ParticipantKind.PARTICIPANT
        )
        rest = _TRAILING_COLOURS.sub("", m["rest"]).strip()
        if alias := _QUOTED_ALIAS.match(rest):
            builder.declare(alias["name"].strip(), decode(alias["label"]), kind, number)
        elif rest.startswith('"'):
            raise DiagramParseError(
                number, f'unknown participant syntax {line!r}: expected "Label" as Name'
            )
        else:
            builder.declare(rest, None, kind, number)
    elif m := _TITLE.match(line):
        builder.title = decode(m["text"])
    elif m := _AUTONUMBER.match(line):
        builder.autonumber = (m["arg"] or "").lower() != "off"
    elif line.lower() == "bottomparticipants":
        builder.bottom_participants = True
    elif m := _ACTIVATION.match(line):
        name = builder.use(m["name"].strip(), number)
        builder.add(Activation(name, m["verb"].lower() == "activate", m["colour"], number))
    elif m := _OPEN.match(line):
        kw = m["kw"].lower()
        builder.open(FragmentKind(kw), kw, decode(m["guard"] or ""), number)
    elif m := _ELSE.match(line):
        builder.branch("else", decode(m["guard"] or ""), number)
    elif _END.match(line):
        builder.close(number)
    elif _PRESENTATION.match(line):
        return
    elif m := _UNSUPPORTED.match(line):
        raise DiagramParseError(number, f"`{m[1]}` is not supported: {line!r}")
    elif m := _MESSAGE.match(line):
        builder.add(_message(builder, m, number))
    else:
        raise DiagramParseError(number, f"unknown statement {line!r}")


def _message(builder: DiagramBuilder, m: re.Match[str], number: int) -> Message:
    arrow = m["arrow"]
    if arrow.startswith("<"):
        raise DiagramParseError(
            number, f"two-way arrow `{arrow}` is not supported; draw two messages"
        )
    source_name, target_name = _unquote(m["source"]), _unquote(m["target"])
    if target_name[:1] in ("*", "("):
        what = "creation" if target_name.startswith("*") else "delayed"
        raise DiagramParseError(number, f"{what} messages are not supported: {m[0]!r}")
    if source_name in _EDGES and target_name in _EDGES:
        raise DiagramParseError(number, "a message needs at least one participant")
    source = None if source_name in _EDGES else builder.use(source_name, number)
    target = None if target_name in _EDGES else builder.use(target_name, number)
    return Message(source, target, decode(m["text"] or ""), ARROW_KINDS[arrow], "", number)


def _unquote(name: str) -> str:
    name = name.strip()
    return name[1:-1].strip() if len(name) >= 2 and name[0] == name[-1] == '"' else name


def decode(text: str) -> str:
    """sequencediagram.org text to model text: ``\\n`` breaks the line, format tags go."""
    return tidy_text(_FORMAT_TAG.sub("", text).replace("\\n", "\n"))
