"""What a review says about the model: per-field accuracy on your own abstracts.

Every field a reviewer accepts, corrects or rejects is a label: *accepted* means the
model's value was right. For each field, ``review_stats`` counts the records reviewed,
accepted, corrected and rejected, and gives the model's accuracy (accepted ÷ reviewed)
with a Wilson 95 % interval, grouped by how the records were made (backend, model,
prompt version), so two models or two prompts run on the same abstracts and reviewed
can be told apart by their intervals. It also gives each reviewer's pace: records
marked done per hour of active reviewing (gaps over ten minutes between two changes
are breaks, not reviewing; under a minute of reviewing gives no rate).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .fields import FIELD_NAMES
from .review_store import ReviewStore
from .session import ReviewSession

__all__ = ["FieldStats", "GroupStats", "Pace", "ReviewStats", "review_stats", "wilson"]

Z_95 = 1.959964
IDLE_SECONDS = 600.0
MIN_ACTIVE_SECONDS = 60.0
ALL_FIELDS = "all fields"


def wilson(successes: int, total: int, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (None when ``total`` is 0)."""
    if total <= 0:
        return None
    p = successes / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(slots=True)
class FieldStats:
    """One field's review counts within a group."""

    field: str
    accepted: int = 0
    corrected: int = 0
    rejected: int = 0

    @property
    def reviewed(self) -> int:
        return self.accepted + self.corrected + self.rejected

    @property
    def accuracy(self) -> float | None:
        return self.accepted / self.reviewed if self.reviewed else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson(self.accepted, self.reviewed)

    def add(self, status: str) -> None:
        if status in ("accepted", "corrected", "rejected"):
            setattr(self, status, getattr(self, status) + 1)

    def to_dict(self) -> dict[str, Any]:
        interval = self.interval
        return {
            "field": self.field,
            "reviewed": self.reviewed,
            "accepted": self.accepted,
            "corrected": self.corrected,
            "rejected": self.rejected,
            "accuracy": None if self.accuracy is None else round(self.accuracy, 4),
            "ci_low": None if interval is None else round(interval[0], 4),
            "ci_high": None if interval is None else round(interval[1], 4),
        }


@dataclass(slots=True)
class GroupStats:
    """The records made one way (backend, model, prompt version) and their review."""

    backend: str
    model: str
    prompt_version: str | None
    records: int = 0
    reviewed_records: int = 0
    done: int = 0
    fields: dict[str, FieldStats] = field(default_factory=dict)

    @property
    def label(self) -> str:
        prompt = f" prompt {self.prompt_version}" if self.prompt_version else ""
        return f"{self.backend} {self.model}{prompt}"

    @property
    def overall(self) -> FieldStats:
        total = FieldStats(ALL_FIELDS)
        for row in self.fields.values():
            total.accepted += row.accepted
            total.corrected += row.corrected
            total.rejected += row.rejected
        return total

    def rows(self) -> list[FieldStats]:
        return [*self.fields.values(), self.overall]

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "model": self.model,
            "prompt_version": self.prompt_version,
            "records": self.records,
            "reviewed_records": self.reviewed_records,
            "done": self.done,
            "fields": [row.to_dict() for row in self.rows()],
        }


@dataclass(frozen=True, slots=True)
class Pace:
    """One reviewer's pace: records done over active hours."""

    reviewer: str
    records: int
    active_seconds: float

    @property
    def per_hour(self) -> float | None:
        """Records done per active hour (None under a minute of reviewing: too little to
        say)."""
        if self.active_seconds < MIN_ACTIVE_SECONDS:
            return None
        return self.records * 3600 / self.active_seconds

    def to_dict(self) -> dict[str, Any]:
        per_hour = self.per_hour
        return {
            "reviewer": self.reviewer,
            "records_done": self.records,
            "active_hours": round(self.active_seconds / 3600, 3),
            "records_per_hour": None if per_hour is None else round(per_hour, 1),
        }


@dataclass(slots=True)
class ReviewStats:
    groups: list[GroupStats]
    pace: list[Pace]
    sources: list[str]
    """The records files (and stores) the figures come from."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "sources": self.sources,
            "groups": [group.to_dict() for group in self.groups],
            "pace": [pace.to_dict() for pace in self.pace],
        }


def _time(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def pace_of(stores: Iterable[ReviewStore]) -> list[Pace]:
    """Each reviewer's records done per active hour, from the stores' change logs."""
    times: dict[str, list[float]] = {}
    done: dict[str, dict[str, bool]] = {}
    for store in stores:
        owner = store.owner or "unknown"
        for event in store.events():
            who = event.get("reviewer") or owner
            times.setdefault(who, []).append(_time(event["at"]))
            if event["action"] == "done":
                done.setdefault(who, {})[event["id"]] = bool(event["detail"].get("done"))
            elif event["action"] == "undo" and event["detail"].get("action") == "done":
                done.setdefault(who, {}).pop(event["id"], None)
    found = []
    for who, stamps in sorted(times.items()):
        stamps.sort()
        active = sum(
            gap for gap in (b - a for a, b in itertools.pairwise(stamps)) if gap <= IDLE_SECONDS
        )
        records = sum(done.get(who, {}).values())
        found.append(Pace(who, records, active))
    return found


def review_stats(sessions: Sequence[ReviewSession]) -> ReviewStats:
    """Per-field review counts and accuracy by backend, model and prompt version, over
    one or more reviews (each a records file with its store), and each reviewer's pace."""
    groups: dict[tuple[str, str, str | None], GroupStats] = {}
    stores: list[ReviewStore] = []
    for session in sessions:
        stores.extend(session.review_stores())
        for state in session.states():
            provenance = state.result.provenance
            key = (provenance.backend, provenance.model, provenance.prompt_version)
            group = groups.get(key)
            if group is None:
                group = groups[key] = GroupStats(*key)
                group.fields = {name: FieldStats(name) for name in FIELD_NAMES}
            group.records += 1
            group.reviewed_records += bool(state.review.fields)
            group.done += state.review.done
            for name, review in state.review.fields.items():
                if name in group.fields:
                    group.fields[name].add(review.status)
    ordered = sorted(groups.values(), key=lambda group: (-group.reviewed_records, group.label))
    sources = [str(session.records_path) for session in sessions]
    return ReviewStats(ordered, pace_of(stores), sources)
