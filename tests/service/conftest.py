from __future__ import annotations

import pytest

from tests.service.shop import PROFILES, Shop


@pytest.fixture(params=sorted(PROFILES))
def any_shop(request: pytest.FixtureRequest) -> Shop:
    """A shop for each seed profile in turn."""
    return Shop(PROFILES[request.param])


@pytest.fixture
def hosted_on_payment() -> Shop:
    """Seed 001: payment URL and webhook, stock decremented after payment."""
    return Shop(PROFILES["001_on_payment_hosted"])


@pytest.fixture
def reserve_shop() -> Shop:
    return Shop(PROFILES["004_reserve_stripe"])
