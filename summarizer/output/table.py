"""The review table: one row per record, with a fixed header derived from the schema.

Every file of every batch has the same columns, in the same order, whatever the records
hold (an empty record, a full one, a failure, a reviewed one). The columns:

- the record's id and title, then the export's ``key``, ``authors``, ``year``,
  ``journal`` and ``doi`` when the input had them (``Provenance.reference``);
- every schema field; each grounded field is followed by ``<field>_evidence`` (its
  verbatim quote) and ``<field>_evidence_status`` (exact / normalised / fuzzy /
  unaligned), so a reviewer reads a value beside the words that support it;
- ``evidence_pages``: for a PDF, the page each quote was printed on (``patient: p. 1``);
- how the record was made (backend, model, prompt, tokens, warnings), a failure's error,
  and, for ``review export``, the review: the record's status and each field's, who
  reviewed, the include/exclude decision and its reason, the notes, and corrected values
  their evidence does not support.

Lists (a field's items, their quotes and statuses item for item, descriptors,
differentials, warnings) are one cell each holding a JSON array of strings
(``["fever", "rash"]``): separators inside items need no escaping, a spreadsheet keeps a
cell that starts with ``[`` as text, and ``decode_row`` splits it back exactly. An empty
list, like any value not reported, is an empty cell; ``patient_sex`` keeps the explicit
``not_reported``. A failed record keeps its id, title and reference.

Text cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``,
``@``, tab or carriage return, as OWASP lists for CSV injection) get a leading
apostrophe: a record's text comes from the abstract, which is untrusted input.
``decode_row`` takes it off again.

``typed_row`` is the same row with typed values (``int``, ``float``, ``list[str]``,
``None`` for not reported): ``typed_row(result)`` and ``to_dataframe``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from typing import IO, TYPE_CHECKING, Any, Literal

from ..reference import REFERENCE_FIELDS
from ..results import Failure, Result
from ..schema import CaseReport, ListItem
from ..sinks import csv_cell, csv_cell_text

if TYPE_CHECKING:  # pragma: no cover
    import pandas

__all__ = [
    "COLUMNS",
    "COLUMN_KINDS",
    "CsvFormat",
    "csv_row",
    "decode_row",
    "to_dataframe",
    "typed_row",
]

Kind = Literal["text", "int", "float", "list"]

REVIEW_STATUSES = ("accepted", "corrected", "rejected")

# The one guard every text cell goes through: the shared one for every CSV the tool writes.
_guard = csv_cell


# The list fields of CaseReport; a new list field in the schema without an entry here
# fails at import (and the pinned header test shows the change). Each item reads as its
# schema label (``surgery: posterior resection (timing 2019)``).
LIST_FIELDS = (
    "presentation",
    "history",
    "clinical_findings",
    "diagnostic_assessment",
    "interventions",
    "outcomes",
)

_PATIENT: dict[str, Kind] = {
    "patient_age_years": "float",
    "patient_age_text": "text",
    "patient_sex": "text",
    "patient_descriptors": "list",
}
_STATEMENTS = ("why_reported", "conclusion")
_RUN: dict[str, Kind] = {
    "evidence_count": "int",
    "unaligned_count": "int",
    "evidence_pages": "list",
    "grounding_rate": "float",
    "source": "text",
    "backend": "text",
    "model": "text",
    "prompt_version": "text",
    "schema_version": "text",
    "attempts": "int",
    "tokens_total": "int",
    "latency_s": "float",
    "warnings": "list",
    "error_type": "text",
    "error": "text",
}
_REVIEW: dict[str, Kind] = {
    "review_status": "text",
    "review_accepted": "list",
    "review_corrected": "list",
    "review_rejected": "list",
    "review_reviewer": "text",
    "review_decision": "text",
    "review_decision_reason": "text",
    "review_note": "text",
    "review_field_notes": "list",
    "review_unsupported": "list",
}


def _evidence_columns(name: str, kind: Kind) -> dict[str, Kind]:
    return {f"{name}_evidence": kind, f"{name}_evidence_status": kind}


def _columns() -> dict[str, Kind]:
    """The header and each column's kind, from CaseReport's fields in schema order."""
    columns: dict[str, Kind] = {"id": "text", "title": "text"}
    columns.update(dict.fromkeys(REFERENCE_FIELDS, "text"))
    for name in CaseReport.model_fields:
        if name == "title":
            continue
        if name == "article_type":
            columns[name] = "text"
        elif name == "patient_count":
            columns[name] = "int"
        elif name == "patient":
            columns.update(_PATIENT)
            columns.update(_evidence_columns("patient", "text"))
        elif name == "diagnosis":
            columns.update({"diagnosis_final": "text", "diagnosis_differential": "list"})
            columns.update(_evidence_columns("diagnosis", "text"))
        elif name in _STATEMENTS:
            columns[name] = "text"
            columns.update(_evidence_columns(name, "text"))
        elif name == "summary":
            columns[name] = "text"
        elif name in LIST_FIELDS:
            columns.update({name: "list", f"{name}_count": "int"})
            columns.update(_evidence_columns(name, "list"))
        else:  # pragma: no cover - guards schema changes
            raise RuntimeError(f"CaseReport.{name} has no CSV column; add it to output/table.py")
    columns.update(_RUN)
    columns.update(_REVIEW)
    return columns


COLUMN_KINDS: dict[str, Kind] = _columns()
COLUMNS: tuple[str, ...] = tuple(COLUMN_KINDS)
"""The CSV header: the same for every record, batch and file."""


def _statuses(result: Result) -> dict[str, str]:
    return {span.field: span.status.value for span in result.evidence}


def _review_columns(review: Mapping[str, Any] | None) -> dict[str, Any]:
    lists = ("field_notes", "unsupported", *REVIEW_STATUSES)
    if review is None:
        return dict.fromkeys(_REVIEW) | {f"review_{name}": [] for name in lists}
    fields: Mapping[str, Mapping[str, Any]] = review.get("fields", {})
    row: dict[str, Any] = {"review_status": review.get("status")}
    for status in REVIEW_STATUSES:
        row[f"review_{status}"] = [
            name for name, state in fields.items() if state.get("status") == status
        ]
    row.update(
        review_reviewer=review.get("reviewer"),
        review_decision=review.get("decision"),
        review_decision_reason=review.get("decision_reason"),
        review_note=review.get("note"),
        review_field_notes=[
            f"{name}: {state['note']}" for name, state in fields.items() if state.get("note")
        ],
        review_unsupported=[
            line for lines in (review.get("unsupported") or {}).values() for line in lines
        ],
    )
    return row


def _reference(reference: Mapping[str, str]) -> dict[str, Any]:
    return {name: reference.get(name) or None for name in REFERENCE_FIELDS}


def typed_row(item: Result | Failure, *, review: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The row of a result or failure with typed values, keyed by COLUMNS.

    ``review`` is an exported ``review`` block (``{"status", "fields": {name:
    {"status", "set_at"}}}``) for the review columns.
    """
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    if isinstance(item, Failure):
        row.update(id=item.id, title=item.title, source=item.source or None)
        row.update(_reference(item.reference))
        row.update(error_type=item.error_type, error=str(item.error))
        row.update(_review_columns(review))
        return row
    record, provenance = item.record, item.provenance
    statuses = _statuses(item)

    def evidence(name: str, quote: str | None) -> None:
        row[f"{name}_evidence"] = quote or None
        row[f"{name}_evidence_status"] = statuses.get(name) if quote else None

    row.update(
        id=item.id,
        title=record.title,
        article_type=record.article_type.value,
        patient_count=record.patient_count,
        patient_age_years=record.patient.age_years,
        patient_age_text=record.patient.age_text,
        patient_sex=record.patient.sex.value,
        patient_descriptors=list(record.patient.descriptors),
        diagnosis_final=record.diagnosis.final if record.diagnosis else None,
        diagnosis_differential=list(record.diagnosis.differential) if record.diagnosis else [],
        summary=record.summary,
    )
    row.update(_reference(provenance.reference))
    evidence("patient", record.patient.evidence)
    evidence("diagnosis", record.diagnosis.evidence if record.diagnosis else None)
    for name in _STATEMENTS:
        statement = getattr(record, name)
        row[name] = statement.text if statement else None
        evidence(name, statement.evidence if statement else None)
    for name in LIST_FIELDS:
        items: list[ListItem] = getattr(record, name)
        row[name] = [entry.label for entry in items]
        row[f"{name}_count"] = len(items)
        row[f"{name}_evidence"] = [entry.evidence for entry in items]
        row[f"{name}_evidence_status"] = [
            statuses.get(f"{name}[{position}]", "unaligned") for position in range(len(items))
        ]
    row.update(
        evidence_count=len(item.evidence),
        unaligned_count=sum(span.status.value == "unaligned" for span in item.evidence),
        evidence_pages=[
            f"{span.field}: p. {span.page}" for span in item.evidence if span.page is not None
        ],
        grounding_rate=round(item.grounding_rate, 3),
        source=provenance.source or None,
        backend=provenance.backend,
        model=provenance.model,
        prompt_version=provenance.prompt_version,
        schema_version=provenance.schema_version,
        attempts=provenance.attempts,
        tokens_total=provenance.tokens.total_tokens,
        latency_s=round(provenance.latency_s, 3),
        warnings=list(provenance.warnings),
    )
    row.update(_review_columns(review))
    return row


def _encode(kind: Kind, value: Any) -> str:
    if value is None:
        return ""
    if kind == "list":
        return json.dumps(list(value), ensure_ascii=False) if value else ""
    if kind == "float":
        return f"{value:g}"
    if kind == "int":
        return str(int(value))
    return _guard(str(value))


def csv_row(typed: Mapping[str, Any]) -> dict[str, str]:
    """The CSV cells of a typed row: lists as JSON arrays, text guarded against formulas."""
    return {name: _encode(kind, typed.get(name)) for name, kind in COLUMN_KINDS.items()}


def _decode(kind: Kind, cell: str) -> Any:
    if kind == "list":
        return [str(item) for item in json.loads(cell)] if cell else []
    if not cell:
        return None
    if kind == "int":
        return int(cell)
    if kind == "float":
        return float(cell)
    return csv_cell_text(cell)


def decode_row(cells: Mapping[str, str]) -> dict[str, Any]:
    """A CSV row read back (csv.DictReader) as typed values: the inverse of ``csv_row``.

    Lists come back as lists, numbers as numbers and guarded text as written. For a
    failed row, list columns come back as ``[]`` (its typed row holds ``None``).
    """
    return {name: _decode(kind, cells.get(name, "")) for name, kind in COLUMN_KINDS.items()}


def to_dataframe(items: Iterable[Result | Failure]) -> pandas.DataFrame:
    """A pandas DataFrame of typed rows (one per result or failure, columns = COLUMNS).

    pandas is optional: ``pip install 'case-summarizer[dataframe]'``.
    """
    try:
        import pandas
    except ImportError as error:
        raise ModuleNotFoundError(
            "to_dataframe needs pandas: pip install 'case-summarizer[dataframe]'",
            name="pandas",
        ) from error
    return pandas.DataFrame.from_records([typed_row(item) for item in items], columns=list(COLUMNS))


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

    def write(self, item: Result | Failure, *, review: Mapping[str, Any] | None = None) -> None:
        self._header()
        self._writer.writerow(csv_row(typed_row(item, review=review)))

    def close(self) -> None:
        if not self.single:  # a single record that failed is reported, not written
            self._header()
