"""When a load's buyer sends a checkout again, and after how long (``load/retrying.py``)."""

from __future__ import annotations

import pytest

from load.retrying import MAX_PAUSE, is_transient, pause_before


@pytest.mark.parametrize(("status", "transient"), [
    (0, True), (429, True), (500, True), (502, True), (503, True), (504, True),
    (200, False), (201, False), (400, False), (401, False), (404, False), (409, False),
    (422, False),
])
def test_only_answers_that_leave_the_effect_unknown_are_retried(
        status: int, transient: bool) -> None:
    assert is_transient(status) is transient


def test_the_backoff_doubles_with_jitter_between_half_and_all_of_it() -> None:
    assert pause_before(1, 0.5, None, 0.0) == pytest.approx(0.25)
    assert pause_before(1, 0.5, None, 0.999999) == pytest.approx(0.5)
    assert pause_before(2, 0.5, None, 0.999999) == pytest.approx(1.0)
    assert pause_before(3, 0.5, None, 0.0) == pytest.approx(1.0)
    assert pause_before(20, 0.5, None, 0.5) == MAX_PAUSE


def test_the_shops_retry_after_wins_within_the_cap() -> None:
    assert pause_before(1, 0.5, "1", 0.0) == 1.0
    assert pause_before(3, 0.5, "0", 0.9) == 0.0
    assert pause_before(1, 0.5, "3600", 0.0) == MAX_PAUSE
    # An HTTP date, or nonsense: the backoff.
    assert pause_before(1, 0.5, "Wed, 21 Oct 2026 07:28:00 GMT", 0.0) == pytest.approx(0.25)
    assert pause_before(1, 0.5, "-4", 0.0) == pytest.approx(0.25)
