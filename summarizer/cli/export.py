"""``case-summarizer export``: finished results in another format, without a model."""

from __future__ import annotations

from pathlib import Path

import click

from ..output.export import VIEWS_WITH_THE_ABSTRACT, export_results
from ..output.targets import check_output
from .common import FORCE, chosen_format, format_option, handle_errors, note


@click.command("export")
@click.argument("results", nargs=-1, required=True, type=click.Path(dir_okay=False))
@format_option(default="csv")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Write here (atomically), not stdout."
)
@FORCE
@handle_errors
def command(
    results: tuple[str, ...], output_format: str | None, output: str | None, force: bool
) -> None:
    """Render finished results (the JSON Lines `summarize -o` writes) in any format.

    No model is called: records, evidence and provenance are read back as written, and
    the cleaned abstract stored with each result shows the evidence in context.

    \b
    Examples:
      case-summarizer export records.jsonl -f csv -o records.csv
      case-summarizer export records.jsonl -f html -o review.html
      case-summarizer export part1.jsonl part2.jsonl -f md > cards.md
    """
    paths = [Path(path) for path in results]
    if output:  # a file that is not ours is refused first, whatever the format
        check_output(Path(output), paths, force=force)
    output_format = chosen_format(output, output_format, default="csv")
    summary = export_results(
        paths,
        format=output_format,
        output=Path(output) if output else None,
        force=force,
    )
    if summary.without_abstract and output_format in VIEWS_WITH_THE_ABSTRACT:
        note(
            f"note: {summary.without_abstract} result(s) were written without their abstract "
            "(an older version): their evidence is listed but cannot be shown in context"
        )
    if summary.unreadable:
        note(f"note: {summary.unreadable} line(s) were not results and were left out")
    if output:
        note(f"{summary.records} record(s), {summary.failures} failure(s) -> {output}")
