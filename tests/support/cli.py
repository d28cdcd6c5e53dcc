"""What every command's refusal must look like: exit 2 and one readable line."""

from __future__ import annotations

import pytest

from reference_impl.cli import main


def assert_refused_in_one_line(capsys: pytest.CaptureFixture[str], argv: list[str],
                               words: list[str]) -> None:
    """``purchaseflow *argv`` exits 2 with one line on stderr, naming its command and
    holding every one of ``words``."""
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    (line,) = err.strip().splitlines()
    assert line.startswith(f"purchaseflow {argv[0]}: ")
    for word in words:
        assert word in line
