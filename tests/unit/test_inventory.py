"""Stock buckets and moves; invariant I1 (DESIGN.md section 5)."""

from __future__ import annotations

from dataclasses import astuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_impl.domain.errors import InsufficientInventory, InvalidQuantity
from reference_impl.domain.inventory import (
    Bucket,
    MoveKind,
    StockLevel,
    StockMove,
    apply_all,
)

#: Expected change of (on_hand, reserved, sold, received) for one unit of each move, written
#: out here rather than derived from MOVE_BUCKETS so that a wrong table row is caught.
UNIT_DELTA: dict[MoveKind, tuple[int, int, int, int]] = {
    MoveKind.RECEIVE: (1, 0, 0, 1),
    MoveKind.RESERVE: (-1, 1, 0, 0),
    MoveKind.RELEASE: (1, -1, 0, 0),
    MoveKind.COMMIT: (0, -1, 1, 0),
    MoveKind.SELL: (-1, 0, 1, 0),
    MoveKind.RESTOCK: (1, 0, -1, 0),
}


def _level(on_hand: int = 0, reserved: int = 0, sold: int = 0) -> StockLevel:
    return StockLevel("v1", "loc1", on_hand, reserved, sold, on_hand + reserved + sold)


def _counts(level: StockLevel) -> tuple[int, int, int, int]:
    return (level.on_hand, level.reserved, level.sold, level.received)


def test_table_covers_every_move() -> None:
    assert set(UNIT_DELTA) == set(MoveKind)


@pytest.mark.parametrize("kind", list(MoveKind))
def test_bucket_arithmetic(kind: MoveKind) -> None:
    level = _level(on_hand=10, reserved=10, sold=10)
    before = _counts(level)
    level.apply(StockMove(kind, "v1", "loc1", 3))
    assert _counts(level) == tuple(b + 3 * d for b, d in zip(before, UNIT_DELTA[kind], strict=True))
    assert level.violations() == []


@pytest.mark.parametrize("kind", [k for k in MoveKind if k is not MoveKind.RECEIVE])
def test_guard_raises_and_changes_nothing(kind: MoveKind) -> None:
    move = StockMove(kind, "v1", "loc1", 5)
    assert move.source is not None
    level = _level(on_hand=10, reserved=10, sold=10)
    setattr(level, move.source.value, 4)
    level.received = level.on_hand + level.reserved + level.sold
    before = astuple(level)
    assert not level.can_apply(move)
    with pytest.raises(InsufficientInventory):
        level.apply(move)
    assert astuple(level) == before


@pytest.mark.parametrize("kind", [k for k in MoveKind if k is not MoveKind.RECEIVE])
def test_guard_allows_taking_exactly_what_is_there(kind: MoveKind) -> None:
    move = StockMove(kind, "v1", "loc1", 4)
    assert move.source is not None
    level = _level()
    setattr(level, move.source.value, 4)
    level.received = 4
    level.apply(move)
    assert level.holds(move.source) == 0
    assert level.holds(move.target) == 4


def test_receive_needs_no_source() -> None:
    level = _level()
    level.apply(StockMove(MoveKind.RECEIVE, "v1", "loc1", 7))
    assert (level.on_hand, level.received) == (7, 7)


@pytest.mark.parametrize("quantity", [0, -1, -100])
def test_move_quantity_must_be_positive(quantity: int) -> None:
    with pytest.raises(InvalidQuantity):
        StockMove(MoveKind.SELL, "v1", "loc1", quantity)


def test_violations_reports_broken_levels() -> None:
    assert _level(on_hand=3, reserved=2, sold=1).violations() == []
    negative = StockLevel("v1", "loc1", on_hand=-1, received=-1)
    assert any("on_hand is negative" in p for p in negative.violations())
    leaking = StockLevel("v1", "loc1", on_hand=5, received=6)
    (problem,) = leaking.violations()
    assert problem.startswith("v1@loc1: received 6")


def _levels(*keys: tuple[str, str]) -> dict[tuple[str, str], StockLevel]:
    return {k: StockLevel(k[0], k[1], on_hand=5, received=5) for k in keys}


def _snapshot(
    levels: dict[tuple[str, str], StockLevel],
) -> dict[tuple[str, str], tuple[object, ...]]:
    return {k: astuple(v) for k, v in levels.items()}


def test_apply_all_applies_every_move() -> None:
    levels = _levels(("a", "x"), ("b", "x"))
    apply_all(
        levels, [StockMove(MoveKind.SELL, "a", "x", 2), StockMove(MoveKind.SELL, "b", "x", 5)]
    )
    assert (levels[("a", "x")].on_hand, levels[("b", "x")].on_hand) == (3, 0)


def test_apply_all_shortage_on_a_later_line_changes_nothing() -> None:
    levels = _levels(("a", "x"), ("b", "x"), ("c", "x"))
    before = _snapshot(levels)
    moves = [
        StockMove(MoveKind.RESERVE, "a", "x", 1),
        StockMove(MoveKind.RESERVE, "b", "x", 5),
        StockMove(MoveKind.RESERVE, "c", "x", 6),
    ]
    with pytest.raises(InsufficientInventory):
        apply_all(levels, moves)
    assert _snapshot(levels) == before


def test_apply_all_counts_several_moves_on_one_level_together() -> None:
    levels = _levels(("a", "x"))
    before = _snapshot(levels)
    with pytest.raises(InsufficientInventory):
        apply_all(levels, [StockMove(MoveKind.SELL, "a", "x", 3)] * 2)  # 6 > 5, though 3 <= 5
    assert _snapshot(levels) == before


def test_apply_all_unknown_level_changes_nothing() -> None:
    levels = _levels(("a", "x"))
    before = _snapshot(levels)
    with pytest.raises(InsufficientInventory):
        apply_all(
            levels,
            [StockMove(MoveKind.SELL, "a", "x", 1), StockMove(MoveKind.RECEIVE, "a", "y", 1)],
        )
    assert _snapshot(levels) == before


def test_apply_all_accepts_a_generator() -> None:
    levels = _levels(("a", "x"))
    apply_all(levels, (StockMove(MoveKind.SELL, "a", "x", 1) for _ in range(2)))
    assert levels[("a", "x")].sold == 2


# --- I1 under random move sequences -------------------------------------------------------

KEYS = [("a", "x"), ("a", "y"), ("b", "x")]
moves_st = st.builds(
    StockMove,
    kind=st.sampled_from(list(MoveKind)),
    variant_id=st.sampled_from(["a", "b"]),
    location_id=st.sampled_from(["x", "y"]),
    quantity=st.integers(min_value=1, max_value=6),
)


def _model_apply(model: dict[tuple[str, str], dict[str, int]], move: StockMove) -> bool:
    """A second, independent bookkeeping of the buckets; False when the move must fail."""
    key = (move.variant_id, move.location_id)
    if key not in model:
        return False
    counts = model[key]
    delta = UNIT_DELTA[move.kind]
    new = {
        name: counts[name] + move.quantity * d
        for name, d in zip(("on_hand", "reserved", "sold", "received"), delta, strict=True)
    }
    if any(v < 0 for v in new.values()):
        return False
    model[key] = new
    return True


@settings(max_examples=150, deadline=None)
@given(batches=st.lists(st.lists(moves_st, min_size=1, max_size=4), max_size=25))
def test_i1_holds_under_random_batches(batches: list[list[StockMove]]) -> None:
    levels = {k: StockLevel(*k) for k in KEYS}
    model = {k: {"on_hand": 0, "reserved": 0, "sold": 0, "received": 0} for k in KEYS}
    for batch in batches:
        trial = {k: dict(v) for k, v in model.items()}
        expected_ok = all(_model_apply(trial, m) for m in batch)
        try:
            apply_all(levels, batch)
        except InsufficientInventory:
            assert not expected_ok, f"refused a batch the model accepts: {batch}"
        else:
            assert expected_ok, f"accepted a batch the model refuses: {batch}"
            model = trial
        for key, level in levels.items():
            assert level.violations() == []
            assert {b.value: level.holds(b) for b in Bucket} | {"received": level.received} == (
                model[key]
            )
