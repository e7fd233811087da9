"""The pipeline: Document → clean → render → extract → ground → Result.

``Summarizer`` holds a backend and optional cache and run log; it has no global state,
so several can live side by side (different models, prompts, caches).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from .backends import Backend, Extraction, Usage, make_backend
from .clean import clean
from .config import Settings
from .document import Abstract, Document
from .errors import GroundingError, InputError, SummarizerError
from .ground import AlignmentStatus, EvidenceSpan, ground
from .reference import reference_of
from .render import RenderedPrompt, load_prompt, render
from .schema import SCHEMA_VERSION, CaseReport, json_schema


@dataclass(slots=True)
class Provenance:
    """How a record was produced."""

    backend: str
    model: str
    mode: str
    prompt_version: str | None
    prompt_hash: str | None
    schema_version: str
    attempts: int
    tokens: Usage
    latency_s: float
    cache_hit: bool = False
    cache_key: str | None = None
    source: str = ""
    source_format: str = ""
    warnings: list[str] = field(default_factory=list)
    reference: dict[str, str] = field(default_factory=dict)
    """The export's key, authors, year, journal and DOI, when the input had them."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "model": self.model,
            "mode": self.mode,
            "prompt_version": self.prompt_version,
            "prompt_hash": self.prompt_hash,
            "schema_version": self.schema_version,
            "attempts": self.attempts,
            "tokens": self.tokens.to_dict(),
            "latency_s": round(self.latency_s, 4),
            "cache_hit": self.cache_hit,
            "cache_key": self.cache_key,
            "source": self.source,
            "source_format": self.source_format,
            "warnings": list(self.warnings),
            "reference": dict(self.reference),
        }


@dataclass(slots=True)
class Result:
    """A grounded case record with its evidence spans and provenance."""

    id: str
    record: CaseReport
    evidence: list[EvidenceSpan]
    provenance: Provenance
    abstract: Abstract

    @property
    def grounding_rate(self) -> float:
        if not self.evidence:
            return 1.0
        aligned = sum(span.status is not AlignmentStatus.unaligned for span in self.evidence)
        return aligned / len(self.evidence)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "record": self.record.model_dump(mode="json"),
            "evidence": [span.to_dict() for span in self.evidence],
            "provenance": self.provenance.to_dict(),
            "abstract": {
                "title": self.abstract.title,
                "text": self.abstract.text,
                "sections": [
                    {"kind": s.kind, "heading": s.heading, "start": s.start, "end": s.end}
                    for s in self.abstract.sections
                ],
                "warnings": list(self.abstract.warnings),
            },
        }

    def to_row(self) -> dict[str, Any]:
        """One flat row of typed values (the CSV review table's columns); see output.table."""
        from .output.table import typed_row  # late import: output depends on this module

        return typed_row(self)


@dataclass(slots=True)
class Failure:
    """A record that could not be summarized; batches report it and go on."""

    id: str
    error: SummarizerError
    source: str = ""
    title: str | None = None
    reference: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": self.id,
            "error": str(self.error),
            "error_type": type(self.error).__name__,
        }
        if self.title:  # a failed row keeps its title and reference (review tables)
            payload["title"] = self.title
        if self.reference:
            payload["reference"] = dict(self.reference)
        return payload

    def to_row(self) -> dict[str, Any]:
        """The review table's row of a failure: id, title, reference and error."""
        from .output.table import typed_row

        return typed_row(self)


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
    return Failure(id=id, error=error, source=getattr(source, "origin", ""))


class Cache(Protocol):
    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(self, key: str, value: dict[str, Any]) -> None: ...


class RunLog(Protocol):
    def record_call(self, entry: dict[str, Any]) -> None: ...


def canonical_hash(value: Any) -> str:
    """sha256 of canonical JSON: the key for anything that determines an answer."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def text_document(text: str, *, id: str = "text", title: str | None = None) -> Document:
    return Document(id=id, text=text, origin="<text>", format="text", title=title)


@dataclass(slots=True)
class _Call:
    """One record on its way through the pipeline."""

    abstract: Abstract
    prompt: RenderedPrompt | None
    key: str
    started: float
    cached: Extraction | None


class Summarizer:
    """Summarize abstracts with one backend, prompt and (optionally) cache and run log."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        backend: Backend | None = None,
        cache: Cache | None = None,
        run_log: RunLog | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.backend = backend or make_backend(self.settings)
        self.cache = cache
        self.run_log = run_log
        self._schema_hash = canonical_hash(json_schema())
        if self.backend.name != "rules":
            load_prompt(self.settings.prompt)  # fail early on an unknown version

    # -- preparing -------------------------------------------------------
    def prepare(self, source: Document | Abstract | str | Path) -> Abstract:
        if isinstance(source, Abstract):
            return source
        if isinstance(source, Document):
            return clean(self._bounded(source))
        if isinstance(source, Path):
            return clean(self._read_one(source))
        if isinstance(source, str):
            if not source.strip():
                raise InputError("empty text")
            return clean(self._bounded(text_document(source)))
        raise TypeError(f"cannot summarize a {type(source).__name__}")

    def _bounded(self, document: Document) -> Document:
        """The document, unless its text is over ``settings.max_record_bytes``."""
        from .ingest.lines import text_bytes, too_large

        limit = self.settings.max_record_bytes
        if document.format != "html" and len(document.text) * 4 > limit:
            size = text_bytes(document.text)
            if size > limit:
                raise InputError(too_large(size, limit), path=document.origin, record=document.id)
        return document

    def _read_one(self, path: Path) -> Document:
        from .ingest import iter_documents

        for item in iter_documents([path], max_record_bytes=self.settings.max_record_bytes):
            if isinstance(item, InputError):
                raise item
            return item
        raise InputError("no records", path=str(path))

    def _prompt(self, abstract: Abstract) -> RenderedPrompt | None:
        if self.backend.name == "rules":
            return None
        return render(abstract, self.settings.prompt)

    def cache_key(self, prompt: RenderedPrompt | None, abstract: Abstract) -> str:
        return canonical_hash(
            {
                "backend": self.backend.identity(),
                "messages": prompt.messages if prompt else abstract.text,
                "prompt_hash": prompt.hash if prompt else None,
                "schema": self._schema_hash,
                "validation_attempts": self.settings.validation_attempts,
                "strict_grounding": self.settings.strict_grounding,
            }
        )

    # -- running -----------------------------------------------------------
    def summarize(self, source: Document | Abstract | str | Path) -> Result:
        """One grounded record; raises SummarizerError subclasses on failure."""
        call = self._begin(source)
        if call.cached is not None:
            return self._finish(call, call.cached, cache_hit=True)
        try:
            extraction = self.backend.extract(call.abstract, call.prompt)  # type: ignore[arg-type]
        except SummarizerError as error:
            self._log(call, error=error)
            raise
        return self._complete(call, extraction)

    async def asummarize(self, source: Document | Abstract | str | Path) -> Result:
        """Async twin of ``summarize`` (for bounded-concurrency batches)."""
        call = self._begin(source)
        if call.cached is not None:
            return self._finish(call, call.cached, cache_hit=True)
        try:
            extraction = await self.backend.aextract(call.abstract, call.prompt)  # type: ignore[arg-type]
        except SummarizerError as error:
            self._log(call, error=error)
            raise
        return self._complete(call, extraction)

    def _begin(self, source: Document | Abstract | str | Path) -> _Call:
        abstract = self.prepare(source)
        prompt = self._prompt(abstract)
        key = self.cache_key(prompt, abstract)
        started = time.perf_counter()
        return _Call(abstract, prompt, key, started, self._cached(key))

    def _complete(self, call: _Call, extraction: Extraction) -> Result:
        self._store(call.key, extraction)
        return self._finish(call, extraction, cache_hit=False)

    def summarize_many(
        self, sources: Iterable[Document | InputError | Abstract | str]
    ) -> Iterator[Result | Failure]:
        """Results in input order; a bad record becomes a Failure and the rest go on."""
        for position, source in enumerate(sources):
            if isinstance(source, InputError):
                yield failure_of(source, source, id=source.record or source.path or str(position))
                continue
            ident = getattr(source, "id", str(position))
            try:
                yield self.summarize(source)
            except SummarizerError as error:
                yield failure_of(source, error, id=ident)

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> Summarizer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------
    def _cached(self, key: str) -> Extraction | None:
        if self.cache is None or self.backend.name == "rules":
            return None
        payload = self.cache.get(key)
        if payload is None:
            return None
        try:
            return Extraction(
                record=CaseReport.model_validate(payload["record"]),
                attempts=int(payload.get("attempts", 1)),
                usage=Usage(**payload.get("usage", {})),
            )
        except (ValidationError, KeyError, TypeError, ValueError):
            return None  # stored by an older schema or damaged: a miss, asked again

    def _store(self, key: str, extraction: Extraction) -> None:
        if self.cache is None or self.backend.name == "rules":
            return
        self.cache.put(
            key,
            {
                "record": extraction.record.model_dump(mode="json"),
                "attempts": extraction.attempts,
                "usage": {
                    "prompt_tokens": extraction.usage.prompt_tokens,
                    "completion_tokens": extraction.usage.completion_tokens,
                },
            },
        )

    def _log(
        self,
        call: _Call,
        *,
        extraction: Extraction | None = None,
        error: SummarizerError | None = None,
        cache_hit: bool = False,
    ) -> None:
        if self.run_log is None:
            return
        abstract, prompt, key, started = call.abstract, call.prompt, call.key, call.started
        usage = extraction.usage if extraction else getattr(error, "usage", None) or Usage()
        self.run_log.record_call(
            {
                "record_id": abstract.id,
                "backend": self.backend.name,
                "model": self.backend.model,
                "mode": self.backend.mode,
                "prompt_version": prompt.version if prompt else None,
                "prompt_hash": prompt.hash if prompt else None,
                "cache_key": key,
                "cache_hit": cache_hit,
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "duration_s": time.perf_counter() - started,
                "attempts": extraction.attempts if extraction else getattr(error, "attempts", None),
                "error": f"{type(error).__name__}: {error}" if error else None,
            }
        )

    def _finish(self, call: _Call, extraction: Extraction, *, cache_hit: bool) -> Result:
        abstract, prompt, key, started = call.abstract, call.prompt, call.key, call.started
        spans = ground(extraction.record, abstract)
        unaligned = [span for span in spans if span.status is AlignmentStatus.unaligned]
        warnings = list(abstract.warnings) + list(extraction.warnings)
        if unaligned:
            warnings.append(f"{len(unaligned)} evidence quote(s) not found in the abstract")
            if self.settings.strict_grounding:
                fields = ", ".join(span.field for span in unaligned[:3])
                raise GroundingError(f"{abstract.id}: unaligned evidence in {fields}")
        latency = time.perf_counter() - started
        self._log(call, extraction=extraction, cache_hit=cache_hit)
        provenance = Provenance(
            backend=self.backend.name,
            model=self.backend.model,
            mode=self.backend.mode,
            prompt_version=prompt.version if prompt else None,
            prompt_hash=prompt.hash if prompt else None,
            schema_version=SCHEMA_VERSION,
            attempts=extraction.attempts,
            tokens=extraction.usage,
            latency_s=latency,
            cache_hit=cache_hit,
            cache_key=key if self.backend.name != "rules" else None,
            source=abstract.document.origin,
            source_format=abstract.document.format,
            warnings=warnings,
            reference=reference_of(abstract.document),
        )
        return Result(
            id=abstract.id,
            record=extraction.record,
            evidence=spans,
            provenance=provenance,
            abstract=abstract,
        )


def summarize(
    source: Document | Abstract | str | Path,
    *,
    settings: Settings | None = None,
    **options: Any,
) -> Result:
    """Summarize one abstract (text, a Path, a Document or an Abstract).

    ``options`` are Settings fields (``backend="openai", model="gpt-4o-mini"``…); the
    environment (OPENAI_API_KEY, OPENAI_BASE_URL, CASE_SUMMARIZER_MODEL) fills the rest.
    """
    resolved = settings or Settings.from_env(**options)
    with Summarizer(resolved) as summarizer:
        return summarizer.summarize(source)


async def asummarize(
    source: Document | Abstract | str | Path,
    *,
    settings: Settings | None = None,
    **options: Any,
) -> Result:
    """Async ``summarize``."""
    resolved = settings or Settings.from_env(**options)
    summarizer = Summarizer(resolved)
    try:
        return await summarizer.asummarize(source)
    finally:
        summarizer.close()
