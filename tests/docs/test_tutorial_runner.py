"""The tutorial runner itself (tests/docs/tutorials.py), on small pages made up here."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.docs.tutorials import MarkupError, Page, PageRun, parse_page

FENCE = "```"


def page(tmp_path: Path, text: str) -> Page:
    path = tmp_path / "page.md"
    path.write_text(text.replace("'''", FENCE), encoding="utf-8")
    return parse_page(path)


def run(tmp_path: Path, text: str) -> tuple[PageRun, list[str]]:
    """Run a made-up page; its blocks' outcomes in order, as "status: message"."""
    work, logs = tmp_path / "work", tmp_path / "logs"
    work.mkdir(parents=True)
    logs.mkdir()
    runner = PageRun(page(tmp_path, text), work, logs)
    outcomes = runner.run()
    return runner, [f"{o.status}: {o.message}" for _, o in sorted(outcomes.items())]


@pytest.mark.parametrize(("text", "message"), [
    ("'''sh\nls\n'''\n", "without a tutorial marker"),
    ("<!-- tutorial: run -->\n\nSome prose.\n'''sh\nls\n'''\n", "not followed by a fence"),
    ("<!-- tutorial: run -->\n", "not followed by a fence"),
    ("<!-- tutorial: launch -->\n'''sh\nls\n'''\n", "unknown kind 'launch'"),
    ("<!-- tutorial: show -->\n'''sh\nls\n'''\n", "must say why"),
    ("<!-- tutorial: run wait=3 -->\n'''sh\nls\n'''\n", "got wait"),
    ("<!-- tutorial: background -->\n'''sh\nsleep 9\n'''\n", "needs url= or port="),
    ("<!-- tutorial: background port=1 -->\n'''sh\nsleep 9\nsleep 9\n'''\n", "one command"),
    ("<!-- tutorial: file path=../x.yaml -->\n'''yaml\na: 1\n'''\n", "inside the working dir"),
    ("<!-- tutorial: ports http -->\n", "port numbers only"),
    ("<!-- tutorial: run timeout=soon -->\n'''sh\nls\n'''\n", "not a number"),
])
def test_ambiguous_markup_is_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(MarkupError, match=message):
        page(tmp_path, text)


def test_blocks_and_their_options_are_read(tmp_path: Path) -> None:
    parsed = page(tmp_path, (
        "<!-- tutorial: ports 8000 -->\n"
        "Text.\n\n"
        "<!-- tutorial: run exit=1 expect=\"two words\" -->\n'''sh\nfalse\n'''\n\n"
        "'''yaml\nnot: marked, not a command\n'''\n\n"
        "1. In a list:\n\n"
        "    <!-- tutorial: show reason=\"a second machine\" -->\n"
        "    '''sh\n    purchaseflow load --worker\n    '''\n"))
    assert parsed.ports == (8000,)
    first, shown = parsed.blocks
    assert (first.kind, first.line, first.option("exit"), first.option("expect")) == (
        "run", 5, "1", "two words")
    assert shown.kind == "show" and shown.body == "purchaseflow load --worker\n"
    assert shown.needs == ("load",)
    assert parsed.runnable == (first,)


def test_a_page_runs_in_order_with_its_ports_replaced(tmp_path: Path) -> None:
    runner, outcomes = run(tmp_path, (
        "<!-- tutorial: ports 8000 -->\n"
        "<!-- tutorial: file path=site/hello.txt -->\n'''text\nhello on 8000\n'''\n"
        "<!-- tutorial: background url=http://127.0.0.1:8000/hello.txt -->\n"
        "'''sh\npython -m http.server 8000 --bind 127.0.0.1 --directory site\n'''\n"
        "<!-- tutorial: run expect=\"hello on 8000\" -->\n"
        "'''sh\ncurl -sf http://127.0.0.1:8000/hello.txt\n'''\n"
        "<!-- tutorial: run exit=3 -->\n'''sh\nexit 3\n'''\n"))
    port = runner.port_map[8000]
    assert port != 8000
    assert (runner.workdir / "site" / "hello.txt").read_text() == f"hello on {port}\n"
    assert all(o.startswith("passed") for o in outcomes), outcomes
    server = runner._background[0].proc
    assert server.returncode is not None  # stopped when the page ended
    with pytest.raises(ProcessLookupError):
        os.killpg(server.pid, signal.SIG_DFL)  # and its whole process group is gone


def test_a_failure_stops_the_page_and_says_why(tmp_path: Path) -> None:
    _, outcomes = run(tmp_path, (
        "<!-- tutorial: run expect=PASSED -->\n'''sh\necho FAILED\n'''\n"
        "<!-- tutorial: run -->\n'''sh\necho never\n'''\n"))
    assert outcomes[0].startswith("failed") and "lacks 'PASSED'" in outcomes[0]
    assert outcomes[1] == "skipped: not run: the block at page.md:2 failed"


def test_a_wrong_exit_status_and_a_timeout_fail(tmp_path: Path) -> None:
    _, outcomes = run(tmp_path, "<!-- tutorial: run -->\n'''sh\necho out\nexit 4\n'''\n")
    assert "exit status 4, the page says 0" in outcomes[0] and "out" in outcomes[0]
    _, outcomes = run(tmp_path / "b", "<!-- tutorial: run timeout=1 -->\n'''sh\nsleep 30\n'''\n")
    assert "still running after 1 s" in outcomes[0]


def test_a_server_that_dies_early_fails_its_block(tmp_path: Path) -> None:
    _, outcomes = run(tmp_path, (
        "<!-- tutorial: ports 8000 -->\n"
        "<!-- tutorial: background port=8000 timeout=5 -->\n"
        "'''sh\nsh -c 'echo boom; exit 7'\n'''\n"))
    assert outcomes[0].startswith("failed") and "exited with 7" in outcomes[0]
    assert "boom" in outcomes[0]


def test_a_missing_subcommand_skips_its_blocks_only(tmp_path: Path) -> None:
    _, outcomes = run(tmp_path, (
        "<!-- tutorial: run -->\n'''sh\npurchaseflow frobnicate --hard\n'''\n"
        "<!-- tutorial: run needs=frobnicate -->\n'''sh\nls frobnicated/\n'''\n"
        "<!-- tutorial: run -->\n'''sh\npurchaseflow scenario --help\n'''\n"))
    reason = ("skipped: needs `purchaseflow frobnicate`, which this installation does not "
              "have yet")
    assert outcomes[0].startswith(reason)
    assert outcomes[1].startswith(reason)
    assert outcomes[2].startswith("passed")
