"""The rules backend finds the patient the case is about: not a relative, not the mother of
a newborn; the age at presentation; sex from nouns and pronouns; whole-word quotes.
Every text here is written for these tests."""

from __future__ import annotations

import pytest

from summarizer import CaseReport, Result, Sex, summarize


def rules(text: str) -> Result:
    return summarize(text, backend="rules")


def test_newborn_not_the_mother() -> None:
    record = rules(
        "A male newborn was delivered at 38 weeks of gestation to a 20-year-old mother who had "
        "no antenatal care. At birth he had a rash on the palms and soles and an enlarged "
        "liver. Serology confirmed congenital syphilis, and he was treated with penicillin for "
        "ten days. The rash cleared within two weeks."
    ).record
    assert record.patient.age_years == 0.0
    assert record.patient.sex is Sex.male
    assert record.article_type.value == "case_report"


def test_relatives_named_by_age_are_not_the_patient() -> None:
    record = rules(
        "Her 9-year-old brother had died of the same disease. "
        "A 12-year-old girl was referred with jaundice and a tremor of both hands. "
        "Slit-lamp examination showed copper rings, and she started chelation therapy. "
        "She was well after two years."
    ).record
    assert record.patient.age_years == 12.0
    assert record.patient.sex is Sex.female


@pytest.mark.parametrize(
    "family",
    [
        "She is the youngest of three siblings, and none of them has liver disease.",
        "He has three children and works as a bus driver.",
        "Her two siblings are healthy.",
    ],
)
def test_relatives_do_not_make_a_case_series(family: str) -> None:
    record = rules(
        "A 40-year-old patient presented with fever and a cough for two weeks. "
        f"{family} "
        "Chest radiography showed a right lower lobe consolidation, and blood cultures grew "
        "pneumococcus. The patient recovered on intravenous antibiotics."
    ).record
    assert record.article_type.value == "case_report"
    assert record.patient_count == 1


def test_age_at_presentation_not_age_now() -> None:
    record = rules(
        "A now four-year-old boy presented at the age of 3 years to our emergency department "
        "with fever and swollen legs. Urine tests showed heavy proteinuria, and a kidney biopsy "
        "showed minimal change disease. He responded to steroids within four weeks."
    ).record
    assert record.patient.age_years == 3.0
    assert record.patient.sex is Sex.male


def test_an_earlier_diagnosis_age_is_not_the_presentation() -> None:
    # A guard for the rule above: "presented" followed, later, by the age of another event.
    record = rules(
        "A 51-year-old woman who presented with bloody diarrhoea had been diagnosed with "
        "colitis at the age of 49 years. Colonoscopy showed continuous inflammation, and she "
        "underwent colectomy. She was well at one year."
    ).record
    assert record.patient.age_years == 51.0


def test_a_past_event_age_waits_for_the_age_at_presentation() -> None:
    record = rules(
        "At the age of 12 years she had her appendix removed. "
        "Now 30 years old, she presented with right iliac fossa pain and a mass. "
        "Computed tomography showed a mucocele of the appendiceal stump, which was resected."
    ).record
    assert record.patient.age_years == 30.0


@pytest.mark.parametrize(
    ("opening", "sex"),
    [
        ("A 50 years-old women patient", Sex.female),  # plural noun for one woman
        ("A widow, 72-year-old,", Sex.female),  # the noun before the age
        ("A 30-year-old postmenopausal patient", Sex.female),
        ("A 9-year-old gelding", Sex.male),  # veterinary nouns
        ("A 64-year-old gentleman", Sex.male),
    ],
)
def test_sex_from_the_noun_phrase(opening: str, sex: Sex) -> None:
    record = rules(
        f"{opening} was admitted with abdominal pain and vomiting. "
        "Ultrasound showed a dilated bowel loop, and laparotomy found an intussusception. "
        "Recovery was uneventful."
    ).record
    assert record.patient.sex is sex


@pytest.mark.parametrize(
    ("relative", "pronoun", "possessive", "sex"),
    [("father", "She", "her", Sex.female), ("mother", "He", "his", Sex.male)],
)
def test_sex_from_pronouns_not_from_relatives(
    relative: str, pronoun: str, possessive: str, sex: Sex
) -> None:
    record = rules(
        "A 47-year-old patient was admitted with a sudden headache; the patient's "
        f"{relative} said the pain began at rest. {pronoun} had no history of trauma, and "
        f"{possessive} blood pressure was 190/110 mmHg. {pronoun} underwent coiling of an "
        "aneurysm of the anterior communicating artery."
    ).record
    assert record.patient.sex is sex


def test_a_relative_right_after_the_age_is_not_the_patient_s_sex() -> None:
    record = rules(
        "A 9-year-old whose father had died of cancer was admitted with a limp. She had pain "
        "in the right hip, and her radiographs showed a lytic lesion. She was treated with "
        "curettage."
    ).record
    assert record.patient.sex is Sex.female


def test_a_mother_named_first_is_not_the_patient_s_sex() -> None:
    record = rules(
        "We report the case of a 6-month-old infant whose mother noticed a lump in the neck. "
        "His blood counts were normal, and ultrasound showed a cystic mass. The cyst was "
        "excised, and he was well at follow-up."
    ).record
    assert record.patient.age_years == 0.5
    assert record.patient.sex is Sex.male


@pytest.mark.parametrize(
    "text",
    [
        "Surprisingly, an 80-year-old male presented with a third episode of syncope. "
        "Holter monitoring showed complete heart block, and a pacemaker was implanted.",
        "Recently the 19-year-old man was admitted with chest pain after cocaine use. "
        "Troponin was raised, and coronary angiography was normal.",
        "Two neonates were born on the ward that night. Only the immunocompetent neonate "
        "developed pneumonia, which resolved with antibiotics. The other neonates were well.",
        "A 58-year-old man receiving tacrolimus after orthotopic liver transplantation for "
        "hepatitis C cirrhosis developed a tremor and confusion. Tacrolimus levels were high.",
    ],
)
def test_quotes_start_and_end_on_word_boundaries(text: str) -> None:
    result = rules(text)
    cleaned = result.abstract.text
    assert result.evidence, "the record should quote its evidence"
    for span in result.evidence:
        assert span.start == 0 or not (
            cleaned[span.start - 1].isalnum() and cleaned[span.start].isalnum()
        ), span.quote
        assert span.end == len(cleaned) or not (
            cleaned[span.end - 1].isalnum() and cleaned[span.end].isalnum()
        ), span.quote
    assert result.record.patient.evidence is not None


def test_patient_quote_is_a_short_phrase() -> None:
    record = rules(
        "Surprisingly, an 80-year-old male presented with a third episode of syncope. "
        "Holter monitoring showed complete heart block, and a pacemaker was implanted."
    ).record
    assert record.patient.evidence == "an 80-year-old male"


def test_no_impossible_values() -> None:
    record = rules(
        "A 150-year-old oak fell on a 45-year-old forester during a storm. He was trapped for "
        "two hours and developed a crush injury of the left leg. Creatine kinase peaked at "
        "40,000 U/L, and he needed dialysis for one week."
    ).record
    assert record.patient.age_years == 45.0
    CaseReport.model_validate(record.model_dump())
