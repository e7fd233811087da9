"""Age phrases as people write them: every form reads to the right years, through the parser
and through the rules backend (sentences written for these tests)."""

from __future__ import annotations

import pytest

from summarizer import summarize
from summarizer.ages import MAX_AGE_YEARS, find_ages, parse_age

# The forms the issue lists, and more seen in real texts. Some parsed before ("33-yr-old",
# "aged 33", "thirty-three-year-old", "3-month-old", "newborn"); they stay here as guards.
FORMS = [
    ("A 33-year man", 33.0),
    ("An 18-years woman", 18.0),
    ("A 33-yr-old man", 33.0),
    ("a man aged 33", 33.0),
    ("a 33 y/o man", 33.0),
    ("a 33yo woman", 33.0),
    ("a man of 33", 33.0),
    ("a woman of 33 years", 33.0),
    ("a thirty-three-year-old man", 33.0),
    ("a 3-month-old boy", 0.25),
    ("a newborn girl", 0.0),
    ("a man, 45 years of age,", 45.0),
    ("a 3 year 5 month old child", 3.4167),
    ("a 4-month-10-day-old boy", 0.3607),
    ("a 60 - year old woman", 60.0),
    ("a 25 yrs. old woman", 25.0),
    ("two brothers, 32 and 49-year-old", 32.0),
    ("A41-year-old woman", 41.0),
    ("A 64-year-old-man", 64.0),
]


@pytest.mark.parametrize(("phrase", "years"), FORMS)
def test_age_forms_parse(phrase: str, years: float) -> None:
    assert parse_age(phrase) == years


@pytest.mark.parametrize(
    "phrase",
    [
        "a 10-year history of pain in a man",
        "after 2 years the man returned",
        "a 5-year follow-up of the woman",
        "at a gestational age 33 weeks",
        "a woman of 33 weeks' gestation",
        "a 150-year-old oak",
        "Results. 5 d. Old data",
    ],
)
def test_not_an_age(phrase: str) -> None:
    assert parse_age(phrase) is None


@pytest.mark.parametrize("phrase", ["in his 30s", "in her early 40s", "in his fifth decade"])
def test_a_decade_is_a_span_not_an_age(phrase: str) -> None:
    mentions = find_ages(f"A man {phrase} presented.")
    assert [mention.years for mention in mentions] == [None]
    assert parse_age(phrase) is None


def test_ages_beyond_the_oldest_are_not_ages() -> None:
    assert parse_age(f"a {int(MAX_AGE_YEARS) + 75}-year-old man") is None
    assert parse_age(f"a {int(MAX_AGE_YEARS)}-year-old man") == MAX_AGE_YEARS


def test_event_ages_are_marked() -> None:
    ages = find_ages("A 51-year-old woman, first diagnosed at the age of 49, and aged 50 then.")
    assert [(mention.years, mention.event) for mention in ages] == [
        (51.0, False),
        (49.0, True),
        (50.0, False),
    ]


@pytest.mark.parametrize(("phrase", "years"), FORMS[:11])
def test_rules_backend_reads_each_form(phrase: str, years: float) -> None:
    text = (
        f"{phrase} came to the clinic with a painful swelling of the left knee. "
        "Radiographs showed a lytic lesion, and a biopsy confirmed a giant cell tumour. "
        "The lesion was curetted and filled with cement, and the patient walked without pain "
        "at one year."
    )
    patient = summarize(text, backend="rules").record.patient
    assert patient.age_years == years
    assert patient.age_text is not None and parse_age(patient.age_text) == years


def test_rules_backend_keeps_a_decade_as_text_only() -> None:
    text = (
        "A man in his 30s came to the clinic with a painful swelling of the left knee. "
        "Radiographs showed a lytic lesion, and a biopsy confirmed a giant cell tumour. "
        "He walked without pain at one year."
    )
    patient = summarize(text, backend="rules").record.patient
    assert patient.age_text == "in his 30s"
    assert patient.age_years is None
    assert patient.sex.value == "male"
