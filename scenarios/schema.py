"""The scenario format, version 1 (DESIGN.md section 8), as pydantic models.

One file drives the simulator (virtual time), the load test (real time) and the conformance
run (profile and invariants). Every model forbids unknown keys, so a typo is an error, not a
silently ignored setting. Checks that span several fields (a stock entry naming an unknown
variant, a burst after the end of the run, ...) run once the structure is valid and report
each problem under the path of the field at fault, so the loader can give its line.

Times are seconds, money is integer minor units, probabilities are in [0, 1].
``docs/scenarios.md`` documents every key.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Protocol, Self, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from reference_impl.domain.order_status import OrderStatus
from reference_impl.domain.policies import (
    PaymentMode,
    Policies,
    StockCommitPoint,
    WebhookDialect,
)
from reference_impl.domain.trace import Actor, TraceEvent
from scenarios.messages import MESSAGE_NAMES

if TYPE_CHECKING:
    from scenarios.diagrams import SequenceDiagram, TraceVerdict

FORMAT_VERSION = 1

#: A field path as pydantic reports it: keys and list indices from the document root.
Loc = tuple[str | int, ...]

InvariantId = Literal["I1", "I2", "I3", "I4", "I5", "I6", "I7", "I8", "I9", "I10", "I11"]
INVARIANT_IDS: tuple[str, ...] = get_args(InvariantId)
#: DESIGN.md section 5: these three are about webhooks, which synchronous payment has none of.
WEBHOOK_INVARIANTS = frozenset({"I3", "I4", "I5"})

Identifier = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$",
        max_length=64,
        description="letters, digits, and . _ : - after the first character",
    ),
]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, e.g. EUR")]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Seconds = Annotated[float, Field(ge=0.0)]
PositiveSeconds = Annotated[float, Field(gt=0.0)]


def _known_message(name: str) -> str:
    if name not in MESSAGE_NAMES:
        raise PydanticCustomError(
            "unknown_message",
            "expected a canonical message name (see docs/scenarios.md), got {name!r}",
            {"name": name},
        )
    return name


MessageName = Annotated[
    str,
    AfterValidator(_known_message),
    WithJsonSchema({"type": "string", "enum": list(MESSAGE_NAMES)}),
]


class _Model(BaseModel):
    # Attribute docstrings become the JSON Schema's descriptions, which editors show.
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


# --------------------------------------------------------------------------------------
# Distributions (latency, think time, patience, webhook delay)
#
# ``sample(rng)`` is each distribution's definition. ``sampler(rng)`` is the same draw bound
# to one source, with what does not change computed once (the log of a median): the
# simulator draws latencies millions of times, and one Python call per draw instead of two
# is a measurable share of its time. For a source whose methods return Python floats (the
# protocol's ``-> float``; the simulator's ``BufferedRandom``) ``sampler(rng)()`` returns
# exactly what ``sample(rng)`` would: same draws, same arithmetic.


class RandomSource(Protocol):
    """The part of ``numpy.random.Generator`` the distributions sample from."""

    def exponential(self, scale: float) -> float: ...
    def uniform(self, low: float, high: float) -> float: ...
    def lognormal(self, mean: float, sigma: float) -> float: ...
    def normal(self, loc: float, scale: float) -> float: ...


class Fixed(_Model):
    """Always ``value`` seconds."""

    dist: Literal["fixed"]
    value: Seconds

    @property
    def mean(self) -> float:
        return self.value

    def sample(self, rng: RandomSource) -> float:
        return self.value

    def sampler(self, rng: RandomSource) -> Callable[[], float]:
        value = self.value
        return lambda: value


class Uniform(_Model):
    """Uniform on [low, high] seconds."""

    dist: Literal["uniform"]
    low: Seconds
    high: Seconds

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        return self

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    def sample(self, rng: RandomSource) -> float:
        return float(rng.uniform(self.low, self.high))

    def sampler(self, rng: RandomSource) -> Callable[[], float]:
        return functools.partial(rng.uniform, self.low, self.high)


class Exponential(_Model):
    """Exponential with the given mean (memoryless: M/M/c service or think times)."""

    dist: Literal["exponential"]
    mean: PositiveSeconds

    def sample(self, rng: RandomSource) -> float:
        return float(rng.exponential(self.mean))

    def sampler(self, rng: RandomSource) -> Callable[[], float]:
        return functools.partial(rng.exponential, self.mean)


class LogNormal(_Model):
    """Log-normal given by its median and the sigma of its logarithm (long-tailed latency)."""

    dist: Literal["lognormal"]
    median: PositiveSeconds
    sigma: Annotated[float, Field(gt=0.0)]

    @property
    def mean(self) -> float:
        return self.median * math.exp(self.sigma**2 / 2)

    def sample(self, rng: RandomSource) -> float:
        return float(rng.lognormal(math.log(self.median), self.sigma))

    def sampler(self, rng: RandomSource) -> Callable[[], float]:
        return functools.partial(rng.lognormal, math.log(self.median), self.sigma)


class Normal(_Model):
    """Normal with ``mean`` and ``stddev``; samples below zero count as zero."""

    dist: Literal["normal"]
    mean: Seconds
    stddev: Annotated[float, Field(gt=0.0)]

    def sample(self, rng: RandomSource) -> float:
        return max(0.0, float(rng.normal(self.mean, self.stddev)))

    def sampler(self, rng: RandomSource) -> Callable[[], float]:
        normal, mean, stddev = rng.normal, self.mean, self.stddev
        return lambda: max(0.0, normal(mean, stddev))


Distribution = Annotated[
    Fixed | Uniform | Exponential | LogNormal | Normal, Field(discriminator="dist")
]


# --------------------------------------------------------------------------------------
# profile


class PolicySettings(_Model):
    """The profile's policies; ``Scenario.policies()`` turns them into domain ``Policies``."""

    stock_commit: StockCommitPoint
    payment_mode: PaymentMode
    webhook_dialect: WebhookDialect | None = None
    """Required with hosted checkout, forbidden with synchronous payment (no webhooks)."""
    reservation_ttl: PositiveSeconds | None = None
    """Seconds an order may stay pending_payment before it is cancelled. Required by ``reserve``;
    absent means orders never expire.
    """
    clear_cart_on_payment: bool = False
    send_confirmation_email: bool = False
    check_account: bool = False
    webhook_tolerance: PositiveSeconds = 300.0
    currency: Currency


class Exposes(_Model):
    """What the flow offers beyond checkout, as its diagram draws it."""

    browse: bool = False  # seed 003: Browse Store / Get Products
    view: bool = False  # seed 003: View Product
    cart_in_session: bool = False  # seed 003: Update Cart (Session)
    checkout_link: Literal["in_response", "fetched_later"] = "in_response"
    """``fetched_later``: the buyer asks for the checkout link in a second call (seed 000)."""
    variants: bool = False  # seed 002: several variants per product
    locations: bool = False  # seed 002: stock kept per location


class GatewayClient(_Model):
    """How the shop calls the payment gateway (``purchaseflow serve --gateway-timeout`` and
    ``--gateway-retries``; the simulator's shop calls it the same way)."""

    timeout: PositiveSeconds = 5.0
    """Seconds the shop waits for the gateway's answer to a create-session or charge call; a
    slower answer is a timeout, and the call is tried again."""
    retries: Annotated[int, Field(ge=0, le=10)] = 2
    """Tries after the first, 0.1 s, then 0.2 s, 0.4 s... apart, each with the call's
    idempotency key."""


class Profile(_Model):
    name: Identifier
    seed: Annotated[str, Field(pattern=r"^[0-9]{3}$")] | None = None
    """The seed diagram this flow follows, e.g. "001"; absent for a flow of the harness's own."""
    title: str | None = None
    policies: PolicySettings
    status_vocabulary: dict[str, OrderStatus] = Field(default_factory=dict)
    """The flow's own status words, in the order an order passes them, each mapped onto a canonical
    status. Several words may share one status (seed 000: Processing and Active are both stages
    of pending_payment); the last one is the one reported.
    """
    requires_auth: bool = True
    """Order creation demands a bearer JWT (seed 001)."""
    exposes: Exposes = Field(default_factory=Exposes)
    gateway_client: GatewayClient = Field(default_factory=GatewayClient)

    def status_label(self, status: str) -> str:
        """The word this flow uses for canonical ``status``, or ``status`` itself."""
        words = [word for word, canonical in self.status_vocabulary.items() if canonical == status]
        return words[-1] if words else status


# --------------------------------------------------------------------------------------
# catalog


class Location(_Model):
    id: Identifier
    name: str | None = None


class Variant(_Model):
    id: Identifier
    sku: str | None = None
    name: str | None = None
    price: Annotated[int, Field(ge=0)]
    """Unit price in minor units (cents)."""
    currency: Currency | None = None
    """Defaults to the profile's currency; when given it must be the same."""
    deliverable: bool = True  # seed 002: "Product Variant Details (with is_deliverable)"


class Product(_Model):
    id: Identifier
    name: str
    variants: Annotated[list[Variant], Field(min_length=1)]


class StockEntry(_Model):
    variant: Identifier
    location: Identifier
    quantity: Annotated[int, Field(ge=0)]
    popularity: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 1.0
    """How often buyers put this entry in their carts, relative to the other entries: a
    flash sale's hot item has a much higher one than the rest of the catalog. Each cart line
    takes an entry with a chance in proportion to its popularity (the simulator and the load
    generator alike)."""


class Account(_Model):
    id: Identifier
    active: bool = True
    """Seed 000 refuses orders of inactive accounts (account_inactive)."""


class Catalog(_Model):
    locations: Annotated[list[Location], Field(min_length=1)]
    products: Annotated[list[Product], Field(min_length=1)]
    stock: list[StockEntry] = Field(default_factory=list)
    users: list[Account] = Field(default_factory=list)

    def variants(self) -> Iterator[tuple[Product, Variant]]:
        for product in self.products:
            for variant in product.variants:
                yield product, variant

    def stock_of(self, variant: str, location: str | None = None) -> int:
        return sum(
            s.quantity
            for s in self.stock
            if s.variant == variant and (location is None or s.location == location)
        )


# --------------------------------------------------------------------------------------
# buyers


class Burst(_Model):
    """``buyers`` arrivals spread at random over [at, at + over): a flash sale."""

    at: Seconds
    buyers: Annotated[int, Field(ge=1)]
    over: Seconds = 0.0


class Arrivals(_Model):
    rate: Annotated[float, Field(ge=0.0)]
    """Poisson arrivals per second; 0 for bursts only."""
    bursts: list[Burst] = Field(default_factory=list)


class Funnel(_Model):
    """Share of arriving buyers who reach each step; never rising along the funnel."""

    browse: Probability = 1.0
    view: Probability = 1.0
    add: Probability = 1.0
    checkout: Probability = 1.0
    pay: Probability = 1.0

    STEPS: ClassVar[tuple[str, ...]] = ("browse", "view", "add", "checkout", "pay")

    def steps(self) -> list[tuple[str, float]]:
        return [(name, getattr(self, name)) for name in self.STEPS]


class Abandonment(_Model):
    """Impatience: a buyer waiting on one step longer than ``patience`` leaves with
    ``probability`` (the SimPy ``req | timeout(patience)`` race)."""

    probability: Probability = 0.0
    patience: Distribution | None = None


class IntRange(_Model):
    """A whole number drawn uniformly from [min, max]."""

    min: Annotated[int, Field(ge=1)] = 1
    max: Annotated[int, Field(ge=1)] = 1

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        return self


class Mix(_Model):
    """Weights of TPC-W's two kinds of session: browsing only, or walking the funnel to pay."""

    browse: Annotated[float, Field(ge=0.0)]
    order: Annotated[float, Field(ge=0.0)]


def _tpcw_mixes() -> dict[str, Mix]:
    # TPC-W's browsing, shopping and ordering mixes (share of browse vs order interactions).
    return {
        "browsing": Mix(browse=95, order=5),
        "shopping": Mix(browse=80, order=20),
        "ordering": Mix(browse=50, order=50),
    }


class Buyers(_Model):
    population: Annotated[int, Field(ge=1)]
    """Buyer accounts generated for the run (beside ``catalog.users``)."""
    inactive_share: Probability = 0.0
    """Share of generated accounts that are inactive (needs ``check_account``, seed 000)."""
    arrivals: Arrivals
    funnel: Funnel = Field(default_factory=Funnel)
    abandonment: Abandonment = Field(default_factory=Abandonment)
    think_time: Distribution | None = None
    lines: IntRange = Field(default_factory=IntRange)
    quantity: IntRange = Field(default_factory=IntRange)
    mixes: dict[Identifier, Mix] = Field(default_factory=_tpcw_mixes)
    mix: Identifier = "shopping"
    """The mix the load test runs; a key of ``mixes``."""


# --------------------------------------------------------------------------------------
# latency, capacity, faults


class Latency(_Model):
    """Service time per actor; an actor left out answers at once."""

    catalog: Distribution | None = None
    cart: Distribution | None = None
    orders: Distribution | None = None
    inventory: Distribution | None = None
    accounts: Distribution | None = None
    payments: Distribution | None = None
    gateway: Distribution | None = None
    webhook: Distribution | None = None
    """From the gateway's payment to the first webhook delivery attempt."""
    database: Distribution | None = None
    mail: Distribution | None = None


class Capacity(_Model):
    """Concurrency limits, simulated as SimPy Resources; absent means unlimited."""

    database_pool: Annotated[int, Field(ge=1)] | None = None
    gateway_concurrency: Annotated[int, Field(ge=1)] | None = None
    workers: Annotated[int, Field(ge=1)] | None = None


class Window(_Model):
    start: Seconds
    end: Seconds

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self


class GatewayFaults(_Model):
    """Faults of the gateway double (DESIGN.md section 4)."""

    decline_rate: Probability = 0.0
    create_error_rate: Probability = 0.0  # create session / charge answers 5xx
    create_timeout_rate: Probability = 0.0  # create session / charge never answers
    outages: list[Window] = Field(default_factory=list)  # every call fails with 503


class Retry(_Model):
    """The gateway's redelivery schedule until it gets a 2xx."""

    initial_delay: PositiveSeconds = 1.0
    multiplier: Annotated[float, Field(ge=1.0)] = 2.0
    max_delay: PositiveSeconds = 60.0
    max_attempts: Annotated[int, Field(ge=1)] = 10


class WebhookFaults(_Model):
    """Faults of webhook delivery; each rate is a share of events."""

    delay_rate: Probability = 0.0
    delay: Distribution | None = None  # extra delay of a delayed event
    duplicate_rate: Probability = 0.0
    duplicates: Annotated[int, Field(ge=1)] = 1  # extra copies of a duplicated event
    reorder_rate: Probability = 0.0  # delivered after the order's next event
    drop_first: Annotated[int, Field(ge=0)] = 0  # first n attempts of every event are lost
    stale_rate: Probability = 0.0  # timestamp older than the webhook tolerance
    bad_signature_rate: Probability = 0.0  # signed with the wrong secret
    retry: Retry = Field(default_factory=Retry)


class Faults(_Model):
    gateway: GatewayFaults = Field(default_factory=GatewayFaults)
    webhook: WebhookFaults | None = None
    """Only with hosted checkout: synchronous payment has no webhooks."""


# --------------------------------------------------------------------------------------
# run


class LoadRun(_Model):
    """Locust settings (issue 7); times are real seconds."""

    users: Annotated[int, Field(ge=1)] = 10
    spawn_rate: Annotated[float, Field(gt=0.0)] = 5.0
    run_time: PositiveSeconds | None = None
    """Defaults to ``run.duration``."""
    arrival_rate: Annotated[float, Field(gt=0.0)] | None = None
    """Open workload: buyers per second, replacing ``buyers.arrivals.rate``."""


class Run(_Model):
    duration: PositiveSeconds
    """Virtual seconds for the simulator; real seconds for the load test unless ``load.run_time``
    says otherwise.
    """
    warmup: Seconds = 0.0
    seed: Annotated[int, Field(ge=0)] = 0
    replications: Annotated[int, Field(ge=1)] = 1
    load: LoadRun = Field(default_factory=LoadRun)


class ExperimentAxis(_Model):
    """One setting varied by the experiment."""

    param: Annotated[str, Field(min_length=1)]
    """A dotted path of this file (``buyers.arrivals.rate``) or a short name (``rate``,
    ``stock_commit``, ``reservation_ttl``...: docs/simulator.md)."""
    values: Annotated[list[Any], Field(min_length=1)]


class PrecisionTarget(_Model):
    """Sequential replications: run until the intervals are this narrow."""

    relative: Annotated[float, Field(gt=0.0, lt=1.0)]
    """The relative error asked for: 0.05 for 5%."""
    metrics: Annotated[list[str], Field(min_length=1)] | None = None
    """Metrics (or ``diff:METRIC`` for a compare difference); default conversion,
    orders_paid, confirmation_p95."""
    max_replications: Annotated[int, Field(ge=2)] = 200


class SelectBestTarget(_Model):
    """Choose the best ``compare`` value with 95% confidence (Kim and Nelson's KN)."""

    metric: Annotated[str, Field(min_length=1)]
    goal: Literal["min", "max"]
    indifference: Annotated[float, Field(gt=0.0)]
    """The smallest difference in the metric worth telling apart, in its units."""
    max_replications: Annotated[int, Field(ge=2)] = 200


class ExperimentPlan(_Model):
    """What ``purchaseflow sim`` runs when its options do not say otherwise (each option
    given on the command line replaces its part of the plan): an experiment kept with its
    scenario, to be run again as it was."""

    sweep: list[ExperimentAxis] = Field(default_factory=list)
    compare: ExperimentAxis | None = None
    """Compared with common random numbers: paired differences against the first value."""
    precision: PrecisionTarget | None = None
    select_best: SelectBestTarget | None = None
    effects: list[str] = Field(default_factory=list)
    """Metrics whose factorial effects to report (every axis with two values)."""
    warmup_check: bool = False

    @field_validator("compare")
    @classmethod
    def _compared(cls, compare: ExperimentAxis | None) -> ExperimentAxis | None:
        if compare is not None and len(compare.values) < 2:
            raise ValueError("compare needs at least two values to compare")
        return compare


# --------------------------------------------------------------------------------------
# diagram and invariants


class Deviation(_Model):
    """A place where the reference implementation and the diagram disagree on purpose."""

    message: str | None = None  # a message label of the diagram
    line: Annotated[int, Field(ge=1)] | None = None  # a line of the diagram file
    reason: Annotated[str, Field(min_length=1)]
    late: bool = False
    """The implementation sends this message later than drawn: the trace checker expects it
    once, anywhere from its drawn place to the end of the sequence drawing it."""

    @model_validator(mode="after")
    def _anchored(self) -> Self:
        if self.message is None and self.line is None:
            raise ValueError("give the diagram message or line the deviation is about")
        return self

    @property
    def key(self) -> str:
        """The ``message_map`` key this deviation is about: ``"line N"``, else the label."""
        return f"line {self.line}" if self.line is not None else str(self.message)


#: Actors outside the shop: what a black-box run sees the shop talk to (DESIGN.md section 7).
ENVIRONMENT_ACTORS = frozenset({Actor.BUYER, Actor.GATEWAY, Actor.MAIL})


class DiagramRef(_Model):
    """The seed diagram and how its participants and messages read in a trace.

    Checked with ``Scenario.check_trace``; see docs/scenarios.md for the rules.
    """

    file: str
    """The seed diagram, relative to the scenario file, in its original notation."""
    participant_map: dict[str, Actor]
    """Diagram participant -> canonical actor (reference_impl.domain.trace.Actor)."""
    observable: list[str] | None = None
    """Participants a black-box run records (the checker keeps a message when both its ends are
    observable and are different actors); absent means all of them.
    """
    message_map: dict[str, MessageName | None] = Field(default_factory=dict)
    """Diagram message label (or ``"line N"`` for one drawing of a label) -> canonical message
    name; null when the implementation does not send it, on purpose (a step inside the buyer's
    browser, or a deviation that says why).
    """
    actor_folds: dict[Actor, Actor] = Field(default_factory=dict)
    """Trace actor -> the actor the diagram draws it inside, applied to a full trace before it is
    checked (seed 001 draws the whole shop as one Backend: Orders -> Storefront).
    """
    deviations: list[Deviation] = Field(default_factory=list)

    def black_box_participant_map(self) -> dict[str, str]:
        """Every participant of the shop folded into Storefront, as a black box sees it."""
        return {
            name: actor if actor in ENVIRONMENT_ACTORS else Actor.STOREFRONT
            for name, actor in self.participant_map.items()
        }

    def fold(self, trace: Iterable[TraceEvent], *, black_box: bool = False) -> list[TraceEvent]:
        """The trace with its actors renamed as the diagram draws them."""

        def name(actor: str) -> str:
            if black_box:
                return actor if actor in ENVIRONMENT_ACTORS else Actor.STOREFRONT
            return self.actor_folds.get(Actor(actor), actor) if actor in _ACTORS else actor

        return [
            dataclasses.replace(event, source=name(event.source), target=name(event.target))
            for event in trace
        ]


_ACTORS = frozenset(a.value for a in Actor)


class Invariants(_Model):
    check: list[InvariantId] | None = None
    """Invariants to check; absent means every one the profile makes applicable."""
    refunds_expected: bool | None = None
    """Paid orders refunded for lack of stock are expected, not a violation (on_payment)."""


# --------------------------------------------------------------------------------------
# the scenario


class Scenario(_Model):
    """One scenario file. Build it with ``scenarios.load_scenario``."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
        title="purchaseflow scenario",
        json_schema_extra={"description": "A purchaseflow scenario (docs/scenarios.md)."},
    )

    version: Literal[1]
    description: str | None = None
    profile: Profile
    catalog: Catalog
    buyers: Buyers
    latency: Latency = Field(default_factory=Latency)
    capacity: Capacity = Field(default_factory=Capacity)
    faults: Faults = Field(default_factory=Faults)
    run: Run
    experiment: ExperimentPlan = Field(default_factory=ExperimentPlan)
    diagram: DiagramRef | None = None
    invariants: Invariants = Field(default_factory=Invariants)

    _source: Path | None = PrivateAttr(default=None)
    """The file it was loaded from; relative paths inside resolve against it."""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems = list(_problems(self))
        if problems:
            summary = "; ".join(f"{_dotted(loc)}: {msg}" for loc, msg in problems)
            raise PydanticCustomError(
                "inconsistent", "{summary}", {"summary": summary, "problems": problems}
            )
        return self

    # -- derived views, so that sim, conformance and load read the file the same way --

    @property
    def source(self) -> Path | None:
        return self._source

    def policies(self) -> Policies:
        p = self.profile.policies
        return Policies(
            stock_commit=p.stock_commit,
            payment_mode=p.payment_mode,
            # Synchronous profiles have no webhooks; the dialect is then never used.
            webhook_dialect=p.webhook_dialect or WebhookDialect.GENERIC,
            reservation_ttl=p.reservation_ttl,
            clear_cart_on_payment=p.clear_cart_on_payment,
            send_confirmation_email=p.send_confirmation_email,
            check_account=p.check_account,
            webhook_tolerance=p.webhook_tolerance,
            currency=p.currency,
        )

    def applicable_invariants(self) -> tuple[str, ...]:
        """The invariants of DESIGN.md section 5 this profile can be held to."""
        p = self.profile.policies
        skip: set[str] = set()
        if p.payment_mode is PaymentMode.SYNCHRONOUS:
            skip |= WEBHOOK_INVARIANTS
        elif p.reservation_ttl is None:
            skip.add("I11")  # nothing bounds how long an unpaid hosted order may wait
        if not (p.send_confirmation_email or p.clear_cart_on_payment):
            skip.add("I7")
        return tuple(i for i in INVARIANT_IDS if i not in skip)

    def invariants_to_check(self) -> tuple[str, ...]:
        if self.invariants.check is None:
            return self.applicable_invariants()
        return tuple(i for i in INVARIANT_IDS if i in self.invariants.check)

    def refunds_expected(self) -> bool:
        if self.invariants.refunds_expected is not None:
            return self.invariants.refunds_expected
        return self.profile.policies.stock_commit is StockCommitPoint.ON_PAYMENT

    def diagram_path(self) -> Path | None:
        if self.diagram is None:
            return None
        base = self._source.parent if self._source else Path.cwd()
        return (base / self.diagram.file).resolve()

    def load_diagram(self) -> SequenceDiagram | None:
        """The parsed seed diagram (``scenarios.diagrams``), or None without one."""
        path = self.diagram_path()
        if path is None:
            return None
        from scenarios.diagrams import parse_file

        return parse_file(path)

    def check_trace(
        self,
        trace: Iterable[TraceEvent],
        *,
        black_box: bool = False,
        correlation_id: str | None = None,
        complete: bool = True,
    ) -> TraceVerdict:
        """Does ``trace`` follow this scenario's seed diagram?

        A full trace (reference implementation, simulator) is checked against the whole
        diagram after ``diagram.actor_folds``. ``black_box`` checks a trace recorded at a
        SUT's boundary against the diagram projected onto ``diagram.observable``, with the
        shop folded into Storefront; a full trace can be checked that way too.
        """
        from scenarios.diagrams import TraceChecker

        ref = self.diagram
        diagram = self.load_diagram()
        if ref is None or diagram is None:
            raise ValueError(f"scenario {self.profile.name} has no diagram to check against")
        participant_map = ref.black_box_participant_map() if black_box else ref.participant_map
        checker = TraceChecker(
            diagram,
            observable=ref.observable if black_box else None,
            participant_map={k: str(v) for k, v in participant_map.items()},
            message_map=ref.message_map,
            late=[d.key for d in ref.deviations if d.late],
        )
        return checker.check(
            ref.fold(trace, black_box=black_box), correlation_id=correlation_id, complete=complete
        )

    def with_overrides(self, overrides: Mapping[str, Any]) -> Scenario:
        """A copy with dotted paths replaced, e.g. ``{"buyers.arrivals.rate": 2}`` (sweeps).

        The copy is validated again; strings are converted as the field's type requires.
        """
        data = self.model_dump(mode="python", exclude_unset=True)
        for dotted, value in overrides.items():
            _set_path(data, dotted, value)
        copy = type(self).model_validate(data)
        copy._source = self._source
        return copy


def _set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    node: Any = data
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def _dotted(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(top level)"


# --------------------------------------------------------------------------------------
# cross-field checks: each yields (path of the field at fault, what is wrong)


def _problems(s: Scenario) -> Iterator[tuple[Loc, str]]:
    yield from _profile_problems(s)
    yield from _catalog_problems(s)
    yield from _buyer_problems(s)
    yield from _fault_problems(s)
    yield from _run_problems(s)
    yield from _diagram_problems(s)
    yield from _invariant_problems(s)


def _profile_problems(s: Scenario) -> Iterator[tuple[Loc, str]]:
    p = s.profile.policies
    at: Loc = ("profile", "policies")
    if p.stock_commit is StockCommitPoint.RESERVE and p.reservation_ttl is None:
        yield (*at, "stock_commit"), "reserve needs reservation_ttl (seconds a reservation holds)"
    hosted = p.payment_mode is PaymentMode.HOSTED_CHECKOUT
    if hosted and p.webhook_dialect is None:
        yield (*at, "payment_mode"), "hosted_checkout needs webhook_dialect (generic or stripe)"
    if not hosted and p.webhook_dialect is not None:
        yield (*at, "webhook_dialect"), "synchronous payment has no webhooks; remove this key"
    if not hosted and s.profile.exposes.checkout_link == "fetched_later":
        yield (
            ("profile", "exposes", "checkout_link"),
            "fetched_later needs payment_mode hosted_checkout (there is no checkout link)",
        )


def _catalog_problems(s: Scenario) -> Iterator[tuple[Loc, str]]:
    c = s.catalog
    currency = s.profile.policies.currency
    for kind, items in (("locations", c.locations), ("products", c.products), ("users", c.users)):
        yield from _duplicates(("catalog", kind), [item.id for item in items], ("id",))
    seen: set[str] = set()
    for i, product in enumerate(c.products):
        if not s.profile.exposes.variants and len(product.variants) > 1:
            yield (
                ("catalog", "products", i, "variants"),
                f"{len(product.variants)} variants, but profile.exposes.variants is false",
            )
        for j, variant in enumerate(product.variants):
            at: Loc = ("catalog", "products", i, "variants", j)
            if variant.id in seen:
                yield (*at, "id"), f"variant id {variant.id!r} is used twice"
            seen.add(variant.id)
            if variant.currency is not None and variant.currency != currency:
                yield (
                    (*at, "currency"),
                    f"{variant.currency} differs from the profile currency {currency}",
                )
    if not s.profile.exposes.locations and len(c.locations) > 1:
        yield (
            ("catalog", "locations"),
            f"{len(c.locations)} locations, but profile.exposes.locations is false",
        )
    locations = {loc.id for loc in c.locations}
    pairs: set[tuple[str, str]] = set()
    for i, entry in enumerate(c.stock):
        at = ("catalog", "stock", i)
        if entry.variant not in seen:
            hint = did_you_mean(entry.variant, seen)
            yield (*at, "variant"), f"unknown variant {entry.variant!r}{hint}"
        if entry.location not in locations:
            hint = did_you_mean(entry.location, locations)
            yield (*at, "location"), f"unknown location {entry.location!r}{hint}"
        pair = (entry.variant, entry.location)
        if pair in pairs:
            yield at, f"a second stock entry for {entry.variant!r} at {entry.location!r}"
        pairs.add(pair)


def _buyer_problems(s: Scenario) -> Iterator[tuple[Loc, str]]:
    b = s.buyers
    duration = s.run.duration
    if b.arrivals.rate == 0 and not b.arrivals.bursts:
        yield ("buyers", "arrivals", "rate"), "no buyers ever arrive: give a rate > 0 or a burst"
    for i, burst in enumerate(b.arrivals.bursts):
        at: Loc = ("buyers", "arrivals", "bursts", i)
        if burst.at >= duration:
            yield (*at, "at"), f"starts at {burst.at} s, after the run ends ({duration} s)"
        elif burst.at + burst.over > duration:
            yield (
                (*at, "over"),
                f"ends at {burst.at + burst.over} s, after the run ends ({duration} s)",
            )
    steps = b.funnel.steps()
    for (before, p_before), (name, p) in itertools.pairwise(steps):
        if p > p_before:
            yield (
                ("buyers", "funnel", name),
                f"{p} of buyers reach {name} but only {p_before} reach {before} before it",
            )
    if b.abandonment.probability > 0 and b.abandonment.patience is None:
        yield ("buyers", "abandonment", "patience"), "a probability > 0 needs a patience"
    if b.inactive_share > 0 and not s.profile.policies.check_account:
        yield (
            ("buyers", "inactive_share"),
            "inactive accounts matter only with profile.policies.check_account (seed 000)",
        )
    n_variants = sum(1 for _ in s.catalog.variants())
    if b.lines.max > n_variants:
        yield (
            ("buyers", "lines", "max"),
            f"{b.lines.max} lines need as many variants; the catalog has {n_variants}",
        )
    if b.mix not in b.mixes:
        yield ("buyers", "mix"), f"unknown mix {b.mix!r}{did_you_mean(b.mix, b.mixes)}"
    for name, mix in b.mixes.items():
        if mix.browse + mix.order <= 0:
            yield ("buyers", "mixes", name), "weights must not all be zero"


def _fault_problems(s: Scenario) -> Iterator[tuple[Loc, str]]:
    g = s.faults.gateway
    if g.create_error_rate + g.create_timeout_rate > 1:
        yield (
            ("faults", "gateway", "create_timeout_rate"),
            "create_error_rate + create_timeout_rate exceed 1",
        )
    windows = sorted(enumerate(g.outages), key=lambda item: item[1].start)
    for (_, first), (i, second) in itertools.pairwise(windows):
        if second.start < first.end:
            yield ("faults", "gateway", "outages", i), "overlaps another outage window"
    for i, window in enumerate(g.outages):
        if window.start >= s.run.duration:
            yield (
                ("faults", "gateway", "outages", i, "start"),
                f"starts after the run ends ({s.run.duration} s)",
            )
    w = s.faults.webhook
    if w is None:
        return
    if s.profile.policies.payment_mode is PaymentMode.SYNCHRONOUS:
        yield ("faults", "webhook"), "synchronous payment has no webhooks; remove this section"
    if w.delay_rate > 0 and w.delay is None:
        yield ("faults", "webhook", "delay"), "a delay_rate > 0 needs a delay distribution"


def _run_problems(s: Scenario) -> Iterator[tuple[Loc, str]]:
    if s.run.warmup >= s.run.duration:
        yield ("run", "warmup"), f"must be shorter than the run ({s.run.duration} s)"


def _diagram_problems(s: Scenario) -> Iterator[tuple[Loc, str]]:
    d = s.diagram
    if d is None:
        return
    drawn = set(d.participant_map.values())
    for actor, into in d.actor_folds.items():
        if actor in drawn:
            yield (
                ("diagram", "actor_folds", str(actor)),
                f"{actor} is drawn by a participant already; only undrawn actors fold",
            )
        if into not in drawn:
            yield (
                ("diagram", "actor_folds", str(actor)),
                f"folds into {into}, which no participant of participant_map is",
            )
    for i, name in enumerate(d.observable or []):
        if name not in d.participant_map:
            hint = did_you_mean(name, d.participant_map)
            yield ("diagram", "observable", i), f"{name!r} is not in participant_map{hint}"


def _invariant_problems(s: Scenario) -> Iterator[tuple[Loc, str]]:
    inv = s.invariants
    applicable = set(s.applicable_invariants())
    for i, ident in enumerate(inv.check or []):
        if ident not in applicable:
            yield ("invariants", "check", i), f"{ident} does not apply to this profile"
    yield from _duplicates(("invariants", "check"), list(inv.check or []))
    on_payment = s.profile.policies.stock_commit is StockCommitPoint.ON_PAYMENT
    if inv.refunds_expected and not on_payment:
        yield (
            ("invariants", "refunds_expected"),
            "only stock_commit on_payment can sell stock it does not have",
        )


def _duplicates(at: Loc, values: list[str], field: Loc = ()) -> Iterator[tuple[Loc, str]]:
    """Report every repeat of a value at the repeat's own index."""
    seen: set[str] = set()
    for i, value in enumerate(values):
        if value in seen:
            yield (*at, i, *field), f"{value!r} is used twice"
        seen.add(value)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or nothing."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
