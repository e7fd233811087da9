"""The provider's batch endpoints: upload and submit, status, wait, cancel, download.

Through the OpenAI SDK's own ``files`` and ``batches`` resources (the OpenAI Batch API;
Azure OpenAI speaks the same), under the project's one transport retry policy
(``backends.transport``: the SDK's retries are off). Every submitted batch is recorded in
the run log (``RunLog.record_batch``) with the request file's content hash, which is
also sent as the batch's ``metadata``; ``submit`` refuses a file that the log or the
server already holds a live or finished batch for, so it is never paid for twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import random
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import openai
from openai.types import Batch

from .. import paths
from ..backends.openai_compat import PLACEHOLDER_KEY, OpenAISteps
from ..backends.transport import TransportPolicy, send_with_retries
from ..config import Settings
from ..errors import ConfigError, InputError, SummarizerError
from ..runlog import RunLog
from ..sync import blocking
from .context import ContextHeader, context_path, read_header
from .prepare import MAX_BYTES, MAX_REQUESTS

__all__ = [
    "TERMINAL",
    "BatchInfo",
    "abatch_status",
    "acancel_batch",
    "adownload_results",
    "alist_batches",
    "asubmit_batch",
    "await_batch",
    "request_file_digest",
]

TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
"""States a batch never leaves."""
RESUBMITTABLE = frozenset({"failed"})
"""A batch in this state was never run (it failed validation): its file may go again."""
METADATA_KEY = "request_sha256"


class BatchStateError(SummarizerError):
    """The batch is not in a state that allows what was asked (collect before it ends)."""

    exit_code = 2


_COUNTS = ("completed", "failed", "total")
_LOGGED = ("id", "status", *_COUNTS, "output_file_id", "error_file_id")
"""The run log's columns a batch's state updates."""


@dataclass(slots=True, kw_only=True)
class BatchInfo:
    """A provider batch as the server (and the run log) describe it."""

    id: str
    status: str
    completed: int = 0
    failed: int = 0
    total: int = 0
    input_file_id: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    model: str | None = None
    prompt_version: str | None = None
    request_file: str | None = None
    request_sha256: str | None = None
    base_url: str | None = None
    created: str | None = None
    errors: list[str] = field(default_factory=list)
    """Why the batch failed (validation errors of the input file)."""

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def to_dict(self) -> dict[str, Any]:
        """The fields, the request counts nested as the server gives them."""
        fields = asdict(self)
        counts = {name: fields.pop(name) for name in _COUNTS}
        return {
            "id": fields.pop("id"),
            "status": fields.pop("status"),
            "request_counts": counts,
            **fields,
        }

    def log_entry(self) -> dict[str, Any]:
        """The run log's columns this state updates."""
        return {name: getattr(self, name) for name in _LOGGED}

    @classmethod
    def of(cls, batch: Batch, logged: dict[str, Any] | None = None) -> BatchInfo:
        """From the server's answer, with what the run log adds (file, prompt)."""
        counts = batch.request_counts
        metadata = batch.metadata or {}
        logged = logged or {}
        errors = [
            f"line {item.line}: {item.message}" if item.line is not None else str(item.message)
            for item in (batch.errors.data or [] if batch.errors else [])
        ]
        return cls(
            id=batch.id,
            status=batch.status,
            completed=counts.completed if counts else 0,
            failed=counts.failed if counts else 0,
            total=counts.total if counts else 0,
            input_file_id=batch.input_file_id,
            output_file_id=batch.output_file_id,
            error_file_id=batch.error_file_id,
            model=batch.model or metadata.get("model") or logged.get("model"),
            prompt_version=metadata.get("prompt") or logged.get("prompt_version"),
            request_file=logged.get("request_file") or metadata.get("request_file"),
            request_sha256=metadata.get(METADATA_KEY) or logged.get("request_sha256"),
            base_url=logged.get("base_url"),
            created=time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(batch.created_at)),
            errors=errors,
        )

    @classmethod
    def from_log(cls, row: dict[str, Any]) -> BatchInfo:
        return cls(
            id=str(row["id"]),
            status=str(row.get("status") or "unknown"),
            completed=int(row.get("completed") or 0),
            failed=int(row.get("failed") or 0),
            total=int(row.get("total") or row.get("requests") or 0),
            input_file_id=row.get("input_file_id"),
            output_file_id=row.get("output_file_id"),
            error_file_id=row.get("error_file_id"),
            model=row.get("model"),
            prompt_version=row.get("prompt_version"),
            request_file=row.get("request_file"),
            request_sha256=row.get("request_sha256"),
            base_url=row.get("base_url"),
            created=str(row.get("time") or "")[:19].replace("T", " ") or None,
        )


# --- the client ----------------------------------------------------------------------------


def public_url(base_url: str | None) -> str | None:
    """The server's URL without credentials or query (what the run log keeps)."""
    if not base_url:
        return None
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _policy(settings: Settings) -> TransportPolicy:
    return TransportPolicy(
        attempts=settings.transport_attempts,
        deadline=settings.deadline,
        initial_backoff=settings.backoff,
        max_backoff=settings.max_backoff,
        provider=OpenAISteps.name,
    )


def _client(settings: Settings) -> openai.AsyncOpenAI:
    secret = settings.secret
    return openai.AsyncOpenAI(
        api_key=secret.reveal() if secret is not None else PLACEHOLDER_KEY,
        base_url=settings.base_url,
        max_retries=0,  # one retry policy: ours (backends.transport)
        timeout=settings.timeout,
    )


async def _call(settings: Settings, action: Callable[..., Any]) -> Any:
    """``await action()`` under the transport policy (ModelCallError when it gives up)."""

    async def attempt() -> Any:
        return await action()

    return await send_with_retries(attempt, {}, _policy(settings))


# --- submit --------------------------------------------------------------------------------


def request_file_digest(path: Path) -> tuple[str, int]:
    """sha256 of a request file and its line count (streamed); InputError when it is not
    a request file the provider would take."""
    digest = hashlib.sha256()
    lines = 0
    size = 0
    try:
        with path.open("rb") as handle:
            first = handle.readline()
            try:
                value = json.loads(first) if first.strip() else None
            except ValueError:
                value = None
            if not (isinstance(value, dict) and "custom_id" in value and "body" in value):
                raise InputError(
                    "not a batch request file (make one with `batch prepare`)", path=str(path)
                )
            for line in [first, *handle]:
                digest.update(line)
                size += len(line)
                lines += bool(line.strip())
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror or error}", path=str(path)) from error
    if lines > MAX_REQUESTS or size > MAX_BYTES:
        raise InputError(
            f"{lines:,} requests, {size:,} bytes: over the provider's limit of {MAX_REQUESTS:,} "
            f"requests or {MAX_BYTES:,} bytes a file (`batch prepare` splits them)",
            path=str(path),
        )
    return digest.hexdigest(), lines


def _header(path: Path) -> ContextHeader | None:
    with contextlib.suppress(SummarizerError):
        return read_header(context_path(path))
    return None


def _already(rows: list[dict[str, Any]], base_url: str | None) -> dict[str, Any] | None:
    """The logged batch of this file on this server that makes a new one a double payment."""
    live = [
        row
        for row in rows
        if row.get("base_url") == base_url and row.get("status") not in RESUBMITTABLE
    ]
    return live[-1] if live else None


async def _on_server(client: openai.AsyncOpenAI, settings: Settings, sha: str) -> Batch | None:
    """A batch of this file the server still lists (its metadata carries the hash)."""
    page = await _call(settings, lambda: client.batches.list(limit=100))
    for batch in page.data:
        metadata = batch.metadata or {}
        if metadata.get(METADATA_KEY) == sha and batch.status not in RESUBMITTABLE:
            return batch  # type: ignore[no-any-return]
    return None


def _refusal(batch_id: str, status: str) -> str:
    advice = {
        "completed": f"collect it with `batch collect {batch_id}`",
        "expired": (
            f"collect what it answered with `batch collect {batch_id}`, then "
            "`batch prepare --only-failed` the rest"
        ),
        "cancelled": (
            f"collect what it answered with `batch collect {batch_id}`, then "
            "`batch prepare --only-failed` the rest"
        ),
    }.get(status, f"follow it with `batch status {batch_id} --wait`")
    return (
        f"this file was already submitted as {batch_id} ({status}); {advice}. "
        "--force submits it again (and pays again)"
    )


async def asubmit_batch(
    path: str | Path,
    settings: Settings | None = None,
    *,
    run_log: RunLog | None = None,
    force: bool = False,
) -> BatchInfo:
    """Upload a request file (purpose ``batch``), create its batch (24-hour window) and
    record it in ``run_log``. ``BatchStateError`` when the file was already submitted (by
    the run log, or the server's list): ``force`` submits it again, and pays again.
    ``settings``: the key and server (default: from the environment)."""
    settings = settings or Settings.from_env()
    path = Path(path)
    sha, requests = request_file_digest(path)
    base_url = public_url(settings.base_url)
    if not force:
        rows = run_log.batches(request_sha256=sha) if run_log is not None else []
        logged = _already(rows, base_url)
        if logged is not None:
            raise BatchStateError(_refusal(str(logged["id"]), str(logged.get("status"))))
    header = _header(path)
    client = _client(settings)
    try:
        if not force:
            found = await _on_server(client, settings, sha)
            if found is not None:
                _record(
                    run_log,
                    {
                        **BatchInfo.of(found).log_entry(),
                        "request_sha256": sha,
                        "base_url": base_url,
                    },
                )
                raise BatchStateError(_refusal(found.id, found.status))

        async def upload() -> Any:
            with path.open("rb") as handle:  # a fresh handle for every try
                return await client.files.create(file=(path.name, handle), purpose="batch")

        uploaded = await _call(settings, upload)
        metadata = {
            METADATA_KEY: sha,
            "request_file": path.name[:500],
            "tool": "case-summarizer",
        }
        if header is not None:
            metadata.update(model=header.model[:500], prompt=header.prompt[:500])
        batch: Batch = await _call(
            settings,
            lambda: client.batches.create(
                input_file_id=uploaded.id,
                endpoint="/v1/chat/completions",  # prepare's ENDPOINT
                completion_window="24h",
                metadata=metadata,
            ),
        )
    finally:
        await client.close()
    info = BatchInfo.of(batch)
    _record(
        run_log,
        {
            **info.log_entry(),
            "base_url": base_url,
            "request_file": str(path.resolve()),
            "request_sha256": sha,
            "requests": requests,
            "input_file_id": uploaded.id,
            "model": header.model if header else info.model,
            "prompt_version": header.prompt if header else None,
            "prompt_hash": header.prompt_hash if header else None,
        },
    )
    info.request_file, info.request_sha256, info.base_url = str(path.resolve()), sha, base_url
    info.model = info.model or (header.model if header else None)
    info.prompt_version = header.prompt if header else None
    return info


# --- status, wait, cancel ------------------------------------------------------------------


def _logged(run_log: RunLog | None, batch_id: str) -> dict[str, Any] | None:
    rows = run_log.batches(batch_id=batch_id) if run_log is not None else []
    return rows[-1] if rows else None


def _record(run_log: RunLog | None, entry: dict[str, Any]) -> None:
    if run_log is not None:
        run_log.record_batch(entry)


def _settings_for(settings: Settings, logged: dict[str, Any] | None) -> Settings:
    """The server a batch was submitted to, unless another is given."""
    if settings.base_url is None and logged and logged.get("base_url"):
        return settings.replace(base_url=logged["base_url"])
    return settings


async def _on_batch(
    batch_id: str,
    settings: Settings,
    run_log: RunLog | None,
    action: Callable[[openai.AsyncOpenAI], Any],
) -> BatchInfo:
    """``action`` on the server the batch was submitted to; its answer, with what the run
    log adds, updates the log."""
    logged = _logged(run_log, batch_id)
    settings = _settings_for(settings, logged)
    check_submittable(settings, f"asking about batch {batch_id}")
    client = _client(settings)
    try:
        batch = await _call(settings, lambda: action(client))
    finally:
        await client.close()
    info = BatchInfo.of(batch, logged)
    if logged is not None:
        _record(run_log, info.log_entry())
    return info


async def abatch_status(
    batch_id: str, settings: Settings | None = None, *, run_log: RunLog | None = None
) -> BatchInfo:
    """The batch's state and request counts, from the server (the run log is updated)."""
    return await _on_batch(
        batch_id,
        settings or Settings.from_env(),
        run_log,
        lambda client: client.batches.retrieve(batch_id),
    )


async def alist_batches(
    settings: Settings | None = None, *, run_log: RunLog | None = None
) -> list[BatchInfo]:
    """Every batch in the run log, the unfinished ones refreshed from their server."""
    settings = settings or Settings.from_env()
    infos = []
    for row in run_log.batches() if run_log is not None else []:
        info = BatchInfo.from_log(row)
        if not info.done:
            try:
                info = await abatch_status(info.id, settings, run_log=run_log)
            except SummarizerError as error:
                info.errors.append(f"status not refreshed: {error}")
        infos.append(info)
    return infos


async def await_batch(
    batch_id: str,
    settings: Settings | None = None,
    *,
    run_log: RunLog | None = None,
    poll_s: float = 5.0,
    max_poll_s: float = 300.0,
    timeout_s: float | None = None,
    on_poll: Callable[[BatchInfo], None] | None = None,
) -> BatchInfo:
    """Poll until the batch ends (backoff from ``poll_s`` doubling to ``max_poll_s``, with
    jitter) is completed, failed, expired or cancelled; ``BatchStateError`` when
    ``timeout_s`` passes first."""
    settings = settings or Settings.from_env()
    started = time.monotonic()
    wait = poll_s
    while True:
        info = await abatch_status(batch_id, settings, run_log=run_log)
        if on_poll is not None:
            on_poll(info)
        if info.done:
            return info
        if timeout_s is not None and time.monotonic() - started + wait > timeout_s:
            raise BatchStateError(f"{batch_id} is still {info.status} after {timeout_s:g}s")
        await asyncio.sleep(random.uniform(wait / 2, wait))
        wait = min(wait * 2, max_poll_s)


async def acancel_batch(
    batch_id: str, settings: Settings | None = None, *, run_log: RunLog | None = None
) -> BatchInfo:
    """Ask the server to cancel the batch (it goes through ``cancelling``; what it answered
    before stays collectable)."""
    return await _on_batch(
        batch_id,
        settings or Settings.from_env(),
        run_log,
        lambda client: client.batches.cancel(batch_id),
    )


submit_batch = blocking(asubmit_batch, name="submit_batch")
batch_status = blocking(abatch_status, name="batch_status")
list_batches = blocking(alist_batches, name="list_batches")
wait_for_batch = blocking(await_batch, name="wait_for_batch")
cancel_batch = blocking(acancel_batch, name="cancel_batch")


# --- download ------------------------------------------------------------------------------


def download_folder(batch_id: str) -> Path:
    """Where a batch's result files are kept (``$CASE_SUMMARIZER_HOME/batches/ID``)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", batch_id) or "batch"
    return paths.home() / "batches" / safe


async def adownload_results(
    batch_id: str, settings: Settings, *, run_log: RunLog | None
) -> tuple[BatchInfo, list[Path]]:
    """The batch's output and error files, downloaded once (streamed to a temporary file,
    then moved into place) and kept for the next collect. ``BatchStateError`` while the
    batch is still running."""
    info = await abatch_status(batch_id, settings, run_log=run_log)
    if not info.done:
        raise BatchStateError(
            f"{batch_id} is {info.status} ({info.completed:,}/{info.total:,} done); "
            f"wait for it with `batch status {batch_id} --wait`"
        )
    settings = _settings_for(settings, _logged(run_log, batch_id))
    folder = download_folder(batch_id)
    found: list[Path] = []
    client = _client(settings)
    try:
        for name, file_id in (("output", info.output_file_id), ("errors", info.error_file_id)):
            if not file_id:
                continue
            target = folder / f"{name}.jsonl"
            if not target.is_file():
                await _download(client, settings, file_id, target)
            found.append(target)
    finally:
        await client.close()
    return info, found


async def _download(
    client: openai.AsyncOpenAI, settings: Settings, file_id: str, target: Path
) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)

    async def fetch() -> None:
        descriptor, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(descriptor, "wb") as out:
                async with client.files.with_streaming_response.content(file_id) as response:
                    async for chunk in response.iter_bytes():
                        out.write(chunk)
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise

    await _call(settings, fetch)


def check_submittable(settings: Settings, doing: str = "submitting a batch") -> None:
    """Talking to a batch server needs one: OpenAI (a key) or a --base-url (checked before
    any request, so no call goes out to be refused)."""
    if settings.secret is None and settings.base_url is None:
        raise ConfigError(f"{doing} needs OPENAI_API_KEY (or --api-key) or a --base-url")
