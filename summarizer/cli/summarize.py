"""``case-summarizer summarize``: abstracts in, grounded case records out."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..backends import Capabilities, ReportsProgress, make_backend
from ..document import Abstract, Document
from ..errors import InputError, OwnOutputSkipped
from ..ingest.count import count_records
from ..local_batch import DEFAULT_CONCURRENCY, BatchSummary, run_batch
from ..options import ORDERS, RunOptions
from ..output.targets import MARKED_FORMATS, check_output, sidecar_path
from ..pipeline import Cache, RunLog
from ..progress import pace_text as pace
from ..results import Failure, Result
from .common import (
    EXIT_FAILED_RECORDS,
    FORCE,
    PRICES,
    announce_backend,
    chosen_format,
    concurrency_option,
    format_option,
    handle_errors,
    input_options,
    load_prices,
    model_options,
    note,
    progress_listener,
    progress_option,
    run_options_from,
    settings_from_options,
    summary_line,
    warn,
)

if TYPE_CHECKING:
    from ..config import Settings

EXIT_INTERRUPTED = 130
RENDERED_FORMATS = ("md", "csv", "html")
"""Formats a batch renders from its store when the run ends (or stops)."""


def _stores(
    capabilities: Capabilities, *, no_cache: bool, refresh: bool, no_log: bool
) -> tuple[Cache | None, RunLog | None]:
    """The response cache and run log, on by default for backends whose answers are
    worth caching (models, not rules)."""
    if not capabilities.cacheable:
        return None, None
    from .. import paths
    from ..cache import ResponseCache
    from ..runlog import RunLog as SqliteRunLog

    cache = None if no_cache else ResponseCache(paths.cache_path(), refresh=refresh, warn=warn)
    run_log = None if no_log else SqliteRunLog(paths.log_path(), warn=warn)
    return cache, run_log


def _without_own_outputs(
    items: Iterable[Document | Abstract | InputError], left_out: list[str]
) -> Iterator[Document | Abstract | InputError]:
    """The records, with our own outputs found among the inputs set aside (named later)."""
    for item in items:
        if isinstance(item, OwnOutputSkipped):
            left_out.append(str(item))
        else:
            yield item


def _describe(summary: BatchSummary) -> list[str]:
    """What the run did, and what earlier runs into the same output had done."""
    lines = []
    if summary.processed or not summary.skipped or summary.stopped_by_budget:
        tokens = summary.prompt_tokens + summary.completion_tokens
        cached = (
            f" ({summary.cached_tokens:,} prompt tokens cached)" if summary.cached_tokens else ""
        )
        counts = [
            (summary.cache_hits, "from the cache"),
            (summary.failed, "failed"),
            (summary.retried, "failed earlier and retried"),
            (tokens, f"tokens{cached}"),
        ]
        summarized = f"{summary.succeeded:,} record(s) summarized"
        took = f"{summary.elapsed_s:.1f}s ({pace(summary.processed, summary.elapsed_s)})"
        lines.append(summary_line(summarized, counts, took, output=summary.output))
    if summary.skipped:
        earlier = f"{summary.skipped:,} record(s) already in {summary.output or 'the output'}"
        if not lines:
            earlier = f"nothing left to do: all {earlier}"
        if 0 < summary.previously_failed <= summary.skipped:
            done = summary.skipped - summary.previously_failed
            earlier += f": {done:,} done, {summary.previously_failed:,} failed in an earlier run"
        lines.append(earlier)
    return lines


def _exit_reasons(summary: BatchSummary, max_cost: float | None) -> list[str]:
    """Why the exit status is 1, each reason in a few words (nothing: it is 0)."""
    reasons = []
    if summary.failed:
        reasons.append(f"{summary.failed:,} record(s) failed in this run")
    if summary.previously_failed:
        reasons.append(
            f"{summary.previously_failed:,} record(s) that failed in an earlier run are still "
            "errors in the output (--retry-failed redoes them)"
        )
    if summary.stopped_by_budget:
        reasons.append(
            f"stopped by --max-cost ${max_cost} after spending ${summary.cost or 0:.4f}, "
            "before every record was done (run again, with a higher --max-cost, to go on)"
        )
    return reasons


def _partial(output: str | None, output_format: str) -> str:
    """What a run that stopped early left in a rendered output file, and how to finish it."""
    if output is None or output_format not in RENDERED_FORMATS or not Path(output).is_file():
        return ""
    if not sidecar_path(Path(output)).is_file():
        return ""  # one record (never rendered unless it succeeded), not a batch
    held = f"{output} holds only the {_records_in(Path(output)):,} record(s) done so far"
    if output_format in MARKED_FORMATS:
        return f"{held}, marked partial by a comment line; run the same command again to finish it"
    return (
        f"{held} (a partial table: a CSV file has no place to say so); run the same command "
        "again to finish it"
    )


def _records_in(output: Path) -> int:
    """Lines in a rendered output's store: its records (every record is one line)."""
    try:
        with sidecar_path(output).open("rb") as store:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: store.read(1 << 20), b""))
    except OSError:
        return 0


@click.command("summarize")
@click.argument("inputs", nargs=-1, required=True)
@click.option(
    "--prompt",
    help="Prompt version (a folder in prompts/) [default: v1; v2 for --backend llamacpp].",
)
@format_option(default="json")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write here instead of stdout; a batch re-run into the same file resumes.",
)
@concurrency_option(default=DEFAULT_CONCURRENCY, help="Records in flight at once (batch).")
@click.option(
    "--rpm",
    type=click.FloatRange(min=0, min_open=True),
    help="Client-side limit: requests per minute.",
)
@click.option(
    "--tpm",
    type=click.FloatRange(min=0, min_open=True),
    help="Client-side limit: tokens per minute.",
)
@click.option(
    "--order",
    type=click.Choice(ORDERS),
    default="input",
    show_default=True,
    help="Results in input order, or as each finishes (a slow record holds none back).",
)
@click.option(
    "--resume/--no-resume",
    default=True,
    show_default=True,
    help="Skip ids already in the -o file (--no-resume starts it afresh).",
)
@click.option(
    "--retry-failed", is_flag=True, help="Redo only the ids whose line in the -o file is an error."
)
@FORCE
@click.option(
    "--max-cost",
    type=click.FloatRange(min=0),
    help="US dollars: start no new request once the run's priced cost would pass this "
    "(what is in flight finishes; run again to go on).",
)
@PRICES
@click.option("--no-cache", is_flag=True, help="Neither read nor write the response cache.")
@click.option("--refresh", is_flag=True, help="Ignore cached answers, but store the new ones.")
@click.option("--no-log", is_flag=True, help="Do not record model calls in the run log.")
@click.option(
    "--backoff",
    type=click.FloatRange(min=0, min_open=True),
    default=0.5,
    show_default=True,
    help="First transport retry wait in seconds (doubles each try).",
)
@click.option(
    "-q", "--quiet", is_flag=True, help="No progress bar or lines, no per-record error lines."
)
@progress_option
@input_options
@model_options
@handle_errors
def command(inputs: tuple[str, ...], **given: Any) -> None:
    """Summarize abstracts into structured, grounded case records.

    INPUTS are files, folders, globs or exports (PubMed XML, MEDLINE, RIS, CSV,
    JSONL); "-" reads stdin. One record prints one JSON object; several print
    JSON Lines, each {"id", "record", "evidence", "provenance", "abstract"} or
    {"id", "error", "error_type"}, in input order (--order completion: as each
    finishes), --concurrency at a time, with a progress bar on a terminal. Every
    --format batches the same way; without -f, the -o suffix chooses it.

    A batch written with -o is resumable, in every format: run the same command
    again after a crash or Ctrl-C and only the missing ids are done; --retry-failed
    redoes the errors. Markdown, CSV and HTML files keep their records in a hidden
    .NAME.results.jsonl beside them and are written when the run ends, or when it
    stops early: then with what is done so far, marked partial.
    Model answers are cached (see `case-summarizer cache`) and every model call is
    logged (see `case-summarizer logs`). Exit status: 0 all good, 1 some record
    failed, 2 usage or input error, 130 interrupted.

    \b
    Examples:
      case-summarizer summarize page.txt
      case-summarizer summarize page.txt | jq .record.patient
      pbpaste | case-summarizer summarize -
      case-summarizer summarize abstracts/ -o records.jsonl
      case-summarizer summarize export.xml -o records.jsonl -j 32 --rpm 500 --tpm 200000
      case-summarizer summarize export.xml -o records.jsonl --retry-failed
      case-summarizer summarize export.xml -o records.csv -f csv -j 16
      case-summarizer summarize rayyan.csv --id-col key --abstract-col abstract -o out.jsonl
      case-summarizer summarize page.txt --base-url http://localhost:8080/v1 --model local
    """
    _summarize(inputs, **given)


def _summarize(
    inputs: tuple[str, ...],
    *,
    prompt: str | None,
    output_format: str | None,
    output: str | None,
    concurrency: int,
    rpm: float | None,
    tpm: float | None,
    order: str,
    resume: bool,
    retry_failed: bool,
    no_cache: bool,
    refresh: bool,
    no_log: bool,
    backoff: float,
    quiet: bool,
    progress_lines: bool | None,
    force: bool,
    max_cost: float | None,
    prices: Path | None,
    **given: Any,
) -> None:
    settings = settings_from_options(given, prompt=prompt, backoff=backoff)
    paths = [Path(name) if name != "-" else name for name in inputs]  # arguments are names
    if output is not None:  # before anything is read or written, and before the format
        check_output(Path(output), paths, force=force)
    output_format = chosen_format(output, output_format, default="json")
    options = run_options_from(
        given,
        output=output,
        format=output_format,
        resume=resume,
        retry_failed=retry_failed,
        force=force,
        concurrency=concurrency,
        rpm=rpm,
        tpm=tpm,
        max_cost=max_cost,
        order=order,
    )
    records, one, left_out = _read(inputs, paths, options)
    # one record: one pretty object, card or page
    options = options.replace(single=one and output_format != "jsonl")
    backend = make_backend(settings)
    cache, run_log = _stores(
        backend.capabilities, no_cache=no_cache, refresh=refresh, no_log=no_log
    )
    reporter = _Reporter(settings, quiet=quiet, single=options.single)
    bar = not quiet and not options.single and sys.stderr.isatty()
    try:
        summary = run_batch(
            records,
            settings,
            options,
            cache=cache,
            run_log=run_log,
            progress=bar,
            expected=count_records(paths, options) if bar else None,
            on_result=reporter,
            backend=backend,
            # only a budget prices anything here: no table to read for a run without one
            prices=(
                load_prices(prices) if prices is not None or options.max_cost is not None else None
            ),
            on_progress=progress_listener(
                asked=progress_lines,
                quiet=quiet,
                reports=isinstance(backend, ReportsProgress),
            ),
        )
    except KeyboardInterrupt:
        partial = _partial(output, output_format)
        again = " (run the same command again to resume)" if output else ""
        note(f"interrupted: {partial}" if partial else f"interrupted{again}")
        sys.exit(EXIT_INTERRUPTED)
    left_out += summary.left_out
    _finish(summary, reporter.failed, left_out, options, quiet=quiet, output=output)


def _read(
    inputs: tuple[str, ...], paths: list[Path | str], options: RunOptions
) -> tuple[Iterator[Document | Abstract | InputError], bool, list[str]]:
    """The records, read once (the first two tell one from many, then the rest follow),
    whether there is only one, and our own outputs found among the inputs (left out)."""
    from ..ingest import iter_records

    left_out: list[str] = []
    documents = _without_own_outputs(iter_records(paths, options), left_out)
    peeked = list(itertools.islice(documents, 2))
    if not peeked:
        found = f" (left out: {'; '.join(left_out)})" if left_out else ""
        raise InputError(f"no input records found{found}", path=", ".join(inputs))
    one = len(peeked) == 1
    if one and isinstance(peeked[0], InputError):
        raise peeked[0]
    return itertools.chain(peeked, documents), one, left_out


class _Reporter:
    """What the run says as records finish: which backend runs (once the output is open,
    so that its errors come alone), and each failed record (not for a single one, whose
    error is the command's)."""

    def __init__(self, settings: Settings, *, quiet: bool, single: bool) -> None:
        self.failed: list[Failure] = []
        self._settings = settings
        self._announced = quiet
        self._quiet = quiet
        self._single = single

    def __call__(self, item: Result | Failure) -> None:
        if not self._announced and (isinstance(item, Result) or not self._single):
            announce_backend(self._settings)  # above the bar (``note``)
            self._announced = True
        if isinstance(item, Result):
            return
        self.failed.append(item)
        if not self._quiet and not self._single:
            note(
                f"error: {item.id}: {item.error}"
                if item.id not in str(item.error)
                else f"error: {item.error}"
            )


def _finish(
    summary: BatchSummary,
    failed: list[Failure],
    left_out: list[str],
    options: RunOptions,
    *,
    quiet: bool,
    output: str | None,
) -> None:
    """What ends the run: the inputs left out; for one record its error, if it failed;
    for a batch what it did, and exit status 1 when a record is an error."""
    if not quiet:
        for why in left_out:
            note(f"note: left out {why}")
    if options.single:
        if failed:
            raise failed[0].error  # one bad input is one line, nothing more
        if output is not None and not quiet:  # to stdout the record itself says it is done
            note(f"1 record summarized -> {output}")
        return
    if not quiet:
        for line in _describe(summary):
            note(line)
    reasons = _exit_reasons(summary, options.max_cost)
    if reasons:  # an error, so said under -q too
        note(f"exit status 1: {'; '.join(reasons)}")
        if summary.stopped_by_budget and (partial := _partial(output, options.resolved_format)):
            note(partial)
        sys.exit(EXIT_FAILED_RECORDS)
