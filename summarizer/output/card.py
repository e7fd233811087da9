"""The readable view of a result: what the Markdown card and the HTML page both show.

How an item reads (its heading, text, qualifiers, negative flag) and each section's
heading come from the schema (``ListItem.view``, ``FIELD_LABELS``), which the evaluation
reports and tables share; this module groups them for the templates, which only lay them
out. Every grounded fact carries its evidence span (quote, alignment status, number) so a
template can footnote or link it.
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ..ground import AlignmentStatus, DroppedItem, EvidenceSpan
from ..results import Failure, Result
from ..schema import FIELD_LABELS, ArticleType, CaseReport, ListItem, Sex

NOT_REPORTED = "Not reported"

ARTICLE_TYPES = {
    ArticleType.case_report: "Case report",
    ArticleType.case_series: "Case series",
    ArticleType.review_with_case: "Review with a case",
    ArticleType.not_a_case_report: "Not a case report",
}

STATUS_TEXT = {
    AlignmentStatus.exact: "exact",
    AlignmentStatus.normalised: "normalised",
    AlignmentStatus.fuzzy: "fuzzy",
    AlignmentStatus.unaligned: "unaligned (not found in the abstract)",
}


@dataclass(frozen=True, slots=True)
class EvidenceView:
    """One evidence quote, numbered in record order (the numbers the card shows)."""

    number: int
    span: EvidenceSpan

    @property
    def status(self) -> str:
        return self.span.status.value

    @property
    def status_text(self) -> str:
        return STATUS_TEXT[self.span.status]

    @property
    def aligned(self) -> bool:
        return self.span.status is not AlignmentStatus.unaligned

    @property
    def quote(self) -> str:
        return self.span.quote


@dataclass(slots=True)
class Item:
    """One fact in a group: an optional label, its text, qualifiers, evidence."""

    text: str
    label: str | None = None
    qualifiers: list[tuple[str, str]] = field(default_factory=list)
    negative: bool = False
    path: str | None = None
    evidence: list[EvidenceView] = field(default_factory=list)

    @property
    def anchor(self) -> str | None:
        return path_anchor(self.path) if self.path else None


@dataclass(slots=True)
class Group:
    """A section of the card (Presentation, Outcomes…); empty means not reported."""

    key: str
    heading: str
    items: list[Item]
    ordered: bool = False
    singular: bool = False
    """A single fact (diagnosis, conclusion), shown as a paragraph rather than a list."""


@dataclass(frozen=True, slots=True)
class DroppedView:
    """A fact taken out of the record (``provenance.dropped``), as the card lists it."""

    heading: str
    """The section it would have been in (Presentation, Outcomes…)."""
    text: str
    quote: str
    reason: str


@dataclass(slots=True)
class Card:
    """Everything a template needs for one result."""

    id: str
    title: str
    patient: Item
    article_type: str
    groups: list[Group]
    summary: str
    evidence: list[EvidenceView]
    provenance: list[tuple[str, str]]
    warnings: list[str]
    grounding: str
    """How many evidence quotes were found in the abstract (not whether values are right)."""
    result: Result
    dropped: list[DroppedView] = field(default_factory=list)

    @property
    def dropped_text(self) -> str | None:
        """How many facts were dropped, in words (None when none were)."""
        count = len(self.dropped)
        if not count:
            return None
        facts = "1 fact" if count == 1 else f"{count} facts"
        return f"{facts} whose evidence was not found in the abstract"

    @property
    def baseline(self) -> str | None:
        """What to say at the top when no model made the record (the rules baseline)."""
        provenance = self.result.provenance
        if provenance.prompt_version is not None:
            return None
        return (
            f"No model made this record: the {provenance.backend} baseline read it from "
            "patterns in the text. Check every value against the abstract."
        )

    @property
    def aligned_count(self) -> int:
        return sum(view.aligned for view in self.evidence)


@dataclass(slots=True)
class ErrorCard:
    id: str
    error: str
    error_type: str
    source: str


def path_anchor(path: str) -> str:
    """A field path (``outcomes[1]``) as an id fragment (``outcomes-1``)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-") or "record"


def _sex_text(sex: Sex) -> str | None:
    return None if sex is Sex.not_reported else sex.value


def _number(value: float) -> str:
    return f"{round(value, 2):g}"


def patient_text(record: CaseReport) -> str:
    """The patient line: "63-year-old female; 1 patient; descriptors"."""
    patient = record.patient
    age = patient.age_text
    if patient.age_years is not None:
        years = f"{_number(patient.age_years)} years"
        if age is None:
            age = years
        elif _number(patient.age_years) not in age:
            age = f"{age} ({years})"
    sex = _sex_text(patient.sex)
    if age and sex:
        who = f"{age} {sex}"
    else:
        who = f"{age or 'age not reported'}, {sex or 'sex not reported'}"
    parts = [who]
    if record.patient_count is not None:
        parts.append(f"{record.patient_count} patient{'' if record.patient_count == 1 else 's'}")
    parts.extend(patient.descriptors)
    return "; ".join(parts)


LIST_GROUPS: tuple[tuple[str, bool], ...] = (
    ("presentation", False),
    ("history", False),
    ("clinical_findings", False),
    ("diagnostic_assessment", False),
    ("interventions", True),
    ("outcomes", True),
)
"""The record's lists, in card order, and whether each reads as a sequence (numbered)."""

MISSING_HEADING = {"outcomes": "timepoint not given"}
"""What the card says where an item of that list has no heading of its own."""


def _item_class(key: str) -> type[ListItem] | None:
    """The item model of one of the record's lists (``presentation`` → Symptom)."""
    info = CaseReport.model_fields.get(key)
    args = typing.get_args(info.annotation) if info is not None else ()
    kind = args[0] if args else None
    return kind if isinstance(kind, type) and issubclass(kind, ListItem) else None


def dropped_view(dropped: DroppedItem) -> DroppedView:
    """How a dropped item reads: as its list would have shown it (its raw fields when it
    no longer reads as one)."""
    heading = FIELD_LABELS.get(dropped.field, dropped.field)
    kind = _item_class(dropped.field)
    try:
        text = kind.model_validate(dropped.item).label if kind is not None else None
    except ValidationError:
        text = None
    if text is None:
        shown = {key: value for key, value in dropped.item.items() if key != "evidence"}
        text = "; ".join(f"{key} {value}" for key, value in shown.items() if value)
    return DroppedView(heading, text, dropped.quote, dropped.reason)


def build_card(result: Result) -> Card:
    """The view of one result."""
    record, provenance = result.record, result.provenance
    numbered = [EvidenceView(number, span) for number, span in enumerate(result.evidence, 1)]
    facts = _Facts(numbered)
    return Card(
        id=result.id,
        title=record.title or result.abstract.title or result.id,
        patient=facts.item("patient", patient_text(record)),
        article_type=ARTICLE_TYPES[record.article_type],
        groups=facts.groups(record),
        summary=record.summary,
        evidence=numbered,
        provenance=provenance_rows(result),
        warnings=list(provenance.warnings),
        grounding=_grounding(numbered, result.grounding_rate),
        result=result,
        dropped=[dropped_view(item) for item in provenance.dropped],
    )


class _Facts:
    """The card's facts, each with the evidence quotes of its field path."""

    def __init__(self, numbered: list[EvidenceView]) -> None:
        self._by_path: dict[str, list[EvidenceView]] = {}
        for view in numbered:
            self._by_path.setdefault(view.span.field, []).append(view)

    def item(self, path: str, text: str, **extra: Any) -> Item:
        return Item(text=text, path=path, evidence=self._by_path.get(path, []), **extra)

    def groups(self, record: CaseReport) -> list[Group]:
        """The sections in card order: the lists, with the single facts among them."""
        lists = {key: self._listed(record, key, ordered) for key, ordered in LIST_GROUPS}
        diagnosis = record.diagnosis
        differential = "; ".join(diagnosis.differential) if diagnosis else None
        return [
            lists["presentation"],
            lists["history"],
            lists["clinical_findings"],
            lists["diagnostic_assessment"],
            self._single(
                "diagnosis",
                diagnosis.final if diagnosis else None,
                qualifiers=[("differential", differential)] if differential else [],
            ),
            lists["interventions"],
            lists["outcomes"],
            self._single("why_reported", record.why_reported.text if record.why_reported else None),
            self._single("conclusion", record.conclusion.text if record.conclusion else None),
        ]

    def _listed(self, record: CaseReport, key: str, ordered: bool) -> Group:
        entries: list[ListItem] = getattr(record, key)
        missing = MISSING_HEADING.get(key)
        items = [self._fact(f"{key}[{i}]", entry, missing) for i, entry in enumerate(entries)]
        return Group(key, FIELD_LABELS[key], items, ordered=ordered)

    def _fact(self, path: str, entry: ListItem, missing: str | None) -> Item:
        view = entry.view()
        return self.item(
            path,
            view.text,
            label=view.heading or missing,
            qualifiers=list(view.qualifiers),
            negative=view.negative,
        )

    def _single(self, key: str, text: str | None, **extra: Any) -> Group:
        items = [] if text is None else [self.item(key, text, **extra)]
        return Group(key, FIELD_LABELS[key], items, singular=True)


def provenance_rows(result: Result) -> list[tuple[str, str]]:
    """How the record was made, as (name, value) rows."""
    provenance = result.provenance
    tokens = provenance.tokens
    cached = f", {tokens.cached_tokens} prompt tokens cached" if tokens.cached_tokens else ""
    source = (provenance.source, f"({provenance.source_format})")
    rows: list[tuple[str, str]] = [
        ("id", result.id),
        ("source", " ".join(part for part in source if part)),
        ("backend", provenance.backend),
        ("model", provenance.model),
        ("mode", provenance.mode),
        ("prompt", provenance.prompt_version or "none"),
        ("prompt hash", (provenance.prompt_hash or "")[:12] or "none"),
        ("schema version", provenance.schema_version),
        ("attempts", str(provenance.attempts)),
        (
            "tokens",
            f"{tokens.total_tokens} ({tokens.prompt_tokens} prompt + "
            f"{tokens.completion_tokens} completion){cached}",
        ),
        ("latency", f"{provenance.latency_s:.3f} s"),
        ("cache", "hit" if provenance.cache_hit else "miss" if provenance.cache_key else "off"),
    ]
    if provenance.dropped or provenance.merged:
        rows.append(
            ("dropped", f"{len(provenance.dropped)} ungrounded, {provenance.merged} repeats merged")
        )
    return rows


def _grounding(numbered: list[EvidenceView], rate: float) -> str:
    """How many quotes were found in the abstract: what it is, which says nothing of
    whether the values are right."""
    if not numbered:
        return "no evidence quotes"
    aligned = sum(view.aligned for view in numbered)
    return (
        f"{aligned} of {len(numbered)} quotes found in the abstract "
        f"({rate:.0%}; the quotes, not the values, are checked)"
    )


def build_error_card(failure: Failure) -> ErrorCard:
    return ErrorCard(
        id=failure.id,
        error=str(failure.error),
        error_type=failure.error_type,
        source=failure.source,
    )
