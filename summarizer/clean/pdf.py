"""A PDF's printed lines in reading order, as a page the cleaner reads like any other.

The cues are the general shapes of article PDFs, not any one journal's:
- running heads and footers: a line in the top or bottom margin that comes back on another
  page read (digits aside: "p.1", "p.2"), and a margin line that is only a page number;
- rotated text (a download watermark up the margin, a vertical journal label) is not text;
- column order: a page whose lines leave a vertical gutter free is read column by column,
  band by band (a full-width title or abstract above two columns is read first), and the
  smaller print at the foot of a column (an author footnote) after the page's columns;
- the title is the block printed largest in the top 60% of the first page with one; a
  footnote mark printed smaller after it is not part of it; a short label above it in the
  same size ("Case Report") is not either;
- a block is a run of lines in one size with no wider gap than a line's; a paragraph also
  ends at a line that stops short with a sentence end. Lines of a block are joined by a
  space (by a line break after a line that stops short: a list), blocks by a blank line; a word hyphenated at a line end is joined again, keeping
  the hyphen where the document writes the word with one elsewhere (or it is a compound:
  "medical-history-" + "taking"), and dropping it otherwise ("inci-" + "dence").

``reading_text(document)`` gives the text, the title's span in it, and the index in
``document.text`` of every character, so that evidence found in the cleaned abstract maps
back to the extracted text and to its page.
"""

from __future__ import annotations

import re
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..document import Document, Layout, PageBox, TextLine

__all__ = ["PdfText", "reading_text"]

MARGIN = 0.09
"""Share of the page's height at its top and at its bottom where running heads are printed."""
_PAGE_NUMBER = re.compile(
    r"(?i)(?:page\s+)?(?:\d{1,4}|[ivxlc]{1,6})(?:\s*(?:of|/)\s*\d{1,4})?|[-–—]\s*\d{1,4}\s*[-–—]"
)
_DIGITS = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")
_WORD_BEFORE = re.compile(r"[\w-]*\w-$")
_WORD_AFTER = re.compile(r"\w[\w-]*")
_SENTENCE_STOP = (".", "?", "!", ":")
_HYPHENS = ("-", "\u00ad", "\u2010")


@dataclass(frozen=True, slots=True)
class PdfText:
    """A PDF's text in reading order, what it leaves out, and where each character came from."""

    text: str
    offsets: array[int]
    """``document.text`` index of each character of ``text``."""
    title: tuple[int, int] | None
    """The title's span in ``text``: the block printed largest at the top of the first page."""

    def offsets_between(self, start: int, end: int) -> array[int]:
        """``document.text`` index of every character of ``text[start:end]``."""
        return self.offsets[start:end]


@dataclass(slots=True)
class _Line:
    """Runs printed on one baseline, close together, left to right."""

    runs: list[TextLine]
    x0: float
    top: float
    x1: float
    bottom: float
    size: float

    @classmethod
    def of(cls, run: TextLine) -> _Line:
        return cls([run], run.x0, run.top, run.x1, run.bottom, run.size)

    def add(self, run: TextLine) -> None:
        self.runs.append(run)
        self.x0, self.x1 = min(self.x0, run.x0), max(self.x1, run.x1)
        self.top, self.bottom = min(self.top, run.top), max(self.bottom, run.bottom)
        self.size = max(self.size, run.size)


def reading_text(document: Document) -> PdfText:
    """The printed text of ``document`` (a PDF read by ``ingest``) in reading order."""
    layout = document.layout
    text = document.text
    if layout is None:
        return PdfText(text, array("i", range(len(text))), None)
    heads = _running_heads(text, layout)
    pages: list[tuple[PageBox, list[list[_Line]]]] = []
    for page in layout.pages:
        runs = [
            run
            for run in layout.lines
            if run.page == page.number and run.upright and not _running_head(heads, text, run, page)
        ]
        gutter = _gutter(runs, page)
        pages.append((page, _blocks(_ordered(_lines(runs, gutter), gutter), text)))
    return _Writer(text).write(pages)


# --- what is not the article's text ------------------------------------------------------------


def _key(text: str) -> str:
    """A margin line's text with its numbers blanked: "p.1" and "p.2" say the same."""
    return _SPACES.sub(" ", _DIGITS.sub("#", text)).strip().lower()


def _margin(run: TextLine, page: PageBox) -> bool:
    return run.bottom <= page.height * MARGIN or run.top >= page.height * (1 - MARGIN)


def _running_heads(text: str, layout: Layout) -> frozenset[str]:
    """Margin lines printed on two pages or more (read with their numbers blanked)."""
    pages_of: dict[str, set[int]] = {}
    boxes = {page.number: page for page in layout.pages}
    for run in layout.lines:
        if _margin(run, boxes[run.page]):
            pages_of.setdefault(_key(text[run.start : run.end]), set()).add(run.page)
    return frozenset(key for key, pages in pages_of.items() if len(pages) >= 2 and key != "#")


def _running_head(heads: frozenset[str], text: str, run: TextLine, page: PageBox) -> bool:
    """Whether ``run`` is a running head or footer, or a page number, of its page."""
    if not _margin(run, page):
        return False
    words = text[run.start : run.end].strip()
    return _key(words) in heads or _PAGE_NUMBER.fullmatch(words) is not None


# --- lines, columns and blocks -----------------------------------------------------------------


def _lines(runs: Iterable[TextLine], gutter: float | None) -> list[_Line]:
    """Runs joined into printed lines: on one baseline and on one side of the gutter (far
    apart too: a justified line of few words, a label and its value)."""
    lines: list[_Line] = []
    for run in sorted(runs, key=lambda run: (run.top, run.x0)):
        for line in reversed(lines[-12:]):  # the lines just above: a line holds few runs
            overlap = min(line.bottom, run.bottom) - max(line.top, run.top)
            height = min(line.bottom - line.top, run.bottom - run.top)
            if overlap > 0.5 * height and _beside(line, run) and not _across(line, run, gutter):
                line.add(run)
                break
        else:
            lines.append(_Line.of(run))
    for line in lines:
        line.runs.sort(key=lambda run: run.x0)
    return lines


def _beside(line: _Line, run: TextLine) -> bool:
    """Whether ``run`` overlaps none of the line's runs (a subscript between two does not)."""
    slack = 0.3 * min(line.size, run.size)
    return all(run.x0 >= other.x1 - slack or run.x1 <= other.x0 + slack for other in line.runs)


def _across(line: _Line, run: TextLine, gutter: float | None) -> bool:
    """Whether the gutter runs between ``line`` and ``run`` (two columns' lines)."""
    if gutter is None:
        return False
    return line.x1 < gutter < run.x0 or run.x1 < gutter < line.x0


def _gutter(lines: Sequence[TextLine | _Line], page: PageBox) -> float | None:
    """The x of a vertical gap that the page's lines leave free, with text on both sides
    (two columns, or a sidebar beside the main column), or None (one column)."""
    best: tuple[int, int, float] | None = None
    low, high = page.width * 0.15, page.width * 0.85
    step = 2.0
    x = low
    while x <= high:
        left = sum(1 for line in lines if line.x1 < x)
        right = sum(1 for line in lines if line.x0 > x)
        crossing = len(lines) - left - right
        if min(left, right) >= 3:
            score = (crossing, -min(left, right), x)
            if best is None or score < best:
                best = score
        x += step
    if best is None or best[0] > 0.5 * len(lines):
        return None
    return best[2]


def _ordered(lines: list[_Line], gutter: float | None) -> list[_Line]:
    """The lines in reading order: band by band down the page, each band of columns read
    left column first; small print at the foot of a column after the page's columns."""
    if gutter is None:
        return lines  # already top to bottom
    body = _body_size(lines)
    ordered: list[_Line] = []
    footnotes: list[_Line] = []
    left: list[_Line] = []
    right: list[_Line] = []

    def close_band() -> None:
        for column in (left, right):
            notes = _foot(column, body)
            ordered.extend(column[: len(column) - len(notes)])
            footnotes.extend(notes)
            column.clear()

    for line in lines:
        if line.x1 < gutter:
            left.append(line)
        elif line.x0 > gutter:
            right.append(line)
        else:
            close_band()
            ordered.append(line)
    close_band()
    return ordered + footnotes


def _body_size(lines: Sequence[_Line]) -> float:
    """The size most of the page's characters are printed in."""
    sizes: Counter[float] = Counter()
    for line in lines:
        for run in line.runs:
            sizes[round(run.size, 1)] += run.end - run.start
    return sizes.most_common(1)[0][0] if sizes else 0.0


def _foot(column: list[_Line], body: float) -> list[_Line]:
    """The lines at the foot of a column printed smaller than the body, below its last line in
    the body's size (an author or licence footnote), when the column has body text."""
    last_body = max(
        (index for index, line in enumerate(column) if line.size >= 0.95 * body), default=-1
    )
    if last_body < 0:
        return []
    tail = column[last_body + 1 :]
    if (
        tail
        and all(line.size < 0.92 * body for line in tail)
        and tail[0].top > column[last_body].bottom
    ):
        return tail
    return []


def _blocks(lines: list[_Line], text: str) -> list[list[_Line]]:
    """Consecutive lines in one size with no wider gap than a line's, split after a line that
    stops short with a sentence end (a paragraph's last line)."""
    blocks: list[list[_Line]] = []
    for line in lines:
        if blocks:
            block = blocks[-1]
            last = block[-1]
            same_size = abs(line.size - last.size) <= 0.1 * max(line.size, last.size)
            gap = line.top - last.bottom
            below = -0.5 * last.size < gap <= 0.5 * last.size
            right = max(other.x1 for other in block)
            short = last.x1 < right - 0.15 * (right - min(other.x0 for other in block))
            if same_size and below and not (short and _ends_sentence(last, text)):
                block.append(line)
                continue
        blocks.append([line])
    return blocks


def _ends_sentence(line: _Line, text: str) -> bool:
    return text[line.runs[-1].start : line.runs[-1].end].rstrip().endswith(_SENTENCE_STOP)


def _line_text(line: _Line, text: str) -> str:
    return " ".join(text[run.start : run.end] for run in line.runs)


# --- writing the text --------------------------------------------------------------------------


class _Writer:
    """The reading text and its offsets, written block by block."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._parts: list[str] = []
        self._offsets = array("i")
        self._length = 0
        self._words: set[str] | None = None

    def _add(self, start: int, end: int) -> None:
        if end > start:
            self._parts.append(self._source[start:end])
            self._offsets.extend(range(start, end))
            self._length += end - start

    def _insert(self, text: str, anchor: int) -> None:
        self._parts.append(text)
        self._offsets.extend([anchor] * len(text))
        self._length += len(text)

    def write(self, pages: list[tuple[PageBox, list[list[_Line]]]]) -> PdfText:
        title = _title_lines(pages, self._source)
        title_span: tuple[int, int] | None = None
        for _, blocks in pages:
            for block in blocks:
                if self._length:
                    self._insert("\n\n", self._offsets[-1])
                span = self._block(block, title)
                if span is not None:
                    title_span = span
        return PdfText("".join(self._parts), self._offsets, title_span)

    def _block(
        self, block: list[_Line], title: tuple[frozenset[int], float] | None
    ) -> tuple[int, int] | None:
        """Write one block; the span of the title's runs in it, when it holds the title."""
        source = self._source
        span_start = span_end = -1
        right = max(line.x1 for line in block)
        width = right - min(line.x0 for line in block)
        pending_join = ""  # how the previous line ends: "space", "newline" or "join"
        for number, line in enumerate(block):
            for index, run in enumerate(line.runs):
                start, end = run.start, run.end
                if number and index == 0 and pending_join != "join":
                    # a full line flows on (a space); a short one ends there (a list's item)
                    self._insert(" " if pending_join == "space" else "\n", self._offsets[-1])
                elif index and (
                    source[start - 1 : start] == " "
                    and self._parts
                    and not self._parts[-1].endswith(" ")
                ):
                    self._add(start - 1, start)  # the space the file put between the runs
                if index == len(line.runs) - 1 and number + 1 < len(block):
                    pending_join, end = self._line_end(line, block[number + 1])
                    if pending_join == "space" and line.x1 < right - 0.15 * width:
                        pending_join = "newline"
                if title is not None and id(line) in title[0] and run.size >= 0.9 * title[1]:
                    if span_start < 0:
                        span_start = self._length
                    self._add(start, end)
                    span_end = self._length
                else:
                    self._add(start, end)
        return (span_start, span_end) if span_start >= 0 else None

    def _line_end(self, line: _Line, following: _Line) -> tuple[str, int]:
        """How ``line`` joins the next: "space", or "join" (a word hyphenated across them),
        and where its last run's copied text ends (before a hyphen that is dropped)."""
        source = self._source
        run = line.runs[-1]
        end = run.end
        if not source[run.start : end].endswith(_HYPHENS) or not following.runs:
            return "space", end
        after = source[following.runs[0].start : following.runs[0].end]
        match_after = _WORD_AFTER.match(after)
        match_before = _WORD_BEFORE.search(source, max(run.start, end - 60), end)
        if match_after is None or match_before is None:
            return "space", end  # a dash between words, or a hyphen before a number's sign
        if not after[:1].islower():
            return "join", end  # a compound broken at its hyphen ("Ac-" + "SDKP")
        before = match_before.group()[:-1]
        rest = match_after.group()
        if source[end - 1] == "\u00ad":
            return "join", end - 1  # a soft hyphen: only where the word was broken
        if self._keeps_hyphen(before, rest):
            return "join", end
        return "join", end - 1

    def _keeps_hyphen(self, before: str, after: str) -> bool:
        if "-" in before or not before[-1:].isalpha() or any(c.isupper() for c in before[1:]):
            return True  # a compound ("medical-history-taking"), "CTLA-4", "AI-driven"
        if before[:1].isupper() and len(before) <= 3:
            return True
        words = self._vocabulary()
        # the document's own spelling decides; in doubt the hyphen breaks a word (most do)
        return f"{before}-{after}".lower() in words

    def _vocabulary(self) -> set[str]:
        if self._words is None:
            self._words = {word.lower() for word in re.findall(r"\w+(?:-\w+)*", self._source)}
        return self._words


def _title_lines(
    pages: list[tuple[PageBox, list[list[_Line]]]], text: str
) -> tuple[frozenset[int], float] | None:
    """The lines of the title (their ids) and its size: the block printed largest in the top
    60% of the first page that has a block of three words or more there, without a short
    label above it in the same size ("Case Report")."""
    for page, blocks in pages:
        candidates = [
            block
            for block in blocks
            if block[0].top < 0.6 * page.height
            and sum(len(_line_text(line, text).split()) for line in block) >= 3
        ]
        if not candidates:
            continue
        best = max(candidates, key=lambda block: max(line.size for line in block))
        size = max(line.size for line in best)
        lines = [line for line in best if line.size >= 0.9 * size]
        widest = max(line.x1 - line.x0 for line in lines)
        first = lines[0]
        if (
            len(lines) > 1
            and len(_line_text(first, text).split()) <= 3
            and first.x1 - first.x0 < 0.5 * widest
        ):
            lines = lines[1:]  # a label over the title, printed as large ("Case Report")
        return frozenset(id(line) for line in lines), size
    return None
