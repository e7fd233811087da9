"""CSV: one row per record, with a fixed header derived from the schema, never from data.

Every file of every batch has the same columns, in the same order, whatever the records
hold (an empty record, a full one, a failure). Lists are flattened deterministically
into one readable cell (``"surgery: resection (timing 2019); medication: …"``) plus a
``<name>_count`` column; JSON stays the lossless format. Empty cells mean "not
reported"; ``patient_sex`` keeps the explicit ``not_reported``.

Text cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``,
``@``, tab or carriage return) are prefixed with an apostrophe: a record's text comes
from the abstract, which is untrusted input.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from typing import IO, Any

from pydantic import BaseModel

from ..pipeline import Failure, Result
from ..schema import (
    CaseReport,
    DiagnosticTest,
    Finding,
    HistoryItem,
    Intervention,
    Outcome,
    Symptom,
)
from ..sinks import csv_cell

LIST_SEPARATOR = "; "


def _symptom(item: Symptom) -> str:
    return _with(item.description, duration=item.duration)


def _history(item: HistoryItem) -> str:
    return _with(item.description, timing=item.timing)


def _finding(item: Finding) -> str:
    return f"{item.description} (negative)" if item.negative else item.description


def _test(item: DiagnosticTest) -> str:
    text = f"{item.name}: {item.result}"
    return f"{text} (negative)" if item.negative else text


def _intervention(item: Intervention) -> str:
    return _with(f"{item.kind.value}: {item.detail}", timing=item.timing)


def _outcome(item: Outcome) -> str:
    text = f"{item.timepoint}: {item.description}" if item.timepoint else item.description
    return f"{text} ({item.status.value})"


def _with(text: str, **qualifiers: str | None) -> str:
    extra = ", ".join(f"{name} {value}" for name, value in qualifiers.items() if value)
    return f"{text} ({extra})" if extra else text


# How each list field of CaseReport reads in one cell; a new list field in the schema
# without an entry here fails at import (and the pinned header test shows the change).
LIST_FORMATS: dict[str, Callable[[Any], str]] = {
    "presentation": _symptom,
    "history": _history,
    "clinical_findings": _finding,
    "diagnostic_assessment": _test,
    "interventions": _intervention,
    "outcomes": _outcome,
}

_SCALARS_BEFORE = ("id", "title", "article_type", "patient_count")
_PATIENT = ("patient_age_years", "patient_age_text", "patient_sex", "patient_descriptors")
_SCALARS_AFTER = (
    "diagnosis_final",
    "diagnosis_differential",
)
_STATEMENTS = ("why_reported", "conclusion", "summary")
_RUN = (
    "evidence_count",
    "unaligned_count",
    "grounding_rate",
    "source",
    "backend",
    "model",
    "prompt_version",
    "schema_version",
    "attempts",
    "tokens_total",
    "latency_s",
    "warnings",
    "error_type",
    "error",
)


def _columns() -> tuple[str, ...]:
    """The header, from CaseReport's fields in schema order (independent of any data)."""
    columns: list[str] = list(_SCALARS_BEFORE)
    seen = {"title", "article_type", "patient_count"}
    for name in CaseReport.model_fields:
        if name in seen:
            continue
        if name == "patient":
            columns.extend(_PATIENT)
        elif name == "diagnosis":
            columns.extend(_SCALARS_AFTER)
        elif name in _STATEMENTS:
            columns.append(name)
        elif name in LIST_FORMATS:
            columns.extend((name, f"{name}_count"))
        else:  # pragma: no cover - guards schema changes
            raise RuntimeError(f"CaseReport.{name} has no CSV column; add it to output/table.py")
    columns.extend(_RUN)
    return tuple(columns)


COLUMNS: tuple[str, ...] = _columns()
"""The CSV header: the same for every record, batch and file."""


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _text(value: str | None) -> str:
    return csv_cell(value)


def _join(items: list[Any], render: Callable[[Any], str]) -> str:
    return LIST_SEPARATOR.join(render(item) for item in items)


def record_row(result: Result) -> dict[str, str]:
    """The CSV row of a result, keyed by COLUMNS."""
    record = result.record
    provenance = result.provenance
    row: dict[str, str] = {
        "id": _text(result.id),
        "title": _text(record.title),
        "article_type": record.article_type.value,
        "patient_count": _cell(record.patient_count),
        "patient_age_years": _cell(record.patient.age_years),
        "patient_age_text": _text(record.patient.age_text),
        "patient_sex": record.patient.sex.value,
        "patient_descriptors": _text(LIST_SEPARATOR.join(record.patient.descriptors)),
        "diagnosis_final": _text(record.diagnosis.final if record.diagnosis else None),
        "diagnosis_differential": _text(
            LIST_SEPARATOR.join(record.diagnosis.differential) if record.diagnosis else None
        ),
        "why_reported": _text(record.why_reported.text if record.why_reported else None),
        "conclusion": _text(record.conclusion.text if record.conclusion else None),
        "summary": _text(record.summary),
        "evidence_count": str(len(result.evidence)),
        "unaligned_count": str(sum(span.status.value == "unaligned" for span in result.evidence)),
        "grounding_rate": f"{result.grounding_rate:.3f}",
        "source": _text(provenance.source),
        "backend": provenance.backend,
        "model": _text(provenance.model),
        "prompt_version": _text(provenance.prompt_version),
        "schema_version": provenance.schema_version,
        "attempts": str(provenance.attempts),
        "tokens_total": str(provenance.tokens.total_tokens),
        "latency_s": f"{provenance.latency_s:.3f}",
        "warnings": _text(LIST_SEPARATOR.join(provenance.warnings)),
        "error_type": "",
        "error": "",
    }
    for name, render in LIST_FORMATS.items():
        items: list[BaseModel] = getattr(record, name)
        row[name] = _text(_join(items, render))
        row[f"{name}_count"] = str(len(items))
    return row


def failure_row(failure: Failure) -> dict[str, str]:
    """The CSV row of a failure: its id, source and error; every other cell empty."""
    row = dict.fromkeys(COLUMNS, "")
    row.update(
        id=_text(failure.id),
        source=_text(failure.source),
        error_type=type(failure.error).__name__,
        error=_text(str(failure.error)),
    )
    return row


def row(item: Result | Failure) -> dict[str, str]:
    return failure_row(item) if isinstance(item, Failure) else record_row(item)


class CsvFormat:
    """Header before the first row (or at close, so even an empty batch has one)."""

    def __init__(self, stream: IO[str], *, single: bool = False) -> None:
        self.single = single
        self._writer = csv.DictWriter(
            stream, fieldnames=COLUMNS, extrasaction="raise", quoting=csv.QUOTE_MINIMAL
        )
        self._header_written = False

    def _header(self) -> None:
        if not self._header_written:
            self._writer.writeheader()
            self._header_written = True

    def write(self, item: Result | Failure) -> None:
        self._header()
        self._writer.writerow(row(item))

    def close(self) -> None:
        if not self.single:  # a single record that failed is reported, not written
            self._header()
