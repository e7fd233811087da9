"""The runner: the one loop over records.

``run_records`` reads records as they stream from the inputs (read once, never
counted ahead), gives each a unique id (a repeated id gets ``#2``, ``#3``… in input
order), skips the ids already done, summarizes up to ``concurrency`` at once, and
yields each outcome, a ``Result`` or a ``Failure``, as it finishes (completion order).
A bad record becomes a ``Failure`` and the rest go on; an unexpected exception in one
record is a ``Failure`` too, never a lost record.

Everything that loops over records uses it: ``run_batch`` (every output format),
``Summarizer.summarize_many`` (sync and async) and the evaluation runner.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Container, Generator, Iterable
from dataclasses import dataclass, replace

from .document import Abstract, Document
from .errors import InputError, SummarizerError
from .options import DEFAULT_CONCURRENCY
from .results import Failure, Result, failure_of

__all__ = ["DEFAULT_CONCURRENCY", "Item", "Outcome", "RunCounts", "item_id", "run_records"]

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
) -> AsyncGenerator[Outcome, None]:
    """Every record of ``items`` through ``process``, ``concurrency`` at a time; see above.

    Close the generator (``contextlib.aclosing``) to stop early: records in flight are
    cancelled, nothing else is read.
    """
    jobs = _jobs(items, skip, counts if counts is not None else RunCounts())
    return _in_parallel(process, jobs, concurrency)


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
    process: Process, jobs: _Jobs, concurrency: int
) -> AsyncGenerator[Outcome, None]:
    """Up to ``concurrency`` records at once, each outcome as it finishes (with one, in
    input order): a feeder task reads the jobs into a bounded queue that ``concurrency``
    worker tasks take from. When reading fails, the records read before are done, then
    the error is raised."""
    queue: asyncio.Queue[_Job | None] = asyncio.Queue(maxsize=concurrency)
    outcomes: asyncio.Queue[Outcome | _Done] = asyncio.Queue(maxsize=concurrency)
    failed: list[Exception] = []

    async def feed() -> None:
        try:
            for job in jobs:
                await queue.put(job)
        except Exception as error:  # an input that cannot be read at all: raised at the end
            failed.append(error)
        for _ in range(concurrency):
            await queue.put(None)

    async def work() -> None:
        while (job := await queue.get()) is not None:
            await outcomes.put(await _outcome(process, *job))
        await outcomes.put(_Done())

    tasks = [asyncio.create_task(work()) for _ in range(concurrency)]
    tasks.append(asyncio.create_task(feed()))
    try:
        finished = 0
        while finished < concurrency:
            outcome = await outcomes.get()
            if isinstance(outcome, _Done):
                finished += 1
            else:
                yield outcome
        if failed:
            raise failed[0]
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
        jobs.close()
