"""The rules backend's first patient, age and sex, on wordings the other rules tests do not
cover: ethnicity and occupation between the age and the noun, obstetric nouns, honorifics,
"y.o. M", the AJCR patient box, number words, non-native forms, relatives and twins.

The 60 short abstracts in ``fixtures/rules-wording.jsonl`` are invented for this probe; each
carries the expected age (years, ``null`` for a span such as "in his mid-forties") and sex,
written before the backend was run. The wordings the backend gets wrong are listed in
``KNOWN_GAPS`` as strict xfails: fixing one turns its xfail into a failure to clear here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from summarizer import Sex, summarize
from summarizer.evaluation.scorers import age_tolerance

CASES = Path(__file__).parent / "fixtures" / "rules-wording.jsonl"

KNOWN_GAPS = {
    "preterm-born-at-weeks": "no age: 'preterm infant ... at birth' is not a newborn form "
    "(ages.py _NEWBORN knows only newborn/neonate)",
    "yo-m": "sex not_reported: a lone 'M' after '52 y.o.' is no sex noun (rules_patient _MALE)",
    "mother-and-son": "no age: 'her 12-year-old son' reads as a relative's age "
    "(rules_patient _is_relative, _POSSESSIVE_BEFORE)",
    "mr-x": "sex not_reported: 'Mr.' is no sex noun (rules_patient _MALE)",
    "ms-y-48": "no age: 'Ms. Y, 48,' a bare number in apposition is no age form (ages.py)",
    "y-bare": "no age: '68y male' (ages.py _AGE_BARE takes years/yrs, not y)",
    "half-fraction": "no age: '2½-year-old' (ages.py _COUNT has no vulgar fractions)",
}


def _load() -> list[dict[str, Any]]:
    with CASES.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def _params() -> list[Any]:
    return [
        pytest.param(
            case,
            id=case["id"],
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[case["id"]])]
            if case["id"] in KNOWN_GAPS
            else [],
        )
        for case in _load()
    ]


def test_the_fixture_is_well_formed() -> None:
    cases = _load()
    ids = [case["id"] for case in cases]
    assert len(cases) == 60 and len(set(ids)) == len(ids)
    assert set(KNOWN_GAPS) <= set(ids)
    for case in cases:
        assert set(case) == {"id", "text", "age_years", "sex", "note"}, case["id"]
        assert case["age_years"] is None or 0 <= case["age_years"] <= 125, case["id"]
        assert case["sex"] in {sex.value for sex in Sex}, case["id"]


@pytest.mark.parametrize("case", _params())
def test_first_patient_age_and_sex(case: dict[str, Any]) -> None:
    patient = summarize(case["text"], backend="rules").record.patient
    expected = case["age_years"]
    if expected is None:
        age_right = patient.age_years is None
    else:
        age_right = (
            patient.age_years is not None
            and abs(patient.age_years - expected) <= age_tolerance(expected) + 1e-9
        )
    got = (patient.age_years, patient.sex.value)
    assert age_right and patient.sex.value == case["sex"], (
        f"got {got}, expected {(expected, case['sex'])} ({case['note']})"
    )
