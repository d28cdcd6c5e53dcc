"""Stock per variant and location, moved between buckets by ``StockMove`` commands.

Invariant I1 (DESIGN.md section 5): ``received == on_hand + reserved + sold`` and no bucket is
ever negative. Every move takes units out of one bucket and puts them into another, guarded
by "the source holds at least this many". Storage adapters run each move as one conditional
statement (``... SET src = src - :q, dst = dst + :q WHERE src >= :q``) and check its row
count, so the guard is enforced atomically by the database, not by a read-then-write.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from reference_impl.domain.errors import InsufficientInventory, InvalidQuantity


class Bucket(StrEnum):
    ON_HAND = "on_hand"  # free to sell or reserve
    RESERVED = "reserved"  # held by a pending order
    SOLD = "sold"  # taken by an order (at_order: before payment; otherwise paid)


class MoveKind(StrEnum):
    RECEIVE = "receive"  # outside -> on_hand (goods in)
    RESERVE = "reserve"  # on_hand -> reserved (policy reserve, at order)
    RELEASE = "release"  # reserved -> on_hand (reserve: failure or expiry)
    COMMIT = "commit"  # reserved -> sold (reserve: payment succeeded)
    SELL = "sell"  # on_hand -> sold (at_order: at order; on_payment: on payment)
    RESTOCK = "restock"  # sold -> on_hand (at_order: failure or expiry)


#: (source, target) bucket per move. ``None`` is outside the shop.
MOVE_BUCKETS: Mapping[MoveKind, tuple[Bucket | None, Bucket]] = {
    MoveKind.RECEIVE: (None, Bucket.ON_HAND),
    MoveKind.RESERVE: (Bucket.ON_HAND, Bucket.RESERVED),
    MoveKind.RELEASE: (Bucket.RESERVED, Bucket.ON_HAND),
    MoveKind.COMMIT: (Bucket.RESERVED, Bucket.SOLD),
    MoveKind.SELL: (Bucket.ON_HAND, Bucket.SOLD),
    MoveKind.RESTOCK: (Bucket.SOLD, Bucket.ON_HAND),
}


#: The same, as the names of ``StockLevel``'s fields (``None``: outside, counted as received).
_MOVE_FIELDS: Mapping[MoveKind, tuple[str | None, str]] = {
    kind: (None if source is None else source.value, target.value)
    for kind, (source, target) in MOVE_BUCKETS.items()
}


@dataclass(frozen=True, slots=True)
class StockMove:
    kind: MoveKind
    variant_id: str
    location_id: str
    quantity: int

    def __post_init__(self) -> None:
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int):
            raise InvalidQuantity("a stock move needs an integer quantity")
        if self.quantity <= 0:
            raise InvalidQuantity("a stock move needs a positive quantity")

    @property
    def source(self) -> Bucket | None:
        return MOVE_BUCKETS[self.kind][0]

    @property
    def target(self) -> Bucket:
        return MOVE_BUCKETS[self.kind][1]


@dataclass(slots=True)
class StockLevel:
    variant_id: str
    location_id: str
    on_hand: int = 0
    reserved: int = 0
    sold: int = 0
    received: int = 0

    @property
    def key(self) -> tuple[str, str]:
        return (self.variant_id, self.location_id)

    def holds(self, bucket: Bucket) -> int:
        return int(getattr(self, bucket.value))

    def can_apply(self, move: StockMove) -> bool:
        return move.source is None or self.holds(move.source) >= move.quantity

    def apply(self, move: StockMove) -> None:
        """Apply one move, or raise InsufficientInventory and change nothing."""
        # By field name from a table: every order's every line moves stock at least twice.
        source, target = _MOVE_FIELDS[move.kind]
        quantity = move.quantity
        if source is None:
            self.received += quantity
        else:
            held = int(getattr(self, source))
            if held < quantity:
                raise InsufficientInventory(
                    f"{move.kind} {quantity} of {move.variant_id} at {move.location_id}: "
                    f"only {held} {move.source}"
                )
            setattr(self, source, held - quantity)
        setattr(self, target, int(getattr(self, target)) + quantity)

    def violations(self) -> list[str]:
        """Broken I1 rules for this level (empty when it is sound)."""
        problems = [
            f"{b.value} is negative ({self.holds(b)})" for b in Bucket if self.holds(b) < 0
        ]
        if self.received != self.on_hand + self.reserved + self.sold:
            problems.append(
                f"received {self.received} != on_hand {self.on_hand} + reserved "
                f"{self.reserved} + sold {self.sold}"
            )
        return [f"{self.variant_id}@{self.location_id}: {p}" for p in problems]


def apply_all(levels: Mapping[tuple[str, str], StockLevel], moves: Iterable[StockMove]) -> None:
    """Apply moves to in-memory levels all together, or none of them.

    The check runs on copies first, so a shortage on the third line leaves the first two as
    they were; this is the in-memory twin of one database transaction.
    """
    moves = list(moves)
    if len(moves) == 1:
        # One move is all or nothing by itself (StockLevel.apply checks before it changes).
        (move,) = moves
        level = levels.get((move.variant_id, move.location_id))
        if level is None:
            raise InsufficientInventory(f"no stock of {move.variant_id} at {move.location_id}")
        level.apply(move)
        return
    scratch: dict[tuple[str, str], StockLevel] = {}
    for move in moves:
        key = (move.variant_id, move.location_id)
        if key not in levels:
            raise InsufficientInventory(f"no stock of {key[0]} at {key[1]}")
        if key not in scratch:
            original = levels[key]
            scratch[key] = StockLevel(
                original.variant_id,
                original.location_id,
                original.on_hand,
                original.reserved,
                original.sold,
                original.received,
            )
        scratch[key].apply(move)
    for move in moves:
        levels[(move.variant_id, move.location_id)].apply(move)
