"""The runner: the one loop over records.

``run_records`` reads records as they stream from the inputs (read once, never
counted ahead), gives each a unique id (a repeated id gets ``#2``, ``#3``… in input
order), skips the ids already done, summarizes up to ``concurrency`` at once, and
yields each outcome, a ``Result`` or a ``Failure``, as it finishes (completion order)
or, ``ordered``, in input order: a finished record then waits for those before it,
and reading stops ``ORDER_WINDOW`` × ``concurrency`` records ahead of the oldest one
still running, so a stalled record holds back a bounded number.
A bad record becomes a ``Failure`` and the rest go on; an unexpected exception in one
record is a ``Failure`` too, never a lost record.

Everything that loops over records uses it: ``run_batch`` (every output format),
``Summarizer.summarize_many`` (sync and async) and the evaluation runner.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Container, Generator, Iterable
from dataclasses import dataclass, field, replace

from .document import Abstract, Document
from .errors import InputError, SummarizerError
from .options import DEFAULT_CONCURRENCY
from .results import Failure, Result, failure_of

__all__ = ["DEFAULT_CONCURRENCY", "Item", "Outcome", "RunCounts", "item_id", "run_records"]

ORDER_WINDOW = 4
"""In input order, records started but not yet yielded: at most this many times the
concurrency (what a slow record can hold back, and what waits in memory)."""

Item = Document | Abstract | InputError
Outcome = Result | Failure
Process = Callable[[Document | Abstract], Awaitable[Result]]
_Job = tuple[str, Item]
_Jobs = Generator[_Job, None, None]


@dataclass(slots=True)
class RunCounts:
    """What the runner saw, updated as it goes (a progress bar reads it)."""

    read: int = 0
    """Records read from the inputs so far."""
    skipped: int = 0
    """Records whose id was already done."""
    renamed: int = 0
    """Records whose id repeated an earlier one and got a ``#n`` suffix."""
    finished_reading: bool = False
    held_back: list[Outcome] = field(default_factory=list)
    """In input order, outcomes finished but still waiting for an earlier record when
    the run stopped early (interrupted): done, so the caller can keep them."""


def item_id(item: Item, position: int) -> str:
    """An item's id (an unreadable record without one: its path, else its position)."""
    if isinstance(item, InputError):
        return item.record or item.path or str(position)
    return item.id


def _renamed(item: Item, ident: str) -> Item:
    return item if isinstance(item, InputError) else replace(item, id=ident)


async def _outcome(process: Process, ident: str, item: Item) -> Outcome:
    if isinstance(item, InputError):
        return failure_of(item, item, id=ident)
    try:
        return await process(item)
    except SummarizerError as error:
        return failure_of(item, error, id=ident)
    except Exception as error:  # a bug must not lose the record
        wrapped = SummarizerError(f"unexpected {type(error).__name__}: {error}")
        return failure_of(item, wrapped, id=ident)


class _Done:
    """A worker has no more jobs."""


def run_records(
    process: Process,
    items: Iterable[Item],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    skip: Container[str] = frozenset(),
    counts: RunCounts | None = None,
    ordered: bool = False,
) -> AsyncGenerator[Outcome, None]:
    """Every record of ``items`` through ``process``, ``concurrency`` at a time; see above.

    Close the generator (``contextlib.aclosing``) to stop early: records in flight are
    cancelled, nothing else is read, and finished ones still held back for input order
    are left in ``counts.held_back``.
    """
    counts = counts if counts is not None else RunCounts()
    jobs = _jobs(items, skip, counts)
    return _in_parallel(process, jobs, concurrency, counts, ordered=ordered)


def _jobs(items: Iterable[Item], skip: Container[str], counts: RunCounts) -> _Jobs:
    """The records to do, each with its unique id; those already done are counted and
    left out."""
    seen: dict[str, int] = {}
    try:
        for position, item in enumerate(items):
            counts.read += 1
            ident = item_id(item, position)
            if ident in seen:
                seen[ident] += 1
                ident = f"{ident}#{seen[ident]}"
                counts.renamed += 1
                item = _renamed(item, ident)
            seen.setdefault(ident, 1)
            if ident in skip:
                counts.skipped += 1
                continue
            yield ident, item
    finally:
        counts.finished_reading = True


async def _in_parallel(
    process: Process, jobs: _Jobs, concurrency: int, counts: RunCounts, *, ordered: bool
) -> AsyncGenerator[Outcome, None]:
    """Up to ``concurrency`` records at once, each outcome as it finishes (with one, in
    input order) or, ``ordered``, once every record read before it was: a feeder task
    reads the jobs into a bounded queue that ``concurrency`` worker tasks take from.
    When reading fails, the records read before are done, then the error is raised."""
    queue: asyncio.Queue[tuple[int, _Job] | None] = asyncio.Queue(maxsize=concurrency)
    outcomes: asyncio.Queue[tuple[int, Outcome] | _Done] = asyncio.Queue(maxsize=concurrency)
    failed: list[Exception] = []
    window = asyncio.Semaphore(concurrency * ORDER_WINDOW) if ordered else None

    async def feed() -> None:
        try:
            for number, job in enumerate(jobs):
                if window is not None:
                    await window.acquire()
                await queue.put((number, job))
        except Exception as error:  # an input that cannot be read at all: raised at the end
            failed.append(error)
        for _ in range(concurrency):
            await queue.put(None)

    async def work() -> None:
        while (entry := await queue.get()) is not None:
            number, job = entry
            await outcomes.put((number, await _outcome(process, *job)))
        await outcomes.put(_Done())

    held: dict[int, Outcome] = {}  # finished, waiting for an earlier record (ordered)
    tasks = [asyncio.create_task(work()) for _ in range(concurrency)]
    tasks.append(asyncio.create_task(feed()))
    try:
        finished = 0
        following = 0  # the number of the next record to yield (ordered)
        while finished < concurrency:
            entry = await outcomes.get()
            if isinstance(entry, _Done):
                finished += 1
            elif window is None:
                yield entry[1]
            else:
                held[entry[0]] = entry[1]
                while following in held:
                    outcome = held.pop(following)
                    following += 1
                    window.release()
                    yield outcome
        if failed:
            raise failed[0]
    finally:
        counts.held_back.extend(held[number] for number in sorted(held))
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
        jobs.close()
