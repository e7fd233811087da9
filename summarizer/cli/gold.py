"""``case-summarizer gold``: check gold records and export their JSON Schema."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..evaluation.gold import (
    GOLD_SCHEMA_FILE,
    gold_files,
    gold_json_schema_text,
    validate_gold_dir,
)
from .common import handle_errors, note
from .review import gold_export_command


@click.group("gold")
def command() -> None:
    """Hand-labelled gold records for `case-summarizer eval` (see evals/README.md).

    \b
    Examples:
      case-summarizer gold validate
      case-summarizer gold validate evals/gold
      case-summarizer gold schema > evals/gold.schema.json
      case-summarizer gold export records.jsonl -o evals/gold-reviewed
    """


command.add_command(gold_export_command)  # gold files from a review (cli/review.py)


@command.command("validate")
@click.argument(
    "directory", required=False, type=click.Path(path_type=Path), default=Path("evals/gold")
)
@handle_errors
def validate_command(directory: Path) -> None:
    """Check every gold file in DIRECTORY (default: evals/gold).

    Each file must parse and match the gold schema (known fields, valid enums), name
    an input file that exists, use an id no other file uses, and give an age_years that
    agrees with age_text where summarizer.ages.parse_age reads it. Prints one line per
    problem and exits 1 when there is any.

    \b
    Examples:
      case-summarizer gold validate
      case-summarizer gold validate path/to/gold
    """
    problems = validate_gold_dir(directory)
    for problem in problems:
        click.echo(problem)
    if problems:
        note(f"{len(problems)} problem(s) in {directory}")
        sys.exit(1)
    count = len(gold_files(directory))
    note(f"{count} gold record(s) in {directory}: all valid")


@command.command("schema")
@click.option(
    "--write", is_flag=True, help=f"Write it to {GOLD_SCHEMA_FILE.name} in the evals folder."
)
@handle_errors
def schema_command(write: bool) -> None:
    """Print the JSON Schema of a gold file (evals/gold.schema.json is generated from it).

    \b
    Examples:
      case-summarizer gold schema
      case-summarizer gold schema --write
    """
    text = gold_json_schema_text()
    if write:
        GOLD_SCHEMA_FILE.write_text(text, encoding="utf-8")
        note(f"wrote {GOLD_SCHEMA_FILE}")
    else:
        click.echo(text, nl=False)
