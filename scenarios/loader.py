"""Load a scenario file and report every problem with its file, line and field path.

The YAML is composed into PyYAML's node tree, whose marks keep line numbers, and then
constructed into plain data for pydantic. Each pydantic error ``loc`` is walked back down
the node tree to the line of the key (or list item) at fault. Cross-field problems come
from ``Scenario``'s own check with their field paths, so they get lines the same way.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from scenarios.errors import Problem, ScenarioError, ScenarioFileError
from scenarios.schema import (
    FORMAT_VERSION,
    DiagramRef,
    Loc,
    Scenario,
    did_you_mean,
)

if TYPE_CHECKING:
    from scenarios.diagrams import SequenceDiagram

__all__ = ["load_scenario"]


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate one scenario file.

    Raises ScenarioFileError when the file cannot be read or is not YAML, and
    ScenarioError listing every problem when it is not a valid scenario.
    """
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ScenarioFileError([Problem(file, None, None, f"cannot read: {reason}")]) from None
    root, data = _parse(file, text)

    problems = [Problem(file, line, _dotted(loc), msg) for line, loc, msg in _duplicate_keys(root)]
    version = data.get("version")
    if "version" in data and version != FORMAT_VERSION:
        line, loc = _locate(root, ("version",))
        message = f"unsupported version {version!r}; this harness reads version {FORMAT_VERSION}"
        raise ScenarioError([Problem(file, line, _dotted(loc), message)])
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            for loc, message in _explain(error):
                line, shown = _locate(root, loc)
                problems.append(Problem(file, line, _dotted(shown), message))
        raise ScenarioError(problems) from None
    if problems:
        raise ScenarioError(problems)
    scenario._source = Path(path).resolve()
    problems = [
        Problem(file, _locate(root, loc)[0], _dotted(loc), message)
        for loc, message in _diagram_file_problems(scenario)
    ]
    if problems:
        raise ScenarioError(problems)
    return scenario


def where(scenario: Scenario, loc: Loc) -> str:
    """``FILE:LINE: field`` of the field at ``loc`` in the file ``scenario`` came from, for
    a problem found after loading (a simulator option kept in the file, say)."""
    field = _dotted(loc) or "scenario"
    source = scenario.source
    if source is None:
        return field
    try:
        root, _ = _parse(str(source), source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ScenarioError):
        return f"{source}: {field}"
    line, shown = _locate(root, loc)
    return f"{source}:{line}: {_dotted(shown) or field}"


# --------------------------------------------------------------------------------------
# YAML with line numbers


def _parse(file: str, text: str) -> tuple[yaml.MappingNode, dict[str, Any]]:
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        what = " ".join(part for part in (exc.context, exc.problem) if part)
        raise ScenarioFileError([Problem(file, line, None, f"not valid YAML: {what}")]) from None
    except yaml.YAMLError as exc:
        raise ScenarioFileError([Problem(file, None, None, f"not valid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    if not isinstance(root, yaml.MappingNode) or not isinstance(data, dict):
        line = root.start_mark.line + 1 if root is not None else None
        got = "an empty file" if root is None else _kind(data)
        message = f"expected a mapping of scenario keys (version, profile, ...), got {got}"
        raise ScenarioFileError([Problem(file, line, None, message)])
    return root, data


def _duplicate_keys(node: yaml.Node, at: Loc = ()) -> Iterator[tuple[int, Loc, str]]:
    # PyYAML keeps the last of two equal keys without a word; a repeated key is a mistake.
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, value in node.value:
            name = str(key.value)
            line = key.start_mark.line + 1
            if name in first:
                yield line, (*at, name), f"duplicate key (first given on line {first[name]})"
            else:
                first[name] = line
            yield from _duplicate_keys(value, (*at, name))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*at, i))


def _locate(root: yaml.Node, loc: Loc) -> tuple[int, Loc]:
    """The line of the field at ``loc``, and ``loc`` without pydantic's union tags.

    A key that is missing gets the line of the mapping that should hold it.
    """
    node: yaml.Node | None = root
    line = root.start_mark.line + 1
    shown: list[str | int] = []
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if part == "[key]":
            continue  # pydantic's marker for an invalid dict key; the key itself is shown
        if isinstance(node, yaml.MappingNode):
            hit = next(((k, v) for k, v in node.value if str(k.value) == str(part)), None)
            if hit is not None:
                line, node = hit[0].start_mark.line + 1, hit[1]
                shown.append(part)
            elif not last or _is_tag(node, part):
                continue  # a discriminated union's tag (e.g. "exponential") is not a key
            else:
                shown.append(part)  # a missing key
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part < len(node.value):
                node = node.value[part]
                line = node.start_mark.line + 1
            shown.append(part)
        else:
            shown.append(part)
            node = None
    return line, tuple(shown)


def _is_tag(node: yaml.MappingNode, part: str | int) -> bool:
    return any(str(k.value) == "dist" and getattr(v, "value", None) == part for k, v in node.value)


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # the bound 0.0 of "> 0.0" reads as 0
    return str(value)


def _dotted(loc: Loc) -> str | None:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or None


# --------------------------------------------------------------------------------------
# pydantic errors in the file's terms


def _explain(error: ErrorDetails) -> Iterator[tuple[Loc, str]]:
    kind = error["type"]
    loc: Loc = tuple(error["loc"])
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    got = _kind(error.get("input"))
    if kind == "inconsistent":
        # Scenario's cross-field check carries each problem with its own path.
        yield from ctx["problems"]
        return
    if kind == "missing":
        yield loc, "missing (required)"
    elif kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        name = str(loc[-1])
        hint = did_you_mean(name, allowed)
        known = f"; known keys: {', '.join(allowed)}" if allowed else ""
        yield loc, f"unknown key{hint}{known}"
    elif kind in _COMPARISONS:
        bound = _kind(ctx.get(_COMPARISONS[kind][1]))
        yield loc, f"expected a number {_COMPARISONS[kind][0]} {bound}, got {got}"
    elif kind in ("int_type", "int_parsing", "int_from_float"):
        yield loc, f"expected a whole number, got {got}"
    elif kind in ("float_type", "float_parsing"):
        yield loc, f"expected a number, got {got}"
    elif kind in ("bool_type", "bool_parsing"):
        yield loc, f"expected true or false, got {got}"
    elif kind == "string_type":
        yield loc, f"expected text, got {got}"
    elif kind in ("model_type", "dict_type", "model_attributes_type"):
        yield loc, f"expected a mapping, got {_kind_of_input(error)}"
    elif kind == "list_type":
        yield loc, f"expected a list, got {_kind_of_input(error)}"
    elif kind in ("literal_error", "enum"):
        yield loc, f"expected {ctx.get('expected')}, got {got}"
    elif kind == "string_pattern_mismatch":
        yield loc, f"expected text matching {ctx.get('pattern')}, got {got}"
    elif kind == "too_short":
        least, actual = ctx.get("min_length"), ctx.get("actual_length")
        yield loc, f"expected at least {least} item(s), got {actual}"
    elif kind == "union_tag_invalid":
        yield (*loc, "dist"), f"expected one of {ctx.get('expected_tags')}, got {ctx.get('tag')!r}"
    elif kind == "union_tag_not_found":
        yield (*loc, "dist"), "missing: say which distribution (fixed, uniform, exponential, ...)"
    else:
        message = error["msg"].removeprefix("Value error, ")
        yield loc, message[:1].lower() + message[1:]


_COMPARISONS = {
    "greater_than": (">", "gt"),
    "greater_than_equal": (">=", "ge"),
    "less_than": ("<", "lt"),
    "less_than_equal": ("<=", "le"),
}


def _kind_of_input(error: ErrorDetails) -> str:
    value = error.get("input")
    if isinstance(value, dict | list) or value is None:
        return _kind(value)
    return f"{type(value).__name__} {_kind(value)}"


def _allowed_keys(loc: Loc) -> list[str]:
    """The keys the model at ``loc`` accepts, walking Scenario's type annotations."""
    current: Any = Scenario
    for part in loc:
        current = _step(current, part)
        if current is None:
            return []
    model = _model_of(current, None)
    return list(model.model_fields) if model else []


def _step(annotation: Any, part: str | int) -> Any:
    model = _model_of(annotation, part)
    if model is not None:
        if isinstance(part, str) and part in model.model_fields:
            return model.model_fields[part].annotation
        return model  # a union tag: stay on the member it selected
    annotation = _strip(annotation)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is list and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def _model_of(annotation: Any, tag: str | int | None) -> type[BaseModel] | None:
    """The model an annotation stands for; in a union, the member whose ``dist`` is ``tag``."""
    annotation = _strip(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    members = [m for m in _union_members(annotation) if issubclass(m, BaseModel)]
    if len(members) == 1:
        return members[0]
    for member in members:
        field = member.model_fields.get("dist")
        if field is not None and tag in typing.get_args(field.annotation):
            return member
    return None


def _union_members(annotation: Any) -> list[type]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        found: list[type] = []
        for arg in typing.get_args(annotation):
            arg = _strip(arg)
            if typing.get_origin(arg) in (typing.Union, types.UnionType):
                found.extend(_union_members(arg))
            elif isinstance(arg, type) and arg is not type(None):
                found.append(arg)
        return found
    return []


def _strip(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


# --------------------------------------------------------------------------------------
# checks that need the file's location: the diagram beside it


def _diagram_file_problems(scenario: Scenario) -> Iterator[tuple[Loc, str]]:
    path = scenario.diagram_path()
    ref = scenario.diagram
    if path is None or ref is None:
        return
    if not path.is_file():
        yield ("diagram", "file"), f"no such file: {path}"
        return
    try:
        from scenarios.diagrams import parse_file
        from scenarios.diagrams.errors import DiagramParseError
    except ImportError as exc:  # pragma: no cover - the diagrams package ships beside us
        if exc.name not in ("scenarios.diagrams", "scenarios.diagrams.errors"):
            raise
        return
    try:
        diagram = parse_file(path)
    except DiagramParseError as exc:
        yield ("diagram", "file"), f"{path.name} line {exc.line}: {exc.reason}"
        return
    yield from _mapping_problems(ref, diagram, path)


def _mapping_problems(
    ref: DiagramRef, diagram: SequenceDiagram, path: Path
) -> Iterator[tuple[Loc, str]]:
    """The mapping covers the diagram exactly: every participant and message, no more; and
    a message the implementation does not send (null) says why, in a deviation."""
    names = diagram.participant_names
    for name in ref.participant_map:
        if name not in names:
            yield (
                ("diagram", "participant_map", name),
                f"not a participant of {path.name}{did_you_mean(name, names)}",
            )
    unmapped = [name for name in names if name not in ref.participant_map]
    if unmapped:
        yield ("diagram", "participant_map"), f"unmapped participants: {', '.join(unmapped)}"
    messages = list(diagram.messages())
    labels = {m.text for m in messages}
    keys = labels | {f"line {m.line}" for m in messages}
    explained = {d.message for d in ref.deviations} | {f"line {d.line}" for d in ref.deviations}
    missing: list[str] = []
    unexplained: list[str] = []
    for m in messages:
        by_line = f"line {m.line}"
        key = by_line if by_line in ref.message_map else m.text
        if key not in ref.message_map:
            missing.append(f"{m.text!r} (line {m.line})")
        elif (
            ref.message_map[key] is None
            and _between_actors(ref, m.source, m.target)
            and not ({m.text, by_line} & explained)
        ):
            unexplained.append(f"{m.text!r} (line {m.line})")
    for key in ref.message_map:
        if " ".join(key.split()) not in keys:
            yield (
                ("diagram", "message_map", key),
                f"not a message label or 'line N' of {path.name}{did_you_mean(key, labels)}",
            )
    if missing:
        yield ("diagram", "message_map"), f"messages without a name: {', '.join(missing)}"
    if unexplained:
        yield (
            ("diagram", "deviations"),
            f"null in message_map without a deviation saying why: {', '.join(unexplained)}",
        )
    n_lines = len(path.read_text(encoding="utf-8").splitlines())
    for i, deviation in enumerate(ref.deviations):
        if deviation.message is not None and deviation.message not in labels:
            hint = did_you_mean(deviation.message, labels)
            yield ("diagram", "deviations", i, "message"), f"not a message of {path.name}{hint}"
        if deviation.line is not None and deviation.line > n_lines:
            yield (
                ("diagram", "deviations", i, "line"),
                f"{path.name} has only {n_lines} lines",
            )


def _between_actors(ref: DiagramRef, source: str | None, target: str | None) -> bool:
    # A message inside one actor (the buyer's browser talking to the buyer) or from the
    # diagram's edge is never checked, so leaving it out needs no reason.
    if source is None or target is None:
        return False
    return ref.participant_map.get(source) != ref.participant_map.get(target)
