"""Small tests on raw page text: is this prose, is this a heading, where may a block begin.

Each works at one position of the text and reads at most a few hundred characters, so the
cleaner's cost grows with the number of places it looks at, not with the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from .patterns import (
    CHROME_AFTER,
    CHROME_PHRASE,
    FUNCTION_WORDS,
    LABEL,
    LABEL_PREFIXES,
    PROSE_MIN_FUNCTION,
    PROSE_MIN_LOWER,
    PROSE_MIN_LOWER_HEAD,
    PROSE_MIN_WORDS,
    PROSE_WINDOW,
    SECTION_KINDS,
    SENTENCE_STOP,
    WEAK_LABELS,
    labels_starting_with,
)

_last_lowered: tuple[str, str] = ("", "")
"""The page lowered last, as (page, its lowered beginning): the cleaner asks for many windows
of one page, and slicing one lowered copy is cheaper than lowering each window. Only as much
is lowered as is asked for (``str.lower`` takes ~2 ms for 90 KB of non-ASCII text, and most
questions are about the page's top)."""
_LOWER_STEP = 2048
"""The least that is lowered at a time, and the first part of a page that ``chrome_in`` reads:
a page's chrome is in its first lines, and most pages' abstracts end within a few thousand
characters (lowering 8 KB up front cost a tenth of cleaning a page)."""


def lowered(text: str, start: int = 0, end: int | None = None) -> str:
    """text[start:end] in lower case with every index unchanged (chrome is matched on it: a
    case-insensitive regex is several times slower). A character whose lower case is longer
    ("İ") is kept as it is."""
    global _last_lowered
    if len(text) < 1000:  # a line or a title: not worth displacing the page
        return _lower_in_place(text[start:end])
    stop = len(text) if end is None else min(end, len(text))
    page, low = _last_lowered
    if page is not text:
        low = ""
    if len(low) < stop:
        grown = min(len(text), max(stop, 2 * len(low), _LOWER_STEP))
        low += _lower_in_place(text[len(low) : grown])
        _last_lowered = (text, low)  # one assignment: threads see an old pair or a new one
    return low[start:stop]


def _lower_in_place(text: str) -> str:
    if text.isascii():
        return text.lower()
    if "\u03a3" in text:  # capital sigma: its lower case depends on the letters around it
        return _lower_piece(text)
    # a piece at a time: ``str.lower`` takes a per-character Unicode path on a whole string as
    # soon as one character is not ASCII, and pages have a few (dashes, quotes, accented
    # names); most pieces are ASCII (a slice is narrowed to ASCII when it can be)
    return "".join(
        _lower_piece(text[start : start + _LOWER_PIECE])
        for start in range(0, len(text), _LOWER_PIECE)
    )


_LOWER_PIECE = 256


def _lower_piece(text: str) -> str:
    low = text.lower()  # the fast ASCII path when ``text`` is ASCII
    if len(low) == len(text):
        return low
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


_CHROME_REACH = 130
"""The longest chrome phrase, with room for runs of spaces inside it."""


def chrome_at(text: str, position: int, end: int | None = None) -> re.Match[str] | None:
    """The chrome phrase that begins at ``position`` (its span is relative to ``position``)."""
    stop = len(text) if end is None else end
    return CHROME_PHRASE.match(lowered(text, position, min(stop, position + _CHROME_REACH)))


def chrome_in(text: str, start: int = 0, end: int | None = None) -> bool:
    """Whether a chrome phrase occurs in text[start:end]. Looked for in a growing part of it:
    a page's chrome is near its top, and a match well inside the part is one in the whole."""
    stop = len(text) if end is None else end
    size = _LOWER_STEP
    while True:
        part_end = min(stop, start + size)
        first = next(_chrome_phrases(lowered(text, start, part_end)), None)
        if part_end == stop:
            return first is not None
        if first is not None and start + first[1] + _CHROME_REACH < part_end:
            return True
        size *= 4


def chrome_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    low = lowered(text, start, end)
    return [(start + found, start + found_end) for found, found_end in _chrome_phrases(low)]


def _chrome_phrases(low: str) -> Iterator[tuple[int, int]]:
    """The spans of the chrome phrases in ``low`` (lower case), in order: those of
    ``CHROME_PHRASE.finditer(low)``, found as the one at its start and then each one after a
    non-word character (a phrase never begins where one ends: it ends before a non-word
    character, and begins with a word character)."""
    first = CHROME_PHRASE.match(low)
    position = 0
    if first is not None:
        yield first.span()
        position = first.end()
    for match in CHROME_AFTER.finditer(low, position):
        yield match.start() + 1, match.end()


def is_chrome(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] is one chrome phrase and nothing else."""
    match = chrome_at(text, start, end)
    return match is not None and not text[start + match.end() : end].strip()


BOUNDARY = re.compile(r"[\n.!?:;)\]\"'”’ \t](?:[ \t]|(?<=\n))[ \t\r\n]*(?=\S)")
"""The end of something a heading may follow: a newline, a sentence end, a run of spaces.
(What ``(?:\\n|[.!?:;)\\]\"'”’][ \\t]+|[ \\t]{2,})…`` matches, written to open with one
character class: the regex engine then skips to the next such character instead of trying the
pattern at every position. After it, a space or a tab, unless it was a newline: the same matches
as one alternative per kind of opening, but a single space between two words, the commonest
candidate, fails at the first test of the branch rather than after two lookbehinds.)"""


_SPACES = re.compile(r"\s*")


def sentence_end(text: str, start: int = 0, end: int | None = None) -> tuple[int, int] | None:
    """The first sentence end in text[start:end]: the span of its stop and the character before
    the stop ("t." in "… the cat. The …"), or None."""
    # from start + 1: the character before the stop, looked at behind, must not lie before start
    match = SENTENCE_STOP.search(text, start + 1, len(text) if end is None else end)
    return None if match is None else (match.start() - 1, match.end())


def last_sentence_end(text: str, start: int, end: int) -> int | None:
    """Where the last sentence end in text[start:end] ends, looked for from the end."""
    stop = end
    while True:
        stop = max(text.rfind(".", start + 1, stop), text.rfind("!", start + 1, stop),
                   text.rfind("?", start + 1, stop))  # fmt: skip
        if stop < 0:
            return None
        match = SENTENCE_STOP.match(text, stop, end)
        if match is not None:
            return match.end()


def sentence_ends(text: str, start: int = 0, end: int | None = None) -> Iterator[int]:
    """Where each sentence end in text[start:end] ends (just after its stop), in order."""
    for match in SENTENCE_STOP.finditer(text, start + 1, len(text) if end is None else end):
        yield match.end()


def skip_space(text: str, position: int, limit: int | None = None) -> int:
    match = _SPACES.match(text, position, len(text) if limit is None else limit)
    return position if match is None else match.end()


def lower_share(words: list[str]) -> float:
    return len([word for word in words if word[0].islower()]) / len(words) if words else 0.0


def function_share(words: list[str]) -> float:
    if not words:
        return 0.0
    return len([word for word in words if word.lower() in FUNCTION_WORDS]) / len(words)


_TOKEN = re.compile(r"[.!?:;][\s\"'”’)]+[^\W\d_][\w'’-]*|[^\W\d_][\w'’-]*")
"""A word, with the sentence end before it when there is one: such a token opens a sentence
(it starts with one of ``_STOPS``, a word never does). No groups: findall then returns the
matched strings, without a tuple and a second string per word."""
_ASCII_TOKEN = re.compile(
    r"[.!?:;][\t\n\x0b\x0c\r\x1c-\x1f \"')]+[A-Za-z][A-Za-z0-9_'-]*|[A-Za-z][A-Za-z0-9_'-]*"
)
"""``_TOKEN`` for an ASCII window, its classes spelled as ASCII ranges (the same matches)."""
_STOPS = ".!?:;"
"""What a token that opens a sentence begins with (a word begins with a letter)."""
_SEPARATOR = (
    _STOPS + "\"'”’)\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000"
)
_SEPARATOR += "".join(map(chr, range(0x2000, 0x200B)))
"""What the sentence end before a token's word is made of: a stop, then whitespace (every
character ``str.isspace`` accepts, which is what ``\\s`` matches), quotes and brackets."""
_HEAD = 120
"""The first words of a window, where most candidates fail."""


def _inside_sentences(tokens: list[str]) -> list[str]:
    """The words of ``tokens`` that do not open a sentence (nor the window)."""
    return [token for token in tokens[1:] if token[0] not in _STOPS]


def prose_at(text: str, position: int, limit: int | None = None) -> bool:
    """Whether sentences start at ``position``: inside sentences, words mostly start in lower
    case and function words are frequent; a run of capitalised links, headings or names is
    neither."""
    end = min(len(text) if limit is None else limit, position + PROSE_WINDOW)
    window = text[position:end]
    line_end = window.find("\n")
    if 0 <= line_end < 250 and sentence_end(window, 0, line_end + 1) is None:
        return False  # a short line with no sentence in it: a title, a heading, a link
    if chrome_at(text, position, end):
        return False
    token = _ASCII_TOKEN if window.isascii() else _TOKEN
    head = token.findall(window, 0, _HEAD)  # most candidates fail on these
    if len(head) > 4 and lower_share(_inside_sentences(head)) < 0.4:
        return False
    tokens = token.findall(window)
    if len(tokens) < PROSE_MIN_WORDS:
        return False
    inside = _inside_sentences(tokens)
    if lower_share(inside[:12]) < PROSE_MIN_LOWER_HEAD or lower_share(inside) < PROSE_MIN_LOWER:
        return False
    words = [token.lstrip(_SEPARATOR) for token in tokens]
    if function_share(words) < PROSE_MIN_FUNCTION:
        return False
    return len(tokens) >= 40 or sentence_end(window) is not None


@dataclass(frozen=True, slots=True)
class Label:
    """A section heading found in the text."""

    key: str
    """The label as a vocabulary key ("case presentation")."""
    kind: str
    start: int
    end: int
    """End of the heading word(s), without the colon."""
    body: int
    """Where the section's text starts."""
    numbered: bool
    colon: bool = False
    """Followed by a colon or a dash."""


def label_key(label: str) -> str:
    key = " ".join(label.lower().replace("take home", "take-home").split())
    if key.endswith(("(s)", "(es)")):
        key = key[: key.rindex("(")]
    if key in SECTION_KINDS:
        return key
    key = key.replace("- ", "-").replace(" -", "-")
    if key in SECTION_KINDS:
        return key
    return key.replace("takehome", "take-home")


_NUMBER_FIRST = frozenset("0123456789IVX")
"""A label's number may start with these (any other digit is left to ``LABEL`` itself)."""


def label_at(text: str, position: int, limit: int | None = None) -> Label | None:
    """The section heading that begins at ``position``, if one does.

    A heading is a vocabulary label in title case or capitals, followed by a colon, a dash,
    the end of its line, or (for labels that do not also start ordinary sentences) directly
    by a capitalised word: "Case presentation We report…", "CASE REPORT A 54-year-old…".
    """
    first = text[position : position + 1]
    if not (first.isupper() or first.isdigit()):  # a label, or its number, starts so
        return None
    pattern = LABEL
    if first not in _NUMBER_FIRST and LABEL_PREFIXES is not None:
        pair = text[position : position + 2]
        if pair.isascii():
            if pair.lower() not in LABEL_PREFIXES:
                return None  # most sentences: no label starts with these two letters
            pattern = labels_starting_with(pair.lower())
    match = pattern.match(text, position, len(text) if limit is None else limit)
    if match is None:
        return None
    label = match.group("label")
    if not label[0].isupper():
        return None
    key = label_key(label)
    kind = SECTION_KINDS.get(key)
    if kind is None:
        return None
    after = match.end()
    following = skip_space(text, after)
    # alone on its line: only whitespace up to the next newline or the end. Read up to the first
    # character that is not whitespace (on a page whose newlines were lost, the line is the rest
    # of the page: slicing and stripping it made each label cost as much as the page)
    alone = following >= len(text) or text.find("\n", after, following) >= 0
    colon = (match.group("colon") or "").strip()
    capitals = label.isupper() and len(label) > 3
    if colon in (":", "：", "-", "–", "—") or alone:
        pass
    elif colon == ".":
        if key in WEAK_LABELS and not capitals:
            return None
    else:
        if following >= len(text) or not (text[following].isupper() or text[following].isdigit()):
            return None
        if key in WEAK_LABELS and not capitals:
            return None
    return Label(
        key=key,
        kind=kind,
        start=match.start(),
        end=match.start("label") + len(label),
        body=following,
        numbered=bool(match.group("number")),
        colon=colon in (":", "：", "-", "–", "—"),
    )
