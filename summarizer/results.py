"""The output contract: a finished record (``Result``) or a failed one (``Failure``).

One JSON object per input record, the same in every place results are stored (a JSON
Lines output, the sidecar of a Markdown/CSV/HTML output, an evaluation run)::

    {"id", "record", "evidence", "provenance", "abstract"}     # a result
    {"id", "error", "error_type"}                             # a failure

``abstract`` is the cleaned text the record was grounded in (``{"title", "text",
"sections": [{"kind", "heading", "start", "end"}], "warnings", "confidence",
"offsets"}``), so finished results can be rendered and reviewed without the source;
``offsets`` is the map from the text back to the original page as ``(start, original,
length)`` runs (``OffsetMap.runs``), so a quote chosen later (in review) gets its page
offsets too. ``from_dict`` reads a line back (lines
written before ``abstract`` existed still read; ``Result.has_abstract`` says so).

The parts that are plain dataclasses (provenance, evidence spans, sections, dropped
items) are written and read by pydantic from their fields (``conversion``): a line holds
their fields in the order they are declared.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, ValidationError

from .conversion import dump, load
from .document import Abstract, Document, OffsetMap, Section
from .errors import InputError, SummarizerError
from .ground import AlignmentStatus, DroppedItem, EvidenceSpan
from .reference import reference_of
from .schema import CaseReport
from .usage import Usage

__all__ = [
    "NO_ABSTRACT_WARNING",
    "ContractError",
    "DroppedItem",
    "Failure",
    "Provenance",
    "RecordedError",
    "Result",
    "dropped_warning",
    "failure_of",
]

NO_ABSTRACT_WARNING = (
    "the cleaned abstract is not stored with this result (written by an older version): "
    "its evidence cannot be shown in context"
)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _strings(value: Any) -> dict[str, str]:
    return {str(key): str(item) for key, item in (value or {}).items()}


def dropped_warning(count: int) -> str:
    """The provenance warning of a record that lost ``count`` ungrounded list items."""
    facts = "1 fact" if count == 1 else f"{count} facts"
    return (
        f"{facts} dropped: evidence not found in the abstract "
        "(listed in provenance.dropped; --keep-ungrounded keeps them)"
    )


class ContractError(SummarizerError):
    """A stored line that is not a result or failure of this tool (or no longer validates)."""

    exit_code = 2


Seconds = Annotated[float, PlainSerializer(lambda seconds: round(seconds, 4))]
"""Seconds, written to a tenth of a millisecond."""

Tokens = Annotated[Usage, PlainSerializer(Usage.to_dict), BeforeValidator(Usage.from_dict)]
"""Token counts, written as ``{"prompt", "completion", "total", "cached"}``."""


@dataclass(slots=True, kw_only=True)
class Provenance:
    """How a record was produced (a line writes these fields in this order)."""

    backend: str
    model: str
    mode: str
    prompt_version: str | None
    prompt_hash: str | None
    schema_version: str
    requests: int = 1
    """Requests answered: one per stage, plus every re-ask (a transport retry is not one)."""
    reasks: int | None = 0
    """Validation re-asks among ``requests`` (None: read from a line written before
    re-asks were counted apart from requests)."""
    tokens: Tokens
    latency_s: Seconds
    original_latency_s: Seconds | None = None
    """On a cache hit: how long the call that produced the cached answer took."""
    cache_hit: bool = False
    cache_key: str | None = None
    source: str = ""
    source_format: str = ""
    warnings: list[str] = field(default_factory=list)
    confidence: str = "high"
    """How sure the cleaner was that the text is the abstract: high | medium | low."""
    reference: dict[str, str] = field(default_factory=dict)
    """The export's key, authors, year, journal and DOI, when the input had them."""
    dropped: list[DroppedItem] = field(default_factory=list)
    """List items taken out of the record, with their field and why (their evidence
    quote was not in the abstract after the re-asks); empty with ``keep_ungrounded``."""
    merged: int = 0
    """Repeated identical list items merged into their first occurrence."""

    @property
    def attempts(self) -> int:
        """``requests`` under its older name (still written as ``attempts``)."""
        return self.requests

    def to_dict(self) -> dict[str, Any]:
        line: dict[str, Any] = {}
        for key, value in dump(self).items():
            if key == "requests":
                line["attempts"] = value  # its older name, for readers of older lines
            line[key] = value
        return line

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> Provenance:
        """A line's provenance; what it lacks is not known (a line written before requests
        and re-asks were counted apart has only ``attempts``, and no ``reasks``)."""
        return load(cls, {**_NOT_KNOWN, "requests": value.get("attempts", 1), **value})


_NOT_KNOWN: dict[str, Any] = {
    "backend": "unknown",
    "model": "unknown",
    "mode": "unknown",
    "prompt_version": None,
    "prompt_hash": None,
    "schema_version": "",
    "reasks": None,
    "tokens": None,
    "latency_s": 0.0,
}
"""What a provenance read back from a line holds where the line says nothing."""


def abstract_to_dict(abstract: Abstract, *, offsets: bool = True) -> dict[str, Any]:
    value: dict[str, Any] = {
        "title": abstract.title,
        "text": abstract.text,
        "sections": [dump(section) for section in abstract.sections],
        "warnings": list(abstract.warnings),
        "confidence": abstract.confidence,
        **({"pages": list(abstract.pages)} if abstract.pages else {}),
    }
    if offsets:
        value["offsets"] = abstract.offsets.runs()
    return value


def _abstract(
    ident: str, value: dict[str, Any], provenance: Provenance, text: str, mapped: OffsetMap | None
) -> Abstract:
    title = value.get("title")
    document = Document(
        id=ident,
        text=text,
        origin=provenance.source,
        format=provenance.source_format or "text",
        title=title,
    )
    body_start = len(title) + 2 if title and text.startswith(title + "\n\n") else 0
    return Abstract(
        id=ident,
        title=title,
        text=text,
        sections=tuple(load(Section, section) for section in value.get("sections") or []),
        offsets=mapped or OffsetMap.identity(len(text)),
        document=document,
        body_start=body_start,
        warnings=tuple(str(warning) for warning in value.get("warnings") or []),
        confidence=str(value.get("confidence") or "high"),
        pages=tuple(int(number) for number in value.get("pages") or ()),
    )


def stored_offsets(value: dict[str, Any] | None, text: str) -> OffsetMap | None:
    """The map an abstract block stores for ``text`` (None: none, or not one)."""
    runs = (value or {}).get("offsets")
    if not isinstance(runs, list):
        return None
    try:
        offsets = OffsetMap.from_runs([int(number) for number in runs])
    except (TypeError, ValueError, OverflowError):
        return None
    return offsets if len(offsets) == len(text) else None


@dataclass(slots=True)
class Result:
    """A grounded case record with its evidence spans and provenance."""

    id: str
    record: CaseReport
    evidence: list[EvidenceSpan]
    provenance: Provenance
    abstract: Abstract
    has_abstract: bool = True
    """False when read back from a line written before the contract carried the abstract."""
    has_source_map: bool = True
    """False when read back from a line that carries no map to the original page (its
    abstract's offsets are then the identity)."""

    @property
    def grounding_rate(self) -> float:
        if not self.evidence:
            return 1.0
        aligned = sum(span.status is not AlignmentStatus.unaligned for span in self.evidence)
        return aligned / len(self.evidence)

    def to_dict(self) -> dict[str, Any]:
        value = {
            "id": self.id,
            "record": self.record.model_dump(mode="json"),
            "evidence": [span.to_dict() for span in self.evidence],
            "provenance": self.provenance.to_dict(),
        }
        if self.has_abstract:  # a line read back without one is written back without one
            value["abstract"] = abstract_to_dict(self.abstract, offsets=self.has_source_map)
        return value

    def to_json(self) -> str:
        """``to_dict`` as the JSON text of a line (without its newline)."""
        return _json(self.to_dict())

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> Result:
        """A result line read back; ContractError when it is not one (or no longer valid)."""
        ident = str(value.get("id", ""))
        try:
            record = CaseReport.model_validate(value["record"])
        except ValidationError as error:
            raise ContractError(f"record is not a valid case record: {_where(error)}") from None
        except KeyError:
            raise ContractError("not a result line: it has no 'record'") from None
        block = value.get("abstract")
        stored: dict[str, Any] = block if isinstance(block, dict) else {}
        text = str(stored.get("text") or "")
        mapped = stored_offsets(stored, text)
        try:
            provenance = Provenance.from_dict(value.get("provenance") or {})
            evidence = [EvidenceSpan.from_dict(span) for span in value.get("evidence") or []]
            abstract = _abstract(ident, stored, provenance, text, mapped)
        except ValidationError as error:
            raise ContractError(f"not a result line: {_where(error)}") from None
        except (TypeError, ValueError, AttributeError) as error:
            raise ContractError(f"not a result line: {type(error).__name__}: {error}") from None
        return cls(
            id=ident,
            record=record,
            evidence=evidence,
            provenance=provenance,
            abstract=abstract,
            has_abstract=isinstance(block, dict),
            has_source_map=mapped is not None,
        )


def _where(error: ValidationError) -> str:
    """Where a line first fails validation, and why: ``patient.age_years: Input should…``."""
    problem = error.errors()[0]
    return f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"


class RecordedError(SummarizerError):
    """An error read back from an output file (its class is named after the original type)."""


@functools.cache
def _error_class(name: str) -> type[RecordedError]:
    if not name.isidentifier():
        return RecordedError
    return type(name, (RecordedError,), {"__module__": __name__})


@dataclass(slots=True)
class Failure:
    """A record that could not be summarized; batches report it and go on."""

    id: str
    error: SummarizerError
    source: str = ""
    title: str | None = None
    reference: dict[str, str] = field(default_factory=dict)

    @property
    def error_type(self) -> str:
        """The error's class name (a stored failure keeps the name it was written with)."""
        return type(self.error).__name__

    def to_dict(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": self.id,
            "error": str(self.error),
            "error_type": self.error_type,
        }
        if self.title:  # a failed row keeps its title and reference (review tables)
            payload["title"] = self.title
        if self.reference:
            payload["reference"] = dict(self.reference)
        return payload

    def to_json(self) -> str:
        """``to_dict`` as the JSON text of a line (without its newline)."""
        return _json(self.to_dict())

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> Failure:
        error_class = _error_class(str(value.get("error_type") or "SummarizerError"))
        return cls(
            id=str(value.get("id", "")),
            error=error_class(str(value.get("error", ""))),
            title=value.get("title") or None,
            reference=_strings(value.get("reference")),
        )


def failure_of(source: object, error: SummarizerError, *, id: str) -> Failure:
    """A Failure for ``source`` (a Document keeps its title and reference on failure, an
    unreadable export record the title its reader found)."""
    if isinstance(source, InputError):
        return Failure(id=id, error=error, source=source.path or "", title=source.title)
    if isinstance(source, Document):
        return Failure(
            id=id,
            error=error,
            source=source.origin,
            title=source.title,
            reference=reference_of(source),
        )
    if isinstance(source, Abstract):
        return failure_of(source.document, error, id=id)
    return Failure(id=id, error=error)
