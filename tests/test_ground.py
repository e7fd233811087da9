"""Alignment oracle: planted spans with known offsets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import BaseModel, ValidationError

from summarizer.ground import (
    Aligner,
    AlignmentStatus,
    QuoteNotFound,
    check_quote,
    is_grounding_error,
    iter_evidence,
    validation_context,
)
from summarizer.schema import CaseReport, Patient
from tests.conftest import seed_record

TEXT = (
    "Title line\n\n"
    "CASE: A 54-year-old man had hemi-\nparesis and \u201cburning\u201d pain. "
    "MRI showed   a C5\u2013C6 lesion.\nNo tumor recurrence was seen."
)


def span_of(fragment: str) -> tuple[int, int]:
    start = TEXT.index(fragment)
    return start, start + len(fragment)


def test_exact() -> None:
    found = Aligner(TEXT).align("A 54-year-old man")
    assert found.status is AlignmentStatus.exact
    assert (found.start, found.end) == span_of("A 54-year-old man")


def test_case_difference_is_normalised() -> None:
    found = Aligner(TEXT).align("a 54-YEAR-OLD MAN")
    assert found.status is AlignmentStatus.normalised
    assert (found.start, found.end) == span_of("A 54-year-old man")


def test_hyphenation_across_a_line_break() -> None:
    found = Aligner(TEXT).align("had hemiparesis")
    assert found.status is AlignmentStatus.normalised
    assert (found.start, found.end) == span_of("had hemi-\nparesis")


def test_curly_quotes_and_dashes() -> None:
    found = Aligner(TEXT).align('"burning" pain')
    assert found.status is AlignmentStatus.normalised
    assert (found.start, found.end) == span_of("\u201cburning\u201d pain")
    dash = Aligner(TEXT).align("a C5-C6 lesion")
    assert (dash.start, dash.end) == span_of("a C5\u2013C6 lesion")


def test_whitespace_runs() -> None:
    found = Aligner(TEXT).align("MRI showed a C5")
    assert found.status is AlignmentStatus.normalised
    assert (found.start, found.end) == span_of("MRI showed   a C5")


def test_quote_split_across_a_collapsed_newline() -> None:
    found = Aligner(TEXT).align("lesion. No tumor recurrence")
    assert found.status is AlignmentStatus.normalised
    assert (found.start, found.end) == span_of("lesion.\nNo tumor recurrence")


def test_fuzzy_for_a_small_typo() -> None:
    found = Aligner(TEXT).align("No tumour recurrence was seen")
    assert found.status is AlignmentStatus.fuzzy
    start, end = span_of("No tumor recurrence was seen")
    assert abs(found.start - start) <= 1 and abs(found.end - end) <= 1
    assert found.score >= 90


def test_fabricated_quote_is_unaligned() -> None:
    found = Aligner(TEXT).align("the patient was a professional violinist")
    assert found.status is AlignmentStatus.unaligned
    assert (found.start, found.end) == (-1, -1)


def test_short_quotes_are_not_fuzzy_matched() -> None:
    assert Aligner(TEXT).align("tumpr").status is AlignmentStatus.unaligned


def test_check_quote_only_enforces_with_a_grounding_context() -> None:
    check_quote("not there at all", None)  # no context: no-op
    check_quote("not there at all", {"something": "else"})
    aligner = Aligner(TEXT)
    with pytest.raises(QuoteNotFound, match="not found in the abstract"):
        check_quote("not there at all", validation_context(aligner))
    check_quote("not there at all", validation_context(aligner, enforce=False))


def test_the_aligner_is_passed_as_validation_context_and_failures_are_typed() -> None:
    value = {"age_text": "8-year-old", "evidence": "a quote from elsewhere"}
    Patient.model_validate(value)  # no context: a stored record reads back unchecked
    with pytest.raises(ValidationError) as raised:
        Patient.model_validate(value, context=validation_context(Aligner(TEXT)))
    assert is_grounding_error(raised.value)
    with pytest.raises(ValidationError) as mixed:
        Patient.model_validate(
            {**value, "sex": "a sex that is not one"}, context=validation_context(Aligner(TEXT))
        )
    assert not is_grounding_error(mixed.value)  # another problem too: not only grounding


def _every_quote(model: BaseModel, path: str = "") -> Iterator[tuple[str, str]]:
    """The walk ``iter_evidence`` makes, looking at every field (the reference)."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        here = f"{path}.{name}" if path else name
        if name == "evidence" and isinstance(value, str) and value.strip():
            yield (path or "record", value)
        elif isinstance(value, BaseModel):
            yield from _every_quote(value, here)
        elif isinstance(value, list):
            for position, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from _every_quote(item, f"{here}[{position}]")


def test_iter_evidence_finds_every_quote_in_field_order() -> None:
    """It skips the fields whose annotation cannot hold a quote: the same quotes."""
    finding = {"description": "a mass", "evidence": "a palpable mass"}
    test = {"name": "MRI", "result": "a C5 lesion", "evidence": "MRI showed a C5 lesion"}
    record = CaseReport.model_validate(
        seed_record(
            clinical_findings=[finding, {**finding, "negative": True}],
            diagnostic_assessment=[test],
            why_reported={"text": "rare", "evidence": "a rare site"},
        )
    )
    found = list(iter_evidence(record))
    assert found == list(_every_quote(record))
    assert [path for path, _ in found] == [
        "patient",
        "presentation[0]",
        "history[0]",
        "clinical_findings[0]",
        "clinical_findings[1]",
        "diagnostic_assessment[0]",
        "diagnosis",
        "interventions[0]",
        "outcomes[0]",
        "why_reported",
        "conclusion",
    ]
