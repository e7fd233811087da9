"""A review of one records file: the records, the queue, and every change a reviewer makes.

``ReviewSession`` is what the web page calls; it holds no web code, so the CLI exports
and the tests use it directly. A change is validated before it is stored:

- an edit replaces one top-level field; the whole record must still validate against
  ``CaseReport`` (enums, bounds, the 60-word summary, timepoints…), and an age given as
  a number must agree with the age as written when that parses (a number changed alone
  rewrites a written number: "34-year-old" becomes "43-year-old"); otherwise
  ``EditError`` says what is wrong and nothing changes; an edit that changes nothing is
  not a change;
- quote offsets (from a selection in the abstract) are kept only where they hold the
  quote; a quote that moved is found again nearest to where it was; the quote's page
  offsets come from the map the records line keeps;
- every change names the record version it was made on (``ConflictError`` otherwise),
  carries the reviewer's name, and can be undone (``undo``, itself a change).

The reasons a record needs a look are computed again after every change, from the
reviewed record, leaving out the fields already reviewed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..ages import AGE_PATTERN, parse_age, unit_years
from ..backends.rules import extract_rules
from ..errors import InputError, SummarizerError
from ..ground import AlignmentStatus, EvidenceSpan, ground, iter_evidence
from ..output.contract import has_abstract, read_results
from ..pipeline import Failure, Result
from ..schema import CaseReport
from ..sinks import BIDI_CONTROLS
from .fields import FIELD_NAMES
from .queue import QueueEntry, Reason, look_levels, reasons_for
from .review_store import (
    DECISIONS,
    FieldReview,
    RecordReview,
    ReviewStore,
    now,
)
from .reviewers import check_reviewer, login_name, store_for
from .support import unsupported

__all__ = ["FIELD_STATUSES", "EditError", "RecordState", "ReviewSession"]

FIELD_STATUSES = ("accepted", "corrected", "rejected")
AGE_AGREEMENT_YEARS = 0.005
LAST_OPENED = "last_opened"
MAX_NOTE = 4000


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


def _note_text(text: Any) -> str | None:
    if text is not None and not isinstance(text, str):
        raise EditError("a note is text")
    text = (text or "").strip()
    if len(text) > MAX_NOTE:
        raise EditError(f"a note holds at most {MAX_NOTE} characters")
    return text or None


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
    reviewer: str | None = None
    """Whose review this is (stamped in the export)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """More of the ``review`` block (an adjudicated review: where each value came from,
    and both reviewers' own)."""

    @property
    def id(self) -> str:
        return self.result.id

    def field_status(self, name: str) -> str:
        state = self.review.fields.get(name)
        return state.status if state else "unreviewed"

    @property
    def reviewed_count(self) -> int:
        return sum(name in self.review.fields for name in FIELD_NAMES)

    @property
    def edited_fields(self) -> list[str]:
        original = self.result.record.model_dump(mode="json")
        now_ = self.record.model_dump(mode="json")
        return [name for name in FIELD_NAMES if now_[name] != original[name]]

    def unsupported(self) -> dict[str, list[str]]:
        """Corrected values the evidence does not support (``support.unsupported``)."""
        corrected = [n for n, f in self.review.fields.items() if f.status == "corrected"]
        return unsupported(self.result.record, self.record, corrected) if corrected else {}

    def review_block(self) -> dict[str, Any]:
        """The ``review`` block of an exported line."""
        status = (
            "done" if self.review.done else "in_progress" if self.review.started else "unreviewed"
        )
        fields: dict[str, dict[str, Any]] = {}
        for name in FIELD_NAMES:
            state = self.review.fields.get(name)
            entry: dict[str, Any] = (
                state.to_dict() if state else {"status": "unreviewed", "set_at": None, "by": None}
            )
            entry["note"] = self.review.notes.get(name)
            fields[name] = entry
        return {
            "status": status,
            "reviewer": self.reviewer,
            "done_at": self.review.done_at,
            "updated_at": self.review.updated_at,
            "version": self.review.version,
            "decision": self.review.decision,
            "decision_reason": self.review.decision_reason,
            "note": self.review.note,
            "fields": fields,
            "unsupported": self.unsupported(),
        } | self.extra

    def reviewed_result(self) -> Result:
        """The result with the reviewed record and its evidence (provenance unchanged)."""
        return replace(self.result, record=self.record, evidence=self.evidence)


class ReviewSession:
    """One reviewer's review of a RECORDS.jsonl file, stored in SQLite beside it."""

    adjudicating = False
    """True for the adjudication of two reviews (``consensus.ConsensusSession``)."""

    def __init__(
        self, records: Path, *, store: Path | None = None, reviewer: str | None = None
    ) -> None:
        self.records_path = records
        if not records.is_file():
            raise InputError("no such records file", path=str(records))
        self.reviewer = check_reviewer(reviewer) if reviewer is not None else login_name()
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
        self.store_path = store or store_for(records, self.reviewer)
        self.store = ReviewStore(self.store_path, reviewer=self.reviewer)
        self._original = {
            ident: result.record.model_dump(mode="json") for ident, result in self.results.items()
        }
        self._rules: dict[str, CaseReport | None] = {}
        self._initial: dict[str, tuple[Reason, ...]] = {}
        self._states: dict[str, RecordState] = {}

    def close(self) -> None:
        self.store.close()

    def review_stores(self) -> list[ReviewStore]:
        """The stores this review reads (its own; an adjudication: both reviews' too)."""
        return [self.store]

    # -- reading -----------------------------------------------------------------
    def result(self, record_id: str) -> Result:
        try:
            return self.results[record_id]
        except KeyError:
            raise InputError(f"no record {record_id!r} in this file") from None

    def state(self, record_id: str, review: RecordReview | None = None) -> RecordState:
        result = self.result(record_id)
        review = review if review is not None else self.store.get(record_id)
        cached = self._states.get(record_id)
        if cached is not None and cached.review == review:
            return cached
        record = (
            CaseReport.model_validate(review.record) if review.record is not None else result.record
        )
        state = RecordState(
            result, record, self._evidence(result, record, review), review, self.reviewer
        )
        self._states[record_id] = state
        return state

    def states(self) -> Iterator[RecordState]:
        reviews = self.store.all()
        for ident in self.order:
            yield self.state(ident, reviews.get(ident) or RecordReview(id=ident))

    def _rules_record(self, result: Result) -> CaseReport | None:
        """The rules backend's record of the abstract (None for a rules record itself)."""
        if not has_abstract(result) or result.provenance.prompt_version is None:
            return None
        if result.id not in self._rules:
            self._rules[result.id] = extract_rules(result.abstract)
        return self._rules[result.id]

    def reasons(self, record_id: str, state: RecordState | None = None) -> tuple[Reason, ...]:
        """Why this record needs a look now: computed from the reviewed record, leaving out
        the fields already reviewed."""
        state = state or self.state(record_id)
        if not state.review.started:
            if record_id not in self._initial:
                self._initial[record_id] = tuple(
                    reasons_for(state.result, rules=self._rules_record(state.result))
                )
            return self._initial[record_id]
        return tuple(
            reasons_for(
                state.reviewed_result(),
                rules=self._rules_record(state.result),
                reviewed=set(state.review.fields),
            )
        )

    def looks(self, record_id: str, state: RecordState | None = None) -> dict[str, int]:
        """How much each field needs a look (2: a strong reason, 1: missing, absent: 0)."""
        return look_levels(self.reasons(record_id, state))

    def queue(self) -> list[tuple[QueueEntry, RecordReview]]:
        """Every record with its reasons and review; records not done first, then by
        score, then input order."""
        reviews = self.store.all()
        entries = []
        for position, ident in enumerate(self.order):
            result = self.results[ident]
            review = reviews.get(ident) or RecordReview(id=ident)
            reasons = self.reasons(ident, self.state(ident, review))
            title = result.record.title or result.abstract.title or ident
            entries.append((QueueEntry(ident, title, position, reasons), review))
        entries.sort(key=lambda pair: (pair[1].done, -pair[0].score, pair[0].position))
        return entries

    def first_to_do(self) -> str | None:
        """The first record of the queue not done (None: all done)."""
        return next((entry.id for entry, review in self.queue() if not review.done), None)

    def next_to_do(self, record_id: str) -> str | None:
        """The record to open once ``record_id`` is done: the first of the queue not done
        (the one that most needs a person now), other than itself."""
        return next(
            (
                entry.id
                for entry, review in self.queue()
                if not review.done and entry.id != record_id
            ),
            None,
        )

    @property
    def last_opened(self) -> str | None:
        ident = self.store.get_state(LAST_OPENED)
        return ident if ident in self.results else None

    def opened(self, record_id: str) -> None:
        """Remember where the reviewer is, so reopening resumes there."""
        self.result(record_id)
        self.store.set_state(LAST_OPENED, record_id)

    def resume_at(self) -> str | None:
        """Where the page opens: the record last opened when it is not done, else the
        first record to do."""
        last = self.last_opened
        if last is not None and not self.store.get(last).done:
            return last
        return self.first_to_do()

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
        when it equals the model's value). An edit that changes nothing is no change.
        Raises EditError, ConflictError."""
        current = self.state(record_id)
        self._check_field(name)
        value = _restore_bidi(value)
        if name == "patient" and isinstance(value, Mapping):
            value = self._check_age(dict(value), current.record)
        candidate = current.record.model_dump(mode="json")
        candidate[name] = value
        try:
            record = CaseReport.model_validate(candidate)
        except ValidationError as error:
            raise EditError(validation_message(error)) from None
        dumped = record.model_dump(mode="json")
        original = self._original[record_id]
        kept = self._offsets(current.result, record, name, offsets or {})
        shown = {span.field: (span.start, span.end) for span in current.evidence}
        if (
            dumped[name] == current.record.model_dump(mode="json")[name]
            and all(shown.get(path) == pair for path, pair in kept.items())
            and current.review.version == version
        ):
            return current  # nothing changed: no change to store
        status = "accepted" if dumped[name] == original[name] else "corrected"
        base = _record_hash(original)
        by = self.reviewer

        def apply(review: RecordReview) -> RecordReview:
            others = {p: pair for p, pair in review.offsets.items() if _field_of(p) != name}
            fields = dict(review.fields)
            fields[name] = FieldReview(status, now(), by)
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
            status = self._accepted_status(record_id, current, name)
        by = self.reviewer

        def apply(review: RecordReview) -> RecordReview:
            fields = dict(review.fields)
            if status == "unreviewed":
                fields.pop(name, None)
            else:
                fields[name] = FieldReview(status, now(), by)
            return self._pinned(replace(review, fields=fields), current, [name])

        review = self.store.change(
            record_id,
            version=version,
            action="status",
            detail={"field": name, "status": status},
            apply=apply,
        )
        return self.state(record_id, review)

    def accept_all(self, record_id: str, *, version: int) -> tuple[RecordState, list[str]]:
        """Accept every field not yet reviewed (``corrected`` where it was edited): the
        fast path of a record the model got right. Returns the fields it accepted."""
        current = self.state(record_id)
        names = [name for name in FIELD_NAMES if name not in current.review.fields]
        if not names:
            return current, []
        statuses = {name: self._accepted_status(record_id, current, name) for name in names}
        by = self.reviewer

        def apply(review: RecordReview) -> RecordReview:
            at = now()
            fields = dict(review.fields)
            fields.update({name: FieldReview(statuses[name], at, by) for name in names})
            return self._pinned(replace(review, fields=fields), current, names)

        review = self.store.change(
            record_id,
            version=version,
            action="accept_all",
            detail={"fields": statuses},
            apply=apply,
        )
        return self.state(record_id, review), names

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

    def note(self, record_id: str, name: str | None, text: Any, *, version: int) -> RecordState:
        """Set the note of field ``name`` (None: of the record); empty text removes it."""
        current = self.state(record_id)
        if name is not None:
            self._check_field(name)
        text = _note_text(text)
        before = current.review.note if name is None else current.review.notes.get(name)
        if text == before:
            return current

        def apply(review: RecordReview) -> RecordReview:
            if name is None:
                return replace(review, note=text)
            notes = {key: value for key, value in review.notes.items() if key != name}
            return replace(review, notes=notes | ({name: text} if text else {}))

        review = self.store.change(
            record_id,
            version=version,
            action="note",
            detail={"field": name, "note": text},
            apply=apply,
        )
        return self.state(record_id, review)

    def decide(self, record_id: str, decision: Any, reason: Any, *, version: int) -> RecordState:
        """Set the record's include/exclude decision (None: undecided) and its reason."""
        current = self.state(record_id)
        if decision is not None and decision not in DECISIONS:
            raise EditError("'decision' must be include, exclude or null")
        reason = _note_text(reason)
        if (decision, reason) == (current.review.decision, current.review.decision_reason):
            return current

        def apply(review: RecordReview) -> RecordReview:
            return replace(review, decision=decision, decision_reason=reason)

        review = self.store.change(
            record_id,
            version=version,
            action="decision",
            detail={"decision": decision, "reason": reason},
            apply=apply,
        )
        return self.state(record_id, review)

    def set_done(self, record_id: str, done: bool, *, version: int) -> RecordState:
        """Mark the record done (or not); already so, nothing changes."""
        current = self.state(record_id)
        if current.review.done == done:
            return current

        def apply(review: RecordReview) -> RecordReview:
            return replace(review, done_at=now() if done else None)

        review = self.store.change(
            record_id, version=version, action="done", detail={"done": done}, apply=apply
        )
        return self.state(record_id, review)

    def undo(self, record_id: str, *, version: int) -> tuple[RecordState, dict[str, Any]]:
        """Undo the record's last change not yet undone (saved as an ``undo`` change);
        returns the state and the change undone. Raises NothingToUndo, ConflictError."""
        self.result(record_id)
        review, event = self.store.undo(record_id, version=version)
        return self.state(record_id, review), event

    # -- internals ---------------------------------------------------------------
    def _accepted_status(self, record_id: str, current: RecordState, name: str) -> str:
        edited = current.record.model_dump(mode="json")[name]
        return "accepted" if edited == self._original[record_id][name] else "corrected"

    def _pinned(
        self, review: RecordReview, current: RecordState, names: Sequence[str]
    ) -> RecordReview:
        """``review`` holding the values of ``names`` as shown (a plain review needs
        nothing: its values are the record's; an adjudication keeps what it decided)."""
        return review

    @staticmethod
    def _check_field(name: str) -> None:
        if name not in FIELD_NAMES:
            raise EditError(f"unknown field {name!r}; fields: {', '.join(FIELD_NAMES)}")

    @staticmethod
    def _check_age(value: dict[str, Any], current: CaseReport) -> dict[str, Any]:
        """An age number must agree with the age as written where that parses. A new text
        with the number left as it was wins (the number follows the text); a new number
        with the text left as it was rewrites the text's number when it is in digits
        ("34-year-old" and 43 → "43-year-old"); otherwise EditError."""
        text, years = value.get("age_text"), value.get("age_years")
        if not text or not isinstance(years, int | float) or isinstance(years, bool):
            return value
        parsed = parse_age(str(text))
        if parsed is None or abs(float(years) - parsed) <= AGE_AGREEMENT_YEARS:
            return value
        before = current.patient
        number_kept = (
            before.age_years is not None
            and abs(float(years) - before.age_years) <= AGE_AGREEMENT_YEARS
        )
        if number_kept and text != before.age_text:
            return value
        if text == before.age_text:
            rewritten = _age_text_with(str(text), float(years))
            if rewritten is not None:
                return value | {"age_text": rewritten}
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
            except (TypeError, ValueError, IndexError, KeyError, OverflowError):
                continue
            if text[start:end] != quote or start < 0:
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
        aligned; page offsets through the line's map (a line without one keeps those of
        the original spans, and -1 for a new quote)."""
        if not has_abstract(result):
            return [
                EvidenceSpan(path, quote, AlignmentStatus.unaligned, -1, -1, -1, -1, 0.0)
                for path, quote in iter_evidence(record)
            ]
        original = {(span.field, span.quote, span.start): span for span in result.evidence}
        to_original = result.abstract.offsets.to_original
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
            if before is not None:
                source = (before.source_start, before.source_end)
            elif result.has_source_map and span.status is not AlignmentStatus.unaligned:
                source = to_original(span.start, span.end)
            else:
                source = (-1, -1)
            spans.append(replace(span, source_start=source[0], source_end=source[1]))
        return spans


def _age_text_with(text: str, years: float) -> str | None:
    """``text`` with its written number changed to ``years`` in the text's own unit, when
    the number is in digits and the new one is a whole number (or a half)."""
    match = AGE_PATTERN.search(text)
    if match is None or not match["num"].replace(".", "", 1).isdigit() or match["half"]:
        return None
    try:
        value = years / unit_years(match["unit"])
    except ValueError:
        return None
    if abs(value * 2 - round(value * 2)) > 0.01:
        return None
    number = f"{round(value * 2) / 2:g}"
    start, end = match.span("num")
    return text[:start] + number + text[end:]


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
