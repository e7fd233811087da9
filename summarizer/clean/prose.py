"""Small tests on raw page text: is this prose, is this a heading, where may a block begin.

Each works at one position of the text and reads at most a few hundred characters, so the
cleaner's cost grows with the number of places it looks at, not with the page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .patterns import (
    CHROME_PHRASE,
    FUNCTION_WORDS,
    LABEL,
    PROSE_MIN_FUNCTION,
    PROSE_MIN_LOWER,
    PROSE_MIN_LOWER_HEAD,
    PROSE_MIN_WORDS,
    PROSE_WINDOW,
    SECTION_KINDS,
    SENTENCE_END,
    WEAK_LABELS,
)


def lowered(text: str, start: int = 0, end: int | None = None) -> str:
    """text[start:end] in lower case with every index unchanged (chrome is matched on it: a
    case-insensitive regex is several times slower). A character whose lower case is longer
    ("İ") is kept as it is."""
    piece = text[start:end]
    low = piece.lower()
    if len(low) == len(piece):
        return low
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in piece)


_CHROME_REACH = 130
"""The longest chrome phrase, with room for runs of spaces inside it."""


def chrome_at(text: str, position: int, end: int | None = None) -> re.Match[str] | None:
    """The chrome phrase that begins at ``position`` (its span is relative to ``position``)."""
    stop = len(text) if end is None else end
    return CHROME_PHRASE.match(lowered(text, position, min(stop, position + _CHROME_REACH)))


def chrome_in(text: str, start: int = 0, end: int | None = None) -> bool:
    """Whether a chrome phrase occurs in text[start:end]."""
    return CHROME_PHRASE.search(lowered(text, start, end)) is not None


def chrome_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    low = lowered(text, start, end)
    return [(start + m.start(), start + m.end()) for m in CHROME_PHRASE.finditer(low)]


def is_chrome(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] is one chrome phrase and nothing else."""
    match = chrome_at(text, start, end)
    return match is not None and not text[start + match.end() : end].strip()


BOUNDARY = re.compile(r"(?:\n|[.!?:;)\]\"'”’][ \t]+|[ \t]{2,})[ \t\r\n]*(?=\S)")
"""The end of something a heading may follow: a newline, a sentence end, a run of spaces."""


def skip_space(text: str, position: int, limit: int | None = None) -> int:
    end = len(text) if limit is None else limit
    while position < end and text[position].isspace():
        position += 1
    return position


def lower_share(words: list[str]) -> float:
    return sum(word[0].islower() for word in words) / len(words) if words else 0.0


def function_share(words: list[str]) -> float:
    return sum(word.lower() in FUNCTION_WORDS for word in words) / len(words) if words else 0.0


_TOKEN = re.compile(r"([.!?:;][\s\"'”’)]+)?([^\W\d_][\w'’-]*)")


def prose_at(text: str, position: int, limit: int | None = None) -> bool:
    """Whether sentences start at ``position``: inside sentences, words mostly start in lower
    case and function words are frequent; a run of capitalised links, headings or names is
    neither."""
    end = min(len(text) if limit is None else limit, position + PROSE_WINDOW)
    window = text[position:end]
    if chrome_at(text, position, end):
        return False
    line_end = window.find("\n")
    if 0 <= line_end < 250 and SENTENCE_END.search(window, 0, line_end + 1) is None:
        return False  # a short line with no sentence in it: a title, a heading, a link
    head = _TOKEN.findall(window, 0, 120)  # most candidates fail on their first words
    if len(head) > 4 and lower_share([word for start, word in head[1:] if not start]) < 0.4:
        return False
    tokens = _TOKEN.findall(window)
    if len(tokens) < PROSE_MIN_WORDS:
        return False
    inside = [word for start, word in tokens[1:] if not start]  # not a sentence's first word
    if lower_share(inside[:12]) < PROSE_MIN_LOWER_HEAD or lower_share(inside) < PROSE_MIN_LOWER:
        return False
    if function_share([word for _, word in tokens]) < PROSE_MIN_FUNCTION:
        return False
    return len(tokens) >= 40 or SENTENCE_END.search(window) is not None


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


def label_at(text: str, position: int, limit: int | None = None) -> Label | None:
    """The section heading that begins at ``position``, if one does.

    A heading is a vocabulary label in title case or capitals, followed by a colon, a dash,
    the end of its line, or (for labels that do not also start ordinary sentences) directly
    by a capitalised word: "Case presentation We report…", "CASE REPORT A 54-year-old…".
    """
    match = LABEL.match(text, position, len(text) if limit is None else limit)
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
    line_end = text.find("\n", after)
    alone = not text[after : line_end if line_end >= 0 else len(text)].strip()
    colon = (match.group("colon") or "").strip()
    capitals = label.isupper() and len(label) > 3
    if colon in (":", "：", "-", "–", "—") or alone:
        pass
    elif colon == ".":
        if key in WEAK_LABELS and not capitals:
            return None
    else:
        following = skip_space(text, after)
        if following >= len(text) or not (text[following].isupper() or text[following].isdigit()):
            return None
        if key in WEAK_LABELS and not capitals:
            return None
    return Label(
        key=key,
        kind=kind,
        start=match.start(),
        end=match.start("label") + len(label),
        body=skip_space(text, after),
        numbered=bool(match.group("number")),
        colon=colon in (":", "：", "-", "–", "—"),
    )
