"""The review library: the queue and its reasons, a stored review session (edits checked
by the schema, statuses, offsets, conflicts, persistence), and its exports."""

from __future__ import annotations

import io
import json
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from summarizer.evaluation.gold import validate_gold_dir
from summarizer.ground import AlignmentStatus
from summarizer.output import read_results
from summarizer.output.contract import has_abstract
from summarizer.review import (
    ConflictError,
    EditError,
    ReasonKind,
    ReviewSession,
    export_gold,
    export_reviewed,
    review_queue,
)
from summarizer.review.review_store import default_store_path
from tests.conftest import seed_record
from tests.review_helpers import ROOT, copy_records, make_records, read_lines, run_cli
from tests.test_output import make_result


def write_lines(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_records(tmp_path_factory.mktemp("records"))


@pytest.fixture
def records(template: Path, tmp_path: Path) -> Path:
    return copy_records(template, tmp_path)


@pytest.fixture
def session(records: Path) -> Any:
    review = ReviewSession(records)
    yield review
    review.close()


# --------------------------------------------------------------------------- contract


def test_result_lines_carry_the_abstract_and_read_back(records: Path) -> None:
    line = read_lines(records)[0]
    block = line["abstract"]
    assert set(block) == {"title", "text", "sections", "warnings", "confidence", "offsets"}
    for span in line["evidence"]:
        if span["status"] != "unaligned":
            assert block["text"][span["start"] : span["end"]]  # offsets index abstract.text
    result = next(iter(read_results(records)))
    assert has_abstract(result)
    assert result.abstract.text == block["text"]
    assert result.to_dict()["record"] == line["record"]


def test_unreadable_lines_become_failures(tmp_path: Path, records: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text(
        records.read_text(encoding="utf-8") + '{"id": "x", "record": {"summary": 1}}\n{"id": ',
        encoding="utf-8",
    )
    items = list(read_results(broken))
    assert [type(item).__name__ for item in items[-2:]] == ["Failure", "Failure"]
    assert "not a valid case record" in str(items[-2].error)  # type: ignore[union-attr]
    assert "malformed JSON" in str(items[-1].error)  # type: ignore[union-attr]


# --------------------------------------------------------------------------- queue


def model_line(line: dict[str, Any], **record: Any) -> dict[str, Any]:
    """A line as a model backend would have written it (rules compare against it)."""
    changed = json.loads(json.dumps(line))
    changed["provenance"].update(backend="openai", prompt_version="v1")  # a model's line
    changed["record"].update(record)
    return changed


def test_queue_reasons_and_order(tmp_path: Path, records: Path) -> None:
    first, second, third = read_lines(records)
    disagreeing = model_line(first, article_type="case_series", patient_count=3)
    disagreeing["record"]["patient"]["age_text"] = None
    disagreeing["record"]["patient"]["age_years"] = 36
    reasked = model_line(second)
    reasked["provenance"].update(attempts=3, requests=3, reasks=2)
    reasked["abstract"]["warnings"] = ["the title was guessed"]
    unaligned = model_line(third)
    unaligned["evidence"][0]["status"] = "unaligned"
    without_text = {key: value for key, value in first.items() if key != "abstract"}
    without_text["id"] = "old-line"
    path = write_lines(tmp_path / "mixed.jsonl", [without_text, reasked, disagreeing, unaligned])
    queue = review_queue(read_results(path))
    by_id = {entry.id: entry for entry in queue}
    kinds = {reason.kind for reason in by_id["bmc-jmcr"].reasons}
    assert ReasonKind.disagreement in kinds
    messages = [r.message for r in by_id["bmc-jmcr"].reasons if r.kind is ReasonKind.disagreement]
    assert "age: model 36, rules 43" in messages
    assert "article type: model case_series, rules case_report" in messages
    assert "patient count: model 3, rules 1" in messages
    assert by_id["pubmed-structured"].has(ReasonKind.reasks)
    assert by_id["pubmed-structured"].has(ReasonKind.warnings)
    assert "re-asked 2 times" in str(by_id["pubmed-structured"].reasons)
    assert by_id["europepmc"].has(ReasonKind.unaligned)
    assert by_id["old-line"].has(ReasonKind.no_abstract)
    # most in need first: three disagreements (12) > unaligned + missing > reasks + warnings
    assert queue[0].id == "bmc-jmcr"
    assert queue.index(by_id["europepmc"]) < queue.index(by_id["pubmed-structured"])
    scores = [entry.score for entry in queue]
    assert scores == sorted(scores, reverse=True)


def test_the_rules_backend_is_not_compared_with_itself(records: Path) -> None:
    for entry in review_queue(read_results(records)):
        assert not entry.has(ReasonKind.disagreement)


def test_missing_fields_are_named() -> None:
    result = make_result(seed_record(diagnosis=None, outcomes=[], conclusion=None))
    (missing,) = [r for r in review_queue([result])[0].reasons if r.kind is ReasonKind.missing]
    assert missing.message == "not filled: diagnosis, outcomes, conclusion"


# --------------------------------------------------------------------------- session


def patient_value(session: ReviewSession, ident: str, **changes: Any) -> dict[str, Any]:
    value = session.state(ident).record.model_dump(mode="json")["patient"]
    value.update(changes)
    return value


def test_an_edit_is_validated_stored_and_resumed(records: Path, session: ReviewSession) -> None:
    state = session.edit(
        "bmc-jmcr",
        "patient",
        patient_value(session, "bmc-jmcr", age_text="52-year-old", age_years=52),
        version=0,
    )
    assert state.review.version == 1
    assert state.record.patient.age_years == 52
    assert state.field_status("patient") == "corrected"
    session.opened("bmc-jmcr")
    session.close()
    again = ReviewSession(records)  # a new process: everything is there
    try:
        reopened = again.state("bmc-jmcr")
        assert reopened.record.patient.age_text == "52-year-old"
        assert reopened.field_status("patient") == "corrected"
        assert again.last_opened == "bmc-jmcr"
        assert [event["action"] for event in again.store.events("bmc-jmcr")] == ["edit"]
    finally:
        again.close()
    assert read_lines(records)[0]["record"]["patient"]["age_text"] == "43-year-old"  # untouched


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("article_type", "cohort", "article_type: Input should be"),
        ("patient_count", -2, "patient_count: Input should be greater than or equal to 0"),
        ("summary", "word " * 61, "summary: summary has 61 words"),
        ("outcomes", [{"description": "ok", "status": "fine"}], "outcomes[0].status"),
        ("nonsense", 1, "unknown field 'nonsense'"),
    ],
)
def test_an_invalid_edit_says_why_and_changes_nothing(
    session: ReviewSession, name: str, value: Any, message: str
) -> None:
    before = session.state("bmc-jmcr")
    with pytest.raises(EditError, match=message.replace("[", r"\[").replace("(", r"\(")):
        session.edit("bmc-jmcr", name, value, version=0)
    after = session.state("bmc-jmcr")
    assert after.review.version == 0 and after.record == before.record
    assert session.store.events() == []


def test_an_age_number_must_agree_with_the_age_as_written(session: ReviewSession) -> None:
    # a number changed alone rewrites the number written in digits: one field, few keys
    state = session.edit(
        "bmc-jmcr", "patient", patient_value(session, "bmc-jmcr", age_years=60), version=0
    )
    assert (state.record.patient.age_text, state.record.patient.age_years) == ("60-year-old", 60)
    # a text and a number changed together that disagree: refused, nothing changes
    with pytest.raises(
        EditError, match=r"61 years disagrees with the age as written 'sixty-two-year-old'"
    ):
        session.edit(
            "bmc-jmcr",
            "patient",
            patient_value(session, "bmc-jmcr", age_text="sixty-two-year-old", age_years=61),
            version=1,
        )
    # a text in words with the number changed alone: no digits to rewrite, refused
    state = session.edit(
        "bmc-jmcr",
        "patient",
        patient_value(session, "bmc-jmcr", age_text="sixty-two-year-old"),
        version=1,
    )
    assert state.record.patient.age_years == 62
    with pytest.raises(EditError, match=r"50 years disagrees"):
        session.edit(
            "bmc-jmcr", "patient", patient_value(session, "bmc-jmcr", age_years=50), version=2
        )
    # a new text with the number left alone: the number follows the text
    state = session.edit(
        "bmc-jmcr", "patient", patient_value(session, "bmc-jmcr", age_text="six-day-old"), version=2
    )
    assert state.record.patient.age_years == pytest.approx(6 / 365.25, abs=1e-4)


def test_two_tabs_never_overwrite_each_other(session: ReviewSession) -> None:
    session.edit("bmc-jmcr", "title", "First tab's title", version=0)
    with pytest.raises(ConflictError, match="changed in another tab"):
        session.edit("bmc-jmcr", "title", "Second tab's title", version=0)
    with pytest.raises(ConflictError):
        session.mark("bmc-jmcr", "summary", "accepted", version=0)
    assert session.state("bmc-jmcr").record.title == "First tab's title"


def test_statuses_reset_and_done(session: ReviewSession) -> None:
    state = session.mark("bmc-jmcr", "title", "accepted", version=0)
    assert state.field_status("title") == "accepted"
    state = session.mark("bmc-jmcr", "summary", "rejected", version=1)
    assert state.field_status("summary") == "rejected"
    state = session.edit("bmc-jmcr", "patient_count", 2, version=2)
    assert state.field_status("patient_count") == "corrected"
    state = session.mark("bmc-jmcr", "patient_count", "accepted", version=3)
    assert state.field_status("patient_count") == "corrected"  # accepting the correction
    state = session.reset("bmc-jmcr", "patient_count", version=4)
    assert state.record.patient_count == 1 and state.field_status("patient_count") == "unreviewed"
    state = session.mark("bmc-jmcr", "title", "unreviewed", version=5)
    assert state.field_status("title") == "unreviewed"
    state = session.set_done("bmc-jmcr", True, version=6)
    assert state.review.done
    entries = [entry.id for entry, _ in session.queue()]
    assert entries[-1] == "bmc-jmcr"  # done records go to the end of the queue
    block = state.review_block()
    assert block["status"] == "done"
    assert block["fields"]["summary"]["status"] == "rejected"
    assert block["fields"]["summary"]["set_at"]
    assert block["fields"]["history"] == {
        "status": "unreviewed",
        "set_at": None,
        "by": None,
        "note": None,
    }
    assert block["fields"]["summary"]["by"] == session.reviewer


def test_selected_offsets_pick_the_occurrence(tmp_path: Path) -> None:
    text = (
        "Fever twice\n\nCASE PRESENTATION: A 30-year-old man had fever. "
        "After treatment he had fever again.\n\nCONCLUSION: Fever recurs."
    )
    page = tmp_path / "twice.txt"
    page.write_text(text, encoding="utf-8")
    records = tmp_path / "records.jsonl"
    run_cli("summarize", page, "-f", "jsonl", "-o", records)
    review = ReviewSession(records)
    try:
        ident = review.order[0]
        abstract = review.result(ident).abstract.text
        second = abstract.index("he had fever") + len("he had ")
        value = patient_value(review, ident, evidence="fever")
        state = review.edit(
            ident, "patient", value, version=0, offsets={"patient": [second, second + 5]}
        )
        span = next(span for span in state.evidence if span.field == "patient")
        assert (span.start, span.status.value) == (second, "exact")  # not the first "fever"
        assert abstract.index("fever") != second
        # offsets that do not hold the quote are moved to the nearest occurrence
        moved = review.edit(
            ident, "patient", value, version=1, offsets={"patient": [second + 2, second + 7]}
        )
        assert moved.review.offsets["patient"] == (second, second + 5)
    finally:
        review.close()


def test_a_line_without_abstract_can_still_be_edited(tmp_path: Path, records: Path) -> None:
    lines = read_lines(records)
    for line in lines:
        del line["abstract"]
    path = write_lines(tmp_path / "old.jsonl", lines)
    review = ReviewSession(path)
    try:
        state = review.edit("bmc-jmcr", "title", "Edited", version=0)
        assert state.record.title == "Edited"
        assert all(span.status.value == "unaligned" for span in state.evidence)
    finally:
        review.close()


# --------------------------------------------------------------------------- exports


def test_review_export_jsonl_and_csv(session: ReviewSession) -> None:
    session.edit("bmc-jmcr", "patient_count", 2, version=0)
    session.mark("bmc-jmcr", "summary", "rejected", version=1)
    session.set_done("bmc-jmcr", True, version=2)
    out = io.StringIO()
    assert export_reviewed(session, out) == 3
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    line = next(line for line in lines if line["id"] == "bmc-jmcr")
    assert line["record"]["patient_count"] == 2
    assert line["review"]["status"] == "done"
    assert line["review"]["fields"]["patient_count"]["status"] == "corrected"
    assert {"id", "record", "evidence", "provenance", "abstract", "review"} <= set(line)
    assert all(
        other["review"]["status"] == "unreviewed" for other in lines if other["id"] != "bmc-jmcr"
    )

    table = io.StringIO()
    assert export_reviewed(session, table, format="csv", done_only=True) == 1
    import csv

    (row,) = list(csv.DictReader(io.StringIO(table.getvalue())))
    assert (row["id"], row["patient_count"], row["review_status"]) == ("bmc-jmcr", "2", "done")
    assert row["review_corrected"] == "patient_count"  # a list: one field a line
    assert row["review_rejected"] == "summary"


def test_gold_export_validates_and_its_inputs_summarize(
    tmp_path: Path, session: ReviewSession
) -> None:
    ident = "bmc-jmcr"
    session.edit(ident, "patient", patient_value(session, ident, age_text="52-year-old"), version=0)
    session.mark(ident, "article_type", "accepted", version=1)
    assert session.state(ident).record.diagnosis is None
    unchanged = session.edit(ident, "diagnosis", None, version=2)  # an edit that changes nothing
    assert unchanged.review.version == 2 and unchanged.field_status("diagnosis") == "unreviewed"
    session.mark(ident, "diagnosis", "accepted", version=2)  # "not reported", a checked answer
    session.mark(ident, "summary", "rejected", version=3)
    session.set_done(ident, True, version=4)
    session.mark("europepmc", "title", "accepted", version=0)  # reviewed but not done
    gold = tmp_path / "gold"
    done = export_gold(session, gold)
    assert [path.name for path in done.written] == ["bmc-jmcr.json"]
    assert validate_gold_dir(gold) == []
    written = json.loads((gold / "bmc-jmcr.json").read_text(encoding="utf-8"))
    assert written["expected"] == {
        "article_type": "case_report",
        "patient": {"age_text": "52-year-old", "age_years": 52.0, "sex": "female"},
        "diagnosis": None,
    }
    assert "Rejected, not scored: summary." in written["notes"]
    assert "reviewed" in written["tags"]
    text = (gold / written["input"]).read_text(encoding="utf-8")
    assert text.strip() == session.result(ident).abstract.text
    again = run_cli("summarize", gold / written["input"])
    assert json.loads(again.stdout)["record"]["title"] == session.result(ident).record.title


def test_gold_export_needs_a_done_record(tmp_path: Path, session: ReviewSession) -> None:
    from summarizer.errors import InputError

    with pytest.raises(InputError, match="no record is marked done"):
        export_gold(session, tmp_path / "gold")


def test_cli_exports_need_a_review_first(tmp_path: Path, records: Path) -> None:
    done = run_cli("review", "export", records, ok=(2,))
    assert "no review by" in done.stderr and "Traceback" not in done.stderr
    missing = run_cli("review", tmp_path / "nope.jsonl", "--no-browser", ok=(2,))
    assert "no such records file" in missing.stderr


def test_the_store_is_plain_sqlite_beside_the_records(
    records: Path, session: ReviewSession
) -> None:
    session.edit("bmc-jmcr", "title", "Edited", version=0)
    path = session.store_path
    assert path == records.with_name(f"records.jsonl.review-{session.reviewer}.sqlite")
    assert path.is_file() and not default_store_path(records).exists()
    with sqlite3.connect(path) as db:
        (stored,) = db.execute("SELECT record FROM reviews WHERE id = 'bmc-jmcr'").fetchone()
    assert json.loads(stored)["title"] == "Edited"


def test_a_pretty_printed_single_result_reads_too(tmp_path: Path) -> None:
    out = tmp_path / "one.json"
    run_cli("summarize", ROOT / "tests/fixtures/pages/bmc-jmcr.txt", "-o", out)
    assert out.read_text(encoding="utf-8").count("\n") > 10  # pretty, one object
    (result,) = read_results(out)
    assert result.id == "bmc-jmcr" and has_abstract(result)  # type: ignore[union-attr]
    array = tmp_path / "many.json"
    array.write_text(
        json.dumps([json.loads(out.read_text(encoding="utf-8"))] * 2), encoding="utf-8"
    )
    assert [item.id for item in read_results(array)] == ["bmc-jmcr", "bmc-jmcr"]


def test_a_strong_reason_ranks_above_any_number_of_missing_fields() -> None:
    empty = seed_record(
        title=None,
        diagnosis=None,
        presentation=[],
        interventions=[],
        outcomes=[],
        conclusion=None,
        patient={"age_text": None, "age_years": None, "sex": "not_reported"},
    )
    made = make_result(empty, id="thin")  # by the rules backend: not compared with itself
    thin = replace(made, provenance=replace(made.provenance, backend="rules", prompt_version=None))
    found = review_queue([thin])[0]
    (missing,) = found.reasons
    assert missing.weight == 8  # one point per missing field
    wrong = make_result(seed_record(), id="wrong")
    wrong.evidence[0] = replace(wrong.evidence[0], status=AlignmentStatus.unaligned)
    queue = review_queue([thin, wrong])
    assert [entry.id for entry in queue] == ["wrong", "thin"]
    assert queue[0].score > queue[1].score


def test_reasons_are_computed_again_from_the_reviewed_record(session: ReviewSession) -> None:
    ident = "bmc-jmcr"
    assert "not filled: diagnosis" in str(session.reasons(ident))
    state = session.mark(ident, "diagnosis", "accepted", version=0)  # "not reported", checked
    assert "diagnosis" not in str(session.reasons(ident, state))
    assert session.looks(ident, state).get("diagnosis") is None
