"""The review table: one row per record, with a fixed header derived from the schema.

Every file of every batch has the same columns, in the same order, whatever the records
hold (an empty record, a full one, a failure, a reviewed one). What a reviewer reads
comes first, what the machine kept last:

- the record's id and title, then the export's ``key``, ``authors``, ``year``,
  ``journal`` and ``doi`` when the input had them (``Provenance.reference``);
- every schema field; each grounded field is followed by ``<field>_evidence``, its
  verbatim quote, so a reviewer reads a value beside the words that support it;
- a failure's ``error``, and, for ``review export``, the review: the record's status and
  each field's, who reviewed, the include/exclude decision and its reason, the notes, and
  corrected values their evidence does not support;
- then the machine's columns: each quote's alignment (``<field>_evidence_status``:
  exact / normalised / fuzzy / unaligned), each list's item count, for a PDF the page
  each quote was printed on (``evidence_pages``: ``patient: p. 1``), and how the record
  was made (grounding, backend, model, prompt, tokens, warnings, the error's type).

Lists (a field's items, their quotes and statuses item for item, descriptors,
differentials, warnings) are one cell each, one item a line, as a spreadsheet shows a
cell with line breaks; a line break or backslash inside an item is written ``\\n``,
``\\r`` or ``\\\\`` (an empty item: a lone backslash), so ``decode_row`` splits the
cell back exactly. Not reported is an empty cell, everywhere: a value missing, an empty
list, a sex the abstract does not state. A failed record keeps its id, title and
reference.

Text cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``,
``@``, tab or carriage return, as OWASP lists for CSV injection) get a leading
apostrophe: a record's text comes from the abstract, which is untrusted input.
``decode_row`` takes it off again.

``typed_row`` is the same row with typed values (``int``, ``float``, ``list[str]``,
``None`` for not reported): ``typed_row(result)`` and ``to_dataframe``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from typing import IO, TYPE_CHECKING, Any, Literal

from ..reference import REFERENCE_FIELDS
from ..results import Failure, Result
from ..schema import CaseReport, ListItem, Sex
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


def _columns() -> dict[str, Kind]:
    """The header and each column's kind, from CaseReport's fields in schema order: first
    what a reviewer reads (the record, each value beside its quote, why a record failed,
    the review), then what the machine kept (alignment statuses, item counts, how the
    record was made)."""
    reviewer: dict[str, Kind] = {"id": "text", "title": "text"}
    reviewer.update(dict.fromkeys(REFERENCE_FIELDS, "text"))
    machine: dict[str, Kind] = {}

    def quoted(name: str, values: dict[str, Kind], kind: Kind = "text") -> None:
        reviewer.update(values)
        reviewer[f"{name}_evidence"] = kind
        machine[f"{name}_evidence_status"] = kind

    for name in CaseReport.model_fields:
        if name == "title":
            continue
        if name == "article_type":
            reviewer[name] = "text"
        elif name == "patient_count":
            reviewer[name] = "int"
        elif name == "patient":
            quoted("patient", _PATIENT)
        elif name == "diagnosis":
            quoted("diagnosis", {"diagnosis_final": "text", "diagnosis_differential": "list"})
        elif name in _STATEMENTS:
            quoted(name, {name: "text"})
        elif name == "summary":
            reviewer[name] = "text"
        elif name in LIST_FIELDS:
            machine[f"{name}_count"] = "int"
            quoted(name, {name: "list"}, "list")
        else:  # pragma: no cover - guards schema changes
            raise RuntimeError(f"CaseReport.{name} has no CSV column; add it to output/table.py")
    reviewer["error"] = "text"
    reviewer.update(_REVIEW)
    machine.update(_RUN)
    return reviewer | machine


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
        patient_sex=None if record.patient.sex is Sex.not_reported else record.patient.sex.value,
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


def _escaped(item: str) -> str:
    """An item on one line: its own backslashes and line breaks written as ``\\\\``,
    ``\\n``, ``\\r``; an empty item as a lone backslash (else ``[""]`` would read as ``[]``)."""
    if not item:
        return "\\"
    return item.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")


_ESCAPE = re.compile(r"\\(.)", re.S)
_LINE_BREAK = re.compile(r"\r\n?|\n")
_UNESCAPED = {"n": "\n", "r": "\r", "\\": "\\"}


def _unescaped(line: str) -> str:
    if line == "\\":
        return ""
    return _ESCAPE.sub(lambda match: _UNESCAPED.get(match[1], match[0]), line)


def list_cell(items: Iterable[str]) -> str:
    """A list in one cell, one item a line (an empty list: an empty cell)."""
    return "\n".join(_escaped(str(item)) for item in items)


def list_items(cell: str) -> list[str]:
    """The items of a ``list_cell``."""
    # a spreadsheet may save the line breaks as CRLF; an item's own CR is escaped
    return [_unescaped(line) for line in _LINE_BREAK.split(cell)] if cell else []


def _encode(kind: Kind, value: Any) -> str:
    if value is None:
        return ""
    if kind == "list":
        return _guard(list_cell(value))
    if kind == "float":
        return f"{value:g}"
    if kind == "int":
        return str(int(value))
    return _guard(str(value))


def csv_row(typed: Mapping[str, Any]) -> dict[str, str]:
    """The CSV cells of a typed row: lists one item a line, text guarded against formulas."""
    return {name: _encode(kind, typed.get(name)) for name, kind in COLUMN_KINDS.items()}


def _decode(kind: Kind, cell: str) -> Any:
    if kind == "list":
        return list_items(csv_cell_text(cell))
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

    Counts are pandas' nullable integers (``Int64``): a failure's row leaves them
    ``<NA>`` instead of turning the whole column into floats. pandas is optional:
    ``pip install 'case-summarizer[dataframe]'``.
    """
    try:
        import pandas
    except ImportError as error:
        raise ModuleNotFoundError(
            "to_dataframe needs pandas: pip install 'case-summarizer[dataframe]'",
            name="pandas",
        ) from error
    frame = pandas.DataFrame.from_records(
        [typed_row(item) for item in items], columns=list(COLUMNS)
    )
    counts = [name for name, kind in COLUMN_KINDS.items() if kind == "int"]
    return frame.astype(dict.fromkeys(counts, "Int64"))


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
