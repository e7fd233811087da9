"""A local run of many records: inputs → the runner → an output, in any format.

``run_batch`` (``arun_batch`` in async code) reads records as they stream from
``summarizer.ingest.iter_records`` (once), summarizes ``RunOptions.concurrency`` of them
at once through the one runner (``summarizer.runner``), with client-side rate limits and
a cost budget, and
writes each outcome in input order (``RunOptions.order``; ``completion``: as each
finishes, the ``id`` joins them back):
``{"id", "record", "evidence", "provenance", "abstract"}`` or ``{"id", "error",
"error_type"}`` (see ``summarizer.results``).

Every format behaves the same (``summarizer.output.targets``): a file output is
resumable. Re-running into the same file skips the ids already done and repairs a
partial last line, so an interrupted run loses only the records that were in flight and
never writes an id twice; ``retry_failed`` redoes the ids whose line is an error. JSON
Lines files are their own store; Markdown, CSV and HTML keep a hidden JSON Lines sidecar
and are written (temp file + ``os.replace``) when the run ends, or stops early (then
marked partial). Two runs never share an output (a lock on the file itself), and an
output that is one of the inputs is refused.

Input ids are made unique within a run (a repeated id gets ``#2``, ``#3``… in input
order), so every input record has exactly one outcome.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .backends import AnyBackend
from .budget import Budget, BudgetExhausted
from .config import Settings
from .document import Abstract, Document, Text
from .errors import InputError, OwnOutputSkipped
from .ingest import is_path_name, iter_records
from .ingest.count import count_records
from .options import DEFAULT_CONCURRENCY, RunOptions
from .output.targets import OwnFiles, Target, check_output, open_target
from .pipeline import Cache, RunLog, Summarizer
from .progress import ProgressListener, RecordFinished, duration_text, pace_text
from .results import Failure, Result
from .runner import Item, Outcome, Process, RunCounts, run_records
from .sync import blocking
from .usage import Usage

if TYPE_CHECKING:
    from .evaluation.prices import PriceTable

__all__ = [
    "DEFAULT_CONCURRENCY",
    "BatchSummary",
    "arun_batch",
    "run_batch",
    "run_into",
]

MAX_FAILURE_SAMPLES = 20


Source = str | Path | Text | Document | Abstract | InputError


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
    cached_tokens: int = 0
    """Of ``prompt_tokens``, those the server answered from its prompt cache."""
    elapsed_s: float = 0.0
    interrupted: bool = False
    stopped_by_budget: bool = False
    """No new record started: the run's cost would have passed ``RunOptions.max_cost``."""
    cost: float | None = None
    """US dollars this run spent, when a budget priced it."""
    output: str | None = None
    failures: list[tuple[str, str]] = field(default_factory=list)
    """(id, error) of the first failures of this run."""
    left_out: list[str] = field(default_factory=list)
    """Inputs that are our own outputs (results, tables, cards, batch files), each with
    why: left out, not failed."""

    @property
    def processed(self) -> int:
        return self.succeeded + self.failed

    @property
    def ok(self) -> bool:
        return (
            self.failed == 0
            and self.previously_failed == 0
            and not self.interrupted
            and not self.stopped_by_budget
        )

    @property
    def records_per_s(self) -> float:
        return self.processed / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def count(self, outcome: Outcome) -> None:
        if isinstance(outcome, Result):
            self.succeeded += 1
            self.cache_hits += outcome.provenance.cache_hit
        else:
            self.failed += 1
            if len(self.failures) < MAX_FAILURE_SAMPLES:
                self.failures.append((outcome.id, str(outcome.error)))
        spent = _tokens_spent(outcome)
        self.prompt_tokens += spent.prompt_tokens
        self.completion_tokens += spent.completion_tokens
        self.cached_tokens += spent.cached_tokens

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
            "tokens": {
                "prompt": self.prompt_tokens,
                "completion": self.completion_tokens,
                "cached": self.cached_tokens,
            },
            "elapsed_s": round(self.elapsed_s, 3),
            "records_per_s": round(self.records_per_s, 2),
            "interrupted": self.interrupted,
            "stopped_by_budget": self.stopped_by_budget,
            "cost": self.cost,
            "output": self.output,
            "left_out": self.left_out,
        }


def _tokens_spent(outcome: Outcome) -> Usage:
    """Tokens this run paid for (a cache hit paid nothing; a failure, what it used)."""
    if isinstance(outcome, Result):
        return Usage() if outcome.provenance.cache_hit else outcome.provenance.tokens
    return outcome.error.usage


# --- inputs ------------------------------------------------------------------------------


def _items(
    sources: Iterable[Source], options: RunOptions, own: OwnFiles, left_out: list[str]
) -> Iterator[Item]:
    """Every record of the sources, streamed; the run's own output files, and any file
    that is one of our outputs, left out (the latter named in ``left_out``)."""
    for item in iter_records(sources, options):
        origin = item.path if isinstance(item, InputError) else _origin(item)
        if origin in own:
            continue
        if isinstance(item, OwnOutputSkipped):
            left_out.append(str(item))
            continue
        yield item


def _origin(item: Document | Abstract) -> str:
    return item.document.origin if isinstance(item, Abstract) else item.origin


# --- progress ----------------------------------------------------------------------------


class Progress:
    """A rich progress bar on stderr: records done, of the total when it is known
    (``expected``, a scan's count of the inputs, until reading ends; then the count
    read), records/s, failures; an ETA only with a total, tokens only for a backend that
    spends them. A record already done by an earlier run counts as done."""

    def __init__(self, *, skipped: int, expected: int | None, tokens: bool) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        columns = [
            SpinnerColumn(),
            TextColumn("[progress.description]{task.description}"),
            BarColumn(bar_width=24),
            TextColumn("[progress.download]{task.fields[count]}"),
            TextColumn("{task.fields[pace]}"),
            TimeElapsedColumn(),
            TextColumn("[progress.remaining]{task.fields[eta]}"),
            TextColumn("[red]{task.fields[failed]} failed[/]"),
        ]
        if tokens:
            columns.append(TextColumn("{task.fields[tokens]:,} tok"))
        self.console = Console(stderr=True)
        self._bar = RichProgress(
            *columns,
            console=self.console,
            redirect_stdout=False,  # stdout may carry the results
            transient=False,
        )
        self._expected = expected
        self._resumed = f" (resumed: {skipped} done)" if skipped else ""
        self._task = self._bar.add_task(
            f"summarizing{self._resumed}",
            total=expected,
            count=self._count(0, expected),
            pace="",
            eta="",
            failed=0,
            tokens=0,
        )
        self._started = time.monotonic()
        self._bar.start()

    @staticmethod
    def _count(completed: int, total: int | None) -> str:
        return f"{completed:,}/{total:,}" if total is not None else f"{completed:,} records"

    def update(self, summary: BatchSummary, counts: RunCounts) -> None:
        elapsed = max(time.monotonic() - self._started, 1e-6)
        completed = counts.skipped + summary.processed
        total = counts.read if counts.finished_reading else self._expected
        if total is not None:
            total = max(total, completed)  # a scan's estimate, never below what is done
        eta = ""
        if total is not None and summary.processed and completed < total:
            left = (total - completed) * elapsed / summary.processed
            eta = f"ETA {duration_text(left)}"
        self._bar.update(
            self._task,
            total=total,
            completed=completed,
            count=self._count(completed, total),
            pace=pace_text(summary.processed, elapsed) if summary.processed else "",
            eta=eta,
            failed=summary.failed,
            tokens=summary.prompt_tokens + summary.completion_tokens,
        )

    def close(self) -> None:
        self._bar.stop()


def expected_records(sources: Iterable[Source], options: RunOptions) -> int | None:
    """How many records ``sources`` hold, by a fast scan of the files (texts and documents
    are one each); None when that is not cheap to know (``ingest.count``)."""
    paths: list[str | Path] = []
    others = 0
    for source in sources:
        if isinstance(source, Path) or (isinstance(source, str) and is_path_name(source)):
            paths.append(source)
        else:
            others += 1
    found = count_records(paths, options) if paths else 0
    return None if found is None else found + others


# --- running -----------------------------------------------------------------------------


async def arun_batch(
    sources: Iterable[Source],
    settings: Settings | None = None,
    options: RunOptions | None = None,
    *,
    cache: Cache | None = None,
    run_log: RunLog | None = None,
    backend: AnyBackend | None = None,
    progress: bool = False,
    expected: int | None = None,
    on_result: Callable[[Result | Failure], None] | None = None,
    on_progress: ProgressListener | None = None,
    prices: PriceTable | None = None,
) -> BatchSummary:
    """Summarize every record of ``sources`` into ``options.output``; one outcome per
    input record.

    ``sources``: files, folders, globs, exports, ``"-"`` (stdin), texts (``Text``, or a
    ``str`` that names no file), ``Document`` objects. ``settings`` shape the requests;
    ``options`` (``RunOptions``) say how the run reads, writes and paces: the output (a
    path, resumable: ids already there are skipped, a partial last line is repaired; a
    text stream; or None for stdout) and its ``format`` (``jsonl``, ``json``, ``md``,
    ``csv``, ``html``), ``single`` (one record, pretty, nothing written if it fails),
    ``resume``, ``retry_failed``, ``force``, ``concurrency``, ``rpm``/``tpm`` and
    ``max_cost`` (no new request once the run's priced cost would pass it: the summary
    says ``stopped_by_budget``; run again to resume). An existing output that is not one
    of our outputs is refused (``OutputError``) unless ``force``; an input never is
    replaced. ``cache`` and ``run_log`` are handed to the ``Summarizer``. ``progress``
    shows a bar on stderr, whose total is ``expected`` (how many records the sources
    hold, when the caller knows; by default a list of files is counted by a fast scan,
    ``ingest.count``) until reading ends; ``on_result`` is called with each ``Result`` or
    ``Failure`` after it is written (``on_result=results.append`` collects them), in
    ``options.order``. ``on_progress``
    gets ``summarizer.progress`` events (``ProgressPrinter()`` writes them to stderr).
    ``prices``: the price table the budget uses (default: the built-in one).

    On KeyboardInterrupt what was written stays whole and the exception propagates; a
    Markdown, CSV or HTML file is rendered from what is done so far, marked partial (see
    ``output.targets``); rerunning with the same output resumes.
    """
    settings = settings or Settings.from_env()
    options = options or RunOptions()
    destination = options.destination
    if isinstance(destination, Path) and isinstance(sources, list | tuple):
        paths = [source for source in sources if isinstance(source, str | Path)]
        check_output(destination, paths, force=options.force)
    if progress and expected is None and isinstance(sources, list | tuple):
        expected = expected_records(sources, options)
    summarizer = Summarizer(
        settings, options, backend=backend, cache=cache, run_log=run_log, on_progress=on_progress
    )
    budget = Budget.of(options.max_cost, summarizer, prices)
    try:
        await summarizer.aopen()
        target = open_target(
            destination,
            options.resolved_format,
            single=options.single,
            resume=options.resume,
            retry_failed=options.retry_failed,
        )
        return await run_into(
            summarizer,
            sources,
            target,
            options=options,
            budget=budget,
            progress=progress,
            expected=expected,
            on_result=on_result,
            on_progress=on_progress,
        )
    finally:
        await summarizer.aclose()


run_batch = blocking(arun_batch, name="run_batch")


async def run_into(
    summarizer: Summarizer,
    sources: Iterable[Source],
    target: Target,
    *,
    options: RunOptions,
    budget: Budget | None = None,
    progress: bool = False,
    expected: int | None = None,
    on_result: Callable[[Result | Failure], None] | None = None,
    on_progress: ProgressListener | None = None,
) -> BatchSummary:
    """Every record of ``sources`` through ``summarizer`` and the runner into ``target``
    (opened by the caller, finished here): what ``arun_batch`` does once it has both, and
    what a provider batch's collect does with its own summarizer.

    A run that stops early (interrupted, an input that cannot be read, the budget spent)
    still writes the outcomes that finished but were held back for input order, and
    finishes the target as partial."""
    summary = BatchSummary(
        output=str(target.path) if target.path is not None else None,
        previously_failed=target.previously_failed,
        retried=target.retried,
        repaired=target.repaired,
    )
    started = time.perf_counter()
    counts = RunCounts()
    bar = None
    if progress:
        takes_prompt = summarizer.backend.capabilities.takes_prompt
        bar = Progress(skipped=len(target.done), expected=expected, tokens=takes_prompt)
    items: Iterator[Item] = _items(sources, options, OwnFiles(target), summary.left_out)
    process: Process = summarizer.asummarize
    if budget is not None:
        items, process = budget.feed(items), budget.guard(process)
    complete = False
    try:
        outcomes = run_records(
            process,
            items,
            concurrency=options.concurrency,
            skip=target.done,
            counts=counts,
            ordered=options.order == "input",
        )
        async with aclosing(outcomes):
            async for outcome in outcomes:
                if _refused(outcome):
                    continue  # not started: left for a rerun
                target.write(outcome)
                summary.count(outcome)
                if bar is not None:
                    bar.update(summary, counts)
                if on_progress is not None:
                    on_progress(_finished(outcome, summary, counts, time.perf_counter() - started))
                if on_result is not None:
                    on_result(outcome)
        complete = True
    except BaseException:
        summary.interrupted = True
        raise
    finally:
        summary.skipped, summary.renamed = counts.skipped, counts.renamed
        if budget is not None:
            summary.cost, summary.stopped_by_budget = budget.spent, budget.stopped
        try:
            for outcome in counts.held_back:  # done, not lost: a rerun skips them
                if not _refused(outcome):
                    target.write(outcome)
                    summary.count(outcome)
        finally:
            # stopped early: a rendered file shows what is done, marked partial
            target.finish(complete=complete and not summary.stopped_by_budget)
            summary.elapsed_s = time.perf_counter() - started
            if bar is not None:
                bar.update(summary, counts)
                bar.close()
    return summary


def _refused(outcome: Outcome) -> bool:
    """A record the budget did not start: not an outcome, left for a rerun."""
    return isinstance(outcome, Failure) and isinstance(outcome.error, BudgetExhausted)


def _finished(
    outcome: Outcome, summary: BatchSummary, counts: RunCounts, elapsed: float
) -> RecordFinished:
    """The progress event of one finished record (the total once every input is read)."""
    total = counts.read - counts.skipped if counts.finished_reading else None
    return RecordFinished(
        id=outcome.id,
        ok=isinstance(outcome, Result),
        done=summary.processed,
        total=total,
        elapsed_s=elapsed,
    )
