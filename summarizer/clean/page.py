"""Finding the title and the abstract among the lines of a page, and splitting its sections.

The page is first cut into lines (stripped spans of the page text); each line is
classified (chrome, end marker, abstract heading, section heading, text) with anchored
regular expressions, so the work is per line, never per character. Pages whose newlines
were lost are cut into lines at the places a newline must have been (section headings,
known chrome phrases, the word Abstract).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from .collapsed import COLLAPSED_MIN, cut_points, foreign, trim_author_tail
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
    PRE_ABSTRACT_BLOCKS,
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
    cut: bool = False
    """Cut from a longer line whose newlines were lost."""


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


_CASE_REPORT_SUFFIX = re.compile(
    r"[.:]\s+(?:a\s+)?(?:case\s+(?:report|series|study)|report\s+of\s+(?:a|two|three)\s+cases?)"
    r"[^.]{0,80}\.?\s*$",
    re.I,
)
_LINE = re.compile(r"[^\n\r\u2028\u2029\x0b\x0c\x85]+")
_KEY_STRIP = " \t:.|•·›»>*#-–—"
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u00a0": " "})

LONG_LINE = 1500
"""A line this long is checked for lost newlines."""

_CLINICAL = frozenset(
    [
        "year",
        "old",
        "patient",
        "patients",
        "presented",
        "presenting",
        "diagnosis",
        "diagnosed",
        "diagnoses",
        "admitted",
        "treated",
        "treatment",
        "underwent",
        "revealed",
        "showed",
        "examination",
        "history",
        "complained",
        "complaint",
        "man",
        "woman",
        "men",
        "women",
        "boy",
        "girl",
        "infant",
        "child",
        "male",
        "males",
        "female",
        "females",
        "surgery",
        "surgical",
        "symptom",
        "symptoms",
        "affected",
        "disease",
        "syndrome",
        "therapy",
        "clinical",
        "tumor",
        "tumour",
        "lesion",
        "infection",
        "pain",
        "fever",
        "hospital",
        "hospitalized",
        "hospitalised",
        "mutation",
        "biopsy",
        "imaging",
        "case",
    ]
)
_WORDS = re.compile(r"[a-z]+")
_BODY_KINDS_AFTER = {"case", "results", "discussion", "conclusion"}
_FULL_TEXT_REST = 3000
_TITLE_LABELS = frozenset({"case report", "case reports", "case study", "case series"})
"""Labels that start titles ("Case report: acute carbachol poisoning") more than sections."""


def split_lines(text: str, *, collapsed: bool = True) -> list[Line]:
    """Stripped non-empty lines; with ``collapsed``, overlong lines are cut where newlines were lost."""
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
        breaks = text.count("\n", previous_end, start)
        breaks += text.count("\r", previous_end, start) - text.count("\r\n", previous_end, start)
        para = not lines or breaks >= 2
        lines.append(Line(start, end, stripped, para))
        previous_end = end
    if collapsed and (
        any(line.end - line.start > LONG_LINE for line in lines)
        or (len(lines) <= 5 and any(line.end - line.start >= COLLAPSED_MIN for line in lines))
    ):
        lines = _split_collapsed(text, lines)
    return lines


def _split_collapsed(text: str, lines: list[Line]) -> list[Line]:
    """Cut overlong lines where a newline was lost."""
    result: list[Line] = []
    for line in lines:
        if line.end - line.start < COLLAPSED_MIN:
            result.append(line)
            continue
        ordered = [0, *cut_points(line.text), len(line.text)]
        first = True
        for left, right in itertools.pairwise(ordered):
            piece = line.text[left:right]
            stripped = piece.strip()
            if not stripped:
                continue
            start = line.start + left + (len(piece) - len(piece.lstrip()))
            result.append(
                Line(start, start + len(stripped), stripped, line.para and first, cut=not first)
            )
            first = False
    return result


def line_key(text: str) -> str:
    if len(text) > 120:
        return ""
    return " ".join(text.translate(_QUOTES).lower().split()).strip(_KEY_STRIP)


def is_chrome(line: Line) -> bool:
    key = line_key(line.text)
    if len(line.text) <= 120 and (not key or key in CHROME_LINES or key.isdigit()):
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
    if key.endswith(("(s)", "(es)")):
        key = key[: key.rindex("(")]
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
        return bool(
            re.fullmatch(r"(?:[A-ZÀ-Ý][\w'’.-]*\.?\s+){1,3}[A-ZÀ-Ý][\w'’-]+\s*[\d*†‡,]+", text)
        )
    names = sum(1 for part in parts if NAME_PART.match(part) and len(part.split()) <= 5)
    return names >= 0.7 * len(parts)


def looks_like_meta(text: str) -> bool:
    if CITATION_LINE.search(text) or looks_like_authors(text):
        return True
    if AFFILIATION_WORDS.search(text) and (text.count(",") >= 2 or text[:1].isdigit()):
        return True
    return bool(
        re.match(
            r"\s*(?:\d+\s*)?(?:received|accepted|published|revised|epub|ecollection)\b", text, re.I
        )
    )


def title_like(line: Line, text: str | None = None) -> bool:
    text = line.text if text is None else text
    if not 10 <= len(text) <= 400 or len(text.split()) < 3 or text.endswith(":"):
        return False
    if "://" in text or "www." in text or "@" in text:
        return False
    if is_chrome(line) or is_end(line) or heading_line(line) or abstract_heading(line):
        return False
    if looks_like_meta(text):
        return False
    core = _CASE_REPORT_SUFFIX.sub("", text)
    return len(SENTENCE_END.findall(core)) <= 1 + core.count(": ") + core.count("? ")


def _substantial(lines: list[Line], index: int, rest: str = "") -> bool:
    """Whether real abstract text follows (not a navigation tab named 'Abstract')."""
    if rest.strip():
        return len(rest) >= 60 or HEADING_AT_START.match(rest) is not None
    following: list[Line] = []
    for line in lines[index + 1 : index + 40]:
        if not is_chrome(line):
            following.append(line)
            if len(following) == 2:
                break
    if not following:
        return False
    line = following[0]
    if heading_line(line):
        return True
    text = line.text
    inline = HEADING_AT_START.match(text)
    if not (inline and _inline_heading_ok(text, inline)) and (
        len(text) < 60 or not SENTENCE_END.search(text) or CITATION_LINE.search(text[:400])
    ):
        return False
    after = following[1] if len(following) > 1 else None
    if after is not None and len(text) < 300 and looks_like_authors(after.text[:300]):
        return False  # the title, then the authors: this "Abstract" was a navigation tab
    if not title_like(line, _title_text(line)):
        return True
    # one sentence: the abstract, or the title after a navigation tab named "Abstract"?
    return after is None or not (looks_like_meta(after.text[:400]) or title_like(after))


def _prose(line: Line) -> bool:
    text = line.text
    if len(text) < 150 or is_chrome(line) or is_end(line):
        return False
    if len(text) < 400 and looks_like_meta(text):
        return False
    sentences = len(SENTENCE_END.findall(text))
    clinical = len(_CLINICAL.intersection(_WORDS.findall(text[:3000].lower())))
    return clinical >= 3 and (sentences >= 3 or (sentences == 2 and clinical >= 4))


def find_start(lines: list[Line]) -> tuple[int, int] | None:
    """(line index, offset in that line) where the abstract most likely starts."""
    return next(start_candidates(lines), None)


def start_candidates(lines: list[Line]) -> Iterator[tuple[int, int]]:
    """Where the abstract may start, best first: after an "Abstract" heading (English before
    Resumo/Resumen), at a section heading, at a paragraph that reads like a case, at the
    longest paragraph after a title."""
    foreign: list[tuple[int, int]] = []
    for index, line in enumerate(lines):
        found = abstract_heading(line)
        if found is None:
            continue
        word, offset = found
        rest = line.text[offset:]
        if rest.strip() and word != "abstract":
            continue  # "Summary: …" inside an abstract is a section label
        if not _substantial(lines, index, rest):
            continue
        position = (index, offset) if rest.strip() else (index + 1, 0)
        if word in FOREIGN_ABSTRACT_WORDS:
            foreign.append(position)
            continue
        yield position
    yield from foreign
    tried = 0
    for index, line in enumerate(lines):
        if tried == 3:
            break
        if is_chrome(line):
            continue
        heading = heading_line(line)
        if heading is not None and not heading[1] and _substantial(lines, index):
            tried += 1
            yield index, 0
            continue
        match = HEADING_AT_START.match(line.text)
        if not (match and _inline_heading_ok(line.text, match) and len(line.text) > 40):
            continue
        following = lines[index + 1].text[:400] if index + 1 < len(lines) else ""
        title_then_authors = title_like(line) and (
            (
                HEADING_AT_START.match(following) is None
                and (looks_like_authors(following) or CITATION_LINE.search(following) is not None)
            )
            or (_heading_key(match.group("heading")) in _TITLE_LABELS and len(line.text) < 150)
        )
        if not title_then_authors:  # "Case report: <title>" followed by the authors
            tried += 1
            yield index, 0
    for index, line in enumerate(lines):
        if _prose(line):
            yield index, 0
            break
    # a title followed by the page's longest paragraph (reading apps show no "Abstract")
    longest = max(range(len(lines)), key=lambda i: len(lines[i].text), default=None)
    if longest is not None:
        line = lines[longest]
        sentences = len(SENTENCE_END.findall(line.text))
        after_title = longest > 0 and title_like(lines[longest - 1])
        if (
            len(line.text) >= (100 if after_title else 200)
            and (sentences >= 3 or (sentences == 2 and after_title))
            and (after_title or line.cut)
            and not is_chrome(line)
            and not is_end(line)
        ):
            yield longest, 0
    # a bare abstract pasted on its own (at most a title line above it, no chrome)
    if 0 < len(lines) <= 8 and not any(is_chrome(line) or is_end(line) for line in lines):
        titled = len(lines) > 1 and title_like(lines[0])
        for body in (lines[1:], lines) if titled else (lines,):
            if _mostly_prose(body):
                yield len(lines) - len(body), 0
                break


def _mostly_prose(lines: list[Line]) -> bool:
    """Sentences, not a list of links: most characters sit in lines that end sentences."""
    total = sum(len(line.text) for line in lines)
    prose = sum(
        len(line.text)
        for line in lines
        if SENTENCE_END.search(line.text) and (len(line.text) >= 40 or line.text[-1:] in ".!?")
    )
    return total > 0 and prose >= 40 and prose >= 0.7 * total


def _inline_heading_ok(text: str, match: re.Match[str]) -> bool:
    punctuated = text[match.end("heading") : match.end()].strip() != ""
    heading = match.group("heading")
    if punctuated:
        return heading[:1].isupper()
    return heading.isupper() and len(heading) > 3


def find_title(lines: list[Line], before: int) -> int | None:
    candidate: int | None = None
    for index in range(before - 1, max(before - 60, 0) - 1, -1):
        line = lines[index]
        if line_key(line.text) in PRE_ABSTRACT_BLOCKS:
            if index >= before - 12:  # a block right above the abstract, not a table of contents
                candidate = None
            continue
        if candidate is None and title_like(line, _title_text(line)):
            candidate = index
            previous = lines[index - 1] if index > 0 else None
            if (
                previous is not None
                and foreign(line.text)
                and title_like(previous)
                and not foreign(previous.text)
            ):
                candidate = index - 1
    return candidate


def _title_text(line: Line) -> str:
    return line.text[: trim_author_tail(line.text)] if line.cut else line.text


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


def find_abstract(
    text: str, lines: list[Line], *, known_title: bool, headings: frozenset[int] = frozenset()
) -> Found | None:
    """The title and sections of the abstract; ``headings`` are line starts marked up as
    headings (HTML ``<h2>``…), taken as section headings even when not in the vocabulary.

    With ``known_title`` (export records) the text is the abstract itself; otherwise each
    place the abstract may start is tried in turn until one gives text."""
    if known_title:
        parts = _collect(text, lines, (0, 0), headings)
        return Found(None, parts, []) if parts else None
    seen: set[tuple[int, int]] = set()
    for start in start_candidates(lines):
        if start in seen:
            continue
        seen.add(start)
        parts = _collect(text, lines, start, headings)
        if not parts:
            continue
        warnings: list[str] = []
        title = _title_span(lines, start)
        if title is None and lines[start[0]].cut:
            title = _leading_title(text, parts[0])
        if title is None:
            warnings.append("no title found")
        return Found(title, parts, warnings)
    return None


def _title_span(lines: list[Line], start: tuple[int, int]) -> tuple[int, int] | None:
    title_index = find_title(lines, start[0])
    if title_index is None:
        return None
    title_line = lines[title_index]
    end = title_line.end
    if title_line.cut:
        end = title_line.start + trim_author_tail(title_line.text)
    return title_line.start, end


def _collect(
    text: str, lines: list[Line], start: tuple[int, int], headings: frozenset[int]
) -> list[Part]:
    """The sections from ``start`` to the end of the abstract."""
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
            if abstract_heading(line) is not None and line_key(line.text) in (
                "abstract",
                "summary",
            ):
                if content:
                    break
                continue
            heading = heading_line(line)
            if heading is None and line.start in headings and len(line.text) <= 80:
                number = re.match(r"(?:\d{1,2}|[IVX]{1,4})(?:\.\d{1,2})*\.?\s+", line.text)
                heading = (
                    heading_kind(line.text[number.end() if number else 0 :].rstrip(" :.")),
                    bool(number),
                )
            if heading is not None:
                kind, numbered = heading
                name = line_key(line.text)
                if numbered and content:
                    break
                if content and not structured and kind != "conclusion":
                    break
                if content and (
                    name in seen
                    or (kind == "background" and _BODY_KINDS_AFTER & set(map(heading_kind, seen)))
                ):
                    break
                if content and _closing(parts) and _long_rest(text, line):
                    break
                parts.append(Part(kind, (line.start, line.start + len(line.text.rstrip(" :.：")))))
                structured = True
                seen.append(name)
                continue
        if (
            content
            and _closing(parts)
            and line.para
            and _long_rest(text, line)
            and not HEADING_AT_START.match(line.text)
        ):
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
    return [part for part in parts if part.body]


_CASE_REPORT_SENTENCE = re.compile(r"\s+(?:A\s+)?case\s+reports?\.", re.I)
_FINITE = re.compile(
    r"\b(?:was|were|is|are|had|has|have|presented|developed|underwent|showed|revealed|received"
    r"|describe|we|our|this|she|he)\b",
    re.I,
)


def _leading_title(text: str, part: Part) -> tuple[int, int] | None:
    """On a page whose newlines were lost, an unlabelled first sentence that reads as a title."""
    if part.heading is not None or not part.body:
        return None
    start, end, paragraph = part.body[0]
    sentence = re.match(r"[^.!?]{10,300}[.!?](?=\s+[A-Z0-9])", text[start:end])
    if sentence is None or _FINITE.search(sentence.group()) or len(sentence.group().split()) < 3:
        return None
    rest = start + sentence.end()
    suffix = _CASE_REPORT_SENTENCE.match(text, rest, end)
    if suffix is not None:
        rest = suffix.end()
    title_end = rest
    while rest < end and text[rest].isspace():
        rest += 1
    part.body[0] = (rest, end, paragraph)
    return start, title_end


def _closing(parts: list[Part]) -> bool:
    """The last section is a conclusion that already has text."""
    return len(parts) > 1 and parts[-1].kind == "conclusion" and bool(parts[-1].body)


def _long_rest(text: str, line: Line) -> bool:
    return len(text) - line.start > _FULL_TEXT_REST
