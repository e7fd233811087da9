"""Confidence intervals by bootstrap over records, and paired comparisons of two runs.

Records are the unit of resampling: a run's metric is a ratio of sums over records (see
``metrics``), so one resample draws record indices with replacement and recomputes that
ratio. A comparison pairs the two runs on the same records and resamples the pairs, so
per-record difficulty cancels out (a paired bootstrap). The generator is seeded: the same
inputs and seed give the same intervals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .metrics import DEFAULT_RESAMPLES, DEFAULT_SEED, METRICS, Metric, RecordScore, aggregate

__all__ = [
    "DEFAULT_RESAMPLES",
    "Comparison",
    "Interval",
    "MetricDiff",
    "RecordChange",
    "bootstrap_interval",
    "compare_records",
    "paired_bootstrap",
    "run_intervals",
]

CHANGE_EPSILON = 0.01
"""A field score moving less than this is not listed as a per-record change."""

Pair = tuple[float, float] | None
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Interval:
    estimate: float | None
    low: float | None
    high: float | None

    def to_dict(self) -> dict[str, float | None]:
        return {
            "estimate": _round(self.estimate),
            "low": _round(self.low),
            "high": _round(self.high),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _arrays(pairs: Sequence[Pair]) -> tuple[Floats, Floats]:
    numerators = np.array([pair[0] if pair else 0.0 for pair in pairs], dtype=np.float64)
    denominators = np.array([pair[1] if pair else 0.0 for pair in pairs], dtype=np.float64)
    return numerators, denominators


def _indices(n: int, resamples: int, seed: int) -> npt.NDArray[np.int64]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, n, size=(resamples, n), dtype=np.int64)


def _ratios(numerators: Floats, denominators: Floats, indices: npt.NDArray[np.int64]) -> Floats:
    sums = denominators[indices].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratios: Floats = np.where(
            sums > 0, numerators[indices].sum(axis=1) / np.where(sums > 0, sums, 1), np.nan
        )
    return ratios


def _point(numerators: Floats, denominators: Floats) -> float | None:
    total = float(denominators.sum())
    return float(numerators.sum()) / total if total > 0 else None


def _percentiles(values: Floats, confidence: float) -> tuple[float | None, float | None]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None, None
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_interval(
    pairs: Sequence[Pair],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = 0.95,
    indices: npt.NDArray[np.int64] | None = None,
) -> Interval:
    """Percentile bootstrap interval of sum(num)/sum(den) over records."""
    if not pairs:
        return Interval(None, None, None)
    numerators, denominators = _arrays(pairs)
    estimate = _point(numerators, denominators)
    if estimate is None:
        return Interval(None, None, None)
    drawn = indices if indices is not None else _indices(len(pairs), resamples, seed)
    low, high = _percentiles(_ratios(numerators, denominators, drawn), confidence)
    return Interval(estimate, low, high)


def paired_bootstrap(
    a: Sequence[Pair],
    b: Sequence[Pair],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = 0.95,
    indices: npt.NDArray[np.int64] | None = None,
) -> Interval:
    """Interval of (metric of b) − (metric of a) over the same records, resampled in pairs."""
    if len(a) != len(b):
        raise ValueError("paired bootstrap needs the same records on both sides")
    if not a:
        return Interval(None, None, None)
    num_a, den_a = _arrays(a)
    num_b, den_b = _arrays(b)
    point_a, point_b = _point(num_a, den_a), _point(num_b, den_b)
    if point_a is None or point_b is None:
        return Interval(None, None, None)
    drawn = indices if indices is not None else _indices(len(a), resamples, seed)
    differences = _ratios(num_b, den_b, drawn) - _ratios(num_a, den_a, drawn)
    low, high = _percentiles(differences, confidence)
    return Interval(point_b - point_a, low, high)


def run_intervals(
    records: Sequence[RecordScore], *, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED
) -> dict[str, dict[str, Any]]:
    """Every metric of one run with its bootstrap interval and record count."""
    indices = _indices(len(records), resamples, seed) if records else None
    summary: dict[str, dict[str, Any]] = {}
    for metric in METRICS:
        pairs = [metric.values(record) for record in records]
        interval = (
            bootstrap_interval(pairs, indices=indices) if records else Interval(None, None, None)
        )
        _, count = aggregate(records, metric)
        summary[metric.name] = {**interval.to_dict(), "n": count}
    return summary


@dataclass(frozen=True, slots=True)
class MetricDiff:
    metric: Metric
    a: float | None
    b: float | None
    difference: Interval
    n: int

    @property
    def significant(self) -> bool:
        low, high = self.difference.low, self.difference.high
        if low is None or high is None:
            return False
        return low > 0 or high < 0

    @property
    def verdict(self) -> str:
        """better | worse (significant, in the metric's direction) | "" (no clear change,
        or a metric whose changes are not judged, such as the number of requests)."""
        if not self.metric.judged or not self.significant or self.difference.estimate is None:
            return ""
        improved = (self.difference.estimate > 0) == self.metric.higher_is_better
        return "better" if improved else "worse"

    @property
    def regression(self) -> bool:
        return self.metric.quality and self.verdict == "worse"

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric.name,
            "a": _round(self.a),
            "b": _round(self.b),
            "difference": self.difference.to_dict(),
            "n": self.n,
            "significant": self.significant,
            "verdict": self.verdict,
            "quality": self.metric.quality,
        }


@dataclass(frozen=True, slots=True)
class RecordChange:
    id: str
    field: str
    a: float
    b: float
    reason_a: str
    reason_b: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "a": round(self.a, 4),
            "b": round(self.b, 4),
            "reason_a": self.reason_a,
            "reason_b": self.reason_b,
        }


@dataclass(slots=True)
class Comparison:
    """Run b against run a (the baseline) on the records both scored."""

    a: str
    b: str
    rows: list[MetricDiff]
    better: dict[str, list[RecordChange]] = field(default_factory=dict)
    worse: dict[str, list[RecordChange]] = field(default_factory=dict)
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)
    resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED
    records: int = 0

    @property
    def regressions(self) -> list[MetricDiff]:
        return [row for row in self.rows if row.regression]

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "resamples": self.resamples,
            "seed": self.seed,
            "records": self.records,
            "metrics": [row.to_dict() for row in self.rows],
            "better": {
                name: [c.to_dict() for c in changes] for name, changes in self.better.items()
            },
            "worse": {name: [c.to_dict() for c in changes] for name, changes in self.worse.items()},
            "only_a": self.only_a,
            "only_b": self.only_b,
            "regressions": [row.metric.name for row in self.regressions],
        }


def compare_records(
    a: Sequence[RecordScore],
    b: Sequence[RecordScore],
    *,
    name_a: str = "a",
    name_b: str = "b",
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Comparison:
    """Paired bootstrap of every metric, b − a, and per-field record changes."""
    by_id_a = {record.id: record for record in a}
    by_id_b = {record.id: record for record in b}
    common = [record.id for record in a if record.id in by_id_b]
    paired_a = [by_id_a[ident] for ident in common]
    paired_b = [by_id_b[ident] for ident in common]
    indices = _indices(len(common), resamples, seed) if common else None
    rows = []
    for metric in METRICS:
        pairs_a = [metric.values(record) for record in paired_a]
        pairs_b = [metric.values(record) for record in paired_b]
        difference = (
            paired_bootstrap(pairs_a, pairs_b, indices=indices)
            if common
            else Interval(None, None, None)
        )
        value_a, count_a = aggregate(paired_a, metric)
        value_b, count_b = aggregate(paired_b, metric)
        rows.append(MetricDiff(metric, value_a, value_b, difference, min(count_a, count_b)))
    comparison = Comparison(
        a=name_a,
        b=name_b,
        rows=rows,
        only_a=[ident for ident in by_id_a if ident not in by_id_b],
        only_b=[ident for ident in by_id_b if ident not in by_id_a],
        resamples=resamples,
        seed=seed,
        records=len(common),
    )
    for record_a, record_b in zip(paired_a, paired_b, strict=True):
        for name, score_a in record_a.fields.items():
            score_b = record_b.fields.get(name)
            if score_b is None or score_a.score is None or score_b.score is None:
                continue
            delta = score_b.score - score_a.score
            if abs(delta) < CHANGE_EPSILON:
                continue
            change = RecordChange(
                record_a.id, name, score_a.score, score_b.score, score_a.reason, score_b.reason
            )
            (comparison.better if delta > 0 else comparison.worse).setdefault(name, []).append(
                change
            )
    for changes in (*comparison.better.values(), *comparison.worse.values()):
        changes.sort(key=lambda change: -abs(change.b - change.a))
    return comparison
