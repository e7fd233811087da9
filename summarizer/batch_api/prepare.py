"""``batch prepare``: the request file of a provider batch, and its context file.

Each record is read, cleaned and rendered as the online path does it, and the
``openai`` backend's own ``build`` gives its chat-completions bodies (one, or one per
stage of a staged prompt), written unchanged as OpenAI batch input lines::

    {"custom_id": "ID" or "ID#stage", "method": "POST", "url": "/v1/chat/completions", "body": {...}}

Beside each request file goes its context file (``summarizer.batch_api.context``). Inputs
stream and every line is written as it is made, so memory stays flat in the number of
records. The files are written under temporary names and moved into place at the end
(``request_files``): an interrupted or refused run leaves no partial request file to
submit.

A file holds at most ``MAX_REQUESTS`` requests and ``MAX_BYTES`` bytes (the OpenAI Batch
API's limits); past them the next record starts ``requests-2.jsonl``, and so on (a
record's stages stay together). Duplicate ids are an error that names them: a custom_id
must be unique within a batch, and the collected output has one line per id.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..backends import capabilities_of
from ..backends.openai_compat import OpenAISteps
from ..clean import clean
from ..config import DEFAULT_OPENAI_MODEL, Settings
from ..document import Document
from ..errors import ConfigError, InputError, OutputError, SummarizerError
from ..evaluation.prices import Price, PriceTable
from ..ingest.exports import is_result_line
from ..options import RunOptions
from ..output.line_store import iter_lines
from ..output.targets import check_output, sidecar_path
from ..pipeline import schema_hash
from ..render import PromptVersion, load_prompt, render
from ..results import Failure, failure_of
from ..runner import item_id
from ..schema import SCHEMA_VERSION
from .context import ContextHeader, RequestSettings, context_path, custom_id
from .request_files import Parts, RequestFile
from .tokens import TokenCount, TokenCounter

__all__ = [
    "MAX_BYTES",
    "MAX_REQUESTS",
    "PrepareSummary",
    "RequestFile",
    "failed_ids",
    "prepare_batch",
]

MAX_REQUESTS = 50_000
MAX_BYTES = 200 * 1024 * 1024
MAX_NAMED = 20
"""Duplicate ids and failures named in messages (the rest are counted)."""


@dataclass(slots=True)
class PrepareSummary:
    """What ``prepare_batch`` wrote, what it counted and what it will cost."""

    model: str
    prompt: str
    max_tokens: int
    files: list[RequestFile] = field(default_factory=list)
    failed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    """(id, error) of the first records that could not be prepared."""
    tokens: TokenCount = field(default_factory=lambda: TokenCount(0, None))
    price: Price | None = None
    """The Batch API price of the model (None: unknown)."""

    @property
    def requests(self) -> int:
        return sum(part.requests for part in self.files)

    @property
    def records(self) -> int:
        return sum(part.records for part in self.files)

    @property
    def prompt_cost(self) -> float | None:
        """Dollars for the prompt tokens at batch prices (None: no price)."""
        if self.price is None:
            return None
        return self.price.cost(self.tokens.prompt_tokens, 0)

    @property
    def prompt_cost_cached(self) -> float | None:
        """Dollars for the prompt tokens when every request finds its repeated prefix in
        the provider's prompt cache (the tools and system prompt: ``tokens.cacheable_tokens``),
        at the cached batch rate (None: no price)."""
        if self.price is None:
            return None
        return self.price.cost(self.tokens.prompt_tokens, 0, cached=self.tokens.cacheable_tokens)

    @property
    def completion_cost_cap(self) -> float | None:
        """Dollars if every request wrote ``max_tokens`` (the most it can cost)."""
        if self.price is None:
            return None
        return self.price.cost(0, self.requests * self.max_tokens)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": [
                {**asdict(part), "path": str(part.path), "context": str(part.context)}
                for part in self.files
            ],
            "model": self.model,
            "prompt": self.prompt,
            "records": self.records,
            "requests": self.requests,
            "failed": self.failed,
            "tokens": self.tokens.to_dict(),
            "price": self.price.to_dict() if self.price else None,
            "prompt_cost": self.prompt_cost,
            "prompt_cost_cached": self.prompt_cost_cached,
            "completion_cost_cap": self.completion_cost_cap,
        }


def failed_ids(output: str | Path) -> set[str]:
    """The ids whose line in an earlier run's output is an error (``--only-failed``).

    ``output`` is a JSON Lines output of ``batch collect`` or ``summarize``, or a
    Markdown, CSV or HTML one (its records are read from its sidecar). A record with a
    good line is done, whatever errors it had before. ``InputError`` when the file holds
    none of our result lines (an input, say: preparing "its failures" would prepare all).
    """
    path = Path(output)
    if path.suffix not in (".jsonl", ".json") and sidecar_path(path).is_file():
        path = sidecar_path(path)
    failed: dict[str, bool] = {}
    try:
        for value in iter_lines(path):
            if is_result_line(value):
                ident = value["id"]
                failed[ident] = failed.get(ident, True) and "record" not in value
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror or error}", path=str(output)) from error
    if not failed:
        raise InputError(
            "holds no result lines: give --only-failed the output of `batch collect` or "
            "`summarize`",
            path=str(output),
        )
    return {ident for ident, is_error in failed.items() if is_error}


def _check_limits(max_requests: int, max_bytes: int) -> None:
    if not 1 <= max_requests <= MAX_REQUESTS:
        raise ConfigError(f"requests per file must be between 1 and {MAX_REQUESTS:,}")
    if not 1 <= max_bytes <= MAX_BYTES:
        raise ConfigError(f"bytes per file must be between 1 and {MAX_BYTES:,}")


def _check_settings(settings: Settings) -> None:
    if settings.backend != "auto" and capabilities_of(settings).local:
        raise ConfigError(
            f"a provider batch asks an OpenAI-compatible endpoint; the {settings.backend} "
            "backend runs here and has no batch path (use summarize)"
        )


def _check_outputs(first: Path, sources: list[str | Path]) -> None:
    check_output(first, sources, writes=frozenset({"requests"}))
    check_output(context_path(first), sources, writes=frozenset({"context"}))
    if first.name.endswith(".context.jsonl"):
        raise OutputError("name the request file, not its context file", path=str(first))


def _header(first: Path, model: str, settings: Settings, version: PromptVersion) -> ContextHeader:
    return ContextHeader(
        requests_file=first.name,
        model=model,
        mode=settings.mode or "tools",
        prompt=version.version,
        prompt_hash=version.hash,
        schema_version=SCHEMA_VERSION,
        schema_hash=schema_hash(),
        settings=RequestSettings(
            temperature=settings.temperature,
            max_tokens=settings.resolved_max_tokens,
            seed=settings.seed,
        ),
    )


class _Ids:
    """The ids seen (record ids and custom_ids share one namespace in a batch), and the
    duplicates among them, named at the end."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._duplicates: list[str] = []

    def unique(self, ident: str) -> bool:
        if ident in self._seen:
            if ident not in self._duplicates:
                self._duplicates.append(ident)
            return False
        self._seen.add(ident)
        return True

    def check(self) -> None:
        """``InputError`` naming the duplicates, if any."""
        if not self._duplicates:
            return
        named = ", ".join(self._duplicates[:MAX_NAMED])
        more = len(self._duplicates) - MAX_NAMED
        raise InputError(
            f"duplicate record ids: {named}{f' and {more} more' if more > 0 else ''}; each id "
            "must be unique in a batch (rename them in the input); nothing was written"
        )


def _wanted(
    items: Iterable[Document | InputError], only: Container[str] | None, ids: _Ids
) -> Iterator[tuple[str, Document | InputError]]:
    """Each input record with its id: those ``only`` names (all without it), once each."""
    for position, item in enumerate(items):
        ident = item_id(item, position)
        if (only is None or ident in only) and ids.unique(ident):
            yield ident, item


def prepare_batch(
    sources: Iterable[str | Path],
    settings: Settings | None = None,
    *,
    output: str | Path,
    options: RunOptions | None = None,
    only: Container[str] | None = None,
    max_requests: int = MAX_REQUESTS,
    max_bytes: int = MAX_BYTES,
    prices: PriceTable | None = None,
    count_tokens: bool = True,
) -> PrepareSummary:
    """Write the request file(s) and context file(s) of a provider batch for ``sources``.

    ``settings`` choose the model, mode, prompt version and request parameters (the
    ``openai`` backend's defaults otherwise); no key or server is needed. ``only``: the
    ids to prepare (``--only-failed``); the others are skipped. Records that cannot be
    read or cleaned are counted in the summary and kept in the context file as failures
    (``collect`` writes them out). Prompt tokens are counted with the model's tokenizer
    when it has one; ``count_tokens=False`` estimates them (characters / 4) instead. Raises ``InputError`` naming duplicate ids, and
    nothing is written then.
    """
    _check_limits(max_requests, max_bytes)
    settings = settings or Settings.from_env()
    _check_settings(settings)
    source_list = list(sources)
    first = Path(output)
    _check_outputs(first, source_list)
    steps = OpenAISteps(settings)
    model = steps.spec.model or DEFAULT_OPENAI_MODEL
    version = load_prompt(settings.resolved_prompt)
    table = prices or PriceTable.load()
    summary = PrepareSummary(
        model=model,
        prompt=version.version,
        max_tokens=settings.resolved_max_tokens,
        price=table.price(OpenAISteps.name, model, batch=True),
    )
    counter = TokenCounter(model, exact=count_tokens, cache_rule=table.prompt_cache.cached)
    parts = Parts(
        first,
        _header(first, model, settings, version),
        max_requests=max_requests,
        max_bytes=max_bytes,
    )
    from ..ingest import iter_documents

    preparing = _Preparing(steps, version, parts, summary, counter)
    committed = False
    try:
        items = iter_documents(source_list, options or RunOptions())
        for ident, item in _wanted(items, only, preparing.ids):
            preparing.record(ident, item)
        preparing.ids.check()
        summary.tokens = counter.total()
        parts.commit()
        committed = True
    finally:
        if not committed:
            parts.discard()
    summary.files = parts.files
    return summary


@dataclass(slots=True)
class _Preparing:
    """What each record of one ``prepare_batch`` is built with and written into."""

    steps: OpenAISteps
    version: PromptVersion
    parts: Parts
    summary: PrepareSummary
    counter: TokenCounter
    ids: _Ids = field(default_factory=lambda: _Ids())

    def record(self, ident: str, item: Document | InputError) -> None:
        """One record into the parts: its requests, or its failure."""
        if isinstance(item, InputError):
            self.failed(failure_of(item, item, id=ident))
            return
        try:
            abstract = clean(item)
            requests = self.steps.build(render(abstract, self.version))
        except SummarizerError as error:
            self.failed(failure_of(item, error, id=ident))
            return
        lines = [(custom_id(ident, r.stage), r.body, r.stage) for r in requests]
        if not all([self.ids.unique(each) for each, _, _ in lines if each != ident]):
            return  # a stage's custom_id is another record's id: named at the end
        too_large = self.parts.add(ident, abstract, lines)
        if too_large is not None:
            self.failed(too_large)
            return
        for request in requests:
            self.counter.add(request.body)

    def failed(self, failure: Failure) -> None:
        """A record that could not be prepared: counted, named (the first few), and kept in
        the context file (collected as its error)."""
        self.summary.failed += 1
        if len(self.summary.failures) < MAX_NAMED:
            self.summary.failures.append((failure.id, str(failure.error)))
        self.parts.fail(failure)
