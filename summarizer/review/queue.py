"""The review queue: records in the order that most needs a person, each with its reasons.

A record earns a reason for each thing a reviewer should look at:

- ``unaligned``: evidence quotes not found in the abstract;
- ``disagreement``: the rules backend, run on the same abstract (it costs nothing),
  reads the age, sex, patient count or article type differently from the model;
- ``reasks``: the model's answer failed validation and was re-asked;
- ``warnings``: the cleaner warned about the page (a guessed title, a cut abstract…);
- ``no_abstract``: the line carries no abstract text to check against;
- ``missing``: core fields left empty (age, sex, diagnosis, interventions…).

The score weighs them in that order, so that any unaligned quote or disagreement ranks a
record above every record with only missing fields (an unaligned quote is most likely
wrong; a missing field is often simply not reported): ``missing`` counts one per field,
the others more than all missing fields together; ties keep the input order. Failed
records cannot be reviewed and come last with their error.

The reasons of a record under review are computed again from the reviewed record after
every change (``reasons_for(..., reviewed=...)``): a reason about fields the reviewer has
accepted, corrected or rejected is settled and drops out.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum

from ..backends.rules import extract_rules
from ..ground import AlignmentStatus
from ..output.contract import has_abstract
from ..pipeline import Failure, Result
from ..schema import CaseReport, Sex

__all__ = [
    "STRONG",
    "QueueEntry",
    "Reason",
    "ReasonKind",
    "look_levels",
    "reasons_for",
    "review_queue",
]

AGE_TOLERANCE_YEARS = 0.01


class ReasonKind(StrEnum):
    unaligned = "unaligned"
    disagreement = "disagreement"
    reasks = "reasks"
    warnings = "warnings"
    no_abstract = "no_abstract"
    missing = "missing"
    failed = "failed"
    conflict = "conflict"
    """Two reviewers disagree (an adjudication's queue)."""


WEIGHTS = {
    ReasonKind.unaligned: 40,
    ReasonKind.disagreement: 30,
    ReasonKind.reasks: 15,
    ReasonKind.warnings: 10,
    ReasonKind.no_abstract: 10,
    ReasonKind.missing: 1,
    ReasonKind.failed: 0,
    ReasonKind.conflict: 50,
}
"""Score of one reason: an unaligned quote counts once per quote (up to three), a missing
field once per field (at most 9, below any other reason)."""

STRONG = frozenset({ReasonKind.unaligned, ReasonKind.disagreement, ReasonKind.conflict})
"""Reasons that say a value is likely wrong (the fields ``j`` visits first)."""

REASON_LABELS = {
    ReasonKind.unaligned: "unaligned evidence",
    ReasonKind.disagreement: "rules disagree",
    ReasonKind.reasks: "re-asked",
    ReasonKind.warnings: "cleaner warnings",
    ReasonKind.no_abstract: "no abstract text",
    ReasonKind.missing: "missing fields",
    ReasonKind.failed: "failed",
    ReasonKind.conflict: "reviewers disagree",
}


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a record needs a look: its kind, a one-line message, and the fields concerned."""

    kind: ReasonKind
    message: str
    fields: tuple[str, ...] = ()
    weight: int = 0

    @property
    def label(self) -> str:
        return REASON_LABELS[self.kind]


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """One record in the queue: ``position`` is its place in the input."""

    id: str
    title: str
    position: int
    reasons: tuple[Reason, ...]
    failed: bool = False

    @property
    def score(self) -> int:
        return sum(reason.weight for reason in self.reasons)

    def has(self, kind: ReasonKind | str) -> bool:
        return any(reason.kind == kind for reason in self.reasons)


def _age(value: float | None) -> str:
    return "not reported" if value is None else f"{value:g}"


def _disagreements(record: CaseReport, rules: CaseReport) -> list[Reason]:
    found: list[tuple[str, str, str]] = []
    model_age, rules_age = record.patient.age_years, rules.patient.age_years
    if (model_age is None) != (rules_age is None) or (
        model_age is not None
        and rules_age is not None
        and abs(model_age - rules_age) > AGE_TOLERANCE_YEARS
    ):
        found.append(("patient", "age", f"model {_age(model_age)}, rules {_age(rules_age)}"))
    if record.patient.sex != rules.patient.sex:
        found.append(
            ("patient", "sex", f"model {record.patient.sex.value}, rules {rules.patient.sex.value}")
        )
    if (
        record.patient_count is not None
        and rules.patient_count is not None
        and record.patient_count != rules.patient_count
    ):
        found.append(
            (
                "patient_count",
                "patient count",
                f"model {record.patient_count}, rules {rules.patient_count}",
            )
        )
    if record.article_type != rules.article_type:
        found.append(
            (
                "article_type",
                "article type",
                f"model {record.article_type.value}, rules {rules.article_type.value}",
            )
        )
    weight = WEIGHTS[ReasonKind.disagreement]
    return [
        Reason(ReasonKind.disagreement, f"{what}: {detail}", (field,), weight)
        for field, what, detail in found
    ]


def _missing(record: CaseReport) -> list[str]:
    missing = []
    if not record.title:
        missing.append("title")
    if record.patient.age_years is None and not record.patient.age_text:
        missing.append("age")
    if record.patient.sex is Sex.not_reported:
        missing.append("sex")
    if record.diagnosis is None:
        missing.append("diagnosis")
    for name in ("presentation", "interventions", "outcomes"):
        if not getattr(record, name):
            missing.append(name)
    if record.conclusion is None:
        missing.append("conclusion")
    return missing


_MISSING_FIELD = {"age": "patient", "sex": "patient"}
_UNALIGNED_WARNING = "evidence quote(s) not found in the abstract"


def _cleaner_warnings(result: Result, present: bool) -> list[str]:
    if present:
        return list(result.abstract.warnings)
    # an older line: its provenance holds the cleaner's warnings and the pipeline's own
    return [w for w in result.provenance.warnings if _UNALIGNED_WARNING not in w]


def _top(path: str) -> str:
    return path.split(".", 1)[0].split("[", 1)[0]


def reasons_for(
    result: Result, *, rules: CaseReport | None = None, reviewed: Collection[str] = ()
) -> list[Reason]:
    """Every reason ``result`` needs a reviewer, strongest first.

    ``rules`` is the rules backend's record of the same abstract; it is computed here
    when not given (a record made by the rules backend is not compared with itself).
    ``reviewed``: fields a reviewer has already settled (accepted, corrected, rejected),
    whose reasons are left out.
    """
    reasons: list[Reason] = []
    unaligned = [
        span
        for span in result.evidence
        if span.status is AlignmentStatus.unaligned and _top(span.field) not in reviewed
    ]
    if unaligned:
        fields = tuple(dict.fromkeys(_top(span.field) for span in unaligned))
        quotes = "quote" if len(unaligned) == 1 else "quotes"
        reasons.append(
            Reason(
                ReasonKind.unaligned,
                f"{len(unaligned)} {quotes} not found in the abstract: {', '.join(fields)}",
                fields,
                WEIGHTS[ReasonKind.unaligned] * min(len(unaligned), 3),
            )
        )
    present = has_abstract(result)
    if present and result.provenance.prompt_version is not None:  # a model's record
        found = _disagreements(result.record, rules or extract_rules(result.abstract))
        reasons.extend(reason for reason in found if reason.fields[0] not in reviewed)
    reasks = result.provenance.reasks
    if reasks is None:  # a line from before re-asks were counted apart
        reasks = max(0, result.provenance.attempts - 1)
    if reasks:
        times = "once" if reasks == 1 else f"{reasks} times"
        reasons.append(
            Reason(
                ReasonKind.reasks,
                f"the answer failed validation and was re-asked {times}",
                (),
                WEIGHTS[ReasonKind.reasks],
            )
        )
    warnings = _cleaner_warnings(result, present)
    if warnings:
        reasons.append(
            Reason(
                ReasonKind.warnings,
                "; ".join(warnings),
                (),
                WEIGHTS[ReasonKind.warnings],
            )
        )
    if not present:
        reasons.append(
            Reason(
                ReasonKind.no_abstract,
                "the records file has no abstract text for this record: its evidence "
                "cannot be checked here",
                (),
                WEIGHTS[ReasonKind.no_abstract],
            )
        )
    missing = [
        name for name in _missing(result.record) if _MISSING_FIELD.get(name, name) not in reviewed
    ]
    if missing:
        fields = tuple(dict.fromkeys(_MISSING_FIELD.get(name, name) for name in missing))
        reasons.append(
            Reason(
                ReasonKind.missing,
                f"not filled: {', '.join(missing)}",
                fields,
                WEIGHTS[ReasonKind.missing] * len(missing),
            )
        )
    return reasons


def _entry(position: int, item: Result | Failure) -> QueueEntry:
    if isinstance(item, Failure):
        reason = Reason(ReasonKind.failed, f"{type(item.error).__name__}: {item.error}")
        return QueueEntry(item.id, item.title or item.id, position, (reason,), failed=True)
    return QueueEntry(
        item.id,
        item.record.title or item.abstract.title or item.id,
        position,
        tuple(reasons_for(item)),
    )


def review_queue(items: Iterable[Result | Failure]) -> list[QueueEntry]:
    """The queue: most reasons (by weight) first, then input order; failures last."""
    entries = [_entry(position, item) for position, item in enumerate(items)]
    return sorted(entries, key=lambda entry: (entry.failed, -entry.score, entry.position))


def look_levels(reasons: Iterable[Reason]) -> dict[str, int]:
    """How much each flagged field needs a look: 2 for a strong reason (unaligned
    evidence, disagreement), 1 for any other that names it (a missing value)."""
    levels: dict[str, int] = {}
    for reason in reasons:
        level = 2 if reason.kind in STRONG else 1
        for name in reason.fields:
            levels[name] = max(levels.get(name, 0), level)
    return levels
