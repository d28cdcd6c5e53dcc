"""Profile policies validate themselves (DESIGN.md section 3)."""

from __future__ import annotations

import pytest

from reference_impl.domain.errors import ValidationFailed
from reference_impl.domain.policies import Policies, StockCommitPoint


@pytest.mark.parametrize("ttl", [None, 0, 0.0, -5.0])
def test_reserve_needs_a_positive_ttl(ttl: float | None) -> None:
    with pytest.raises(ValidationFailed):
        Policies(stock_commit=StockCommitPoint.RESERVE, reservation_ttl=ttl)


@pytest.mark.parametrize("commit", [StockCommitPoint.AT_ORDER, StockCommitPoint.ON_PAYMENT])
def test_other_commit_points_may_never_expire(commit: StockCommitPoint) -> None:
    assert Policies(stock_commit=commit, reservation_ttl=None).reservation_ttl is None


@pytest.mark.parametrize("ttl", [0.0, -1.0])
def test_a_ttl_given_must_be_positive(ttl: float) -> None:
    with pytest.raises(ValidationFailed):
        Policies(stock_commit=StockCommitPoint.AT_ORDER, reservation_ttl=ttl)


@pytest.mark.parametrize("tolerance", [0.0, -300.0])
def test_webhook_tolerance_must_be_positive(tolerance: float) -> None:
    with pytest.raises(ValidationFailed):
        Policies(webhook_tolerance=tolerance)


def test_defaults_are_valid_and_match_the_design() -> None:
    p = Policies()
    assert p.stock_commit is StockCommitPoint.RESERVE
    assert p.reservation_ttl is not None and p.reservation_ttl > 0
    assert p.webhook_tolerance == 300.0  # Stripe's tolerance, DESIGN.md section 3
