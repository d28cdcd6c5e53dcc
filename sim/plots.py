"""PNG plots of an experiment (matplotlib, Agg backend: no display needed).

* ``confirmation_cdf.png``: the distribution of time to confirmation at each point, all
  replications pooled;
* with a numeric sweep axis (an arrival rate, a TTL): ``<metric>_vs_<axis>.png`` for the
  key metrics, one line per value of the other axes (per policy, with ``--compare``), with
  95% confidence intervals as error bars;
* with several points and no numeric axis: ``points.png``, the key metrics per point;
* with ``--warmup-check``: ``warmup_check.png``, Welch's plot of the watched series;
* with ``--effects``: ``effects_<metric>.png``, each effect with its 95% interval, the
  largest on top.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported: files only, no display
import matplotlib.pyplot as plt
import numpy as np

from sim.experiment import ExperimentResult
from sim.metrics import BY_NAME
from sim.warmup import LABELS, SERIES

TREND_METRICS = ("oversold_units", "lost_sales", "conversion", "confirmation_p95")
MAX_CDF_LINES = 12


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _axis_title(metric: str) -> str:
    info = BY_NAME[metric]
    unit = {"ratio": "share", "": "count"}.get(info.unit, info.unit)
    return f"{info.label} ({unit})"


def write_plots(result: ExperimentResult, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = [_confirmation_cdf(result, out)]
    axes = result.all_axes
    numeric = next((i for i, a in enumerate(axes) if all(map(_is_number, a.values))), None)
    if numeric is not None:
        written += [_trend(result, out, numeric, metric) for metric in TREND_METRICS]
    elif len(result.points) > 1:
        written.append(_bars(result, out))
    if result.warmup_checks:
        written.append(_warmup(result, out))
    written += [_effects(result, out, metric) for metric in result.effects]
    return written


def _effects(result: ExperimentResult, out: Path, metric: str) -> Path:
    found = result.effects[metric][::-1]  # barh draws bottom-up: the largest on top
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.45 * len(found)))
    means = [0.0 if math.isnan(e.estimate.mean) else e.estimate.mean for e in found]
    errors = [0.0 if math.isnan(e.estimate.half_width) else e.estimate.half_width
              for e in found]
    colours = ["tab:red" if e.significant else "tab:gray" for e in found]
    ax.barh(range(len(found)), means, xerr=errors, capsize=4, color=colours, alpha=0.85)
    ax.set_yticks(range(len(found)), [e.label for e in found], fontsize=8)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(f"effect on {_axis_title(metric)}")
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_title(f"{result.scenario.profile.name}: effects and 95% CI "
                 f"({result.replications} replications; red: the interval excludes 0)",
                 fontsize=9)
    path = out / f"effects_{metric}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _warmup(result: ExperimentResult, out: Path) -> Path:
    """Welch's plot: each watched series, averaged over the replications, with the
    configured warm-up and MSER-5's cut."""
    checks = result.warmup_checks[:MAX_CDF_LINES]
    fig, axes = plt.subplots(len(SERIES), 1, figsize=(9, 3.2 * len(SERIES)), sharex=True,
                             squeeze=False)
    for row, name in enumerate(SERIES):
        ax = axes[row][0]
        for check in checks:
            series = next(s for s in check.series if s.name == name)
            times = (np.arange(len(series.mean)) + 0.5) * check.step
            label = result.points[check.point].label
            (line,) = ax.plot(times, series.mean, linewidth=1, label=label)
            if series.cut is not None:
                ax.axvline(series.cut, color=line.get_color(), linestyle="--", linewidth=1)
            ax.axvline(check.configured, color=line.get_color(), linestyle=":", linewidth=1.2)
        ax.set_ylabel(LABELS[name])
        ax.grid(alpha=0.3)
    axes[0][0].set_title(f"{result.scenario.profile.name}: warm-up check (mean of "
                         f"{checks[0].replications} replications; dashed: MSER-5's cut, dotted: "
                         "run.warmup)")
    axes[0][0].legend(fontsize="small")
    axes[-1][0].set_xlabel("simulated time (s)")
    fig.tight_layout()
    path = out / "warmup_check.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _confirmation_cdf(result: ExperimentResult, out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(8, 5))
    drawn = 0
    for point in result.points[:MAX_CDF_LINES]:
        times = np.sort(np.concatenate(
            [np.asarray(run.confirmation_times, dtype=float) for run in result.runs[point.index]]
            or [np.empty(0)]
        ))
        if times.size == 0:
            continue
        share = np.arange(1, times.size + 1) / times.size
        ax.step(times, share, where="post", label=f"{point.label} (n={times.size})")
        drawn += 1
    ax.set_xlabel("time to confirmation: checkout to paid (s)")
    ax.set_ylabel("share of paid orders")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{result.scenario.profile.name}: time to confirmation")
    if drawn:
        ax.set_xscale("log")
        ax.legend(fontsize=8, loc="upper left")  # the curves rise from the lower left
    else:
        ax.text(0.5, 0.5, "no paid orders", ha="center", va="center", transform=ax.transAxes)
    ax.grid(True, which="both", alpha=0.3)
    path = out / "confirmation_cdf.png"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _trend(result: ExperimentResult, out: Path, numeric: int, metric: str) -> Path:
    axis_name = result.points[0].settings[numeric][0]
    groups: dict[tuple[tuple[str, object], ...], list[int]] = {}
    for point in result.points:
        others = tuple(s for i, s in enumerate(point.settings) if i != numeric)
        groups.setdefault(others, []).append(point.index)
    fig, ax = plt.subplots(figsize=(8, 5))
    markers = itertools.cycle("osD^v<>")
    for others, indices in groups.items():
        xs = [float(result.points[i].settings[numeric][1]) for i in indices]
        estimates = [result.summaries[i][metric] for i in indices]
        ys = [e.mean for e in estimates]
        errors = [0.0 if math.isnan(e.half_width) else e.half_width for e in estimates]
        label = ", ".join(f"{k}={v}" for k, v in others) or result.scenario.profile.name
        ax.errorbar(xs, ys, yerr=errors, marker=next(markers), capsize=4, label=label)
    ax.set_xlabel(axis_name)
    ax.set_ylabel(_axis_title(metric))
    ax.set_title(f"{BY_NAME[metric].label} against {axis_name} (95% CI, "
                 f"{result.replications} replications)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    path = out / f"{metric}_vs_{axis_name.replace('.', '_')}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _bars(result: ExperimentResult, out: Path) -> Path:
    fig, axes = plt.subplots(1, len(TREND_METRICS), figsize=(4 * len(TREND_METRICS), 5))
    labels = [p.label for p in result.points]
    for ax, metric in zip(axes, TREND_METRICS, strict=True):
        estimates = [result.summaries[p.index][metric] for p in result.points]
        ys = [0.0 if math.isnan(e.mean) else e.mean for e in estimates]
        errors = [0.0 if math.isnan(e.half_width) else e.half_width for e in estimates]
        ax.bar(range(len(ys)), ys, yerr=errors, capsize=4, color="tab:blue", alpha=0.8)
        ax.set_xticks(range(len(ys)), labels, rotation=30, ha="right", fontsize=8)
        ax.set_title(_axis_title(metric), fontsize=10)
        ax.set_ylim(bottom=0, top=None if max(ys, default=0) > 0 else 1)
        ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle(f"{result.scenario.profile.name}: mean and 95% CI per point "
                 f"({result.replications} replications)")
    path = out / "points.png"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
