"""``case-summarizer batch``: the provider batch path (OpenAI Batch API, ``vllm run-batch``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..config import MODES
from ..sinks import terminal_text
from .common import (
    EXIT_FAILED_RECORDS,
    PRICES,
    chosen_format,
    concurrency_option,
    connection_options,
    format_option,
    handle_errors,
    input_options,
    load_prices,
    note,
    run_options_from,
    summary_line,
    warn,
)

if TYPE_CHECKING:
    from ..batch_api import BatchInfo, CollectSummary, PrepareSummary
    from ..config import Settings
    from ..evaluation.prices import Price
    from ..runlog import RunLog


@click.group("batch")
def command() -> None:
    """Many records through a provider's batch engine, at batch prices.

    The OpenAI Batch API (Azure OpenAI uses the same files) answers within 24 hours at
    half the online price; `vllm run-batch` answers the same files on a GPU machine.
    Each request is exactly what `summarize` sends online, and each answer is parsed,
    validated and grounded the same way.

    \b
    Examples:
      case-summarizer batch prepare export.xml -o requests.jsonl --model gpt-4o-mini
      case-summarizer batch submit requests.jsonl
      case-summarizer batch status --wait batch_abc123
      case-summarizer batch collect batch_abc123 -o records.jsonl
      case-summarizer batch collect results.jsonl --requests requests.jsonl -o records.jsonl
    """


# --- shared options ------------------------------------------------------------------------


def _server_options(function: Any) -> Any:
    options = [
        *connection_options(),
        click.option(
            "--no-log", is_flag=True, help="Do not use the run log (no double-submit check)."
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _settings(options: dict[str, Any], **extra: Any) -> Settings:
    from ..config import Settings

    return Settings.from_env(
        env={},  # click read the environment variables
        base_url=options.pop("base_url", None),
        api_key=options.pop("api_key", None),
        timeout=options.pop("timeout", None),
        transport_attempts=options.pop("transport_attempts", None),
        **extra,
    )


def _run_log(no_log: bool) -> RunLog | None:
    from ..runlog import RunLog

    return None if no_log else RunLog(warn=warn)


def _price_line(price: Price | None, model: str) -> str:
    from ..evaluation.prices import price_note

    stored = {**price.to_dict(), "model": model} if price else {"model": model}
    return price_note(stored) or f"{model} runs locally: nothing is billed"


def _money(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.2f}"


# --- prepare -------------------------------------------------------------------------------


def _describe_prepare(summary: PrepareSummary) -> list[str]:
    lines = []
    for part in summary.files:
        lines.append(
            f"{part.path}: {part.requests:,} request(s) for {part.records:,} record(s), "
            f"{part.bytes / 1e6:,.1f} MB (context: {part.context.name})"
        )
    lines.append(f"{summary.requests:,} request(s), {summary.tokens.describe()}")
    lines.append(_price_line(summary.price, summary.model))
    cap = f"{summary.requests:,} x {summary.max_tokens:,} max tokens"
    cached = ""
    if summary.tokens.cacheable_tokens:
        cached = (
            f" without prompt caching, {_money(summary.prompt_cost_cached)} if every repeated"
            " prefix is answered from the cache"
        )
    lines.append(
        f"estimated cost at batch prices: prompt {_money(summary.prompt_cost)}{cached}"
        f"{' (estimate)' if summary.tokens.estimate else ''}; "
        f"completion at most {_money(summary.completion_cost_cap)} ({cap})"
    )
    return lines


@command.command("prepare")
@click.argument("inputs", nargs=-1, required=True)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, writable=True),
    help="The request file (a context file is written beside it).",
)
@click.option(
    "--model", envvar="CASE_SUMMARIZER_MODEL", help="Model name [env: CASE_SUMMARIZER_MODEL]."
)
@click.option("--prompt", default="v1", show_default=True, help="Prompt version.")
@click.option("--mode", type=click.Choice(MODES), help="How the schema is sent (default: tools).")
@click.option("--max-tokens", type=click.IntRange(min=1), default=2048, show_default=True)
@click.option(
    "--base-url",
    envvar="OPENAI_BASE_URL",
    help="The server that will answer (only --mode json asks vLLM and llama.cpp differently).",
)
@click.option(
    "--only-failed",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Only the ids whose line in this output of an earlier run is an error.",
)
@click.option(
    "--max-requests",
    type=click.IntRange(min=1),
    default=None,
    help="Requests per file (default and most: 50,000).",
)
@click.option(
    "--max-bytes",
    type=click.IntRange(min=1),
    default=None,
    help="Bytes per file (default and most: 200 MB).",
)
@click.option(
    "--estimate-tokens",
    is_flag=True,
    help="Estimate prompt tokens (characters / 4) instead of loading the tokenizer (~60 MB).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as a JSON object.")
@PRICES
@input_options
@handle_errors
def prepare(
    inputs: tuple[str, ...],
    output: str,
    model: str | None,
    prompt: str,
    mode: str | None,
    max_tokens: int,
    base_url: str | None,
    only_failed: Path | None,
    max_requests: int | None,
    max_bytes: int | None,
    estimate_tokens: bool,
    as_json: bool,
    prices: Path | None,
    **options: Any,
) -> None:
    """Write the request file of a provider batch (and its context file).

    One line per request in the OpenAI batch input format, each body exactly the
    chat-completions request `summarize` sends online: the same rendered prompt,
    schema and token limit. A staged prompt (v2) has one request per stage, with
    custom_id ID#stage. Files split at 50,000 requests or 200 MB (requests-2.jsonl…).
    Prints the request count, the prompt tokens and the cost at batch prices.

    \b
    Examples:
      case-summarizer batch prepare export.xml -o requests.jsonl --model gpt-4o-mini
      case-summarizer batch prepare abstracts/ -o requests.jsonl --prompt v2
      case-summarizer batch prepare export.xml -o retry.jsonl --only-failed records.jsonl
    """
    from ..backends.openai_compat import OpenAISteps
    from ..batch_api import MAX_BYTES, MAX_REQUESTS, failed_ids, prepare_batch
    from ..config import Settings

    run_options = run_options_from(options)
    settings = Settings.from_env(
        env={},
        backend=OpenAISteps.name,
        model=model,
        prompt=prompt,
        mode=mode,
        max_tokens=max_tokens,
        base_url=base_url,
    )
    _refuse_when_every_input_is_missing(inputs)
    only = None
    if only_failed is not None:
        only = failed_ids(only_failed)
        if not only:
            note(f"{only_failed} holds no failed record: nothing to prepare")
            return
    summary = prepare_batch(
        inputs,
        settings,
        output=output,
        options=run_options,
        only=only,
        max_requests=max_requests or MAX_REQUESTS,
        max_bytes=max_bytes or MAX_BYTES,
        prices=load_prices(prices),
        count_tokens=not estimate_tokens,
    )
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        for line in _describe_prepare(summary):
            click.echo(terminal_text(line))
    for ident, error in summary.failures:
        note(f"error: {ident}: {error}" if ident not in error else f"error: {error}")
    if summary.failed:
        note(
            f"{summary.failed} record(s) could not be prepared; they are kept in the context "
            "file and collected as errors"
        )
        sys.exit(EXIT_FAILED_RECORDS)
    if not as_json:
        names = " ".join(str(part.path) for part in summary.files)
        note(f"next: case-summarizer batch submit {names}")


def _refuse_when_every_input_is_missing(inputs: tuple[str, ...]) -> None:
    """Nothing to prepare is a usage error, as for ``summarize`` (no empty request file)."""
    import glob

    from ..errors import InputError

    missing = [
        name
        for name in inputs
        if name != "-" and not glob.has_magic(name) and not Path(name).expanduser().exists()
    ]
    if missing and len(missing) == len(inputs):
        raise InputError("no such file or folder", path=missing[0])


# --- submit, status, cancel ----------------------------------------------------------------


def _describe_info(info: BatchInfo) -> str:
    counts = f"{info.completed:,} done, {info.failed:,} failed of {info.total:,}"
    return f"{info.id}: {info.status} ({counts})"


@command.command("submit")
@click.argument("requests", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--force", is_flag=True, help="Submit a file even if it was submitted before.")
@_server_options
@handle_errors
def submit(requests: tuple[str, ...], force: bool, **options: Any) -> None:
    """Upload request files and create their batches (24-hour window).

    Prints each batch id. Every batch is recorded in the run log with its request
    file's content hash (and the hash goes in the batch's metadata), so submitting
    the same file again is refused: it would be paid for twice.

    \b
    Examples:
      case-summarizer batch submit requests.jsonl
      case-summarizer batch submit requests.jsonl requests-2.jsonl
    """
    from ..batch_api import submit_batch
    from ..batch_api.remote import check_submittable

    no_log = options.pop("no_log")
    settings = _settings(options)
    check_submittable(settings)
    run_log = _run_log(no_log)
    if no_log:
        warn("--no-log: only the server's list of batches guards against a double payment")
    elif run_log is not None and not run_log.available:
        warn(
            "the run log cannot be read: only the server's list of batches guards against a double payment"
        )
    for path in requests:
        info = submit_batch(path, settings, run_log=run_log, force=force)
        note(f"{path}: submitted as {_describe_info(info)}")
        click.echo(info.id)


@command.command("status")
@click.argument("batch_id", required=False)
@click.option("--wait", is_flag=True, help="Poll (with backoff) until the batch ends.")
@click.option(
    "--poll",
    type=click.FloatRange(min=0.01),
    default=5.0,
    show_default=True,
    help="First wait, seconds.",
)
@click.option(
    "--max-poll",
    type=click.FloatRange(min=0.01),
    default=300.0,
    show_default=True,
    help="Longest wait between polls, seconds.",
)
@click.option(
    "--wait-timeout", type=click.FloatRange(min=0), help="Give up waiting after this many seconds."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_server_options
@handle_errors
def status(
    batch_id: str | None,
    wait: bool,
    poll: float,
    max_poll: float,
    wait_timeout: float | None,
    as_json: bool,
    **options: Any,
) -> None:
    """Show the state and request counts of one batch, or of every submitted batch.

    With --wait, polls one batch until it is completed, failed, expired or cancelled
    (exit status 1 unless completed).

    \b
    Examples:
      case-summarizer batch status
      case-summarizer batch status batch_abc123 --wait
    """
    from ..batch_api import batch_status, list_batches, wait_for_batch

    run_log = _run_log(options.pop("no_log"))
    settings = _settings(options)
    if batch_id is None:
        if wait:
            raise click.UsageError("--wait follows one batch: name its id")
        infos = list_batches(settings, run_log=run_log)
        if as_json:
            click.echo(json.dumps([info.to_dict() for info in infos], indent=2))
            return
        if not infos:
            note("no batch submitted yet (see `batch submit`)")
        for info in infos:
            where = f"  {info.request_file}" if info.request_file else ""
            line = f"{info.created or '':19}  {_describe_info(info)}  {info.model or ''}  {info.prompt_version or ''}{where}"
            click.echo(terminal_text(line))
            for problem in info.errors:
                note(f"  {info.id}: {problem}")
        return
    if wait:

        def show(info: BatchInfo) -> None:
            if not as_json:
                note(_describe_info(info))

        info = wait_for_batch(
            batch_id,
            settings,
            run_log=run_log,
            poll_s=poll,
            max_poll_s=max_poll,
            timeout_s=wait_timeout,
            on_poll=show,
        )
    else:
        info = batch_status(batch_id, settings, run_log=run_log)
    if as_json:
        click.echo(json.dumps(info.to_dict(), indent=2))
    else:
        click.echo(terminal_text(_describe_info(info)))
        for problem in info.errors:
            note(f"  {problem}")
    if wait and info.status != "completed":
        sys.exit(EXIT_FAILED_RECORDS)


@command.command("cancel")
@click.argument("batch_id")
@_server_options
@handle_errors
def cancel(batch_id: str, **options: Any) -> None:
    """Cancel a batch; what it answered before stays collectable.

    \b
    Example:
      case-summarizer batch cancel batch_abc123
    """
    from ..batch_api import cancel_batch

    run_log = _run_log(options.pop("no_log"))
    info = cancel_batch(batch_id, _settings(options), run_log=run_log)
    click.echo(terminal_text(_describe_info(info)))


# --- collect -------------------------------------------------------------------------------


def _describe_collect(summary: CollectSummary) -> list[str]:
    run = summary.run
    counts = [
        (run.failed, "failed"),
        (run.skipped, "already done"),
        (run.retried, "redone"),
        (summary.online_requests, "request(s) asked online"),
    ]
    collected = f"{run.succeeded:,} record(s) collected"
    lines = [summary_line(collected, counts, f"{run.elapsed_s:.1f}s", output=run.output)]
    tokens = summary.batch_tokens
    saved = ""
    if tokens.cached_tokens or summary.online_tokens.cached_tokens:
        saved = f", {_money(summary.cost_without_cache)} without the cache discount"
    lines.append(
        f"tokens from the batch: {tokens.prompt_tokens:,} prompt ({tokens.cached_tokens:,} of "
        f"them cached), {tokens.completion_tokens:,} completion; cost {_money(summary.cost)}"
        f"{saved} ({_price_line(summary.batch_price, summary.model)})"
    )
    if summary.unknown_count:
        named = ", ".join(summary.unknown)
        lines.append(
            f"{summary.unknown_count:,} answer(s) for custom_ids not in {summary.requests_file}: "
            f"{named}{' …' if summary.unknown_count > len(summary.unknown) else ''} "
            "(is --requests the file this batch was made from?)"
        )
    if summary.answered_twice:
        lines.append(
            f"answered more than once (the first answer was used): {', '.join(summary.answered_twice)}"
        )
    if summary.unreadable:
        lines.append(f"{summary.unreadable:,} result line(s) were not JSON or had no custom_id")
    return lines


@command.command("collect")
@click.argument("results", nargs=-1, required=True)
@click.option(
    "--requests",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The request file the batch was made from (default: from the run log, for a batch id).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write here instead of stdout; collecting again into it resumes.",
)
@format_option(default="jsonl")
@click.option(
    "--retry-failed",
    is_flag=True,
    help="Ask online (re-asks included) what the batch could not answer.",
)
@concurrency_option(default=8)
@click.option(
    "--validation-attempts",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="With --retry-failed: tries when an answer does not validate.",
)
@click.option(
    "--strict-grounding", is_flag=True, help="With --retry-failed: fail unaligned quotes."
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stderr.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar, no per-record error lines.")
@PRICES
@_server_options
@handle_errors
def collect(
    results: tuple[str, ...],
    requests: Path | None,
    output: str | None,
    output_format: str | None,
    retry_failed: bool,
    concurrency: int,
    validation_attempts: int,
    strict_grounding: bool,
    as_json: bool,
    quiet: bool,
    prices: Path | None,
    **options: Any,
) -> None:
    """Parse, validate and ground a batch's answers into case records.

    RESULTS is a batch id (its output and error files are downloaded once, into
    $CASE_SUMMARIZER_HOME/batches/ID) or local result files in the batch output
    format (what `vllm run-batch` writes). Each answer is read like an online one
    (tool call or JSON content), validated and grounded in the abstract; each record
    is one line of the output, a result or {"id", "error", "error_type"}. Collecting
    again into the same -o file skips what is done and redoes this batch's errors.
    Exit status 1 when a record failed or an answer matched no request.

    \b
    Examples:
      case-summarizer batch collect batch_abc123 -o records.jsonl
      case-summarizer batch collect results.jsonl --requests requests.jsonl -o records.jsonl
      case-summarizer batch collect batch_abc123 -o records.jsonl --retry-failed
      case-summarizer batch collect results.jsonl --requests requests.jsonl -o review.html -f html
    """
    from ..batch_api import collect_batch

    output_format = chosen_format(output, output_format, default="jsonl")
    run_log = _run_log(options.pop("no_log"))
    settings = _settings(
        options, validation_attempts=validation_attempts, strict_grounding=strict_grounding
    )
    source: str | list[Path] = (
        results[0] if len(results) == 1 else [Path(result) for result in results]
    )
    failed: list[tuple[str, str]] = []

    def report(item: Any) -> None:
        from ..results import Failure

        if isinstance(item, Failure):
            failed.append((item.id, str(item.error)))
            if not quiet:
                note(f"error: {item.id}: {item.error}")

    from ..options import RunOptions

    summary = collect_batch(
        source,
        settings,
        RunOptions(output=output, format=output_format, concurrency=concurrency),
        requests=requests,
        retry_failed=retry_failed,
        run_log=run_log,
        progress=not quiet and sys.stderr.isatty(),
        on_result=report,
        prices=load_prices(prices),
    )
    if as_json:
        note(json.dumps(summary.to_dict()))
    elif not quiet or not summary.ok:
        for line in _describe_collect(summary):
            note(line)
    if summary.run.previously_failed:
        note(f"{summary.run.previously_failed} record(s) of other batches failed in this output")
    if not summary.ok:
        sys.exit(EXIT_FAILED_RECORDS)
