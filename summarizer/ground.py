"""Grounding: align every evidence quote to the cleaned abstract and back to the original page.

Alignment tries, in order: exact; normalised (case, whitespace, punctuation, hyphenation
and typographic variants ignored); fuzzy (rapidfuzz partial alignment on the normalised
text). A quote that none of them finds is ``unaligned``.

During extraction the answer is validated with a ``Grounding`` as pydantic's validation
context (``validation_context(aligner)``): the schema's evidence validators call
``check_quote`` with it, and a quote that is not in the source raises a validation
error (a ``QuoteNotFound``), which is sent back to the model. On the last
attempt the context stops enforcing, so the answer is kept. Validation without that
context (a cache read, a stored result) checks nothing.

After extraction, ``prune`` tidies the record's lists of grounded items: repeated
identical items are merged, and an item whose quote is still not found (the re-asks did
not fix it) is dropped from the record and kept as a ``DroppedItem`` with its field and
the reason (unless the caller keeps ungrounded items). A single fact (the patient, the
diagnosis, the conclusion) is never dropped: removing it would turn "stated without
support" into "not reported"; its quote is reported ``unaligned`` instead.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from types import UnionType
from typing import Annotated, Any, Generic, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, PlainSerializer, ValidationError

from .conversion import dump, load
from .document import Abstract

FUZZY_MIN_SCORE = 90.0
FUZZY_MIN_LENGTH = 12  # below this, fuzzy matches are mostly coincidence


class AlignmentStatus(StrEnum):
    exact = "exact"
    normalised = "normalised"
    fuzzy = "fuzzy"
    unaligned = "unaligned"


@dataclass(frozen=True, slots=True)
class Alignment:
    status: AlignmentStatus
    start: int = -1
    end: int = -1
    score: float = 0.0


@dataclass(frozen=True, slots=True)
class EvidenceSpan:
    """One evidence quote of a record, where it sits in the cleaned text and the original.

    A result line writes it as its fields, in this order (``to_dict``), the score to one
    decimal and ``page`` only where there is one."""

    field: str
    quote: str
    status: AlignmentStatus
    start: int
    end: int
    source_start: int
    source_end: int
    score: Annotated[float, PlainSerializer(lambda score: round(score, 1))]
    page: int | None = None
    """The page the quote was printed on (a PDF's; None for a source without pages)."""

    def to_dict(self) -> dict[str, Any]:
        return dump(self, exclude_none=True)  # None is only ever ``page``

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> EvidenceSpan:
        return load(cls, value)


_TRANSLATE = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"',
}  # fmt: skip


_EDGE_PUNCTUATION = "\"'()[].,;:!?\u2018\u2019\u201c\u201d"
_EDGE_PUNCTUATION_WIDE = _EDGE_PUNCTUATION + "\u00ab\u00bb"


def _normalise(text: str) -> tuple[str, list[int]]:
    """Lower-cased letters and digits only, with the index of each in ``text``."""
    chars: list[str] = []
    index: list[int] = []
    for position, char in enumerate(text):
        char = _TRANSLATE.get(char, char)
        if char.isalnum():
            folded = char.casefold()
            if not folded.isascii():
                folded = unicodedata.normalize("NFKD", folded)
                folded = "".join(c for c in folded if c.isalnum()) or folded
            for piece in folded:
                chars.append(piece)
                index.append(position)
    return "".join(chars), index


class Aligner:
    """Aligns quotes to one text; build once per abstract, align many quotes.

    The normalised text is made on the first quote that is not found verbatim (most
    are), then kept for the re-asks, the stages and the final grounding of the abstract.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self._normalised: tuple[str, list[int]] | None = None
        self._seen: dict[str, Alignment] = {}
        """Quotes already aligned: the validators, ``prune`` and ``ground`` ask for the
        same quotes, and a fuzzy search is the slow part."""

    @property
    def _norm(self) -> str:
        return self._normalised_text()[0]

    @property
    def _norm_index(self) -> list[int]:
        return self._normalised_text()[1]

    def _normalised_text(self) -> tuple[str, list[int]]:
        if self._normalised is None:
            self._normalised = _normalise(self.text)
        return self._normalised

    def align(self, quote: str) -> Alignment:
        found = self._seen.get(quote)
        if found is None:
            found = self._seen[quote] = self._align(quote)
        return found

    def _align(self, quote: str) -> Alignment:
        quote = quote.strip()
        if not quote:
            return Alignment(AlignmentStatus.unaligned)
        start = self.text.find(quote)
        if start >= 0:
            return Alignment(AlignmentStatus.exact, start, start + len(quote), 100.0)
        norm_quote, _ = _normalise(quote)
        if not norm_quote:
            return Alignment(AlignmentStatus.unaligned)
        start = self._norm.find(norm_quote)
        if start >= 0:
            match = self._from_norm(
                AlignmentStatus.normalised, start, start + len(norm_quote), 100.0
            )
            return self._with_edge_punctuation(match, quote)
        if len(norm_quote) >= FUZZY_MIN_LENGTH:
            # imported at first use: ~3 MB that a run whose quotes are all found never needs
            from rapidfuzz import fuzz

            found = fuzz.partial_ratio_alignment(
                norm_quote, self._norm, score_cutoff=FUZZY_MIN_SCORE
            )
            if found is not None and found.dest_end > found.dest_start:
                return self._from_norm(
                    AlignmentStatus.fuzzy, found.dest_start, found.dest_end, found.score
                )
        return Alignment(AlignmentStatus.unaligned)

    def _with_edge_punctuation(self, found: Alignment, quote: str) -> Alignment:
        """Widen a normalised match over the quote's own leading/trailing punctuation."""
        lead = len(quote) - len(quote.lstrip(_EDGE_PUNCTUATION))
        trail = len(quote) - len(quote.rstrip(_EDGE_PUNCTUATION))
        start, end = found.start, found.end
        while lead and start > 0 and self.text[start - 1] in _EDGE_PUNCTUATION_WIDE:
            start, lead = start - 1, lead - 1
        while trail and end < len(self.text) and self.text[end] in _EDGE_PUNCTUATION_WIDE:
            end, trail = end + 1, trail - 1
        return Alignment(found.status, start, end, found.score)

    def _from_norm(self, status: AlignmentStatus, start: int, end: int, score: float) -> Alignment:
        return Alignment(status, self._norm_index[start], self._norm_index[end - 1] + 1, score)


class QuoteNotFound(ValueError):
    """An evidence quote that is not in the source (see ``is_grounding_error``)."""


_CONTEXT_KEY = "grounding"


@dataclass(frozen=True, slots=True)
class Grounding:
    """What evidence validators check quotes against: one abstract's aligner."""

    aligner: Aligner
    enforce: bool = True
    """False on a last attempt: keep the record, report its quotes unaligned."""


def validation_context(aligner: Aligner, *, enforce: bool = True) -> dict[str, Any]:
    """The pydantic validation context that makes evidence validators check ``aligner``."""
    return {_CONTEXT_KEY: Grounding(aligner, enforce)}


def check_quote(quote: str, context: Any) -> None:
    """Raise ``QuoteNotFound`` for a quote not in the source of ``context`` (a
    validator's ``info.context``); without a grounding context, check nothing."""
    grounding = context.get(_CONTEXT_KEY) if isinstance(context, dict | Mapping) else None
    if not isinstance(grounding, Grounding) or not grounding.enforce:
        return
    if grounding.aligner.align(quote).status is AlignmentStatus.unaligned:
        shown = quote if len(quote) <= 120 else quote[:117] + "..."
        raise QuoteNotFound(
            f"evidence quote {shown!r} was not found in the abstract; copy the quote "
            "verbatim from the abstract text"
        )


def is_grounding_error(error: BaseException) -> bool:
    """True for a validation error whose every problem is an evidence quote not found."""
    if not isinstance(error, ValidationError) or not error.error_count():
        return False
    return all(
        isinstance((item.get("ctx") or {}).get("error"), QuoteNotFound) for item in error.errors()
    )


def _may_hold_a_model(annotation: Any) -> bool:
    """Whether a field so annotated can hold a model, directly or in a list: anything but
    plain values (text, numbers, booleans, None, enums, literals) and their lists."""
    if annotation in _PLAIN or (isinstance(annotation, type) and issubclass(annotation, Enum)):
        return False
    origin = get_origin(annotation)
    if origin is Literal:
        return False
    if origin is Annotated:
        return _may_hold_a_model(get_args(annotation)[0])
    if origin in (list, Union, UnionType):
        return any(_may_hold_a_model(arg) for arg in get_args(annotation))
    return True


_PLAIN: tuple[Any, ...] = (str, int, float, bool, type(None))


@functools.cache
def _evidence_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of ``model`` that can hold an evidence quote, in order: ``evidence``,
    and those that can hold a model. A validated record holds what its annotations say,
    so its text, numbers and enums need not be looked at (most of its fields)."""
    return tuple(
        name
        for name, info in model.model_fields.items()
        if name == "evidence" or _may_hold_a_model(info.annotation)
    )


def iter_evidence(model: BaseModel, path: str = "") -> Iterator[tuple[str, str]]:
    """(field path, quote) for every evidence quote in a record, in field order."""
    for name in _evidence_fields(type(model)):
        value = getattr(model, name)
        here = f"{path}.{name}" if path else name
        if name == "evidence" and isinstance(value, str) and value.strip():
            yield path or "record", value
        elif isinstance(value, BaseModel):
            yield from iter_evidence(value, here)
        elif isinstance(value, list):
            for position, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from iter_evidence(item, f"{here}[{position}]")


def ground(
    record: BaseModel, abstract: Abstract, aligner: Aligner | None = None
) -> list[EvidenceSpan]:
    """Align each evidence quote of ``record`` to ``abstract`` and map it to the original.

    ``aligner``: the one extraction used for this abstract (it normalised the text once).
    """
    aligner = aligner or Aligner(abstract.text)
    to_original = abstract.offsets.to_original
    spans: list[EvidenceSpan] = []
    for field_path, quote in iter_evidence(record):
        alignment = aligner.align(quote)
        status, start, end = alignment.status, alignment.start, alignment.end
        source = (-1, -1) if status is AlignmentStatus.unaligned else to_original(start, end)
        page = None if status is AlignmentStatus.unaligned else abstract.page_at(start)
        # (field, quote, status, start, end, source_start, source_end, score, page)
        spans.append(
            EvidenceSpan(field_path, quote, status, start, end, *source, alignment.score, page)
        )
    return spans


UNGROUNDED = "evidence quote not found in the abstract"
"""Why an item was dropped (``DroppedItem.reason``)."""

Record = TypeVar("Record", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class DroppedItem:
    """A list item taken out of a record: the field it was in, the item as the model
    gave it, and why."""

    field: str
    item: dict[str, Any]
    reason: str = UNGROUNDED

    @property
    def quote(self) -> str:
        return str(self.item.get("evidence") or "")

    def to_dict(self) -> dict[str, Any]:
        return dump(self)

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> DroppedItem:
        return load(cls, value)


@dataclass(slots=True)
class Pruned(Generic[Record]):
    """A record after ``prune``: what was dropped, and how many repeats were merged."""

    record: Record
    dropped: list[DroppedItem] = field(default_factory=list)
    merged: int = 0


def _grounded_lists(record: BaseModel) -> Iterator[tuple[str, list[BaseModel]]]:
    """(field, items) for each non-empty list of grounded items (items with an
    ``evidence`` quote): an empty one has nothing to prune."""
    for name in _evidence_fields(type(record)):  # a list of models is in one of these
        value = getattr(record, name)
        if (
            isinstance(value, list)
            and value
            and all(
                isinstance(item, BaseModel) and "evidence" in type(item).model_fields
                for item in value
            )
        ):
            yield name, value


def _same_key(value: Any) -> Any:
    """An item compared as people read it: case and spacing of its text do not count."""
    if isinstance(value, str):
        return " ".join(value.split()).casefold()
    if isinstance(value, dict):
        return tuple(sorted([(key, _same_key(item)) for key, item in value.items()]))
    if isinstance(value, list):
        return tuple([_same_key(item) for item in value])
    return value


def prune(record: Record, aligner: Aligner, *, drop_ungrounded: bool = True) -> Pruned[Record]:
    """``record`` with repeated identical list items merged (the first kept) and, when
    ``drop_ungrounded``, list items whose evidence quote is not in the source dropped.

    Only lists of grounded items change; everything else is returned as it was.
    """
    dropped: list[DroppedItem] = []
    merged = 0
    changes: dict[str, list[BaseModel]] = {}
    for name, items in _grounded_lists(record):
        kept: list[BaseModel] = []
        seen: set[Any] = set()
        for item in items:
            data = item.model_dump(mode="json")
            key = _same_key(data)
            if key in seen:
                merged += 1
                continue
            seen.add(key)
            quote = getattr(item, "evidence", None)
            unfound = (
                not isinstance(quote, str)
                or aligner.align(quote).status is AlignmentStatus.unaligned
            )
            if drop_ungrounded and unfound:
                dropped.append(DroppedItem(field=name, item=data))
                continue
            kept.append(item)
        if len(kept) != len(items):
            changes[name] = kept
    pruned = record.model_copy(update=changes) if changes else record
    return Pruned(pruned, dropped, merged)
