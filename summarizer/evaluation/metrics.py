"""Per-record scores and the metrics aggregated from them (per field, per record, overall).

Every metric is a ratio of sums over records: each record contributes a numerator and a
denominator (a field score contributes ``(score, 1)``, the grounding rate ``(aligned
quotes, quotes)``). The overall value is ``sum(num) / sum(den)``, and the bootstrap
resamples records and recomputes that same ratio, so intervals and point estimates agree.
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .scorers import FIELDS, FieldScore

__all__ = [
    "DEFAULT_RESAMPLES",
    "DEFAULT_SEED",
    "METRICS",
    "Metric",
    "PriceTable",
    "RecordScore",
    "aggregate",
    "field_summary",
    "metric_by_name",
]

DEFAULT_RESAMPLES = 2000
"""Bootstrap resamples for intervals and comparisons."""
DEFAULT_SEED = 20240611
"""Bootstrap seed: the same runs and seed give the same intervals."""


@dataclass(slots=True)
class RecordScore:
    """Scores and costs of one gold record in one run."""

    id: str
    ok: bool
    fields: dict[str, FieldScore] = field(default_factory=dict)
    error: str | None = None
    evidence_total: int = 0
    evidence_aligned: int = 0
    attempts: int | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float | None = None
    cost_usd: float | None = None
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
            "attempts": self.attempts,
            "tokens": {"prompt": self.prompt_tokens, "completion": self.completion_tokens},
            "latency_s": None if self.latency_s is None else round(self.latency_s, 4),
            "cost_usd": None if self.cost_usd is None else round(self.cost_usd, 8),
            "cache_hit": self.cache_hit,
            "omitted": [name for name, score in self.fields.items() if score.omitted],
            "hallucinated": [name for name, score in self.fields.items() if score.hallucinated],
            "fields": {name: score.to_dict() for name, score in self.fields.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RecordScore:
        evidence = data.get("evidence") or {}
        tokens = data.get("tokens") or {}
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
            attempts=data.get("attempts"),
            prompt_tokens=int(tokens.get("prompt", 0)),
            completion_tokens=int(tokens.get("completion", 0)),
            latency_s=data.get("latency_s"),
            cost_usd=data.get("cost_usd"),
            cache_hit=bool(data.get("cache_hit", False)),
        )


Pair = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Metric:
    """A number per run: ``values`` gives a record's (numerator, denominator) or None."""

    name: str
    description: str
    values: Callable[[RecordScore], Pair | None]
    higher_is_better: bool = True
    quality: bool = True
    """Quality metrics gate regressions; resource metrics (tokens, latency, cost) do not."""
    unit: str = "score"
    """score | rate | count | seconds | usd"""


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
    Metric("overall", "mean field score per record", _overall),
    *(Metric(name, f"{name} score", _field(name)) for name in FIELDS),
    Metric("omission_rate", "gold has a value, output does not", _omission, False, unit="rate"),
    Metric(
        "hallucination_rate",
        "output has a value, gold says none",
        _hallucination,
        False,
        unit="rate",
    ),
    Metric("grounding_rate", "evidence quotes aligned to the abstract", _grounding, unit="rate"),
    Metric("validity_rate", "records that validated", lambda r: (float(r.ok), 1.0), unit="rate"),
    Metric(
        "attempts",
        "model attempts per valid record",
        _optional(lambda r: r.attempts if r.ok else None),
        False,
        False,
        "count",
    ),
    Metric(
        "tokens",
        "prompt + completion tokens per record",
        lambda r: (float(r.prompt_tokens + r.completion_tokens), 1.0),
        False,
        False,
        "count",
    ),
    Metric(
        "latency_s",
        "seconds per record (cache hits are fast)",
        _optional(lambda r: r.latency_s),
        False,
        False,
        "seconds",
    ),
    Metric(
        "cost_usd",
        "dollars per record at list price",
        _optional(lambda r: r.cost_usd),
        False,
        False,
        "usd",
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
    """Mean score, precision, recall, omissions and hallucinations of one field."""
    scores = [record.fields[name] for record in records if name in record.fields]
    scored = [score for score in scores if score.score is not None]

    def mean(values: list[float]) -> float | None:
        return round(sum(values) / len(values), 4) if values else None

    precisions = [score.precision for score in scored if score.precision is not None]
    recalls = [score.recall for score in scored if score.recall is not None]
    gold_present = [
        score for score in scored if score.gold_present is True and score.output_present is not None
    ]
    gold_empty = [
        score
        for score in scored
        if score.gold_present is False and score.output_present is not None
    ]
    summary: dict[str, Any] = {
        "score": mean([score.score for score in scored if score.score is not None]),
        "n": len(scored),
        "omitted": sum(score.omitted for score in gold_present),
        "gold_present": len(gold_present),
        "hallucinated": sum(score.hallucinated for score in gold_empty),
        "gold_empty": len(gold_empty),
    }
    if precisions or recalls:
        summary["precision"] = mean(precisions)
        summary["recall"] = mean(recalls)
    return summary


# -- prices ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Price:
    input: float
    """Dollars per 1M prompt tokens."""
    output: float
    """Dollars per 1M completion tokens."""

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1_000_000


@dataclass(frozen=True, slots=True)
class PriceTable:
    """$/1M tokens per model (names or glob patterns) and per backend."""

    models: dict[str, Price]
    backends: dict[str, Price]
    source: str = "built-in"

    @classmethod
    def load(cls, path: Path | None = None) -> PriceTable:
        """The built-in table, with ``path``'s entries (same TOML or JSON format) on top."""
        text = (resources.files("summarizer.evaluation") / "prices.toml").read_text(
            encoding="utf-8"
        )
        table = cls._parse(tomllib.loads(text), "built-in")
        if path is None:
            return table
        try:
            raw = path.read_text(encoding="utf-8")
            if path.suffix.lower() == ".json":
                import json

                data = json.loads(raw)
            else:
                data = tomllib.loads(raw)
        except (OSError, ValueError) as error:
            raise ConfigError(f"cannot read price table {path}: {error}") from error
        extra = cls._parse(data, str(path))
        return PriceTable(
            models={**table.models, **extra.models},
            backends={**table.backends, **extra.backends},
            source=f"built-in + {path}",
        )

    @staticmethod
    def _parse(data: Mapping[str, Any], source: str) -> PriceTable:
        def prices(section: str) -> dict[str, Price]:
            entries = data.get(section, {})
            if not isinstance(entries, Mapping):
                raise ConfigError(f"{source}: [{section}] must be a table")
            parsed = {}
            for name, value in entries.items():
                try:
                    parsed[str(name)] = Price(
                        input=float(value["input"]), output=float(value["output"])
                    )
                except (KeyError, TypeError, ValueError):
                    raise ConfigError(
                        f"{source}: {section}.{name} needs numeric 'input' and 'output' ($ per 1M tokens)"
                    ) from None
            return parsed

        return PriceTable(models=prices("models"), backends=prices("backends"), source=source)

    def price(self, backend: str, model: str | None) -> Price | None:
        """The price of a model (exact name, else the longest matching pattern), else the backend's."""
        if model:
            if model in self.models:
                return self.models[model]
            matches = [pattern for pattern in self.models if fnmatch.fnmatchcase(model, pattern)]
            if matches:
                return self.models[max(matches, key=len)]
        return self.backends.get(backend)

    def to_dict(self, backend: str, model: str | None) -> dict[str, Any]:
        price = self.price(backend, model)
        return {
            "source": self.source,
            "input_per_1m": None if price is None else price.input,
            "output_per_1m": None if price is None else price.output,
        }
