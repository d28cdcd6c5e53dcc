"""Every domain error carries a stable code of DESIGN.md section 3 and an HTTP status."""

from __future__ import annotations

import pytest

from reference_impl.domain import errors
from reference_impl.domain.errors import ALL_ERRORS, DomainError

#: DESIGN.md section 3, in its order.
DESIGN_CODES = {
    "insufficient_inventory",
    "items_unavailable",
    "price_changed",
    "cart_empty",
    "unknown_variant",
    "invalid_quantity",
    "account_inactive",
    "unauthorized",
    "not_found",
    "invalid_signature",
    "idempotency_key_reused",
    "validation_error",
}

#: Statuses the contract names outright (409 on checkout, 403 inactive account, 400 for a bad
#: signature, 404 for another buyer's resource); the rest only need to be client errors.
DESIGN_STATUSES = {
    "items_unavailable": 409,
    "price_changed": 409,
    "account_inactive": 403,
    "unauthorized": 401,
    "not_found": 404,
    "invalid_signature": 400,
}


def _all_subclasses(cls: type[DomainError]) -> set[type[DomainError]]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub} | _all_subclasses(sub)
    return found


def test_all_errors_lists_every_error_class_of_the_module() -> None:
    declared = {
        obj
        for obj in vars(errors).values()
        if isinstance(obj, type) and issubclass(obj, DomainError) and obj is not DomainError
    }
    assert set(ALL_ERRORS) == declared
    assert _all_subclasses(DomainError) >= declared


def test_codes_are_those_of_the_design_plus_illegal_transition() -> None:
    codes = [e.code for e in ALL_ERRORS]
    assert len(codes) == len(set(codes)), "codes must be unique"
    assert set(codes) == DESIGN_CODES | {"illegal_transition"}


@pytest.mark.parametrize("error", ALL_ERRORS, ids=lambda e: e.code)
def test_every_error_is_a_client_error_with_its_own_code(error: type[DomainError]) -> None:
    assert error.code != DomainError.code
    assert 400 <= error.http_status < 500
    raised = error("details here")
    assert raised.detail == "details here"
    assert str(raised) == "details here"


@pytest.mark.parametrize(("code", "status"), sorted(DESIGN_STATUSES.items()))
def test_statuses_named_by_the_contract(code: str, status: int) -> None:
    (error,) = [e for e in ALL_ERRORS if e.code == code]
    assert error.http_status == status


def test_detail_defaults_to_the_code() -> None:
    assert errors.CartEmpty().detail == "cart_empty"
