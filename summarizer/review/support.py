"""Does a corrected value still stand on its evidence?

A reviewer who corrects a value and leaves its quote as it was can leave a record whose
evidence says something else ("68" with "a 67-year-old man"). For each corrected field
this compares every value the reviewer changed with the quote of the object it sits in
(the patient, a list item, the diagnosis, a statement):

- an age: the quote names an age, and it is the corrected one;
- the sex: the quote does not name only the other sex;
- numbers written in a changed text are in the quote;
- a changed text has at least one of its words in the quote (a paraphrase passes, a
  value the quote does not mention at all does not).

Each finding is one line, shown on the field's card and by ``gold export``. It is a flag
for a person, not a refusal: the reviewer may know better than the quote.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..ages import find_ages
from ..schema import CaseReport

__all__ = ["unsupported"]

_MALE = re.compile(r"\b(?:man|men|male|males|boy|boys|gentleman|he|him|his)\b", re.I)
_FEMALE = re.compile(
    r"\b(?:woman|women|female|females|girl|girls|lady|she|her|pregnant|gravida)\b", re.I
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_WORD = re.compile(r"[^\W\d_]{4,}")
_STOP = frozenset(
    "with from that this were been have their there which after before during into "
    "also than then they them over under about these those when where while patient "
    "patients case report".split()
)
_SKIPPED_KEYS = {"evidence", "negative", "kind", "status"}
"""Values a quote need not spell out (flags and categories)."""


def _short(quote: str, limit: int = 80) -> str:
    return quote if len(quote) <= limit else quote[: limit - 1] + "…"


def _words(text: str) -> set[str]:
    return {word.casefold()[:6] for word in _WORD.findall(text)} - {stop[:6] for stop in _STOP}


def _text_problem(key: str, value: str, quote: str) -> str | None:
    numbers = [n for n in _NUMBER.findall(value) if n not in quote]
    if numbers:
        return f"{key} {value!r}: {', '.join(numbers)} is not in the evidence"
    wanted = _words(value)
    if wanted and not wanted & _words(quote):
        return f"{key} {value!r}: none of its words is in the evidence"
    return None


def _patient_problems(value: Mapping[str, Any], before: Mapping[str, Any], quote: str) -> list[str]:
    problems = []
    years = value.get("age_years")
    changed_age = (value.get("age_text"), years) != (
        before.get("age_text"),
        before.get("age_years"),
    )
    if changed_age and years is not None:
        ages = [mention.years for mention in find_ages(quote) if mention.years is not None]
        if not ages:
            problems.append(f"age {float(years):g} years: the evidence names no age")
        elif all(abs(age - float(years)) > 0.005 for age in ages):
            problems.append(
                f"age {float(years):g} years: the evidence reads {_short(quote)!r} "
                f"({', '.join(f'{age:g}' for age in ages)} years)"
            )
    sex = value.get("sex")
    if sex != before.get("sex") and sex in ("female", "male"):
        other = _MALE if sex == "female" else _FEMALE
        same = _FEMALE if sex == "female" else _MALE
        if other.search(quote) and not same.search(quote):
            problems.append(f"sex {sex}: the evidence reads {_short(quote)!r}")
    return problems


def _object_problems(
    value: Mapping[str, Any], before: Mapping[str, Any] | None, path: str, patient: bool
) -> list[str]:
    quote = value.get("evidence")
    if not isinstance(quote, str) or not quote.strip():
        return []
    before = before or {}
    problems = _patient_problems(value, before, quote) if patient else []
    for key, item in value.items():
        if key in _SKIPPED_KEYS or (patient and key in ("age_text", "age_years", "sex")):
            continue
        if item == before.get(key):
            continue
        texts = item if isinstance(item, list) else [item]
        old = before.get(key)
        known = set(old) if isinstance(old, list) else {old}
        for text in texts:
            if isinstance(text, str) and text.strip() and text not in known:
                problem = _text_problem(key, text, quote)
                if problem:
                    problems.append(problem)
    return [f"{path}: {problem}" for problem in problems]


def unsupported(
    original: CaseReport, record: CaseReport, fields: Iterable[str]
) -> dict[str, list[str]]:
    """For each of ``fields`` (the corrected ones), the changed values its evidence does
    not support, one line each; fields with none are left out."""
    now = record.model_dump(mode="json")
    then = original.model_dump(mode="json")
    found: dict[str, list[str]] = {}
    for name in fields:
        value, before = now.get(name), then.get(name)
        problems: list[str] = []
        if isinstance(value, dict):
            problems = _object_problems(
                value, before if isinstance(before, dict) else None, name, name == "patient"
            )
        elif isinstance(value, list):
            old = before if isinstance(before, list) else []
            for index, item in enumerate(value):
                if isinstance(item, dict) and item not in old:
                    match = (
                        old[index] if index < len(old) and isinstance(old[index], dict) else None
                    )
                    problems += _object_problems(item, match, f"{name}[{index}]", False)
        if problems:
            found[name] = problems
    return found
