"""Per-record scores and the metrics aggregated from them (per field, per record, overall).

Every metric is a ratio of sums over records: each record contributes a numerator and a
denominator (a field score contributes ``(score, 1)``, the grounding rate ``(aligned
quotes, quotes)``). The overall value is ``sum(num) / sum(den)``, and the bootstrap
resamples records and recomputes that same ratio, so intervals and point estimates agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from .scorers import FIELDS, FieldScore, field_label

__all__ = [
    "DEFAULT_RESAMPLES",
    "DEFAULT_SEED",
    "METRICS",
    "Metric",
    "RecordScore",
    "aggregate",
    "field_summary",
    "metric_by_name",
    "request_counts",
]

DEFAULT_RESAMPLES = 2000
"""Bootstrap resamples for intervals and comparisons."""
DEFAULT_SEED = 20240611
"""Bootstrap seed: the same runs and seed give the same intervals."""


def request_counts(provenance: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """(model requests, re-asks) of one result's provenance (or an error line).

    Re-asks are the requests spent re-asking after an answer failed validation; the rest
    are the prompt's own (one per stage: the staged v2 sends five). Provenance that only
    gives ``attempts`` (runs stored before the two were counted apart) counted every
    request, so it gives the requests and leaves the re-asks unknown.
    """
    requests = provenance.get("requests", provenance.get("attempts"))
    reasks = provenance.get("reasks")
    return (
        None if requests is None else int(requests),
        None if reasks is None else int(reasks),
    )


@dataclass(slots=True, kw_only=True)
class RecordScore:
    """Scores and costs of one gold record in one run."""

    id: str
    ok: bool
    fields: dict[str, FieldScore] = field(default_factory=dict)
    error: str | None = None
    evidence_total: int = 0
    evidence_aligned: int = 0
    requests: int | None = None
    """Model requests made for the record, re-asks included (None: not known)."""
    reasks: int | None = None
    """Of those, re-asks after an answer failed validation (None: not known)."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    """Of ``prompt_tokens``, those the server answered from its prompt cache."""
    expected_cached_tokens: int | None = None
    """Of ``prompt_tokens``, those a prompt cache would answer if every request found its
    repeated prefix cached (the requests as built, re-asks not counted; None: not known)."""
    latency_s: float | None = None
    cost_usd: float | None = None
    """As billed: the cached tokens the server reported at the cached rate."""
    cost_uncached_usd: float | None = None
    """Every prompt token at the full input rate (no prompt caching)."""
    cost_cached_usd: float | None = None
    """With every repeated prefix answered from the cache (``expected_cached_tokens``,
    or the reported ones when more)."""
    cache_hit: bool = False

    @property
    def overall(self) -> float | None:
        values = [score.score for score in self.fields.values() if score.score is not None]
        return sum(values) / len(values) if values else None

    def to_dict(self) -> dict[str, Any]:
        overall = self.overall
        return {
            "id": self.id,
            "ok": self.ok,
            "error": self.error,
            "overall": None if overall is None else round(overall, 4),
            "evidence": {"aligned": self.evidence_aligned, "total": self.evidence_total},
            "requests": self.requests,
            "reasks": self.reasks,
            "tokens": {
                "prompt": self.prompt_tokens,
                "completion": self.completion_tokens,
                "cached": self.cached_tokens,
                "expected_cached": self.expected_cached_tokens,
            },
            "latency_s": None if self.latency_s is None else round(self.latency_s, 4),
            "cost_usd": None if self.cost_usd is None else round(self.cost_usd, 8),
            "cost_uncached_usd": _rounded(self.cost_uncached_usd),
            "cost_cached_usd": _rounded(self.cost_cached_usd),
            "cache_hit": self.cache_hit,
            "omitted": [name for name, score in self.fields.items() if score.omitted],
            "hallucinated": [name for name, score in self.fields.items() if score.hallucinated],
            "both_absent": [name for name, score in self.fields.items() if score.both_absent],
            "fields": {name: score.to_dict() for name, score in self.fields.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RecordScore:
        evidence = data.get("evidence") or {}
        tokens = data.get("tokens") or {}
        requests, reasks = request_counts(data)
        return cls(
            id=str(data["id"]),
            ok=bool(data["ok"]),
            error=data.get("error"),
            fields={
                name: FieldScore.from_dict(name, value)
                for name, value in (data.get("fields") or {}).items()
            },
            evidence_total=int(evidence.get("total", 0)),
            evidence_aligned=int(evidence.get("aligned", 0)),
            requests=requests,
            reasks=reasks,
            prompt_tokens=int(tokens.get("prompt", 0)),
            completion_tokens=int(tokens.get("completion", 0)),
            cached_tokens=int(tokens.get("cached") or 0),
            expected_cached_tokens=tokens.get("expected_cached"),
            latency_s=data.get("latency_s"),
            cost_usd=data.get("cost_usd"),
            cost_uncached_usd=data.get("cost_uncached_usd"),
            cost_cached_usd=data.get("cost_cached_usd"),
            cache_hit=bool(data.get("cache_hit", False)),
        )


Pair = tuple[float, float]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 8)


@dataclass(frozen=True, slots=True, kw_only=True)
class Metric:
    """A number per run: ``values`` gives a record's (numerator, denominator) or None."""

    name: str
    description: str
    values: Callable[[RecordScore], Pair | None]
    higher_is_better: bool = True
    quality: bool = True
    """Quality metrics gate regressions; resource metrics (tokens, latency, cost) do not."""
    judged: bool = True
    """Whether a significant change is called better or worse. Not for the number of
    requests: a staged prompt sends one per stage by design, which is no regression."""
    unit: str = "score"
    """score | rate | count | seconds | usd"""
    label: str | None = None
    """The clinical name of a field metric ("Patient age" for patient.age)."""


def _field(name: str) -> Callable[[RecordScore], Pair | None]:
    def values(record: RecordScore) -> Pair | None:
        score = record.fields.get(name)
        if score is None or score.score is None:
            return None
        return (score.score, 1.0)

    return values


def _overall(record: RecordScore) -> Pair | None:
    overall = record.overall
    return None if overall is None else (overall, 1.0)


def _omission(record: RecordScore) -> Pair | None:
    present = [
        score
        for score in record.fields.values()
        if score.gold_present is True and score.output_present is not None
    ]
    return (sum(score.omitted for score in present), len(present)) if present else None


def _hallucination(record: RecordScore) -> Pair | None:
    empty = [
        score
        for score in record.fields.values()
        if score.gold_present is False and score.output_present is not None
    ]
    return (sum(score.hallucinated for score in empty), len(empty)) if empty else None


def _grounding(record: RecordScore) -> Pair | None:
    return (
        (record.evidence_aligned, record.evidence_total)
        if record.ok and record.evidence_total
        else None
    )


def _optional(
    getter: Callable[[RecordScore], float | None],
) -> Callable[[RecordScore], Pair | None]:
    def values(record: RecordScore) -> Pair | None:
        value = getter(record)
        return None if value is None else (float(value), 1.0)

    return values


METRICS: tuple[Metric, ...] = (
    Metric(name="overall", description="mean field score per record", values=_overall),
    *(
        Metric(
            name=name,
            description=f"{field_label(name)} score (where gold or output has a value)",
            values=_field(name),
            label=field_label(name),
        )
        for name in FIELDS
    ),
    Metric(
        name="omission_rate",
        description="gold has a value, output does not",
        values=_omission,
        higher_is_better=False,
        unit="rate",
    ),
    Metric(
        name="hallucination_rate",
        description="output has a value where gold says none (of fields where gold says none)",
        values=_hallucination,
        higher_is_better=False,
        unit="rate",
    ),
    Metric(
        name="grounding_rate",
        description="evidence quotes aligned to the abstract",
        values=_grounding,
        unit="rate",
    ),
    Metric(
        name="validity_rate",
        description="records that validated",
        values=lambda r: (float(r.ok), 1.0),
        unit="rate",
    ),
    Metric(
        name="requests",
        description="model requests per valid record, re-asks included",
        values=_optional(lambda r: r.requests if r.ok else None),
        higher_is_better=False,
        quality=False,
        judged=False,
        unit="count",
    ),
    Metric(
        name="reasks",
        description="re-asks per valid record (an answer failed validation)",
        values=_optional(lambda r: r.reasks if r.ok else None),
        higher_is_better=False,
        quality=False,
        unit="count",
    ),
    Metric(
        name="tokens",
        description="prompt + completion tokens per record",
        values=lambda r: (float(r.prompt_tokens + r.completion_tokens), 1.0),
        higher_is_better=False,
        quality=False,
        unit="count",
    ),
    Metric(
        name="cached_tokens",
        description="prompt tokens per record the server answered from its prompt cache",
        values=lambda r: (float(r.cached_tokens), 1.0),
        quality=False,
        judged=False,
        unit="count",
    ),
    Metric(
        name="latency_s",
        description="seconds per record (cache hits are fast)",
        values=_optional(lambda r: r.latency_s),
        higher_is_better=False,
        quality=False,
        unit="seconds",
    ),
    Metric(
        name="cost_usd",
        description="dollars per record at the run's price, as billed (cached tokens at the cached rate)",
        values=_optional(lambda r: r.cost_usd),
        higher_is_better=False,
        quality=False,
        unit="usd",
    ),
    Metric(
        name="cost_uncached_usd",
        description="dollars per record with no prompt caching (every prompt token at the full rate)",
        values=_optional(lambda r: r.cost_uncached_usd),
        higher_is_better=False,
        quality=False,
        unit="usd",
    ),
    Metric(
        name="cost_cached_usd",
        description="dollars per record if every repeated prompt prefix is answered from the cache",
        values=_optional(lambda r: r.cost_cached_usd),
        higher_is_better=False,
        quality=False,
        unit="usd",
    ),
)


def metric_by_name(name: str) -> Metric:
    for metric in METRICS:
        if metric.name == name:
            return metric
    known = ", ".join(metric.name for metric in METRICS)
    raise ConfigError(f"unknown metric {name!r} (known: {known})")


def aggregate(records: Iterable[RecordScore], metric: Metric) -> tuple[float | None, int]:
    """(sum of numerators / sum of denominators, number of records contributing)."""
    numerator = denominator = 0.0
    count = 0
    for record in records:
        pair = metric.values(record)
        if pair is None or pair[1] <= 0:
            continue
        numerator += pair[0]
        denominator += pair[1]
        count += 1
    return (numerator / denominator if denominator else None), count


def field_summary(records: list[RecordScore], name: str) -> dict[str, Any]:
    """Mean score, precision, recall, omissions, hallucinations and both-absent counts of
    one field.

    ``n`` counts the records that scored the field; ``gold_empty`` counts those where gold
    says "not reported" (the output got it right in ``both_absent`` of them, and earned no
    field score for it).
    """
    scores = [record.fields[name] for record in records if name in record.fields]
    scored = [score for score in scores if score.score is not None]

    def mean(values: list[float]) -> float | None:
        return round(sum(values) / len(values), 4) if values else None

    precisions = [score.precision for score in scored if score.precision is not None]
    recalls = [score.recall for score in scored if score.recall is not None]
    gold_present = [
        score for score in scores if score.gold_present is True and score.output_present is not None
    ]
    gold_empty = [
        score
        for score in scores
        if score.gold_present is False and score.output_present is not None
    ]
    summary: dict[str, Any] = {
        "score": mean([score.score for score in scored if score.score is not None]),
        "n": len(scored),
        "omitted": sum(score.omitted for score in gold_present),
        "gold_present": len(gold_present),
        "hallucinated": sum(score.hallucinated for score in gold_empty),
        "both_absent": sum(score.both_absent for score in gold_empty),
        "gold_empty": len(gold_empty),
    }
    if precisions or recalls:
        summary["precision"] = mean(precisions)
        summary["recall"] = mean(recalls)
    return summary
