"""The tutorial pages run once per session, side by side (tests/docs/tutorials.py).

Most of a page's time is spent waiting (a server starting, a budgeted conformance run, a
timed load run), so the pages run concurrently, each in a thread of its own with its own
temporary directory and ports; every block's test then reads its page's outcome.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.docs.tutorials import DOCS, Block, Outcome, PageRun, parse_page, prepare_workdir


class TutorialRuns:
    def __init__(self, pages: list[str], base: Path) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max(len(pages), 1),
                                        thread_name_prefix="tutorial")
        self._runs: dict[str, tuple[PageRun, Future[dict[int, Outcome]]]] = {}
        for name in pages:
            page = parse_page(DOCS / name)
            folder = base / name.removesuffix(".md")
            logs = base / f"{name.removesuffix('.md')}-logs"
            logs.mkdir(parents=True)
            run = PageRun(page, prepare_workdir(folder / "work"), logs)
            self._runs[name] = (run, self._pool.submit(run.run))

    def outcome(self, block: Block) -> Outcome:
        """The block's outcome as soon as it is known, while the rest of its page runs on."""
        run, future = self._runs[block.page]
        outcome = run.wait_for(block)
        if outcome is None:
            future.result()  # the page raised: this re-raises it here
            raise AssertionError(f"{block.test_id} has no outcome")
        return outcome

    def close(self) -> None:
        self._pool.shutdown(wait=True)


@pytest.fixture(scope="session")
def tutorial_runs(request: pytest.FixtureRequest,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[TutorialRuns]:
    # Only the pages whose blocks this session (or this xdist worker) collected.
    pages = sorted({
        item.callspec.params["block"].page
        for item in request.session.items
        if hasattr(item, "callspec") and isinstance(item.callspec.params.get("block"), Block)
    })
    runs = TutorialRuns(pages, tmp_path_factory.mktemp("tutorials"))
    yield runs
    runs.close()
