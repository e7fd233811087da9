"""``case-summarizer eval``: score prompt versions and models against the gold records.

``eval`` itself runs the evaluation (a click group invoked without a subcommand);
``eval compare``, ``eval rescore``, ``eval report`` and ``eval list`` work on stored runs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .. import paths
from ..backends import capabilities_of
from ..errors import ConfigError
from ..evaluation.gate import Threshold, Verdict, judge
from ..evaluation.gold import load_gold
from ..evaluation.metrics import DEFAULT_RESAMPLES, DEFAULT_SEED
from ..evaluation.prices import PriceTable

if TYPE_CHECKING:  # the rest loads on use, so `case-summarizer` starts without numpy/scipy
    from rich.console import Console
    from rich.progress import TaskID

    from ..config import Settings
    from ..evaluation.compare import Comparison
    from ..evaluation.eval_runs import StoredRun
    from ..evaluation.gold import LoadedGold
from .common import (
    PRICES,
    concurrency_option,
    handle_errors,
    no_model_configured,
    note,
    progress_listener,
    progress_option,
    repeatable_model_options,
    settings_from_options,
    warn,
)

F = TypeVar("F", bound=Callable[..., Any])

EXIT_GATE = 1


def _console() -> Console:
    from rich.console import Console

    from .terminal import styled_stdout

    console = Console(file=styled_stdout())
    if not console.is_terminal:
        console = Console(file=styled_stdout(), width=max(console.width, 160))
    return console


def _runs_option(function: F) -> F:
    return click.option(
        "--runs-dir",
        type=click.Path(file_okay=False, path_type=Path),
        callback=lambda _context, _option, value: value or paths.eval_runs_dir(),
        help="Where runs are stored [default: the project's evals/runs (the working folder "
        "or one above it holds evals/gold or evals/runs), else evals/runs in "
        "$CASE_SUMMARIZER_HOME].",
    )(function)


def _bootstrap_options(function: F) -> F:
    function = click.option(
        "--seed", type=int, default=DEFAULT_SEED, show_default=True, help="Bootstrap random seed."
    )(function)
    return click.option(
        "--resamples",
        type=click.IntRange(min=1000),
        default=DEFAULT_RESAMPLES,
        show_default=True,
        help="Bootstrap resamples (at least 1000).",
    )(function)


def _report_option(function: F) -> F:
    return click.option(
        "--report",
        "reports",
        multiple=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="Also write a report: FILE.html (self-contained), FILE.md or FILE.json. Repeatable.",
    )(function)


def _parse_thresholds(values: Sequence[str]) -> list[Threshold]:
    try:
        return [Threshold.parse(value) for value in values]
    except ConfigError as error:
        raise click.BadParameter(str(error), param_hint="--fail-under") from None


def _check_reports(reports: Sequence[Path]) -> None:
    """Before any work: a report that cannot be written fails now, not after the run."""
    from ..evaluation.report import check_report_path

    for path in reports:
        check_report_path(path)


def _compare(baseline: StoredRun, run: StoredRun, resamples: int, seed: int) -> Comparison:
    from ..evaluation.compare import compare_records

    for what, key in (("gold set", ("gold", "hash")), ("scorer", ("versions", "scorer"))):
        before = (baseline.config.get(key[0]) or {}).get(key[1])
        after = (run.config.get(key[0]) or {}).get(key[1])
        if before != after:
            note(
                f"warning: {run.run_id} and {baseline.run_id} differ in {what} ({before} vs {after}); "
                "`eval rescore` both to compare like with like"
            )
    return compare_records(
        baseline.records,
        run.records,
        name_a=f"{baseline.label} ({baseline.run_id})",
        name_b=f"{run.label} ({run.run_id})",
        resamples=resamples,
        seed=seed,
    )


def _write_reports(
    reports: Sequence[Path],
    runs: Sequence[StoredRun],
    comparisons: Sequence[Comparison],
    verdict: Verdict | None = None,
) -> None:
    from ..evaluation.report import write_report

    for path in reports:
        write_report(path, runs, comparisons, verdict=verdict)
        note(f"report: {path}")


def _finish(verdict: Verdict) -> None:
    """Exit 1 when a gate failed (the report printed above says which and why)."""
    if not verdict.passed:
        sys.exit(EXIT_GATE)


def _listener(variant: Any, asked: bool | None) -> Any:
    """The progress lines of a model run: asked for, or on a terminal for a local model
    (the rules row takes milliseconds: never)."""
    capabilities = capabilities_of(variant)
    if not capabilities.takes_prompt:
        return None
    return progress_listener(asked=asked, quiet=False, reports=capabilities.local)


def _cache(enabled: bool, refresh: bool) -> Any:
    if not enabled:
        return None
    from ..cache import ResponseCache

    return ResponseCache(refresh=refresh, warn=warn)


@click.group(
    "eval",
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--prompt",
    "prompts",
    multiple=True,
    help="Prompt version; repeatable [default: v1; v2 with --backend llamacpp].",
)
@repeatable_model_options
@click.option(
    "--gold",
    "gold_dir",
    type=click.Path(file_okay=False, path_type=Path),
    callback=lambda _context, _option, value: value or paths.gold_dir(),
    help="Folder of gold records [default: the project's evals/gold].",
)
@click.option(
    "--tag",
    "tags",
    multiple=True,
    help="Only gold records with this tag; repeatable (any matches).",
)
@click.option("--record", "record_ids", multiple=True, help="Only this gold record id; repeatable.")
@_runs_option
@click.option("--no-cache", is_flag=True, help="Do not read or write the response cache.")
@click.option(
    "--refresh",
    is_flag=True,
    help="Ask the model again and update the cache; run the rules baseline again too.",
)
@PRICES
@concurrency_option(default=4, help="Records in flight per run.")
@_report_option
@click.option(
    "--baseline",
    help="A stored run (id, unique prefix, folder, 'latest' or 'latest~N') to compare "
    "every run against.",
)
@click.option(
    "--fail-on-regression",
    is_flag=True,
    help="Exit 1 when a quality metric is significantly worse than --baseline.",
)
@click.option(
    "--fail-under",
    "fail_under",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Exit 1 when a metric is below VALUE (above, for ↓ metrics); repeatable.",
)
@_bootstrap_options
@progress_option
@click.pass_context
@handle_errors
def command(context: click.Context, /, **options: Any) -> None:
    """Score prompt versions and models against the hand-labelled gold records.

    Runs every --prompt × --model over the gold set (through the response cache),
    with the built-in rules backend as the baseline row, stores each run in
    RUNS_DIR/<run-id>/ (outputs.jsonl, scores.json, config.json) and prints the
    verdict of the gates, the comparisons, then the metrics side by side, each with a
    95% bootstrap interval. The rules baseline is stored once: a later eval reuses it
    while the package, schema, gold set and settings are unchanged (--refresh runs it
    again).

    \b
    Examples:
      case-summarizer eval                                  # rules baseline only
      case-summarizer eval --prompt v1 --prompt v2 --model gpt-4o-mini
      case-summarizer eval --base-url http://localhost:8080/v1 --model local --report out.html
      case-summarizer eval --model gpt-4o-mini --baseline 20250101T000000Z-v1 --fail-on-regression
      case-summarizer eval --fail-under overall=0.6 --fail-under hallucination_rate=0.1
      case-summarizer eval compare latest~1 latest --report diff.html
      case-summarizer eval rescore latest
    """
    if context.invoked_subcommand is not None:
        return
    _run(**options)


def _run(
    *,
    prompts: tuple[str, ...],
    gold_dir: Path,
    tags: tuple[str, ...],
    record_ids: tuple[str, ...],
    runs_dir: Path,
    no_cache: bool,
    refresh: bool,
    prices: Path | None,
    concurrency: int,
    reports: tuple[Path, ...],
    baseline: str | None,
    fail_on_regression: bool,
    fail_under: tuple[str, ...],
    resamples: int,
    seed: int,
    progress_lines: bool | None,
    **model_options: Any,
) -> None:
    from ..evaluation.eval_runs import load_run
    from ..evaluation.report import terminal_report

    thresholds = _parse_thresholds(fail_under)
    if fail_on_regression and not baseline:
        raise click.UsageError("--fail-on-regression needs --baseline RUN")
    _check_reports(reports)
    variants = _variants(prompts, model_options)
    baseline_run = load_run(baseline, runs_dir) if baseline else None
    gold = load_gold(gold_dir, tags=tags, ids=record_ids)
    runs = _execute(
        variants,
        gold,
        gold_dir=gold_dir,
        runs_dir=runs_dir,
        prices=PriceTable.load(prices),
        cache=_cache(not no_cache, refresh),
        concurrency=concurrency,
        resamples=resamples,
        seed=seed,
        # the baseline row is deterministic: reuse its stored run when unchanged
        reuse_baseline=not (refresh or no_cache),
        progress_lines=progress_lines,
    )
    # the gates judge the model runs (after the baseline row), or that row when it ran alone
    judged = runs[1:] or runs
    comparisons = (
        [_compare(baseline_run, run, resamples, seed) for run in judged] if baseline_run else []
    )
    verdict = judge(
        judged, comparisons, thresholds=thresholds, fail_on_regression=fail_on_regression
    )
    shown = verdict if verdict.gated else None
    _console().print(terminal_report(runs, comparisons, verdict=shown))
    _write_reports(reports, runs, comparisons, shown)
    _finish(verdict)


def _variants(prompts: tuple[str, ...], model_options: dict[str, Any]) -> list[Settings]:
    """The settings of each run: the rules baseline row, then every prompt on every model
    (an unknown prompt version fails here, before any call)."""
    from ..evaluation.eval_runs import plan_variants
    from ..render import load_prompt

    models: tuple[str, ...] = model_options.pop("model") or ()
    base = settings_from_options(
        {**model_options, "model": models[0] if models else None},
        prompt=prompts[0] if prompts else None,
    )
    if no_model_configured(base) or (
        not capabilities_of(base).takes_prompt and (models or len(prompts) > 1)
    ):
        note(
            "note: no model configured, so only the rules baseline runs "
            "(set OPENAI_API_KEY, or --base-url URL --model NAME)"
        )
    variants: list[Settings] = plan_variants(base, prompts, models)
    for variant in variants:
        if capabilities_of(variant).takes_prompt:
            load_prompt(variant.resolved_prompt)
    return variants


def _execute(
    variants: list[Settings],
    gold: Sequence[LoadedGold],
    *,
    gold_dir: Path,
    runs_dir: Path,
    prices: PriceTable,
    cache: Any,
    concurrency: int,
    resamples: int,
    seed: int,
    reuse_baseline: bool,
    progress_lines: bool | None,
) -> list[StoredRun]:
    """Each variant over the gold set, stored, with a progress bar for each on stderr."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from ..evaluation.eval_runs import execute, variant_label

    runs: list[StoredRun] = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        for position, variant in enumerate(variants):
            task = progress.add_task(variant_label(variant), total=len(gold))

            def advance(_ident: str, task: TaskID = task) -> None:
                progress.advance(task)

            run = execute(
                variant,
                gold,
                gold_dir=gold_dir,
                runs_dir=runs_dir,
                prices=prices,
                cache=cache,
                concurrency=concurrency,
                resamples=resamples,
                seed=seed,
                progress=advance,
                reuse=position == 0 and reuse_baseline,
                on_progress=_listener(variant, progress_lines),
            )
            runs.append(run)
            _say_stored(run, len(gold))
    return runs


def _say_stored(run: StoredRun, records: int) -> None:
    """Where a run was stored (or which stored run was reused), and its failures."""
    if run.reused:
        note(f"reused {run.path} (package, schema, gold set and settings unchanged)")
    else:
        note(f"stored {run.path}")
    failed = [record for record in run.records if not record.ok]
    if failed:
        note(
            f"{run.label}: {len(failed)} of {records} record(s) failed "
            f"(first: {failed[0].id}: {failed[0].error})"
        )


@command.command("compare")
@click.argument("run_a")
@click.argument("run_b")
@_runs_option
@_bootstrap_options
@_report_option
@click.option(
    "--fail-on-regression",
    is_flag=True,
    help="Exit 1 when B is significantly worse than A on a quality metric.",
)
@handle_errors
def compare_command(
    run_a: str,
    run_b: str,
    runs_dir: Path,
    resamples: int,
    seed: int,
    reports: tuple[Path, ...],
    fail_on_regression: bool,
) -> None:
    """Compare two stored runs: B − A per metric, paired bootstrap 95% intervals.

    RUN_A is the baseline. Runs are named by id, a unique prefix or suffix, a folder,
    'latest', or 'latest~N' (N runs before the latest). Significant changes (the interval excludes 0) are flagged, and the
    records that got better or worse are listed per field.

    \b
    Examples:
      case-summarizer eval compare latest~1 latest
      case-summarizer eval compare 20250101T120000Z-rules 20250101T120003Z-v1
      case-summarizer eval compare RUN_A RUN_B --report compare.html --fail-on-regression
    """
    from ..evaluation.eval_runs import load_run
    from ..evaluation.report import terminal_report

    _check_reports(reports)
    first, second = load_run(run_a, runs_dir), load_run(run_b, runs_dir)
    comparison = _compare(first, second, resamples, seed)
    verdict = judge([second], [comparison], fail_on_regression=fail_on_regression)
    shown = verdict if verdict.gated else None
    _console().print(terminal_report([first, second], [comparison], verdict=shown))
    _write_reports(reports, [first, second], [comparison], shown)
    _finish(verdict)


@command.command("rescore")
@click.argument("runs", nargs=-1, required=True)
@_runs_option
@click.option(
    "--gold",
    "gold_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Gold folder (default: the one the run used).",
)
@click.option(
    "--prices",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Price table (default: the price stored with the run).",
)
@_bootstrap_options
@handle_errors
def rescore_command(
    runs: tuple[str, ...],
    runs_dir: Path,
    gold_dir: Path | None,
    prices: Path | None,
    resamples: int,
    seed: int,
) -> None:
    """Score stored outputs again (after a scorer or gold change); no model is called.

    Rewrites each run's scores.json from its outputs.jsonl.

    \b
    Examples:
      case-summarizer eval rescore latest
      case-summarizer eval rescore RUN_A RUN_B --gold evals/gold
    """
    from ..evaluation.eval_runs import load_run, rescore_run
    from ..evaluation.report import terminal_report

    price_table = PriceTable.load(prices) if prices else None
    rescored = []
    for reference in runs:
        run = load_run(reference, runs_dir)
        folder = gold_dir or Path(
            str((run.config.get("gold") or {}).get("dir") or paths.gold_dir())
        )
        gold = load_gold(folder)
        rescored.append(rescore_run(run, gold, prices=price_table, resamples=resamples, seed=seed))
        note(f"rescored {run.path}")
    _console().print(terminal_report(rescored))


@command.command("report")
@click.argument("runs", nargs=-1, required=True)
@_runs_option
@click.option("--baseline", help="Compare every other run against this one.")
@_report_option
@_bootstrap_options
@handle_errors
def report_command(
    runs: tuple[str, ...],
    runs_dir: Path,
    baseline: str | None,
    reports: tuple[Path, ...],
    resamples: int,
    seed: int,
) -> None:
    """Print (and write) the report of stored runs, side by side.

    \b
    Examples:
      case-summarizer eval report RUN_A RUN_B --report report.html
      case-summarizer eval report RUN_A RUN_B --baseline RUN_A --report report.md
    """
    from ..evaluation.eval_runs import load_run
    from ..evaluation.report import terminal_report

    _check_reports(reports)
    loaded = [load_run(reference, runs_dir) for reference in runs]
    comparisons: list[Comparison] = []
    if baseline:
        base = load_run(baseline, runs_dir)
        comparisons = [
            _compare(base, run, resamples, seed) for run in loaded if run.path != base.path
        ]
    _console().print(terminal_report(loaded, comparisons))
    _write_reports(reports, loaded, comparisons)


@command.command("list")
@_runs_option
@handle_errors
def list_command(runs_dir: Path) -> None:
    """List stored runs, oldest first.

    \b
    Example:
      case-summarizer eval list --runs-dir evals/runs
    """
    from rich.table import Table

    from ..evaluation.eval_runs import list_runs

    table = Table("run", "label", "records", "overall", "validity", "gold")
    for run in list_runs(runs_dir):
        metrics = run.metrics
        overall = (metrics.get("overall") or {}).get("estimate")
        validity = (metrics.get("validity_rate") or {}).get("estimate")
        table.add_row(
            run.run_id,
            run.label,
            str(len(run.scores.get("records", []))),
            "–" if overall is None else f"{overall:.3f}",
            "–" if validity is None else f"{validity:.3f}",
            str((run.config.get("gold") or {}).get("hash", "")),
        )
    _console().print(table)


__all__ = ["command"]
