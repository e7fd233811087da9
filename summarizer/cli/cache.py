"""``case-summarizer cache``: inspect or empty the response cache."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ..cache import ResponseCache

from .common import handle_errors


def _open() -> ResponseCache:
    from ..cache import ResponseCache

    return ResponseCache()


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
    """Show where the cache is, how many answers it holds and how often they were used.

    \b
    Example:
      case-summarizer cache stats
    """
    with _open() as cache:
        figures = cache.stats()
    if as_json:
        click.echo(json.dumps(figures, indent=2))
        return
    click.echo(f"path:     {figures['path']}")
    click.echo(f"entries:  {figures['entries']:,}")
    click.echo(f"hits:     {figures['hits']:,}")
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
    with _open() as cache:
        if (
            not yes
            and cache.stats()["entries"]
            and not click.confirm(
                f"Delete {len(cache):,} cached answer(s) in {cache.path}?", err=True
            )
        ):
            return
        removed = cache.clear()
    click.echo(f"removed {removed:,} cached answer(s)", err=True)
