"""The trace checker on small diagrams: the language of each fragment, matching, verdicts."""

from __future__ import annotations

import pytest

from reference_impl.domain.trace import Actor, MessageKind, TraceEvent
from scenarios.diagrams import (
    ANY_LABEL,
    SequenceDiagram,
    TraceChecker,
    TraceVerdict,
    check_trace,
    parse_text,
)
from tests.diagrams.traces import ev, trace


def diagram(body: str) -> SequenceDiagram:
    return parse_text("sequenceDiagram\n" + body)


FLOW = diagram(
    "    A->>B: start\n"  # line 2
    "    alt one\n"
    "        B->>C: c1\n"  # line 4
    "    else two\n"
    "        B->>D: d1\n"  # line 6
    "        D-->>B: d2\n"
    "    end\n"
    "    opt maybe\n"
    "        B->>C: extra\n"  # line 10
    "    end\n"
    "    loop\n"
    "        A->>B: item\n"  # line 13
    "        B-->>A: ok\n"
    "    end\n"
    "    B-->>A: done\n"  # line 16
)


def check(events: list[TraceEvent], *, complete: bool = True, strict: bool = False
          ) -> TraceVerdict:
    return check_trace(FLOW, events, complete=complete, strict=strict)


@pytest.mark.parametrize(
    "events",
    [
        trace("A>B", "B>C", "B>A"),  # alt: first branch
        trace("A>B", "B>D", "D>B", "B>A"),  # alt: second branch
        trace("A>B", "B>C", "B>C", "B>A"),  # opt taken
    ],
)
def test_each_branch_conforms(events: list[TraceEvent]) -> None:
    verdict = check(events)
    assert verdict.ok, verdict.reason
    assert bool(verdict) and str(verdict) == f"conforms ({len(events)} events)"


@pytest.mark.parametrize("repetitions", [0, 1, 3])
def test_loop_is_zero_or_more(repetitions: int) -> None:
    events = trace("A>B", "B>C", *(["A>B", "B>A"] * repetitions), "B>A")
    assert check(events).ok


def test_wrong_order() -> None:
    verdict = check(trace("A>B:start", "D>B:d2", "B>D:d1", "B>A:done"))
    assert not verdict.ok
    assert verdict.reason == (
        "after #1 A -> B: start, expected one of: B -> C (line 4: c1); B -> D (line 6: d1), "
        "saw #2 D -> B: d2"
    )
    assert verdict.position == 1
    assert verdict.saw is not None and verdict.saw.message == "d2"
    assert verdict.expected == ("B -> C (line 4: c1)", "B -> D (line 6: d1)")


def test_missing_message() -> None:
    verdict = check(trace("A>B:start", "B>C:c1"))
    assert verdict.reason == (
        "trace ended early after #2 B -> C: c1, expected one of: B -> C (line 10: extra); "
        "A -> B (line 13: item); B -> A (line 16: done)"
    )
    assert verdict.position == 2 and verdict.saw is None
    assert check([]).reason.startswith("trace ended early with no events, expected one of: A -> B")


def test_half_a_loop_iteration() -> None:
    verdict = check(trace("A>B", "B>C", "A>B:item", "C>B:odd"), strict=True)
    assert verdict.reason == (
        "after #3 A -> B: item, expected one of: B -> A (line 14: ok), saw #4 C -> B: odd"
    )
    # Not strict, the message the diagram never draws is set aside; the half iteration
    # still fails, now as a trace that ended early.
    lenient = check(trace("A>B", "B>C", "A>B:item", "C>B:odd"))
    assert lenient.reason.startswith("trace ended early after #3 A -> B: item")
    assert [e.message for e in lenient.ignored] == ["odd"]


def test_extra_message() -> None:
    verdict = check(trace("A>B", "B>C", "B>A:done", "B>A:again"))
    assert verdict.reason == (
        "unexpected extra message #4 B -> A: again after #3 B -> A: done: the diagram ends there"
    )


def test_end_of_trace_is_named_when_allowed() -> None:
    verdict = check(trace("A>B", "B>C", "A>B"), complete=False)
    assert verdict.ok  # a prefix, accepted when the trace may stop early
    d = diagram("    A->>B: x\n    opt\n        B->>A: y\n    end\n")
    verdict = check_trace(d, trace("A>B", "C>A"), observable={"A", "B"})
    assert verdict.ok  # C is not observable: set aside
    verdict = check_trace(d, trace("A>B", "A>B"))
    assert verdict.reason.endswith(
        "expected one of: B -> A (line 4: y); the end of the trace, saw #2 A -> B: "
    )


def test_complete_false_still_rejects_a_wrong_event() -> None:
    verdict = check(trace("A>B", "B>A"), complete=False)
    assert not verdict.ok and verdict.position == 1


@pytest.mark.parametrize(
    ("guard", "accepted", "rejected"),
    [
        ("(1,*) at least once", [1, 2, 5], [0]),
        ("(2)", [2], [0, 1, 3]),
        ("(0,2)", [0, 1, 2], [3]),
    ],
)
def test_loop_bounds_in_uml_syntax(guard: str, accepted: list[int], rejected: list[int]) -> None:
    d = diagram(f"    loop {guard}\n        A->>B: x\n    end\n")
    for n in accepted:
        assert check_trace(d, trace(*["A>B"] * n)).ok, n
    for n in rejected:
        assert not check_trace(d, trace(*["A>B"] * n)).ok, n


def test_loop_bounds_must_be_ordered() -> None:
    d = diagram("    loop (3,1)\n        A->>B: x\n    end\n")
    with pytest.raises(ValueError, match=r"line 2: loop bounds \(3,1\) have max below min"):
        TraceChecker(d)


PAR = diagram(
    "    par\n"
    "        A->>B: a1\n"
    "        A->>B: a2\n"
    "    and\n"
    "        A->>C: c1\n"
    "        C-->>A: c2\n"
    "    end\n"
    "    A->>B: after\n"
)
PAR_KEYS = {"a1": "a1", "a2": "a2", "c1": "c1", "c2": "c2", "after": "after"}


@pytest.mark.parametrize(
    "order",
    [
        ["a1", "a2", "c1", "c2"],
        ["c1", "c2", "a1", "a2"],
        ["a1", "c1", "a2", "c2"],
        ["c1", "a1", "c2", "a2"],
    ],
)
def test_par_accepts_every_interleaving(order: list[str]) -> None:
    ends = {"a1": "A>B", "a2": "A>B", "c1": "A>C", "c2": "C>A"}
    events = trace(*(f"{ends[key]}:{key}" for key in order), "A>B:after")
    assert check_trace(PAR, events, message_map=PAR_KEYS).ok


def test_par_keeps_the_order_inside_each_branch() -> None:
    verdict = check_trace(PAR, trace("A>B:a1", "C>A:c2"), message_map=PAR_KEYS)
    assert verdict.reason == (
        "after #1 A -> B: a1, expected one of: A -> B: a2 (line 4: a2); A -> C: c1 (line 6: c1), "
        "saw #2 C -> A: c2"
    )


BREAK_IN_LOOP = diagram(
    "    loop\n"
    "        A->>B: try\n"
    "        break failed\n"
    "            B-->>A: give up\n"
    "        end\n"
    "        B-->>A: ok\n"
    "    end\n"
    "    A->>B: after\n"
)
BREAK_KEYS = {"try": "try", "give up": "give up", "ok": "ok", "after": "after"}


@pytest.mark.parametrize(
    ("events", "ok"),
    [
        (["A>B:try", "B>A:ok", "A>B:try", "B>A:ok", "A>B:after"], True),
        (["A>B:try", "B>A:give up", "A>B:after"], True),
        (["A>B:try", "B>A:ok", "A>B:try", "B>A:give up", "A>B:after"], True),
        (["A>B:try", "B>A:give up", "A>B:try"], False),  # the break left the loop
        (["A>B:try", "B>A:give up", "B>A:ok"], False),
    ],
)
def test_break_leaves_the_enclosing_loop(events: list[str], ok: bool) -> None:
    assert check_trace(BREAK_IN_LOOP, trace(*events), message_map=BREAK_KEYS).ok is ok


def test_break_outside_a_loop_ends_the_diagram() -> None:
    d = diagram("    A->>B: x\n    break down\n        B-->>A: err\n    end\n    B-->>A: fine\n")
    keys = {"x": "x", "err": "err", "fine": "fine"}
    assert check_trace(d, trace("A>B:x", "B>A:err"), message_map=keys).ok
    assert check_trace(d, trace("A>B:x", "B>A:fine"), message_map=keys).ok
    verdict = check_trace(d, trace("A>B:x", "B>A:err", "B>A:fine"), message_map=keys)
    assert verdict.reason.startswith("unexpected extra message #3 B -> A: fine after #2")


def test_critical_is_the_main_branch_or_an_option() -> None:
    d = diagram(
        "    critical connect\n        A->>B: c\n    option timeout\n        A->>C: log\n    end\n"
    )
    assert check_trace(d, trace("A>B")).ok
    assert check_trace(d, trace("A>C")).ok
    assert not check_trace(d, trace("A>B", "A>C")).ok


def test_rect_notes_and_activations_do_not_change_the_language() -> None:
    d = diagram(
        "    rect rgb(0, 0, 0)\n        A->>+B: x\n        note over B: thinking\n    end\n"
        "    activate A\n    B-->>-A: y\n"
    )
    assert check_trace(d, trace("A>B", "B>A")).ok


# -- matching ---------------------------------------------------------------------------------

SHOP = diagram(
    "    User->>Frontend: Click checkout\n"
    "    Frontend->>Backend: POST /api/orders\n"
    "    Backend->>Database: insert\n"
    "    Backend->>Backend: validate\n"
    "    Backend-->>Frontend: 201 Created<br/>with URL\n"
    "    Backend->>Mail: confirmation\n"
)
SHOP_ACTORS = {"User": "Buyer", "Frontend": "Buyer", "Backend": "Storefront", "Mail": "Mail"}


def test_participant_map_and_label_keys() -> None:
    events = [
        ev(Actor.BUYER, Actor.STOREFRONT, "create_order"),
        ev("Storefront", "Buyer", "201"),
        ev("Storefront", "Mail", "anything at all"),
    ]
    keys = {
        "POST /api/orders": "create_order",
        "201 Created with URL": "201",
        "confirmation": ANY_LABEL,
    }
    verdict = check_trace(SHOP, events, set(SHOP_ACTORS), SHOP_ACTORS, keys)
    assert verdict.ok, verdict.reason
    wrong = [*events[:1], ev("Storefront", "Buyer", "200"), events[2]]
    verdict = check_trace(SHOP, wrong, set(SHOP_ACTORS), SHOP_ACTORS, keys, strict=True)
    assert verdict.reason == (
        "after #1 Buyer -> Storefront: create_order, expected one of: "
        "Storefront -> Buyer: 201 (line 6: Backend -> Frontend: 201 Created with URL), "
        "saw #2 Storefront -> Buyer: 200"
    )


def test_none_in_message_map_means_not_sent_on_purpose() -> None:
    events = trace("Buyer>Storefront", "Storefront>Buyer")
    keys: dict[str, str | None] = {"confirmation": None}
    assert check_trace(SHOP, events, set(SHOP_ACTORS), SHOP_ACTORS, keys).ok
    assert not check_trace(SHOP, events, set(SHOP_ACTORS), SHOP_ACTORS).ok


def test_line_keys_beat_label_keys() -> None:
    d = diagram(
        "    alt ok\n        G->>S: webhook\n    else failed\n        G->>S: webhook\n    end\n"
    )
    keys = {"line 3": "completed", "line 5": "failed", "webhook": "never used"}
    assert check_trace(d, trace("G>S:completed"), message_map=keys).ok
    assert check_trace(d, trace("G>S:failed"), message_map=keys).ok
    assert not check_trace(d, trace("G>S:never used"), message_map=keys).ok


def test_kind_is_not_compared() -> None:
    d = diagram("    A->>B: x\n")
    event = TraceEvent("A", "B", "x", "c1", 0.0, MessageKind.REPLY)
    assert check_trace(d, [event]).ok


def test_self_events_and_unobserved_actors_are_set_aside() -> None:
    events = [
        ev("Storefront", "Database", "insert"),
        ev("Buyer", "Storefront", "order"),
        ev("Storefront", "Storefront", "validate"),
        ev("Storefront", "Buyer", "201"),
        ev("Storefront", "Mail", "email"),
    ]
    verdict = check_trace(SHOP, events, set(SHOP_ACTORS), SHOP_ACTORS)
    assert verdict.ok
    assert [e.message for e in verdict.checked] == ["order", "201", "email"]
    assert [e.message for e in verdict.ignored] == ["insert", "validate"]


def test_filter_by_correlation_id() -> None:
    first = trace("Buyer>Storefront", "Storefront>Buyer", "Storefront>Mail", correlation_id="o1")
    second = trace("Buyer>Storefront", "Storefront>Buyer", "Storefront>Mail", correlation_id="o2")
    interleaved = [first[0], second[0], first[1], second[1], first[2], second[2]]
    checker = TraceChecker(SHOP, set(SHOP_ACTORS), SHOP_ACTORS)
    assert checker.check(interleaved, correlation_id="o1").ok
    assert checker.check(interleaved, correlation_id="o2").ok
    assert not checker.check(interleaved).ok
    assert len(checker.check(interleaved, correlation_id="o1").ignored) == 3


def test_mapping_errors() -> None:
    with pytest.raises(ValueError, match="message_map names 'nope', 'line 99': no such"):
        TraceChecker(SHOP, message_map={"nope": "x", "line 99": "y", "201 Created\nwith URL": "z"})
    with pytest.raises(ValueError, match="participant_map names 'Ghost'"):
        TraceChecker(SHOP, participant_map={"Ghost": "Buyer"})
    with pytest.raises(ValueError, match="observable names 'Ghost'"):
        TraceChecker(SHOP, observable={"Ghost"})


# -- no blow-up ---------------------------------------------------------------------------------


def test_ambiguous_alternatives_in_a_loop_stay_linear() -> None:
    # (x | x x)* y: exponential for a backtracking matcher on a trace of x's that fails at the end.
    d = diagram(
        "    loop\n        alt one\n            A->>B: x\n        else two\n"
        "            A->>B: x\n            A->>B: x\n        end\n    end\n    A->>C: y\n"
    )
    checker = TraceChecker(d)
    assert checker.check(trace(*["A>B"] * 30, "A>C")).ok
    built = checker.states_built
    verdict = checker.check(trace(*["A>B"] * 3000))
    assert verdict.reason.startswith("trace ended early after #3000 A -> B: , expected one of:")
    assert checker.check(trace(*["A>B"] * 3000, "A>C")).ok
    assert not checker.check(trace(*["A>B"] * 3000, "B>A")).ok
    # A finite automaton: a hundred times the trace builds no new state, so each event
    # costs a bounded step (no timing here: the count says it).
    assert checker.states_built == built


def test_wide_par_builds_only_the_interleavings_it_meets() -> None:
    branches = "\n    and\n".join(
        "\n".join(f"        A->>P{b}: m{b}{i}" for i in range(4)) for b in range(6)
    )
    d = diagram(f"    par\n{branches}\n    end\n")
    keys = {f"m{b}{i}": f"m{b}{i}" for b in range(6) for i in range(4)}
    round_robin = [f"A>P{b}:m{b}{i}" for i in range(4) for b in range(6)]
    checker = TraceChecker(d, message_map=keys)
    compiled = checker.states_built
    assert checker.check(trace(*round_robin)).ok
    assert not checker.check(trace(*round_robin[1:])).ok
    # Six branches of four messages have 5**6 = 15,625 interleaving states; states are
    # built lazily, a few per event of the traces checked.
    assert checker.states_built - compiled <= 5 * 2 * len(round_robin) < 5**6
