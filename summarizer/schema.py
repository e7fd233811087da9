"""The case record: CARE-checklist aligned, pydantic as the single source of truth.

Conventions of every record (each prompt's system message tells the model them, once:
they are not repeated in the field descriptions):
- ``null`` (or an empty list) means *not reported* in the abstract;
- a negative finding ("no recurrence", "negative margins") is a finding, kept with
  ``negative: true``;
- every clinical fact carries ``evidence``: a verbatim quote copied from the abstract.
  When validated with a grounding context (``summarizer.ground.validation_context``)
  each quote is checked against the source, so the model is re-asked with the error.

What is particular to one field is in that field's description, and only there (the
prompts do not restate it; ``tests/test_sent_schema.py`` fails when they do).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .ages import is_timepoint, parse_age
from .ground import check_quote

SCHEMA_VERSION = "1.0.0"
SUMMARY_MAX_WORDS = 60
SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schemas" / "case_report.schema.json"


class Sex(StrEnum):
    female = "female"
    male = "male"
    other = "other"
    not_reported = "not_reported"


class ArticleType(StrEnum):
    case_report = "case_report"
    case_series = "case_series"
    review_with_case = "review_with_case"
    not_a_case_report = "not_a_case_report"


class InterventionKind(StrEnum):
    surgery = "surgery"
    medication = "medication"
    radiotherapy = "radiotherapy"
    chemotherapy = "chemotherapy"
    procedure = "procedure"
    rehabilitation = "rehabilitation"
    other = "other"


class OutcomeStatus(StrEnum):
    improved = "improved"
    resolved = "resolved"
    stable = "stable"
    recurred = "recurred"
    worsened = "worsened"
    died = "died"
    unknown = "unknown"


Evidence = str
"""A verbatim quote from the abstract (the rule is in the system prompt, not repeated here)."""

FIELD_LABELS: dict[str, str] = {
    "title": "Title",
    "article_type": "Article type",
    "patient_count": "Number of patients",
    "patient": "Patient",
    "patient.age": "Patient age",
    "patient.sex": "Patient sex",
    "presentation": "Presentation",
    "history": "History",
    "clinical_findings": "Clinical findings",
    "diagnostic_assessment": "Diagnostic assessment",
    "diagnosis": "Diagnosis",
    "diagnosis.final": "Final diagnosis",
    "diagnosis.differential": "Differential diagnosis",
    "interventions": "Interventions",
    "outcomes": "Outcomes",
    "why_reported": "Why reported",
    "conclusion": "Conclusion",
    "summary": "Summary",
}
"""The clinical name of each field path (CARE checklist wording), shown next to the path
in evaluation reports and as the headings of the case card."""


@dataclass(frozen=True, slots=True)
class ItemView:
    """How one list item reads: the card lays these parts out, ``line`` puts them on one
    line (evaluation reports, table cells)."""

    text: str
    heading: str | None = None
    """What kind of item it is, shown before the text: a test's name, an intervention's
    kind, an outcome's timepoint."""
    qualifiers: tuple[tuple[str, str], ...] = ()
    """(name, value) details given for the item, e.g. ("duration", "2 months")."""
    negative: bool = False

    @property
    def line(self) -> str:
        """``heading: text (name value, …, negative)``."""
        head = f"{self.heading}: {self.text}" if self.heading else self.text
        details = [f"{name} {value}" for name, value in self.qualifiers]
        if self.negative:
            details.append("negative")
        return f"{head} ({', '.join(details)})" if details else head


def _given(*pairs: tuple[str, str | None]) -> tuple[tuple[str, str], ...]:
    return tuple((name, value) for name, value in pairs if value)


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", use_enum_values=False, str_strip_whitespace=True)


class Grounded(_Record):
    """A fact with its verbatim evidence quote."""

    evidence: Evidence

    @field_validator("evidence")
    @classmethod
    def _evidence_in_source(cls, value: str, info: ValidationInfo) -> str:
        if not value.strip():
            raise ValueError("evidence must be a non-empty verbatim quote from the abstract")
        check_quote(value, info.context)
        return value


class Patient(_Record):
    """The patient described."""

    age_text: str | None = Field(
        None, description='Age exactly as written, e.g. "41-year-old", "six-day-old".'
    )
    age_years: float | None = Field(
        None,
        ge=0,
        le=125,
        description="Age in years (days, weeks and months converted, e.g. 6 months = 0.5).",
    )
    sex: Sex = Field(
        Sex.not_reported,
        description="As the abstract states it (gender identity goes in descriptors too).",
    )
    descriptors: list[str] = Field(
        default_factory=list,
        description="Other descriptors given: ethnicity, occupation, pregnancy, etc.",
    )
    evidence: Evidence | None = Field(None, description="The quote naming age and/or sex.")

    @model_validator(mode="before")
    @classmethod
    def _age_from_text(cls, data: Any) -> Any:
        # Our parser is exact about unit conversion; a model's arithmetic is not. Deriving
        # the value before field validation puts it under the same bounds as a given one.
        if not isinstance(data, dict):
            return data
        text = data.get("age_text")
        parsed = parse_age(text, bounded=False) if isinstance(text, str) and text.strip() else None
        if parsed is None:
            return data
        if not age_in_bounds(parsed):
            low, high = _bounds(cls, "age_years")
            raise ValueError(
                f"age_text {text!r} reads as {parsed:g} years, outside {low:g}-{high:g}:"
                " that is not a real age; give age_text and age_years as null"
            )
        return {**data, "age_years": parsed}

    @field_validator("evidence")
    @classmethod
    def _evidence_in_source(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and value.strip():
            check_quote(value, info.context)
            return value
        return None


@functools.cache
def _bounds(model: type[BaseModel], name: str) -> tuple[float, float]:
    """The ``ge``/``le`` bounds a numeric field declares (the schema is the one source;
    read once: every age validated asks)."""
    low, high = float("-inf"), float("inf")
    for constraint in model.model_fields[name].metadata:
        low = float(getattr(constraint, "ge", low))
        high = float(getattr(constraint, "le", high))
    return low, high


def age_in_bounds(years: float | None) -> bool:
    """Whether an age in years is one the schema accepts (derived ages included)."""
    if years is None:
        return False
    low, high = _bounds(Patient, "age_years")
    return low <= years <= high


class ListItem(Grounded):
    """A grounded fact in one of the record's lists; ``view`` says how it reads."""

    def view(self) -> ItemView:
        raise NotImplementedError

    @property
    def label(self) -> str:
        """The item on one line, e.g. ``surgery: posterior resection (timing 2019)``."""
        return self.view().line


class Symptom(ListItem):
    description: str
    negative: bool = Field(False, description='True for a symptom the patient denied ("no fever").')
    duration: str | None = Field(None, description='How long it lasted, as written ("2 months").')

    def view(self) -> ItemView:
        return ItemView(self.description, None, _given(("duration", self.duration)), self.negative)


class HistoryItem(ListItem):
    description: str
    negative: bool = Field(
        False, description='True for stated absent history ("no previous surgery").'
    )
    timing: str | None = Field(None, description='When, as written ("18 years ago").')

    def view(self) -> ItemView:
        return ItemView(self.description, None, _given(("timing", self.timing)), self.negative)


class Finding(ListItem):
    description: str
    negative: bool = False

    def view(self) -> ItemView:
        return ItemView(self.description, negative=self.negative)


class DiagnosticTest(ListItem):
    name: str
    result: str
    negative: bool = Field(False, description="True when the result was normal or negative.")

    def view(self) -> ItemView:
        return ItemView(self.result, self.name, negative=self.negative)


class Diagnosis(Grounded):
    final: str = Field(description="The final diagnosis.")
    differential: list[str] = Field(
        default_factory=list, description="Differential diagnoses considered."
    )


class Intervention(ListItem):
    kind: InterventionKind
    detail: str = Field(description="What was done (drug and dose, operation, procedure).")
    timing: str | None = Field(None, description="When, as written.")

    def view(self) -> ItemView:
        return ItemView(self.detail, self.kind.value, _given(("timing", self.timing)))


class Outcome(ListItem):
    timepoint: str | None = Field(
        None,
        description='When it was observed, as written ("6 months postoperatively").',
    )
    description: str = Field(description="What was observed.")
    status: OutcomeStatus = Field(
        description=(
            "improved; resolved (cured, disease-free, no recurrence); stable (unchanged); "
            "recurred; worsened (includes lasting sequelae); died; unknown (e.g. lost to follow-up)."
        )
    )

    @field_validator("timepoint")
    @classmethod
    def _timepoint_parses(cls, value: str | None) -> str | None:
        if value is not None and value.strip() and not is_timepoint(value):
            raise ValueError(
                f"timepoint {value!r} is not a time: give a number with a unit "
                '("6 months") or an anchor ("at discharge"), or null'
            )
        return value or None

    def view(self) -> ItemView:
        return ItemView(self.description, self.timepoint, (("status", self.status.value),))


class Statement(Grounded):
    text: str = Field(description="The statement, in a sentence.")


class CaseReport(_Record):
    """A structured, grounded record of one case-report abstract."""

    title: str | None = Field(None, description="The article title as written.")
    article_type: ArticleType = Field(
        description=(
            "case_report (one patient), case_series (two or more), review_with_case (a "
            "literature review built around a case), not_a_case_report (a trial, cohort, or "
            "review without a case)."
        )
    )
    patient_count: int | None = Field(
        None, ge=0, le=100000, description="How many patients are described."
    )
    patient: Patient = Field(
        default_factory=Patient,
        description="For a series, the first patient described (the lists below cover the whole series).",
    )
    presentation: list[Symptom] = Field(
        default_factory=list, description="Main concerns and symptoms at presentation."
    )
    history: list[HistoryItem] = Field(
        default_factory=list,
        description="Relevant past conditions, interventions, exposures or context (e.g. pregnancy).",
    )
    clinical_findings: list[Finding] = Field(
        default_factory=list, description="Physical examination findings."
    )
    diagnostic_assessment: list[DiagnosticTest] = Field(
        default_factory=list,
        description="Tests, imaging studies and pathology: each one's name and what it showed.",
    )
    diagnosis: Diagnosis | None = None
    interventions: list[Intervention] = Field(
        default_factory=list, description="Treatments and procedures."
    )
    outcomes: list[Outcome] = Field(
        default_factory=list, description="Follow-up and outcomes, each with its timepoint."
    )
    why_reported: Statement | None = Field(
        None, description="What makes the case notable (rarity, new association, lesson)."
    )
    conclusion: Statement | None = Field(None, description="The authors' take-home message.")
    summary: str = Field(
        description=f"Plain-language summary of the case for a clinician, at most {SUMMARY_MAX_WORDS} words."
    )

    @field_validator("summary")
    @classmethod
    def _short_summary(cls, value: str) -> str:
        words = len(value.split())
        if words > SUMMARY_MAX_WORDS:
            raise ValueError(
                f"summary has {words} words; shorten it to at most {SUMMARY_MAX_WORDS}"
            )
        if not words:
            raise ValueError("summary must not be empty")
        return value


def json_schema() -> dict[str, Any]:
    """The JSON Schema of CaseReport, as exported to schemas/ and sent to models."""
    schema = CaseReport.model_json_schema()
    schema["$id"] = f"https://case-summarizer.invalid/schemas/case_report/{SCHEMA_VERSION}"
    schema["x-schema-version"] = SCHEMA_VERSION
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
