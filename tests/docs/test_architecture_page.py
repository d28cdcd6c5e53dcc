"""docs/architecture.md cannot rot: every path and ``module:function`` it names exists, and
each seed's table has a row for every message that seed's scenario file maps a step onto.

References are resolved from the source text (``ast``), not by importing, so that checking
the page never imports Locust or starts anything.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from scenarios import load_scenario
from scenarios.messages import MESSAGE_NAMES

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "architecture.md"
SEEDS = ("000", "001", "002", "003", "004")

MODULE_REF = re.compile(r"^[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)+:[A-Za-z_][A-Za-z0-9_.]*$")
PATH_REF = re.compile(r"^[\w.-]+(?:/[\w.-]+)*(?:/|\.(?:py|yaml|yml|json|txt|md|toml))$")
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _prose(text: str) -> str:
    """The page without its fenced blocks (a drawing of the folders is not a reference)."""
    return re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)


def _code_spans(text: str) -> list[str]:
    return re.findall(r"`([^`\n]+)`", _prose(text))


def _defines(node: ast.AST, name: str) -> ast.AST | None:
    """The definition of ``name`` directly in ``node``'s scope (also inside if/try/with)."""
    pending = list(ast.iter_child_nodes(node))
    while pending:
        child = pending.pop(0)
        if isinstance(child, _DEFINITIONS):
            if child.name == name:
                return child
            continue  # another scope
        if isinstance(child, ast.Assign | ast.AnnAssign):
            targets = child.targets if isinstance(child, ast.Assign) else [child.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return child
        pending.extend(ast.iter_child_nodes(child))
    return None


def problem_with(reference: str) -> str | None:
    """Why ``module.path:Qual.name`` does not name a definition in this repository, or None."""
    module, _, qualname = reference.partition(":")
    base = ROOT.joinpath(*module.split("."))
    source = base.with_suffix(".py") if base.with_suffix(".py").exists() else base / "__init__.py"
    if not source.exists():
        return f"no module {module} ({source.relative_to(ROOT)} does not exist)"
    node: ast.AST | None = ast.parse(source.read_text(encoding="utf-8"))
    for depth, part in enumerate(qualname.split(".")):
        assert node is not None
        node = _defines(node, part)
        if node is None:
            where = ".".join(qualname.split(".")[:depth]) or module
            return f"{where} defines no {part} ({source.relative_to(ROOT)})"
    return None


def test_the_resolver_tells_real_names_from_invented_ones() -> None:
    assert problem_with("reference_impl.service.orders:place_order") is None
    assert problem_with("reference_impl.storage.carts:SqlCarts.save") is None  # save = add
    assert problem_with("conformance.machine:build_machine.PurchaseFlow.pay") is None
    assert "defines no plaec_order" in (
        problem_with("reference_impl.service.orders:plaec_order") or "")
    assert "no module" in (problem_with("reference_impl.nowhere:thing") or "")
    assert "PlaceOrder defines no cart" in (
        problem_with("reference_impl.service.orders:PlaceOrder.cart") or "")


def test_every_module_function_on_the_page_exists() -> None:
    references = sorted({s for s in _code_spans(PAGE.read_text()) if MODULE_REF.match(s)})
    assert len(references) > 50, "the page should name the functions of every step"
    problems = [f"`{r}`: {p}" for r in references if (p := problem_with(r))]
    assert not problems, "docs/architecture.md names what does not exist:\n" + "\n".join(problems)


def test_every_path_on_the_page_exists() -> None:
    paths = sorted({s for s in _code_spans(PAGE.read_text()) if PATH_REF.match(s)})
    assert paths
    missing = [p for p in paths if not (ROOT / p).exists()]
    assert not missing, f"docs/architecture.md names missing files: {missing}"


def _seed_section(text: str, seed: str) -> str:
    match = re.search(rf"^## Seed {seed}\b.*?(?=^## |\Z)", text, flags=re.MULTILINE | re.DOTALL)
    assert match, f"docs/architecture.md has no '## Seed {seed}' section"
    return match.group(0)


def _message_cells(section: str) -> list[str]:
    """The third column of the section's table: the trace messages of each step."""
    rows = [r for r in section.splitlines() if r.startswith("| ") and not r.startswith("| #")]
    return [r.split(" | ")[2] for r in rows if r.count(" | ") >= 5]


@pytest.mark.parametrize("seed", SEEDS)
def test_each_seed_table_covers_every_message_of_its_diagram(seed: str) -> None:
    section = _seed_section(PAGE.read_text(), seed)
    scenario_file = next((ROOT / "scenarios" / "seeds").glob(f"seed_{seed}_*.yaml"))
    diagram = load_scenario(scenario_file).diagram
    assert diagram is not None
    assert f"`scenarios/seeds/{scenario_file.name}`" in section
    assert f"`scenarios/seeds/{diagram.file}`" in section
    mapped = {m for m in diagram.message_map.values() if m is not None}
    cells = " ".join(_message_cells(section))
    named = set(re.findall(r"`([a-z_]+)`", cells))
    assert mapped <= named, (
        f"seed {seed}'s table has no row for {sorted(mapped - named)}, which "
        f"{scenario_file.name} maps diagram steps onto")
    unknown = named - set(MESSAGE_NAMES)
    assert not unknown, f"seed {seed}'s message column names no trace message: {unknown}"
