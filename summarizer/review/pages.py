"""Server-rendered HTML of the review page: the queue, a record, and the fragments a
change re-renders (a field card, the highlighted abstract).

Templates live in ``summarizer/templates/review/`` and go through the shared output
environment, which autoescapes everything: record text and abstract text are data,
never markup.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from ..ground import AlignmentStatus, EvidenceSpan
from ..output.contract import has_abstract
from ..output.highlight import segment
from ..output.templating import environment
from ..output.webpage import abstract_layers
from ..pipeline import Failure
from ..reference import REFERENCE_FIELDS
from ..sinks import BIDI_CONTROLS
from .fields import AGE_UNITS, FIELD_NAMES, WIDGETS, age_display, field_label
from .queue import REASON_LABELS, QueueEntry, Reason, ReasonKind, look_levels
from .review_store import RecordReview
from .session import RecordState, ReviewSession
from .stats import ReviewStats

__all__ = [
    "Piece",
    "render_abstract",
    "render_decision",
    "render_field",
    "render_queue",
    "render_reasons",
    "render_record",
    "render_stats",
]

_STATUS_ORDER = list(AlignmentStatus)


def record_url(record_id: str) -> str:
    return "/records/" + quote(record_id, safe="")


@dataclass(frozen=True, slots=True)
class Piece:
    """A run of the abstract: ``start`` is its offset in ``Abstract.text`` (code points)."""

    text: str
    start: int
    layer: str | None = None
    paths: tuple[str, ...] = ()
    classes: str = ""
    title: str = ""

    @property
    def code(self) -> str | None:
        """The hex code of a lone character that pages do not show as it is (a control
        or bidi character, shown as ``[U+202E]`` or not at all): the page's script reads
        the true text from it, so selections still map to exact offsets."""
        return f"{ord(self.text):x}" if _UNSHOWN.fullmatch(self.text) else None


# Characters sinks.shown_text drops or replaces (controls but line breaks and tabs; bidi).
_UNSHOWN = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{BIDI_CONTROLS}]")


def _split_unshown(piece: Piece) -> list[Piece]:
    """The piece cut so that each unshown character stands alone (with its offset)."""
    if not _UNSHOWN.search(piece.text):
        return [piece]
    parts: list[Piece] = []
    position = 0
    for match in _UNSHOWN.finditer(piece.text):
        for start, end in ((position, match.start()), (match.start(), match.end())):
            if end > start:
                parts.append(replace(piece, text=piece.text[start:end], start=piece.start + start))
        position = match.end()
    if position < len(piece.text):
        parts.append(replace(piece, text=piece.text[position:], start=piece.start + position))
    return parts


def abstract_pieces(
    text: str, layers: Sequence[tuple[int, int, str]], spans: list[EvidenceSpan]
) -> list[Piece]:
    ranges: list[tuple[int, int] | None] = [
        (span.start, span.end)
        if span.status is not AlignmentStatus.unaligned and span.start >= 0
        else None
        for span in spans
    ]
    pieces: list[Piece] = []
    for seg in segment(len(text), ranges, layers):
        chunk = text[seg.start : seg.end]
        if not seg.spans:
            pieces.extend(_split_unshown(Piece(chunk, seg.start, seg.layer)))
            continue
        covering = [spans[index] for index in seg.spans]
        statuses = sorted({span.status for span in covering}, key=_STATUS_ORDER.index)
        classes = ["ev", *(f"ev-{status.value}" for status in statuses)]
        if len(covering) > 1:
            classes.append("ev-overlap")
        piece = Piece(
            text=chunk,
            start=seg.start,
            layer=seg.layer,
            paths=tuple(span.field for span in covering),
            classes=" ".join(classes),
            title="; ".join(f"{span.field} ({span.status.value})" for span in covering),
        )
        pieces.extend(_split_unshown(piece))
    return pieces


def _value_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def _field_notes(name: str, reasons: Sequence[Reason]) -> list[str]:
    return [
        reason.message
        for reason in reasons
        if name in reason.fields and reason.kind is not ReasonKind.missing
    ]


def _sides(session: ReviewSession, state: RecordState, name: str) -> list[dict[str, Any]]:
    """Each reviewer's judgement of a field, for the adjudication's side-by-side view."""
    if not session.adjudicating:
        return []
    from .consensus import judgement, value_text

    sides = []
    for index, (who, side) in enumerate(session.sides_of(state.id)):  # type: ignore[attr-defined]
        found = judgement(side, name)
        sides.append(
            {
                "index": index,
                "who": who,
                "status": found.status,
                "text": value_text(found.value, limit=400),
                "note": side.review.notes.get(name),
            }
        )
    return sides


def _context_for_field(
    session: ReviewSession,
    state: RecordState,
    name: str,
    reasons: Sequence[Reason],
    looks: dict[str, int],
    unsupported: dict[str, list[str]],
) -> dict[str, Any]:
    value = state.record.model_dump(mode="json")[name]
    original = state.result.record.model_dump(mode="json")[name]
    spans = {span.field: span for span in state.evidence}
    review = state.review.fields.get(name)
    return {
        "name": name,
        "label": field_label(name),
        "widget": WIDGETS[name],
        "value": value,
        "edited": value != original,
        "original_json": _value_json(original),
        "status": state.field_status(name),
        "set_at": review.set_at if review else None,
        "by": review.by if review else None,
        "spans": spans,
        "notes": _field_notes(name, reasons),
        "look": looks.get(name, 0),
        "note": state.review.notes.get(name),
        "unsupported": unsupported.get(name, []),
        "sides": _sides(session, state, name),
        "source": state.extra.get("sources", {}).get(name),
    }


def _render(template: str, **context: Any) -> str:
    return environment().get_template(f"review/{template}").render(**context)


def _globals() -> dict[str, Any]:
    return {"age_units": AGE_UNITS, "age_display": age_display, "field_label": field_label}


def render_field(
    session: ReviewSession, state: RecordState, name: str, reasons: Sequence[Reason]
) -> str:
    """One field card (re-rendered after each change to it)."""
    context = _context_for_field(
        session, state, name, reasons, look_levels(reasons), state.unsupported()
    )
    return _render("field.html.j2", field=context, adjudicating=session.adjudicating, **_globals())


def render_abstract(state: RecordState) -> str:
    """The abstract with the current evidence highlighted."""
    abstract = state.result.abstract
    pieces = abstract_pieces(abstract.text, abstract_layers(abstract), state.evidence)
    return _render("abstract.html.j2", pieces=pieces, present=has_abstract(state.result))


def render_reasons(reasons: Sequence[Reason]) -> str:
    """Why the record needs a look now (computed again after each change)."""
    return _render("reasons.html.j2", reasons=reasons)


def render_decision(session: ReviewSession, state: RecordState) -> str:
    """The record's include/exclude decision, its reason and the record's note."""
    sides = []
    if session.adjudicating:
        for who, side in session.sides_of(state.id):  # type: ignore[attr-defined]
            review = side.review
            sides.append(
                {"who": who, "decision": review.decision, "reason": review.decision_reason}
            )
    return _render("decision.html.j2", review=state.review, sides=sides)


def render_record(
    session: ReviewSession,
    state: RecordState,
    *,
    token: str,
    position: int | None,
    total: int,
    previous: str | None,
    following: str | None,
) -> str:
    """The page of one record: the abstract beside every field's card (an adjudication:
    the fields the reviewers disagree on, each reviewer's answer beside it)."""
    reasons = session.reasons(state.id, state)
    looks = look_levels(reasons)
    unsupported = state.unsupported()
    names = (
        session.conflict_fields(state.id)  # type: ignore[attr-defined]
        if session.adjudicating
        else FIELD_NAMES
    )
    fields = [
        _context_for_field(session, state, name, reasons, looks, unsupported) for name in names
    ]
    reference = state.result.provenance.reference
    return _render(
        "record.html.j2",
        token=token,
        state=state,
        title=state.record.title or state.result.abstract.title or state.id,
        fields=fields,
        field_count=len(FIELD_NAMES),
        reasons_html=render_reasons(reasons),
        decision_html=render_decision(session, state),
        position=position,
        total=total,
        previous_url=record_url(previous) if previous else None,
        next_url=record_url(following) if following else None,
        abstract_html=render_abstract(state),
        has_abstract=has_abstract(state.result),
        reference=[(name, reference[name]) for name in REFERENCE_FIELDS if name in reference],
        provenance=state.result.provenance,
        reviewer=session.reviewer,
        adjudicating=session.adjudicating,
        sides=getattr(session, "names", None),
        **_globals(),
    )


@dataclass(frozen=True, slots=True)
class QueueRow:
    entry: QueueEntry
    review: RecordReview
    url: str

    @property
    def status(self) -> str:
        if self.review.done:
            return "done"
        return "in progress" if self.review.started else "to do"

    @property
    def chips(self) -> list[tuple[Reason, int]]:
        """One chip per kind of reason (its first reason, and how many of that kind)."""
        kinds: dict[ReasonKind, list[Reason]] = {}
        for reason in self.entry.reasons:
            kinds.setdefault(reason.kind, []).append(reason)
        return [(reasons[0], len(reasons)) for reasons in kinds.values()]

    @property
    def headline(self) -> str:
        """The messages of the strongest kind of reason, in one line."""
        if not self.entry.reasons:
            return ""
        first = self.entry.reasons[0].kind
        return "; ".join(r.message for r in self.entry.reasons if r.kind is first)


def render_queue(
    rows: Sequence[tuple[QueueEntry, RecordReview]],
    *,
    token: str,
    total: int,
    done: int,
    failures: Sequence[Failure],
    query: str,
    reason: str,
    status: str,
    resume: str | None,
    records_name: str,
    reviewer: str,
    adjudication: tuple[str, str] | None = None,
) -> str:
    """The queue page: filtered rows, the reason and status filters, and the search box."""
    return _render(
        "queue.html.j2",
        token=token,
        rows=[QueueRow(entry, review, record_url(entry.id)) for entry, review in rows],
        total=total,
        done=done,
        failures=failures,
        query=query,
        reason=reason,
        status=status,
        reasons=[
            (kind.value, label)
            for kind, label in REASON_LABELS.items()
            if kind is not ReasonKind.failed
            and (kind is ReasonKind.conflict) == (adjudication is not None)
        ],
        resume_url=record_url(resume) if resume else None,
        records_name=records_name,
        field_count=len(FIELD_NAMES),
        reviewer=reviewer,
        adjudication=adjudication,
    )


def render_stats(stats: ReviewStats, *, token: str, records_name: str, reviewer: str) -> str:
    """The stats page: per-field accuracy of the model by group, and each reviewer's pace."""
    return _render(
        "stats.html.j2",
        token=token,
        stats=stats,
        records_name=records_name,
        reviewer=reviewer,
        field_label=field_label,
    )
