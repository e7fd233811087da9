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

from ..document import Abstract, Document, OffsetMap, Section
from ..errors import InputError
from .html import HtmlPage, html_to_text
from .page import Found, find_abstract, find_title, split_lines
from .text import Builder, normalise, span_offsets

__all__ = ["EXPORT_FORMATS", "clean"]

EXPORT_FORMATS = frozenset({"pubmed-xml", "medline", "ris", "csv", "tsv", "jsonl"})
"""Formats whose records are already an abstract (no page chrome, title in its own field)."""


def clean(document: Document) -> Abstract:
    """The abstract of ``document``, cleaned, with its sections and an offset map.

    Raises ``InputError`` (naming ``document.origin`` and the record id) when the page
    has no abstract.
    """
    record = None if document.format in ("text", "html") else document.id
    text = document.text
    page: HtmlPage | None = None
    html_title: tuple[int, int] | None = None
    region: tuple[int, int] | None = None
    headings: frozenset[int] = frozenset()
    if document.format == "html" or (document.format == "text" and _looks_like_html(text)):
        page = html_to_text(text)
        text, html_title, region = page.text, page.title, page.abstract
        headings = page.headings
    export = document.format in EXPORT_FORMATS
    lines = split_lines(text, collapsed=not export)
    if not lines:
        raise InputError("the page is empty", path=document.origin, record=record)
    found = None
    if region is not None:
        inside = [line for line in lines if region[0] <= line.start < region[1]]
        found = find_abstract(text, inside, known_title=True, headings=headings)
    if found is None:
        found = find_abstract(text, lines, known_title=export, headings=headings)
    if found is None:
        raise InputError(
            "no abstract found (no 'Abstract' heading, no labelled sections, no case text)",
            path=document.origin,
            record=record,
        )
    if html_title is not None:
        found.title = html_title
        found.warnings[:] = [w for w in found.warnings if w != "no title found"]
    elif found.title is None and not export:
        if region is not None:  # the abstract came from its HTML element: look above it
            first = next((i for i, line in enumerate(lines) if line.start >= region[0]), 0)
            index = find_title(lines, first)
            if index is not None:
                found.title = (lines[index].start, lines[index].end)
        if found.title is None and "no title found" not in found.warnings:
            found.warnings.append("no title found")
    return _assemble(document, text, page, found)


def _looks_like_html(text: str) -> bool:
    head = text[:2048].lstrip().lower()
    return head.startswith(("<!doctype html", "<html", "<head", "<body"))


def _assemble(document: Document, text: str, page: HtmlPage | None, found: Found) -> Abstract:
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
        sections.append(Section(part.kind, heading or None, section_start, builder.length))
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
        warnings=tuple(found.warnings),
    )
