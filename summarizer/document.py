"""Typed data passed between the pipeline stages: Document (ingest) and Abstract (clean)."""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

NOT_UTF8_NOTE = "not_utf8"
"""The ``Document.metadata`` key that says its file held bytes that are not UTF-8."""
NOT_UTF8_WARNING = (
    "the file holds bytes that are not UTF-8, read as Windows-1252 (check accented letters)"
)


@dataclass(frozen=True, slots=True)
class Document:
    """One record as read: raw text plus where it came from."""

    id: str
    text: str
    origin: str
    format: str
    """text | html | pdf | pubmed-xml | medline | ris | csv | jsonl"""
    title: str | None = None
    """Set when the source carries the title in its own field (exports)."""
    metadata: Mapping[str, str] = field(default_factory=dict)
    layout: Layout | None = None
    """Where each line of ``text`` was printed (a PDF's text layer); None for text sources."""

    @classmethod
    def from_text(
        cls,
        text: str,
        *,
        id: str = "text",
        title: str | None = None,
        origin: str = "<text>",
        format: str = "text",
    ) -> Document:
        """A document for a page or an abstract already in memory (a string in a program)."""
        return cls(id=id, text=text, origin=origin, format=format, title=title)


@dataclass(frozen=True, slots=True)
class Text:
    """A text to summarize as it is, never read as a file name (a plain ``str`` that names
    an existing file is read as that file)."""

    text: str
    id: str | None = None


@dataclass(frozen=True, slots=True)
class TextLine:
    """A run of text printed on one baseline in one size: ``Document.text[start:end]``.

    Coordinates are PDF points from the page's top-left corner. A printed line is cut into
    several runs where the size changes (a footnote mark) or a wide gap opens (a gutter
    between two columns that the file wrote as one line)."""

    start: int
    end: int
    page: int
    """1-based page number."""
    x0: float
    top: float
    x1: float
    bottom: float
    size: float
    """Glyph height in points (the font size as printed)."""
    upright: bool = True
    """False for rotated text: a margin watermark, a vertical side label."""


@dataclass(frozen=True, slots=True)
class PageBox:
    """One page read from a PDF: its number, size in points, and span of ``Document.text``."""

    number: int
    width: float
    height: float
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Layout:
    """The pages read from a PDF and the lines printed on them (in the file's order)."""

    pages: tuple[PageBox, ...]
    lines: tuple[TextLine, ...]
    page_count: int
    """Pages in the file (only the first ``len(pages)`` were read)."""

    def page_at(self, index: int) -> int:
        """The page number of ``Document.text[index]``."""
        if not self.pages:
            return 1
        position = bisect_right([page.start for page in self.pages], index) - 1
        return self.pages[max(position, 0)].number


class OffsetMap:
    """Maps every character of a cleaned text back to its index in the original text.

    Stored as one compact integer array (4 bytes a character). Characters the cleaner
    inserted (section separators) map to the original index of the character before them.
    """

    __slots__ = ("_index",)

    def __init__(self, index: array[int]) -> None:
        self._index = index

    @classmethod
    def identity(cls, length: int) -> OffsetMap:
        return cls(array("i", range(length)))

    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, position: int) -> int:
        return self._index[position]

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) covering cleaned [start, end)."""
        index = self._index
        size = len(index)
        if not size or end <= start:
            return (0, 0)
        # (conditionals, not min/max: those parse keyword arguments on every call)
        first = index[start if start < size else size - 1]
        last = index[(end if end < size else size) - 1]
        return (first, (last if last > first else first) + 1)

    def as_list(self) -> list[int]:
        return self._index.tolist()

    def runs(self) -> list[int]:
        """The map as flat ``(start, original, length)`` triples, one per stretch whose
        original indexes rise by one (a cleaned text is a few such stretches): compact
        enough to store with a record, and ``from_runs`` gives the same map back.

        Each stretch's end is found by bisection, comparing slices with a stretch of
        consecutive integers in C, so a text costs a few memcmp, not a loop over its
        characters."""
        index = self._index
        triples: list[int] = []
        start, size = 0, len(index)
        while start < size:
            first = index[start]
            good, bad = start + 1, size + 1  # [start, good) rises by one; [start, bad) not
            if index[start:] == _consecutive(first, size - start):
                good = size  # the usual case: one stretch to the end
            while bad - good > 1:
                middle = (good + bad) // 2
                if index[start:middle] == _consecutive(first, middle - start):
                    good = middle
                else:
                    bad = middle
            triples += (start, first, good - start)
            start = good
        return triples

    @classmethod
    def from_runs(cls, triples: list[int]) -> OffsetMap:
        """The map ``runs`` described (ValueError when the triples are not one)."""
        if len(triples) % 3:
            raise ValueError("offset runs come in (start, original, length) triples")
        index = array("i")
        for start, original, length in zip(triples[::3], triples[1::3], triples[2::3], strict=True):
            if start != len(index) or length < 1 or original < 0:
                raise ValueError("offset runs must cover the text in order")
            index.extend(_consecutive(original, length))
        return cls(index)


_COUNTING = array("i", range(1 << 16))
"""0, 1, 2…: slices of it are stretches of consecutive integers, copied in C."""


def _consecutive(first: int, length: int) -> array[int]:
    """``array("i", range(first, first + length))``, by slicing a kept counting array."""
    global _COUNTING
    if first + length > len(_COUNTING):
        _COUNTING = array("i", range(max(first + length, 2 * len(_COUNTING))))
    return _COUNTING[first : first + length]


@dataclass(frozen=True, slots=True)
class Section:
    """A labelled part of an abstract; start/end index Abstract.text (the body, no heading)."""

    kind: str
    """background | objective | case | methods | results | discussion | conclusion | other"""
    heading: str | None
    start: int
    end: int
    from_body: bool = False
    """Taken from the article body (a patient passage), not from the abstract itself."""


@dataclass(frozen=True, slots=True)
class Abstract:
    """The cleaned abstract the model sees.

    ``text`` is the title line, a blank line, then the sections (each as
    ``HEADING: body``) separated by blank lines. ``offsets`` maps each character
    of ``text`` back to ``document.text``.
    """

    id: str
    title: str | None
    text: str
    sections: tuple[Section, ...]
    offsets: OffsetMap
    document: Document
    body_start: int = 0
    warnings: tuple[str, ...] = ()
    confidence: str = "high"
    """high | medium | low: how sure the cleaner is that ``text`` is the abstract."""
    pages: tuple[int, ...] = ()
    """For a PDF, flat ``(start, page)`` pairs: from ``text[start]`` on, the text was printed
    on ``page`` (until the next pair). Empty for sources without pages."""

    def page_at(self, index: int) -> int | None:
        """The page ``text[index]`` was printed on, or None for a source without pages."""
        if not self.pages:
            return None
        starts = self.pages[0::2]
        position = bisect_right(starts, index) - 1
        return self.pages[2 * max(position, 0) + 1]

    def section_text(self, section: Section) -> str:
        return self.text[section.start : section.end]

    @property
    def body(self) -> str:
        """The abstract without its title line."""
        return self.text[self.body_start :]

    @property
    def abstract_end(self) -> int:
        """End of the abstract proper in ``text``; a passage from the article body follows."""
        for section in self.sections:
            if section.from_body:
                return max(self.body_start, section.start - 2)
        return len(self.text)

    def to_stored(self) -> dict[str, Any]:
        """What rebuilds this abstract with ``from_stored`` given its document: plain JSON,
        the offset map as runs (a few numbers, not one per character)."""
        return {
            "title": self.title,
            "text": self.text,
            "sections": [[s.kind, s.heading, s.start, s.end, s.from_body] for s in self.sections],
            "warnings": list(self.warnings),
            "confidence": self.confidence,
            "body_start": self.body_start,
            "offsets": self.offsets.runs(),
            **({"pages": list(self.pages)} if self.pages else {}),
        }

    @classmethod
    def from_stored(cls, value: Mapping[str, Any], document: Document) -> Abstract:
        """The abstract ``to_stored`` gave (``KeyError``, ``TypeError`` or ``ValueError``
        when ``value`` is not one)."""
        text = str(value["text"])
        offsets = OffsetMap.from_runs([int(number) for number in value["offsets"]])
        if len(offsets) != len(text):
            raise ValueError("the offset map does not cover the text")
        sections = tuple(
            Section(
                kind=str(kind),
                heading=None if heading is None else str(heading),
                start=int(start),
                end=int(end),
                from_body=bool(from_body),
            )
            for kind, heading, start, end, from_body in value["sections"]
        )
        title = value.get("title")
        return cls(
            id=document.id,
            title=None if title is None else str(title),
            text=text,
            sections=sections,
            offsets=offsets,
            document=document,
            body_start=int(value.get("body_start", 0)),
            warnings=tuple(str(warning) for warning in value.get("warnings") or ()),
            confidence=str(value.get("confidence", "high")),
            pages=tuple(int(number) for number in value.get("pages") or ()),
        )
