"""Patterns written for the regex engine's speed match what their plain spelling matches.

Several cleaner patterns are spelled so that they open with one character class (the engine then
skips to the next candidate instead of trying the pattern at every position). Each is checked
here against the plain spelling its docstring gives, on the page fixtures (with their newlines
kept and collapsed) and on short edge cases, searched from and to many positions.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from summarizer.clean.patterns import (
    CHROME_PHRASE,
    CHROME_PHRASES,
    CHROME_SENTENCE,
    CHROME_SENTENCE_PHRASES,
    LABEL,
    LABEL_PREFIXES,
    SECTION_KINDS,
    labels_starting_with,
)
from summarizer.clean.prose import (
    _ASCII_TOKEN,
    _SEPARATOR,
    _STOPS,
    _TOKEN,
    BOUNDARY,
    _chrome_phrases,
    last_sentence_end,
    sentence_end,
    sentence_ends,
)
from summarizer.clean.text import _SPECIAL, _TYPOGRAPHIC

PAGES = Path(__file__).parent / "fixtures" / "pages"

EDGES = [
    "a.\u00a0B a. \u00a0B \n\n  x\r\ny  \t z\n",
    'one. Two!  three? (four.) "five." six’. 7. 8%. x.\ty',
    "a \n\u2028b .  \r\n\t B x.\r B\n",
    "end.",
    "e.g. U.S. a..b a.!c Fig. 2. (a) x.) y.]",
    "x&amp; y &#12; &#x1F; &x; &&amp; a&b; cafe\u0301 \ufb01 ＣＴ \u0085",
    "a\u00a0 b \u00a0b\u00a0\u00a0 x\u2009\u2009y \u00ad z \u2013 \u2014\u200b \u3000\n\t",
    ".",
    " ",
    "\n",
]


def texts() -> Iterator[str]:
    for path in sorted(PAGES.iterdir()):
        if path.suffix in (".txt", ".html"):
            page = path.read_text(encoding="utf-8")
            yield page
            yield " ".join(page.split("\n"))
    yield from EDGES


def ranges(text: str) -> Iterator[tuple[int, int]]:
    """Windows that start and end anywhere: before, inside and after runs of spaces and stops."""
    step = max(1, len(text) // 150)
    for start in range(0, len(text) + 1, step):
        for end in (start, start + 1, start + 2, start + 41, len(text)):
            yield start, min(end, len(text))


PLAIN_BOUNDARY = re.compile(r"(?:\n|[.!?:;)\]\"'”’][ \t]+|[ \t]{2,})[ \t\r\n]*(?=\S)")
PLAIN_SENTENCE_END = re.compile(r"[A-Za-z0-9)\]%\"'”’][.!?](?=[\s\"'”’)\]]|$)")
PLAIN_SPECIAL = re.compile(f"[{_TYPOGRAPHIC}]|\\s{{2,}}|[^\\S ]")


@pytest.mark.parametrize(
    ("fast", "plain"),
    [(BOUNDARY, PLAIN_BOUNDARY), (_SPECIAL, PLAIN_SPECIAL)],
    ids=["boundary", "special"],
)
def test_rewritten_pattern_matches_its_plain_spelling(
    fast: re.Pattern[str], plain: re.Pattern[str]
) -> None:
    for text in texts():
        for start, end in ranges(text):
            got = [m.span() for m in fast.finditer(text, start, end)]
            assert got == [m.span() for m in plain.finditer(text, start, end)], (text[:40], start)


def test_sentence_ends_are_the_plain_patterns_matches() -> None:
    for text in texts():
        for start, end in ranges(text):
            first = PLAIN_SENTENCE_END.search(text, start, end)
            assert sentence_end(text, start, end) == (first.span() if first else None)
            every = [m.end() for m in PLAIN_SENTENCE_END.finditer(text, start, end)]
            assert list(sentence_ends(text, start, end)) == every, (text[:40], start, end)
            last = every[-1] if every else None  # looked for from the end
            assert last_sentence_end(text, start, end) == last, (text[:40], start, end)


def test_a_sentence_end_lies_inside_the_window() -> None:
    """The stop's letter is looked at behind: a window that starts at the stop has no end."""
    assert sentence_end("the cat. The dog", 7) is None
    assert sentence_end("the cat. The dog", 6) == (6, 8)
    assert sentence_end("the cat. The dog", 0, 7) is None
    assert list(sentence_ends("a. b. c.", 1)) == [5, 8]
    assert last_sentence_end("the cat. The dog", 7, 16) is None


def test_labels_of_a_prefix_match_as_the_whole_vocabulary_does() -> None:
    """Where a text starts with two ASCII letters (no number), ``labels_starting_with`` those
    letters finds what ``LABEL`` finds: every label, in three cases and with what may follow."""
    assert LABEL_PREFIXES is not None
    headings = [
        f"{spelling}{after}"
        for name in SECTION_KINDS
        for spelling in (name, name.upper(), name.title(), name.replace("-", " "))
        for after in (": x", "(s) - x", ". X", " X", "s\n", "-x", "")
    ]
    texts_ = [*texts(), *headings, "Takehome message: x", "CASE  REPORT. x"]
    for text in texts_:
        for position in range(len(text) - 1):
            pair = text[position : position + 2]
            if not (pair.isascii() and pair.isalpha()) or text[position] in "IVX":
                continue
            whole = LABEL.match(text, position)
            if pair.lower() not in LABEL_PREFIXES:
                assert whole is None
                continue
            part = labels_starting_with(pair.lower()).match(text, position)
            assert (part and (part.span(), part.groupdict())) == (
                whole and (whole.span(), whole.groupdict())
            ), (text[position : position + 30],)


PLAIN_TOKEN = re.compile(r"([.!?:;][\s\"'”’)]+|)([^\W\d_][\w'’-]*)")
"""A word, and the sentence end before it (else ''): the tokens as pairs."""


def test_tokens_are_words_with_the_sentence_end_before_them() -> None:
    """A token is the word, or the sentence end and the word: it starts with one of ``_STOPS``
    exactly when it opens a sentence, and the word is what stripping ``_SEPARATOR`` leaves."""
    samples = [
        *texts(),
        "x. 'tis ab.'cd x.-tis x3.5y a_b 123 --a a--b a.)B a.(B x.. The e.g. the end.’ Señor",
        "Fig.\u00a02. ²nd ½ way. Ærø. \u2003Über: naïve; ok",
    ]
    assert {chr(c) for c in range(0x110000) if chr(c).isspace()} <= set(_SEPARATOR)
    for text in samples:
        for start in range(0, len(text), max(1, len(text) // 40)):
            window = text[start : start + 320]
            pairs = PLAIN_TOKEN.findall(window)
            tokens = (_ASCII_TOKEN if window.isascii() else _TOKEN).findall(window)
            assert [token[0] in _STOPS for token in tokens] == [bool(stop) for stop, _ in pairs]
            assert [token.lstrip(_SEPARATOR) for token in tokens] == [word for _, word in pairs]


PLAIN_CHROME_SENTENCE = re.compile(
    r"cited by other articles|this article has been cited|copyright|all rights reserved"
    r"|creative commons|licensed under|permits unrestricted use|requires javascript"
    r"|we use cookies|this (?:site|website) uses cookies|privacy policy|terms of use|©(?=\s|\d)"
    r"|source of support|conflicts? of interests?|terms and conditions"
)


def test_chrome_sentence_is_found_where_the_plain_alternation_finds_one() -> None:
    """Found from each phrase's rarest letter: the same answer, wherever the phrase sits."""
    phrases = [*CHROME_SENTENCE_PHRASES, "conflicts of interests", "© 2020", "©2021", "©x"]
    samples = [text.lower() for text in texts()]
    for phrase in phrases:
        samples += [phrase, f"x {phrase}", f"{phrase} x", phrase[:-1], phrase[1:], f"{phrase}."]
    for text in samples:
        for start, end in ranges(text):
            window = text[start:end]
            assert bool(CHROME_SENTENCE.search(window)) == bool(
                PLAIN_CHROME_SENTENCE.search(window)
            )


def test_chrome_phrases_are_the_ones_the_phrase_pattern_finds() -> None:
    """The phrase at the start, then each one after a non-word character: what
    ``CHROME_PHRASE.finditer`` finds, in any slice of a page (a slice may start inside a word)."""
    samples = [text.lower() for text in texts()]
    for phrase in CHROME_PHRASES:
        samples += [phrase, f"x{phrase}", f"{phrase}s {phrase}-", f"-{phrase} «{phrase}»"]
    samples += ["2143 accesses 3 citations", "x2143 accesses", "sign in sign out_log in"]
    for text in samples:
        for start, end in ranges(text):
            window = text[start:end]
            want = [match.span() for match in CHROME_PHRASE.finditer(window)]
            assert list(_chrome_phrases(window)) == want, (window[:40],)
