"""Field-typed scorers against hand-computed values."""

from __future__ import annotations

from typing import Any

import pytest

from summarizer.evaluation.gold import GoldAlternatives, GoldExpected, GoldOutcome
from summarizer.evaluation.metrics import (
    METRICS,
    RecordScore,
    aggregate,
    field_summary,
    metric_by_name,
)
from summarizer.evaluation.scorers import (
    FIELD_SPECS,
    FIELDS,
    FieldScore,
    age_tolerance,
    field_spec,
    match_lists,
    score_record,
    text_similarity,
    token_f1,
)
from summarizer.schema import FIELD_LABELS, CaseReport, Outcome
from tests.conftest import seed_record


def output(**changes: Any) -> CaseReport:
    return CaseReport.model_validate(seed_record(**changes))


def score_age(gold: float | None, got: float | None) -> FieldScore:
    return field_spec("patient.age").score_values(gold, got)


def score_text(gold: str | None, got: str | None) -> FieldScore:
    return field_spec("title").score_values(gold, got)


# -- age -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gold", "got", "ok"),
    [
        (63.0, 63.0, True),
        (63.0, 63.5, True),  # exactly 0.5 off passes
        (63.0, 62.5, True),
        (63.0, 63.51, False),  # 0.51 off fails
        (63.0, 62.49, False),
        (2.0, 2.5, True),  # 2 years is not "under 2": ±0.5
        (1.0, 1.1, True),  # under 2 years: ±10 %
        (1.0, 0.9, True),
        (1.0, 1.11, False),
        (0.5, 0.55, True),
        (0.5, 0.56, False),
        (1.9, 2.09, True),
        (1.9, 2.1, False),
    ],
)
def test_age_tolerance_edges(gold: float, got: float, ok: bool) -> None:
    score = score_age(gold, got)
    assert score.score == (1.0 if ok else 0.0), score.reason


def test_age_tolerance_values() -> None:
    assert age_tolerance(40) == 0.5
    assert age_tolerance(1.5) == pytest.approx(0.15)
    assert age_tolerance(0.0) == pytest.approx(1 / 365.25)  # a newborn: at least one day


def test_age_missing_and_hallucinated() -> None:
    neither = score_age(None, None)
    assert neither.score is None and neither.both_absent  # no field credit
    omitted = score_age(30.0, None)
    assert (omitted.score, omitted.omitted, omitted.hallucinated) == (0.0, True, False)
    invented = score_age(None, 30.0)
    assert (invented.score, invented.omitted, invented.hallucinated) == (0.0, False, True)


# -- enums and text ------------------------------------------------------------------


def test_enum_exact() -> None:
    article_type = field_spec("article_type")
    assert article_type.score_values("case_report", "case_report").score == 1.0
    wrong = article_type.score_values("case_report", "case_series")
    assert wrong.score == 0.0 and "expected case_report" in wrong.reason
    assert wrong.gold_present is None  # always present: no omission/hallucination
    sex = field_spec("patient.sex").score_values("not_reported", "male")
    assert sex.hallucinated and sex.score == 0.0


def test_token_f1_by_hand() -> None:
    # gold {fever, cough, rash}, output {fever, cough}: P = 1, R = 2/3, F1 = 0.8
    assert token_f1("fever, cough and rash", "Fever and cough") == pytest.approx(0.8)
    assert token_f1("fever", "headache") == 0.0
    assert token_f1("the", "the") == 1.0  # only stop words: compared as they are


def test_text_score_is_mean_of_token_f1_and_fuzzy() -> None:
    score = score_text("Gross total resection", "gross total resection")
    assert score.score == pytest.approx(1.0)
    partial = score_text("fever cough rash", "fever cough")
    assert 0.8 < partial.score < 1.0  # type: ignore[operator]
    assert "token F1 0.80" in partial.reason
    assert score_text(None, "x").hallucinated
    assert score_text("x", None).omitted
    assert score_text("  ", None).both_absent  # blank text is no text


# -- lists -----------------------------------------------------------------------------


def test_hungarian_beats_greedy() -> None:
    # Greedy takes A–X (0.9) first, leaving B–Y (0.1, below the threshold): one match,
    # total 0.9. The optimal one-to-one matching is A–Y + B–X = 1.5: two matches.
    table = {("A", "X"): 0.9, ("A", "Y"): 0.8, ("B", "X"): 0.7, ("B", "Y"): 0.1}
    matched = match_lists(["A", "B"], ["X", "Y"], lambda g, o: (table[g, o], table[g, o]))
    assert sorted(matched.pairs) == [(0, 1, 0.8), (1, 0, 0.7)]
    assert matched.precision == pytest.approx(0.75)
    assert matched.recall == pytest.approx(0.75)
    assert matched.f1 == pytest.approx(0.75)


def test_list_threshold_and_partial_credit() -> None:
    table = {("A", "X"): 0.4, ("B", "X"): 0.6}
    matched = match_lists(["A", "B"], ["X"], lambda g, o: (table[g, o], table[g, o]))
    assert matched.pairs == [(1, 0, 0.6)]
    # soft precision 0.6 / 1 output, soft recall 0.6 / 2 gold items
    assert matched.precision == pytest.approx(0.6)
    assert matched.recall == pytest.approx(0.3)
    assert matched.f1 == pytest.approx(2 * 0.6 * 0.3 / 0.9)


def test_lists_are_order_insensitive_and_enum_fields_count() -> None:
    gold = GoldExpected.model_validate(
        {
            "outcomes": [
                {
                    "timepoint": "1 month",
                    "description": "no tumor recurrence on MRI",
                    "status": "resolved",
                },
                {
                    "timepoint": "one year",
                    "description": "the lesion recurred",
                    "status": "recurred",
                },
            ]
        }
    )
    items = [
        {
            "timepoint": "one year",
            "description": "the lesion recurred",
            "status": "recurred",
            "evidence": "x",
        },
        {
            "timepoint": "1 month",
            "description": "no tumor recurrence on MRI",
            "status": "resolved",
            "evidence": "y",
        },
    ]
    forward = score_record(gold, output(outcomes=items))["outcomes"]
    backward = score_record(gold, output(outcomes=list(reversed(items))))["outcomes"]
    assert forward.score == backward.score == pytest.approx(1.0)
    # the wrong status on one item costs its 0.3 weight: item scores 1.0 and 0.7
    items[0]["status"] = "worsened"
    wrong = score_record(gold, output(outcomes=items))["outcomes"]
    assert wrong.precision == pytest.approx(0.85)
    assert wrong.recall == pytest.approx(0.85)


# -- omissions and hallucinations ---------------------------------------------------------


def test_omission_and_hallucination_counting() -> None:
    gold = GoldExpected.model_validate(
        {
            "article_type": "case_report",  # presence not meaningful: not counted
            "patient_count": 1,  # present, output 1: neither
            "history": [],  # gold empty, output has an item: hallucination
            "clinical_findings": [],  # gold empty, output empty: neither, and no field score
            "diagnosis": {"final": "leiomyosarcoma metastasis"},  # present, output null: omission
            "why_reported": "It is rare.",  # present, output null: omission
            "conclusion": None,  # gold null, output has one: hallucination
        }
    )
    record = output(
        diagnosis=None,
        history=[{"description": "LMS resection", "timing": "3 years ago", "evidence": "z"}],
    )
    scores = score_record(gold, record)
    assert set(scores) == {
        "article_type",
        "patient_count",
        "history",
        "clinical_findings",
        "diagnosis.final",
        "why_reported",
        "conclusion",
    }
    assert [name for name, s in scores.items() if s.omitted] == ["diagnosis.final", "why_reported"]
    assert [name for name, s in scores.items() if s.hallucinated] == ["history", "conclusion"]
    assert [name for name, s in scores.items() if s.both_absent] == ["clinical_findings"]
    assert scores["clinical_findings"].score is None
    rs = RecordScore(id="r", ok=True, fields=scores)
    # gold present: patient_count, diagnosis.final, why_reported → 2 of 3 omitted
    assert metric_by_name("omission_rate").values(rs) == (2, 3)
    # gold empty: history, clinical_findings, conclusion → 2 of 3 hallucinated; the
    # both-empty clinical_findings counts here, as a correct "not reported"
    assert metric_by_name("hallucination_rate").values(rs) == (2, 3)
    # …and nowhere else: not in its field's score, not in the record's overall
    assert metric_by_name("clinical_findings").values(rs) is None
    assert rs.overall == pytest.approx(
        sum(s.score for s in scores.values() if s.score is not None) / 6
    )


def test_both_absent_earns_no_field_credit() -> None:
    """A backend that never fills a field does not score well on it where gold is empty."""
    differential = GoldExpected.model_validate(
        {"diagnosis": {"final": "leiomyosarcoma", "differential": []}}
    )
    listed = GoldExpected.model_validate(
        {"diagnosis": {"final": "leiomyosarcoma", "differential": ["schwannoma", "meningioma"]}}
    )
    never = output()  # the seed record lists no differential
    records = [
        RecordScore(id=f"empty{i}", ok=True, fields=score_record(differential, never))
        for i in range(6)
    ] + [RecordScore(id="listed", ok=True, fields=score_record(listed, never))]
    value, count = aggregate(records, metric_by_name("diagnosis.differential"))
    assert (value, count) == (0.0, 1)  # was 6/7 = 0.857 when both-empty scored 1.0
    summary = field_summary(records, "diagnosis.differential")
    assert summary["n"] == 1 and summary["omitted"] == 1 and summary["gold_present"] == 1
    assert summary["both_absent"] == 6 and summary["gold_empty"] == 6
    assert summary["hallucinated"] == 0
    value, count = aggregate(records, metric_by_name("hallucination_rate"))
    assert value == 0.0 and count == 6


def test_absent_fields_are_not_scored() -> None:
    scores = score_record(GoldExpected.model_validate({"title": "X"}), output())
    assert list(scores) == ["title"]


def test_failed_record_scores_zero_but_is_not_an_omission() -> None:
    gold = GoldExpected.model_validate({"title": "X", "history": [], "patient": {"sex": "female"}})
    scores = score_record(gold, None)
    assert {name: s.score for name, s in scores.items()} == {
        "title": 0.0,
        "history": None,  # gold empty: nothing would have been scored
        "patient.sex": 0.0,
    }
    assert not any(s.omitted or s.hallucinated for s in scores.values())
    failed = RecordScore(id="r", ok=False, fields=scores)
    assert metric_by_name("validity_rate").values(failed) == (0.0, 1.0)
    assert metric_by_name("omission_rate").values(failed) is None


def test_aggregate_is_a_ratio_of_sums() -> None:
    def record(ident: str, aligned: int, total: int) -> RecordScore:
        return RecordScore(id=ident, ok=True, evidence_aligned=aligned, evidence_total=total)

    grounding = metric_by_name("grounding_rate")
    value, count = aggregate([record("a", 1, 1), record("b", 1, 3)], grounding)
    assert value == pytest.approx(0.5) and count == 2
    assert {metric.name for metric in METRICS} >= {"overall", "cost_usd", "validity_rate"}


def test_text_similarity_symmetric_enough() -> None:
    a, b = "right-sided numbness", "right-sided numbness and pain"
    assert text_similarity(a, b) == pytest.approx(text_similarity(b, a))
    assert text_similarity("", "") == 1.0 and text_similarity("x", "") == 0.0


def test_accepted_alternatives_score_one() -> None:
    gold = GoldExpected.model_validate({"article_type": "case_report", "patient_count": 1})
    accept = GoldAlternatives.model_validate(
        {"article_type": ["review_with_case"], "patient_count": [2]}
    )
    record = output(article_type="review_with_case", patient_count=2)
    scores = score_record(gold, record, accept=accept)
    assert (
        scores["article_type"].score == 1.0
        and scores["article_type"].reason == "accepted alternative"
    )
    assert scores["patient_count"].score == 1.0
    assert score_record(gold, record)["article_type"].score == 0.0
    assert (
        score_record(gold, output(article_type="case_series"), accept=accept)["article_type"].score
        == 0.0
    )
    # an accepted value where gold says "not reported" is a right answer, not a hallucination
    unsure = GoldExpected.model_validate({"patient": {"sex": "not_reported"}})
    sex = score_record(
        unsure,
        output(patient={"sex": "female"}),
        accept=GoldAlternatives.model_validate({"sex": ["female"]}),
    )["patient.sex"]
    assert (sex.score, sex.reason, sex.hallucinated) == (1.0, "accepted alternative", False)
    assert sex.expected == "not_reported / female"


# -- the table and its labels -------------------------------------------------------------


def test_every_field_has_a_spec_and_a_clinical_label() -> None:
    assert tuple(spec.path for spec in FIELD_SPECS) == FIELDS
    for spec in FIELD_SPECS:
        assert spec.label == FIELD_LABELS[spec.path] != spec.path
    for name in CaseReport.model_fields:  # the card's headings and the reports' labels
        assert name in FIELD_LABELS
    labelled = {metric.name: metric.label for metric in METRICS if metric.label}
    assert labelled == {spec.path: spec.label for spec in FIELD_SPECS}


def test_gold_and_output_items_read_the_same() -> None:
    """Reports show expected and produced items in the schema's wording."""
    gold = GoldOutcome(timepoint="6 months", description="no recurrence", status="resolved")
    made = Outcome(
        timepoint="6 months", description="no recurrence", status="resolved", evidence="e"
    )
    assert gold.label == made.label == "6 months: no recurrence (status resolved)"
    scores = score_record(
        GoldExpected.model_validate({"outcomes": [gold.model_dump()]}),
        output(outcomes=[made.model_dump()]),
    )
    assert scores["outcomes"].expected == scores["outcomes"].got == made.label
