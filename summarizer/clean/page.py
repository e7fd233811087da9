"""Finding the title and the abstract among the lines of a page, and splitting its sections.

The page is first cut into lines (stripped spans of the page text); each line is
classified (chrome, end marker, abstract heading, section heading, text) with anchored
regular expressions, so the work is per line, never per character. Pages whose newlines
were lost are cut into lines at the places a newline must have been (section headings,
known chrome phrases, the word Abstract).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .patterns import (
    ABSTRACT_HEADING,
    AFFILIATION_WORDS,
    AUTHOR_MARKERS,
    CHROME_LINES,
    CHROME_PATTERNS,
    CITATION_LINE,
    END_LINE,
    FOREIGN_ABSTRACT_WORDS,
    HEADING_AT_START,
    HEADING_INLINE,
    HEADING_LINE,
    NAME_PART,
    SECTION_KINDS,
    SENTENCE_END,
)


@dataclass(slots=True)
class Line:
    start: int
    end: int
    text: str
    para: bool
    """A blank line (or a block boundary) precedes this line."""


@dataclass(slots=True)
class Part:
    """A section found in the page: its heading span and body spans (page-text indices)."""

    kind: str
    heading: tuple[int, int] | None
    body: list[tuple[int, int, bool]] = field(default_factory=list)
    """(start, end, new_paragraph)"""


@dataclass(slots=True)
class Found:
    title: tuple[int, int] | None
    parts: list[Part]
    warnings: list[str]


_LINE = re.compile(r"[^\n\r\u2028\u2029\x0b\x0c\x85]+")
_KEY_STRIP = " \t:.|•·›»>*#-–—"
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u00a0": " "})

LONG_LINE = 1500
"""A line this long is checked for lost newlines."""

_COLLAPSED_BEFORE = re.compile(
    r"""(?:(?<=\s)|^)(?=
      (?i:add\s+like|add\s+dislike|add\s+to\s+saved\s+papers|full\s+text\s+links
      |we\s+have\s+located\s+links|can['’]t\s+access\s+the\s+paper|try\s+logging\s+in
      |related\s+resources|for\s+the\s+best\s+experience|mobile\s+app\s+image|get\s+seemless
      |get\s+seamless|all\s+material\s+on\s+this\s+website|this\s+website\s+also\s+contains
      |by\s+using\s+this\s+service|your\s+privacy\s+choices|you\s+can\s+now\s+claim
      |similar\s+articles|cited\s+by|mesh\s+terms|publication\s+types|related\s+information
      |linkout|affiliations\s+expand|free\s+pmc\s+article|conflict\s+of\s+interest\s+statement
      |skip\s+to\s+main|an\s+official\s+website|search\s+in\s+pubmed|item\s+in\s+clipboard
      |display\s+options|page\s+navigation|author\s+information|article\s+notes
      |copyright\s+and\s+license|copyright\s*©|©\s*\d{4}|copyright\s+\d{4}
      |key\s*words?\s*:|keywords?\s*:|palavras-chave|palabras\s+clave
      |PMID\s*:|PMCID\s*:|DOI\s*:|doi\s*:\s*10\.)
      |(?:Abstract\b|ABSTRACT\b|Summary\s*:|SUMMARY\b
      |References\b|REFERENCES\b|Introduction\b(?!\s*(?:and\s+importance)?\s*:)|INTRODUCTION\b(?!\s*:)
      |Figures\b|Grants\s+and\s+funding|Comment\s+in|Erratum\s+in
      )
    )""",
    re.X,
)
_COLLAPSED_AFTER = re.compile(
    r"""(?:add\s+like|add\s+dislike|add\s+to\s+saved\s+papers|full\s+text\s+links
    |affiliations\s+expand|free\s+pmc\s+article|item\s+in\s+clipboard
    |(?<=\s)abstract(?=\s+[A-Z])|eCollection\s+\d{4}\s*\.|Epub\s+\d{4}(?:\s+\w{3}\s+\d{1,2})?\s*\.
    |doi\s*:\s*10\.\S+?\.(?=\s)|PMID\s*:\s*\d+|PMCID\s*:\s*PMC\d+|DOI\s*:\s*10\.\S+)""",
    re.X | re.I,
)
_AUTHOR_RUN = re.compile(
    r"(?<=[.?!])\s+(?=(?:[A-ZÀ-Ý][\w'’-]+\s+){1,3}[A-ZÀ-Ý][\w'’-]+\s?\d+(?:\s?,\s?\d+)*\s?,\s)"
)

_CLINICAL = re.compile(
    r"\b(year[-\s]old|patients?|presented|diagnos\w+|admitted|treated|underwent|revealed|showed"
    r"|examination|history|complain\w*|man|woman|boy|girl|infant|male|female|surgery|symptoms?)\b",
    re.I,
)
_BODY_KINDS_AFTER = {"case", "results", "discussion", "conclusion"}
_FULL_TEXT_REST = 3000


def split_lines(text: str) -> list[Line]:
    lines: list[Line] = []
    previous_end = 0
    for match in _LINE.finditer(text):
        start, end = match.span()
        segment = match.group()
        stripped = segment.strip()
        if not stripped:
            continue
        start += len(segment) - len(segment.lstrip())
        end = start + len(stripped)
        para = not lines or text.count("\n", previous_end, start) + text.count("\r", previous_end, start) >= 2
        if lines and not para and "\r\n" in text[previous_end:start]:
            para = text.count("\r\n", previous_end, start) >= 2
        lines.append(Line(start, end, stripped, para))
        previous_end = end
    if any(line.end - line.start > LONG_LINE for line in lines):
        lines = _split_collapsed(text, lines)
    return lines


def _split_collapsed(text: str, lines: list[Line]) -> list[Line]:
    """Cut overlong lines where a newline was lost."""
    result: list[Line] = []
    for line in lines:
        if line.end - line.start <= LONG_LINE:
            result.append(line)
            continue
        cuts = {0, len(line.text)}
        for match in _COLLAPSED_BEFORE.finditer(line.text):
            cuts.add(match.start())
        for match in _COLLAPSED_AFTER.finditer(line.text):
            cuts.add(match.end())
        for match in HEADING_INLINE.finditer(line.text):
            cuts.add(match.start("heading"))
        for match in _AUTHOR_RUN.finditer(line.text):
            cuts.add(match.end())
        ordered = sorted(cuts)
        first = True
        for left, right in zip(ordered, ordered[1:], strict=False):
            piece = line.text[left:right]
            stripped = piece.strip()
            if not stripped:
                continue
            start = line.start + left + (len(piece) - len(piece.lstrip()))
            result.append(Line(start, start + len(stripped), stripped, line.para if first else True))
            first = False
    return result


def line_key(text: str) -> str:
    if len(text) > 120:
        return ""
    return " ".join(text.translate(_QUOTES).lower().split()).strip(_KEY_STRIP)


def is_chrome(line: Line) -> bool:
    key = line_key(line.text)
    if key and (key in CHROME_LINES or key.isdigit()):
        return True
    return CHROME_PATTERNS.match(line.text) is not None


def is_end(line: Line) -> bool:
    return END_LINE.match(line.text) is not None


def heading_line(line: Line) -> tuple[str, bool] | None:
    """(kind, numbered) when the whole line is a section heading."""
    if len(line.text) > 60:
        return None
    match = HEADING_LINE.fullmatch(line.text)
    if match is None:
        return None
    return SECTION_KINDS[_heading_key(match.group("heading"))], bool(match.group("number"))


def _heading_key(heading: str) -> str:
    key = " ".join(heading.lower().replace("take home", "take-home").split())
    if key in SECTION_KINDS:
        return key
    key = key.replace("- ", "-").replace(" -", "-")
    if key in SECTION_KINDS:
        return key
    return key.replace("takehome", "take-home").replace("take home", "take-home")


def heading_kind(heading: str) -> str:
    return SECTION_KINDS.get(_heading_key(heading), "other")


def abstract_heading(line: Line) -> tuple[str, int] | None:
    """(word, index in the line where the abstract text starts) for an 'Abstract' line."""
    if len(line.text) < 40 or line.text[:8].lower() in ("abstract", "summary:", "summary "):
        match = ABSTRACT_HEADING.match(line.text)
        if match is None:
            return None
        rest = line.text[match.end() :]
        if rest and not (match.group(0).rstrip().endswith((":", ".")) or rest[:1].isupper()):
            return None
        if rest and match.group("word").lower() == "summary" and not rest[:1].isupper():
            return None
        return match.group("word").lower(), match.end()
    return None


def looks_like_authors(text: str) -> bool:
    if AUTHOR_MARKERS.search(text):
        return True
    parts = [part for part in re.split(r",|;|\band\b|&", text) if part.strip()]
    if len(parts) < 2:
        return bool(re.fullmatch(r"(?:[A-ZÀ-Ý][\w'’.-]*\.?\s+){1,3}[A-ZÀ-Ý][\w'’-]+\s*[\d*†‡,]+", text))
    names = sum(1 for part in parts if NAME_PART.match(part) and len(part.split()) <= 5)
    return names >= 0.7 * len(parts)


def looks_like_meta(text: str) -> bool:
    if CITATION_LINE.search(text) or looks_like_authors(text):
        return True
    if AFFILIATION_WORDS.search(text) and (text.count(",") >= 2 or text[:1].isdigit()):
        return True
    return bool(re.match(r"\s*(?:\d+\s*)?(?:received|accepted|published|revised|epub|ecollection)\b", text, re.I))


def title_like(line: Line) -> bool:
    text = line.text
    if not 10 <= len(text) <= 400 or len(text.split()) < 3 or text.endswith(":"):
        return False
    if is_chrome(line) or is_end(line) or heading_line(line) or abstract_heading(line):
        return False
    if looks_like_meta(text):
        return False
    return len(SENTENCE_END.findall(text)) <= 1 + text.count(": ")


def _substantial(lines: list[Line], index: int, rest: str = "") -> bool:
    """Whether real abstract text follows (not a navigation tab named 'Abstract')."""
    if rest.strip():
        return len(rest) >= 60 or HEADING_AT_START.match(rest) is not None
    for line in lines[index + 1 : index + 8]:
        if is_chrome(line):
            continue
        if heading_line(line) or HEADING_AT_START.match(line.text):
            return True
        return len(line.text) >= 150 and bool(SENTENCE_END.search(line.text))
    return False


def _prose(line: Line) -> bool:
    text = line.text
    if len(text) < 150 or looks_like_meta(text[:300]) or is_chrome(line) or is_end(line):
        return False
    if len(SENTENCE_END.findall(text)) < 2 and len(text) < 300:
        return False
    return len({word.lower() for word in _CLINICAL.findall(text)}) >= 3


def find_start(lines: list[Line]) -> tuple[int, int] | None:
    """(line index, offset in that line) where the abstract text starts."""
    foreign: tuple[int, int] | None = None
    for index, line in enumerate(lines):
        found = abstract_heading(line)
        if found is None:
            continue
        word, offset = found
        rest = line.text[offset:]
        if not _substantial(lines, index, rest):
            continue
        position = (index, offset) if rest.strip() else (index + 1, 0)
        if word in FOREIGN_ABSTRACT_WORDS:
            foreign = foreign or position
            continue
        return position
    if foreign is not None:
        return foreign
    for index, line in enumerate(lines):
        if is_chrome(line):
            continue
        heading = heading_line(line)
        if heading is not None and not heading[1] and _substantial(lines, index):
            return index, 0
        match = HEADING_AT_START.match(line.text)
        if match and _inline_heading_ok(line.text, match) and len(line.text) > 80:
            return index, 0
    for index, line in enumerate(lines):
        if _prose(line):
            return index, 0
    return None


def _inline_heading_ok(text: str, match: re.Match[str]) -> bool:
    punctuated = text[match.end("heading") : match.end()].strip() != ""
    heading = match.group("heading")
    if punctuated:
        return heading[:1].isupper()
    return heading.isupper() and len(heading) > 3


def find_title(lines: list[Line], before: int) -> int | None:
    for index in range(before - 1, max(before - 60, 0) - 1, -1):
        if title_like(lines[index]):
            return index
    return None


def _split_inline(text: str) -> list[tuple[int, int, str | None]]:
    """Cut a line at its inline headings: (start, end, heading) with heading None for plain text."""
    marks: list[tuple[int, int, int]] = []  # heading start, heading end, body start
    match = HEADING_AT_START.match(text)
    if match and _inline_heading_ok(text, match):
        marks.append((match.start("heading"), match.end("heading"), _skip_space(text, match.end())))
    for match in HEADING_INLINE.finditer(text):
        if match.group("heading")[:1].isupper():
            marks.append((match.start("heading"), match.end("heading"), match.end()))
    if not marks:
        return [(0, len(text), None)]
    pieces: list[tuple[int, int, str | None]] = []
    if marks[0][0] > 0:
        pieces.append((0, marks[0][0], None))
    for number, (h_start, h_end, body_start) in enumerate(marks):
        body_end = marks[number + 1][0] if number + 1 < len(marks) else len(text)
        pieces.append((h_start, h_end, "heading"))
        pieces.append((body_start, body_end, None))
    return pieces


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def find_abstract(text: str, lines: list[Line], *, known_title: bool) -> Found | None:
    warnings: list[str] = []
    if known_title:
        start: tuple[int, int] | None = (0, 0)
        title = None
    else:
        start = find_start(lines)
        if start is None:
            return None
        title_index = find_title(lines, start[0] if start[1] == 0 else start[0])
        if start[1] and title_index == start[0]:
            title_index = None
        title = (lines[title_index].start, lines[title_index].end) if title_index is not None else None
        if title is None:
            warnings.append("no title found")
    assert start is not None
    parts: list[Part] = []
    structured = False
    seen: list[str] = []
    content = False
    first_index, first_offset = start
    for index in range(first_index, len(lines)):
        line = lines[index]
        offset = first_offset if index == first_index else 0
        if offset == 0:
            if is_end(line):
                break
            if is_chrome(line):
                continue
            if abstract_heading(line) is not None and line_key(line.text) in ("abstract", "summary"):
                if content:
                    break
                continue
            heading = heading_line(line)
            if heading is not None:
                kind, numbered = heading
                name = line_key(line.text)
                if numbered and content:
                    break
                if content and not structured:
                    break
                if content and (name in seen or (kind == "background" and _BODY_KINDS_AFTER & set(map(heading_kind, seen)))):
                    break
                if content and _closing(parts) and _long_rest(text, line):
                    break
                parts.append(Part(kind, (line.start, line.start + len(line.text.rstrip(" :.：")))))
                structured = True
                seen.append(name)
                continue
        if content and _closing(parts) and line.para and _long_rest(text, line) and not HEADING_AT_START.match(line.text):
            break
        body = line.text[offset:]
        base = line.start + offset
        for piece_start, piece_end, mark in _split_inline(body):
            if mark is not None:
                name = body[piece_start:piece_end]
                parts.append(Part(heading_kind(name), (base + piece_start, base + piece_end)))
                structured = True
                seen.append(line_key(name))
                continue
            piece = body[piece_start:piece_end]
            stripped = piece.strip()
            if not stripped:
                continue
            left = base + piece_start + len(piece) - len(piece.lstrip())
            if not parts:
                parts.append(Part("other", None))
            current = parts[-1]
            current.body.append((left, left + len(stripped), line.para and bool(current.body)))
            content = True
    parts = [part for part in parts if part.body]
    if not parts:
        return None
    return Found(title, parts, warnings)


def _closing(parts: list[Part]) -> bool:
    """The last section is a conclusion that already has text."""
    return bool(parts) and parts[-1].kind == "conclusion" and bool(parts[-1].body)


def _long_rest(text: str, line: Line) -> bool:
    return len(text) - line.start > _FULL_TEXT_REST
