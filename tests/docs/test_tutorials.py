"""Every command of the three tutorial pages runs, as the page says, and does what it says.

The marker convention is in docs/contributing.md and tests/docs/tutorials.py. A block is
skipped only when it needs a ``purchaseflow`` subcommand this installation does not have;
the reason names it.
"""

from __future__ import annotations

import pytest

from tests.docs.conftest import TutorialRuns
from tests.docs.tutorials import DOCS, TUTORIAL_PAGES, Block, MarkupError, parse_page


def _blocks() -> list[Block]:
    blocks: list[Block] = []
    for name in TUTORIAL_PAGES:
        try:
            blocks += parse_page(DOCS / name).runnable
        except (MarkupError, OSError):
            continue  # test_page_is_well_marked reports it
    return blocks


@pytest.mark.parametrize("name", TUTORIAL_PAGES)
def test_page_is_well_marked(name: str) -> None:
    page = parse_page(DOCS / name)
    assert page.runnable, f"{name} runs no command"
    background = [b for b in page.blocks if b.kind == "background"]
    assert not background or page.ports, (
        f"{name} starts servers but declares no ports (<!-- tutorial: ports ... -->)")


@pytest.mark.slow
@pytest.mark.parametrize("block", _blocks(), ids=lambda b: b.test_id)
def test_tutorial_block(block: Block, tutorial_runs: TutorialRuns) -> None:
    outcome = tutorial_runs.outcome(block)
    if outcome.status == "skipped":
        pytest.skip(outcome.message)
    if outcome.status == "failed":
        pytest.fail(outcome.message, pytrace=False)
