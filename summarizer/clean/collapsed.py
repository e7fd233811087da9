"""Pages whose newlines were lost (copied into a one-line field, or joined by a tool).

A long line is cut where a newline must have been: around known chrome phrases of the
sites we read, before section headings, after citation and identifier lines. The pieces
then go through the same line classification as any page.
"""

from __future__ import annotations

import re

from .patterns import _HEADING_ALTERNATION, ENGLISH_WORDS, OTHER_WORDS, SECTION_KINDS

COLLAPSED_MIN = 400
"""Lines shorter than this are never cut."""

_PHRASES = """
add like|add dislike|add to saved papers|full text links|related resources|mobile app image
your privacy choices toggle icon|your privacy choices|claim now|skip to main page content
skip to main content|an official website of the united states government|here's how you know
here’s how you know|search in pubmed|search in pmc|user guide|display options|send to
free pmc article|free full text|page navigation|title & authors|conflict of interest statement
similar articles|cited by other articles|cited by|publication types|mesh terms
related information|linkout - more resources|full text sources|affiliations expand
item in clipboard|author information|article notes|copyright and license information
pmc disclaimer|other formats|links to ncbi databases|journal list|services on demand
scielo analytics|article in xml format|article references|how to cite this article
curriculum scienti|automatic translation|related links|search life-sciences literature
citations & impact|share this article|impact metrics|free to read & use|explore journals
get published|about bmc|peer review reports|cite this article|metrics details|scielo - scientific electronic library online|download pdf
view pdf|show full outline|add to mendeley|get rights and content
author links open overlay panel|we have located links that may give you full text access.
can't access the paper?|can’t access the paper?|for the best experience, use the read mobile app
get seemless 1-tap access through your institution/university|toggle icon|show more|show less
google scholar h5m5 ()|english (pdf)|portuguese (pdf)|spanish (pdf)|sign in|view pdf
download full issue|search sciencedirect|journals & books|my account|under a creative commons license
open access|share with email|share with twitter|share with linkedin|share with facebook
"""
_WORDS = (
    "Affiliations|Expand|Clipboard|Advanced|Actions|Cite|Collections|Share|Permalink|Copy|RESOURCES"
    "|Save|Email|Figures|References|REFERENCES|Highlights|Outline|Menu|Help|Helpdesk|Feedback"
    "|Twitter|Login|Advertisement|Search|Abstract|ABSTRACT|RESUMO|RESUMEN|Summary|SUMMARY"
    "|Acknowledgements|Abbreviations|Indicators|Keywords|KEYWORDS"
    r"|\d+\s+Accesses|\d+\s+Citations|(?<![:aA]\s)Case\s+[Rr]eports?(?=\s+[A-Z])"
    r"|CASE\s+REPORTS?(?=\s+[A-Z])"
)
_PHRASE_LIST = [phrase for phrase in _PHRASES.replace("\n", "|").split("|") if phrase]
_CUT_AROUND = re.compile(
    r"(?<![\w-])(?:(?i:"
    + "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in _PHRASE_LIST)
    + r")(?![\w-])(?!\s*:)"
    + r"|(?:"
    + _WORDS
    + r")(?=\s+[A-Z0-9(•·▪◦]|\s*$))"
)
_TRIGGERS = frozenset(
    [re.split(r"[^\w'’]", phrase)[0].lower() for phrase in _PHRASE_LIST]
    + [re.split(r"[^\w]", word)[0].lower() for word in _WORDS.split("|") if word[:1].isalpha()]
    + ["case", "accesses", "citations"]
)
"""First words of the phrases above: only where one occurs is the slow pattern tried."""
_TOKEN = re.compile(r"[A-Za-z][A-Za-z'’]*|\d+(?=\s+(?:Accesses|Citations))")
_BULLET = re.compile(r"\s[•·▪◦](?=\s)")
_CUT_BEFORE = re.compile(
    r"\s(?=Copyright\b|©|(?i:key\s*words?|keywords?|palavras-chave|palabras\s+clave)\s*:"
    r"|PMID\s*:|PMCID\s*:|DOI\s*:|doi\s*:\s*10\.|Published\s*:|https?://doi\.org/"
    r"|(?:\d+(?:\.\d+)*\.?\s+)?(?:Introduction|INTRODUCTION)\b"
    r"|Journal\s+of\s+[A-Z]|BMC\s+[A-Z]|Case\s+Reports\s+in\s+[A-Z])"
)
_CUT_AFTER = re.compile(
    r"eCollection\s+\d{4}(?:\s+\w{3})?\.|Epub\s+\d{4}(?:\s+\w{3}(?:\s+\d{1,2})?)?\.|doi\s*:\s*10\.\S+"
    r"|Published\s*:\s*\d{1,2}\s+\w+\s+\d{4}"
    r"|PMID\s*:\s*\d+|PMCID\s*:\s*PMC\d+|DOI\s*:\s*10\.\S+|https?://\S+"
    r"|;\s*\d+(?:\s*\(\s*[\w-]+\s*\))?\s*:\s*[\w-]+\.(?=\s)"
)
_AUTHOR_MARK = re.compile(r"\d(?=\s+[A-ZÀ-Ý][a-zà-ÿ]+\s+[A-ZÀ-Ý][a-zà-ÿ]+\d)")
_SENTENCE_GAP = re.compile(r"[.!?)\]:;]\s+")
_HEADING_HERE = re.compile(
    rf"(?P<heading>(?i:{_HEADING_ALTERNATION}))(?P<colon>\s*[:：])?\s+(?=[A-Z0-9])"
)
_CAPITAL_HEADING = re.compile(r"\s(?P<heading>[A-Z][A-Z /&-]{2,50}[A-Z])(?P<colon>\s*[:：])\s")
_AFFILIATION_MARK = re.compile(r"\s(\d)(?=[A-ZÀ-Ý][a-zà-ÿ]+)")
_NUMBER_BEFORE = re.compile(r"(?<![^\s])\d{1,2}(?:\.\d{1,2})*\.?\s+$")
_ONE_AUTHOR = re.compile(r"\s+(?:[A-ZÀ-Ý][\w'’.-]+\s+){1,3}[A-ZÀ-Ý][\w'’-]+\d+(?:,\d+)*\s*$")
_AUTHOR_TAIL = re.compile(
    r"(?:\s+(?:[A-ZÀ-Ý][\w'’.-]+\s+){1,3}[A-ZÀ-Ý][\w'’-]+(?:\s?\d+(?:\s?,\s?\d+)*)?\s?(?:,|&|\band\b))+"
    r"(?:\s*(?:and|&))?\s+(?:[A-ZÀ-Ý][\w'’.-]+\s+){1,3}[A-ZÀ-Ý][\w'’-]+(?:\s?\d+(?:\s?,\s?\d+)*)?\s*$"
)


def cut_points(text: str) -> list[int]:
    """Positions in ``text`` where a newline was probably lost (sorted, without 0 and len)."""
    cuts: set[int] = set()
    for token in _TOKEN.finditer(text):
        word = token.group()
        if word[0].isdigit() or word.lower() in _TRIGGERS:
            match = _CUT_AROUND.match(text, token.start())
            if match:
                cuts.add(match.start())
                cuts.add(match.end())
    for match in _BULLET.finditer(text):
        cuts.add(match.start() + 1)
        cuts.add(match.end())
    for match in _CUT_BEFORE.finditer(text):
        cuts.add(match.end())
    for match in _CUT_AFTER.finditer(text):
        cuts.add(match.end())
    for match in _AFFILIATION_MARK.finditer(text):
        cuts.add(match.start(1))
    for match in _AUTHOR_MARK.finditer(text):
        if match.start() and text[match.start() - 1].islower():
            cuts.add(match.end())
    extra: set[int] = set()
    for start in sorted(cuts | {0}):
        _heading_at(text, start, extra)
    for gap in _SENTENCE_GAP.finditer(text):
        _heading_at(text, gap.end(), extra)
    for match in _CAPITAL_HEADING.finditer(text):
        if " ".join(match.group("heading").lower().split()) in SECTION_KINDS:
            extra.add(match.start("heading"))
    cuts |= extra
    return sorted(cut for cut in cuts if 0 < cut < len(text))


def _heading_at(text: str, position: int, cuts: set[int]) -> None:
    while position < len(text) and text[position] == " ":
        position += 1
    if position < len(text) and text[position].isupper():
        match = _HEADING_HERE.match(text, position)
        if match:
            _heading_cut(text, match, cuts)


def _heading_cut(text: str, match: re.Match[str], cuts: set[int]) -> None:
    heading = match.group("heading")
    if not heading[:1].isupper():
        return
    start = match.start("heading")
    number = _NUMBER_BEFORE.search(text, max(0, start - 12), start)
    if number is not None:
        before = text[: number.start()].rstrip()
        if not before or before[-1] in ".!?:;)]":  # "… text. 4. Conclusion", not "grade 4. Case"
            start = number.start()
    if match.group("colon"):
        cuts.add(start)
        return
    if heading.lower() in ("case", "patient", "patients", "presentation", "comment", "design"):
        return  # "Case 2 was…", "Patient A had…": too common at a sentence start
    cuts.add(start)
    cuts.add(match.end("heading"))


def trim_author_tail(text: str) -> int:
    """Length of ``text`` without an author list (or a translated title) glued to it."""
    match = _AUTHOR_TAIL.search(text) or _ONE_AUTHOR.search(text)
    end = len(text)
    if match is not None and match.start() >= 10:
        end = len(text[: match.start()].rstrip(" ,"))
    best, best_score = end, 0
    for word in re.finditer(r"(?<=[a-z).]\s)[A-ZÀ-Ý][a-zà-ÿ]+", text[:end]):
        left, right = text[: word.start()], text[word.start() : end]
        if len(left.split()) < 3 or len(right.split()) < 3 or foreign(left) or not foreign(right):
            continue
        score = _language_score(left) - _language_score(right)
        if score >= best_score and score > 0:  # the longest English title wins a tie
            best, best_score = len(left.rstrip()), score
    return best


def _language_score(text: str) -> int:
    words = text.lower().split()
    return sum(w in ENGLISH_WORDS for w in words) - sum(w in OTHER_WORDS for w in words)


def foreign(text: str) -> bool:
    words = text.lower().split()
    english = sum(1 for word in words if word in ENGLISH_WORDS)
    other = sum(1 for word in words if word in OTHER_WORDS)
    return other > english
