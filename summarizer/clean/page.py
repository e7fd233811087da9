"""From page text to the title and sections of its abstract, with how sure the cleaner is.

Three kinds of input:
- an export record: the text is the abstract; its sections are split, a footer dropped;
- a plain text (no chrome, no "Abstract" heading, no author or citation lines before the
  text): it comes through whole, its first line taken as the title only when it reads as one;
- a page: the abstract is located (see ``locate``), its title found (see ``title``), and,
  when the abstract states no patient's age but the article body does, the first such
  passage of the body is added as a last section marked as taken from the body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import islice

from .locate import (
    FALLBACK_MAX,
    Part,
    Start,
    block_starts,
    collect_parts,
    describes_patient,
    find_end,
    find_heading,
    find_start,
    patient_passage,
    without_tail,
)
from .patterns import (
    MAX_ABSTRACT,
    MIN_WORDS,
    PROSE_MIN_FUNCTION,
    PROSE_MIN_LOWER,
    SHORT_ABSTRACT,
    WORD,
)
from .prose import chrome_in, function_share, lower_share, prose_at, sentence_end, skip_space
from .title import first_line_title, glued_title, leading_title, page_title, title_above

HIGH, MEDIUM, LOW = "high", "medium", "low"


@dataclass(slots=True)
class Found:
    title: tuple[int, int] | None
    parts: list[Part]
    warnings: list[str]
    confidence: str = HIGH


class NoAbstract(Exception):
    """Nothing in the text reads as an abstract; the message says why (one line)."""


def locate_export(text: str) -> Found:
    """An export record's abstract: the whole text, split into sections."""
    start = skip_space(text, 0)
    extent = find_end(text, start, len(text), max_length=None, structural=False)
    parts = collect_parts(text, start, extent)
    return _checked(Found(None, parts, []), text)


def locate_page(
    text: str,
    *,
    known_title: tuple[int, int] | None = None,
    region: tuple[int, int] | None = None,
    always_page: bool = False,
) -> Found:
    """The abstract of a page (or of a plain text), its title and its confidence.

    ``always_page``: the text is a page even with no chrome (a PDF: its front matter,
    authors and affiliations, is never part of the abstract)."""
    low, high = region or (0, len(text))
    chrome = chrome_in(text)
    if region is None and not chrome and not always_page:
        heading = find_heading(text, low, high)
        if _plain(text, heading):
            return _plain_text(text, heading)
    start = find_start(text, low, high, clinical=chrome)
    if start is not None and region is not None and start.how == "prose":
        start.how = "markup"  # the element the page marks up as its abstract
    if start is None and region is not None:
        start = find_start(text, 0, len(text), clinical=chrome)
    if start is None:
        raise NoAbstract(
            "no abstract found: the text is headings, links or names, not sentences"
            if text.strip()
            else "the page is empty"
        )
    warnings: list[str] = []
    title = known_title
    position = start.position
    above = start.heading[0] if start.heading else position
    marked = start.how in ("heading", "label", "markup")
    if start.how == "prose":
        warnings.append("no 'Abstract' heading: took the first prose on the page")
    if title is None:
        title = page_title(text, above) or title_above(text, above)
    if title is None and start.how == "prose":
        title = leading_title(text, position, high) or glued_title(text, position, high)
        if title is not None:
            position = skip_space(text, title[1])
    extent = find_end(text, position, high, max_length=MAX_ABSTRACT if marked else FALLBACK_MAX)
    extent = without_tail(text, position, extent)
    confidence = HIGH if marked else MEDIUM
    if extent.cut:
        warnings.append(f"no end of the abstract found: cut at {extent.end - position} characters")
        confidence = MEDIUM
    parts = collect_parts(text, position, extent)
    if not any(describes_patient(text, s, e) for part in parts for s, e, _ in part.body):
        passage = patient_passage(text, extent.end, len(text))
        if passage is not None:
            parts.append(passage)
            warnings.append(
                "the abstract gives no patient's age: added the first patient passage of the article body"
            )
    if title is None:
        warnings.append("no title found")
    return _checked(Found(title, parts, warnings, confidence), text)


def _plain(text: str, start: Start | None) -> bool:
    """A text with no chrome is plain (kept whole) unless an "Abstract" heading follows
    author, affiliation or citation lines (a page copied without its navigation)."""
    if start is None or start.how != "heading" or start.heading is None:
        return True
    first = skip_space(text, 0)
    heading = start.heading[0]
    if heading <= first or prose_at(text, first, heading):
        return True  # the heading opens the text, or is a label inside it ("SUMMARY: …")
    title = first_line_title(text, first)
    return title is not None and skip_space(text, title[1]) >= heading  # a title, nothing more


def _plain_text(text: str, start: Start | None) -> Found:
    """The whole text: after an opening "Abstract" heading and a title line, if any."""
    position = skip_space(text, 0)
    if start is not None and start.heading is not None and start.heading[0] == position:
        position = start.position
    elif not _reads_as_prose(text, position):
        raise NoAbstract("no abstract found: the text is headings, links or names, not sentences")
    title = first_line_title(text, position)
    if title is not None:
        position = skip_space(text, title[1])
        if start is not None and start.heading is not None and start.heading[0] == position:
            position = start.position  # "Title", then "Abstract" on its own line
    extent = find_end(text, position, len(text), max_length=None, structural=False)
    parts = collect_parts(text, position, extent)
    warnings = [] if title is not None else ["no title found"]
    return _checked(Found(title, parts, warnings, HIGH), text)


def _reads_as_prose(text: str, position: int) -> bool:
    """Sentences somewhere in the first blocks of a plain text (not a list of headings)."""
    if prose_at(text, position):
        return True
    for block in block_starts(text, position, min(len(text), position + 3000))[:20]:
        if prose_at(text, block):
            return True
    window = text[position : position + 2000]
    words = WORD.findall(window)
    lower = sum(word[0].islower() for word in words)
    if len(words) >= 12 and lower >= 0.6 * len(words) and sentence_end(window) is not None:
        return True
    return _one_sentence(text, position)


_SHORT_TEXT = 400
"""A plain text up to this long may be a single sentence ("A middle-aged woman presented
with acute forgetfulness."), too short for ``prose_at``'s window of words."""
_VERB = re.compile(
    r"\b(?<!-)(?:is|are|was|were|has|had|have|did|does|fell|broke|went|came|took|gave|got|saw|"
    r"felt|began|became|grew|ran|lost|ate|drank|bit|hit|shot|underwent|"
    # a verb in -ed, not a participle as titles use them ("induced by", "associated with")
    r"(?!(?:associated|related|based|induced|caused|mediated|isolated|localized|localised|"
    r"acquired|delayed|advanced|disseminated|complicated|unexpected|untreated|unrecognized|"
    r"unrecognised|undiagnosed|missed|repeated|combined|extended|treated|red)\b)[a-z]{2,}ed)"
    r"\b(?![ \t]+by\b)"
)


def _one_sentence(text: str, position: int) -> bool:
    """A short plain text that is one sentence or two: enough words, mostly in lower case
    inside the sentence, a function word, a verb, and a stop at its end (a title or a list of
    headings has no verb or no stop)."""
    rest = text[position:].rstrip()
    if len(rest) > _SHORT_TEXT or not rest.endswith((".", "!", "?")):
        return False
    words = WORD.findall(rest)
    if len(words) < MIN_WORDS or lower_share(words[1:]) < PROSE_MIN_LOWER:
        return False
    if function_share(words) < PROSE_MIN_FUNCTION:
        return False
    return _VERB.search(rest, len(words[0])) is not None


def _checked(found: Found, text: str) -> Found:
    """Refuse what is too little to summarise; mark short abstracts as low confidence."""
    found_words = (
        word for part in found.parts for s, e, _ in part.body for word in WORD.finditer(text, s, e)
    )
    words = sum(1 for _ in islice(found_words, MIN_WORDS))  # enough is enough
    if words < MIN_WORDS:
        raise NoAbstract(
            f"no abstract found: only {words} word(s) of text, too little to summarise"
        )
    abstract_chars = sum(
        e - s for part in found.parts if not part.from_body for s, e, _ in part.body
    )
    if abstract_chars < SHORT_ABSTRACT:
        found.confidence = LOW
        found.warnings.append(f"short text ({abstract_chars} characters): check it is the abstract")
    return found
