"""Which stock entry a buyer's cart line takes: the one rule of the simulator and the load
generator (``catalog.stock[].popularity``).

A line takes an entry with a chance in proportion to its popularity, among the entries of
variants not yet in the cart (the cart is keyed by variant, ``reference_impl`` ``Cart``).
It is decided by one uniform number, so that the simulator keeps a fixed number of draws
per buyer (common random numbers). With every popularity equal, which is the default, the
entry is ``entries[int(u * len(entries))]``, as it was before popularity existed, so that
the stored summaries of the scenarios stand.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence

from scenarios.schema import StockEntry

Entry = tuple[str, str]  # variant, location


class LinePicker:
    def __init__(self, stock: Sequence[StockEntry]) -> None:
        self.entries: list[Entry] = [(s.variant, s.location) for s in stock]
        self._weights = [s.popularity for s in stock]
        self._uniform = len(set(self._weights)) <= 1
        self._cumulative = list(itertools.accumulate(self._weights))
        #: The most lines a cart can have: one per variant.
        self.variants = len({variant for variant, _ in self.entries})

    def pick(self, u: float, taken: set[str] | frozenset[str] = frozenset()) -> Entry:
        """The entry that ``u`` (uniform on [0, 1)) picks among those whose variant is not
        ``taken``; there must be one."""
        if not taken:
            if self._uniform:
                return self.entries[int(u * len(self.entries))]
            return self.entries[_index(self._cumulative, u)]
        free = [i for i, (variant, _) in enumerate(self.entries) if variant not in taken]
        if not free:
            raise ValueError("every variant is already in the cart")
        if self._uniform:
            return self.entries[free[int(u * len(free))]]
        cumulative = list(itertools.accumulate(self._weights[i] for i in free))
        return self.entries[free[_index(cumulative, u)]]


def _index(cumulative: list[float], u: float) -> int:
    # The last index for u so close to 1 that rounding puts u * total on the total.
    return min(bisect.bisect_right(cumulative, u * cumulative[-1]), len(cumulative) - 1)
