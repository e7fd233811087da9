"""``case-summarizer clean``: show what the model will see for a page or an export."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ..clean import clean
from ..document import Abstract, PageBox
from ..errors import InputError
from ..ingest import iter_documents
from .common import (
    EXIT_FAILED_RECORDS,
    EXIT_USAGE,
    handle_errors,
    input_options,
    note,
    run_options_from,
)


def abstract_json(abstract: Abstract, *, offsets: bool = True) -> dict[str, Any]:
    """The JSON form of a cleaned abstract (what ``clean --json`` prints, one object per line).

    ``text`` is the abstract itself; a passage the cleaner added from the article body (when
    the abstract gives no patient's age) is ``body_passage``, apart, with its own offsets.
    """
    end = abstract.abstract_end
    value: dict[str, Any] = {
        "id": abstract.id,
        "origin": abstract.document.origin,
        "format": abstract.document.format,
        "title": abstract.title,
        "text": abstract.text[:end],
        "body_start": abstract.body_start,
        "sections": [
            {"kind": s.kind, "heading": s.heading, "start": s.start, "end": s.end}
            for s in abstract.sections
            if not s.from_body
        ],
        "body_passage": None,
        "confidence": abstract.confidence,
        "warnings": list(abstract.warnings),
    }
    if abstract.pages:  # a PDF: the page each part was printed on (its first line's)
        if abstract.title:
            value["title_page"] = abstract.page_at(0)
        for section, found in zip(
            value["sections"], (s for s in abstract.sections if not s.from_body), strict=True
        ):
            section["page"] = abstract.page_at(found.start)
            section["end_page"] = abstract.page_at(max(found.start, found.end - 1))
        value["pages_read"] = [page.number for page in _pages(abstract)]
    passage = [s for s in abstract.sections if s.from_body]
    if passage:
        start = passage[0].start
        value["body_passage"] = {"text": abstract.text[start:], "start": start}
        if abstract.pages:
            value["body_passage"]["page"] = abstract.page_at(start)
        if offsets:
            value["body_passage"]["offsets"] = abstract.offsets.as_list()[start:]
    if offsets:
        value["offsets"] = abstract.offsets.as_list()[:end]
    return value


def _pages(abstract: Abstract) -> tuple[PageBox, ...]:
    layout = abstract.document.layout
    return layout.pages if layout is not None else ()


@click.command(
    "clean",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--json", "as_json", is_flag=True, help="JSON lines: id, title, text, sections, offsets."
)
@click.option(
    "--no-offsets", is_flag=True, help="With --json, leave out the offset map (smaller output)."
)
@input_options
@handle_errors
def command(
    paths: tuple[str, ...],
    as_json: bool,
    no_offsets: bool,
    **options: Any,
) -> None:
    """Print the cleaned abstract of each PATH: a page (text or HTML), a folder, a glob,
    an export (PubMed XML, MEDLINE/.nbib, RIS, CSV/TSV, JSONL), or - for stdin.

    Exit status: 0 when everything was cleaned, 2 when a single input could not be
    read, 1 when some records of a batch failed (the others are still printed).

    \b
    Examples:
      case-summarizer clean page.txt
      pbpaste | case-summarizer clean -
      case-summarizer clean saved-page.html --json | jq .sections
      case-summarizer clean pubmed-export.xml --json --no-offsets > abstracts.jsonl
      case-summarizer clean covidence.csv --id-col "Covidence #" --abstract-col Abstract
      case-summarizer clean 'pages/**/*.txt'
    """
    run_options = run_options_from(options)
    total = failed = 0
    last_error: InputError | None = None
    first = True
    items = iter_documents(paths, run_options)
    for item in items:
        total += 1
        try:
            if isinstance(item, InputError):
                raise item
            abstract = clean(item)
        except InputError as error:
            failed += 1
            last_error = error
            note(f"error: {error}")
            continue
        if as_json:
            click.echo(
                json.dumps(abstract_json(abstract, offsets=not no_offsets), ensure_ascii=False)
            )
        else:
            if not first:
                click.echo("\n" + "-" * 40 + "\n")
            click.echo(abstract.text[: abstract.abstract_end])
            passage = abstract.text[abstract.abstract_end :].strip()
            if passage:
                click.echo("\n[added from the article body: the abstract gives no patient's age]")
                click.echo(passage)
            for warning in abstract.warnings:
                note(f"warning: {abstract.id}: {warning}")
        first = False
    if failed:
        if total == 1 and last_error is not None:
            sys.exit(EXIT_USAGE)
        note(f"{failed} of {total} record(s) failed")
        sys.exit(EXIT_FAILED_RECORDS)
