from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from scenarios.diagrams import SequenceDiagram, parse_file

SEED_DIR = Path(__file__).resolve().parents[2] / "scenarios" / "seeds" / "diagrams"
SEED_FILES = {path.name[:3]: path for path in sorted(SEED_DIR.glob("*.txt"))}


@pytest.fixture(scope="session")
def seed_dir() -> Path:
    return SEED_DIR


@pytest.fixture(scope="session")
def seed() -> Callable[[str], SequenceDiagram]:
    """``seed("001")`` parses that seed's diagram (once per session)."""
    cache: dict[str, SequenceDiagram] = {}

    def load(number: str) -> SequenceDiagram:
        if number not in cache:
            cache[number] = parse_file(SEED_FILES[number])
        return cache[number]

    return load
