"""The documentation site builds with ``mkdocs build --strict`` (mkdocs.yml at the root):
no broken link or anchor, no page left out of the navigation, Mermaid drawn as Mermaid."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("mkdocs", reason="mkdocs is not installed: pip install -e '.[docs]'")
pytest.importorskip("material", reason="mkdocs-material is not installed: pip install -e '.[docs]'")


class _Loader(yaml.SafeLoader):
    """Reads mkdocs.yml's nav without resolving its ``!!python/name`` tags."""


_Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)


def _nav_pages(nav: list[object]) -> list[str]:
    pages: list[str] = []
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages += _nav_pages(value) if isinstance(value, list) else [str(value)]
    return pages


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=180, env=env)
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout}{done.stderr}"
    return out


def test_every_page_in_the_navigation_is_built(site: Path) -> None:
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=_Loader)
    pages = _nav_pages(config["nav"])
    for required in ("index.md", "qa.md", "performance.md", "architect.md", "architecture.md",
                     "scenario-reference.md", "order-states.md", "contributing.md",
                     "adapters.md", "scenarios.md"):
        assert required in pages, f"{required} is not in mkdocs.yml's nav"
    for page in pages:
        built = site / ("index.html" if page == "index.md" else f"{page[:-3]}/index.html")
        assert built.exists(), f"{page} was not built"


def test_mermaid_fences_are_drawn_by_mermaid(site: Path) -> None:
    html = (site / "order-states" / "index.html").read_text(encoding="utf-8")
    assert '<pre class="mermaid"><code>stateDiagram-v2' in html


def test_tutorial_markers_stay_invisible(site: Path) -> None:
    html = (site / "qa" / "index.html").read_text(encoding="utf-8")
    assert "<!-- tutorial: background" in html  # an HTML comment, not text
    assert "&lt;!-- tutorial" not in html
