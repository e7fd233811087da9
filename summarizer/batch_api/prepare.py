"""``batch prepare``: the request file of a provider batch, and its context file.

Each record is read, cleaned and rendered as the online path does it, and the
``openai`` backend's own ``build`` gives its chat-completions bodies (one, or one per
stage of a staged prompt), written unchanged as OpenAI batch input lines::

    {"custom_id": "ID" or "ID#stage", "method": "POST", "url": "/v1/chat/completions", "body": {...}}

Beside each request file goes its context file (``summarizer.batch_api.context``). Inputs
stream and every line is written as it is made, so memory stays flat in the number of
records. The files are written under temporary names and moved into place at the end:
an interrupted or refused run leaves no partial request file to submit.

A file holds at most ``MAX_REQUESTS`` requests and ``MAX_BYTES`` bytes (the OpenAI Batch
API's limits); past them the next record starts ``requests-2.jsonl``, and so on (a
record's stages stay together). Duplicate ids are an error that names them: a custom_id
must be unique within a batch, and the collected output has one line per id.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections.abc import Container, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..backends import capabilities_of
from ..backends.openai_compat import OpenAISteps
from ..clean import clean
from ..config import DEFAULT_OPENAI_MODEL, Settings
from ..errors import ConfigError, InputError, OutputError, SummarizerError
from ..evaluation.prices import Price, PriceTable
from ..ingest.exports import is_result_line
from ..options import RunOptions
from ..output.line_store import file_mode, iter_lines, json_line, temporary_beside, to_json
from ..output.targets import check_output, sidecar_path
from ..pipeline import schema_hash
from ..private import exposure
from ..render import load_prompt, render
from ..results import Failure, failure_of
from ..runner import item_id
from ..schema import SCHEMA_VERSION
from ..sqlite_store import StoreWarning
from .context import ContextHeader, context_path, custom_id, record_line
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
ENDPOINT = "/v1/chat/completions"
MAX_NAMED = 20
"""Duplicate ids and failures named in messages (the rest are counted)."""
_SCHEMA_KEYS = ("tools", "tool_choice", "response_format")
_BUFFER = 64 * 1024
"""Write buffer: a request line is ~12 KB, more than the default buffer, so each would
be its own system call; a few lines a call is enough (and two such buffers are open)."""


@dataclass(slots=True)
class RequestFile:
    """One request file written (a batch is one file) and its context file."""

    path: Path
    context: Path
    requests: int = 0
    records: int = 0
    bytes: int = 0


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
                {
                    "path": str(part.path),
                    "context": str(part.context),
                    "requests": part.requests,
                    "records": part.records,
                    "bytes": part.bytes,
                }
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


def part_path(first: Path, number: int) -> Path:
    """The request file of part ``number`` (1: the path asked for; then ``NAME-2.jsonl``…)."""
    if number == 1:
        return first
    stem = first.name.removesuffix(".jsonl")
    return first.with_name(f"{stem}-{number}.jsonl")


class _BodyLines:
    """Batch input lines, with the schema part of each body serialised once.

    ``build`` shares one tools / response_format object between every request of a
    response model (``backends.chat``: the shape is made once), so its JSON (most of a
    line's bytes: ~10 of 12 KB for prompt v1) is kept, encoded, by the object's identity
    and spliced in. The output is the same as ``json.dumps`` of the whole line.
    """

    def __init__(self) -> None:
        self._memo: dict[int, tuple[Any, bytes]] = {}

    def line(self, ident: str, body: dict[str, Any]) -> bytes:
        plain: dict[str, Any] = {}
        schema: list[tuple[str, Any]] = []
        for key, value in body.items():
            if key in _SCHEMA_KEYS:
                schema.append((key, value))
            elif schema:  # a plain key after the schema: keep the order the slow way
                return self._each(ident, body)
            else:
                plain[key] = value
        if not plain:
            return self._each(ident, body)
        head = {"custom_id": ident, "method": "POST", "url": ENDPOINT, "body": plain}
        text = to_json(head)[:-2]  # without the closing "}}"
        tail = b"".join(self._field(key, value) for key, value in schema)
        return b"".join((text.encode(), tail, b"}}\n"))

    def _each(self, ident: str, body: dict[str, Any]) -> bytes:
        fields = b"".join(self._field(key, value) for key, value in body.items())
        head = to_json({"custom_id": ident, "method": "POST", "url": ENDPOINT})
        # each field starts with ", ": the first one's is dropped inside the braces
        return b"".join((head[:-1].encode(), b', "body": {', fields[2:], b"}}\n"))

    def _field(self, key: str, value: Any) -> bytes:
        """``, "key": value`` as bytes (a schema part's from the memo)."""
        if key not in _SCHEMA_KEYS:
            return f", {json.dumps(key)}: {to_json(value)}".encode()
        known = self._memo.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        text = f", {json.dumps(key)}: {to_json(value)}".encode()
        if len(self._memo) < 64:  # a shape per response model; never grows with records
            self._memo[id(value)] = (value, text)  # the reference keeps the id unique
        return text


class _Part:
    """One request file and its context file, written under temporary names."""

    def __init__(self, target: RequestFile, header: ContextHeader) -> None:
        self.target = target
        self._temps: list[str] = []
        self.requests = self._open(target.path)
        self.context = self._open(target.context)
        self.context.write(json_line(header.to_dict()))

    def _open(self, path: Path) -> IO[bytes]:
        descriptor, temp = temporary_beside(path)
        self._temps.append(temp)
        return os.fdopen(descriptor, "wb", buffering=_BUFFER)

    def fits(self, lines: list[bytes], *, max_requests: int, max_bytes: int) -> bool:
        size = sum(len(line) for line in lines)
        return (
            self.target.requests + len(lines) <= max_requests
            and self.target.bytes + size <= max_bytes
        )

    def write(self, lines: list[bytes], context: dict[str, Any]) -> None:
        for line in lines:
            self.requests.write(line)
            self.target.bytes += len(line)
        self.target.requests += len(lines)
        self.target.records += 1
        self.context.write(json_line(context))

    def fail(self, failure: Failure) -> None:
        self.context.write(json_line(failure.to_dict()))

    def commit(self) -> None:
        for handle, temp, path in zip(
            (self.requests, self.context),
            self._temps,
            (self.target.path, self.target.context),
            strict=True,
        ):
            handle.flush()
            os.fsync(handle.fileno())
            if path != self.target.context or path.exists():  # an existing file keeps its mode
                os.chmod(temp, file_mode(path))
            # else mkstemp's 0600 stays: the context file holds the abstracts
            os.replace(temp, path)  # still open, so still locked against a sweeper
            handle.close()
        exposed = exposure(self.target.context)
        if exposed:
            warnings.warn(f"{self.target.context} is {exposed}", StoreWarning, stacklevel=2)

    def discard(self) -> None:
        for handle in (self.requests, self.context):
            with contextlib.suppress(OSError):
                handle.close()
        for temp in self._temps:
            with contextlib.suppress(OSError):
                os.unlink(temp)


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
    if settings.backend != "auto" and capabilities_of(settings).local:
        raise ConfigError(
            f"a provider batch asks an OpenAI-compatible endpoint; the {settings.backend} "
            "backend runs here and has no batch path (use summarize)"
        )
    options = options or RunOptions()
    source_list = list(sources)
    first = Path(output)
    check_output(first, source_list, writes=frozenset({"requests"}))
    check_output(context_path(first), source_list, writes=frozenset({"context"}))
    if first.name.endswith(".context.jsonl"):
        raise OutputError("name the request file, not its context file", path=str(first))
    steps = OpenAISteps(settings)
    model = steps.spec.model or DEFAULT_OPENAI_MODEL
    version = load_prompt(settings.resolved_prompt)
    header = ContextHeader(
        requests_file=first.name,
        model=model,
        mode=settings.mode or "tools",
        prompt=version.version,
        prompt_hash=version.hash,
        schema_version=SCHEMA_VERSION,
        schema_hash=schema_hash(),
        temperature=settings.temperature,
        max_tokens=settings.resolved_max_tokens,
        seed=settings.seed,
    )
    table = prices or PriceTable.load()
    summary = PrepareSummary(
        model=model,
        prompt=version.version,
        max_tokens=settings.resolved_max_tokens,
        price=table.price(OpenAISteps.name, model, batch=True),
    )
    counter = TokenCounter(model, exact=count_tokens, cache_rule=table.prompt_cache.cached)
    lines = _BodyLines()
    parts: list[_Part] = []
    seen: set[str] = set()
    duplicates: list[str] = []

    def new_part() -> _Part:
        path = part_path(first, len(parts) + 1)
        part = _Part(RequestFile(path, context_path(path)), header)
        parts.append(part)
        summary.files.append(part.target)
        return part

    def unique(ident: str) -> bool:
        if ident in seen:
            if ident not in duplicates:
                duplicates.append(ident)
            return False
        seen.add(ident)
        return True

    def failed(failure: Failure) -> None:
        summary.failed += 1
        if len(summary.failures) < MAX_NAMED:
            summary.failures.append((failure.id, str(failure.error)))
        part.fail(failure)

    from ..ingest import iter_documents

    part = new_part()
    committed = False
    try:
        items = iter_documents(source_list, options)
        for position, item in enumerate(items):
            ident = item_id(item, position)
            if only is not None and ident not in only:
                continue
            if not unique(ident):
                continue
            if isinstance(item, InputError):
                failed(failure_of(item, item, id=ident))
                continue
            try:
                abstract = clean(item)
                requests = steps.build(render(abstract, version))
            except SummarizerError as error:
                failed(failure_of(item, error, id=ident))
                continue
            ids = [custom_id(ident, request.stage) for request in requests]
            if not all([unique(each) for each in ids if each != ident]):
                continue  # a stage's custom_id is another record's id: named below
            body_lines = [lines.line(each, r.body) for each, r in zip(ids, requests, strict=True)]
            if not part.fits(body_lines, max_requests=max_requests, max_bytes=max_bytes):
                if part.target.requests == 0:
                    failed(
                        Failure(
                            id=ident,
                            error=InputError(
                                "its requests are larger than the file size limit", record=ident
                            ),
                        )
                    )
                    continue
                part = new_part()
            part.write(
                body_lines,
                record_line(
                    abstract, [(each, r.stage) for each, r in zip(ids, requests, strict=True)]
                ),
            )
            for request in requests:
                counter.add(request.body)
        if duplicates:
            named = ", ".join(duplicates[:MAX_NAMED])
            more = f" and {len(duplicates) - MAX_NAMED} more" if len(duplicates) > MAX_NAMED else ""
            raise InputError(
                f"duplicate record ids: {named}{more}; each id must be unique in a batch "
                "(rename them in the input); nothing was written"
            )
        summary.tokens = counter.total()
        for each in parts:
            each.commit()
        committed = True
    finally:
        if not committed:
            for each in parts:
                each.discard()
    return summary
