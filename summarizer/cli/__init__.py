"""The ``case-summarizer`` command. Each command lives in its own module; this file wires them."""

from __future__ import annotations

import functools
import importlib
import importlib.util
import sys
import traceback
import warnings
from typing import TextIO

import click

from .common import EXIT_USAGE, note
from .terminal import install as install_visible_stdout


class _Commands(click.Group):
    """The commands, each imported when it is run (or listed by ``--help``): a command
    loads only what it uses, so ``clean`` starts without the pipeline, the evaluation or
    a model client (``tests/test_startup.py``)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_available()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        known = super().get_command(ctx, cmd_name)
        if known is not None or cmd_name not in _available():
            return known
        command: click.Command = importlib.import_module(
            f"{__name__}.{_COMMANDS[cmd_name]}"
        ).command
        self.add_command(command, cmd_name)
        return command


_COMMANDS = {
    "summarize": "summarize",
    "export": "export",
    "clean": "clean",
    "schema": "schema",
    "eval": "evaluate",
    "cache": "cache",
    "logs": "logs",
    "gold": "gold",
    "review": "review",
    "batch": "batch_api",
}
"""Each command's name and the module in this package whose ``command`` it is."""


@functools.cache
def _available() -> frozenset[str]:
    """The commands whose module is installed (later stages may add optional ones)."""
    return frozenset(
        name
        for name, module in _COMMANDS.items()
        if importlib.util.find_spec(f"{__name__}.{module}") is not None
    )


@click.group(
    cls=_Commands,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(package_name="case-summarizer")
@click.pass_context
def cli(context: click.Context, debug: bool) -> None:
    """Structured, grounded records from medical case-report abstracts.

    \b
    Examples:
      case-summarizer summarize page.txt
      case-summarizer summarize page.txt | jq .record.patient
      case-summarizer summarize exports/ -o records.jsonl
      case-summarizer export records.jsonl -f html -o review.html
      case-summarizer clean page.html --json
      case-summarizer eval --prompt v1 --prompt v2
      case-summarizer review records.jsonl
    """
    context.ensure_object(dict)
    context.obj["debug"] = debug


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """A store's warning as one line on stderr, like every other message."""
    from ..sqlite_store import StoreWarning

    if issubclass(category, StoreWarning):
        note(f"warning: {message}")
    else:
        _default_show_warning(message, category, filename, lineno, file, line)


_default_show_warning = warnings.showwarning


def main() -> None:
    """Console-script entry point."""
    install_visible_stdout()  # data on a terminal shows its control characters, never runs them
    warnings.showwarning = _show_warning
    try:
        cli.main(prog_name="case-summarizer", standalone_mode=False)
    except click.exceptions.Abort:
        note("aborted")
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(EXIT_USAGE if error.exit_code == 2 else error.exit_code)
    except SystemExit:
        raise
    except Exception as error:  # a bug: still one line unless --debug
        if "--debug" in sys.argv:
            traceback.print_exc()
        note(f"internal error: {type(error).__name__}: {error} (rerun with --debug for details)")
        sys.exit(1)
