"""``scenarios.baskets.LinePicker``: which stock entry a cart line takes, in proportion to
the entries' popularity, decided by one uniform number (the simulator's and the load
generator's one rule)."""

from __future__ import annotations

from collections import Counter

import pytest

from scenarios.baskets import LinePicker
from scenarios.schema import StockEntry


def picker(*entries: tuple[str, str, float]) -> LinePicker:
    return LinePicker([StockEntry(variant=v, location=loc, quantity=1, popularity=p)
                       for v, loc, p in entries])


GRID = [i / 1000 for i in range(1000)] + [1 - 1e-16]


def test_equal_popularity_picks_as_before_popularity_existed() -> None:
    """``entries[int(u * n)]``: the draws, and so the stored summaries, stay the same."""
    stock = picker(("a", "x", 2.5), ("a", "y", 2.5), ("b", "x", 2.5))
    for u in GRID:
        assert stock.pick(u) == stock.entries[int(u * 3)]
        free = [e for e in stock.entries if e[0] != "a"]
        assert stock.pick(u, {"a"}) == free[int(u * len(free))]


def test_entries_are_picked_in_proportion_to_their_popularity() -> None:
    stock = picker(("hot", "x", 3), ("warm", "x", 0.5), ("cold", "x", 0.5))
    picked = Counter(stock.pick(u)[0] for u in GRID[:-1])
    assert picked == {"hot": 750, "warm": 125, "cold": 125}
    assert stock.pick(1 - 1e-16) == ("cold", "x")  # never past the last entry


def test_variants_in_the_cart_are_not_picked_again() -> None:
    stock = picker(("hot", "x", 8), ("hot", "y", 1), ("cold", "x", 1))
    assert {stock.pick(u, {"hot"}) for u in GRID} == {("cold", "x")}
    picked = Counter(stock.pick(u, {"cold"}) for u in GRID[:-1])
    assert picked == {("hot", "x"): 889, ("hot", "y"): 111}
    assert stock.variants == 2
    with pytest.raises(ValueError, match="already in the cart"):
        stock.pick(0.5, {"hot", "cold"})
