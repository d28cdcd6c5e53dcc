"""The garbage collector of a server process, set for serving (``app.app_from_env``).

CPython's cyclic collector runs its oldest generation over every object the process
tracks, and a shop process that has imported FastAPI, pydantic, SQLAlchemy and psycopg and
built its app tracks about 106,000: such a full collection took 65 ms on the 2-core
benchmark machine, with the event loop stopped. Under the default thresholds (700, 10, 10)
one came every few hundred requests, and those pauses were the tail of the latency: at 50
clients the health check's p99 was 80 ms for a p50 of 11 ms.

Two standard remedies, together:

* ``gc.freeze()`` once the app is built, after a last full collection: everything alive
  then (modules, classes, the app and its routes) moves to a permanent generation that no
  collection visits again. A full collection afterwards took under 0.01 ms.
* A first generation of 10,000 allocations instead of 700, so that the young collections,
  and the full ones they lead to, come 14 times less often. Cyclic garbage waits a little
  longer to be freed; none of it outlives the next full collection.

Measured with ``benchmarks/bench_order_creation.py`` (SQLite, 50 clients): the health
check's p99 went from 80-84 ms to 23-27 ms, the orders' from 138-146 ms to 77-98 ms.

Only the server's own processes call this: a test that builds the app in-process keeps
the collector as pytest has it.
"""

from __future__ import annotations

import gc

#: (first generation, second, third): see the module's docstring.
SERVING_THRESHOLDS = (10_000, 20, 20)


def tune_for_serving() -> None:
    gc.collect()  # what is garbage now is not frozen with the rest
    gc.freeze()
    gc.set_threshold(*SERVING_THRESHOLDS)
