"""The import rules of DESIGN.md section 2, checked on the source with ``ast``.

* ``reference_impl/domain`` imports only the standard library and itself;
* nothing imports "upwards", and ``sim`` never reaches the HTTP or database adapters.

Every ``.py`` under the packages is walked, so the rules hold as the packages grow.
Imports under ``if TYPE_CHECKING:`` count too: they are dependencies all the same.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = "reference_impl.domain"

#: package -> modules it must never import (a module or anything below it).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "reference_impl": ("sim", "conformance", "load"),
    "scenarios": ("sim", "conformance", "load", "reference_impl.http", "reference_impl.storage"),
    "sim": ("reference_impl.http", "reference_impl.storage", "conformance", "load"),
    "conformance": ("sim",),
    "load": ("sim",),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """``(line, absolute module)`` for every import; ``from m import n`` yields ``m.n``."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - (node.level - 1)]
                base_name = ".".join([*base, node.module] if node.module else base)
            else:
                base_name = node.module or ""
            for alias in node.names:
                yield node.lineno, base_name if alias.name == "*" else f"{base_name}.{alias.name}"


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _sources(package: str) -> list[Path]:
    folder = ROOT.joinpath(*package.split("."))
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def _imports_of(package: str) -> Iterator[tuple[str, str]]:
    for path in _sources(package):
        source = path.read_text(encoding="utf-8")
        for line, name in imported_modules(source, module_name(path), path.name == "__init__.py"):
            yield f"{path.relative_to(ROOT)}:{line}", name


def is_domain_import_allowed(name: str) -> bool:
    return name.split(".")[0] in sys.stdlib_module_names or _within(name, DOMAIN)


def test_domain_imports_only_the_standard_library_and_itself() -> None:
    assert _sources(DOMAIN), "reference_impl/domain has no modules?"
    bad = [
        f"{where} imports {name}"
        for where, name in _imports_of(DOMAIN)
        if not is_domain_import_allowed(name)
    ]
    assert bad == [], "the domain core must stay pure (DESIGN.md section 2):\n" + "\n".join(bad)


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_nothing_imports_upwards(package: str) -> None:
    bad = [
        f"{where} imports {name}"
        for where, name in _imports_of(package)
        if any(_within(name, f) for f in FORBIDDEN[package])
    ]
    assert bad == [], f"{package} must not import {', '.join(FORBIDDEN[package])}:\n" + "\n".join(
        bad
    )


# --- the checker itself ---------------------------------------------------------------------


def _names(source: str, module: str = "sim.engine", is_package: bool = False) -> list[str]:
    return [name for _, name in imported_modules(source, module, is_package)]


def test_checker_sees_every_import_form() -> None:
    source = "\n".join(
        [
            "import json, reference_impl.http.app as app",
            "from reference_impl import storage",
            "from conformance.oracle import check",
            "from . import clock",
            "from ..scenarios import schema",
            "from .runner import *",
            "def f():",
            "    import load.users",
            "if TYPE_CHECKING:",
            "    from reference_impl.storage.db import Db",
        ]
    )
    # ast.walk goes breadth first, so the nested imports come last; order does not matter.
    assert sorted(_names(source)) == sorted(
        [
            "json",
            "reference_impl.http.app",
            "reference_impl.storage",
            "conformance.oracle.check",
            "sim.clock",
            "scenarios.schema",
            "sim.runner",
            "load.users",
            "reference_impl.storage.db.Db",
        ]
    )


def test_relative_imports_in_a_package_init() -> None:
    assert _names("from . import core", module="sim", is_package=True) == ["sim.core"]


def test_forbidden_prefixes_do_not_match_lookalike_names() -> None:
    assert _within("sim.engine", "sim")
    assert _within("sim", "sim")
    assert not _within("simpy", "sim")
    assert not _within("loadtest", "load")


def test_domain_rule_rejects_third_party_and_outer_layers() -> None:
    assert is_domain_import_allowed("hashlib")
    assert is_domain_import_allowed("__future__.annotations")
    assert is_domain_import_allowed("reference_impl.domain.money.Money")
    assert not is_domain_import_allowed("pydantic")
    assert not is_domain_import_allowed("reference_impl.service.ports")
    assert not is_domain_import_allowed("reference_impl.domainx")
