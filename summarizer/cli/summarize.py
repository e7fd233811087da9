"""``case-summarizer summarize``: abstracts in, grounded case records out."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import click

from ..document import Document
from ..errors import InputError
from ..output import FORMATS, Writer
from ..pipeline import Failure, Summarizer
from .common import (
    EXIT_FAILED_RECORDS,
    announce_backend,
    handle_errors,
    model_options,
    note,
    settings_from_options,
)


@click.command("summarize")
@click.argument("inputs", nargs=-1, required=True)
@click.option(
    "--prompt", default="v1", show_default=True, help="Prompt version (a folder in prompts/)."
)
@click.option(
    "-f", "--format", "output_format", type=click.Choice(FORMATS), default="json", show_default=True
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write here instead of stdout.",
)
@model_options
@handle_errors
def command(
    inputs: tuple[str, ...], prompt: str, output_format: str, output: str | None, **options: Any
) -> None:
    """Summarize abstracts into structured, grounded case records.

    INPUTS are files, folders, globs or exports (PubMed XML, MEDLINE, RIS, CSV,
    JSONL); "-" reads stdin. One record prints one JSON object; several print
    JSON Lines, each {"id", "record", "evidence", "provenance"} or {"id", "error"}.

    \b
    Examples:
      case-summarizer summarize page.txt
      case-summarizer summarize page.txt | jq .record.patient
      pbpaste | case-summarizer summarize -
      case-summarizer summarize abstracts/ -o records.jsonl
      case-summarizer summarize page.txt --base-url http://localhost:8080/v1 --model local
    """
    from ..ingest import iter_documents

    settings = settings_from_options(options, prompt=prompt)
    documents = iter_documents(inputs)
    first = next(documents, None)
    if first is None:
        raise InputError("no input records found", path=", ".join(inputs))
    second = next(documents, None)
    single = second is None
    if single and isinstance(first, InputError):
        raise first
    announce_backend(settings)

    stream = open(output, "w", encoding="utf-8") if output else sys.stdout  # noqa: SIM115
    writer = Writer(stream, output_format, single=single)
    failures = 0
    try:
        with Summarizer(settings) as summarizer:
            pending = [first] if single else [first, second]

            def all_documents() -> Iterator[Document | InputError]:
                yield from (item for item in pending if item is not None)
                yield from documents

            for item in summarizer.summarize_many(all_documents()):
                if isinstance(item, Failure):
                    failures += 1
                    if single:
                        raise item.error
                    note(f"error: {item.error}")
                writer.write(item)
    finally:
        writer.close()
        if output:
            stream.close()
    if failures:
        note(f"{failures} record(s) failed")
        sys.exit(EXIT_FAILED_RECORDS)
