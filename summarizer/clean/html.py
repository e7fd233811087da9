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

import re
from array import array
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
HIDDEN = re.compile(r"(?:^|[\s_-])(?:sr-only|visually-hidden|screen-reader|u-visually-hidden|hidden)(?:$|[\s_-])")
ABSTRACT_MARK = re.compile(r"abstract|^abs\d*$|^abss?\d", re.I)
_NOT_ABSTRACT = re.compile(r"graphical|link|button|toggle|nav|menu|tab|trans|similar|related", re.I)
_HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_PLAIN = re.compile(r"[A-Za-z0-9]+")
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
    offsets: array[int]
    """Index in the raw HTML of every character of ``text``."""
    title: tuple[int, int] | None
    """Span of the title in ``text``."""
    abstract: tuple[int, int] | None
    """Span of an element marked up as the abstract, in ``text``."""
    headings: frozenset[int]
    """Where the text of each ``<h1>``-``<h6>`` element starts in ``text``."""


class _Walker:
    def __init__(self, raw: str) -> None:
        self.raw = raw
        self.cursor = 0
        self.parts: list[str] = []
        self.offsets = array("i")
        self.length = 0
        self.pending = 0  # newlines owed before the next text
        self.h1: list[tuple[int, int]] = []
        self.headings: set[int] = set()
        self.abstract: tuple[int, int] | None = None

    # -- raw alignment -------------------------------------------------------------------------

    def _inside_tag(self, position: int) -> bool:
        lt = self.raw.rfind("<", self.cursor, position)
        return lt > self.raw.rfind(">", self.cursor, position)

    def align(self, text: str) -> array[int]:
        raw = self.raw
        position = raw.find(text, self.cursor)
        while position >= 0 and self._inside_tag(position):
            position = raw.find(text, position + 1)
        if position >= 0:
            self.cursor = position + len(text)
            return array("i", range(position, position + len(text)))
        offsets = array("i")
        done = 0
        for match in _PLAIN.finditer(text):
            found = raw.find(match.group(), self.cursor)
            while found >= 0 and self._inside_tag(found):
                found = raw.find(match.group(), found + 1)
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
            anchor = offsets[0] if offsets else (self.offsets[-1] if self.offsets else 0)
            self.parts.append("\n" * self.pending)
            self.offsets.extend([anchor] * self.pending)
            self.length += self.pending
            self.pending = 0
        self.parts.append(text)
        self.offsets.extend(offsets)
        self.length += len(text)

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
        elif self.abstract is None and attributes and self._marked_abstract(attributes):
            if 150 <= self.length - start <= 12000:
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
    return HtmlPage(text, walker.offsets, title, walker.abstract, headings)


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
