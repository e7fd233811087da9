"""``case-summarizer review``: check records against their evidence on a local page, and
export what was reviewed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .common import FORCE, chosen_format, format_option, handle_errors, note

REVIEW_EXPORT_FORMATS = ("jsonl", "csv")

RECORDS = click.argument("records", type=click.Path(dir_okay=False, path_type=Path))
STORE = click.option(
    "--store",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The review's SQLite file (default: RECORDS.review.sqlite beside RECORDS).",
)


class _DefaultOpen(click.Group):
    """``review RECORDS`` means ``review open RECORDS``; ``review export …`` stays itself."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        first = next((arg for arg in args if not arg.startswith("-")), None)
        if first is not None and first not in self.commands and not {"-h", "--help"} & set(args):
            args = ["open", *args]
        return super().parse_args(ctx, args)


@click.group("review", cls=_DefaultOpen)
def command() -> None:
    """Review records on a local web page: check each one against the abstract, correct
    it, and export the result (reviewed records, or gold records for `eval`).

    \b
    Examples:
      case-summarizer summarize exports/ -o records.jsonl
      case-summarizer review records.jsonl
      case-summarizer review records.jsonl --port 8765 --no-browser
      case-summarizer review export records.jsonl -o reviewed.jsonl
      case-summarizer review export records.jsonl -f csv -o reviewed.csv
      case-summarizer gold export records.jsonl -o evals/gold-reviewed
    """


@command.command("open")
@RECORDS
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port on 127.0.0.1 (0: a free one).",
)
@click.option("--no-browser", is_flag=True, help="Print the URL but do not open a browser.")
@STORE
@handle_errors
def open_command(records: Path, port: int, no_browser: bool, store: Path | None) -> None:
    """Serve the review page of RECORDS (the JSON Lines `summarize -o` writes).

    The page lists the records in the order that most needs a person (unaligned
    evidence, disagreement with the rules backend, re-asks, cleaner warnings, missing
    fields) and edits each field with the schema's own checks. Every change is saved at
    once in RECORDS.review.sqlite: stop the server any time and run the command again
    to resume. It listens on 127.0.0.1 only and needs the token in the printed URL.
    """
    from ..review.server import serve
    from ..review.session import ReviewSession

    session = ReviewSession(records, store=store)
    note(
        f"reviewing {len(session.results)} record(s) from {records}"
        + (f" ({len(session.failures)} failed, not reviewable)" if session.failures else "")
        + f"; saved in {session.store_path}"
    )

    def announce(url: str) -> None:
        click.echo(url)
        sys.stdout.flush()
        note("open that URL (it carries this run's token); Ctrl-C stops the server")

    try:
        serve(session, port=port, open_browser=not no_browser, announce=announce)
    except KeyboardInterrupt:
        pass
    finally:
        session.close()


@command.command("export")
@RECORDS
@format_option(default="jsonl", choices=REVIEW_EXPORT_FORMATS)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Default: stdout."
)
@click.option("--done-only", is_flag=True, help="Only records marked done.")
@STORE
@FORCE
@handle_errors
def export_command(
    records: Path,
    output_format: str | None,
    output: Path | None,
    done_only: bool,
    store: Path | None,
    force: bool,
) -> None:
    """Write the reviewed records of RECORDS: each with the reviewer's edits, its evidence
    re-aligned, and a "review" block (the record's status, each field's status and when
    it was set). -f csv writes the review table.

    \b
    Examples:
      case-summarizer review export records.jsonl -o reviewed.jsonl
      case-summarizer review export records.jsonl -f csv --done-only -o reviewed.csv
    """
    from ..output.line_store import atomic_write
    from ..output.targets import check_output
    from ..review.export import export_reviewed

    output_format = chosen_format(
        output, output_format, default="jsonl", choices=REVIEW_EXPORT_FORMATS
    )
    session = _session(records, store)
    count = 0

    def write(stream: Any) -> None:
        nonlocal count
        count = export_reviewed(session, stream, format=output_format, done_only=done_only)

    try:
        if output:
            check_output(output, [records, session.store_path], force=force)
            atomic_write(output, write)  # an existing export stays whole until this one is
        else:
            write(sys.stdout)
    finally:
        session.close()
    note(f"{count} record(s) exported" + (f" -> {output}" if output else ""))


def _session(records: Path, store: Path | None) -> Any:
    from ..errors import InputError
    from ..review.review_store import default_store_path
    from ..review.session import ReviewSession

    path = store or default_store_path(records)
    if not path.is_file():
        raise InputError(
            f"no review yet ({path} does not exist): run `case-summarizer review {records}` first",
            path=str(records),
        )
    return ReviewSession(records, store=path)


@click.command("export")
@RECORDS
@click.option(
    "-o",
    "--output",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for the gold files (inputs go in its inputs/ folder).",
)
@click.option(
    "--all", "everything", is_flag=True, help="Every record with a reviewed field, done or not."
)
@click.option("--tag", "tags", multiple=True, help="A tag to add to every gold record.")
@STORE
@handle_errors
def gold_export_command(
    records: Path, directory: Path, everything: bool, tags: tuple[str, ...], store: Path | None
) -> None:
    """Write the records of RECORDS marked done in its review as gold files that
    `gold validate` accepts, each with its input text. Only the fields the reviewer
    accepted or corrected are expected; the others are left unscored.

    \b
    Examples:
      case-summarizer gold export records.jsonl -o evals/gold-reviewed
      case-summarizer gold validate evals/gold-reviewed
      case-summarizer eval --gold evals/gold-reviewed
    """
    from ..review.export import export_gold

    session = _session(records, store)
    try:
        done = export_gold(session, directory, done_only=not everything, tags=tags)
    finally:
        session.close()
    for ident in done.skipped:
        note(f"skipped {ident}: no field accepted or corrected")
    note(f"{len(done.written)} gold record(s) written to {directory}")
