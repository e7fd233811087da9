"""Batch summarization at scale: bounded concurrency, rate limits, resumable JSON Lines.

``run_batch`` (or ``arun_batch`` inside an event loop) reads records as they stream from
``summarizer.ingest.iter_documents``, summarizes up to ``concurrency`` of them at once
with ``Summarizer.asummarize``, and writes one JSON line per input record as each one
finishes (completion order; the ``id`` joins them back): ``{"id", "record", "evidence",
"provenance"}`` or ``{"id", "error", "error_type"}``.

Writing into a file is resumable. Each line goes out in a single ``write`` on an append
handle (fsynced about once a second and at the end), so a killed run leaves whole lines,
at worst followed by one partial line. Re-running into the same file reads the ids
already there, cuts a partial last line, and skips those ids: an interrupted run loses
only the records that were in flight and never writes an id twice. ``retry_failed``
first rewrites the file without its error lines (temp file + ``os.replace``), so only
those ids are done again.

Input ids are made unique within a run (a repeated id gets ``#2``, ``#3``… in input
order), so every input record has exactly one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from .backends import Backend, Usage, make_backend
from .config import MAX_RECORD_BYTES, Settings
from .document import Document
from .errors import ConfigError, InputError, SummarizerError
from .ingest import ColumnMapping
from .pipeline import Cache, Failure, Result, RunLog, Summarizer, failure_of
from .ratelimit import RateLimitedBackend, RateLimiter

__all__ = ["BatchSummary", "OutputState", "arun_batch", "read_output_state", "run_batch"]

DEFAULT_CONCURRENCY = 8
FSYNC_INTERVAL_S = 1.0
MAX_FAILURE_SAMPLES = 20

Item = Document | InputError


@dataclass(frozen=True, slots=True)
class Reading:
    """How to read sources that are paths: a forced format and export column names."""

    format: str | None = None
    columns: ColumnMapping | None = None
    max_record_bytes: int = MAX_RECORD_BYTES
    """Records with more text are reported, one by one (``--max-record-bytes``)."""


Source = str | Path | Document | InputError


@dataclass(slots=True)
class BatchSummary:
    """What a batch did. ``ok`` is False when any record in the output is an error."""

    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    """Ids already in the output (done by an earlier run)."""
    previously_failed: int = 0
    """Error lines from an earlier run, kept (``retry_failed`` redoes them)."""
    retried: int = 0
    """Error lines removed from the output to be done again (``retry_failed``)."""
    repaired: int = 0
    """Partial or unreadable lines removed from the output before resuming."""
    renamed: int = 0
    """Input records whose id repeated an earlier one and got a ``#n`` suffix."""
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    elapsed_s: float = 0.0
    interrupted: bool = False
    output: str | None = None
    failures: list[tuple[str, str]] = field(default_factory=list)
    """(id, error) of the first failures of this run."""

    @property
    def processed(self) -> int:
        return self.succeeded + self.failed

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.previously_failed == 0 and not self.interrupted

    @property
    def records_per_s(self) -> float:
        return self.processed / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "succeeded": self.succeeded,
            "failed": self.failed,
            "skipped": self.skipped,
            "previously_failed": self.previously_failed,
            "retried": self.retried,
            "repaired": self.repaired,
            "renamed": self.renamed,
            "cache_hits": self.cache_hits,
            "tokens": {"prompt": self.prompt_tokens, "completion": self.completion_tokens},
            "elapsed_s": round(self.elapsed_s, 3),
            "records_per_s": round(self.records_per_s, 2),
            "interrupted": self.interrupted,
            "output": self.output,
        }


# --- the output file ---------------------------------------------------------------------


@dataclass(slots=True)
class OutputState:
    """The ids already in an output file, and whether each is an error line."""

    done: dict[str, bool] = field(default_factory=dict)
    """id → True when its line is an error."""
    good_end: int = 0
    """Byte offset after the last complete, readable line."""
    bad_lines: int = 0
    """Complete lines that are not JSON objects with an id (kept out on rewrite)."""
    partial_tail: bool = False

    @property
    def errors(self) -> int:
        return sum(self.done.values())


def _parse_line(line: bytes) -> tuple[str, bool] | None:
    try:
        value = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(value, dict) or not isinstance(value.get("id"), str):
        return None
    return value["id"], "record" not in value


def read_output_state(path: Path) -> OutputState:
    """Scan a JSON Lines output (streamed; memory grows with the number of ids only)."""
    state = OutputState()
    if not path.exists():
        return state
    offset = 0
    with path.open("rb") as handle:
        for line in handle:
            if not line.endswith(b"\n"):
                state.partial_tail = True  # a killed run's half-written last line
                break
            offset += len(line)
            if not line.strip():
                state.good_end = offset
                continue
            parsed = _parse_line(line)
            if parsed is None:
                state.bad_lines += 1
                continue
            ident, is_error = parsed
            previous = state.done.get(ident)
            # a good line wins over an error line for the same id
            state.done[ident] = is_error if previous is None else previous and is_error
            state.good_end = offset
    return state


def _rewrite(path: Path, keep: Callable[[bytes], bool]) -> None:
    """Rewrite ``path`` with only the complete lines ``keep`` accepts, atomically."""
    descriptor, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as out, path.open("rb") as source:
            for line in source:
                if line.endswith(b"\n") and line.strip() and keep(line):
                    out.write(line)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, stat.S_IMODE(path.stat().st_mode))  # mkstemp makes it 0600
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def prepare_output(
    path: Path, *, resume: bool, retry_failed: bool, summary: BatchSummary
) -> OutputState:
    """Make ``path`` hold whole, readable lines only; return the ids to skip."""
    if not resume:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
        return OutputState()
    state = read_output_state(path)
    retry = retry_failed and state.errors > 0
    if state.bad_lines or retry:

        def keep(line: bytes) -> bool:
            parsed = _parse_line(line)
            return parsed is not None and not (retry and parsed[1])

        _rewrite(path, keep)
        summary.repaired = state.bad_lines + int(state.partial_tail)
        if retry:
            summary.retried = state.errors
            state.done = {ident: False for ident, error in state.done.items() if not error}
    elif state.partial_tail:
        os.truncate(path, state.good_end)
        summary.repaired = 1
    return state


class OutputLock:
    """An exclusive lock beside the output (``.NAME.lock``) so two runs never share a file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path.with_name(f".{path.name}.lock")
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            import fcntl

            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # pragma: no cover - not POSIX
            pass
        except OSError:
            os.close(self._fd)
            self._fd = None
            raise ConfigError(f"{path} is being written by another run") from None

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None


class _Sink:
    """Writes whole lines: one ``write`` each, flushed; fsynced at intervals for files."""

    def __init__(self, target: Path | IO[str] | None) -> None:
        self._stream: IO[str] | None = None
        self._fd: int | None = None
        self._synced = time.monotonic()
        if isinstance(target, Path):
            self._fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        else:
            if target is None:
                import sys

                target = sys.stdout
            self._stream = target

    def write(self, payload: dict[str, Any]) -> None:
        line = json.dumps(payload, ensure_ascii=False) + "\n"
        if self._fd is None:
            assert self._stream is not None
            self._stream.write(line)
            self._stream.flush()
            return
        data = line.encode("utf-8")
        written = os.write(self._fd, data)
        while written < len(data):  # only on a full disk or a signal; keep the line whole
            written += os.write(self._fd, data[written:])
        now = time.monotonic()
        if now - self._synced >= FSYNC_INTERVAL_S:
            os.fsync(self._fd)
            self._synced = now

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
        elif self._stream is not None:
            with contextlib.suppress(OSError, ValueError):
                self._stream.flush()


# --- inputs ------------------------------------------------------------------------------


def _documents(sources: Iterable[Source], reading: Reading | None = None) -> Iterator[Item]:
    from .ingest import iter_documents

    reading = reading or Reading()
    for source in sources:
        if isinstance(source, Document | InputError):
            yield source
        else:
            yield from iter_documents(
                [source],
                format=reading.format,
                columns=reading.columns,
                max_record_bytes=reading.max_record_bytes,
            )


def _item_id(item: Item, position: int) -> str:
    if isinstance(item, InputError):
        return item.record or item.path or str(position)
    return item.id


def _is_file(item: Item, path: Path) -> bool:
    origin = item.path if isinstance(item, InputError) else item.origin
    if not origin or Path(origin).name != path.name:
        return False
    return Path(origin).resolve() == path


def count_records(sources: Iterable[Source], reading: Reading | None = None) -> int:
    """How many records the sources hold (reads them all; used for the progress total)."""
    return sum(1 for _ in _documents(sources, reading))


# --- progress ----------------------------------------------------------------------------


class Progress:
    """A rich progress bar on stderr: records/s, ETA, failures, tokens."""

    def __init__(self, *, skipped: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import (
            Progress as RichProgress,
        )

        self.console = Console(stderr=True)
        self._bar = RichProgress(
            SpinnerColumn(),
            TextColumn("[progress.description]{task.description}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:.1f} rec/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("[red]{task.fields[failed]} failed[/]  {task.fields[tokens]:,} tok"),
            console=self.console,
            redirect_stdout=False,  # stdout may carry the JSON Lines
            transient=False,
        )
        description = f"summarizing (resumed: {skipped} done)" if skipped else "summarizing"
        self._task = self._bar.add_task(description, total=None, rate=0.0, failed=0, tokens=0)
        self._skipped = skipped
        self._started = time.monotonic()
        self._bar.start()

    def set_total(self, total: int) -> None:
        self._bar.update(self._task, total=max(0, total - self._skipped))

    def update(self, summary: BatchSummary) -> None:
        elapsed = max(time.monotonic() - self._started, 1e-6)
        self._bar.update(
            self._task,
            completed=summary.processed,
            rate=summary.processed / elapsed,
            failed=summary.failed,
            tokens=summary.prompt_tokens + summary.completion_tokens,
        )

    def print(self, message: str) -> None:
        self.console.print(message, markup=False, highlight=False)

    def close(self) -> None:
        self._bar.stop()


def _start_counter(sources: list[Source], progress: Progress, reading: Reading) -> None:
    if any(isinstance(source, str) and source == "-" for source in sources):
        return  # stdin cannot be read twice

    def count() -> None:
        with contextlib.suppress(Exception):
            progress.set_total(count_records(sources, reading))

    threading.Thread(target=count, name="count-records", daemon=True).start()


# --- running -----------------------------------------------------------------------------


def _tokens_spent(item: Result | Failure) -> Usage:
    if isinstance(item, Result):
        return Usage() if item.provenance.cache_hit else item.provenance.tokens
    usage = getattr(item.error, "usage", None)
    return usage if isinstance(usage, Usage) else Usage()


async def _feed(
    queue: asyncio.Queue[tuple[str, Item] | None],
    job: tuple[str, Item] | None,
    workers: list[asyncio.Task[None]],
) -> None:
    """Queue a job; if a worker died instead (writing failed), raise its error."""
    if not queue.full():
        queue.put_nowait(job)
        return
    put = asyncio.ensure_future(queue.put(job))
    await asyncio.wait([put, *workers], return_when=asyncio.FIRST_COMPLETED)
    if put.done():
        return
    put.cancel()
    for worker in workers:
        if worker.done() and not worker.cancelled() and worker.exception() is not None:
            raise worker.exception()  # type: ignore[misc]
    raise RuntimeError("a batch worker stopped early")


async def arun_batch(
    sources: Iterable[Source],
    settings: Settings | None = None,
    *,
    output: str | Path | IO[str] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    rpm: float | None = None,
    tpm: float | None = None,
    resume: bool = True,
    retry_failed: bool = False,
    cache: Cache | None = None,
    run_log: RunLog | None = None,
    progress: bool = False,
    on_result: Callable[[Result | Failure], None] | None = None,
    backend: Backend | None = None,
    reading: Reading | None = None,
) -> BatchSummary:
    """Summarize every record of ``sources``; see ``run_batch``."""
    if concurrency < 1:
        raise ConfigError("--concurrency must be at least 1")
    reading = reading or Reading()
    settings = settings or Settings.from_env()
    model = backend or make_backend(settings)
    limiter = RateLimiter(rpm=rpm, tpm=tpm)
    if limiter.active and model.name != "rules":
        model = RateLimitedBackend(model, limiter, max_tokens=settings.max_tokens)
    summarizer = Summarizer(settings, backend=model, cache=cache, run_log=run_log)
    target: Path | IO[str] | None = Path(output) if isinstance(output, str | Path) else output
    lock = OutputLock(target) if isinstance(target, Path) else None
    try:
        return await _run(
            summarizer,
            sources,
            target,
            concurrency=concurrency,
            resume=resume,
            retry_failed=retry_failed,
            progress=progress,
            on_result=on_result,
            reading=reading,
        )
    finally:
        aclose = getattr(model, "aclose", None)
        if aclose is not None:  # async HTTP clients must close inside their event loop
            with contextlib.suppress(Exception):
                await aclose()
        summarizer.close()
        if lock is not None:
            lock.release()


async def _run(
    summarizer: Summarizer,
    sources: Iterable[Source],
    target: Path | IO[str] | None,
    *,
    concurrency: int,
    resume: bool,
    retry_failed: bool,
    progress: bool,
    on_result: Callable[[Result | Failure], None] | None,
    reading: Reading,
) -> BatchSummary:
    summary = BatchSummary()
    started = time.perf_counter()
    state = OutputState()
    if isinstance(target, Path):
        summary.output = str(target)
        state = prepare_output(target, resume=resume, retry_failed=retry_failed, summary=summary)
        summary.previously_failed = state.errors

    sink = _Sink(target)  # before the progress bar, which proxies sys.stderr
    bar = Progress(skipped=len(state.done)) if progress else None
    if bar is not None and isinstance(sources, list | tuple):
        _start_counter(list(sources), bar, reading)
    queue: asyncio.Queue[tuple[str, Item] | None] = asyncio.Queue(maxsize=concurrency)

    def finish(item: Result | Failure) -> None:
        sink.write(item.to_dict())
        if isinstance(item, Result):
            summary.succeeded += 1
            summary.cache_hits += item.provenance.cache_hit
        else:
            summary.failed += 1
            if len(summary.failures) < MAX_FAILURE_SAMPLES:
                summary.failures.append((item.id, str(item.error)))
        spent = _tokens_spent(item)
        summary.prompt_tokens += spent.prompt_tokens
        summary.completion_tokens += spent.completion_tokens
        if bar is not None:
            bar.update(summary)
        if on_result is not None:
            on_result(item)

    async def work() -> None:
        while (job := await queue.get()) is not None:
            ident, item = job
            outcome: Result | Failure
            if isinstance(item, InputError):
                outcome = failure_of(item, item, id=ident)
            else:
                try:
                    outcome = await summarizer.asummarize(item)
                except SummarizerError as error:
                    outcome = failure_of(item, error, id=ident)
                except Exception as error:  # a bug must not lose the record
                    wrapped = SummarizerError(f"unexpected {type(error).__name__}: {error}")
                    outcome = failure_of(item, wrapped, id=ident)
            finish(outcome)

    workers = [asyncio.create_task(work()) for _ in range(concurrency)]
    seen: dict[str, int] = {}
    own_output = target.resolve() if isinstance(target, Path) else None
    try:
        for position, item in enumerate(_documents(sources, reading)):
            if own_output is not None and _is_file(item, own_output):
                continue  # the output file inside an input folder is not an input
            ident = _item_id(item, position)
            if ident in seen:
                seen[ident] += 1
                ident = f"{ident}#{seen[ident]}"
                summary.renamed += 1
                if isinstance(item, Document):
                    item = replace(item, id=ident)
            seen.setdefault(ident, 1)
            if ident in state.done:
                summary.skipped += 1
                continue
            await _feed(queue, (ident, item), workers)
        for _ in workers:
            await _feed(queue, None, workers)
        await asyncio.gather(*workers)
    except BaseException:
        summary.interrupted = True
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        raise
    finally:
        sink.close()
        summary.elapsed_s = time.perf_counter() - started
        if bar is not None:
            bar.update(summary)
            bar.close()
    return summary


def run_batch(
    sources: Iterable[Source],
    settings: Settings | None = None,
    *,
    output: str | Path | IO[str] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    rpm: float | None = None,
    tpm: float | None = None,
    resume: bool = True,
    retry_failed: bool = False,
    cache: Cache | None = None,
    run_log: RunLog | None = None,
    progress: bool = False,
    on_result: Callable[[Result | Failure], None] | None = None,
    backend: Backend | None = None,
    reading: Reading | None = None,
) -> BatchSummary:
    """Summarize every record of ``sources`` into JSON Lines; one line per input record.

    ``sources``: files, folders, globs, exports, ``"-"`` (stdin), or ``Document`` objects.
    ``output``: a path (resumable: ids already there are skipped, a partial last line is
    repaired), a text stream, or None for stdout. ``concurrency`` bounds records in
    flight; ``rpm``/``tpm`` are client-side requests/tokens per minute. ``retry_failed``
    redoes the ids whose line is an error; ``resume=False`` starts the file afresh.
    ``cache`` and ``run_log`` are handed to the ``Summarizer`` (see ``summarizer.cache``
    and ``summarizer.runlog``). ``progress`` shows a bar on stderr; ``on_result`` is called
    with each ``Result`` or ``Failure`` after its line is written.

    On KeyboardInterrupt the lines already written stay whole and the exception
    propagates; rerunning with the same output resumes.
    """
    return asyncio.run(
        arun_batch(
            sources,
            settings,
            output=output,
            concurrency=concurrency,
            rpm=rpm,
            tpm=tpm,
            resume=resume,
            retry_failed=retry_failed,
            cache=cache,
            run_log=run_log,
            progress=progress,
            on_result=on_result,
            backend=backend,
            reading=reading,
        )
    )
