"""What a review produces: the reviewed records, and gold records for ``eval``.

``export_reviewed`` writes every record in the usual output contract (JSON Lines, or the
CSV review table) with the reviewer's edits, its evidence re-aligned, and a ``review``
block: the record's status and each field's status and when it was set. Failed lines
pass through unchanged.

``export_gold`` turns records marked done into gold files that ``case-summarizer gold
validate`` accepts, each with its input (the cleaned abstract text) beside it in
``inputs/``. Only the fields a reviewer accepted or corrected go into ``expected``; a
rejected or unreviewed field is left out, which the gold format reads as "not scored".
A corrected value its evidence does not support is flagged (``GoldExport.unsupported``
and the gold file's notes) for a person to check.

Both work on one reviewer's review or on an adjudication (``ConsensusSession``): its
lines carry the consensus, and both reviewers' judgements in the ``review`` block.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..errors import InputError, OutputError
from ..evaluation.gold import GoldExpected, GoldRecord, write_gold_schema
from ..output.line_store import atomic_write
from ..output.table import CsvFormat
from ..schema import CaseReport
from .session import RecordState, ReviewSession

__all__ = ["EXPORT_FORMATS", "GoldExport", "export_gold", "export_reviewed", "gold_expected"]

EXPORT_FORMATS = ("jsonl", "csv")
INPUTS_FOLDER = "inputs"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _selected(session: ReviewSession, *, done_only: bool) -> list[RecordState]:
    return [state for state in session.states() if state.review.done or not done_only]


def export_reviewed(
    session: ReviewSession, stream: IO[str], *, format: str = "jsonl", done_only: bool = False
) -> int:
    """Write the reviewed records (all, or only those marked done); returns how many."""
    if format not in EXPORT_FORMATS:
        raise InputError(f"unknown export format {format!r}; choose jsonl or csv")
    states = _selected(session, done_only=done_only)
    table = CsvFormat(stream) if format == "csv" else None
    for state in states:
        block = state.review_block()
        if table is not None:
            table.write(state.reviewed_result(), review=block)
        else:
            line = state.reviewed_result().to_dict() | {"review": block}
            stream.write(json.dumps(line, ensure_ascii=False) + "\n")
    if not done_only:
        for failure in session.failures:
            if table is not None:
                table.write(failure)
            else:
                stream.write(json.dumps(failure.to_dict(), ensure_ascii=False) + "\n")
    if table is not None:
        table.close()
    return len(states)


def gold_expected(record: CaseReport, fields: set[str]) -> GoldExpected:
    """The gold ``expected`` block of ``record``, holding only ``fields``."""
    data: dict[str, Any] = {}
    if "title" in fields:
        data["title"] = record.title
    if "article_type" in fields:
        data["article_type"] = record.article_type.value
    if "patient_count" in fields:
        data["patient_count"] = record.patient_count
    if "patient" in fields:
        patient = record.patient
        data["patient"] = {
            "age_text": patient.age_text,
            "age_years": patient.age_years,
            "sex": patient.sex.value,
        }
    lists = {
        "presentation": ("description", "duration"),
        "history": ("description", "timing"),
        "clinical_findings": ("description", "negative"),
        "diagnostic_assessment": ("name", "result", "negative"),
        "interventions": ("kind", "detail", "timing"),
        "outcomes": ("timepoint", "description", "status"),
    }
    for name, keys in lists.items():
        if name in fields:
            items = [item.model_dump(mode="json") for item in getattr(record, name)]
            data[name] = [{key: item[key] for key in keys} for item in items]
    if "diagnosis" in fields:
        diagnosis = record.diagnosis
        data["diagnosis"] = (
            {"final": diagnosis.final, "differential": list(diagnosis.differential)}
            if diagnosis
            else None
        )
    for name in ("why_reported", "conclusion"):
        if name in fields:
            statement = getattr(record, name)
            data[name] = statement.text if statement else None
    return GoldExpected.model_validate(data)


MAX_SLUG = 80
"""Characters of an id kept in a gold file's name; a longer id is cut and given a hash of
the whole id, so every name fits any file system (255 bytes) and stays unique."""


def _slug(ident: str, taken: set[str]) -> str:
    base = _UNSAFE.sub("-", ident).strip("-._") or "record"
    if not base[0].isalnum():
        base = f"r{base}"
    if len(base) > MAX_SLUG:
        digest = hashlib.sha256(ident.encode("utf-8")).hexdigest()[:12]
        base = f"{base[:MAX_SLUG].rstrip('-._')}-{digest}"
    slug, number = base, 2
    while slug in taken:
        slug, number = f"{base}-{number}", number + 1
    taken.add(slug)
    return slug


@dataclass(frozen=True, slots=True)
class GoldExport:
    """What ``export_gold`` wrote."""

    written: list[Path]
    skipped: list[str]
    """Records marked done with no accepted or corrected field (nothing to score)."""
    unsupported: list[tuple[str, str]] = field(default_factory=list)
    """(record id, finding): corrected values whose evidence does not support them."""


def export_gold(
    session: ReviewSession, directory: Path, *, done_only: bool = True, tags: tuple[str, ...] = ()
) -> GoldExport:
    """Write one gold file per reviewed record into ``directory``, inputs in ``inputs/``.

    Raises InputError when no record is marked done (or, with ``done_only=False``, none
    has a reviewed field).
    """
    states = [
        state
        for state in _selected(session, done_only=done_only)
        if state.result.abstract.text  # no text, no input to evaluate on
    ]
    if not states:
        what = "marked done" if done_only else "reviewed"
        raise InputError(f"no record is {what} yet: nothing to export as gold")
    inputs = directory / INPUTS_FOLDER
    inputs.mkdir(parents=True, exist_ok=True)
    schema = write_gold_schema(directory)  # the package's own copy, beside the files
    taken = {path.stem for path in directory.glob("*.json")}
    written: list[Path] = []
    skipped: list[str] = []
    flagged: list[tuple[str, str]] = []
    for state in states:
        fields = {
            name
            for name, review in state.review.fields.items()
            if review.status in ("accepted", "corrected")
        }
        if not fields:
            skipped.append(state.id)
            continue
        findings = [line for lines in state.unsupported().values() for line in lines]
        flagged.extend((state.id, line) for line in findings)
        slug = _slug(state.id, taken)
        _write(inputs / f"{slug}.txt", state.result.abstract.text + "\n")
        record = GoldRecord.model_validate(
            {
                **({"$schema": schema} if schema else {}),
                "id": slug,
                "input": f"{INPUTS_FOLDER}/{slug}.txt",
                "tags": ["reviewed", state.record.article_type.value, *tags],
                "expected": gold_expected(state.record, fields).model_dump(
                    mode="json", exclude_unset=True
                ),
                "notes": _notes(session, state, fields, findings),
            }
        )
        path = directory / f"{slug}.json"
        # unset expected fields stay absent ("not scored"); null ones mean "not reported"
        data = record.model_dump(mode="json", by_alias=True, exclude_unset=True)
        _write(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        written.append(path)
    return GoldExport(written, skipped, flagged)


def _write(path: Path, text: str) -> None:
    """One gold file, whole or not at all; a failure is a one-line OutputError."""
    try:
        atomic_write(path, lambda out: print(text, end="", file=out))
    except OSError as error:
        raise OutputError(f"cannot write: {error.strerror or error}", path=str(path)) from error


def _notes(
    session: ReviewSession, state: RecordState, fields: set[str], findings: list[str]
) -> str:
    provenance = state.result.provenance
    review = state.review
    rejected = sorted(name for name, value in review.fields.items() if value.status == "rejected")
    who = (
        f"adjudicated by {state.reviewer} from {' and '.join(state.extra['consensus_of'])}"
        if state.extra.get("consensus_of")
        else f"by {state.reviewer}"
    )
    parts = [
        f"Reviewed {who} from {session.records_path.name} (record {state.id}; "
        f"{provenance.backend} {provenance.model}"
        + (f", prompt {provenance.prompt_version}" if provenance.prompt_version else "")
        + f"), done {review.done_at or 'no'}.",
        f"Scored fields: {', '.join(sorted(fields))}.",
    ]
    if rejected:
        parts.append(f"Rejected, not scored: {', '.join(rejected)}.")
    if review.decision:
        reason = f" ({review.decision_reason})" if review.decision_reason else ""
        parts.append(f"Decision: {review.decision}{reason}.")
    if review.note:
        parts.append(f"Note: {review.note}")
    if findings:
        parts.append(f"Check: the evidence does not support {'; '.join(findings)}.")
    return " ".join(parts)
