"""Clean: find the title and the abstract in a page or an export record, drop everything else.

``clean(document)`` returns an ``Abstract`` whose text is the title line, a blank line,
then each section as ``HEADING: body`` separated by blank lines (an unstructured abstract
is one section without a heading). Every character of that text maps back to its index
in ``document.text`` through ``Abstract.offsets``: characters copied from the page map
exactly (even after mojibake repair and typographic normalisation, which map a new
character to the first character it replaced); characters the cleaner inserts (the blank
lines, ``": "`` after a heading, the space that joins two lines) map to the character
before them.

Deterministic and without network access; about a millisecond for a full-article page
(see ``bench/clean.py`` and ``docs/cleaning.md``).
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from typing import TYPE_CHECKING

from ..document import NOT_UTF8_NOTE, NOT_UTF8_WARNING, Abstract, Document, OffsetMap, Section
from ..errors import InputError
from .html import HtmlPage, html_to_text
from .page import Found, NoAbstract, locate_export, locate_page
from .prose import chrome_in, sentence_end, skip_space
from .text import Builder, normalise, span_offsets

if TYPE_CHECKING:
    from .pdf import PdfText

__all__ = ["EXPORT_FORMATS", "clean"]

EXPORT_FORMATS = frozenset({"pubmed-xml", "medline", "ris", "csv", "tsv", "jsonl"})
"""Formats whose records are already an abstract (no page chrome, title in its own field)."""


def clean(document: Document) -> Abstract:
    """The abstract of ``document``, cleaned, with its sections and an offset map.

    Raises ``InputError`` (naming ``document.origin`` and the record id) when the text has
    no abstract, or too little text to summarise.
    """
    record = None if document.format in ("text", "html", "pdf") else document.id
    text = document.text
    export = document.format in EXPORT_FORMATS and not _looks_like_page(text)
    page: HtmlPage | PdfText | None = None
    printed: PdfText | None = None
    if document.format == "pdf":
        from .pdf import reading_text  # here: only PDFs need it

        page = printed = reading_text(document)
        text = printed.text
    elif document.format == "html" or (not export and _looks_like_html(text)):
        page = html_to_text(text)
        text = page.text
    try:
        if export:
            found = locate_export(text)
        elif printed is not None:
            # a PDF is always a page (its front matter is the page's chrome), never a plain text
            found = locate_page(text, known_title=printed.title, always_page=True)
        elif isinstance(page, HtmlPage):
            found = locate_page(text, known_title=page.title, region=page.abstract)
        else:
            found = locate_page(text)
    except NoAbstract as error:
        raise InputError(str(error), path=document.origin, record=record) from None
    return _assemble(document, text, page, found)


_HTML_STARTS = ("<!doctype html", "<html", "<head", "<body")
_HTML_REACH = 2048
"""How far into a text its first tag is looked for (past leading whitespace)."""


def _looks_like_html(text: str) -> bool:
    first = skip_space(text, 0, _HTML_REACH)
    head = text[first : min(first + len(_HTML_STARTS[0]), _HTML_REACH)]  # lower only these
    return head.lower().startswith(_HTML_STARTS)


_PAGE_REACH = 600
"""How far into an export record site chrome is looked for before its first sentence."""


def _looks_like_page(text: str) -> bool:
    """Whether an export record's abstract field holds a whole page (pasted from a browser or a
    reading app): HTML, or site chrome before its first sentence ends ("Add like Add dislike…").
    Such a record is cleaned as the page would be; an abstract is kept whole."""
    if _looks_like_html(text):
        return True
    first = skip_space(text, 0)
    reach = min(len(text), first + _PAGE_REACH)
    stop = sentence_end(text, first, reach)
    return chrome_in(text, first, stop[1] if stop else reach)


def _assemble(
    document: Document, text: str, page: HtmlPage | PdfText | None, found: Found
) -> Abstract:
    builder = Builder()
    title: str | None = None
    if found.title is not None:
        start, end = found.title
        title_text, title_offsets = normalise(text[start:end], span_offsets(start, end))
        if title_text:
            builder.add(title_text, title_offsets)
            title = title_text
    elif document.title:
        title_text, _ = normalise(document.title, array("i", [0] * len(document.title)))
        if title_text:
            builder.add(title_text, array("i", [0] * len(title_text)))
            title = title_text
    if title:
        builder.insert("\n\n")
    body_start = builder.length
    sections: list[Section] = []
    for part in found.parts:
        pieces = []
        for start, end, paragraph in part.body:
            piece, piece_offsets = normalise(text[start:end], span_offsets(start, end))
            if piece:
                pieces.append((piece, piece_offsets, paragraph))
        if not pieces:
            continue
        if sections:
            builder.insert("\n\n")
        heading: str | None = None
        if part.heading is not None:
            start, end = part.heading
            heading, heading_offsets = normalise(text[start:end], span_offsets(start, end))
            heading = heading.rstrip(" :.")
            builder.add(heading, heading_offsets[: len(heading)])
            builder.insert(": ")
        section_start = builder.length
        for number, (piece, piece_offsets, paragraph) in enumerate(pieces):
            if number:
                builder.insert("\n" if paragraph else " ")
            builder.add(piece, piece_offsets)
        sections.append(
            Section(part.kind, heading or None, section_start, builder.length, part.from_body)
        )
    if not sections:
        raise InputError("no abstract text found", path=document.origin, record=document.id)
    cleaned, offsets = builder.result()
    if page is not None and offsets:
        low, high = min(offsets), max(offsets) + 1
        window = page.offsets_between(low, high)
        offsets = array("i", [window[index - low] for index in offsets])
    return Abstract(
        id=document.id,
        title=title,
        text=cleaned,
        sections=tuple(sections),
        offsets=OffsetMap(offsets),
        document=document,
        body_start=body_start,
        warnings=tuple(found.warnings) + _decoding_warnings(document),
        confidence=found.confidence,
        pages=_page_runs(document, offsets),
    )


def _decoding_warnings(document: Document) -> tuple[str, ...]:
    return (NOT_UTF8_WARNING,) if NOT_UTF8_NOTE in document.metadata else ()


def _page_runs(document: Document, offsets: array[int]) -> tuple[int, ...]:
    """Flat ``(start, page)`` pairs: where in the cleaned text each page's characters begin
    (a PDF's; nothing for a source without pages)."""
    layout = document.layout
    if layout is None or not layout.pages:
        return ()
    starts = [page.start for page in layout.pages]
    runs: list[int] = []
    for index, original in enumerate(offsets):
        number = layout.pages[max(bisect_right(starts, original) - 1, 0)].number
        if not runs or runs[-1] != number:
            runs += (index, number)
    return tuple(runs)
