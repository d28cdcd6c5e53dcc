"""The message names a scenario's ``diagram.message_map`` may use (DESIGN.md section 7).

The canonical names are the reference implementation's own, ``reference_impl.domain.trace.Msg``:
the reference implementation and the simulator record exactly these in
``TraceEvent.message``. The five seeds word one step in five ways ("Checkout",
"POST /api/orders", "createOrder", ...); the trace checker compares names, not wording.

Replies are recorded under the name of the request they answer. A reply that refuses the
request is recorded under the error code it carries (DESIGN.md section 3, e.g.
``items_unavailable`` for seed 001's 409), so a refusal and a success are told apart.
"""

from __future__ import annotations

from reference_impl.domain.errors import ALL_ERRORS
from reference_impl.domain.trace import Msg

#: Error codes a refusing reply is named after (DESIGN.md section 3).
ERROR_CODES: tuple[str, ...] = tuple(error.code for error in ALL_ERRORS)

#: Every name a ``message_map`` may use.
MESSAGE_NAMES: tuple[str, ...] = tuple(m.value for m in Msg) + ERROR_CODES
