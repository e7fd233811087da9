"""PDF files: the text layer of the pages an abstract needs, with where each line was printed.

The text is read with pypdfium2 (PDFium, the PDF engine of Chromium: fast, fuzzed against
damaged files, Apache-2.0/BSD-3; chosen by measurement, see docs/cleaning.md), imported
here and only when a PDF is read, so reading text pages never pays for it.

``Document.text`` is the extracted text as the file orders it (one line per printed line,
``\\f`` between pages); ``Document.layout`` says where each run of it was printed (page,
box, size, rotation), which the cleaner uses to put columns in reading order and to drop
running heads, page numbers and margin watermarks. Only the first pages are read: up to
the page after the one that opens the abstract (at least ``MIN_PAGES``, at most
``MAX_PAGES``), so a 500-page PDF costs what a short one does.
"""

from __future__ import annotations

import math
import os
import re
import sys
from pathlib import Path
from typing import Any

from ..document import Document, Layout, PageBox, TextLine
from ..errors import InputError

__all__ = ["MAX_PAGES", "MEMORY_LIMIT", "MIN_PAGES", "read_pdf", "read_pdf_here"]

MIN_PAGES = 3
"""Pages read at least (when the file has them): running heads show as lines repeated."""
MAX_PAGES = 12
"""Pages read at most, when no page opens an abstract (a cover sheet and a long author
list come first in a manuscript PDF; the abstract was on page 5 of the longest seen)."""
MEMORY_LIMIT = 200 * 1024 * 1024
"""How much the process reading a PDF may grow (bytes)."""
TIME_LIMIT_S = 30
"""How many CPU seconds reading a PDF's first pages may take."""
MIN_TEXT_CHARACTERS = 40
"""Fewer printed characters than this in the pages read: no text layer (a scan)."""
MAX_PAGE_CHARACTERS = 200_000
"""A page with more characters than this is not an article page (a data dump, a bomb)."""

OCR_HINT = (
    "this PDF has no text layer (a scanned document?): run OCR on it first, for example "
    "`ocrmypdf --sidecar text.txt in.pdf out.pdf`, then summarize out.pdf (or text.txt)"
)

_ABSTRACT_CUE = re.compile(
    r"^[ \t]*(?:\d{1,2}\.?[ \t]+)?(?:abstract|summary|background|introduction)\b",
    re.IGNORECASE | re.MULTILINE,
)
"""A line that opens the abstract or the article after it: the page after it is the last
one read (an abstract may run on to the next page)."""
_BREAKS = frozenset("\r\n")
_HYPHEN_MARKS = {0xFFFE: "-", 0x0002: "-"}
"""PDFium's marks for a hyphen that ends a line: the printed hyphen."""
_ROTATED = math.radians(10)
"""Characters turned further than this are not upright (a watermark, a side label)."""


def read_pdf(
    source: Path | bytes,
    *,
    id: str,
    origin: str,
    memory_limit: int = MEMORY_LIMIT,
    time_limit: int = TIME_LIMIT_S,
) -> Document:
    """The document of a PDF: its text layer and layout (``InputError`` when there is none).

    ``source`` is a path (PDFium reads only what it needs of it) or the file's bytes (stdin).
    Where the system can fork (Linux), the PDF is read in a child process that may grow by at
    most ``memory_limit`` bytes and run ``time_limit`` CPU seconds: PDFium decodes a page's
    streams whole, so a small file can hold gigabytes (a decompression bomb), and that costs
    the child, never the run.
    """
    if sys.platform != "linux" or not hasattr(os, "fork"):
        return read_pdf_here(source, id=id, origin=origin)
    return _read_in_child(source, id, origin, memory_limit, time_limit)


def _read_in_child(
    source: Path | bytes, id: str, origin: str, memory_limit: int, time_limit: int
) -> Document:
    import pickle

    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: read, send the document or the error's message, exit at once
        status = 0
        try:
            os.close(reading)
            _quiet()
            _limit(memory_limit, time_limit)
            try:
                answer: tuple[str, Any] = ("document", read_pdf_here(source, id=id, origin=origin))
            except InputError as error:
                answer = ("error", _bare_message(error, origin))
            with os.fdopen(writing, "wb") as pipe:
                pickle.dump(answer, pipe, protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException:  # MemoryError and the like: the parent says what it means
            status = 1
        finally:
            os._exit(status)
    os.close(writing)
    with os.fdopen(reading, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    if not data:
        raise InputError(
            f"this PDF needs more than {memory_limit // (1024 * 1024)} MB of memory or "
            f"{time_limit} s to read its first pages (a decompression bomb, or not an "
            "article): not read",
            path=origin,
        )
    kind, value = pickle.loads(data)
    if kind == "error":
        raise InputError(str(value), path=origin)
    document: Document = value
    return document


def _quiet() -> None:
    """No output from the child: PDFium aborting on an allocation over the limit is the
    expected end of a bomb, said in one line by the parent, not a crash report."""
    import faulthandler

    faulthandler.disable()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


def _limit(memory_limit: int, time_limit: int) -> None:
    """Cap this (child) process: its address space may grow by ``memory_limit`` bytes."""
    import resource

    with open("/proc/self/statm") as statm:
        size = int(statm.read().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (size + memory_limit, size + memory_limit))
    resource.setrlimit(resource.RLIMIT_CPU, (time_limit, time_limit + 1))


def _bare_message(error: InputError, origin: str) -> str:
    """The message of an error raised with ``path=origin``, without the path."""
    text = str(error)
    prefix = f"{origin}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


def read_pdf_here(source: Path | bytes, *, id: str, origin: str) -> Document:
    """``read_pdf`` in this process, without limits."""
    import pypdfium2

    try:
        pdf = pypdfium2.PdfDocument(source if isinstance(source, bytes) else str(source))
    except pypdfium2.PdfiumError as error:
        raise InputError(_load_error(error), path=origin) from None
    try:
        return _read(pdf, id=id, origin=origin)
    finally:
        pdf.close()


def _load_error(error: Any) -> str:
    import pypdfium2.raw as pdfium_c

    code = getattr(error, "err_code", None)
    if code == pdfium_c.FPDF_ERR_PASSWORD:
        return (
            "this PDF is encrypted (it needs a password): save an unprotected copy (for "
            "example `qpdf --decrypt --password=PASSWORD in.pdf out.pdf`) and summarize that"
        )
    if code == pdfium_c.FPDF_ERR_SECURITY:
        return "this PDF uses an unsupported security handler: save an unprotected copy"
    return "this PDF cannot be read: it is damaged, truncated or not a PDF"


def _read(pdf: Any, *, id: str, origin: str) -> Document:
    import pypdfium2

    count = len(pdf)
    if count == 0:
        raise InputError("this PDF has no pages", path=origin)
    parts: list[str] = []
    pages: list[PageBox] = []
    lines: list[TextLine] = []
    length = 0
    cue_page: int | None = None
    for number in range(1, min(count, MAX_PAGES) + 1):
        if parts:
            parts.append("\f")
            length += 1
        try:
            page = pdf[number - 1]
        except pypdfium2.PdfiumError:
            raise InputError(
                f"page {number} of this PDF cannot be read: the file is damaged", path=origin
            ) from None
        try:
            width, height = page.get_size()
            text, page_lines = _page_text(page, number, height, length, origin)
        finally:
            page.close()
        parts.append(text)
        pages.append(PageBox(number, width, height, length, length + len(text)))
        lines += page_lines
        length += len(text)
        if cue_page is None and _ABSTRACT_CUE.search(text):
            cue_page = number
        if number >= MIN_PAGES and cue_page is not None and number > cue_page:
            break
    printed = sum(line.end - line.start for line in lines)
    if printed < MIN_TEXT_CHARACTERS:
        raise InputError(OCR_HINT, path=origin)
    return Document(
        id=id,
        text="".join(parts),
        origin=origin,
        format="pdf",
        layout=Layout(pages=tuple(pages), lines=tuple(lines), page_count=count),
    )


def _page_text(
    page: Any, number: int, height: float, offset: int, origin: str
) -> tuple[str, list[TextLine]]:
    """A page's text (printed lines joined by newlines) and its runs, indexes from ``offset``."""
    import ctypes

    import pypdfium2.raw as pdfium_c

    textpage = page.get_textpage()
    try:
        raw = textpage.raw
        count = pdfium_c.FPDFText_CountChars(raw)
        if count > MAX_PAGE_CHARACTERS:
            raise InputError(
                f"page {number} holds {count:,} characters: not an article page", path=origin
            )
        box = pdfium_c.FS_RECTF()
        box_pointer = ctypes.byref(box)
        # the loose box: the glyph's advance across, the font's height up (a line's extent)
        matrix = pdfium_c.FS_MATRIX()
        matrix_pointer = ctypes.byref(matrix)
        builder = _Runs(number, height, offset)
        for index in range(count):
            code = pdfium_c.FPDFText_GetUnicode(raw, index)
            character = _HYPHEN_MARKS.get(code) or _character(code)
            if character in _BREAKS:
                builder.end_line()
                continue
            if character.isspace():
                builder.space()
                continue
            if not character.isprintable():
                continue  # a glyph with no character (an icon, a logo): not text
            pdfium_c.FPDFText_GetLooseCharBox(raw, index, box_pointer)
            # the printed size: the font's size times the scale its matrix applies; the
            # matrix's turn is the glyph's
            pdfium_c.FPDFText_GetMatrix(raw, index, matrix_pointer)
            a, b = matrix.a, matrix.b
            size = pdfium_c.FPDFText_GetFontSize(raw, index) * math.sqrt(
                abs(a * matrix.d - b * matrix.c)
            )
            angle = math.atan2(b, a)
            builder.glyph(character, box.left, box.top, box.right, box.bottom, size, angle)
        return builder.finish()
    finally:
        textpage.close()


def _character(code: int) -> str:
    if code <= 0 or 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
        return "\ufffd"  # a surrogate half or no code: not a character
    return chr(code)


class _Runs:
    """Glyphs of one page, in the file's order, into lines of text and runs with their boxes.

    A run ends at a line break, and where the next glyph is not on its baseline, is printed
    in another size (a footnote mark), lies a wide gap to the right (a column gutter) or to
    the left (the next line), or is turned differently."""

    __slots__ = ("_done", "_height", "_line", "_page", "_parts", "_run", "_runs")

    def __init__(self, page: int, height: float, offset: int) -> None:
        self._page = page
        self._height = height
        self._done = offset  # where the current line starts in Document.text
        self._parts: list[str] = []  # the page's text so far, line by line
        self._line: list[str] = []  # characters of the current line
        self._run: list[Any] | None = None  # [start, x0, top, x1, bottom, size, upright, end]
        self._runs: list[TextLine] = []

    def _position(self) -> int:
        return self._done + len(self._line)

    def space(self) -> None:
        if self._line and self._line[-1] != " ":
            self._line.append(" ")

    def glyph(
        self,
        character: str,
        left: float,
        top: float,
        right: float,
        bottom: float,
        size: float,
        angle: float,
    ) -> None:
        upright = abs(math.sin(angle)) < math.sin(_ROTATED) and math.cos(angle) > 0
        # PDF y grows upwards; runs measure from the page's top
        top, bottom = self._height - top, self._height - bottom
        run = self._run
        if run is not None and not self._continues(run, left, top, right, bottom, size, upright):
            if self._next_line(run, left, top, bottom, upright):
                self.end_line()  # the file went on to the next line without saying so
            else:
                self._close_run()
                if self._line and self._line[-1] != " " and left - run[3] > 0.25 * run[5]:
                    self._line.append(" ")  # two runs apart on one line: keep words apart
            run = None
        position = self._position()
        if run is None:
            self._run = [position, left, top, right, bottom, size, upright, position + 1]
        else:
            run[1], run[2] = min(run[1], left), min(run[2], top)
            run[3], run[4] = max(run[3], right), max(run[4], bottom)
            run[7] = position + 1
        self._line.append(character)

    @staticmethod
    def _continues(
        run: list[Any], left: float, top: float, right: float, bottom: float, size: float,
        upright: bool,
    ) -> bool:  # fmt: skip
        if upright != run[6] or size <= 0 or run[5] <= 0:
            return upright == run[6] and size <= 0  # an empty box joins the run it is in
        if not 0.8 <= size / run[5] <= 1.25:
            return False
        if not upright:
            return bool(abs(left - run[1]) < run[5] and top >= run[4] - run[5] * 2)
        middle, run_middle = (top + bottom) / 2, (run[2] + run[4]) / 2
        if abs(middle - run_middle) > 0.4 * run[5]:
            return False
        # a glyph may overlap the one before (the parts of a ligature share its box); one
        # left of where the run began starts another line
        return bool(run[1] - 0.5 * run[5] <= left <= run[3] + max(1.6 * run[5], 10.0))

    @staticmethod
    def _next_line(run: list[Any], left: float, top: float, bottom: float, upright: bool) -> bool:
        """Whether a glyph that does not continue ``run`` begins another printed line: back to
        the left of the run, on another baseline, at a size that is not a mark's."""
        if not upright or not run[6]:
            return bool(upright != run[6])
        middle, run_middle = (top + bottom) / 2, (run[2] + run[4]) / 2
        return bool(left < run[1] or abs(middle - run_middle) > run[5])

    def _close_run(self) -> None:
        run = self._run
        if run is None:
            return
        self._run = None
        self._runs.append(
            TextLine(
                start=run[0], end=run[7], page=self._page, x0=run[1], top=run[2], x1=run[3],
                bottom=run[4], size=run[5], upright=run[6],
            )
        )  # fmt: skip

    def end_line(self) -> None:
        self._close_run()
        while self._line and self._line[-1] == " ":
            self._line.pop()
        if self._line:
            self._parts.append("".join(self._line))
            self._done += len(self._line) + 1  # and the newline after it
            self._line = []

    def finish(self) -> tuple[str, list[TextLine]]:
        self.end_line()
        return "\n".join(self._parts), self._runs
