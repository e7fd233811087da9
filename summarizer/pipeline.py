"""The pipeline: Document → clean → render → extract → ground → Result.

``Summarizer`` holds a backend, a rate limiter and optional cache and run log; it has no
global state, so several can live side by side (different models, prompts, caches).
Its async methods are the implementation; the sync ones wrap them once (``sync.Portal``).
Many records go through the one runner (``summarizer.runner``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Iterator
from contextlib import aclosing, closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast, runtime_checkable

from pydantic import ValidationError

from .backends import (
    AnyBackend,
    Extraction,
    HoldsOpen,
    ModelBackend,
    RecordBackend,
    ReportsProgress,
    make_backend,
)
from .clean import clean
from .clean.reuse import cleaning_key
from .config import Settings
from .document import Abstract, Document, Text
from .errors import GroundingError, InputError, SummarizerError
from .ground import Aligner, AlignmentStatus, ground, prune
from .ingest import is_path_name, iter_records
from .options import RunOptions
from .progress import ProgressListener
from .ratelimit import RateLimiter
from .reference import reference_of
from .results import Failure, Provenance, Result, dropped_warning
from .runner import Outcome, run_records
from .schema import SCHEMA_VERSION, CaseReport, json_schema
from .sync import Portal
from .usage import Usage

if TYPE_CHECKING:  # rendered only for a backend that takes a prompt (not rules)
    from .render import RenderedPrompt

__all__ = [
    "Cache",
    "Failure",
    "Provenance",
    "Result",
    "RunLog",
    "Source",
    "Summarizer",
    "asummarize",
    "canonical_hash",
    "schema_hash",
    "summarize",
]

Source = Document | Abstract | Text | str | Path
"""What one record can be given as: a Document, a cleaned Abstract, a text (``Text``, or a
``str`` that is not a file name), or a file (a ``Path``, or a ``str`` naming one)."""


AskModel = Callable[[ModelBackend, "RenderedPrompt", Aligner], Awaitable[Extraction]]
"""Asks a model backend for one record (its requests, re-asks and token counts)."""


class Cache(Protocol):
    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(self, key: str, value: dict[str, Any]) -> None: ...


@runtime_checkable
class AbstractCache(Protocol):
    """A cache that also keeps cleaned abstracts (``ResponseCache`` does)."""

    def get_abstract(self, key: str) -> dict[str, Any] | None: ...

    def put_abstract(self, key: str, value: dict[str, Any]) -> None: ...


class RunLog(Protocol):
    def record_call(self, entry: dict[str, Any]) -> None: ...


def canonical_hash(value: Any) -> str:
    """sha256 of canonical JSON: the key for anything that determines an answer."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@functools.cache
def schema_hash() -> str:
    """``canonical_hash`` of the case record's JSON Schema, made once a process (the
    schema cannot change while it runs)."""
    return canonical_hash(json_schema())


@dataclass(slots=True)
class _Cached:
    """An answer from the cache, with what the original call cost."""

    extraction: Extraction
    latency_s: float | None


@dataclass(slots=True)
class _Call:
    """One record on its way through the pipeline."""

    abstract: Abstract
    prompt: RenderedPrompt | None
    key: str | None
    started: float


class Summarizer:
    """Summarize abstracts with one backend, prompt and (optionally) cache and run log.

    ``summarize``/``asummarize`` do one record; ``summarize_many``/``asummarize_many``
    stream many through the runner (bounded concurrency, rate limits). Close it (or use
    it as a context manager, sync or async) to release the backend.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        options: RunOptions | None = None,
        *,
        backend: AnyBackend | None = None,
        cache: Cache | None = None,
        run_log: RunLog | None = None,
        on_progress: ProgressListener | None = None,
    ) -> None:
        """``options``: how records are read and paced (the record size limit, rate
        limits, concurrency; ``summarizer.options.RunOptions``). ``on_progress``: called
        with what a backend that reports progress is doing (a local model: loading, each
        request's prefill and generation; see ``summarizer.progress``, whose
        ``ProgressPrinter`` writes it to stderr)."""
        self.settings = settings or Settings()
        self.options = options or RunOptions()
        self.backend: AnyBackend = backend or make_backend(self.settings)
        if on_progress is not None and isinstance(self.backend, ReportsProgress):
            self.backend.report_progress(on_progress)
        capabilities = self.backend.capabilities
        self.cache = cache if capabilities.cacheable else None
        # a cache that also keeps cleaned abstracts (``clean.reuse``), or None
        self._abstract_cache = self.cache if isinstance(self.cache, AbstractCache) else None
        self.run_log = run_log if capabilities.takes_prompt else None  # model calls only
        self.limiter = RateLimiter(rpm=self.options.rpm, tpm=self.options.tpm)
        self._ask: AskModel | None = None
        self._renderer: Callable[[Abstract, str], RenderedPrompt] | None = None
        if capabilities.takes_prompt:  # imported here: the rules path loads no jinja2
            from .render import load_prompt, render

            load_prompt(self.settings.resolved_prompt)  # fail early on an unknown version
            self._ask = self._asker()
            self._renderer = render
        self._schema_hash = schema_hash()
        self._portal = Portal()

    def _asker(self) -> AskModel:
        """How a model is asked for a record (instructor and the SDK are imported here,
        only for a backend that takes a prompt)."""
        from .asking import Policy, ask_model

        policy = Policy(
            validation_attempts=self.settings.resolved_validation_attempts,
            strict_grounding=self.settings.strict_grounding,
            limiter=self.limiter if self.limiter.active else None,
        )

        async def ask(
            backend: ModelBackend, prompt: RenderedPrompt, aligner: Aligner
        ) -> Extraction:
            return await ask_model(backend, prompt, aligner=aligner, policy=policy)

        return ask

    # -- preparing -------------------------------------------------------
    def prepare(self, source: Source) -> Abstract:
        """The cleaned abstract of one record."""
        if isinstance(source, Abstract):
            return source
        if isinstance(source, Document):
            return self._clean(self._bounded(source))
        if isinstance(source, str) and not is_path_name(source):
            source = Text(source)
        if isinstance(source, str | Path):
            return self._clean(read_one(Path(source), options=self.options))
        if isinstance(source, Text):
            if not source.text.strip():
                raise InputError("empty text")
            return self._clean(
                self._bounded(Document.from_text(source.text, id=source.id or "text"))
            )
        raise TypeError(f"cannot summarize a {type(source).__name__}")

    def _clean(self, document: Document) -> Abstract:
        """``clean(document)``, or the abstract the cache kept from cleaning it before."""
        cache = self._abstract_cache
        if cache is None:
            return clean(document)
        key = cleaning_key(document)
        stored = cache.get_abstract(key)
        if stored is not None:
            try:
                return Abstract.from_stored(stored, document)
            except (KeyError, TypeError, ValueError):
                pass  # damaged: cleaned again and stored anew
        abstract = clean(document)
        cache.put_abstract(key, abstract.to_stored())
        return abstract

    def _bounded(self, document: Document) -> Document:
        """The document, unless its text is over ``options.max_record_bytes``."""
        from .ingest.lines import text_bytes, too_large

        limit = self.options.max_record_bytes
        if document.format != "html" and len(document.text) * 4 > limit:
            size = text_bytes(document.text)
            if size > limit:
                raise InputError(too_large(size, limit), path=document.origin, record=document.id)
        return document

    def cache_key(self, prompt: RenderedPrompt | None, abstract: Abstract) -> str:
        return canonical_hash(
            {
                "backend": self.backend.identity(),
                "messages": prompt.messages if prompt else abstract.text,
                "prompt_hash": prompt.hash if prompt else None,
                "schema": self._schema_hash,
                "validation_attempts": self.settings.resolved_validation_attempts,
                "strict_grounding": self.settings.strict_grounding,
            }
        )

    # -- one record ----------------------------------------------------------
    def _render(self, abstract: Abstract) -> RenderedPrompt | None:
        """The prompt for ``abstract``; None for a backend that takes none. (The provider
        batch's collect, which reads answers and sends nothing, gives the prompt's outline.)"""
        if self._renderer is None:
            return None
        return self._renderer(abstract, self.settings.resolved_prompt)

    async def asummarize(self, source: Source) -> Result:
        """One grounded record; raises SummarizerError subclasses on failure."""
        abstract = self.prepare(source)
        prompt = self._render(abstract)
        key = self.cache_key(prompt, abstract) if self.cache is not None else None
        call = _Call(abstract, prompt, key, time.perf_counter())
        aligner = Aligner(abstract.text)
        cached = self._cached(key)
        if cached is not None:
            return self._finish(call, cached.extraction, aligner, original_latency=cached.latency_s)
        try:
            if self._ask is None or prompt is None:  # a backend that fills the record itself
                extraction = cast(RecordBackend, self.backend).fill(abstract)
            else:
                extraction = await self._ask(cast(ModelBackend, self.backend), prompt, aligner)
        except SummarizerError as error:
            self._log(call, error=error)
            raise
        self._store(key, extraction, time.perf_counter() - call.started)
        return self._finish(call, extraction, aligner)

    def summarize(self, source: Source) -> Result:
        """Sync ``asummarize``."""
        return self._portal.run(self.asummarize(source))

    # -- many records (the runner) --------------------------------------------
    async def asummarize_many(
        self,
        sources: Iterable[Source | InputError],
        *,
        concurrency: int | None = None,
        order: Literal["input", "completion"] | None = None,
    ) -> AsyncGenerator[Outcome, None]:
        """A ``Result`` or ``Failure`` per record, ``concurrency`` at a time, in input
        order, or as each finishes with ``order="completion"`` (defaults: the options').
        A file holding several records (an export) gives them all; texts get the ids
        ``text-1``, ``text-2``…"""
        changes = {"concurrency": concurrency, "order": order}
        options = self.options.replace(
            **{name: value for name, value in changes.items() if value is not None}
        )
        outcomes = run_records(
            self.asummarize,
            iter_records(sources, options),
            concurrency=options.concurrency,
            ordered=options.order == "input",
        )
        async with aclosing(outcomes):
            async for outcome in outcomes:
                yield outcome

    def summarize_many(
        self,
        sources: Iterable[Source | InputError],
        *,
        concurrency: int | None = None,
        order: Literal["input", "completion"] | None = None,
    ) -> Iterator[Outcome]:
        """Sync ``asummarize_many``."""
        return self._portal.iterate(
            self.asummarize_many(sources, concurrency=concurrency, order=order)
        )

    # -- lifecycle -----------------------------------------------------------
    async def aopen(self) -> None:
        """Hold the backend's resources (a pooled HTTP session) until ``aclose``: what a
        run of many records wants. The context managers call it; without it every call
        still works."""
        if isinstance(self.backend, HoldsOpen):
            await self.backend.aopen()

    async def aclose(self) -> None:
        self._flush_stores()
        await self.backend.aclose()

    def close(self) -> None:
        """Release the backend (and the event loop the sync methods used); commit what
        the cache and run log queued."""
        self._flush_stores()
        if self._portal.started:
            self._portal.run(self.backend.aclose())
            self._portal.close()

    def __enter__(self) -> Summarizer:
        if isinstance(self.backend, HoldsOpen):  # else no event loop is needed yet
            self._portal.run(self.backend.aopen())
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Summarizer:
        await self.aopen()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- internals ---------------------------------------------------------
    def _flush_stores(self) -> None:
        for store in (self.cache, self.run_log):
            flush = getattr(store, "flush", None)
            if callable(flush):
                flush()

    def _cached(self, key: str | None) -> _Cached | None:
        if self.cache is None or key is None:
            return None
        payload = self.cache.get(key)
        if payload is None:
            return None
        try:
            extraction = Extraction(
                record=CaseReport.model_validate(payload["record"]),
                usage=Usage.from_dict(payload.get("usage")),
                requests=int(payload.get("requests", payload.get("attempts", 1))),
                reasks=int(payload.get("reasks", 0)),
            )
            latency = payload.get("latency_s")
            return _Cached(extraction, None if latency is None else float(latency))
        except (ValidationError, KeyError, TypeError, ValueError):
            return None  # stored by an older schema or damaged: a miss, asked again

    def _store(self, key: str | None, extraction: Extraction, latency: float) -> None:
        if self.cache is None or key is None:
            return
        self.cache.put(
            key,
            {
                "record": extraction.record.model_dump(mode="json"),
                "attempts": extraction.requests,
                "requests": extraction.requests,
                "reasks": extraction.reasks,
                "usage": {
                    "prompt_tokens": extraction.usage.prompt_tokens,
                    "completion_tokens": extraction.usage.completion_tokens,
                    "cached_tokens": extraction.usage.cached_tokens,
                },
                "latency_s": round(latency, 4),
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
        prompt = call.prompt
        if extraction is not None:
            usage, attempts = extraction.usage, extraction.requests
        else:
            usage, attempts = (error.usage, error.attempts) if error else (Usage(), 0)
        self.run_log.record_call(
            {
                "record_id": call.abstract.id,
                "backend": self.backend.name,
                "model": self.backend.model,
                "mode": self.backend.mode,
                "prompt_version": prompt.version if prompt else None,
                "prompt_hash": prompt.hash if prompt else None,
                "cache_key": call.key,
                "cache_hit": cache_hit,
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "cached_tokens": usage.cached_tokens,
                "duration_s": time.perf_counter() - call.started,
                "attempts": attempts,
                "error": f"{type(error).__name__}: {error}" if error else None,
            }
        )

    def _finish(
        self,
        call: _Call,
        extraction: Extraction,
        aligner: Aligner,
        *,
        original_latency: float | None = None,
    ) -> Result:
        abstract, prompt = call.abstract, call.prompt
        cache_hit = original_latency is not None
        # After the re-asks: list items whose quote is still not found leave the record
        # (kept in provenance.dropped), repeated items are merged.
        pruned = prune(
            extraction.record, aligner, drop_ungrounded=not self.settings.keep_ungrounded
        )
        spans = ground(pruned.record, abstract, aligner)
        unaligned = [span for span in spans if span.status is AlignmentStatus.unaligned]
        warnings = list(abstract.warnings) + list(extraction.warnings)
        if pruned.dropped:
            warnings.append(dropped_warning(len(pruned.dropped)))
        if pruned.merged:
            warnings.append(f"{pruned.merged} repeated item(s) merged")
        if unaligned:
            warnings.append(f"{len(unaligned)} evidence quote(s) not found in the abstract")
        if self.settings.strict_grounding and (unaligned or pruned.dropped):
            fields = [span.field for span in unaligned] + [item.field for item in pruned.dropped]
            raise GroundingError(
                f"{abstract.id}: unaligned evidence in {', '.join(fields[:3])}",
                usage=extraction.usage,
                attempts=extraction.requests,
            )
        latency = time.perf_counter() - call.started
        self._log(call, extraction=extraction, cache_hit=cache_hit)
        provenance = Provenance(
            backend=self.backend.name,
            model=self.backend.model,
            mode=self.backend.mode,
            prompt_version=prompt.version if prompt else None,
            prompt_hash=prompt.hash if prompt else None,
            schema_version=SCHEMA_VERSION,
            requests=extraction.requests,
            reasks=extraction.reasks,
            tokens=extraction.usage,
            latency_s=latency,
            cache_hit=cache_hit,
            cache_key=call.key,
            original_latency_s=original_latency,
            source=abstract.document.origin,
            source_format=abstract.document.format,
            warnings=warnings,
            confidence=abstract.confidence,
            reference=reference_of(abstract.document),
            dropped=pruned.dropped,
            merged=pruned.merged,
        )
        return Result(
            id=abstract.id,
            record=pruned.record,
            evidence=spans,
            provenance=provenance,
            abstract=abstract,
        )


def read_one(path: Path, *, options: RunOptions | None = None) -> Document:
    """The one record in ``path``; an InputError when it holds none, or several (an
    export: summarize those with ``summarize_many`` or ``run_batch``)."""
    with closing(iter_records([path], options)) as records:  # the file closed at once
        first = next(records, None)
        if first is None:
            raise InputError("no records", path=str(path))
        if isinstance(first, InputError):
            raise first
        if next(records, None) is not None:
            raise InputError(
                "holds several records; summarize() takes one: use summarize_many() or "
                "run_batch() for an export",
                path=str(path),
            )
    assert isinstance(first, Document)
    return first


def summarize(source: Source, *, settings: Settings | None = None, **options: Any) -> Result:
    """Summarize one abstract (text, a Path, a Document or an Abstract).

    ``options`` are Settings fields (``backend="openai", model="gpt-4o-mini"``…); the
    environment (OPENAI_API_KEY, OPENAI_BASE_URL, CASE_SUMMARIZER_MODEL) fills the rest.
    """
    resolved = settings or Settings.from_env(**options)
    with Summarizer(resolved) as summarizer:
        return summarizer.summarize(source)


async def asummarize(source: Source, *, settings: Settings | None = None, **options: Any) -> Result:
    """Async ``summarize``."""
    resolved = settings or Settings.from_env(**options)
    async with Summarizer(resolved) as summarizer:
        return await summarizer.asummarize(source)
