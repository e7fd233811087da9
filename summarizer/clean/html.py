"""HTML to text with selectolax (lexbor), keeping each character's index in the raw HTML.

selectolax parses (a real HTML5 parser: broken markup, entities, implied tags) and
decides what is text; this module only walks the tree, turns block elements into line
breaks, drops elements that are never content (scripts, navigation, buttons, forms,
footers), and finds each text node back in the raw HTML so that every character keeps
its source index. Characters produced by an entity (``&amp;``, ``&nbsp;``) map to the
entity's first character.

It also reports the title (``citation_title`` / ``og:title`` meta, else the first
``<h1>``) and, when the page marks it up (``class``/``id`` containing "abstract"), the
span of the abstract container.
"""

from __future__ import annotations

import html
import re
from array import array
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

from selectolax.lexbor import LexborHTMLParser

SKIP_TAGS = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "svg",
        "button",
        "nav",
        "footer",
        "form",
        "iframe",
        "select",
        "option",
        "input",
        "textarea",
        "head",
        "title",
        "annotation",
        "canvas",
        "video",
        "audio",
        "map",
        "object",
    }
)
RAW_TEXT_TAGS = frozenset({"script", "style", "template", "noscript", "textarea", "title"})
PARAGRAPH_TAGS = frozenset(
    {
        "p",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "section",
        "article",
        "header",
        "main",
        "table",
        "figure",
        "blockquote",
        "ul",
        "ol",
        "dl",
        "aside",
        "pre",
        "address",
        "hr",
    }
)
LINE_TAGS = frozenset(
    {
        "div",
        "li",
        "dt",
        "dd",
        "tr",
        "br",
        "figcaption",
        "caption",
        "thead",
        "tbody",
        "tfoot",
        "summary",
        "details",
        "legend",
        "fieldset",
        "label",
        "center",
    }
)
CELL_TAGS = frozenset({"td", "th"})
HIDDEN = re.compile(
    r"(?:^|[\s_-])(?:sr-only|visually-hidden|screen-reader|u-visually-hidden|hidden)(?:$|[\s_-])"
)
ABSTRACT_MARK = re.compile(r"abstract|^abs\d*$|^abss?\d", re.I)
_NOT_ABSTRACT = re.compile(r"graphical|link|button|toggle|nav|menu|tab|trans|similar|related", re.I)
_HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_PLAIN = re.compile(r"[A-Za-z0-9]+")
_NEAR = 8 * 1024
_WINDOW = 256 * 1024
"""How far ahead of the last aligned text a text node is looked for in the raw HTML: first
whole (near), then word by word (window); bounded so that alignment stays linear."""
_RUN = re.compile(r"[A-Za-z0-9]{2,}")
_REFERENCE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?|\r\n")
_TITLE_META = (
    'meta[name="citation_title"]',
    'meta[name="dc.title"]',
    'meta[name="DC.title"]',
    'meta[property="og:title"]',
    'meta[name="twitter:title"]',
)


@dataclass(frozen=True, slots=True)
class HtmlPage:
    text: str
    starts: list[int]
    segments: list[int | array[int]]
    """Where each run of ``text`` (from ``starts``) comes from in the raw HTML: the start of
    an identical run, or one index per character."""
    title: tuple[int, int] | None
    """Span of the title in ``text``."""
    abstract: tuple[int, int] | None
    """Span of an element marked up as the abstract, in ``text``."""
    headings: frozenset[int]
    """Where the text of each ``<h1>``-``<h6>`` element starts in ``text``."""

    def offsets_between(self, start: int, end: int) -> array[int]:
        """Raw-HTML index of every character of ``text[start:end]``."""
        result = array("i")
        index = max(bisect_right(self.starts, start) - 1, 0)
        while index < len(self.starts) and self.starts[index] < end:
            run_start = self.starts[index]
            run_end = self.starts[index + 1] if index + 1 < len(self.starts) else len(self.text)
            low, high = max(start, run_start), min(end, run_end)
            segment = self.segments[index]
            if high > low:
                if isinstance(segment, int):
                    result.extend(range(segment + low - run_start, segment + high - run_start))
                else:
                    result.extend(segment[low - run_start : high - run_start])
            index += 1
        return result

    @property
    def offsets(self) -> array[int]:
        """Raw-HTML index of every character of ``text``."""
        return self.offsets_between(0, len(self.text))


class _Walker:
    def __init__(self, raw: str) -> None:
        self.raw = raw
        self.cursor = 0
        self.parts: list[str] = []
        self.starts: list[int] = []  # where each segment starts in the text
        self.segments: list[int | array[int]] = []  # raw start of an identity run, or offsets
        self.last = 0  # raw index of the last character emitted
        self.length = 0
        self.pending = 0  # newlines owed before the next text
        self.h1: list[tuple[int, int]] = []
        self.headings: set[int] = set()
        self.abstract: tuple[int, int] | None = None

    # -- raw alignment -------------------------------------------------------------------------

    def _inside_tag(self, position: int) -> bool:
        lt = self.raw.rfind("<", self.cursor, position)
        return lt > self.raw.rfind(">", self.cursor, position)

    def align(self, text: str) -> int | array[int]:
        """Where ``text`` sits in the raw HTML: the start of an identical run, or one index
        per character."""
        raw = self.raw
        near = self.cursor + _NEAR + 8 * len(text)
        position = raw.find(text, self.cursor, near)
        while position >= 0 and self._inside_tag(position):
            position = raw.find(text, position + 1, near)
        if position >= 0:
            self.cursor = position + len(text)
            return position
        entities = self._align_entities(text)
        if entities is not None:
            return entities
        limit = self.cursor + _WINDOW + 8 * len(text)
        offsets = array("i")
        done = 0
        for match in _PLAIN.finditer(text):
            found = raw.find(match.group(), self.cursor, limit)
            while found >= 0 and self._inside_tag(found):
                found = raw.find(match.group(), found + 1, limit)
            if found < 0:
                continue
            if match.start() > done:
                self._align_gap(text[done : match.start()], found, offsets)
            offsets.extend(range(found, found + len(match.group())))
            done = match.end()
            self.cursor = found + len(match.group())
        if done < len(text):
            self._align_gap(text[done:], len(raw), offsets)
        return offsets

    def _align_entities(self, text: str) -> array[int] | None:
        """Text whose raw form differs only by character references and CR LF pairs."""
        first = _RUN.search(text)
        if first is None:
            return None
        raw = self.raw
        limit = self.cursor + _NEAR + 8 * len(text)
        start = raw.find(first.group(), self.cursor, limit)
        while start >= 0 and self._inside_tag(start):
            start = raw.find(first.group(), start + 1, limit)
        if start < 0:
            return None
        start -= first.start()  # characters before the first run are plain too, or it fails below
        if start < self.cursor:
            return None
        offsets = array("i")
        decoded: list[str] = []
        length = 0
        position = start
        for match in _REFERENCE.finditer(raw, start):
            if length + match.start() - position >= len(text):
                break
            if match.start() > position:
                decoded.append(raw[position : match.start()])
                offsets.extend(range(position, match.start()))
                length += match.start() - position
            value = "\n" if match.group() == "\r\n" else html.unescape(match.group())
            decoded.append(value)
            offsets.extend([match.start()] * len(value))
            length += len(value)
            position = match.end()
            if length >= len(text):
                break
        if length < len(text):
            end = position + len(text) - length
            decoded.append(raw[position:end])
            offsets.extend(range(position, end))
            position = end
        if "".join(decoded) != text:
            return None
        self.cursor = position
        return offsets

    def _align_gap(self, gap: str, limit: int, offsets: array[int]) -> None:
        """Characters between two found runs: copied ones, entities, CR LF pairs."""
        raw = self.raw
        position = self.cursor
        last = max(min(limit, len(raw)) - 1, 0)
        for character in gap:
            if position < limit and raw[position] == "\r" and character == "\n":
                position += 1
            if position < limit and raw[position] == character:
                offsets.append(position)
                position += 1
            elif position < limit and raw[position] == "&":
                offsets.append(position)
                semicolon = raw.find(";", position, min(limit, position + 12))
                position = semicolon + 1 if semicolon >= 0 else position + 1
            else:
                offsets.append(min(position, last))
        self.cursor = max(self.cursor, min(position, limit))

    # -- output ----------------------------------------------------------------------------------

    def emit(self, text: str) -> None:
        offsets = self.align(text)
        if "\n" in text or "\r" in text or "\t" in text:
            text = text.replace("\r", " ").replace("\n", " ").replace("\t", " ")
        if self.pending:
            if not text.strip():
                return
            anchor = self._first(offsets)
            self.parts.append("\n" * self.pending)
            self.starts.append(self.length)
            self.segments.append(array("i", [anchor] * self.pending))
            self.length += self.pending
            self.pending = 0
        if not text:
            return
        self.parts.append(text)
        self.starts.append(self.length)
        self.segments.append(offsets)
        self.length += len(text)
        self.last = offsets + len(text) - 1 if isinstance(offsets, int) else offsets[-1]

    def _first(self, offsets: int | array[int]) -> int:
        if isinstance(offsets, int):
            return offsets
        return offsets[0] if offsets else self.last

    def brk(self, count: int) -> None:
        if self.length:
            self.pending = max(self.pending, count)

    # -- tree ------------------------------------------------------------------------------------

    def walk(self, node: Any, emit: bool) -> None:
        child = node.child
        while child is not None:
            tag = child.tag
            if tag == "-text":
                text = child.text_content
                if text:
                    if emit:
                        self.emit(text)
                    else:
                        self.align(text)
            elif tag in ("_comment", "-comment", "!--"):
                pass
            elif tag in RAW_TEXT_TAGS:
                end = self.raw.find(f"</{tag}", self.cursor)
                if end < 0:
                    end = self.raw.lower().find(f"</{tag}", self.cursor)
                if end >= 0:
                    self.cursor = end
            elif isinstance(tag, str) and not tag.startswith(("-", "!")):
                self.element(child, tag, emit)
            child = child.next

    def element(self, node: Any, tag: str, emit: bool) -> None:
        attributes = node.attributes
        visible = emit and tag not in SKIP_TAGS
        if visible and attributes:
            if "hidden" in attributes or attributes.get("aria-hidden") == "true":
                visible = False
            else:
                classes = attributes.get("class") or ""
                if classes and HIDDEN.search(classes):
                    visible = False
        if tag in PARAGRAPH_TAGS:
            self.brk(2)
        elif tag in LINE_TAGS:
            self.brk(1)
        start = self.length + self.pending
        self.walk(node, visible)
        if tag in PARAGRAPH_TAGS:
            self.brk(2)
        elif tag in LINE_TAGS:
            self.brk(1)
        elif tag in CELL_TAGS and visible:
            self.emit(" ") if not self.pending else None
        if not visible:
            return
        if tag in _HEADING_TAGS and self.length > start:
            self.headings.add(start)
            if tag == "h1":
                self.h1.append((start, self.length))
        elif (
            self.abstract is None
            and attributes
            and 150 <= self.length - start <= 12000
            and self._marked_abstract(attributes)
        ):
            self.abstract = (start, self.length)

    @staticmethod
    def _marked_abstract(attributes: dict[str, str | None]) -> bool:
        for name in ("id", "class", "data-title", "aria-labelledby", "data-section"):
            value = attributes.get(name)
            if not value:
                continue
            for word in value.split():
                if ABSTRACT_MARK.search(word) and not _NOT_ABSTRACT.search(word):
                    return True
        return False


def html_to_text(raw: str) -> HtmlPage:
    """Readable text of an HTML page, its offset map into ``raw``, the title and abstract spans."""
    tree = LexborHTMLParser(raw)
    walker = _Walker(raw)
    root = tree.root
    if root is not None:
        walker.walk(root, True)
    text = "".join(walker.parts)
    title = _title(tree, text, walker.h1)
    headings = frozenset(_skip_space(text, start) for start in walker.headings)
    return HtmlPage(text, walker.starts, walker.segments, title, walker.abstract, headings)


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def _title(tree: Any, text: str, h1: list[tuple[int, int]]) -> tuple[int, int] | None:
    wanted: str | None = None
    for selector in _TITLE_META:
        node = tree.css_first(selector)
        if node is not None:
            content = (node.attributes.get("content") or "").strip()
            if len(content) >= 10:
                wanted = content
                break
    if wanted:
        key = _key(wanted)
        for start, end in h1:
            if _key(text[start:end]) == key:
                return _strip(text, start, end)
        position = text.find(wanted)
        if position >= 0:
            return position, position + len(wanted)
        for start, end in h1:
            if key and (key in _key(text[start:end]) or _key(text[start:end]) in key):
                return _strip(text, start, end)
    for start, end in h1:
        if len(text[start:end].split()) >= 4:
            return _strip(text, start, end)
    return None


def _key(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    segment = text[start:end]
    left = len(segment) - len(segment.lstrip())
    right = len(segment.rstrip())
    return start + left, start + right
