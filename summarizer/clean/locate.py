"""Where the abstract is in a page: its start, its end, its sections, and a patient passage
from the article body when the abstract describes none.

The cues are general, not per site:
- the abstract starts at an "Abstract"/"Summary" heading followed by prose (a contents list
  or a navigation tab named "Abstract" is followed by more headings, not sentences), else at
  the first section label followed by prose, else at the first block of prose;
- it ends at the first footer cue (Keywords, PMID, Copyright, References, Similar
  articles…), at an abstract in another language, or where the article body starts again
  (an Introduction after abstract text, a heading repeated, a numbered heading, any heading
  after the conclusion or after unlabelled text).
Only positions where a block may begin (line starts, sentence ends, runs of spaces) are
examined, so a collapsed 16 KB page costs a few hundred small regex matches.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from itertools import islice

from ..ages import AGE_AT_PATTERN, AGE_PATTERN
from .patterns import (
    ABSTRACT_WORD,
    AFTER_CONCLUSION,
    BODY_START_KINDS,
    CHROME_SENTENCE,
    CLINICAL,
    END_CUE,
    FINITE_VERB,
    FOREIGN_ABSTRACT,
    MIN_CLINICAL,
    NOT_ABSTRACT_BEFORE,
    SECTION_KINDS,
    SUPPLEMENT_MAX,
    WORD,
)
from .prose import (
    BOUNDARY,
    Label,
    chrome_at,
    chrome_spans,
    is_chrome,
    label_at,
    label_key,
    last_sentence_end,
    lowered,
    prose_at,
    sentence_end,
    sentence_ends,
    skip_space,
)

BODY_KINDS = frozenset({"case", "results", "discussion", "conclusion"})
"""Sections after which a background/introduction heading means the article body began."""
START_KINDS = frozenset({"background", "objective", "case", "methods", "other"})
"""Label kinds an abstract may open with."""
FALLBACK_SCAN = 15000
"""With no abstract heading, prose is looked for in this many characters from the top."""
FALLBACK_MAX = 5000
"""An abstract found only as the first prose on a page is cut near this many characters."""

_FOOTER_WORDS = ("References", "REFERENCES", "Bibliography", "Similar articles", "Cited by",
                 "MeSH terms", "Publication type", "Full text links", "Literature cited")  # fmt: skip
"""Where the article body ends: a patient passage is looked for before it (found with
``str.find``: a regex alternation over a 90 KB page takes ~2 ms)."""
_FOOTER_WORD_END = re.compile(r"s?(?![\w-])")
_LINE_BREAK = re.compile(r"(?:\r\n|\n)[ \t\r]*(\n)?")
"""A line break and the blank space after it, with the second newline of a blank line."""


@dataclass(slots=True)
class Part:
    """A section found in the page: its heading span and body spans (page-text indices)."""

    kind: str
    heading: tuple[int, int] | None
    body: list[tuple[int, int, bool]] = field(default_factory=list)
    """(start, end, new_paragraph)"""
    from_body: bool = False
    """Taken from the article body (a patient passage), not from the abstract."""


@dataclass(slots=True)
class Start:
    position: int
    """Where the abstract text (or its first label) begins."""
    how: str
    """heading | label | prose | markup (inside the element a page marks as its abstract)"""
    heading: tuple[int, int] | None = None
    """The "Abstract" heading's span, when there is one."""


def boundaries(text: str, start: int, end: int) -> Iterator[int]:
    """Positions in [start, end) where a heading or a cue may begin, in order."""
    yield skip_space(text, start, end)
    for match in BOUNDARY.finditer(text, start, end):
        yield match.end()


def block_starts(text: str, start: int, end: int) -> list[int]:
    """Where blocks begin: line starts, after runs of spaces, after a chrome phrase, at a
    label with a colon ("…man BACKGROUND: …"). Found with literal scans where they can be."""
    found = {skip_space(text, start, end)}
    for gap in ("\n", "  ", "\t"):
        position = text.find(gap, start, end)
        while position >= 0:
            after = skip_space(text, position, end)
            found.add(after)
            position = text.find(gap, after, end)
    for _, chrome_end in chrome_spans(text, start, end):
        found.add(skip_space(text, chrome_end, end))
    colon = text.find(":", start, end)
    while colon >= 0:
        label = _label_before(text, colon, start)
        if label is not None:
            found.add(label)
        colon = text.find(":", colon + 1, end)
    return sorted(position for position in found if position < end)


def _label_before(text: str, colon: int, floor: int) -> int | None:
    """Where a section label ending at ``colon`` begins ("CASE DESCRIPTION:"), if one does."""
    low = max(floor, colon - 50)
    for word in re.finditer(r"(?<![\w-])[A-Z]", text[low:colon]):
        position = low + word.start()
        label = label_at(text, position)
        if label is not None and label.colon and text.find(":", label.end) == colon:
            return position
    return None


def find_start(text: str, start: int, end: int, *, clinical: bool = False) -> Start | None:
    """Where the abstract begins in text[start:end] (see the module doc); with ``clinical``,
    prose found without a heading must read as clinical text."""
    return (
        find_heading(text, start, end)
        or _first_prose(text, start, end, clinical=clinical)
        or find_heading(text, start, end, FOREIGN_ABSTRACT)  # a page with no English one
    )


def find_heading(
    text: str, start: int, end: int, heading: re.Pattern[str] = ABSTRACT_WORD
) -> Start | None:
    """The first "Abstract" heading in text[start:end] that prose follows (after at most one
    section label), not a navigation tab or a contents list."""
    for position in _candidates(text, start, end, heading):
        match = heading.match(text, position, end)
        if match is None or not _heading_position(text, position) or _inside_label(text, position):
            continue
        after = skip_space(text, match.end(), end)
        label = label_at(text, after, end)
        if prose_at(text, label.body if label else after, end) or (
            label is not None and _sentence_before_next_label(text, label.body, end)
        ):
            return Start(after, "heading", (match.start(), match.end()))
    return None


def _sentence_before_next_label(text: str, position: int, end: int) -> bool:
    """After "Abstract Background": a sentence before the next label (a contents list runs
    from label to label: "Abstract Introduction Case presentation Discussion …")."""
    if label_at(text, position, end) is not None:
        return False
    sentence = sentence_end(text, position, min(end, position + 400))
    if sentence is None:
        return False
    for boundary in boundaries(text, position, sentence[0]):
        if boundary > position and label_at(text, boundary, end) is not None:
            return False
    return len(WORD.findall(text, position, sentence[1])) >= 6


_HEADING_WORDS = {
    id(ABSTRACT_WORD): ("Abstract", "ABSTRACT", "Summary", "SUMMARY", "Structured", "STRUCTURED",
                        "Author", "AUTHOR"),
    id(FOREIGN_ABSTRACT): ("RESUMO", "Resumo", "RESUMEN", "Resumen", "Résumé", "RÉSUMÉ",
                           "Zusammenfassung", "ZUSAMMENFASSUNG", "Riassunto", "RIASSUNTO",
                           "Samenvatting", "SAMENVATTING"),
}  # fmt: skip
"""The first words of each heading pattern: found with ``str.find`` (a literal scan is
several times faster than running the pattern over the page)."""


_CANDIDATE_WINDOW = 4096
"""Headings are looked for a window at a time: most pages have theirs in the first one."""


def _candidates(text: str, start: int, end: int, heading: re.Pattern[str]) -> Iterator[int]:
    """Where a word of ``heading`` begins in text[start:end], in order."""
    words = _HEADING_WORDS[id(heading)]
    for low in range(start, end, _CANDIDATE_WINDOW):
        found: list[int] = []
        for word in words:
            stop = min(end, low + _CANDIDATE_WINDOW + len(word) - 1)  # a word starting inside
            position = text.find(word, low, stop)
            while position >= 0:
                found.append(position)
                position = text.find(word, position + 1, stop)
        yield from sorted(found)


def _first_prose(text: str, start: int, end: int, *, clinical: bool) -> Start | None:
    """The first block that opens with a section label and prose, or with prose (looked
    for in the first few thousand characters, then in the rest of the scan)."""
    near = min(end, start + 5000)
    return _prose_in(text, start, near, end, clinical=clinical) or (
        _prose_in(text, near, min(end, start + FALLBACK_SCAN), end, clinical=clinical)
        if near < end
        else None
    )


def _prose_in(text: str, start: int, stop: int, end: int, *, clinical: bool) -> Start | None:
    blocks = block_starts(text, start, stop)
    for index, block in enumerate(blocks):
        position = _past_chrome_sentences(text, block, end)
        if position is None:
            continue
        label = label_at(text, position, end)
        if label is not None:
            if label.kind in START_KINDS and not label.numbered and prose_at(text, label.body, end):
                return Start(position, "label")
            continue
        if prose_at(text, position, end) and (not clinical or _clinical(text, position, end)):
            if _label_before_sentence_end(text, position, blocks[index + 1 :], end):
                continue  # a title run on into "BACKGROUND: …": the label opens the abstract
            return Start(_past_summary(text, position, end), "prose")
    return None


_SUMMARY_LABEL = re.compile(r"TL;?DR\b[ \t]*:?")
"""A site's one-sentence summary of the paper, shown before its abstract ("TLDR")."""


def _past_summary(text: str, position: int, end: int) -> int:
    """``position``, or past the label and the one sentence of a site's summary there."""
    label = _SUMMARY_LABEL.match(text, position, end)
    if label is None:
        return position
    sentence = sentence_end(text, label.end(), min(end, label.end() + 600))
    return skip_space(text, sentence[1], end) if sentence else position


def _past_chrome_sentences(text: str, position: int, end: int, most: int = 3) -> int | None:
    """``position``, or past the sentences there that are a footer or site notice ("Copyright
    © …", "This article has been cited by other articles…"); None when the block is chrome
    (a chrome phrase's end is a block start of its own)."""
    for _ in range(most):
        if chrome_at(text, position, end):
            return None
        window_end = min(end, position + 300)
        sentence = sentence_end(text, position, window_end)
        newline = text.find("\n", position, window_end)
        stops = [stop for stop in (sentence[1] if sentence else -1, newline) if stop >= 0]
        stop = min(stops) if stops else -1
        if not (
            END_CUE.match(text, position, end)
            or CHROME_SENTENCE.search(lowered(text, position, stop if stop >= 0 else window_end))
        ):
            return position
        if stop < 0:
            return None
        position = skip_space(text, stop, end)
    return None


def _clinical(text: str, position: int, end: int) -> bool:
    """Two sentences or more, in one block, with clinical words in the first three: not a
    journal's one-line "about" paragraph, nor a list of article titles."""
    stop = min(end, position + 800)
    newline = text.find("\n", position, stop)
    stop = newline if newline >= 0 else stop
    sentences = list(islice(sentence_ends(text, position, stop), 3))
    if len(sentences) < 2:
        return False
    found = CLINICAL.finditer(text, position, sentences[-1])
    return len({match.group().lower() for match in found}) >= MIN_CLINICAL


def _inside_label(text: str, position: int) -> bool:
    """ "SUMMARY" of "CASE SUMMARY": the word before makes a longer section label."""
    before = text[max(0, position - 30) : position].split()
    if not before:
        return False
    return label_key(f"{before[-1]} {text[position : position + 7]}") in SECTION_KINDS


def _label_before_sentence_end(text: str, position: int, later: list[int], end: int) -> bool:
    sentence = sentence_end(text, position, end)
    stop = sentence[0] if sentence else end
    for block in later:
        if block >= stop:
            return False
        if label_at(text, block, end) is not None:
            return True
    return False


def _heading_position(text: str, position: int) -> bool:
    """An "Abstract" heading stands alone: at the start or after whitespace, and not as the
    second word of "Graphical abstract" or "No abstract available"."""
    if position == 0:
        return True
    if not text[position - 1].isspace():
        return False
    before = text[max(0, position - 12) : position].split()
    return not before or before[-1].lower() not in NOT_ABSTRACT_BEFORE


@dataclass(slots=True)
class Extent:
    end: int
    labels: list[Label]
    cut: bool = False
    """No end cue: cut at the length limit."""


def find_end(
    text: str, start: int, limit: int, *, max_length: int | None, structural: bool = True
) -> Extent:
    """Where the abstract that begins at ``start`` ends, and its section labels.

    Footer cues always end it; ``structural`` adds the ends that the article body's
    headings make (on a page; a plain text or an export record is kept whole)."""
    labels: list[Label] = []
    seen: set[str] = set()
    hard_limit = limit if max_length is None else min(limit, start + max_length)
    for position in boundaries(text, start, hard_limit):
        if position > start and _ends_here(text, position, limit):
            return Extent(position, labels)
        label = label_at(text, position, limit)
        if label is None:
            if structural and _unknown_heading(text, position, limit, labels, start):
                return Extent(position, labels)
            continue
        anchor = labels[-1].body if labels else start
        if labels and position == labels[-1].body and labels[-1].colon:
            continue  # "DESIGN: Case study." - the text of the label before, not a label
        if structural and text[anchor:position].strip():  # the abstract already has text
            if label.numbered or label.key in seen:
                return Extent(position, labels)
            kinds = {earlier.kind for earlier in labels}
            body_starts = (
                (not labels and label.key not in AFTER_CONCLUSION)  # a heading after plain text
                or (label.kind in BODY_START_KINDS and kinds & BODY_KINDS)  # Introduction again
                or (  # after a closing conclusion (a first "Key message" is an opening)
                    len(labels) >= 2
                    and labels[-1].kind == "conclusion"
                    and label.key not in AFTER_CONCLUSION
                )
            )
            if body_starts and prose_at(text, label.body, limit):
                return Extent(position, labels)
        labels.append(label)
        seen.add(label.key)
    if hard_limit < limit:
        return Extent(_last_sentence_end(text, start, hard_limit), labels, cut=True)
    return Extent(limit, labels)


_CAPITALS_HEADING = re.compile(
    r"(?:[A-Z][A-Z0-9'’-]*[ \t]+(?:&[ \t]+|AND[ \t]+|OF[ \t]+)?){0,5}[A-Z][A-Z0-9'’-]*"
    r"(?=[ \t]+[A-Z][a-z])"
)


def _unknown_heading(text: str, position: int, limit: int, labels: list[Label], start: int) -> bool:
    """A heading in capitals that is not in the vocabulary ("HISTORY", "CLINICAL COURSE"),
    followed by a sentence, after unlabelled abstract text or after a conclusion: the body
    has started."""
    match = _CAPITALS_HEADING.match(text, position, limit)
    if match is None or sum(c.isalpha() for c in match.group()) < 6:
        return False
    if labels and labels[-1].kind != "conclusion":
        return False
    anchor = labels[-1].body if labels else start
    return bool(text[anchor:position].strip()) and prose_at(
        text, skip_space(text, match.end(), limit), limit
    )


def _ends_here(text: str, position: int, limit: int) -> bool:
    if END_CUE.match(text, position, limit) is not None:
        return True
    if chrome_at(text, position, limit) is not None:
        return True
    foreign = FOREIGN_ABSTRACT.match(text, position, limit)
    return foreign is not None and prose_at(text, skip_space(text, foreign.end(), limit), limit)


_AGE_HINT = re.compile(r"old\b|aged?\b")
"""Where an age may be written ("63-year-old", "aged 63", "at the age of 3"): the age
patterns are tried around these only (they are slow to run over a whole page)."""


_AGE_WINDOW = 4096


def _ages(text: str, start: int, end: int) -> Iterator[re.Match[str]]:
    """Age phrases in text[start:end], in order (read a window at a time: a caller that wants
    the first does not pay for lowering the rest of a long page)."""
    for low_start in range(start, end, _AGE_WINDOW):
        low_end = min(end, low_start + _AGE_WINDOW)
        low = lowered(text, low_start, min(end, low_end + 8))  # past "old": its \b
        for hint in _AGE_HINT.finditer(low):
            position = low_start + hint.start()
            if position >= low_end:
                break  # the next window's
            if low.startswith("old", hint.start()):
                found = AGE_PATTERN.search(text, max(start, position - 40), min(end, position + 4))
            else:
                found = AGE_AT_PATTERN.search(text, position, min(end, position + 40))
            if found is not None:
                yield found


_NOTICE_REACH = 500
"""How far before an abstract's end a licence or site notice is looked for."""
_TAIL_MOST = 200
"""How long the words after an abstract's last sentence may be to be dropped as the page's."""
_LABELLED = re.compile(r":\s*\S")
"""A label with its text ("Trial registration: NCT…"): an abstract's own last section."""


def without_tail(text: str, start: int, extent: Extent) -> Extent:
    """What a page put after its abstract that no cue ended: a licence or site-notice sentence
    ("… is an Open Access journal distributed under the Creative Commons …"), from there on;
    then words after the last stop that make no sentence (an author and journal line, "Issue
    Section:"). A last sentence without its stop (it has a verb) and a label with its text
    ("Trial registration: NCT…") stay."""
    near_end = max(start, extent.end - _NOTICE_REACH)  # a notice comes last: look there only
    notice = CHROME_SENTENCE.search(lowered(text, near_end, extent.end))
    if notice is not None:
        sentence = last_sentence_end(text, start, near_end + notice.start())
        if sentence is not None:  # not in the first sentence: that one is the abstract's
            extent = replace(extent, end=sentence)
    last = last_sentence_end(text, start, extent.end)
    if last is None or (extent.labels and extent.labels[-1].start >= last):
        return extent
    tail = text[last : extent.end].strip()
    if not tail or len(tail) > _TAIL_MOST or FINITE_VERB.search(tail) or _LABELLED.search(tail):
        return extent
    return replace(extent, end=last)


def _last_sentence_end(text: str, start: int, end: int) -> int:
    best = last_sentence_end(text, start, end)
    return best if best is not None and best > start + (end - start) // 2 else end


def collect_parts(text: str, start: int, extent: Extent) -> list[Part]:
    """The sections of text[start:extent.end]: unlabelled text first, then one per label."""
    parts: list[Part] = []
    edges = [*extent.labels]
    first_label = edges[0].start if edges else extent.end
    if text[start:first_label].strip():
        parts.append(Part("other", None, _pieces(text, start, first_label)))
    for index, label in enumerate(edges):
        stop = edges[index + 1].start if index + 1 < len(edges) else extent.end
        heading = (label.start, label.end)
        parts.append(Part(label.kind, heading, _pieces(text, label.body, stop)))
    return [part for part in parts if part.body]


def _pieces(text: str, start: int, end: int) -> list[tuple[int, int, bool]]:
    """Stripped lines of text[start:end]; a blank line before one starts a paragraph."""
    pieces: list[tuple[int, int, bool]] = []
    position = start
    paragraph = False
    # every line break holds a "\n": a text without one (a page whose newlines were lost) is
    # one line, known from a literal scan rather than from the pattern tried at each character
    breaks = _LINE_BREAK.finditer(text, start, end) if text.find("\n", start, end) >= 0 else ()
    for match in breaks:
        _add_piece(text, position, match.start(), paragraph, pieces)
        paragraph = match.group(1) is not None
        position = match.end()
    _add_piece(text, position, end, paragraph, pieces)
    return pieces


def _add_piece(
    text: str, start: int, end: int, paragraph: bool, pieces: list[tuple[int, int, bool]]
) -> None:
    segment = text[start:end]
    stripped = segment.strip()
    if not stripped or is_chrome(text, start + len(segment) - len(segment.lstrip()), end):
        return
    left = start + len(segment) - len(segment.lstrip())
    pieces.append((left, left + len(stripped), paragraph and bool(pieces)))


def describes_patient(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] states a patient's age (the cue that the case is described)."""
    return next(_ages(text, start, end), None) is not None


def patient_passage(text: str, start: int, end: int) -> Part | None:
    """The first passage of the article body after ``start`` that describes a patient: from
    the sentence that gives an age, up to ``SUPPLEMENT_MAX`` characters, ending at a sentence."""
    zone_end = _footer_start(text, start, end)
    for match in _ages(text, start, zone_end):
        sentence = _sentence_start(text, match.start(), start)
        if not prose_at(text, sentence, zone_end):
            continue
        stop = min(zone_end, sentence + SUPPLEMENT_MAX)
        extent = find_end(text, sentence, stop, max_length=None)
        finish = extent.end if extent.end < stop else _last_sentence_end(text, sentence, stop)
        pieces = _pieces(text, sentence, finish)
        if pieces:
            return Part("case", None, pieces, from_body=True)
    return None


def _footer_start(text: str, start: int, end: int) -> int:
    """Where the first footer heading ("References", "Similar articles") begins, or ``end``."""
    first = end
    for word in _FOOTER_WORDS:
        position = text.find(word, start, min(end, first + len(word) - 1))  # starts before first
        while position >= 0:
            after = position + len(word)
            ending = _FOOTER_WORD_END.match(text, after, end)
            if ending is not None and (ending.end() == after or word.endswith("type")):
                first = position
                break
            position = text.find(word, position + 1, min(end, first + len(word) - 1))
    return first


def _sentence_start(text: str, position: int, floor: int) -> int:
    """Start of the sentence holding ``position`` (after the previous sentence end or label)."""
    low = max(floor, position - 400)
    best = low
    for match in BOUNDARY.finditer(text, low, position):
        best = match.end()
    label = label_at(text, best)
    if label is not None and label.body <= position:
        return label.body
    return skip_space(text, best)
