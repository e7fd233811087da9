"""A review of one records file: the records, the queue, and every change a reviewer makes.

``ReviewSession`` is what the web page calls; it holds no web code, so the CLI exports
and the tests use it directly. A change is validated before it is stored:

- an edit replaces one top-level field; the whole record must still validate against
  ``CaseReport`` (enums, bounds, the 60-word summary, timepoints…), and an age given as
  a number must agree with the age as written when that parses; otherwise ``EditError``
  says what is wrong and nothing changes;
- quote offsets (from a selection in the abstract) are kept only where they hold the
  quote; a quote that moved is found again nearest to where it was;
- every change names the record version it was made on (``ConflictError`` otherwise).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..ages import parse_age
from ..errors import InputError, SummarizerError
from ..ground import AlignmentStatus, EvidenceSpan, ground, iter_evidence
from ..output.contract import has_abstract, read_results
from ..pipeline import Failure, Result
from ..schema import CaseReport
from ..sinks import BIDI_CONTROLS
from .fields import FIELD_NAMES
from .queue import QueueEntry, Reason, reasons_for
from .review_store import FieldReview, RecordReview, ReviewStore, default_store_path, now

__all__ = ["FIELD_STATUSES", "EditError", "ReviewSession"]

FIELD_STATUSES = ("accepted", "corrected", "rejected")
AGE_AGREEMENT_YEARS = 0.005
LAST_OPENED = "last_opened"


class EditError(SummarizerError):
    """An edit the schema refuses; the message says which field and why."""

    exit_code = 2


def _record_hash(record: Mapping[str, Any]) -> str:
    text = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _where(location: tuple[int | str, ...]) -> str:
    out = ""
    for part in location:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validation_message(error: ValidationError) -> str:
    """A ValidationError as short lines: ``patient.age_years: must be ≤ 125``."""
    lines = []
    for problem in error.errors()[:5]:
        message = str(problem["msg"]).removeprefix("Value error, ")
        lines.append(f"{_where(tuple(problem['loc'])) or 'record'}: {message}")
    more = len(error.errors()) - 5
    if more > 0:
        lines.append(f"(and {more} more)")
    return "; ".join(lines)


def _field_of(path: str) -> str:
    return path.split(".", 1)[0].split("[", 1)[0]


@dataclass(frozen=True, slots=True)
class RecordState:
    """A record as the reviewer sees it now: the model's, edited, with its review."""

    result: Result
    """The original result (the model's record, abstract and provenance)."""
    record: CaseReport
    """The record with the reviewer's edits."""
    evidence: list[EvidenceSpan]
    """The evidence of ``record``, aligned (selected offsets first)."""
    review: RecordReview

    @property
    def id(self) -> str:
        return self.result.id

    def field_status(self, name: str) -> str:
        state = self.review.fields.get(name)
        return state.status if state else "unreviewed"

    @property
    def reviewed_count(self) -> int:
        return sum(name in self.review.fields for name in FIELD_NAMES)

    def review_block(self) -> dict[str, Any]:
        """The ``review`` block of an exported line."""
        status = (
            "done" if self.review.done else "in_progress" if self.review.started else "unreviewed"
        )
        fields: dict[str, dict[str, str | None]] = {}
        for name in FIELD_NAMES:
            state = self.review.fields.get(name)
            fields[name] = (
                {"status": state.status, "set_at": state.set_at}
                if state
                else {"status": "unreviewed", "set_at": None}
            )
        return {
            "status": status,
            "done_at": self.review.done_at,
            "updated_at": self.review.updated_at,
            "version": self.review.version,
            "fields": fields,
        }

    def reviewed_result(self) -> Result:
        """The result with the reviewed record and its evidence (provenance unchanged)."""
        return replace(self.result, record=self.record, evidence=self.evidence)


class ReviewSession:
    """The review of one RECORDS.jsonl file, stored in SQLite beside it."""

    def __init__(self, records: Path, *, store: Path | None = None) -> None:
        self.records_path = records
        if not records.is_file():
            raise InputError("no such records file", path=str(records))
        self.results: dict[str, Result] = {}
        self.failures: list[Failure] = []
        self.order: list[str] = []
        for item in read_results(records):
            if isinstance(item, Failure):
                self.failures.append(item)
            elif item.id not in self.results:
                self.results[item.id] = item
                self.order.append(item.id)
        if not self.results and not self.failures:
            raise InputError("no records in the file", path=str(records))
        self.store_path = store or default_store_path(records)
        self.store = ReviewStore(self.store_path)
        self._reasons = {ident: tuple(reasons_for(self.results[ident])) for ident in self.order}
        self._original = {
            ident: result.record.model_dump(mode="json") for ident, result in self.results.items()
        }

    def close(self) -> None:
        self.store.close()

    # -- reading -----------------------------------------------------------------
    def result(self, record_id: str) -> Result:
        try:
            return self.results[record_id]
        except KeyError:
            raise InputError(f"no record {record_id!r} in this file") from None

    def state(self, record_id: str, review: RecordReview | None = None) -> RecordState:
        result = self.result(record_id)
        review = review or self.store.get(record_id)
        record = (
            CaseReport.model_validate(review.record) if review.record is not None else result.record
        )
        return RecordState(result, record, self._evidence(result, record, review), review)

    def states(self) -> Iterator[RecordState]:
        reviews = self.store.all()
        for ident in self.order:
            yield self.state(ident, reviews.get(ident) or RecordReview(id=ident))

    def queue(self) -> list[tuple[QueueEntry, RecordReview]]:
        """Every record with its reasons and review; records not done first, then by
        score, then input order."""
        reviews = self.store.all()
        entries = []
        for position, ident in enumerate(self.order):
            result = self.results[ident]
            entry = QueueEntry(
                ident,
                result.record.title or result.abstract.title or ident,
                position,
                self._reasons[ident],
            )
            entries.append((entry, reviews.get(ident) or RecordReview(id=ident)))
        entries.sort(key=lambda pair: (pair[1].done, -pair[0].score, pair[0].position))
        return entries

    def reasons(self, record_id: str) -> tuple[Reason, ...]:
        """Why the queue flagged this record (computed once, from the model's record)."""
        self.result(record_id)
        return self._reasons[record_id]

    @property
    def last_opened(self) -> str | None:
        ident = self.store.get_state(LAST_OPENED)
        return ident if ident in self.results else None

    def opened(self, record_id: str) -> None:
        """Remember where the reviewer is, so reopening resumes there."""
        self.result(record_id)
        self.store.set_state(LAST_OPENED, record_id)

    # -- changing ----------------------------------------------------------------
    def edit(
        self,
        record_id: str,
        name: str,
        value: Any,
        *,
        version: int,
        offsets: Mapping[str, Any] | None = None,
    ) -> RecordState:
        """Replace field ``name`` with ``value`` (JSON); it becomes corrected (or accepted
        when it equals the model's value). Raises EditError, ConflictError."""
        current = self.state(record_id)
        self._check_field(name)
        value = _restore_bidi(value)
        candidate = current.record.model_dump(mode="json")
        candidate[name] = value
        try:
            record = CaseReport.model_validate(candidate)
        except ValidationError as error:
            raise EditError(validation_message(error)) from None
        if name == "patient" and isinstance(value, Mapping):
            self._check_age(value, current.record)
        dumped = record.model_dump(mode="json")
        original = self._original[record_id]
        status = "accepted" if dumped[name] == original[name] else "corrected"
        kept = self._offsets(current.result, record, name, offsets or {})
        base = _record_hash(original)

        def apply(review: RecordReview) -> RecordReview:
            others = {p: pair for p, pair in review.offsets.items() if _field_of(p) != name}
            fields = dict(review.fields)
            fields[name] = FieldReview(status, now())
            return replace(
                review, record=dumped, offsets=others | kept, fields=fields, base_hash=base
            )

        detail = {"field": name, "value": dumped[name], "status": status}
        review = self.store.change(
            record_id, version=version, action="edit", detail=detail, apply=apply
        )
        return self.state(record_id, review)

    def mark(self, record_id: str, name: str, status: str, *, version: int) -> RecordState:
        """Set a field's status: ``accepted`` (``corrected`` when it was edited),
        ``rejected``, or ``unreviewed`` to clear it."""
        current = self.state(record_id)
        self._check_field(name)
        if status not in (*FIELD_STATUSES, "unreviewed"):
            raise EditError(f"unknown status {status!r}: accepted, rejected or unreviewed")
        if status in ("accepted", "corrected"):
            edited = current.record.model_dump(mode="json")[name]
            status = "accepted" if edited == self._original[record_id][name] else "corrected"

        def apply(review: RecordReview) -> RecordReview:
            fields = dict(review.fields)
            if status == "unreviewed":
                fields.pop(name, None)
            else:
                fields[name] = FieldReview(status, now())
            return replace(review, fields=fields)

        review = self.store.change(
            record_id,
            version=version,
            action="status",
            detail={"field": name, "status": status},
            apply=apply,
        )
        return self.state(record_id, review)

    def reset(self, record_id: str, name: str, *, version: int) -> RecordState:
        """Put the model's value of a field back and clear its status."""
        current = self.state(record_id)
        self._check_field(name)
        candidate = current.record.model_dump(mode="json")
        candidate[name] = self._original[record_id][name]
        record = CaseReport.model_validate(candidate)

        def apply(review: RecordReview) -> RecordReview:
            fields = {key: value for key, value in review.fields.items() if key != name}
            offsets = {p: pair for p, pair in review.offsets.items() if _field_of(p) != name}
            return replace(
                review, record=record.model_dump(mode="json"), offsets=offsets, fields=fields
            )

        review = self.store.change(
            record_id, version=version, action="reset", detail={"field": name}, apply=apply
        )
        return self.state(record_id, review)

    def set_done(self, record_id: str, done: bool, *, version: int) -> RecordState:
        self.result(record_id)

        def apply(review: RecordReview) -> RecordReview:
            return replace(review, done_at=now() if done else None)

        review = self.store.change(
            record_id, version=version, action="done", detail={"done": done}, apply=apply
        )
        return self.state(record_id, review)

    # -- internals ---------------------------------------------------------------
    @staticmethod
    def _check_field(name: str) -> None:
        if name not in FIELD_NAMES:
            raise EditError(f"unknown field {name!r}; fields: {', '.join(FIELD_NAMES)}")

    @staticmethod
    def _check_age(value: Mapping[str, Any], current: CaseReport) -> None:
        """An age number must agree with the age as written where that parses; a new text
        with the number left as it was wins (the number follows the text)."""
        text, years = value.get("age_text"), value.get("age_years")
        if not text or years is None:
            return
        parsed = parse_age(str(text))
        if parsed is None or abs(float(years) - parsed) <= AGE_AGREEMENT_YEARS:
            return
        before = current.patient
        number_kept = (
            before.age_years is not None
            and abs(float(years) - before.age_years) <= AGE_AGREEMENT_YEARS
        )
        if number_kept and text != before.age_text:
            return
        raise EditError(
            f"patient.age_years: {float(years):g} years disagrees with the age as written "
            f"{text!r} ({parsed:g} years); change one of them"
        )

    @staticmethod
    def _offsets(
        result: Result, record: CaseReport, name: str, given: Mapping[str, Any]
    ) -> dict[str, tuple[int, int]]:
        """The selected offsets of field ``name`` that hold their quote (moved ones found
        again nearest to where they were)."""
        text = result.abstract.text
        quotes = dict(iter_evidence(record))
        kept: dict[str, tuple[int, int]] = {}
        for path, pair in given.items():
            quote = quotes.get(path)
            if quote is None or _field_of(path) != name:
                continue
            try:
                start, end = int(pair[0]), int(pair[1])
            except (TypeError, ValueError, IndexError):
                continue
            if text[start:end] != quote:
                starts = _occurrences(text, quote)
                if not starts:
                    continue
                start = min(starts, key=lambda found: abs(found - start))
                end = start + len(quote)
            kept[path] = (start, end)
        return kept

    @staticmethod
    def _evidence(result: Result, record: CaseReport, review: RecordReview) -> list[EvidenceSpan]:
        """Spans of ``record``: selected offsets where the reviewer chose them, else
        aligned; the page offsets of the original span are kept where it did not move."""
        if not has_abstract(result):
            return [
                EvidenceSpan(path, quote, AlignmentStatus.unaligned, -1, -1, -1, -1, 0.0)
                for path, quote in iter_evidence(record)
            ]
        original = {(span.field, span.quote, span.start): span for span in result.evidence}
        spans = []
        for span in ground(record, result.abstract):
            chosen = review.offsets.get(span.field)
            if chosen is not None and result.abstract.text[chosen[0] : chosen[1]] == span.quote:
                span = replace(
                    span,
                    status=AlignmentStatus.exact,
                    start=chosen[0],
                    end=chosen[1],
                    score=100.0,
                    page=result.abstract.page_at(chosen[0]),
                )
            before = original.get((span.field, span.quote, span.start))
            source = (before.source_start, before.source_end) if before else (-1, -1)
            spans.append(replace(span, source_start=source[0], source_end=source[1]))
        return spans


_SHOWN_BIDI = re.compile(r"\[U\+([0-9A-F]{4})\]")


def _restore_bidi(value: Any) -> Any:
    """The page shows a bidi control as ``[U+202E]`` (sinks.visible_bidi); a value sent
    back from it gets the character again, so saving a field changes only what the
    reviewer changed."""
    if isinstance(value, str):
        return _SHOWN_BIDI.sub(
            lambda match: (
                chr(int(match[1], 16)) if chr(int(match[1], 16)) in BIDI_CONTROLS else match[0]
            ),
            value,
        )
    if isinstance(value, list):
        return [_restore_bidi(item) for item in value]
    if isinstance(value, dict):
        return {key: _restore_bidi(item) for key, item in value.items()}
    return value


def _occurrences(text: str, quote: str) -> list[int]:
    found, start = [], text.find(quote)
    while start >= 0 and quote:
        found.append(start)
        start = text.find(quote, start + 1)
    return found
