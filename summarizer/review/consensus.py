"""Two reviewers: how far they agree, and the consensus an adjudicator settles.

Each reviewer reviews the same records file independently, into their own store. For a
record and a field, a reviewer's *judgement* is the field's status and its value as they
left it. Two judgements agree when both reviewers reviewed the field and either both
rejected it or both left the same value (text compared without case and spacing; the
evidence quote is not compared: two reviewers may select a quote a word longer or
shorter for the same fact).

``compare`` gives, per field, how many records both reviewed and how often they agree,
Cohen's kappa for the categorical answers (article type, sex, patient count and the
include/exclude decision; "rejected" counts as one more category), and every conflict.

``ConsensusSession`` is the adjudication: a review (its own store,
``RECORDS.consensus.sqlite``) that shows, for each record, the fields both reviewers
agree on as agreed, a field only one reviewed as theirs, and every conflict for the
adjudicator to settle: take one reviewer's judgement, accept the model's value, or
correct it. What it holds is what ``review export`` and ``gold export`` write, with both
reviewers' own judgements kept beside it in the export.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import InputError
from ..schema import CaseReport
from .fields import FIELD_NAMES, field_label
from .queue import WEIGHTS, QueueEntry, Reason, ReasonKind
from .review_store import FieldReview, RecordReview, ReviewStore, now
from .reviewers import consensus_path
from .session import EditError, RecordState, ReviewSession, _field_of

__all__ = [
    "CATEGORICAL",
    "Agreement",
    "Conflict",
    "ConsensusSession",
    "FieldAgreement",
    "Judgement",
    "agree",
    "cohen_kappa",
    "compare",
    "judgement",
]

CATEGORICAL = ("article_type", "sex", "patient_count", "decision")
"""The answers Cohen's kappa is computed on."""

SIDES_STATE = "adjudicates"


@dataclass(frozen=True, slots=True)
class Judgement:
    """One reviewer's answer on one field: its status and the value they left."""

    status: str
    value: Any

    @property
    def reviewed(self) -> bool:
        return self.status != "unreviewed"

    def text(self) -> str:
        """The judgement in a few words (a conflict's line)."""
        if self.status in ("rejected", "unreviewed"):
            return self.status
        return f"{self.status}: {value_text(self.value)}"


def value_text(value: Any, limit: int = 90) -> str:
    """A field's value in one short line (evidence left out)."""

    def words(item: Any) -> str:
        if item is None:
            return "not reported"
        if isinstance(item, dict):
            parts = [
                words(v) for k, v in item.items() if k != "evidence" and v not in (None, [], "")
            ]
            return ", ".join(part for part in parts if part)
        if isinstance(item, list):
            return "; ".join(words(entry) for entry in item) or "none"
        if isinstance(item, bool):
            return "yes" if item else "no"
        return str(item)

    text = words(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def judgement(state: RecordState, name: str) -> Judgement:
    return Judgement(state.field_status(name), state.record.model_dump(mode="json")[name])


_SPACE = re.compile(r"\s+")


def _comparable(value: Any) -> Any:
    if isinstance(value, str):
        return _SPACE.sub(" ", value).strip().casefold()
    if isinstance(value, dict):
        return {key: _comparable(item) for key, item in value.items() if key != "evidence"}
    if isinstance(value, list):
        return [_comparable(item) for item in value]
    return value


def agree(first: Judgement, second: Judgement) -> bool:
    """Whether two reviewed judgements agree (see the module docstring)."""
    if "rejected" in (first.status, second.status):
        return first.status == second.status
    return bool(_comparable(first.value) == _comparable(second.value))


def category(state: RecordState, answer: str) -> str | None:
    """A reviewer's categorical answer (None: not reviewed or not decided)."""
    if answer == "decision":
        return state.review.decision
    name = "patient" if answer == "sex" else answer
    found = judgement(state, name)
    if not found.reviewed:
        return None
    if found.status == "rejected":
        return "rejected"
    if answer == "sex":
        return str(found.value["sex"])
    value = found.value
    return "not reported" if value is None else str(value)


def cohen_kappa(pairs: Sequence[tuple[str, str]]) -> float | None:
    """Cohen's kappa of two raters' labels (None when undefined: no pairs, or both
    raters used a single and the same category, so chance agreement is 1)."""
    total = len(pairs)
    if not total:
        return None
    observed = sum(first == second for first, second in pairs) / total
    firsts = Counter(first for first, _ in pairs)
    seconds = Counter(second for _, second in pairs)
    expected = sum(firsts[label] * seconds[label] for label in firsts) / (total * total)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1 - expected)


@dataclass(slots=True)
class FieldAgreement:
    """Agreement on one field (or answer): records both reviewed, and how many agree."""

    field: str
    compared: int = 0
    agreed: int = 0
    kappa: float | None = None
    categorical: bool = False

    @property
    def percent(self) -> float | None:
        return 100.0 * self.agreed / self.compared if self.compared else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "compared": self.compared,
            "agreed": self.agreed,
            "percent": None if self.percent is None else round(self.percent, 1),
            "kappa": None if self.kappa is None else round(self.kappa, 3),
        }


@dataclass(frozen=True, slots=True)
class Conflict:
    """Two reviewers disagreeing on one field of one record."""

    record_id: str
    field: str
    first: str
    second: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.record_id, "field": self.field, "a": self.first, "b": self.second}


@dataclass(slots=True)
class Agreement:
    """What ``compare`` found."""

    reviewers: tuple[str, str]
    records: int
    """Records both reviewers started."""
    fields: list[FieldAgreement]
    conflicts: list[Conflict] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "reviewers": list(self.reviewers),
            "records": self.records,
            "fields": [row.to_dict() for row in self.fields],
            "conflicts": [conflict.to_dict() for conflict in self.conflicts],
        }


def side_name(session: ReviewSession) -> str:
    """Who made a review: the reviewer recorded in its store, else the session's."""
    return session.store.owner or session.reviewer


def compare(first: ReviewSession, second: ReviewSession) -> Agreement:
    """Per-field agreement of two reviews of the same records file."""
    rows = {name: FieldAgreement(name) for name in (*FIELD_NAMES, "sex", "decision")}
    for name in CATEGORICAL:
        rows[name].categorical = True
    labels: dict[str, list[tuple[str, str]]] = {name: [] for name in CATEGORICAL}
    conflicts: list[Conflict] = []
    records = 0
    for ident in first.order:
        if ident not in second.results:
            continue
        one, two = first.state(ident), second.state(ident)
        if one.review.started and two.review.started:
            records += 1
        for name in FIELD_NAMES:
            a, b = judgement(one, name), judgement(two, name)
            if not (a.reviewed and b.reviewed):
                continue
            rows[name].compared += 1
            if agree(a, b):
                rows[name].agreed += 1
            else:
                conflicts.append(Conflict(ident, name, a.text(), b.text()))
        for answer in CATEGORICAL:
            pair = (category(one, answer), category(two, answer))
            if pair[0] is None or pair[1] is None:
                continue
            labels[answer].append((pair[0], pair[1]))
            if answer in ("sex", "decision"):
                rows[answer].compared += 1
                rows[answer].agreed += pair[0] == pair[1]
        decisions = (one.review.decision, two.review.decision)
        if None not in decisions and decisions[0] != decisions[1]:
            conflicts.append(Conflict(ident, "decision", str(decisions[0]), str(decisions[1])))
    for answer, pairs in labels.items():
        rows[answer].kappa = cohen_kappa(pairs)
    order = [*FIELD_NAMES[:3], "sex", *FIELD_NAMES[3:], "decision"]
    return Agreement(
        (side_name(first), side_name(second)), records, [rows[name] for name in order], conflicts
    )


# --------------------------------------------------------------------------- consensus


@dataclass(frozen=True, slots=True)
class Merged:
    """A record's consensus: the review shown, where each field came from, conflicts."""

    review: RecordReview
    sources: dict[str, str | None]
    """adjudicated | agreed | a reviewer's name (only they reviewed it) | conflict | None."""
    unresolved: tuple[str, ...]
    resolved: tuple[str, ...]
    decision_conflict: bool


class ConsensusSession(ReviewSession):
    """The adjudication of two reviews of ``records`` (see the module docstring)."""

    adjudicating = True

    def __init__(
        self,
        records: Path,
        first: ReviewSession,
        second: ReviewSession,
        *,
        store: Path | None = None,
        reviewer: str | None = None,
    ) -> None:
        if first.store_path.resolve() == second.store_path.resolve():
            raise InputError("adjudication needs two different reviews")
        super().__init__(records, store=store or consensus_path(records), reviewer=reviewer)
        self.sides = (first, second)
        self.names = (side_name(first), side_name(second))
        if self.names[0] == self.names[1]:
            self.names = (first.store_path.name, second.store_path.name)
        pair = json.dumps(sorted(str(s.store_path.resolve()) for s in self.sides))
        recorded = self.store.get_state(SIDES_STATE)
        if recorded is None:
            self.store.set_state(SIDES_STATE, pair)
        elif recorded != pair:
            self.close()
            raise InputError(
                f"{self.store_path.name} adjudicates {', '.join(json.loads(recorded))}; "
                "use --store for the adjudication of another pair",
                path=str(self.store_path),
            )
        self._merged: dict[str, tuple[tuple[RecordReview, ...], RecordState, Merged]] = {}

    def close(self) -> None:
        super().close()
        for side in self.sides:
            side.close()

    def review_stores(self) -> list[ReviewStore]:
        return [*(side.store for side in self.sides), self.store]

    # -- the merged view ---------------------------------------------------------------
    def merged(self, record_id: str, own: RecordReview | None = None) -> tuple[RecordState, Merged]:
        result = self.result(record_id)
        own = own if own is not None else self.store.get(record_id)
        one, two = (side.state(record_id) for side in self.sides)
        key = (own, one.review, two.review)
        cached = self._merged.get(record_id)
        if cached is not None and cached[0] == key:
            return cached[1], cached[2]
        model = self._original[record_id]
        values = dict(model)
        fields: dict[str, FieldReview] = {}
        offsets: dict[str, tuple[int, int]] = {}
        sources: dict[str, str | None] = {}
        unresolved: list[str] = []
        resolved: list[str] = []
        for name in FIELD_NAMES:
            a, b = judgement(one, name), judgement(two, name)
            clash = a.reviewed and b.reviewed and not agree(a, b)
            if name in own.fields:
                values[name] = (own.record or model)[name]
                fields[name] = own.fields[name]
                offsets |= {p: o for p, o in own.offsets.items() if _field_of(p) == name}
                sources[name] = "adjudicated"
                if clash:
                    resolved.append(name)
                continue
            if clash:
                sources[name] = "conflict"
                unresolved.append(name)
                continue
            if not (a.reviewed or b.reviewed):
                sources[name] = None
                continue
            pick, who = (one, self.names[0]) if a.reviewed else (two, self.names[1])
            values[name] = pick.record.model_dump(mode="json")[name]
            fields[name] = pick.review.fields[name]
            offsets |= {p: o for p, o in pick.review.offsets.items() if _field_of(p) == name}
            sources[name] = "agreed" if a.reviewed and b.reviewed else who
        decisions = (one.review.decision, two.review.decision)
        decision_conflict = None not in decisions and decisions[0] != decisions[1]
        if own.decision is not None:
            decision, reason = own.decision, own.decision_reason
        elif decision_conflict:
            decision, reason = None, None
        else:
            pick = one if one.review.decision is not None else two
            decision, reason = pick.review.decision, pick.review.decision_reason
        done = own.done or (one.review.done and two.review.done and not unresolved)
        done_at = own.done_at or (
            max(one.review.done_at or "", two.review.done_at or "") if done else None
        )
        review = replace(
            own,
            record=values if values != model else None,
            offsets=offsets,
            fields=fields,
            done_at=done_at or None,
            decision=decision,
            decision_reason=reason,
        )
        try:
            record = CaseReport.model_validate(values)
        except ValidationError:  # values from two reviews that do not fit together
            record = result.record
        state = RecordState(
            result,
            record,
            self._evidence(result, record, review),
            review,
            self.reviewer,
        )
        merged = Merged(review, sources, tuple(unresolved), tuple(resolved), decision_conflict)
        state = replace(state, extra=self._extra(state, merged, one, two))
        self._merged[record_id] = (key, state, merged)
        return state, merged

    def _extra(
        self, state: RecordState, merged: Merged, one: RecordState, two: RecordState
    ) -> dict[str, Any]:
        values = state.record.model_dump(mode="json")

        def side(review_state: RecordState) -> dict[str, Any]:
            block = review_state.review_block()
            own = review_state.record.model_dump(mode="json")
            for name, entry in block["fields"].items():
                if own[name] != values[name]:
                    entry["value"] = own[name]
            return {
                key: block[key]
                for key in ("status", "done_at", "decision", "decision_reason", "note", "fields")
            }

        return {
            "consensus_of": list(self.names),
            "sources": merged.sources,
            "conflicts": {"unresolved": list(merged.unresolved), "resolved": list(merged.resolved)},
            "reviews": {self.names[0]: side(one), self.names[1]: side(two)},
        }

    def state(self, record_id: str, review: RecordReview | None = None) -> RecordState:
        return self.merged(record_id, review)[0]

    def states(self) -> Iterator[RecordState]:
        reviews = self.store.all()
        for ident in self.order:
            yield self.state(ident, reviews.get(ident) or RecordReview(id=ident))

    def conflict_fields(self, record_id: str) -> list[str]:
        """The fields the two reviewers disagree on (settled or not), in schema order."""
        merged = self.merged(record_id)[1]
        shown = set(merged.unresolved) | set(merged.resolved)
        return [name for name in FIELD_NAMES if name in shown]

    def sides_of(self, record_id: str) -> list[tuple[str, RecordState]]:
        return [
            (name, side.state(record_id)) for name, side in zip(self.names, self.sides, strict=True)
        ]

    def reasons(self, record_id: str, state: RecordState | None = None) -> tuple[Reason, ...]:
        """The conflicts left to settle, one reason each."""
        merged = self.merged(record_id)[1]
        one, two = (side.state(record_id) for side in self.sides)
        found = []
        for name in merged.unresolved:
            a, b = judgement(one, name), judgement(two, name)
            message = f"{field_label(name)}: {self.names[0]} {a.text()}; {self.names[1]} {b.text()}"
            found.append(
                Reason(ReasonKind.conflict, message, (name,), WEIGHTS[ReasonKind.conflict])
            )
        if merged.decision_conflict and merged.review.decision is None:
            message = (
                f"decision: {self.names[0]} {one.review.decision}; "
                f"{self.names[1]} {two.review.decision}"
            )
            found.append(Reason(ReasonKind.conflict, message, (), WEIGHTS[ReasonKind.conflict]))
        return tuple(found)

    def queue(self) -> list[tuple[QueueEntry, RecordReview]]:
        """The records the reviewers disagree on, conflicts left to settle first."""
        reviews = self.store.all()
        entries = []
        for position, ident in enumerate(self.order):
            state, merged = self.merged(ident, reviews.get(ident) or RecordReview(id=ident))
            if not (merged.unresolved or merged.resolved or merged.decision_conflict):
                continue
            result = self.results[ident]
            title = result.record.title or result.abstract.title or ident
            entry = QueueEntry(ident, title, position, self.reasons(ident, state))
            entries.append((entry, state.review))
        entries.sort(key=lambda pair: (pair[1].done, -pair[0].score, pair[0].position))
        return entries

    def _is_done(self, record_id: str) -> bool:
        return self.state(record_id).review.done

    def resume_at(self) -> str | None:
        last = self.last_opened
        listed = [entry.id for entry, _ in self.queue()]
        if last is not None and last in listed and not self._is_done(last):
            return last
        return self.first_to_do()

    # -- settling ----------------------------------------------------------------------
    def _pinned(
        self, review: RecordReview, current: RecordState, names: Sequence[str]
    ) -> RecordReview:
        """The adjudication holds the value of each field it settles, as shown."""
        shown = current.record.model_dump(mode="json")
        record = dict(review.record or shown)
        offsets = {p: o for p, o in review.offsets.items() if _field_of(p) not in names}
        for name in names:
            record[name] = shown[name]
            offsets |= {p: o for p, o in current.review.offsets.items() if _field_of(p) == name}
        return replace(review, record=record, offsets=offsets)

    def accept_all(self, record_id: str, *, version: int) -> tuple[RecordState, list[str]]:
        raise EditError(
            "in an adjudication, settle each conflict: 1 or 2 takes a reviewer's answer, "
            "a accepts the model's value"
        )

    def adopt(self, record_id: str, name: str, side: int, *, version: int) -> RecordState:
        """Settle field ``name`` with reviewer ``side``'s judgement (0 or 1)."""
        self._check_field(name)
        if side not in (0, 1):
            raise EditError("'side' must be 0 or 1 (the first or second reviewer)")
        current = self.state(record_id)
        theirs = self.sides[side].state(record_id)
        found = judgement(theirs, name)
        if not found.reviewed:
            raise EditError(f"{self.names[side]} did not review {field_label(name)}")
        value = theirs.record.model_dump(mode="json")[name]
        their_offsets = {p: o for p, o in theirs.review.offsets.items() if _field_of(p) == name}
        by = self.reviewer
        shown = current.record.model_dump(mode="json")

        def apply(review: RecordReview) -> RecordReview:
            record = dict(review.record or shown) | {name: value}
            offsets = {p: o for p, o in review.offsets.items() if _field_of(p) != name}
            fields = dict(review.fields) | {name: FieldReview(found.status, now(), by)}
            return replace(review, record=record, offsets=offsets | their_offsets, fields=fields)

        detail = {"field": name, "from": self.names[side], "status": found.status}
        review = self.store.change(
            record_id, version=version, action="adopt", detail=detail, apply=apply
        )
        return self.state(record_id, review)
