"""Parse ages and timepoints as case reports write them ("a six-day-old boy", "14-month-old")."""

from __future__ import annotations

import re

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

UNIT_YEARS = {
    "años": 1.0, "anos": 1.0, "ans": 1.0, "jahre": 1.0,
    "year": 1.0, "yr": 1.0, "y": 1.0, "month": 1 / 12, "mo": 1 / 12, "week": 7 / 365.25,
    "wk": 7 / 365.25, "day": 1 / 365.25, "d": 1 / 365.25, "hour": 1 / 8766, "h": 1 / 8766,
}  # fmt: skip

_NUM = r"(?:\d+(?:\.\d+)?|(?:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)[- ]?)?(?:one|two|three|four|five|six|seven|eight|nine)|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|a|an)"
_UNIT = r"(?:years?|yrs?|y|months?|mos?|weeks?|wks?|days?|d|hours?|h|años|anos|ans|jahre)"

AGE_PATTERN = re.compile(
    rf"\b(?P<num>{_NUM})(?:[- ]and[- ]a[- ]half)?[- ]?(?P<unit>{_UNIT})[- ]?old\b", re.IGNORECASE
)
AGE_AT_PATTERN = re.compile(
    rf"\b(?:aged?|at the age of)\s+(?P<num>{_NUM})(?:\s*(?P<unit>{_UNIT}))?\b", re.IGNORECASE
)
DECADE_PATTERN = re.compile(
    r"\bin (?:his|her|their) (?:(?P<when>early|mid|late)[- ])?(?P<decade>"
    + "|".join(_DECADES)
    + r")\b",
    re.IGNORECASE,
)
NEWBORN_PATTERN = re.compile(r"\b(?:newborn|neonate)\b", re.IGNORECASE)
_GENARIANS = {
    "quadragenarian": 45.0, "quinquagenarian": 55.0, "sexagenarian": 65.0,
    "septuagenarian": 75.0, "octogenarian": 85.0, "nonagenarian": 95.0, "centenarian": 100.0,
}  # fmt: skip
GENARIAN_PATTERN = re.compile(r"\b(?P<word>" + "|".join(_GENARIANS) + r")\b", re.IGNORECASE)
DAY_OF_LIFE_PATTERN = re.compile(r"\bday (?P<num>\d+) of life\b", re.IGNORECASE)
FOREIGN_AGE_PATTERN = re.compile(
    r"\b(?P<num>\d+(?:[.,]\d+)?)\s*(?P<unit>años|anos|ans|jahre|jahren)\b", re.IGNORECASE
)
TIMEPOINT_PATTERN = re.compile(
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


def parse_age(text: str) -> float | None:
    """Age in years from a phrase such as "63-year-old", "six-day-old", "in her forties"."""
    match = AGE_PATTERN.search(text)
    if match:
        value = number_value(match["num"])
        if value is not None:
            if re.search(r"and[- ]a[- ]half", match.group(0), re.IGNORECASE):
                value += 0.5
            return round(value * unit_years(match["unit"]), 4)
    match = AGE_AT_PATTERN.search(text)
    if match:
        value = number_value(match["num"])
        if value is not None:
            return round(value * unit_years(match["unit"] or "year"), 4)
    match = DECADE_PATTERN.search(text)
    if match:
        base = _DECADES[match["decade"].lower()]
        shift = {"early": -3.0, "mid": 0.0, "late": 3.0}.get((match["when"] or "mid").lower(), 0.0)
        return base + shift
    match = GENARIAN_PATTERN.search(text)
    if match:
        return _GENARIANS[match["word"].lower()]
    match = DAY_OF_LIFE_PATTERN.search(text)
    if match:
        return round(int(match["num"]) / 365.25, 4)
    match = FOREIGN_AGE_PATTERN.search(text)
    if match:
        return float(match["num"].replace(",", "."))
    if NEWBORN_PATTERN.search(text):
        return 0.0
    return None


def timepoint_days(text: str) -> float | None:
    """Days from a timepoint such as "6 months postoperatively"; None when it has no number."""
    match = TIMEPOINT_PATTERN.search(text)
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
