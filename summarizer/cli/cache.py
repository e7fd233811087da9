"""``case-summarizer cache``: inspect or empty the response cache."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ..cache import ResponseCache

from ..sinks import terminal_text
from .common import handle_errors, note


def _open(*, read_only: bool) -> ResponseCache:
    from ..cache import ResponseCache

    # Problems surface as StoreError from stats()/clear(), which say what to do.
    return ResponseCache(read_only=read_only, warn=lambda message: None)


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds")


@click.group("cache")
def command() -> None:
    """The response cache of model answers (SQLite, in $CASE_SUMMARIZER_HOME).

    Answers are keyed by a hash of everything that determines them (backend, model,
    mode, rendered messages, JSON schema, parameters, prompt hash), so a changed
    prompt or model never gets a stale answer. The rules backend is not cached.

    \b
    Examples:
      case-summarizer cache stats
      case-summarizer cache stats --json
      case-summarizer cache clear
    """


@command.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as a JSON object.")
@handle_errors
def stats(as_json: bool) -> None:
    """Show where the cache is, how many answers (and cleaned abstracts) it holds and how
    often the answers were used.

    \b
    Example:
      case-summarizer cache stats
    """
    with _open(read_only=True) as cache:
        figures = cache.stats()
    if as_json:
        click.echo(json.dumps(figures, indent=2))
        return
    click.echo(f"path:     {terminal_text(figures['path'])}")
    click.echo(f"entries:  {figures['entries']:,}")
    click.echo(f"hits:     {figures['hits']:,}")
    click.echo(f"cleaned:  {figures['abstracts']:,} abstract(s), kept for re-runs")
    click.echo(f"size:     {figures['bytes'] / 1_048_576:.2f} MiB")
    click.echo(f"oldest:   {_when(figures['oldest'])}")
    click.echo(f"newest:   {_when(figures['newest'])}")


@command.command("clear")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@handle_errors
def clear(yes: bool) -> None:
    """Delete every cached answer (the next run asks the model again).

    \b
    Example:
      case-summarizer cache clear --yes
    """
    from ..errors import StoreError

    with _open(read_only=False) as cache:
        try:
            entries = cache.stats()["entries"]
            if (
                not yes
                and entries
                and not click.confirm(
                    f"Delete {entries:,} cached answer(s) in {cache.path}?", err=True
                )
            ):
                return
            removed = cache.clear()
        except StoreError as error:
            if not error.corrupt:
                raise
            # A corrupt file cannot be emptied: start a fresh one in its place.
            question = f"The response cache {cache.path} cannot be read. Recreate it empty?"
            if not yes and not click.confirm(question, err=True):
                return
            cache.recreate()
            note(f"recreated {cache.path} (it could not be read)")
            return
    note(f"removed {removed:,} cached answer(s)")
