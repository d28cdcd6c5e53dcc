"""Input modelling: which of the scenario's distributions fits measured durations, with what
parameters (``purchaseflow scenario fit``).

A simulation is only as good as its inputs. An architect with measured latencies (a
service's log, or a load run's response times) fits each of the scenario format's
distributions by maximum likelihood, ranks them by AIC (Akaike's information criterion:
the likelihood, penalised by the parameters), and reads the Kolmogorov-Smirnov distance
and the percentiles, observed against fitted, to see where a fit fails (Law and Kelton,
*Simulation Modeling and Analysis*, chapter 6). The best fit is printed in the scenario's
own syntax, in seconds, to paste into ``latency:`` or ``think_time:``.

Samples are weighted values, so that a load run's histograms (``latency.json``, whole
milliseconds below 100 ms as Locust rounds them) are fitted without expanding them.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

MIN_VALUES = 10
#: A load run's 0 ms means under half a millisecond: taken as a quarter of one, so that a
#: log-normal can be fitted (it has no zero).
ZERO_MS = 0.25
_STANDARD = NormalDist()


class FitError(Exception):
    """Data that cannot be fitted, or cannot be read: one line, naming the file."""


@dataclass(frozen=True)
class Samples:
    values: tuple[float, ...]  # seconds
    weights: tuple[float, ...]
    source: str
    notes: tuple[str, ...] = ()

    @property
    def n(self) -> float:
        return math.fsum(self.weights)

    def quantile(self, q: float) -> float:
        """The smallest value whose weighted share at or below it reaches ``q``."""
        pairs = sorted(zip(self.values, self.weights, strict=True))
        target, seen = q * self.n, 0.0
        for value, weight in pairs:
            seen += weight
            if seen >= target:
                return value
        return pairs[-1][0]


@dataclass(frozen=True)
class Fit:
    dist: str
    params: dict[str, float]  # the scenario's own parameter names, in seconds
    log_likelihood: float
    k: int  # parameters
    ks: float  # the Kolmogorov-Smirnov distance to the data
    cdf: Callable[[float], float]
    quantile: Callable[[float], float]

    @property
    def aic(self) -> float:
        return 2 * self.k - 2 * self.log_likelihood

    def yaml(self) -> str:
        inner = ", ".join(f"{name}: {_round(value)}" for name, value in self.params.items())
        return f"{{dist: {self.dist}, {inner}}}"


def _round(value: float) -> str:
    return f"{value:.4g}"


def _ks(samples: Samples, cdf: Callable[[float], float]) -> float:
    """The largest gap between the weighted empirical distribution and ``cdf``, on both
    sides of every step (ties are one step)."""
    totals: dict[float, float] = {}
    for value, weight in zip(samples.values, samples.weights, strict=True):
        totals[value] = totals.get(value, 0.0) + weight
    n, below, worst = samples.n, 0.0, 0.0
    for value in sorted(totals):
        fitted = cdf(value)
        at = below + totals[value]
        worst = max(worst, abs(below / n - fitted), abs(at / n - fitted))
        below = at
    return worst


def fit_all(samples: Samples) -> list[Fit]:
    """Every distribution that can describe the data, best (lowest AIC) first."""
    xs, ws, n = samples.values, samples.weights, samples.n
    if n < MIN_VALUES:
        raise FitError(f"{samples.source}: {n:g} values; at least {MIN_VALUES} are needed "
                       "to fit a distribution")
    if min(xs) == max(xs):
        raise FitError(f"{samples.source}: every value is {xs[0]:g} s: use "
                       f"{{dist: fixed, value: {_round(xs[0])}}}")
    mean = math.fsum(w * x for x, w in zip(xs, ws, strict=True)) / n
    var = math.fsum(w * (x - mean) ** 2 for x, w in zip(xs, ws, strict=True)) / n
    fits: list[Fit] = []

    def add(dist: str, params: dict[str, float], log_likelihood: float, k: int,
            cdf: Callable[[float], float], quantile: Callable[[float], float]) -> None:
        fits.append(Fit(dist, params, log_likelihood, k, _ks(samples, cdf), cdf, quantile))

    if mean > 0:
        add("exponential", {"mean": mean}, -n * math.log(mean) - n, 1,
            lambda x: 1 - math.exp(-max(x, 0.0) / mean),
            lambda q: -mean * math.log(1 - q))
    if min(xs) > 0:
        logs = [math.log(x) for x in xs]
        mu = math.fsum(w * lx for lx, w in zip(logs, ws, strict=True)) / n
        s2 = math.fsum(w * (lx - mu) ** 2 for lx, w in zip(logs, ws, strict=True)) / n
        if s2 > 0:
            sigma = math.sqrt(s2)
            sum_logs = math.fsum(w * lx for lx, w in zip(logs, ws, strict=True))
            add("lognormal", {"median": math.exp(mu), "sigma": sigma},
                -sum_logs - n * math.log(sigma) - n / 2 * math.log(2 * math.pi) - n / 2, 2,
                lambda x: _STANDARD.cdf((math.log(x) - mu) / sigma) if x > 0 else 0.0,
                lambda q: math.exp(mu + sigma * _STANDARD.inv_cdf(q)))
    sd = math.sqrt(var)
    add("normal", {"mean": mean, "stddev": sd},
        -n * math.log(sd) - n / 2 * math.log(2 * math.pi) - n / 2, 2,
        NormalDist(mean, sd).cdf, lambda q: mean + sd * _STANDARD.inv_cdf(q))
    low, high = min(xs), max(xs)
    add("uniform", {"low": low, "high": high}, -n * math.log(high - low), 2,
        lambda x: min(1.0, max(0.0, (x - low) / (high - low))),
        lambda q: low + q * (high - low))
    return sorted(fits, key=lambda f: f.aic)


# -- reading --------------------------------------------------------------------------------


def read_samples(source: Path, *, step: str | None = None, column: str | None = None,
                 unit: str = "s") -> Samples:
    """Durations from a load run's ``--out`` folder (``latency.json``, one ``step``), a CSV
    file (``column``), or a file of one number a line (``unit``: ``s`` or ``ms``)."""
    if source.is_dir():
        return _from_load_run(source, step)
    if step is not None:
        raise FitError(f"--step goes with a load run's folder; {source} is a file")
    scale = {"s": 1.0, "ms": 0.001}[unit]
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FitError(f"cannot read {source}: {exc}") from None
    values = _csv_column(source, text, column) if column else _lines(source, text)
    if not values:
        raise FitError(f"{source}: no values")
    return Samples(tuple(v * scale for v in values), (1.0,) * len(values), str(source))


def _number(where: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise FitError(f"{where}: not a number: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise FitError(f"{where}: a duration is a finite number of 0 or more, not {text!r}")
    return value


def _lines(source: Path, text: str) -> list[float]:
    values = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            values.append(_number(f"{source}:{number}", stripped))
    return values


def _csv_column(source: Path, text: str, column: str) -> list[float]:
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is None or column not in reader.fieldnames:
        raise FitError(f"{source}: no column {column!r} (it has "
                       f"{', '.join(reader.fieldnames or []) or 'no header'})")
    values = []
    for row in reader:
        cell = (row.get(column) or "").strip()
        if cell:
            values.append(_number(f"{source}:{reader.line_num}: {column}", cell))
    return values


def _from_load_run(folder: Path, step: str | None) -> Samples:
    path = folder / "latency.json"
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        steps: dict[str, dict[str, dict[str, int]]] = data["steps"]
    except (OSError, ValueError, KeyError) as exc:
        raise FitError(f"{path}: not a load run's response times ({type(exc).__name__})") \
            from None
    if step is None or step not in steps:
        asked = "--step is needed" if step is None else f"no step {step!r}"
        raise FitError(f"{path}: {asked} (one of {', '.join(sorted(steps)) or 'none'})")
    histogram: dict[int, int] = {}
    for window in steps[step].values():
        for ms, count in window.items():
            histogram[int(ms)] = histogram.get(int(ms), 0) + int(count)
    notes = []
    if histogram.get(0):
        notes.append(f"{histogram[0]} responses under 0.5 ms taken as {ZERO_MS} ms")
    values = tuple((ms if ms else ZERO_MS) / 1000 for ms in histogram)
    return Samples(values, tuple(float(c) for c in histogram.values()),
                   f"{path} ({step})", tuple(notes))


def describe(samples: Samples, fits: Sequence[Fit],
             quantiles: Sequence[float] = (0.5, 0.9, 0.99)) -> dict[str, Any]:
    """The fits as ``--json`` prints them."""
    return {
        "source": samples.source, "values": samples.n, "notes": list(samples.notes),
        "observed": {f"p{100 * q:g}": samples.quantile(q) for q in quantiles},
        "fits": [
            {"dist": f.dist, "params": f.params, "aic": f.aic, "ks": f.ks,
             "yaml": f.yaml(), "fitted": {f"p{100 * q:g}": f.quantile(q) for q in quantiles}}
            for f in fits
        ],
        "best": fits[0].yaml() if fits else None,
    }
