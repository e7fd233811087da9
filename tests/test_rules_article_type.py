"""Article type in the rules backend: a text that describes no patient is not a case and its
record is empty; a text that describes a patient is a case report or a series, whatever else
it mentions. Every text here is written for these tests."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from summarizer import ArticleType, CaseReport, Document, Sex, summarize
from summarizer.backends.rules import NOT_A_CASE_SUMMARY
from summarizer.schema import Patient


def record_of(text: str) -> CaseReport:
    return summarize(text, backend="rules").record


def assert_empty(record: CaseReport) -> None:
    assert record.article_type is ArticleType.not_a_case_report
    assert record.patient_count is None
    assert record.patient == Patient()
    assert record.patient.sex is Sex.not_reported
    for field in (
        "presentation",
        "history",
        "clinical_findings",
        "diagnostic_assessment",
        "interventions",
        "outcomes",
    ):
        assert getattr(record, field) == [], field
    assert record.diagnosis is None
    assert record.why_reported is None
    assert record.summary == NOT_A_CASE_SUMMARY
    CaseReport.model_validate(record.model_dump())


@pytest.mark.parametrize(
    "text",
    [
        "The weather today is sunny, with a light breeze from the west. Rain is expected by the "
        "evening, and temperatures will fall overnight. The weekend looks dry and cool.",
        "In this randomised controlled trial, 240 adults aged 65 years or older were assigned "
        "to vitamin D or placebo for one year. Falls were recorded monthly. Vitamin D did not "
        "reduce the rate of falls, and adverse events were similar in both groups.",
        "This narrative review covers the management of a patient with suspected sepsis in the "
        "emergency department. Early antibiotics and fluids improve survival, and lactate "
        "guides resuscitation.",
        "Healthy 7- to 17-year-old boys treated with risperidone had their bone density "
        "measured at three clinics. Bone density was lower in boys with high prolactin levels.",
        "We systematically reviewed 35 studies of antibiotic prophylaxis in dental implant "
        "surgery. Prophylaxis reduced early implant failure, but the evidence was of low "
        "certainty. Larger trials are needed.",
    ],
)
def test_no_patient_no_case(text: str) -> None:
    assert_empty(record_of(text))


def test_a_study_keeps_only_its_labelled_conclusion() -> None:
    record = record_of(
        "Background: Falls are common in older adults.\n\n"
        "Methods: In this randomised controlled trial, 240 participants aged 65 years or older "
        "received vitamin D or placebo for one year.\n\n"
        "Results: The rate of falls did not differ between the groups.\n\n"
        "Conclusions: Vitamin D does not prevent falls in older adults living at home."
    )
    assert record.article_type is ArticleType.not_a_case_report
    assert record.conclusion is not None
    assert record.conclusion.text.startswith("Vitamin D does not prevent falls")


@pytest.mark.parametrize(
    "text",
    [
        "A 21-year-old male was referred to the surgical clinic with a painless testicular "
        "mass. Ultrasound showed a solid lesion, and orchidectomy found a seminoma.",
        "A 21-year-old male was referred to our clinic after a screening visit for trial "
        "participants showed a raised creatinine. Renal biopsy showed IgA nephropathy.",
        "This case report describes a patient who developed asystole during knee surgery under "
        "general anaesthesia. Cardiac examinations were unremarkable afterwards.",
    ],
)
def test_a_patient_makes_a_case(text: str) -> None:
    record = record_of(text)
    assert record.article_type is ArticleType.case_report
    assert record.patient_count == 1


def test_a_patient_s_record_is_never_blanked_by_article_words() -> None:
    record = record_of(
        "A 21-year-old male was referred to the clinic with fever. He had taken part in a "
        "randomized controlled trial of a malaria vaccine two years earlier. Blood films were "
        "negative, and he recovered on antibiotics."
    )
    assert record.article_type is ArticleType.case_report
    assert record.patient.age_years == 21.0
    assert record.patient.sex is Sex.male


@pytest.mark.parametrize(
    ("title", "body", "count"),
    [
        (
            "Listeria rhombencephalitis in healthy adults: a report of three cases",
            "Three adults without immunosuppression developed fever and brainstem signs. "
            "All recovered on ampicillin.",
            3,
        ),
        (
            "Methanol poisoning in two men",
            "Two men drank the same counterfeit spirit. The first, a 33-year-old man, "
            "recovered after haemodialysis.",
            2,
        ),
    ],
)
def test_series_counted_in_the_title(title: str, body: str, count: int) -> None:
    record = summarize(
        Document(id="t", text=body, origin="<test>", format="jsonl", title=title),
        backend="rules",
    ).record
    assert record.article_type is ArticleType.case_series
    assert record.patient_count == count


def test_series_counted_by_a_reporting_sentence() -> None:
    record = record_of(
        "We describe four adults with diabetic ketoacidosis and facial swelling. Case 1 was a "
        "45-year-old man with a black palatal eschar. The other three had sinus disease. All "
        "received amphotericin."
    )
    assert record.article_type is ArticleType.case_series
    assert record.patient_count == 4
    assert record.patient.age_years == 45.0


def test_cases_from_the_literature_do_not_count() -> None:
    record = record_of(
        "A 4-year-old girl presented with a duodenal ulcer and a high gastrin level. A gastric "
        "duplication cyst was resected, and the gastrin level fell. Only two cases have been "
        "reported in the literature, and we reviewed 48 published cases of duplication cysts."
    )
    assert record.article_type is not ArticleType.case_series
    assert record.patient_count == 1


def test_liveborn_twins_of_the_patient_do_not_count() -> None:
    record = record_of(
        "A primigravida with a twin pregnancy at 33 weeks presented with nausea and "
        "polydipsia. Liver tests were raised, and an emergency caesarean section was "
        "performed, and two liveborn infants were admitted to the neonatal unit. She "
        "recovered within two weeks."
    )
    assert record.article_type is ArticleType.case_report
    assert record.patient_count == 1
    assert record.patient.sex is Sex.female


def test_the_benchmark_skips_without_the_shared_corpus(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = Path(__file__).resolve().parents[1] / "bench" / "rules_real.py"
    spec = importlib.util.spec_from_file_location("rules_real_bench", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, bench)  # dataclasses look their module up
    spec.loader.exec_module(bench)
    monkeypatch.setattr(bench, "CORPUS", tmp_path / "absent")
    assert bench.main([]) == 0
    assert "skipped" in capsys.readouterr().out


def test_labels_file_is_well_formed() -> None:
    path = Path(__file__).resolve().parents[1] / "evals" / "labels" / "e3c-150.jsonl"
    labels = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(labels) == 150
    assert len({label["id"] for label in labels}) == 150
    for label in labels:
        assert set(label) <= {"id", "age_years", "sex", "patient_count", "note"}
        assert label["sex"] in {"female", "male", None}
        assert label["age_years"] is None or 0 <= label["age_years"] <= 125
        assert isinstance(label["patient_count"], int) and label["patient_count"] >= 0


def test_series_counted_by_numbered_cases() -> None:
    record = record_of(
        "Case 1 was a 47-year-old man with fever and diplopia. Case 2 was a 61-year-old woman "
        "with vertigo. Case 3 was a 38-year-old woman with neck stiffness. All had Listeria "
        "in blood cultures and received ampicillin."
    )
    assert record.article_type is ArticleType.case_series
    assert record.patient_count == 3
    assert record.patient.age_years == 47.0
    assert record.patient.sex is Sex.male
