"""``case-summarizer logs``: list, filter and export the run log of model calls."""

from __future__ import annotations

import csv
import json
import sys
from typing import Any

import click

from ..sinks import csv_cell, terminal_text
from .common import handle_errors

TABLE = (
    ("time", 19),
    ("record_id", 24),
    ("model", 18),
    ("prompt_version", 6),
    ("tokens", 7),
    ("cached_tokens", 6),
    ("duration_s", 8),
    ("attempts", 3),
    ("cache_hit", 5),
    ("error", 0),
)


def _cell(row: dict[str, Any], name: str) -> str:
    """A table cell as the terminal should show it (ids and errors come from inputs)."""
    return terminal_text(_value(row, name))


def _value(row: dict[str, Any], name: str) -> str:
    if name == "tokens":
        total = (row.get("prompt_tokens") or 0) + (row.get("completion_tokens") or 0)
        return str(total)
    value = row.get(name)
    if name == "time" and isinstance(value, str):
        return value[:19].replace("T", " ")
    if name == "duration_s" and isinstance(value, float):
        return f"{value:.3f}"
    if name == "cache_hit":
        return "hit" if value else ""
    return "" if value is None else str(value)


@click.command("logs")
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="The most recent N calls (0: all).",
)
@click.option("-m", "--model", help="Only calls to this model.")
@click.option("--errors", is_flag=True, help="Only calls that failed.")
@click.option(
    "--since",
    help="Only calls since a date/time (2026-01-31, 2026-01-31T10:00) or ago (30m, 2h, 7d).",
)
@click.option("--run", "run_id", help="Only calls of one batch run (its run_id).")
@click.option("--json", "as_json", is_flag=True, help="Export as a JSON array.")
@click.option("--csv", "as_csv", is_flag=True, help="Export as CSV with a header row.")
@click.option("--path", "show_path", is_flag=True, help="Print the log database's path and exit.")
@handle_errors
def command(
    limit: int,
    model: str | None,
    errors: bool,
    since: str | None,
    run_id: str | None,
    as_json: bool,
    as_csv: bool,
    show_path: bool,
) -> None:
    """List the run log: one row per model call (time, record, model, prompt version,
    tokens, cached prompt tokens, duration, attempts, cache hit, error). Oldest first, the latest -n calls.

    \b
    Examples:
      case-summarizer logs
      case-summarizer logs --errors --since 2h
      case-summarizer logs -m gpt-4o-mini -n 0 --csv > calls.csv
      case-summarizer logs -n 0 --json | jq '.[] | select(.attempts > 1)'
    """
    from .. import paths
    from ..errors import ConfigError
    from ..runlog import COLUMNS, RunLog

    if show_path:
        click.echo(str(paths.log_path()))
        return
    if as_json and as_csv:
        raise ConfigError("choose one of --json and --csv")
    with RunLog(paths.log_path(), read_only=True) as log:
        rows = log.query(
            model=model, errors=errors, since=since, run_id=run_id, limit=limit or None
        )
        out = sys.stdout
        if as_json:
            out.write("[")
            for index, row in enumerate(rows):
                out.write(("," if index else "") + "\n  " + json.dumps(row, ensure_ascii=False))
            out.write("\n]\n")
        elif as_csv:
            writer = csv.DictWriter(out, fieldnames=list(COLUMNS))
            writer.writeheader()
            for row in rows:
                extra = json.dumps(row["extra"]) if row["extra"] else ""
                writer.writerow(
                    {
                        name: csv_cell(value) if isinstance(value, str) else value
                        for name, value in {**row, "extra": extra}.items()
                    }
                )
        else:
            header = "  ".join(name.ljust(width) if width else name for name, width in TABLE)
            out.write(
                header.replace("prompt_version", "prompt")
                .replace("duration_s", "seconds")
                .replace("cached_tokens", "cached")
                + "\n"
            )
            for row in rows:
                cells = []
                for name, width in TABLE:
                    text = _cell(row, name)
                    cells.append(text[:width].ljust(width) if width else text)
                out.write("  ".join(cells).rstrip() + "\n")
        out.flush()
