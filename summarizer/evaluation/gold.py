"""Gold records: hand-labelled expected (partial) case records, one JSON file each.

A gold file names its input (relative to the file) and gives the fields a labeller
checked. A field that is absent from ``expected`` is not scored; a field given as
``null`` or ``[]`` means "the abstract does not report it", so an output that fills it
is a hallucination. ``GoldRecord`` is the single source of truth for the format; its
JSON Schema is exported to ``evals/gold.schema.json`` (a test fails when it drifts) and
gold files point at it with ``"$schema"`` so editors validate them while labelling.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..ages import parse_age
from ..errors import InputError, OutputError
from ..schema import (
    ArticleType,
    DiagnosticTest,
    Finding,
    HistoryItem,
    Intervention,
    InterventionKind,
    ListItem,
    Outcome,
    OutcomeStatus,
    Sex,
    Symptom,
)

__all__ = [
    "AGE_CONSISTENCY_YEARS",
    "GOLD_SCHEMA_FILE",
    "GOLD_SCHEMA_NAME",
    "GoldAlternatives",
    "GoldExpected",
    "GoldRecord",
    "LoadedGold",
    "gold_json_schema",
    "gold_json_schema_text",
    "load_gold",
    "validate_gold_dir",
    "write_gold_schema",
]

GOLD_SCHEMA_VERSION = "1.0.0"
GOLD_SCHEMA_FILE = Path(__file__).resolve().parents[2] / "evals" / "gold.schema.json"
AGE_CONSISTENCY_YEARS = 0.005
"""How far a gold age_years may sit from parse_age(age_text) (rounding only)."""


class _Gold(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class GoldPatient(_Gold):
    age_text: str | None = Field(None, description="Age exactly as written; null if not reported.")
    age_years: float | None = Field(
        None, ge=0, le=125, description="Age in years; must agree with age_text where it parses."
    )
    sex: Sex | None = Field(None, description="female, male, other or not_reported.")


class _GoldItem(_Gold):
    """A gold list item: the schema's item without evidence, read the same way."""

    item: ClassVar[type[ListItem]]
    """The schema item this one labels (whose ``view`` decides how it reads)."""

    @property
    def label(self) -> str:
        """The item on one line, worded as the schema item's ``label``."""
        return self.item.model_construct(**self.model_dump()).label


class GoldSymptom(_GoldItem):
    item = Symptom

    description: str = Field(min_length=1)
    duration: str | None = None


class GoldHistoryItem(_GoldItem):
    item = HistoryItem

    description: str = Field(min_length=1)
    timing: str | None = None


class GoldFinding(_GoldItem):
    item = Finding

    description: str = Field(min_length=1)
    negative: bool = False


class GoldDiagnosticTest(_GoldItem):
    item = DiagnosticTest

    name: str = Field(min_length=1)
    result: str = ""
    negative: bool = False


class GoldDiagnosis(_Gold):
    final: str = Field(min_length=1)
    differential: list[str] | None = Field(
        None, description="Differential diagnoses; [] = none given; absent = not scored."
    )


class GoldIntervention(_GoldItem):
    item = Intervention

    kind: InterventionKind
    detail: str = Field(min_length=1)
    timing: str | None = None


class GoldOutcome(_GoldItem):
    item = Outcome

    timepoint: str | None = None
    description: str = Field(min_length=1)
    status: OutcomeStatus


class GoldExpected(_Gold):
    """The expected record, without evidence and summary. Absent fields are not scored;
    null / [] mean "not reported" (an output that fills them hallucinates)."""

    title: str | None = None
    article_type: ArticleType | None = None
    patient_count: int | None = Field(None, ge=0)
    patient: GoldPatient | None = None
    presentation: list[GoldSymptom] | None = None
    history: list[GoldHistoryItem] | None = None
    clinical_findings: list[GoldFinding] | None = None
    diagnostic_assessment: list[GoldDiagnosticTest] | None = None
    diagnosis: GoldDiagnosis | None = None
    interventions: list[GoldIntervention] | None = None
    outcomes: list[GoldOutcome] | None = None
    why_reported: str | None = Field(None, description="What makes the case notable (plain text).")
    conclusion: str | None = Field(None, description="The authors' take-home message (plain text).")

    def given(self, name: str) -> bool:
        """Whether the labeller gave this field (null counts as given: "not reported")."""
        return name in self.model_fields_set


class GoldAlternatives(_Gold):
    """Other answers a reviewer would also accept, for genuinely ambiguous labels."""

    article_type: list[ArticleType] = Field(default_factory=list)
    patient_count: list[int] = Field(default_factory=list)
    sex: list[Sex] = Field(default_factory=list)


class GoldRecord(_Gold):
    """One hand-labelled gold record."""

    schema_: str | None = Field(None, alias="$schema", description="Path of gold.schema.json.")
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    input: str = Field(min_length=1, description="The input file, relative to this gold file.")
    tags: list[str] = Field(default_factory=list)
    expected: GoldExpected
    accept: GoldAlternatives = Field(
        default_factory=GoldAlternatives,
        description='Alternatives that also score 1, e.g. {"article_type": ["review_with_case"]}.',
    )
    notes: str = Field("", description="Labelling decisions and ambiguities, for reviewers.")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


@dataclass(frozen=True, slots=True)
class LoadedGold:
    """A gold record and where it came from."""

    record: GoldRecord
    path: Path

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def input_path(self) -> Path:
        return (self.path.parent / self.record.input).resolve()


def gold_json_schema() -> dict[str, Any]:
    """The JSON Schema of a gold file (exported to evals/gold.schema.json)."""
    schema = GoldRecord.model_json_schema(by_alias=True)
    schema["$id"] = f"https://case-summarizer.invalid/schemas/gold/{GOLD_SCHEMA_VERSION}"
    schema["x-schema-version"] = GOLD_SCHEMA_VERSION
    return schema


def gold_json_schema_text() -> str:
    return json.dumps(gold_json_schema(), indent=2, ensure_ascii=False) + "\n"


GOLD_SCHEMA_NAME = "gold.schema.json"
"""The name of a gold folder's own copy of the schema (``write_gold_schema``)."""


def write_gold_schema(directory: Path) -> str:
    """This package's gold JSON Schema, written into ``directory`` (when not already there
    as it is), and the ``$schema`` a gold file in that folder names: the copy beside it,
    so editors validate the files wherever the folder is moved, offline."""
    path = directory / GOLD_SCHEMA_NAME
    text = gold_json_schema_text()
    try:
        same = path.read_text(encoding="utf-8") == text
    except OSError:
        same = False
    if not same:
        from ..output.line_store import atomic_write

        try:
            atomic_write(path, lambda out: print(text, end="", file=out))
        except OSError as error:
            raise OutputError(f"cannot write: {error.strerror or error}", path=str(path)) from error
    return GOLD_SCHEMA_NAME


def gold_files(directory: Path) -> list[Path]:
    """The gold records of a folder: its JSON files, less a schema beside them."""
    if not directory.is_dir():
        raise InputError("not a folder of gold records", path=str(directory))
    return sorted(
        path
        for path in directory.glob("*.json")
        if path.is_file() and not path.name.endswith(".schema.json")
    )


def _parse(path: Path) -> tuple[GoldRecord | None, list[str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        return None, [f"{path}: cannot read: {error}"]
    except json.JSONDecodeError as error:
        return None, [f"{path}:{error.lineno}:{error.colno}: invalid JSON: {error.msg}"]
    try:
        return GoldRecord.model_validate(data), []
    except ValidationError as error:
        problems = []
        for item in error.errors():
            where = ".".join(str(part) for part in item["loc"]) or "(root)"
            problems.append(f"{path}: {where}: {item['msg']}")
        return None, problems


def _semantic_problems(path: Path, record: GoldRecord) -> Iterator[str]:
    if not (path.parent / record.input).is_file():
        yield f"{path}: input: file not found: {record.input}"
    patient = record.expected.patient
    if patient is not None and patient.age_text:
        parsed = parse_age(patient.age_text)
        if parsed is not None:
            if patient.age_years is None:
                yield (
                    f"{path}: expected.patient.age_years: null, but age_text "
                    f"{patient.age_text!r} parses as {parsed:g}"
                )
            elif abs(patient.age_years - parsed) > AGE_CONSISTENCY_YEARS:
                yield (
                    f"{path}: expected.patient.age_years: {patient.age_years:g} disagrees with "
                    f"age_text {patient.age_text!r} (parses as {parsed:g})"
                )


def validate_gold_dir(directory: Path) -> list[str]:
    """Every problem in a folder of gold files, one line each (empty: all good)."""
    problems: list[str] = []
    seen: dict[str, Path] = {}
    files = gold_files(directory)
    if not files:
        return [f"{directory}: no gold files (*.json)"]
    for path in files:
        record, errors = _parse(path)
        problems.extend(errors)
        if record is None:
            continue
        if record.id in seen:
            problems.append(f"{path}: id: {record.id!r} already used by {seen[record.id].name}")
        else:
            seen[record.id] = path
        problems.extend(_semantic_problems(path, record))
    return problems


def load_gold(
    directory: Path, *, tags: tuple[str, ...] = (), ids: tuple[str, ...] = ()
) -> list[LoadedGold]:
    """Valid gold records of a folder (optionally only those with any of ``tags`` or ``ids``).

    Raises InputError listing the first problems when the folder does not validate.
    """
    problems = validate_gold_dir(directory)
    if problems:
        shown = "; ".join(problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise InputError(
            f"gold records do not validate: {shown}{more}; run `case-summarizer gold validate`",
            path=str(directory),
        )
    loaded = []
    for path in gold_files(directory):
        record = GoldRecord.model_validate_json(path.read_text(encoding="utf-8"))
        if tags and not set(tags) & set(record.tags):
            continue
        if ids and record.id not in ids:
            continue
        loaded.append(LoadedGold(record=record, path=path.resolve()))
    if not loaded:
        raise InputError("no gold records selected", path=str(directory))
    return loaded
