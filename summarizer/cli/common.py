"""Shared CLI plumbing: one-line errors and exit codes, stderr messages."""

from __future__ import annotations

import errno
import functools
import sys
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click

from ..config import BACKENDS
from ..errors import SummarizerError
from ..sinks import terminal_text

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK = 0
EXIT_FAILED_RECORDS = 1
EXIT_USAGE = 2


def note(message: str) -> None:
    """One line to stderr (stdout is kept for data), with no escape sequence or control
    character from an id, a path or a record reaching the terminal. Written to
    ``sys.stderr`` as it is now: while a progress bar runs, that is the bar's own stream,
    which prints the line above the bar instead of into it."""
    click.echo(terminal_text(message), file=sys.stderr)


def warn(message: str) -> None:
    """A warning line on stderr: the run goes on (e.g. without an unusable store)."""
    note(f"warning: {message}")


def summary_line(
    done: str, counts: Iterable[tuple[int, str]], *tail: str, output: object = None
) -> str:
    """One line of what a run did: ``done``, each count that is not 0 with what it counts
    (``12 failed``), then ``tail``, and `` -> OUTPUT`` when it wrote a file."""
    parts = [done, *(f"{count:,} {what}" for count, what in counts if count), *tail]
    where = f" -> {output}" if output else ""
    return ", ".join(parts) + where


def debug_enabled() -> bool:
    context = click.get_current_context(silent=True)
    root = context.find_root() if context else None
    return bool(root and root.obj and root.obj.get("debug"))


def handle_errors(function: F) -> F:
    """Turn package errors into a one-line message and an exit code (tracebacks with --debug)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except SummarizerError as error:
            if debug_enabled():
                traceback.print_exc()
            note(f"error: {error}")
            sys.exit(error.exit_code)
        except KeyboardInterrupt:
            note("interrupted")
            sys.exit(130)
        except BrokenPipeError:
            sys.exit(0)  # `| head` closed the pipe: not an error
        except OSError as error:
            if error.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            where = f" ({error.filename})" if error.filename else ""
            note(f"error: no space left on the device{where}: free some space and run again")
            sys.exit(EXIT_USAGE)

    return wrapper  # type: ignore[return-value]


def model_options(function: F) -> F:
    """Options that choose and configure the backend (shared by summarize and eval)."""
    return _model_options(function, repeat_model=False)


def repeatable_model_options(function: F) -> F:
    """``model_options`` with ``--model`` repeatable (a tuple): eval runs every model."""
    return _model_options(function, repeat_model=True)


def connection_options() -> list[Callable[[Any], Any]]:
    """The options that reach an OpenAI-compatible server (summarize, eval, batch)."""
    return [
        click.option(
            "--base-url",
            envvar="OPENAI_BASE_URL",
            help="OpenAI-compatible server URL [env: OPENAI_BASE_URL] (default: OpenAI).",
        ),
        click.option(
            "--api-key",
            envvar="OPENAI_API_KEY",
            show_envvar=False,
            help="API key [env: OPENAI_API_KEY]; never logged or stored.",
        ),
        click.option(
            "--timeout",
            type=float,
            default=60.0,
            show_default=True,
            help="Seconds per HTTP request.",
        ),
        click.option(
            "--transport-attempts",
            type=click.IntRange(min=1),
            default=4,
            show_default=True,
            help="Tries for 429/5xx/timeouts.",
        ),
    ]


def _model_options(function: F, *, repeat_model: bool) -> F:
    options = [
        click.option(
            "--backend",
            type=click.Choice(BACKENDS),
            default="auto",
            show_default=True,
            help="auto = openai when OPENAI_API_KEY or a base URL is set, else rules.",
        ),
        click.option(
            "--model",
            multiple=repeat_model,
            envvar="CASE_SUMMARIZER_MODEL",
            help=(
                "Model name; repeatable (every prompt runs on every model)"
                if repeat_model
                else "Model name"
            )
            + " [env: CASE_SUMMARIZER_MODEL].",
        ),
        *connection_options(),
        click.option(
            "--mode",
            type=click.Choice(["tools", "json_schema", "json", "md_json"]),
            help="How the schema is sent (default: tools for openai, json for llamacpp).",
        ),
        click.option(
            "--model-path",
            type=click.Path(dir_okay=False),
            help="GGUF file for --backend llamacpp.",
        ),
        click.option(
            "--threads",
            type=click.IntRange(min=1),
            help="CPU threads for --backend llamacpp [default: the CPUs this process may "
            "use; on a busy machine 1 can be faster].",
        ),
        click.option(
            "--validation-attempts",
            type=click.IntRange(min=1),
            help="Tries when the answer does not validate [default: 3; 1 for llamacpp].",
        ),
        click.option(
            "--strict-grounding",
            is_flag=True,
            help="Fail a record whose evidence quotes are not in the abstract.",
        ),
        click.option(
            "--keep-ungrounded",
            is_flag=True,
            help="Keep list items whose evidence is not in the abstract (marked unaligned) "
            "instead of dropping them into provenance.dropped.",
        ),
        click.option(
            "--max-tokens",
            type=click.IntRange(min=1),
            help="Completion token limit per request [default: 2048; 1280 for llamacpp].",
        ),
        click.option(
            "--grammar-max-items",
            type=click.IntRange(min=1),
            help="Most items per list in the decoding grammar (llamacpp, and local servers "
            "in json/tools mode) [default: 3; 2 for llamacpp].",
        ),
        click.option(
            "--grammar-max-string",
            type=click.IntRange(min=1),
            help="Most characters per free-text string in the decoding grammar "
            "[default: 160; 120 for llamacpp].",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def settings_from_options(options: dict[str, Any], **extra: Any):  # type: ignore[no-untyped-def]
    """Settings from the model_options values (plus extra fields such as prompt)."""
    from ..config import Settings

    return Settings.from_env(
        env={},  # click already read the environment variables
        backend=options.pop("backend"),
        model=options.pop("model"),
        base_url=options.pop("base_url"),
        api_key=options.pop("api_key"),
        mode=options.pop("mode"),
        model_path=options.pop("model_path"),
        n_threads=options.pop("threads"),
        timeout=options.pop("timeout"),
        transport_attempts=options.pop("transport_attempts"),
        validation_attempts=options.pop("validation_attempts"),
        strict_grounding=options.pop("strict_grounding"),
        keep_ungrounded=options.pop("keep_ungrounded"),
        max_tokens=options.pop("max_tokens"),
        grammar_max_items=options.pop("grammar_max_items"),
        grammar_max_string=options.pop("grammar_max_string"),
        **extra,
    )


def no_model_configured(settings: Any) -> bool:
    """``auto`` found no model to use, so the backend that takes no prompt runs."""
    from ..backends import capabilities_of

    return bool(settings.backend == "auto" and not capabilities_of(settings).takes_prompt)


def announce_backend(settings: Any) -> None:
    """Say on stderr, once, when no model is configured and the rules backend is used."""
    if no_model_configured(settings):
        note(
            "note: no model configured, using the built-in rules backend "
            "(set OPENAI_API_KEY or --base-url URL --model NAME for a model, "
            "or --backend llamacpp for a local GGUF)"
        )


def concurrency_option(
    *, default: int, help: str = "Records in flight at once."
) -> Callable[[F], F]:
    """``-j/--concurrency``: records in flight at once (summarize, eval, batch collect)."""
    return click.option(
        "-j",
        "--concurrency",
        type=click.IntRange(min=1),
        default=default,
        show_default=True,
        help=help,
    )


FORCE = click.option(
    "--force",
    is_flag=True,
    help="Replace an -o file that exists and is not a case-summarizer output "
    "(an input is never replaced).",
)


def progress_option(function: F) -> F:
    """``--progress/--no-progress``: the local model's progress lines on stderr."""
    return click.option(
        "--progress/--no-progress",
        "progress_lines",
        default=None,
        help="Say on stderr what a local model is doing (loading, prefill and generation "
        "per stage, each record with an ETA) [default: on a terminal with --backend "
        "llamacpp, unless -q].",
    )(function)


def progress_listener(*, asked: bool | None, quiet: bool, reports: bool) -> Any:
    """The ``ProgressPrinter`` to use, or None: when asked (``--progress``), or by
    default on a terminal for a backend that ``reports`` progress (a local model),
    unless quiet."""
    from ..progress import ProgressPrinter

    if asked is None:
        asked = reports and not quiet and sys.stderr.isatty()
    return ProgressPrinter() if asked else None


def input_options(function: F) -> F:
    """How inputs are read: a forced format, export column names, the record size limit
    (summarize, clean)."""
    from ..ingest import FORMATS
    from ..options import MAX_RECORD_BYTES

    options = [
        click.option(
            "--input-format",
            "input_format",
            type=click.Choice(FORMATS),
            default=None,
            help="Read every input as this format (default: from the extension and content).",
        ),
        click.option("--id-col", default=None, help="CSV/TSV/JSONL column with the record id."),
        click.option("--title-col", default=None, help="CSV/TSV/JSONL column with the title."),
        click.option(
            "--abstract-col", default=None, help="CSV/TSV/JSONL column with the abstract."
        ),
        click.option(
            "--max-record-bytes",
            type=click.IntRange(min=1),
            default=MAX_RECORD_BYTES,
            show_default=True,
            help="A record with more text than this is reported and skipped.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def format_option(*, default: str, choices: tuple[str, ...] | None = None) -> Callable[[F], F]:
    """``-f/--format``: when left out, the format the ``-o`` file's suffix names (``.csv``,
    ``.md``, ``.html``, ``.json``, ``.jsonl``), else ``default`` (``chosen_format``)."""
    from ..options import OUTPUT_FORMATS

    return click.option(
        "-f",
        "--format",
        "output_format",
        type=click.Choice(choices or OUTPUT_FORMATS),
        default=None,
        help=f"Output format [default: from the -o suffix, else {default}].",
    )


def chosen_format(
    output: str | Path | None,
    given: str | None,
    *,
    default: str,
    choices: tuple[str, ...] | None = None,
) -> str:
    """The format a command writes: ``-f``, else the one ``-o``'s suffix names, else
    ``default``; an ``-f`` that the suffix contradicts is a usage error (one line)."""
    from ..errors import ConfigError
    from ..options import output_format

    chosen = output_format(output, given, default=default)
    if choices is not None and chosen not in choices:
        raise ConfigError(
            f"the output {Path(str(output)).name} is named as a {chosen} file, which this "
            f"command does not write: give -f {' or -f '.join(choices)} and a matching -o"
        )
    return chosen


def run_options_from(given: dict[str, Any], **options: Any) -> Any:
    """The ``RunOptions`` of a command: the input_options values (taken out of ``given``)
    and the command's own writing and pacing ``options``; checked where RunOptions is."""
    from ..options import ColumnMapping, RunOptions

    columns = ColumnMapping(
        id=given.pop("id_col"), title=given.pop("title_col"), abstract=given.pop("abstract_col")
    )
    return RunOptions(
        input_format=given.pop("input_format"),
        columns=columns,
        max_record_bytes=given.pop("max_record_bytes"),
        **options,
    )


PRICES = click.option(
    "--prices",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A price table (TOML or JSON, $ per 1M tokens) on top of the built-in one.",
)


def load_prices(path: Path | None) -> Any:
    """The price table: the built-in one, with ``path``'s entries on top."""
    from ..evaluation.prices import PriceTable

    return PriceTable.load(path)
