"""Domain errors. Each carries the stable machine-readable ``code`` of DESIGN.md section 3.

An illegal command raises one of these and changes nothing (the h11 rule).

    DomainError
     ├── InsufficientInventory     insufficient_inventory   (seed 002: add to cart)
     ├── ItemsUnavailable          items_unavailable        (seed 001: 409 at checkout)
     ├── PriceChanged              price_changed            (seed 001: 409 at checkout)
     ├── CartEmpty                 cart_empty
     ├── UnknownVariant            unknown_variant
     ├── InvalidQuantity           invalid_quantity
     ├── AccountInactive           account_inactive         (seed 000: fetch if active)
     ├── Unauthorized              unauthorized             (seed 001: JWT)
     ├── NotFound                  not_found                (also: another buyer's resource)
     ├── InvalidSignature          invalid_signature        (seed 004: verify signature)
     ├── IdempotencyKeyReused      idempotency_key_reused
     ├── ValidationFailed          validation_error
     └── IllegalTransition         illegal_transition       (not in the status table)
"""

from __future__ import annotations


class DomainError(Exception):
    code = "domain_error"
    #: The HTTP status the canonical contract maps this error to.
    http_status = 400

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.code)
        self.detail = detail or self.code


class InsufficientInventory(DomainError):
    code = "insufficient_inventory"
    http_status = 409


class ItemsUnavailable(DomainError):
    code = "items_unavailable"
    http_status = 409


class PriceChanged(DomainError):
    code = "price_changed"
    http_status = 409


class CartEmpty(DomainError):
    code = "cart_empty"
    http_status = 409


class UnknownVariant(DomainError):
    code = "unknown_variant"
    http_status = 404


class InvalidQuantity(DomainError):
    code = "invalid_quantity"
    http_status = 422


class AccountInactive(DomainError):
    code = "account_inactive"
    http_status = 403


class Unauthorized(DomainError):
    code = "unauthorized"
    http_status = 401


class NotFound(DomainError):
    code = "not_found"
    http_status = 404


class InvalidSignature(DomainError):
    code = "invalid_signature"
    http_status = 400


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"
    http_status = 422


class ValidationFailed(DomainError):
    code = "validation_error"
    http_status = 422


class IllegalTransition(DomainError):
    code = "illegal_transition"
    http_status = 409


ALL_ERRORS: tuple[type[DomainError], ...] = (
    InsufficientInventory,
    ItemsUnavailable,
    PriceChanged,
    CartEmpty,
    UnknownVariant,
    InvalidQuantity,
    AccountInactive,
    Unauthorized,
    NotFound,
    InvalidSignature,
    IdempotencyKeyReused,
    ValidationFailed,
    IllegalTransition,
)
