"""One seeded random stream per purpose (``numpy.random.SeedSequence.spawn``).

Replication ``r`` of seed ``s`` owns ``SeedSequence(s).spawn(R)[r]``, and each purpose below
owns one child of that. Because every purpose draws from its own stream, changing how often
one purpose draws (a policy that sends more webhooks) does not shift another purpose's
numbers: the same buyers arrive at the same times wanting the same things under every
policy. That is what makes policy comparisons use common random numbers.

``PURPOSES`` only ever grows at its end, so that existing streams keep their numbers.

Drawing one number at a time from a ``numpy.random.Generator`` costs about a microsecond;
``BufferedRandom`` draws blocks and hands them out one by one, and implements the
``RandomSource`` protocol the scenario's distributions sample from, so that
``distribution.sample(rng)`` stays the one definition of each distribution. (The simulator
draws through ``distribution.sampler(rng)``, the same draw bound once to its stream.)
"""

from __future__ import annotations

import math

import numpy as np

PURPOSES: tuple[str, ...] = (
    "arrivals",  # Poisson inter-arrival times
    "bursts",  # arrival times inside flash-sale bursts
    "buyers",  # each buyer's intentions: funnel depth, basket, patience, payment outcome
    "think",  # think times between a buyer's steps
    "accounts",  # which generated accounts are inactive
    "gateway",  # create-session errors and timeouts
    "webhooks",  # webhook delay, duplicates, reordering, stale and forged signatures
    "latency.catalog",
    "latency.cart",
    "latency.orders",
    "latency.inventory",
    "latency.accounts",
    "latency.payments",
    "latency.gateway",
    "latency.webhook",
    "latency.database",
    "latency.mail",
    "patience",
)

_BLOCK = 1024


def replication_seeds(seed: int, replications: int) -> list[np.random.SeedSequence]:
    """The independent seed sequence of each replication."""
    return list(np.random.SeedSequence(seed).spawn(replications))


class BufferedRandom:
    """A ``RandomSource`` that hands out numbers drawn from its generator in blocks."""

    __slots__ = ("_exp", "_gen", "_i_exp", "_i_norm", "_i_uni", "_norm", "_uni")

    def __init__(self, generator: np.random.Generator) -> None:
        self._gen = generator
        self._uni: list[float] = []
        self._exp: list[float] = []
        self._norm: list[float] = []
        self._i_uni = self._i_exp = self._i_norm = 0

    @property
    def generator(self) -> np.random.Generator:
        return self._gen

    def random(self) -> float:
        """A uniform number in [0, 1)."""
        i = self._i_uni
        if i >= len(self._uni):
            self._uni = self._gen.random(_BLOCK).tolist()
            i = 0
        self._i_uni = i + 1
        return self._uni[i]

    def take(self, n: int) -> list[float]:
        """The next ``n`` uniform numbers at once (a buyer's fixed set of intentions)."""
        i, buffer = self._i_uni, self._uni
        if i + n > len(buffer):
            self._uni = buffer = buffer[i:] + self._gen.random(max(_BLOCK, n)).tolist()
            i = 0
        self._i_uni = i + n
        return buffer[i : i + n]

    def standard_exponential(self) -> float:
        i = self._i_exp
        if i >= len(self._exp):
            self._exp = self._gen.standard_exponential(_BLOCK).tolist()
            i = 0
        self._i_exp = i + 1
        return self._exp[i]

    def standard_normal(self) -> float:
        i = self._i_norm
        if i >= len(self._norm):
            self._norm = self._gen.standard_normal(_BLOCK).tolist()
            i = 0
        self._i_norm = i + 1
        return self._norm[i]

    # -- the RandomSource protocol of scenarios.schema --------------------------------------
    # (each inlines its buffer's refill: these run for every latency sampled)

    def exponential(self, scale: float) -> float:
        i = self._i_exp
        if i >= len(self._exp):
            self._exp = self._gen.standard_exponential(_BLOCK).tolist()
            i = 0
        self._i_exp = i + 1
        return scale * self._exp[i]

    def uniform(self, low: float, high: float) -> float:
        return low + (high - low) * self.random()

    def lognormal(self, mean: float, sigma: float) -> float:
        i = self._i_norm
        if i >= len(self._norm):
            self._norm = self._gen.standard_normal(_BLOCK).tolist()
            i = 0
        self._i_norm = i + 1
        return math.exp(mean + sigma * self._norm[i])

    def normal(self, loc: float, scale: float) -> float:
        return loc + scale * self.standard_normal()

    def integer(self, low: int, high: int) -> int:
        """A whole number drawn uniformly from [low, high]."""
        return low + int(self.random() * (high - low + 1))


class RandomStreams:
    """The streams of one replication, by purpose name."""

    def __init__(self, sequence: np.random.SeedSequence) -> None:
        # Children built by spawn key rather than ``sequence.spawn``, which counts the
        # children it made: built twice from one sequence, the streams are the same.
        key = tuple(sequence.spawn_key)
        self._streams = {
            purpose: BufferedRandom(
                np.random.Generator(
                    np.random.PCG64(
                        np.random.SeedSequence(sequence.entropy, spawn_key=(*key, index))
                    )
                )
            )
            for index, purpose in enumerate(PURPOSES)
        }

    @classmethod
    def for_replication(cls, seed: int, replication: int) -> RandomStreams:
        return cls(replication_seeds(seed, replication + 1)[replication])

    def __getitem__(self, purpose: str) -> BufferedRandom:
        return self._streams[purpose]
