"""Text pieces that remember where each character came from, and unicode repair on them.

Every transformation here works on a (text, offsets) pair where ``offsets[i]`` is the
index in the original input of ``text[i]``; replacements are applied per regular-
expression match, so the offset map stays exact without a per-character loop over
the page. A character that replaces several (``fi`` ligature, mojibake) maps to the
first of them; a character the cleaner inserts maps to the original character before it.
"""

from __future__ import annotations

import re
from array import array
from difflib import SequenceMatcher
from typing import TypeAlias

import ftfy
from ftfy.badness import BADNESS_RE

Offsets: TypeAlias = "array[int]"
"""One original index per character (an ``array('i')``)."""

PLAIN_CHARACTERS: dict[str, str] = {  # typographic character -> plain text
    "\u00a0": " ",
    "\u2007": " ",
    "\u202f": " ",
    "\u2009": " ",
    "\u200a": " ",
    "\u2002": " ",
    "\u2003": " ",
    "\u3000": " ",
    "\u00ad": "",  # soft hyphen
    "\u200b": "",  # zero-width space
    "\u200c": "",
    "\u200d": "",
    "\u2060": "",
    "\ufeff": "",
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u02bc": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2015": "-",
    "\u2212": "-",
    "\ufe63": "-",
    "\uff0d": "-",
    "\u2026": "...",
    "\u2022": "-",
    "\ufffd": "",
}

_TYPOGRAPHIC = "".join(PLAIN_CHARACTERS)
_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
)
"""What ``\\s`` matches (``str.isspace``), as a character-class body: listed, so the class is
a table lookup rather than a Unicode category test per character."""
_SPECIAL = re.compile(
    f"[{_TYPOGRAPHIC}{_WHITESPACE}]"
    rf"(?:\s(?<=[^{_TYPOGRAPHIC}]\s)\s*|(?<=[{_TYPOGRAPHIC}{_WHITESPACE.replace(' ', '')}]))"
)
"""What ``normalise`` replaces: a typographic character, a run of two whitespace characters or
more, a whitespace character other than a space (single spaces, most of a text, are left to
the regex engine to skip). Written as ``[typographic]|\\s{2,}|[^\\S ]`` it matches the same,
but a pattern that opens with one character class lets the engine skip ahead to that class
(several times faster). The branch after it tests first for a second whitespace character (a
run, unless the first was typographic: that one is replaced alone), then looks back at the
first: a single space between two words, the commonest candidate, fails at the first test."""
_FTFY_CHARACTER = re.compile(r"[\ufb00-\ufb06\uff01-\uff5e\u0300-\u036f\u0080-\u009f]")
"""What ftfy repairs besides mojibake and entities: a ligature, a full-width or combining
character, a C1 control."""
_ENTITY = re.compile(r"&(?:#\d{2,6}|#x[0-9a-fA-F]{2,5}|[a-zA-Z]{2,8});")
_FTFY_CONFIG = ftfy.TextFixerConfig(
    uncurl_quotes=False,  # done here, one character for one
    fix_line_breaks=False,
    fix_latin_ligatures=True,
    fix_character_width=True,
    normalization="NFC",
    explain=False,
)


_IDENTITY: Offsets = array("i")


def span_offsets(start: int, end: int) -> Offsets:
    """The offsets of text[start:end] copied as it is: a slice of one shared identity array
    (a memory copy, where building each from a range is a loop)."""
    global _IDENTITY
    if end > len(_IDENTITY):
        _IDENTITY = array("i", range(max(end, 2 * len(_IDENTITY), 65536)))
    return _IDENTITY[start:end]


MOJIBAKE_REACH = 8
"""Characters on each side of a non-ASCII run that ftfy's badness pattern can reach: its
longest match is 7 characters, and each of its matches holds a non-ASCII character
(``tests/test_clean_unicode.py`` checks both against the installed ftfy)."""
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def looks_mojibake(text: str) -> bool:
    """ftfy's ``is_bad``, searched only in windows around the non-ASCII characters.

    Same answer, but a page with a few non-ASCII characters (a degree sign, an accented
    name) costs a few short searches instead of the pattern tried at every position
    (about 0.3 ms a page: a quarter of cleaning the E3C texts).
    """
    window_start = window_end = -1
    for run in _NON_ASCII.finditer(text):
        start = max(run.start() - MOJIBAKE_REACH, 0)
        if start > window_end >= 0:
            if BADNESS_RE.search(text, window_start, window_end):
                return True
            window_start = start
        elif window_start < 0:
            window_start = start
        window_end = run.end() + MOJIBAKE_REACH
    return window_end >= 0 and BADNESS_RE.search(text, window_start, window_end) is not None


def _needs_ftfy(text: str) -> bool:
    if text.isascii():
        return "&" in text and _ENTITY.search(text) is not None
    return bool(looks_mojibake(text) or _FTFY_CHARACTER.search(text) or _ENTITY.search(text))


def normalise(text: str, offsets: Offsets) -> tuple[str, Offsets]:
    """Unicode repaired (ftfy), typographic characters made plain, whitespace collapsed.

    ``offsets`` has one entry per character of ``text``; the result's offsets likewise.
    Leading and trailing whitespace is removed.
    """
    if _needs_ftfy(text):
        text, offsets = _ftfy(text, offsets)
    if text.isascii() and text.isprintable() and "  " not in text:
        return _stripped(text, offsets)  # nothing to replace (the usual line of an abstract)
    parts: list[str] = []
    mapped = array("i")
    position = 0
    for match in _SPECIAL.finditer(text):
        start, end = match.start(), match.end()
        found = match.group()
        if start > position:
            parts.append(text[position:start])
            mapped.extend(offsets[position:start])
        replacement = " " if found[0].isspace() else PLAIN_CHARACTERS[found]
        if replacement:
            parts.append(replacement)
            mapped.extend([offsets[start]] * len(replacement))
        position = end
    if position == 0:
        result, result_offsets = text, offsets
    else:
        parts.append(text[position:])
        mapped.extend(offsets[position:])
        result, result_offsets = "".join(parts), mapped
    # strip, and collapse spaces that the replacements made adjacent ("a \u00ad b")
    if "  " in result:
        return _collapse(result, result_offsets)
    return _stripped(result, result_offsets)


def _stripped(text: str, offsets: Offsets) -> tuple[str, Offsets]:
    left = len(text) - len(text.lstrip(" "))
    right = len(text.rstrip(" "))
    if left or right < len(text):
        return text[left:right], offsets[left:right]
    return text, offsets


def _collapse(text: str, offsets: Offsets) -> tuple[str, Offsets]:
    parts: list[str] = []
    mapped = array("i")
    for match in re.finditer(r"[^ ]+", text):
        if parts:
            parts.append(" ")
            mapped.append(offsets[match.start() - 1])
        parts.append(match.group())
        mapped.extend(offsets[match.start() : match.end()])
    return "".join(parts), mapped


def _ftfy(text: str, offsets: Offsets) -> tuple[str, Offsets]:
    """ftfy on each whitespace-delimited piece that needs it (linear in the text length;
    mojibake never spans a space), each mapped back with a small sequence alignment."""
    if len(text) <= _WHOLE_FTFY:
        return _ftfy_piece(text, offsets)
    parts: list[str] = []
    mapped = array("i")
    position = 0
    for match in _PIECE.finditer(text):
        start, end = match.span()
        piece = match.group()
        if piece.isascii() and "&" not in piece:
            continue
        if start > position:
            parts.append(text[position:start])
            mapped.extend(offsets[position:start])
        fixed, fixed_offsets = _ftfy_piece(piece, offsets[start:end])
        parts.append(fixed)
        mapped.extend(fixed_offsets)
        position = end
    parts.append(text[position:])
    mapped.extend(offsets[position:])
    return "".join(parts), mapped


_WHOLE_FTFY = 4000
_PIECE = re.compile(r"\S+")


def _ftfy_piece(text: str, offsets: Offsets) -> tuple[str, Offsets]:
    fixed: str = ftfy.fix_text(text, _FTFY_CONFIG)
    if fixed == text:
        return text, offsets
    mapped = array("i")
    matcher = SequenceMatcher(None, text, fixed, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            mapped.extend(offsets[i1:i2])
        elif tag in ("replace", "insert"):
            anchor = i1 if i1 < len(offsets) else len(offsets) - 1
            width = max(i2 - i1, 1)
            for k in range(j2 - j1):
                mapped.append(offsets[min(anchor + min(k, width - 1), len(offsets) - 1)])
    return fixed, mapped


class Builder:
    """Accumulates output text and its offsets piece by piece."""

    __slots__ = ("_offsets", "_parts", "length")

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._offsets = array("i")
        self.length = 0

    def add(self, text: str, offsets: Offsets) -> None:
        self._parts.append(text)
        self._offsets.extend(offsets)
        self.length += len(text)

    def insert(self, text: str) -> None:
        """Synthetic characters: they map to the original index of the character before them."""
        anchor = self._offsets[-1] if self._offsets else 0
        self._parts.append(text)
        self._offsets.extend([anchor] * len(text))
        self.length += len(text)

    def result(self) -> tuple[str, Offsets]:
        return "".join(self._parts), self._offsets
