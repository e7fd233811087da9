"""``batch collect``: a provider batch's answers, parsed, validated and grounded, written
in the output contract.

The answers come from the batch's result files: downloaded by batch id (``remote``), or
given as local files (``vllm run-batch``'s output, or files downloaded by hand). The
records come from the context file ``prepare`` wrote. Each record goes through the
online pipeline with the network replaced by the answers (``replay.BatchBackend``): the
same ``Summarizer`` and runner, the same parser, grounding and writers, so every
``--format`` works, and an ``-o`` file is resumable and idempotent like ``summarize -o``
(ids already collected are skipped; this request file's error lines are redone, which
costs nothing; a rerun gives the same file).

Every record of the context file ends as one line: a result, or an error with
``error`` and ``error_type`` (``BatchAnswerError`` for an error line, a non-200 status or
a damaged body; ``MissingAnswerError`` for no answer; ``ExtractionError`` for an answer
cut off at max_tokens or one that does not validate; ``GroundingError`` for an evidence
quote not in the abstract). Answers to custom_ids the context file does not know, ids
answered twice and unreadable lines are reported in the summary. ``retry_failed`` asks
online what the batch could not answer (re-asks included).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..backends import ModelBackend
from ..backends.openai_compat import OpenAIBackend, OpenAISteps
from ..config import Settings
from ..document import Abstract, Document
from ..errors import ConfigError, SummarizerError
from ..evaluation.prices import Price, PriceTable
from ..local_batch import BatchSummary, run_into
from ..options import RunOptions
from ..output.targets import check_output, open_target
from ..pipeline import RunLog as RunLogProtocol
from ..pipeline import Summarizer, schema_hash
from ..render import RenderedPrompt, load_prompt, outline
from ..results import Failure, Result
from ..runlog import RunLog
from ..sync import blocking
from ..usage import Usage
from .answers import Answers
from .context import ContextHeader, Prepared, check_header, context_ids, context_path, read_context
from .remote import adownload_results
from .replay import BatchBackend, answering

__all__ = ["CollectSummary", "acollect_batch", "collect_batch"]

MAX_NAMED = 20


@dataclass(slots=True)
class CollectSummary:
    """What ``collect_batch`` did: the run's counts (``run``), what did not match, and
    the tokens and cost of the answers it used."""

    run: BatchSummary
    model: str
    requests_file: str
    results: list[str]
    batch_id: str | None = None
    unknown: list[str] = field(default_factory=list)
    """custom_ids answered that the context file does not know (the first few)."""
    unknown_count: int = 0
    answered_twice: list[str] = field(default_factory=list)
    unreadable: int = 0
    """Result lines that are not JSON or carry no custom_id."""
    batch_tokens: Usage = field(default_factory=Usage)
    online_tokens: Usage = field(default_factory=Usage)
    online_requests: int = 0
    batch_price: Price | None = None
    online_price: Price | None = None

    @property
    def ok(self) -> bool:
        """No record failed (now or before), and every answer line was ours, readable and
        the only one for its request."""
        return (
            self.run.ok
            and not self.unknown_count
            and not self.unreadable
            and not self.answered_twice
        )

    @property
    def cost(self) -> float | None:
        """Dollars, as billed: batch answers at batch prices, online asks at list prices,
        the prompt tokens the provider reports as cached at its cached rates."""
        return self._cost(cached=True)

    @property
    def cost_without_cache(self) -> float | None:
        """``cost`` with every prompt token at the full rate (what caching saved: the
        difference)."""
        return self._cost(cached=False)

    def _cost(self, *, cached: bool) -> float | None:
        if self.batch_price is None or (self.online_requests and self.online_price is None):
            return None
        total = _priced(self.batch_price, self.batch_tokens, cached=cached)
        if self.online_price is not None:
            total += _priced(self.online_price, self.online_tokens, cached=cached)
        return total

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.run.to_dict(),
            "batch_id": self.batch_id,
            "model": self.model,
            "requests_file": self.requests_file,
            "results": list(self.results),
            "unknown_ids": list(self.unknown),
            "unknown_count": self.unknown_count,
            "answered_twice": list(self.answered_twice),
            "unreadable_lines": self.unreadable,
            "batch_tokens": self.batch_tokens.to_dict(),
            "online_tokens": self.online_tokens.to_dict(),
            "online_requests": self.online_requests,
            "cost": self.cost,
            "cost_without_cache": self.cost_without_cache,
            "batch_price": self.batch_price.to_dict() if self.batch_price else None,
        }


class _TaggedLog:
    """The run log, with the batch id added to every call it records."""

    def __init__(self, run_log: RunLogProtocol, batch_id: str | None) -> None:
        self._log = run_log
        self._batch_id = batch_id

    def record_call(self, entry: dict[str, Any]) -> None:
        self._log.record_call({**entry, "batch_id": self._batch_id, "via": "provider-batch"})


class _Collector(Summarizer):
    """The summarizer with each record's id made known to the batch backend's ``send``;
    a record that could not be prepared fails again with its stored error. When nothing
    is sent online, the prompt is its outline: the answers are read, never asked for."""

    unprepared: dict[str, SummarizerError]
    sends: bool

    def _render(self, abstract: Abstract) -> RenderedPrompt | None:
        if self.sends:
            return super()._render(abstract)
        return outline(self.settings.resolved_prompt)

    async def asummarize(self, source: Any) -> Result:
        ident = source.id if isinstance(source, Document | Abstract) else ""
        if isinstance(source, Document) and ident in self.unprepared:
            raise self.unprepared.pop(ident)
        with answering(ident):
            return await super().asummarize(source)


class _IdsOf:
    """The record ids of a context file, as the output's error lines to redo; read at the
    first question (only an output that already holds error lines asks)."""

    def __init__(self, context: Path) -> None:
        self._context = context
        self._ids: set[str] | None = None

    def __contains__(self, ident: object) -> bool:
        if self._ids is None:
            self._ids = context_ids(self._context)
        return ident in self._ids


def _collect_settings(settings: Settings, header: ContextHeader, *, retry_failed: bool) -> Settings:
    """The settings the requests were built with; one answer per request (and grounding
    enforced) unless the failures are asked online."""
    return settings.replace(
        backend=OpenAISteps.name,
        model=header.model,
        mode=header.mode,
        prompt=header.prompt,
        temperature=header.settings.temperature,
        max_tokens=header.settings.max_tokens,
        seed=header.settings.seed,
        validation_attempts=settings.resolved_validation_attempts if retry_failed else 1,
        strict_grounding=settings.strict_grounding if retry_failed else True,
    )


def _items(
    records: Iterator[Prepared | Failure], known: set[str], unprepared: dict[str, SummarizerError]
) -> Iterator[Abstract | Document]:
    """The context file's records for the runner; the custom_ids seen go to ``known``.
    A record that could not be prepared comes as an empty document keeping its title and
    reference (failed rows keep them), whose error is in ``unprepared``."""
    for item in records:
        if isinstance(item, Prepared):
            known.update(ident for ident, _ in item.requests)
            yield item.abstract
        else:
            unprepared[item.id] = item.error
            yield Document(
                id=item.id,
                text="",
                origin=item.source,
                format="text",
                title=item.title,
                metadata=item.reference,
            )


def _is_batch_id(value: str | Path | Sequence[str | Path]) -> bool:
    """A string that names no file and does not look like one is a provider batch id."""
    return (
        isinstance(value, str)
        and not Path(value).exists()
        and not value.endswith(".jsonl")
        and "/" not in value
        and "\\" not in value
    )


@dataclass(frozen=True, slots=True)
class _Source:
    """Where a collect's answers come from, and the request file they answer."""

    requests: Path
    files: list[Path]
    batch_id: str | None = None
    missing: str | None = None
    """The error of a request the batch has no answer to (None: ``MissingAnswerError``'s)."""


async def _source(
    results: str | Path | Sequence[str | Path],
    requests: str | Path | None,
    settings: Settings,
    run_log: RunLog | None,
) -> _Source:
    """A batch id's result files, downloaded (its request file from the run log unless
    given), or the local result files named."""
    if not _is_batch_id(results):
        listed = [results] if isinstance(results, str | Path) else list(results)
        if requests is None:
            raise ConfigError("name the request file the batch was made from (--requests)")
        return _Source(requests=Path(requests), files=[Path(path) for path in listed])
    batch_id = str(results)
    info, files = await adownload_results(batch_id, settings, run_log=run_log)
    missing: str | None = None
    if info.status != "completed":
        why = f": {'; '.join(info.errors)}" if info.errors else ""
        missing = f"no answer: the batch {info.status} before answering it{why}"
    requests = requests if requests is not None else info.request_file
    if requests is None:
        raise ConfigError(
            f"{batch_id} is not in the run log: name its request file with --requests"
        )
    return _Source(requests=Path(requests), files=files, batch_id=batch_id, missing=missing)


def _checked_context(context: Path) -> tuple[ContextHeader, Iterator[Prepared | Failure]]:
    """The context file's header and records, refused when its prompt or schema changed."""
    header, records = read_context(context)
    check_header(
        header,
        prompt_hash=load_prompt(header.prompt).hash,
        schema_hash=schema_hash(),
        path=context,
    )
    return header, records


@dataclass(slots=True)
class _Replay:
    """The answers of one collect, the backend that serves them, and the summarizer
    that asks it."""

    answers: Answers
    backend: BatchBackend
    collector: _Collector

    @classmethod
    def open(
        cls,
        settings: Settings,
        header: ContextHeader,
        source: _Source,
        *,
        online: bool,
        run_log: RunLog | None,
    ) -> _Replay:
        """``settings``: those the requests were built with; ``online``: ask what the
        batch could not answer."""
        asks: ModelBackend | None = OpenAIBackend(settings) if online else None
        answers = Answers.open(source.files, missing=source.missing)
        backend = BatchBackend(OpenAISteps(settings), answers, mode=header.mode, online=asks)
        tagged = _TaggedLog(run_log, source.batch_id) if run_log is not None else None
        collector = _Collector(settings, backend=backend, run_log=tagged)
        collector.unprepared = {}
        collector.sends = backend.sends
        return cls(answers=answers, backend=backend, collector=collector)

    async def run(
        self,
        records: Iterator[Prepared | Failure],
        options: RunOptions,
        *,
        context: Path,
        progress: bool,
        on_result: Callable[[Result | Failure], None] | None,
    ) -> tuple[BatchSummary, list[str]]:
        """Every record into ``options``' output; the run's summary and the custom_ids
        answered that the context file does not know. Closes the answers and the
        summarizer."""
        known: set[str] = set()
        try:
            target = open_target(
                options.destination,
                options.resolved_format,
                resume=True,
                retry_failed=_IdsOf(context),
            )
            summary = await run_into(
                self.collector,
                _items(records, known, self.collector.unprepared),
                target,
                options=options,
                progress=progress,
                on_result=on_result,
            )
        finally:
            self.answers.close()
            await self.collector.aclose()
        return summary, [ident for ident in self.answers.ids() if ident not in known]


def _log_collection(run_log: RunLog, batch_id: str, run: BatchSummary, batch: Usage) -> None:
    """The batch's collection in the run log, with its tokens when every answer was read."""
    entry: dict[str, Any] = {
        "id": batch_id,
        "collected": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    if not run.skipped:  # every answer was read: the batch's tokens
        entry.update(
            prompt_tokens=batch.prompt_tokens,
            completion_tokens=batch.completion_tokens,
            cached_tokens=batch.cached_tokens,
        )
    run_log.record_batch(entry)


async def acollect_batch(
    results: str | Path | Sequence[str | Path],
    settings: Settings | None = None,
    options: RunOptions | None = None,
    *,
    requests: str | Path | None = None,
    retry_failed: bool = False,
    run_log: RunLog | None = None,
    progress: bool = False,
    on_result: Callable[[Result | Failure], None] | None = None,
    prices: PriceTable | None = None,
) -> CollectSummary:
    """Parse, validate and ground a provider batch's answers into ``options.output``.

    ``results``: a batch id (its output and error files are downloaded, once, with
    ``settings``' key and server; the request file comes from the run log unless
    given), or the local result file(s) (``vllm run-batch``'s output, or downloaded
    files). ``requests``: the request file ``prepare_batch`` wrote (its context file
    beside it is what is read). ``options``: the output and its format as in
    ``run_batch`` (a path is resumable, and this batch's error lines are redone; None:
    stdout) and, with ``retry_failed``, the concurrency of the online requests.
    ``retry_failed`` asks online (with ``settings``) what the batch could not answer,
    re-asks included. ``run_log`` records every record's tokens and the batch's
    collection.
    """
    settings = settings or Settings.from_env()
    source = await _source(results, requests, settings, run_log)
    options = options or RunOptions()
    context = context_path(source.requests)
    if isinstance(options.destination, Path):
        inputs = [source.requests, context, *source.files]
        check_output(options.destination, inputs, force=options.force)
    header, records = _checked_context(context)
    collect_settings = _collect_settings(settings, header, retry_failed=retry_failed)
    replay = _Replay.open(collect_settings, header, source, online=retry_failed, run_log=run_log)
    summary, unknown = await replay.run(
        records,
        # answers are read, not asked: one at a time, unless asked online again
        options if retry_failed else options.replace(concurrency=1),
        context=context,
        progress=progress,
        on_result=on_result,
    )
    table = prices or PriceTable.load()
    served = replay.backend.served
    if source.batch_id is not None and run_log is not None:
        _log_collection(run_log, source.batch_id, summary, served.batch)
    return CollectSummary(
        run=summary,
        model=header.model,
        requests_file=str(context),
        results=[str(path) for path in source.files],
        batch_id=source.batch_id,
        unknown=unknown[:MAX_NAMED],
        unknown_count=len(unknown),
        answered_twice=served.answered_twice[:MAX_NAMED],
        unreadable=replay.answers.unreadable,
        batch_tokens=served.batch,
        online_tokens=served.online,
        online_requests=served.online_requests,
        batch_price=table.price(OpenAISteps.name, header.model, batch=True),
        online_price=table.price(OpenAISteps.name, header.model),
    )


collect_batch = blocking(acollect_batch, name="collect_batch")


def _priced(price: Price, usage: Usage, *, cached: bool) -> float:
    return price.cost(
        usage.prompt_tokens,
        usage.completion_tokens,
        cached=usage.cached_tokens if cached else 0,
    )
