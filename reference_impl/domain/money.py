"""Money: an integer in minor units plus an ISO 4217 currency (DESIGN.md section 3)."""

from __future__ import annotations

from dataclasses import dataclass

from reference_impl.domain.errors import ValidationFailed

#: Currency codes that passed the check once (there are a handful; amounts are made often).
_CHECKED_CURRENCIES: set[str] = set()


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        code = self.currency
        if code in _CHECKED_CURRENCIES:
            return
        # isalpha/isupper alone accept non-ASCII letters ("ÄÖÜ"); ISO 4217 codes are A-Z.
        if len(code) != 3 or not code.isascii() or not code.isalpha() or not code.isupper():
            raise ValidationFailed(f"currency must be three capital letters, not {self.currency!r}")
        _CHECKED_CURRENCIES.add(code)

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValidationFailed(f"cannot add {other.currency} to {self.currency}")
        return Money(self.amount + other.amount, self.currency)

    def times(self, quantity: int) -> Money:
        return Money(self.amount * quantity, self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def to_json(self) -> dict[str, int | str]:
        return {"amount": self.amount, "currency": self.currency}
