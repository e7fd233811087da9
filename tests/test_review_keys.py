"""The review page driven by the keyboard alone, at 0 ms between keys (Playwright's
``keyboard.press`` and ``keyboard.type`` with no delay), in Debian's Chromium against the
real server process: no edit is lost, a refused edit is never accepted, letters never
misfire, focus never falls into nowhere, undo, the fast path (``A`` ``d``), the page opening
on the first record to do, reasons computed again after each change, ``j`` visiting the
fields that need a look first, the decision and notes."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from playwright import sync_api

from summarizer.output.table import list_items
from tests.review_helpers import (
    ReviewServer,
    as_model_line,
    make_records,
    read_lines,
    run_cli,
    write_lines,
    wrong_age,
)

pytestmark = pytest.mark.browser
expect = sync_api.expect

FIELDS = 14


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three model records: bmc-jmcr with a wrong age (the rules read 43) and no history
    item, the other two as the rules read them (right)."""
    folder = tmp_path_factory.mktemp("records")
    lines = [as_model_line(line) for line in read_lines(make_records(folder))]
    lines[0] = wrong_age(lines[0], 34)
    lines[0]["history_given"] = lines[0]["record"]["history"]
    lines[0]["record"]["history"] = []
    return write_lines(folder / "model.jsonl", lines)


@pytest.fixture
def records(template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "records.jsonl"
    shutil.copyfile(template, path)
    return path


KEY_NAMES = re.compile(r"(?:(?:Shift|Control)\+)?(?:.|Enter|Escape|Tab|Backspace)")


def keys(page: Any, *sequence: str) -> None:
    """Each key pressed at once after the other (no delay): a key name or one character
    is pressed (``Shift+A`` is a capital A), anything longer is typed."""
    for item in sequence:
        if KEY_NAMES.fullmatch(item):
            page.keyboard.press(item)
        else:
            page.keyboard.type(item)


def settled(page: Any) -> None:
    expect(page.locator("body")).not_to_have_class(re.compile(r"\bsaving\b"))
    expect(page.locator(".field.dirty")).to_have_count(0)


def state(page: Any, server: ReviewServer, ident: str) -> dict[str, Any]:
    data: dict[str, Any] = page.request.get(f"{server.base}/api/records/{ident}").json()
    return data


def go_to(page: Any, name: str) -> None:
    """The card of field ``name``, by keys: ``k`` to the top, then ``J`` down."""
    from summarizer.review.fields import FIELD_NAMES

    keys(page, *["k"] * FIELDS, *["Shift+J"] * FIELD_NAMES.index(name))
    expect(page.locator(f"#field-{name}")).to_be_focused()


def open_record(page: Any, server: ReviewServer, ident: str) -> None:
    page.goto(server.url)
    page.goto(f"{server.base}/records/{ident}")
    expect(page.locator(".field.current")).to_have_count(1)


# --------------------------------------------------------------------------- 1. no edit lost


def test_an_edit_left_with_esc_then_accepted_at_once_is_kept(page: Any, records: Path) -> None:
    with ReviewServer(records) as server:
        open_record(page, server, "bmc-jmcr")
        title = state(page, server, "bmc-jmcr")["record"]["title"]
        go_to(page, "title")
        keys(page, "Enter", " (edited)", "Escape", "a")
        settled(page)
        page.reload()
        expect(page.locator('#field-title [data-key="title"]')).to_have_value(title + " (edited)")
        expect(page.locator("#field-title .badge")).to_have_text("corrected")
        saved = state(page, server, "bmc-jmcr")
        assert saved["record"]["title"] == title + " (edited)"
        assert saved["review"]["fields"]["title"]["status"] == "corrected"
    events = _events(records, "bmc-jmcr")
    assert [(e["action"], e["detail"].get("status")) for e in events] == [
        ("edit", "corrected"),
        ("status", "corrected"),
    ]


def test_a_list_item_without_evidence_is_refused_never_dropped(page: Any, records: Path) -> None:
    quote = read_lines(records)[0]["history_given"][0]["evidence"]
    with ReviewServer(records) as server:
        open_record(page, server, "bmc-jmcr")
        go_to(page, "history")
        history = page.locator("#field-history")
        # Enter on an empty list: its add button takes the focus; letters cannot misfire
        keys(page, "Enter")
        expect(history.locator("button[data-act='add']")).to_be_focused()
        keys(page, "r", "p", "d", "a", "u")
        # Enter presses the focused button: a new item, its first input focused
        keys(page, "Enter")
        description = history.locator('ol.items > li [data-key="description"]')
        expect(description).to_be_focused()
        keys(page, "profound depression after a rapid weight loss", "Escape", "a")
        message = history.locator(".message")
        expect(message).to_contain_text("evidence")
        settled_or_refused(page)
        expect(history.locator(".badge")).to_have_text("unreviewed")
        expect(description).to_have_value("profound depression after a rapid weight loss")
        assert page.url.endswith("/records/bmc-jmcr")  # no `p`, no `d` from the typing
        saved = state(page, server, "bmc-jmcr")
        assert saved["record"]["history"] == [] and saved["version"] == 0
        # the evidence typed in, then Esc and accept: saved, and accepted as corrected
        keys(page, "Enter", "Tab", "Tab", "Tab", quote, "Escape", "a")
        expect(history.locator(".badge")).to_have_text("corrected")
        settled(page)
        saved = state(page, server, "bmc-jmcr")
        item = saved["record"]["history"][0]
        assert (item["description"], item["evidence"]) == (
            "profound depression after a rapid weight loss",
            quote,
        )


def settled_or_refused(page: Any) -> None:
    expect(page.locator("body")).not_to_have_class(re.compile(r"\bsaving\b"))


def test_a_refused_edit_is_never_turned_into_accepted(page: Any, records: Path) -> None:
    with ReviewServer(records) as server:
        open_record(page, server, "pubmed-structured")
        go_to(page, "patient_count")
        count = page.locator("#field-patient_count")
        keys(page, "Enter", "-3", "Escape", "a", "r")
        expect(count.locator(".message")).to_contain_text("greater than or equal to 0")
        settled_or_refused(page)
        expect(count.locator(".badge")).to_have_text("unreviewed")
        saved = state(page, server, "pubmed-structured")
        assert saved["version"] == 0 and saved["record"]["patient_count"] == 1
        # fixed, then accepted: the correction is saved and stays "corrected"
        keys(page, "Enter", "2", "Escape", "a")
        expect(count.locator(".badge")).to_have_text("corrected")
        settled(page)
        saved = state(page, server, "pubmed-structured")
        assert saved["record"]["patient_count"] == 2
        assert saved["review"]["fields"]["patient_count"]["status"] == "corrected"


# --------------------------------------------------------------------------- 2. keys


def test_letters_never_misfire_in_an_input_a_select_or_a_button(page: Any, records: Path) -> None:
    with ReviewServer(records) as server:
        open_record(page, server, "europepmc")
        go_to(page, "article_type")
        keys(page, "Enter")
        expect(page.locator('#field-article_type select[data-key="article_type"]')).to_be_focused()
        keys(page, "q", "j", "Escape")  # a select takes its own keys: no queue, no move
        expect(page.locator("#field-article_type")).to_be_focused()
        go_to(page, "title")
        keys(page, "Tab")  # from the card: its first button (Accept)
        expect(page.locator("#field-title [data-act='accept']")).to_be_focused()
        keys(page, "d", "n", "r", "x")  # a focused button ignores letters
        assert page.url.endswith("/records/europepmc")
        saved = state(page, server, "europepmc")
        assert saved["version"] == 0 and saved["review"]["decision"] is None
        keys(page, "Enter")  # Enter presses the focused button
        expect(page.locator("#field-title .badge")).to_have_text("accepted")
        expect(page.locator("#field-title [data-act='accept']")).to_be_focused()  # kept
        settled(page)
        # in a text box letters are text, and Ctrl+Z is the text box's own
        keys(page, "Escape", "Enter", "dnrx", "Control+z", "Escape")
        assert page.url.endswith("/records/europepmc")
        settled(page)
    assert "undo" not in [event["action"] for event in _events(records, "europepmc")]


def test_undo_by_u_and_ctrl_z_is_saved_as_a_change(page: Any, records: Path) -> None:
    with ReviewServer(records) as server:
        open_record(page, server, "europepmc")
        title = state(page, server, "europepmc")["record"]["title"]
        go_to(page, "title")
        keys(page, "a", "u")
        expect(page.locator("#field-title .badge")).to_have_text("unreviewed")
        keys(page, "Enter", " [sic]", "Escape", "r", "Control+z", "Control+z")
        settled(page)
        saved = state(page, server, "europepmc")
        assert saved["record"]["title"] == title
        assert saved["review"]["fields"]["title"]["status"] == "unreviewed"
        expect(page.locator('#field-title [data-key="title"]')).to_have_value(title)
        keys(page, "u")  # nothing left: says so, changes nothing
        expect(page.locator("#toast")).to_contain_text("nothing to undo")
    actions = [event["action"] for event in _events(records, "europepmc")]
    assert actions == ["status", "undo", "edit", "status", "undo", "undo"]


def test_the_focus_stays_on_the_value_when_an_answer_redraws_the_card(
    page: Any, records: Path
) -> None:
    """Enter on an accepted card, then the answer of an undo asked before it redraws the
    card as unreviewed (one button fewer in its header): the caret stays in the title, so
    what is typed next is the title's, never keys for the page (``c`` would clear it)."""
    held: list[Any] = []
    with ReviewServer(records) as server:
        open_record(page, server, "europepmc")
        go_to(page, "title")
        keys(page, "a")
        settled(page)
        page.route("**/api/records/*/undo", lambda route: held.append(route))  # answer waits
        keys(page, "u", "Enter")
        title = page.locator('#field-title [data-key="title"]')
        expect(title).to_be_focused()
        while not held:
            page.wait_for_timeout(10)
        held[0].continue_()
        expect(page.locator("#field-title .badge")).to_have_text("unreviewed")
        expect(title).to_be_focused()
        keys(page, " [sic]", "Escape")
        settled(page)
        assert state(page, server, "europepmc")["record"]["title"].endswith(" [sic]")
    actions = [event["action"] for event in _events(records, "europepmc")]
    assert actions == ["status", "undo", "edit"]


# --------------------------------------------------------------------------- 3. fast path


def test_a_right_record_takes_two_keys_and_opens_the_next_to_do(page: Any, records: Path) -> None:
    with ReviewServer(records) as server:
        page.goto(server.url)  # the page opens on the first record to do
        assert page.url.endswith("/records/bmc-jmcr")
        page.goto(f"{server.base}/records/pubmed-structured")
        expect(page.locator(".field.current")).to_have_count(1)
        keys(page, "Shift+A", "d")
        page.wait_for_url("**/records/bmc-jmcr")  # the record that most needs a look now
        saved = state(page, server, "pubmed-structured")
        assert saved["review"]["status"] == "done"
        statuses = {field["status"] for field in saved["review"]["fields"].values()}
        assert statuses == {"accepted"} and saved["reviewed_count"] == FIELDS
        assert {field["by"] for field in saved["review"]["fields"].values()} == {
            saved["review"]["reviewer"]
        }
        keys(page, "Shift+A", "d")
        page.wait_for_url("**/records/europepmc")  # the one left to do
        keys(page, "Shift+A", "d")
        page.wait_for_url("**/queue")  # all done
        expect(page.locator(".progress")).to_contain_text("3 of 3 done")
        page.goto(f"{server.base}/")
        assert page.url.endswith("/queue")


def test_reasons_follow_each_change_and_j_visits_flagged_fields_first(
    page: Any, records: Path
) -> None:
    with ReviewServer(records) as server:
        open_record(page, server, "bmc-jmcr")
        reasons = page.locator("#reasons")
        expect(reasons).to_contain_text("age: model 34, rules 43")
        # the page opens on the field with a strong reason; j: missing values next
        expect(page.locator("#field-patient")).to_be_focused()
        keys(page, "j")
        expect(page.locator("#field-diagnosis")).to_be_focused()
        keys(page, "j")
        expect(page.locator("#field-interventions")).to_be_focused()
        keys(page, "j")
        expect(page.locator("#field-title")).to_be_focused()  # then any not reviewed
        # correct the age by its number (the text follows), then clear the status: the
        # age now agrees with the rules, so no reason comes back
        go_to(page, "patient")
        keys(page, "Enter", "Tab", "Control+a", "43", "Escape")
        expect(page.locator('#field-patient [data-part="text"]')).to_have_value("43-year-old")
        expect(reasons).not_to_contain_text("age: model")
        keys(page, "c")
        expect(page.locator("#field-patient .badge")).to_have_text("unreviewed")
        settled(page)
        expect(reasons).not_to_contain_text("rules disagree")
        page.goto(f"{server.base}/queue")
        row = page.locator("tr.row", has_text="bmc-jmcr")
        expect(row).not_to_contain_text("rules disagree")


def test_decision_and_notes_by_keys_reach_the_exports(page: Any, records: Path) -> None:
    with ReviewServer(records) as server:
        open_record(page, server, "europepmc")
        go_to(page, "patient")
        keys(page, "x")
        expect(page.locator("#decision [data-decision-reason]")).to_be_focused()
        keys(page, "an adult case, out of scope", "Tab", "seen twice", "Escape")
        keys(page, "m", "age as in the title", "Escape", "a")
        settled(page)
        saved = state(page, server, "europepmc")["review"]
        assert (saved["decision"], saved["decision_reason"]) == (
            "exclude",
            "an adult case, out of scope",
        )
        assert saved["note"] == "seen twice"
        assert saved["fields"]["patient"]["note"] == "age as in the title"
        assert saved["fields"]["patient"]["status"] == "accepted"
        keys(page, "i")
        settled(page)
        assert state(page, server, "europepmc")["review"]["decision"] == "include"
    line = next(
        item
        for item in map(json.loads, run_cli("review", "export", records).stdout.splitlines())
        if item["id"] == "europepmc"
    )
    assert line["review"]["decision"] == "include"
    assert line["review"]["note"] == "seen twice"
    assert line["review"]["fields"]["patient"]["note"] == "age as in the title"
    table = run_cli("review", "export", records, "-f", "csv").stdout
    row = next(row for row in csv.DictReader(io.StringIO(table)) if row["id"] == "europepmc")
    assert row["review_decision"] == "include" and row["review_note"] == "seen twice"
    assert list_items(row["review_field_notes"]) == ["patient: age as in the title"]


def _events(records: Path, ident: str) -> list[dict[str, Any]]:
    from summarizer.review.review_store import ReviewStore
    from summarizer.review.reviewers import login_name, store_for

    store = ReviewStore(store_for(records, login_name()))
    try:
        return store.events(ident)
    finally:
        store.close()


# --------------------------------------------------------------------------- adjudication


def test_adjudication_serves_only_the_conflicts_side_by_side(page: Any, records: Path) -> None:
    from tests.test_review_reviewers import ALICE, BOB, review_as

    review_as(records, "alice", ALICE)
    review_as(records, "bob", BOB)
    command = ["adjudicate", "alice", "bob", "--records", str(records)]
    with ReviewServer(records, "--reviewer", "carol", command=command) as server:
        page.goto(server.url)  # the record with the most conflicts left
        assert page.url.endswith("/records/pubmed-structured")
        expect(page.locator(".field")).to_have_count(1)  # only the field in conflict
        card = page.locator("#field-patient_count")
        expect(card).to_be_focused()
        expect(card.locator(".side-0")).to_contain_text("alice")
        expect(card.locator(".side-0")).to_contain_text("corrected")
        expect(card.locator(".side-1")).to_contain_text("bob")
        expect(page.locator("#decision .decision-sides")).to_contain_text("alice: include")
        keys(page, "2", "i", "d")  # bob's answer, include, done: on to the next
        page.wait_for_url("**/records/bmc-jmcr")
        expect(page.locator(".field")).to_have_count(1)
        keys(page, "1", "d")
        page.wait_for_url("**/records/europepmc")
        keys(page, "1", "d")
        page.wait_for_url("**/queue")
        expect(page.locator(".brand")).to_have_text("Adjudication")
    exported = {
        line["id"]: line
        for line in map(json.loads, run_cli("review", "export", records).stdout.splitlines())
    }
    pubmed = exported["pubmed-structured"]
    assert pubmed["record"]["patient_count"] == 1  # bob accepted the model's 1
    assert pubmed["review"]["fields"]["patient_count"]["by"] == "carol"
    assert pubmed["review"]["decision"] == "include"
    assert exported["bmc-jmcr"]["review"]["fields"]["title"]["status"] == "accepted"
    assert exported["europepmc"]["record"]["article_type"] == "case_series"
    assert all(line["review"]["status"] == "done" for line in exported.values())
