"""The in-memory and SQL stock stores agree on any sequence of moves.

After Hypothesis's ``tests/nocover/test_database_agreement.py``: every rule runs on both
implementations, and after every step their answers and their levels must be the same.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine

from reference_impl.domain.errors import InsufficientInventory
from reference_impl.domain.inventory import MoveKind, StockMove
from reference_impl.service.memory import InMemoryUnitOfWork
from reference_impl.service.ports import UnitOfWork
from reference_impl.storage import SqlUnitOfWork

# ("v3", "L1") is never created, so moves on it must be refused by both stores.
KEYS = [("v1", "L1"), ("v1", "L2"), ("v2", "L1"), ("v3", "L1")]

moves = st.builds(
    StockMove,
    kind=st.sampled_from(MoveKind),
    variant_id=st.sampled_from(["v1", "v2", "v3"]),
    location_id=st.sampled_from(["L1", "L2"]),
    quantity=st.integers(1, 6),
)


def apply(uow: UnitOfWork, batch: list[StockMove], commit: bool) -> bool:
    with uow:
        try:
            uow.stock.apply(batch)
        except InsufficientInventory:
            refused = True
        else:
            refused = False
        if commit:
            uow.commit()
    return refused


def test_memory_and_sql_stock_agree(sql_engine: Engine) -> None:
    class StockAgreement(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.stores: list[UnitOfWork] = [InMemoryUnitOfWork(), SqlUnitOfWork(sql_engine)]
            with self.stores[1] as uow:
                uow.reset()
                uow.commit()

        @initialize(quantities=st.lists(st.integers(0, 8), min_size=3, max_size=3))
        def receive(self, quantities: list[int]) -> None:
            for uow in self.stores:
                with uow:
                    for (variant_id, location_id), quantity in zip(KEYS, quantities, strict=False):
                        uow.stock.ensure(variant_id, location_id)
                        if quantity:
                            uow.stock.apply(
                                [StockMove(MoveKind.RECEIVE, variant_id, location_id, quantity)]
                            )
                    uow.commit()

        @rule(batch=st.lists(moves, min_size=1, max_size=4), commit=st.booleans())
        def apply_moves(self, batch: list[StockMove], commit: bool) -> None:
            memory, sql = (apply(uow, batch, commit) for uow in self.stores)
            assert memory == sql

        @invariant()
        def same_levels(self) -> None:
            levels = []
            for uow in self.stores:
                with uow:
                    levels.append(uow.stock.list())
            assert levels[0] == levels[1]
            assert [lv.violations() for lv in levels[1]] == [[]] * len(levels[1])

    run_state_machine_as_test(
        StockAgreement,
        settings=settings(
            max_examples=25,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture],
        ),
    )
