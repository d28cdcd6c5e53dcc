"""SQL storage for the reference implementation: SQLAlchemy 2 Core on SQLite or PostgreSQL.

    engine = make_engine("postgresql+psycopg://...")  # default: the SQLite file purchaseflow.db
    create_schema(engine)                             # at start; safe with several workers
    with SqlUnitOfWork(engine) as uow: ...            # implements service.ports.UnitOfWork
"""

from reference_impl.storage.engine import DEFAULT_URL, create_schema, make_engine
from reference_impl.storage.unit_of_work import SqlUnitOfWork

__all__ = ["DEFAULT_URL", "SqlUnitOfWork", "create_schema", "make_engine"]
