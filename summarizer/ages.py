"""Parse ages and timepoints as case reports write them ("a six-day-old boy", "14-month-old").

``find_ages`` lists every age phrase in a text, where it sits and what it means in years;
``parse_age`` reads the first one. Both know the same forms, so an ``age_text`` that the
rules backend (or a model) copies from a sentence parses back to the same value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = [
    "AGE_AT_PATTERN",
    "AGE_PATTERN",
    "MAX_AGE_YEARS",
    "AgeMention",
    "find_ages",
    "is_timepoint",
    "number_value",
    "parse_age",
    "timepoint_days",
    "unit_years",
]

MAX_AGE_YEARS = 125.0
"""The oldest age a phrase may mean; beyond it the phrase is not a patient's age."""

_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
}  # fmt: skip

_DECADES = {
    "teens": 15.0, "twenties": 25.0, "thirties": 35.0, "forties": 45.0, "fifties": 55.0,
    "sixties": 65.0, "seventies": 75.0, "eighties": 85.0, "nineties": 95.0,
}  # fmt: skip

_GENARIANS = {
    "quadragenarian": 45.0, "quinquagenarian": 55.0, "sexagenarian": 65.0,
    "septuagenarian": 75.0, "octogenarian": 85.0, "nonagenarian": 95.0, "centenarian": 100.0,
}  # fmt: skip

UNIT_YEARS = {
    "años": 1.0, "anos": 1.0, "ans": 1.0, "jahre": 1.0,
    "year": 1.0, "yr": 1.0, "y": 1.0, "month": 1 / 12, "mo": 1 / 12, "week": 7 / 365.25,
    "wk": 7 / 365.25, "day": 1 / 365.25, "d": 1 / 365.25, "hour": 1 / 8766, "h": 1 / 8766,
}  # fmt: skip


def _alternatives(words: str) -> str:
    """A regex matching any of the words, written as a trie ("t(?:en|wo|...)"): Python's
    engine tries the branches of a plain alternation one by one at every position, which
    made the age patterns the slowest part of the rules backend."""
    tree: dict[str, Any] = {}
    for word in words.split():
        node = tree
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        branches = [re.escape(char) + emit(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return emit(tree)


_UNITS = _alternatives("one two three four five six seven eight nine")
_TENS = _alternatives("twenty thirty forty fifty sixty seventy eighty ninety")
_WORD_NUM = (
    rf"(?:{_TENS}(?:[- ]?{_UNITS})?|"
    + _alternatives(
        "one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen"
    )
    + ")"
)
_COUNT = rf"(?:\d+(?:\.\d+)?|{_WORD_NUM})"
"""A number written in digits or words (not "a"/"an")."""
_NUM = rf"(?:{_COUNT}|a|an)"
_UNIT = r"(?:years?|yrs?|y|months?|mos?|weeks?|wks?|days?|d|hours?|h|años|anos|ans|jahre)"
_YEARS = r"(?:years?|yrs?)"
# The number may follow a word boundary or be glued to an article ("A30-year-old").
# The first character of a number, checked before anything else: most places in a text
# cannot start one, and this lookahead is the cheapest way to say so.
_NUMBER_START = r"(?=[\dAaEeFfNnOoSsTt])"
_START = rf"{_NUMBER_START}(?:\b|(?<=\b[Aa])|(?<=\b[Aa]n))"
# A hyphen, a space, or a hyphen with stray spaces ("60 - year old", "21-year- old").
_SEP = r"(?:\s?-\s?|\s)?"
_OLD = rf"{_SEP}old\b"
_PERSON = r"(?:man|men|woman|women|male|female|boy|girl|lady|gentleman|patient|child|infant|baby|toddler|adolescent|teenager|youth)"
_FILLER = r"(?!(?:the|a|an|of|in|on|at|to|for|with|and|or|after|before|during|this|that|his|her|their|its|history|follow-up|period|course)\b)"

_AGE_OLD = re.compile(
    rf"{_START}(?P<num>{_NUM})(?P<half>[- ]and[- ]a[- ]half)?{_SEP}(?P<unit>{_UNIT})(?:(?<=yrs)\.|(?<=yr)\.)?{_OLD}",
    re.IGNORECASE,
)
# "3 year 5 month old", "2 years and 3 months of age", "4-month-10-day-old"
_AGE_COMPOSITE = re.compile(
    rf"{_START}(?P<num>{_COUNT})[- ]?(?P<unit>{_YEARS}|months?|mos?|weeks?|wks?),?[- ](?:and[- ])?"
    rf"(?P<num2>{_COUNT})[- ]?(?P<unit2>months?|mos?|weeks?|wks?|days?)(?:{_OLD}|\s+of\s+age\b)",
    re.IGNORECASE,
)
# "32 and 49-year-old men": one unit shared by several ages; the first is the first patient's.
_AGE_SHARED = re.compile(
    rf"{_NUMBER_START}\b(?P<num>{_COUNT})(?:\s*,\s*{_COUNT})*,?\s+(?:and|or|&)\s+{_COUNT}[- ]?(?P<unit>{_UNIT}){_OLD}",
    re.IGNORECASE,
)
# "a 33-year man", "An 18-years woman": years without "old", only right before a person.
_AGE_BARE = re.compile(
    rf"{_NUMBER_START}(?:(?<=\b[Aa]\s)|(?<=\b[Aa]n\s)|(?<=\b[Tt]he\s)|^|(?<=[.!?;:]\s))(?P<num>{_COUNT})[- ]?(?P<unit>{_YEARS})(?![- ]?old\b)"
    rf"(?:\s+{_FILLER}[A-Za-z][\w-]*){{0,2}}?\s+{_PERSON}\b",
    re.IGNORECASE | re.MULTILINE,
)
_AGE_YO = re.compile(rf"{_START}(?P<num>{_COUNT})\s*(?:y/o\b|y\.o\.|yo\b)", re.IGNORECASE)
_AGE_AT = re.compile(
    rf"(?=[Aa])(?<!gestational )(?<!corrected )(?<!bone )(?<!mean )(?<!median )(?<!postmenstrual )"
    rf"(?<!-)\b(?:aged?|at (?:the )?age(?: of)?)\s+(?P<num>{_COUNT}|an?(?=\s+{_UNIT}\b))"
    rf"(?:\s*(?P<unit>{_UNIT})\b)?",
    re.IGNORECASE,
)
_AGE_OF_AGE = re.compile(
    rf"{_NUMBER_START}\b(?P<num>{_COUNT})\s+(?P<unit>{_UNIT})\s+of\s+age\b", re.IGNORECASE
)
# "a man of 33"; not "a woman of 33 weeks' gestation" or "a patient of 70 kg".
_AGE_MAN_OF = re.compile(
    r"\b(?:man|woman|boy|girl|male|female|gentleman|lady|patient) of "
    rf"(?P<num>\d{{1,3}}|{_WORD_NUM})(?P<unit>\s+{_YEARS}(?:\s+of\s+age)?)?\b"
    r"(?![.,]?\d)(?!\s*(?:weeks?|days?|months?|%|kg|cm|mm|g|units?|patients|cases)\b)",
    re.IGNORECASE,
)
_DECADE_WORD = re.compile(
    r"\bin (?:his|her|their) (?:(?P<when>early|mid|late)[- ])?(?P<decade>"
    + "|".join(_DECADES)
    + r")\b",
    re.IGNORECASE,
)
# "in his 30s", "in her fifth decade": a span of ten years, not an age. age_text only.
_DECADE_SPAN = re.compile(
    r"(?=[\dIiFfSsTtEeNn])\bin (?:his|her|their) (?:(?:early|mid|late)[- ]?)?[1-9]0'?s\b"
    r"|\b(?:in (?:his|her|their) )?(?:[1-9]\s*(?:\(\s*)?(?:st|nd|rd|th)(?:\s*\))?|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth)\s*decade(?: of (?:his |her |their )?life)?\b",
    re.IGNORECASE,
)
_GENARIAN = re.compile(r"\b(?P<word>" + "|".join(_GENARIANS) + r")\b", re.IGNORECASE)
_DAY_OF_LIFE = re.compile(r"\bday (?P<num>\d+) of life\b", re.IGNORECASE)
_FOREIGN_AGE = re.compile(
    r"\b(?P<num>\d+(?:[.,]\d+)?)\s*(?P<unit>años|anos|ans|jahre|jahren)\b", re.IGNORECASE
)
_NEWBORN = re.compile(r"\b(?:newborn|neonate)\b", re.IGNORECASE)

AGE_PATTERN = _AGE_OLD
"""The commonest form, "63-year-old" (the cleaner looks for ages with it)."""
AGE_AT_PATTERN = _AGE_AT
"""'aged 63', 'at the age of 3'."""


@dataclass(frozen=True, slots=True)
class AgeMention:
    """One age phrase in a text."""

    start: int
    end: int
    text: str
    years: float | None
    """Age in years; None for a phrase that names a span (a decade), not an age."""
    event: bool = False
    """True for an age at some event ("at the age of 3", "at 2 years of age")."""


def number_value(token: str) -> float | None:
    token = token.lower().strip()
    try:
        return float(token)
    except ValueError:
        pass
    total = 0.0
    for part in re.split(r"[- ]", token):
        if part not in _NUMBER_WORDS:
            return None
        total += _NUMBER_WORDS[part]
    return total


def unit_years(unit: str) -> float:
    unit = unit.lower()
    for name, factor in UNIT_YEARS.items():
        if unit == name or unit == name + "s":
            return factor
    raise ValueError(f"unknown unit {unit!r}")


def _scaled(match: re.Match[str], default_unit: str = "year") -> float | None:
    value = number_value(match["num"])
    if value is None:
        return None
    if match.groupdict().get("half"):
        value += 0.5
    unit = (match.groupdict().get("unit") or default_unit).strip().split()[0]
    return value * unit_years(unit)


def _composite(match: re.Match[str]) -> float | None:
    first, second = number_value(match["num"]), number_value(match["num2"])
    unit, unit2 = unit_years(match["unit"]), unit_years(match["unit2"])
    if first is None or second is None or unit2 >= unit:
        return None  # "6-month and 8-month old" is two ages, not one
    return first * unit + second * unit2


def _decade(match: re.Match[str]) -> float | None:
    shift = {"early": -3.0, "mid": 0.0, "late": 3.0}[(match["when"] or "mid").lower()]
    return _DECADES[match["decade"].lower()] + shift


def _foreign(match: re.Match[str]) -> float | None:
    return float(match["num"].replace(",", "."))


# Longest match wins where two start at the same place; earlier entries win ties.
_FORMS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], float | None]]] = [
    (_AGE_COMPOSITE, _composite),
    (_AGE_SHARED, _scaled),
    (_AGE_OLD, _scaled),
    (_AGE_BARE, _scaled),
    (_AGE_YO, _scaled),
    (_AGE_OF_AGE, _scaled),
    (_AGE_AT, _scaled),
    (_AGE_MAN_OF, _scaled),
    (_DECADE_WORD, _decade),
    (_DECADE_SPAN, lambda match: None),
    (_GENARIAN, lambda match: _GENARIANS[match["word"].lower()]),
    (_DAY_OF_LIFE, lambda match: int(match["num"]) / 365.25),
    (_FOREIGN_AGE, _foreign),
    (_NEWBORN, lambda match: 0.0),
]
_EVENT_BEFORE = re.compile(r"\b(?:at|by|from|since|until|till|before|after)\s+$", re.IGNORECASE)


def find_ages(text: str, *, bounded: bool = True) -> list[AgeMention]:
    """Every age phrase in ``text``, in order, without overlaps.

    Phrases whose value would exceed ``MAX_AGE_YEARS`` are not ages and are left out
    (``bounded=False`` keeps them, for the schema to refuse a model's "999-year-old").
    """
    found: list[AgeMention] = []
    for pattern, convert in _FORMS:
        for match in pattern.finditer(text):
            years = convert(match)
            if years is not None:
                if bounded and not 0 <= years <= MAX_AGE_YEARS:
                    continue
                years = round(years, 4)
            elif pattern is not _DECADE_SPAN:
                continue
            start, end = match.span()
            event = pattern is _AGE_AT and match.group(0).lower().startswith("at ")
            event = event or bool(_EVENT_BEFORE.search(text, max(0, start - 8), start))
            found.append(AgeMention(start, end, match.group(0), years, event))
    found.sort(key=lambda mention: (mention.start, -(mention.end - mention.start)))
    kept: list[AgeMention] = []
    for mention in found:
        if not kept or mention.start >= kept[-1].end:
            kept.append(mention)
    return kept


@lru_cache(maxsize=4096)  # age phrases repeat ("45-year-old"); every record validates one
def parse_age(text: str, *, bounded: bool = True) -> float | None:
    """Age in years from a phrase such as "63-year-old", "six-day-old", "in her forties".

    None when the phrase names no age, or only a span ("in his 30s", "fifth decade"), or
    (``bounded``) an impossible one.
    """
    mentions = find_ages(text, bounded=bounded)
    return mentions[0].years if mentions else None


_TIMEPOINT = re.compile(
    rf"\b(?P<num>{_NUM})[- ]?(?P<unit>{_UNIT}|postoperative (?:years?|months?|weeks?|days?))\b",
    re.IGNORECASE,
)
_TIME_ANCHORS = re.compile(
    r"\b(?:discharge|admission|presentation|birth|diagnosis|delivery|follow[- ]?up|"
    r"postoperative(?:ly)?|post-?operative|intra-?operative(?:ly)?|peri-?operative(?:ly)?|"
    r"pre-?operative(?:ly)?|after|later|until|at|during|since|day|week|month|year|within|"
    r"onset|outset|hospitali[sz]ation|surgery|operation|treatment|therapy|"
    r"immediately|currently|present(?:ly)?|last|latest|final|initial|today|death)\b",
    re.IGNORECASE,
)


def timepoint_days(text: str) -> float | None:
    """Days from a timepoint such as "6 months postoperatively"; None when it has no number."""
    match = _TIMEPOINT.search(text)
    if not match:
        return None
    value = number_value(match["num"])
    if value is None:
        return None
    unit = match["unit"].lower().replace("postoperative ", "")
    return round(value * unit_years(unit) * 365.25, 2)


def is_timepoint(text: str) -> bool:
    """Whether text reads as a timepoint: a number with a unit, or a clinical anchor."""
    return timepoint_days(text) is not None or bool(_TIME_ANCHORS.search(text))
