"""The article title: the page's own title found again as its heading, else the title-like
block right above the abstract (past author lists, affiliations, citation and date lines).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import islice, pairwise

from .patterns import (
    ABSTRACT_WORD,
    AFFILIATION,
    ARTICLE_TYPE,
    AUTHOR_MARK,
    CHROME_SENTENCE,
    CITATION,
    DATE_LINE,
    END_CUE,
    ENGLISH_WORDS,
    FINITE_VERB,
    FOREIGN_ABSTRACT,
    FUNCTION_WORDS,
    NAV_WORDS,
    OTHER_WORDS,
    PRE_ABSTRACT,
    TITLE_CUT,
    TITLE_CUT_BEFORE,
    WORD,
)
from .prose import (
    chrome_at,
    chrome_spans,
    is_chrome,
    label_at,
    lower_share,
    lowered,
    sentence_end,
    sentence_ends,
    skip_space,
)

TITLE_REGION = 2500
"""How far above the abstract the title is looked for."""
_BLOCK_GAP = re.compile(r"\n|[ \t]{2,}")
_AUTHOR_MARKERS = re.compile(r"\b(?:et al\.?|and\s+colleagues|email author)\b", re.I)
_AUTHOR_ADDRESS = re.compile(
    r"\b(?:av\.|avenida|avenue|street|rua|calle|road|blvd|boulevard|suite|p\.?\s?o\.?\s+box|cep"
    r"|zip\s+code|floor)\b|\b\d{4,6}\b(?=[^\d]*$)",
    re.I,
)
"""A postal address (a street word, or a four-to-six-digit number at the end)."""
_MARKERS = re.compile(r"\b(?:et al\.?|and\s+colleagues|email author)\b", re.I)
_NAME = re.compile(
    r"\s*(?:and\s+|&\s*)?[A-ZÀ-Ý][\w'’.-]*\.?(?:\s+(?:[A-ZÀ-Ý][\w'’.-]*\.?|van|von|de|da|do|dos"
    r"|del|der|di|la|le|el|y|bin|ibn)){0,4}\s*[\d,*†‡§¶#a-f ]*\s*$"
)
_AUTHOR_TAIL = re.compile(
    r"(?:\s+(?:[A-ZÀ-Ý][\w'’.-]+\s+){1,3}[A-ZÀ-Ý][\w'’-]+(?:\s?\d+(?:\s?,\s?\d+)*)?\s?(?:,|&|\band\b))+"
    r"(?:\s*(?:and|&))?\s+(?:[A-ZÀ-Ý][\w'’.-]+\s+){1,3}[A-ZÀ-Ý][\w'’-]+(?:\s?\d+(?:\s?,\s?\d+)*)?\s*$"
)
_NAMES_START = re.compile(
    r"(?<=[a-z)\]])(?<!\band)(?<!\bor)\s+(?=[A-ZÀ-Ý][a-zà-ÿ'’-]+(?:\s+[A-Z]\.?|\s+(?:van|von|de|da|del|der|di|le|la)){0,2}"
    r"\s+[A-ZÀ-Ý][a-zà-ÿ'’-]+"
    r"(?:\s*\d+(?:\s*,\s*\d+)*\s*)?(?:\s*[,*†‡]|\s+and\s|\s+Email\b|\s+\d|\s*$))"
)
"""Where an author list begins after a title on a collapsed page ("…literature Udeme E
Ekrikpo 1 Email author, …"): a name, a name with initials, then a digit, comma or "and"."""
_CASE_REPORT_SUFFIX = re.compile(
    r"[.:]\s+(?:a\s+)?(?:case\s+(?:report|series|study)|report\s+of\s+(?:a|two|three)\s+cases?)"
    r"[^.]{0,80}\.?\s*$",
    re.I,
)


_TITLE_WORD = re.compile(r"\w+")
_CONTACT = re.compile(
    r"\s*(?:phone|tel|telephone|fax|e-?mail|address\s+for\s+correspondence|correspondence|"
    r"corresponding\s+author)\b",
    re.I,
)


def page_title(text: str, before: int) -> tuple[int, int] | None:
    """The title a scraper put at the top of the page ("Title | Journal | Full Text",
    "Title - PubMed - NCBI", "Journal | Free Full-Text | Title"), taken where the page
    repeats it as its heading: the longest run of words that the top of the page (or one
    of its "|"-separated parts) and a later place share, ending where either of the two
    ends as a title does (a site separator, a run of spaces, a line end)."""
    head = skip_space(text, 0)
    if chrome_at(text, head):
        return None
    line_end = _FIRST_BLOCK_END.search(text, head, head + 600)
    stop = line_end.start() if line_end else min(len(text), head + 600)
    words = _TopWords(text, head)
    starts = [head] + [skip_space(text, bar.end()) for bar in _BAR.finditer(text, head, stop)]
    label = _SITE_LABEL.match(text, head, stop)
    if label is not None:  # "Full article: Title": the title repeated without the label
        starts.insert(1, label.end())
    for start in starts:
        found = _repeated_run(text, words, start, max(before, start + 1))
        if found is not None:
            return found
    return None


_TOP_WORDS = 60
"""How many words at the top of the page a title may take."""


class _TopWords:
    """The first ``_TOP_WORDS`` words of the page, read only as far as they are asked for: a
    title is a dozen words, and reading each costs about as much as a short regex search."""

    __slots__ = ("_matches", "_read")

    def __init__(self, text: str, head: int) -> None:
        self._matches = islice(_TITLE_WORD.finditer(text, head), _TOP_WORDS)
        self._read: list[tuple[str, int, int]] = []
        """(word, start, end) of the words read so far."""

    def after(self, start: int) -> Iterator[tuple[str, int]]:
        """(word, end) of each of the words that begins at or after ``start``, in order."""
        index = 0
        while True:
            if index == len(self._read):
                match = next(self._matches, None)
                if match is None:
                    return
                self._read.append((match.group(), match.start(), match.end()))
            word, begin, end = self._read[index]
            index += 1
            if begin >= start:
                yield word, end


_JOURNAL = re.compile(
    r"\b(?:journal|case\s+reports\s+in|reports\s*$|annals|archives|bulletin)\b", re.I
)
_FIRST_BLOCK_END = re.compile(r"\s{2,}|\n")
_SITE_LABEL = re.compile(
    r"(?:\[[^\]\n]{1,12}\]|\([^)\n]{1,12}\)|(?i:full[ -]?(?:text|article)|article|abstract|pdf)\s*:)\s+"
)
"""A site's label before the title at the top ("Full article: ", "[PDF] ", "(PDF) ")."""
_BAR = re.compile(r"\s[|│]\s")


def _repeated_run(text: str, words: _TopWords, start: int, limit: int) -> tuple[int, int] | None:
    """Where the top words from ``start`` on appear again before ``limit``, as a title."""
    first_two = list(islice(words.after(start), 2))
    if len(first_two) < 2:
        return None
    (first, _), (second, second_end) = first_two
    for again in _word_pairs(text, first, second, second_end, limit):
        ends: list[tuple[int, int]] = []  # (end in the first place, end in the later place)
        for (word, first_end), match in zip(
            words.after(start), _TITLE_WORD.finditer(text, again, limit), strict=False
        ):
            if match.group() != word or (ends and match.start() - ends[-1][1] > 6):
                if word.startswith(match.group()) and _ELLIPSIS.match(text, match.end()):
                    ends = []  # a title cut short ("… by Sodium-G ...", a breadcrumb): not it
                break
            ends.append((first_end, match.end()))
        for shared in range(len(ends), 1, -1):
            first_end, later_end = ends[shared - 1]
            diverged = shared == len(ends) and shared >= 5  # two headings, same words, then apart
            if not (
                _TITLE_END.match(text, first_end)
                or _TITLE_END.match(text, later_end)
                or chrome_at(text, skip_space(text, first_end))
                or (diverged and not _JOURNAL.search(text, again, later_end))
            ):
                continue
            closing = _CLOSING.match(text, first_end)
            end = _with_closing(text, later_end, closing.group() if closing else "")
            if _title_words(text[again:end]):
                return again, end
            break
    return None


_NON_WORDS = re.compile(r"\W{1,7}")
_ELLIPSIS = re.compile(r"\s*(?:\.{2,}|…)")


def _word_pairs(text: str, first: str, second: str, start: int, limit: int) -> Iterator[int]:
    """Where ``first``, one to six non-word characters and ``second`` occur in
    text[start:limit] (what a pattern ``first\\W{1,6}second`` finds, without compiling one
    for each page: the words are runs of word characters)."""
    position = text.find(first, start, limit)
    while position >= 0:
        gap = _NON_WORDS.match(text, position + len(first), limit)
        after = gap.end() if gap is not None else -1
        if gap is not None and after - gap.start() <= 6 and text.startswith(second, after, limit):
            yield position
            position = text.find(first, after + len(second), limit)
        else:
            position = text.find(first, position + 1, limit)


_TITLE_END = re.compile(
    r"[.?!\])]{0,3}(?:\s*$|\s*[|│]|\s+[-–—:]\s|\s{2,}|\s*\n|\s+(?=Warning:|Skip to))"
)
"""What follows the title at the top of a page: a site separator, a line end, spaces."""


_CLOSING = re.compile(r"[.?!\])]+")


def _with_closing(text: str, end: int, closing: str) -> int:
    """Keep the closing period and brackets the repeated title carries ("…literature].")."""
    while closing and text[end : end + 1] == closing[0]:
        end, closing = end + 1, closing[1:]
    return end


def _gap(text: str, end: int, start: int) -> bool:
    """Words of one title are never separated by a line of other text."""
    return start - end > 6


_GLUED = re.compile(r"[a-z]{3}[A-Z][a-z]{2}")
"""Two words run together ("emailShare"): link texts of a menu that a scraper joined."""


def _title_words(text: str) -> bool:
    if not 10 <= len(text) <= 400 or len(text.split()) < 2:
        return False
    if "://" in text or "www." in text or "@" in text or chrome_at(text, 0):
        return False
    if len(_GLUED.findall(text)) >= 2:  # a row of links; a title may hold one ("GlaxoSmith")
        return False
    words = [word.lower() for word in WORD.findall(text)]
    content = [word for word in words if word not in FUNCTION_WORDS]
    if not content:
        return False
    return sum(word in NAV_WORDS for word in content) < 0.5 * len(content)


def foreign(text: str) -> bool:
    """More short words of another language than of English (a translated title)."""
    words = text.lower().split()
    other = sum(word in OTHER_WORDS for word in words)
    return other >= 2 and other > sum(word in ENGLISH_WORDS for word in words)


_ADDRESS = re.compile(
    r"\b(?:av\.|avenida|avenue|street|rua|calle|road|blvd|boulevard|suite|p\.?\s?o\.?\s+box|cep"
    r"|zip\s+code|floor)\b|\b\d{4,6}\b(?=[^\d]*$)",
    re.I,
)
"""A postal address (a street word, or a four-to-six-digit number at the end)."""
_MARKERS = re.compile(r"[\d*†‡§¶#]+")


def looks_like_authors(text: str) -> bool:
    if _AUTHOR_MARKERS.search(text):
        return True
    parts = [_MARKERS.sub(" ", part).strip(" .") for part in re.split(r",|;|\band\b|&", text)]
    parts = [part for part in parts if part]
    if len(parts) < 2:
        return bool(
            re.fullmatch(
                r"(?:[A-ZÀ-Ý][\w'’.-]*\.?\s+|(?:van|von|de|da|del|der|di|le|la)\s+){1,4}"
                r"[A-ZÀ-Ý][\w'’-]+\s*[\d*†‡,.\s]+",
                text,
            )
        )
    names = sum(1 for part in parts if _NAME.match(part) and len(part.split()) <= 5)
    return names >= 0.7 * len(parts)


def looks_like_meta(text: str) -> bool:
    """Authors, affiliations, contact, citation, identifier, licence and date lines."""
    text = text.lstrip(" ;,.:|-")
    if CITATION.search(text) or looks_like_authors(text) or DATE_LINE.match(text):
        return True
    if _CONTACT.match(text) or CHROME_SENTENCE.search(lowered(text)) or _ADDRESS.search(text):
        return True
    if re.match(r"\d{1,2}\.?\s+[A-ZÀ-Ý]", text):
        return True  # "3. Hematology and Oncology, …": a numbered affiliation
    affiliations = len(AFFILIATION.findall(text))
    return affiliations >= 2 or (
        affiliations == 1
        and (text.count(",") >= 2 or text[:1].isdigit() or len(text.split()) <= 12)
    )


_NOT_A_TWO_WORD_TITLE = frozenset(
    """article report reports study image images letter letters review editorial commentary
    communication communications case cases series brief short original research clinical
    correspondence perspective news rapid online early version""".split()
)
"""Words of the two-word labels a page sets above an abstract ("Original article", "Brief
report", "Clinical case"), which are no title."""


def _two_word_title(words: list[str]) -> bool:
    """A plain two-word title in sentence case ("Dermatitis herpetiformis", "Scrub typhus"):
    not a label of the page, not a name ("Jan Novak" has two capitals)."""
    first, second = words
    return (
        first[:1].isupper()
        and second.islower()
        and len(first) >= 4
        and len(second) >= 4
        and not {first.lower(), second} & (_NOT_A_TWO_WORD_TITLE | NAV_WORDS | FUNCTION_WORDS)
    )


def title_like(text: str) -> bool:
    words = WORD.findall(text)
    if not _title_words(text) or len(words) < 2 or text.endswith(":"):
        return False
    if len(words) == 2 and not (_two_word_title(words) and text.strip(" .") == " ".join(words)):
        return False
    if len(words) <= 5 and not any(word[0].islower() for word in words):
        return False  # "Clin Gastroenterol Hepatol": a journal's abbreviation, a menu
    if words[-1].lower() in FUNCTION_WORDS:
        return False  # "… caused by": a piece of a title, or names ("Keiko Fictional and")
    if ABSTRACT_WORD.fullmatch(text) or looks_like_meta(text) or END_CUE.match(text):
        return False
    if foreign(text):
        return False
    label = label_at(text, 0)
    if label is not None and label.end >= len(text.rstrip(" :.")):
        return False
    core = _CASE_REPORT_SUFFIX.sub("", text)
    if sum(1 for _ in sentence_ends(core)) > 1 + core.count(": ") + core.count("? "):
        return False
    words = WORD.findall(text)
    return lower_share(words[1:]) < 0.9 or not FINITE_VERB.search(text)


def title_above(text: str, start: int, floor: int = 0) -> tuple[int, int] | None:
    """The title-like block nearest above ``start``, skipping chrome and meta blocks."""
    low = max(floor, start - TITLE_REGION)
    # above a Highlights block or an abstract in another language, not inside it
    for marker in (PRE_ABSTRACT, FOREIGN_ABSTRACT):
        last = None
        for last in marker.finditer(text, low, start):  # noqa: B007 - the last one is wanted
            pass
        if last is not None:
            start = last.start()
    cuts = {low, start}
    for match in _BLOCK_GAP.finditer(text, low, start):
        cuts.update(match.span())
    for span in chrome_spans(text, low, start):
        cuts.update(span)
    for match in TITLE_CUT.finditer(text, low, start):
        cuts.add(match.end())
    for match in TITLE_CUT_BEFORE.finditer(text, low, start):
        cuts.add(match.start())
    for match in ARTICLE_TYPE.finditer(text, low, start):
        cuts.update(match.span())
    for match in AUTHOR_MARK.finditer(text, low, start):
        before = text[match.start() - 1 : match.start()]
        glued = (
            before.isalpha() and before.islower() and match.group()[-1:] != "*"
        ) or before == " "
        if glued and (before != " " or match.end() - match.start() == 1):
            cuts.update(match.span())
    edges = sorted(cuts)
    blocks: list[tuple[int, int]] = []  # stripped, non-empty blocks, top to bottom
    for left, right in pairwise(edges):
        segment = text[left:right]
        if segment.strip():
            begin = left + len(segment) - len(segment.lstrip())
            blocks.append((begin, begin + len(segment.strip())))
    examined = 0
    for index in range(len(blocks) - 1, -1, -1):
        begin, end = blocks[index]
        if is_chrome(text, begin, end):
            continue
        examined += 1
        if examined > 30:
            break
        end = begin + trim_author_tail(text[begin:end])
        candidate = text[begin:end]
        if title_like(candidate) and (candidate[:1].isupper() or candidate[:1] in "[(\"'"):
            return _joined(text, blocks, index, (begin, end))
    return None


def _joined(
    text: str, blocks: list[tuple[int, int]], index: int, title: tuple[int, int]
) -> tuple[int, int]:
    """A title split by the double spaces a scraper leaves around italic words ("Liver
    abscess caused by  Klebsiella pneumoniae : two case reports"): joined back to the
    blocks beside it on the same line when the break falls inside a phrase."""
    begin, end = title
    while index > 0:
        left, right = blocks[index - 1]
        gap, before = text[right:begin], text[left:right]
        if (
            "\n" in gap
            or is_chrome(text, left, right)
            or looks_like_meta(before)
            or not _mid_phrase(before, text[begin:end])
        ):
            break
        begin, index = left, index - 1
    return begin, end


def _mid_phrase(before: str, after: str) -> bool:
    """The line break between two pieces of one title: the first ends on a word that
    cannot end a title, or the second starts in lower case."""
    last = before.split()[-1].lower() if before.split() else ""
    return last in FUNCTION_WORDS or after[:1].islower() or before.rstrip().endswith((",", "-"))


def trim_author_tail(text: str) -> int:
    """Length of ``text`` without what a collapsed page glued after the title: an author
    list, or the title's translation ("… rural worker Paracoccidioidomicose crônica …")."""
    end = len(text)
    match = _AUTHOR_TAIL.search(text) or next(
        (found for found in _NAMES_START.finditer(text) if _names_may_follow(text, found.start())),
        None,
    )
    if match is not None and match.start() >= 10:
        end = len(text[: match.start()].rstrip(" ,"))
    best, best_score = end, 0
    for word in re.finditer(r"(?<=[a-z).]\s)[A-ZÀ-Ý][a-zà-ÿ]+", text[:end]):
        left, right = text[: word.start()], text[word.start() : end]
        if len(left.split()) < 3 or len(right.split()) < 3 or foreign(left) or not foreign(right):
            continue
        score = _english_score(left) - _english_score(right)
        if score >= best_score and score > 0:  # the longest English title wins a tie
            best, best_score = len(left.rstrip()), score
    return best


def _names_may_follow(text: str, position: int) -> bool:
    """Whether names may begin after the word before ``position``: not after "of a" ("… Infant
    of a Vegan Mother"), nor after a capital in a title in Title Case ("… Breastfed Infant");
    after a word in lower case ("… in an octogenarian Udeme E Ekrikpo 1") or after a name's
    first word in a sentence-case title ("… a case report Manuel García Manero 1")."""
    before = text[:position].split()
    word = before[-1] if before else ""
    if word.lower() in FUNCTION_WORDS:
        return False
    if word[:1].islower():
        return True
    content = [word for word in before if word.lower() not in FUNCTION_WORDS]
    return lower_share(content) >= 0.5  # in sentence case, a capital is a name's first word


def _english_score(text: str) -> int:
    words = text.lower().split()
    return sum(w in ENGLISH_WORDS for w in words) - sum(w in OTHER_WORDS for w in words)


def glued_title(text: str, start: int, end: int) -> tuple[int, int] | None:
    """A title run straight into the abstract with no stop between ("…in an octogenarian
    Giant cell arteritis may present…"): where a capitalised word follows a lower-case one,
    the words before read as a title (no verb of a sentence) and the words after as one."""
    sentence = sentence_end(text, start, min(end, start + 600))
    stop = sentence[1] if sentence else min(end, start + 600)
    previous: re.Match[str] | None = None
    for word in WORD.finditer(text, start, stop):
        if (
            previous is not None
            and word.group()[0].isupper()
            and previous.group()[0].islower()
            and not text[previous.end() : word.start()].strip()
        ):
            candidate = text[start : previous.end()]
            if FINITE_VERB.search(candidate):
                return None
            if FINITE_VERB.search(text, word.start(), stop) and title_like(candidate):
                return start, previous.end()
        previous = word
    return None


def leading_title(text: str, start: int, end: int) -> tuple[int, int] | None:
    """On a page whose newlines were lost, a first sentence that reads as a title (no verb of
    a sentence), glued to the abstract that follows it."""
    if label_at(text, start, end) is not None:
        return None  # "OBJECTIVE: To report…" opens a section, it is no title
    sentence = re.compile(r"[^.!?\n]{10,300}[.!?](?=\s+[A-Z0-9])").match(text, start, end)
    if sentence is None or FINITE_VERB.search(sentence.group()):
        return None
    if len(sentence.group().split()) < 2 or not title_like(sentence.group()):
        return None
    return sentence.start(), sentence.end()


def first_line_title(text: str, start: int) -> tuple[int, int] | None:
    """A plain text's first line, when it is a title over the text that follows (on one line,
    a first sentence that reads as a title and is followed by a section label)."""
    newline = text.find("\n", start)
    if newline < 0:
        found = leading_title(text, start, len(text))
        if found is not None and label_at(text, skip_space(text, found[1])) is not None:
            return found
        return None
    line = text[start:newline].strip()
    rest = text[newline:].strip()
    if not rest or len(line) > 250 or FINITE_VERB.search(line) or line.endswith((":", ";")):
        return None
    if line.endswith(".") and not re.match(r"\n[ \t\r]*\n", text[newline:]):
        return None  # a sentence, unless a blank line sets it apart
    if not title_like(line):
        return None
    return start, start + len(line)
