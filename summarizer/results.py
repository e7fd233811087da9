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
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

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


_encode = json.JSONEncoder(ensure_ascii=False).encode
"""``json.dumps(value, ensure_ascii=False)``, with one encoder kept."""

_text = json.encoder.encode_basestring
"""How that encoder writes a string (the function it uses itself)."""


def _value(value: Any) -> str:
    """One value as ``_encode`` writes it: text, None, booleans, integers and finite
    floats directly (as the encoder writes them: ``repr``), anything else by the encoder."""
    kind = type(value)
    if kind is str:
        return _text(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if kind is int:
        return int.__repr__(value)
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    return _encode(value)


def _texts(values: Any) -> str:
    """A list of strings as ``_encode`` writes it."""
    return f"[{', '.join(map(_value, values))}]"


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


@dataclass(slots=True, kw_only=True)
class Provenance:
    """How a record was produced."""

    backend: str
    model: str
    mode: str
    prompt_version: str | None
    prompt_hash: str | None
    schema_version: str
    tokens: Usage
    latency_s: float
    requests: int = 1
    """Requests answered: one per stage, plus every re-ask (a transport retry is not one)."""
    reasks: int | None = 0
    """Validation re-asks among ``requests`` (None: read from a line written before
    re-asks were counted apart from requests)."""
    cache_hit: bool = False
    cache_key: str | None = None
    original_latency_s: float | None = None
    """On a cache hit: how long the call that produced the cached answer took."""
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
        return {
            "backend": self.backend,
            "model": self.model,
            "mode": self.mode,
            "prompt_version": self.prompt_version,
            "prompt_hash": self.prompt_hash,
            "schema_version": self.schema_version,
            "attempts": self.requests,
            "requests": self.requests,
            "reasks": self.reasks,
            "tokens": self.tokens.to_dict(),
            "latency_s": round(self.latency_s, 4),
            "original_latency_s": (
                None if self.original_latency_s is None else round(self.original_latency_s, 4)
            ),
            "cache_hit": self.cache_hit,
            "cache_key": self.cache_key,
            "source": self.source,
            "source_format": self.source_format,
            "warnings": list(self.warnings),
            "confidence": self.confidence,
            "reference": dict(self.reference),
            "dropped": [item.to_dict() for item in self.dropped],
            "merged": self.merged,
        }

    def to_json(self) -> str:
        """``to_dict`` as JSON text (see ``Result.to_json``)."""
        tokens = self.tokens
        texts = (self.backend, self.model, self.mode, self.schema_version, self.source)
        numbers = (
            self.requests,
            self.merged,
            tokens.prompt_tokens,
            tokens.completion_tokens,
            tokens.cached_tokens,
        )
        latency = round(self.latency_s, 4)
        original = self.original_latency_s
        if not (
            all(type(text) is str for text in (*texts, self.source_format, self.confidence))
            and all(type(number) is int for number in numbers)
            and type(latency) is float
            and math.isfinite(latency)
        ):
            return _encode(self.to_dict())  # not the types it declares: as the encoder says
        backend, model, mode, schema_version, source = map(_text, texts)
        return (
            f'{{"backend": {backend}, "model": {model}, "mode": {mode}, '
            f'"prompt_version": {_value(self.prompt_version)}, '
            f'"prompt_hash": {_value(self.prompt_hash)}, "schema_version": {schema_version}, '
            f'"attempts": {self.requests}, "requests": {self.requests}, '
            f'"reasks": {_value(self.reasks)}, "tokens": {{"prompt": {tokens.prompt_tokens}, '
            f'"completion": {tokens.completion_tokens}, "total": {tokens.total_tokens}, '
            f'"cached": {tokens.cached_tokens}}}, '
            f'"latency_s": {latency!r}, '
            f'"original_latency_s": {_value(None if original is None else round(original, 4))}, '
            f'"cache_hit": {_value(self.cache_hit)}, "cache_key": {_value(self.cache_key)}, '
            f'"source": {source}, "source_format": {_text(self.source_format)}, '
            f'"warnings": {_texts(self.warnings)}, "confidence": {_text(self.confidence)}, '
            f'"reference": {_encode(dict(self.reference)) if self.reference else "{}"}, '
            f'"dropped": {_encode([item.to_dict() for item in self.dropped]) if self.dropped else "[]"}, '
            f'"merged": {self.merged}}}'
        )

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> Provenance:
        requests = value.get("requests", value.get("attempts", 1))
        original = value.get("original_latency_s")
        return cls(
            backend=str(value.get("backend") or "unknown"),
            model=str(value.get("model") or "unknown"),
            mode=str(value.get("mode") or "unknown"),
            prompt_version=value.get("prompt_version"),
            prompt_hash=value.get("prompt_hash"),
            schema_version=str(value.get("schema_version", "")),
            tokens=Usage.from_dict(value.get("tokens")),
            latency_s=float(value.get("latency_s") or 0.0),
            requests=int(requests or 0),
            reasks=None if value.get("reasks") is None else int(value["reasks"]),
            cache_hit=bool(value.get("cache_hit", False)),
            cache_key=value.get("cache_key"),
            original_latency_s=None if original is None else float(original),
            source=str(value.get("source", "")),
            source_format=str(value.get("source_format", "")),
            warnings=[str(warning) for warning in value.get("warnings") or []],
            confidence=str(value.get("confidence") or "high"),
            reference=_strings(value.get("reference")),
            dropped=[DroppedItem.from_dict(item) for item in value.get("dropped") or []],
            merged=int(value.get("merged") or 0),
        )


def _strings(value: Any) -> dict[str, str]:
    return {str(key): str(item) for key, item in (value or {}).items()}


def abstract_to_dict(abstract: Abstract, *, offsets: bool = True) -> dict[str, Any]:
    value: dict[str, Any] = {
        "title": abstract.title,
        "text": abstract.text,
        "sections": [_section_dict(section) for section in abstract.sections],
        "warnings": list(abstract.warnings),
        "confidence": abstract.confidence,
        **({"pages": list(abstract.pages)} if abstract.pages else {}),
    }
    if offsets:
        value["offsets"] = abstract.offsets.runs()
    return value


def _section_dict(section: Section) -> dict[str, Any]:
    return {
        "kind": section.kind,
        "heading": section.heading,
        "start": section.start,
        "end": section.end,
        "from_body": section.from_body,
    }


def abstract_json(abstract: Abstract, *, offsets: bool = True) -> str:
    """``abstract_to_dict`` as JSON text (see ``Result.to_json``)."""
    title, text, confidence = abstract.title, abstract.text, abstract.confidence
    if abstract.pages or not (
        type(text) is type(confidence) is str and (title is None or type(title) is str)
    ):
        # a PDF's (its pages), or not the types it declares: as the encoder says
        return _encode(abstract_to_dict(abstract, offsets=offsets))
    sections = ", ".join(map(_section_json, abstract.sections))
    runs = f', "offsets": [{", ".join(map(str, abstract.offsets.runs()))}]' if offsets else ""
    return (
        f'{{"title": {"null" if title is None else _text(title)}, "text": {_text(text)}, '
        f'"sections": [{sections}], "warnings": {_texts(abstract.warnings)}, '
        f'"confidence": {_text(confidence)}{runs}}}'
    )


def _section_json(section: Section) -> str:
    kind, heading, start, end = section.kind, section.heading, section.start, section.end
    if not (
        type(kind) is str
        and (heading is None or type(heading) is str)
        and type(start) is type(end) is int
        and type(section.from_body) is bool
    ):
        return _encode(_section_dict(section))  # not the types it declares
    return (
        f'{{"kind": {_text(kind)}, "heading": {"null" if heading is None else _text(heading)}, '
        f'"start": {start}, "end": {end}, "from_body": {"true" if section.from_body else "false"}}}'
    )


def evidence_json(span: EvidenceSpan) -> str:
    """``EvidenceSpan.to_dict`` as JSON text (see ``Result.to_json``)."""
    field, quote, status = span.field, span.quote, span.status
    start, end, source_start, source_end = span.start, span.end, span.source_start, span.source_end
    score = round(span.score, 1)
    page = span.page
    if not (
        type(field) is type(quote) is str
        and isinstance(status, str)
        and type(start) is type(end) is type(source_start) is type(source_end) is int
        and type(score) is float
        and math.isfinite(score)
        and (page is None or type(page) is int)
    ):
        return _encode(span.to_dict())  # not the types it declares: as the encoder says
    return (
        f'{{"field": {_text(field)}, "quote": {_text(quote)}, "status": {_text(status)}, '
        f'"start": {start}, "end": {end}, "source_start": {source_start}, '
        f'"source_end": {source_end}, "score": {score!r}'
        + ("}" if page is None else f', "page": {page}}}')
    )


def abstract_from_dict(
    ident: str, value: dict[str, Any] | None, provenance: Provenance
) -> Abstract:
    """The stored abstract, its map to the original page from ``offsets`` (a line
    written before the map was stored, or whose map does not cover its text: identity)."""
    value = value or {}
    text = str(value.get("text") or "")
    return _abstract(ident, value, provenance, text, stored_offsets(value, text))


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
    sections = tuple(
        Section(
            kind=str(section.get("kind", "other")),
            heading=section.get("heading"),
            start=int(section["start"]),
            end=int(section["end"]),
            from_body=bool(section.get("from_body", False)),
        )
        for section in value.get("sections") or []
    )
    body_start = len(title) + 2 if title and text.startswith(title + "\n\n") else 0
    return Abstract(
        id=ident,
        title=title,
        text=text,
        sections=sections,
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


def evidence_from_dict(value: dict[str, Any]) -> EvidenceSpan:
    return EvidenceSpan(
        field=str(value["field"]),
        quote=str(value["quote"]),
        status=AlignmentStatus(value["status"]),
        start=int(value["start"]),
        end=int(value["end"]),
        source_start=int(value["source_start"]),
        source_end=int(value["source_end"]),
        score=float(value.get("score", 0.0)),
        page=None if value.get("page") is None else int(value["page"]),
    )


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
        """``to_dict`` as JSON text, the same characters as ``json.dumps(self.to_dict(),
        ensure_ascii=False)``, written directly: the encoder spends most of a line on the
        keys of its fixed parts (evidence, provenance, abstract), a fifth of collecting a
        provider batch. Only the record's own dump goes through the encoder."""
        abstract = (
            f', "abstract": {abstract_json(self.abstract, offsets=self.has_source_map)}'
            if self.has_abstract
            else ""
        )
        return (
            f'{{"id": {_value(self.id)}, '
            f'"record": {_encode(self.record.model_dump(mode="json"))}, '
            f'"evidence": [{", ".join(map(evidence_json, self.evidence))}], '
            f'"provenance": {self.provenance.to_json()}{abstract}}}'
        )

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> Result:
        """A result line read back; ContractError when it is not one (or no longer valid)."""
        ident = str(value.get("id", ""))
        try:
            record = CaseReport.model_validate(value["record"])
            provenance = Provenance.from_dict(value.get("provenance") or {})
            evidence = [evidence_from_dict(span) for span in value.get("evidence") or []]
        except ValidationError as error:
            problem = error.errors()[0]
            where = ".".join(str(part) for part in problem["loc"])
            raise ContractError(
                f"record is not a valid case record: {where}: {problem['msg']}"
            ) from None
        except (KeyError, TypeError, ValueError) as error:
            raise ContractError(f"not a result line: {type(error).__name__}: {error}") from None
        block = value.get("abstract")
        stored = isinstance(block, dict)
        text = str(block.get("text") or "") if isinstance(block, dict) else ""
        mapped = stored_offsets(block, text) if isinstance(block, dict) else None
        return cls(
            id=ident,
            record=record,
            evidence=evidence,
            provenance=provenance,
            abstract=_abstract(
                ident, block if isinstance(block, dict) else {}, provenance, text, mapped
            ),
            has_abstract=stored,
            has_source_map=mapped is not None,
        )


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
        """``to_dict`` as JSON text."""
        return _encode(self.to_dict())

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
