"""The case schema: validation rules, age parsing, and drift against schemas/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from summarizer.ages import parse_age, timepoint_days
from summarizer.schema import SCHEMA_FILE, CaseReport, json_schema, json_schema_text
from tests.conftest import seed_record


def test_schema_file_has_not_drifted() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == json_schema_text(), (
        "schemas/case_report.schema.json is stale: run `make schema`"
    )


def test_every_field_is_described_or_said_once_elsewhere() -> None:
    """A field without a description is one whose meaning is stated once elsewhere (the
    system prompt's conventions, its list's description, its enum): see
    tests/test_sent_schema.py, which also holds the prompts to stating no field rule."""
    from tests.test_sent_schema import UNDESCRIBED

    schema = json_schema()

    def walk(node: dict, path: str) -> None:
        for name, prop in node.get("properties", {}).items():
            described = "description" in prop or "$ref" in prop or "anyOf" in prop
            assert described or name in UNDESCRIBED, f"{path}.{name}"

    walk(schema, "CaseReport")
    for name, definition in schema["$defs"].items():
        if "properties" in definition:
            walk(definition, name)


@pytest.mark.parametrize(
    ("phrase", "years"),
    [
        ("A 63-year-old female", 63.0),
        ("a six-day-old boy", round(6 / 365.25, 4)),
        ("14-month-old toddler", round(14 / 12, 4)),
        ("an 8-week-old infant", round(8 * 7 / 365.25, 4)),
        ("a woman in her forties", 45.0),
        ("aged 71 years", 71.0),
        ("a 2-and-a-half-year-old girl", 2.5),
        ("a newborn", 0.0),
        ("no age here", None),
    ],
)
def test_parse_age(phrase: str, years: float | None) -> None:
    assert parse_age(phrase) == years


def test_age_years_follows_age_text() -> None:
    record = CaseReport.model_validate(
        seed_record(patient={"age_text": "six-month-old", "age_years": 6, "sex": "male"})
    )
    assert record.patient.age_years == 0.5


def test_semantic_validation() -> None:
    with pytest.raises(ValidationError, match="age_years"):
        CaseReport.model_validate(seed_record(patient={"age_years": 130, "sex": "male"}))
    with pytest.raises(ValidationError, match="article_type"):
        CaseReport.model_validate(seed_record(article_type="letter"))
    with pytest.raises(ValidationError, match="evidence"):
        CaseReport.model_validate(
            seed_record(presentation=[{"description": "pain", "evidence": " "}])
        )
    with pytest.raises(ValidationError, match="timepoint"):
        CaseReport.model_validate(
            seed_record(
                outcomes=[
                    {
                        "timepoint": "banana",
                        "description": "x",
                        "status": "improved",
                        "evidence": "x",
                    }
                ]
            )
        )
    with pytest.raises(ValidationError, match="60"):
        CaseReport.model_validate(seed_record(summary="word " * 61))


def test_timepoints() -> None:
    assert timepoint_days("6 months postoperatively") == pytest.approx(182.62, abs=0.1)
    assert timepoint_days("in one postoperative year") == pytest.approx(365.25)
    assert timepoint_days("at discharge") is None


def test_not_reported_is_distinct_from_negative() -> None:
    record = CaseReport.model_validate(
        seed_record(
            clinical_findings=[
                {"description": "no lymphadenopathy", "negative": True, "evidence": "x"}
            ]
        )
    )
    assert record.clinical_findings[0].negative is True
    empty = CaseReport.model_validate({"article_type": "case_report", "summary": "s"})
    assert empty.clinical_findings == [] and empty.diagnosis is None
    assert empty.patient.sex.value == "not_reported"


def test_schema_file_is_valid_json_with_version() -> None:
    data = json.loads(Path(SCHEMA_FILE).read_text())
    assert data["x-schema-version"]
