"""The review page in a real browser (Playwright driving Debian's Chromium): open, edit the
age, select a quote in the abstract, accept, reload, kill -9 the server and restart it,
then export gold records that `gold validate` accepts."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from playwright import sync_api

from tests.review_helpers import (
    BIDI_PAGE,
    ReviewServer,
    make_records,
    read_lines,
    run_cli,
)

pytestmark = pytest.mark.browser
expect = sync_api.expect

QUOTE = "Ethiopian woman"


def select_in_abstract(page: Any, phrase: str) -> None:
    """Select ``phrase`` in the abstract as a reviewer's mouse would (a DOM Range)."""
    found = page.evaluate(
        """(phrase) => {
            const pane = document.getElementById("abstract");
            const walker = document.createTreeWalker(pane, NodeFilter.SHOW_TEXT);
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                const at = node.data.indexOf(phrase);
                if (at >= 0) {
                    const range = document.createRange();
                    range.setStart(node, at);
                    range.setEnd(node, at + phrase.length);
                    const selection = window.getSelection();
                    selection.removeAllRanges();
                    selection.addRange(range);
                    return true;
                }
            }
            return false;
        }""",
        phrase,
    )
    assert found, f"{phrase!r} is not in one piece of the abstract"


def wait_saved(page: Any) -> None:
    # the page's CSP forbids eval, so waits go through Playwright's locator assertions
    # a changed field is saved a moment later (dirty until the server's card replaces it)
    expect(page.locator(".field.dirty")).to_have_count(0)
    expect(page.locator("body")).not_to_have_class(re.compile(r"\bsaving\b"))


def check_edits(page: Any) -> None:
    patient = page.locator("#field-patient")
    assert patient.locator('[data-part="text"]').input_value() == "52-year-old"
    assert patient.locator('[data-part="number"]').input_value() == "52"
    assert patient.locator("textarea.quote").input_value() == QUOTE
    assert patient.locator(".badge").inner_text() == "corrected"
    assert page.locator("#field-title .badge").inner_text() == "accepted"
    mark = page.locator('#abstract mark[data-paths~="patient"]')
    assert mark.count() == 1 and mark.inner_text() == QUOTE


def test_review_in_a_browser(page: Any, tmp_path: Path) -> None:
    records = make_records(tmp_path, "bmc-jmcr.txt", "pubmed-structured.txt")
    with ReviewServer(records) as server:
        # 1. open: the printed URL sets the token cookie and lands on the first record to do
        page.goto(server.url)
        first = page.url
        page.goto(f"{server.base}/queue")
        assert first == server.base + page.locator("tr.row a").first.get_attribute("href")
        rows = page.locator("tr.row")
        assert rows.count() == 2
        page.locator("tr.row a", has_text="retained surgical sponge").click()
        page.wait_for_url("**/records/bmc-jmcr")
        assert page.locator("#abstract").inner_text().startswith("Delayed diagnosis")

        # 2. edit the age: the age as written, the number follows it
        age_text = page.locator('#field-patient [data-part="text"]')
        age_text.fill("52-year-old")
        age_text.press("Tab")
        expect(page.locator('#field-patient [data-part="number"]')).to_have_value("52")
        wait_saved(page)

        # 3. select a quote in the abstract and make it the patient's evidence
        select_in_abstract(page, QUOTE)
        page.locator("#field-patient [data-act='use-selection']").click()
        expect(page.locator("#field-patient textarea.quote")).to_have_value(QUOTE)
        wait_saved(page)
        evidence = page.locator('#field-patient [data-shape="evidence"]')
        start = int(evidence.get_attribute("data-start") or -1)
        text = read_lines(records)[0]["abstract"]["text"]
        assert text[start : start + len(QUOTE)] == QUOTE  # offsets into the abstract text

        # 4. accept: the keyboard on the patient card, a click on the title
        page.locator("#field-patient h2").click()
        page.keyboard.press("a")
        expect(page.locator("#field-patient .badge")).to_have_text("corrected")
        page.locator("#field-title [data-act='accept']").click()
        expect(page.locator("#field-title .badge")).to_have_text("accepted")
        wait_saved(page)

        # 5. reload: the edits are there
        page.reload()
        check_edits(page)

        # 6. kill -9 the server, start it again: nothing is lost, and it resumes here
        server.kill()
    with ReviewServer(records) as again:
        page.goto(again.url)
        page.wait_for_url("**/records/bmc-jmcr")
        check_edits(page)
        page.locator("#field-patient h2").click()
        page.keyboard.press("d")  # done, and on to the next record
        page.wait_for_url("**/records/pubmed-structured")

    # 7. export: gold records that `gold validate` accepts, and the reviewed records
    gold = tmp_path / "gold"
    run_cli("gold", "export", records, "-o", gold)
    run_cli("gold", "validate", gold)
    written = json.loads((gold / "bmc-jmcr.json").read_text(encoding="utf-8"))
    assert written["expected"]["patient"] == {
        "age_text": "52-year-old",
        "age_years": 52.0,
        "sex": "female",
    }
    assert set(written["expected"]) == {"patient", "title"}

    reviewed = run_cli("review", "export", records)
    line = next(
        item for item in map(json.loads, reviewed.stdout.splitlines()) if item["id"] == "bmc-jmcr"
    )
    assert line["review"]["status"] == "done"
    assert line["review"]["fields"]["patient"]["status"] == "corrected"
    assert line["review"]["fields"]["patient"]["set_at"]
    assert line["record"]["patient"]["evidence"] == QUOTE
    span = next(span for span in line["evidence"] if span["field"] == "patient")
    assert (span["status"], span["start"]) == ("exact", start)


def test_lists_invalid_edits_and_two_tabs(page: Any, tmp_path: Path) -> None:
    records = make_records(tmp_path, "bmc-jmcr.txt")
    with ReviewServer(records) as server:
        page.goto(server.url)
        page.goto(f"{server.base}/records/bmc-jmcr")
        api = f"{server.base}/api/records/bmc-jmcr"

        # a list of strings: add two descriptors, then put the second first
        descriptors = page.locator('#field-patient [data-key="descriptors"]')
        for text in ("Ethiopian", "caesarean section 11 years earlier"):
            descriptors.locator("button[data-act='add']").click()
            descriptors.locator("input[data-item]").last.fill(text)
            descriptors.locator("input[data-item]").last.press("Tab")
            wait_saved(page)
        descriptors.locator("li").last.locator("button[data-act='up']").click()
        wait_saved(page)
        record = page.request.get(api).json()["record"]
        assert record["patient"]["descriptors"] == [
            "caesarean section 11 years earlier",
            "Ethiopian",
        ]

        # a list of items: add an intervention whose evidence is a selection, remove one
        interventions = page.locator("#field-interventions")
        interventions.locator("button[data-act='add']").last.click()
        item = interventions.locator("ol.items > li").last
        item.locator('select[data-key="kind"]').select_option("surgery")
        item.locator('[data-key="detail"]').fill("laparotomy and removal of the textile mass")
        select_in_abstract(page, "At laparotomy a textile mass")
        item.locator("[data-act='use-selection']").click()
        wait_saved(page)
        saved = page.request.get(api).json()["record"]["interventions"]
        assert [entry["detail"] for entry in saved] == [
            "laparotomy and removal of the textile mass"
        ]
        assert saved[0]["evidence"] == "At laparotomy a textile mass"
        assert saved[0]["kind"] == "surgery"
        history = page.locator("#field-history")
        assert history.locator("ol.items > li").count() == 1
        history.locator("ol.items > li button[data-act='remove']").click()
        wait_saved(page)
        assert page.request.get(api).json()["record"]["history"] == []

        # an invalid edit: a clear message on the card, and nothing changes
        version = page.request.get(api).json()["version"]
        summary = page.locator('#field-summary [data-key="summary"]')
        summary.fill("word " * 61)
        summary.press("Control+s")
        message = page.locator("#field-summary .message")
        expect(message).to_be_visible()
        expect(message).to_contain_text("summary has 61 words")
        assert page.request.get(api).json()["version"] == version

        # two tabs: the second saves on the old version and is told so, nothing overwritten
        other = page.context.new_page()
        other.goto(f"{server.base}/records/bmc-jmcr")
        page.locator("#field-title [data-act='reject']").click()
        expect(page.locator("#field-title .badge")).to_have_text("rejected")
        other.locator("#field-title [data-act='accept']").click()
        expect(other.locator("#banner")).to_contain_text("changed in another tab")
        other.close()
        assert page.request.get(api).json()["review"]["fields"]["title"]["status"] == "rejected"

        # leaving the page right after a change (before the autosave fires) loses nothing
        title = page.locator('#field-title [data-key="title"]')
        title.fill("A title typed just before leaving")
        title.press("Tab")
        page.goto(f"{server.base}/queue")
        deadline = time.monotonic() + 10
        while (
            page.request.get(api).json()["record"]["title"] != "A title typed just before leaving"
        ):
            assert time.monotonic() < deadline, "the change made before leaving was lost"
            time.sleep(0.1)
        page.goto(f"{server.base}/records/bmc-jmcr")

        # clicking a highlight shows its field
        page.locator('#abstract mark[data-paths~="conclusion"]').first.click()
        expect(page.locator("#field-conclusion")).to_have_class(re.compile(r"\bcurrent\b"))


def test_a_selection_across_hidden_characters_keeps_exact_offsets(
    page: Any, tmp_path: Path
) -> None:
    source = tmp_path / "odd.txt"
    source.write_text(BIDI_PAGE, encoding="utf-8")
    records = tmp_path / "records.jsonl"
    run_cli("summarize", source, "-f", "jsonl", "-o", records)
    text = read_lines(records)[0]["abstract"]["text"]
    start, end = text.index("man "), text.index(" and a rash") + len(" and")
    with ReviewServer(records) as server:
        page.goto(server.url)
        page.goto(f"{server.base}/records/odd")
        # select text[start:end], across the bidi and bell characters, as a DOM range
        page.evaluate(
            """([start, end]) => {
                const pieces = Array.from(document.querySelectorAll("#abstract [data-o]"));
                const at = (offset) => {
                    const piece = pieces.filter((p) => !p.dataset.c && Number(p.dataset.o) <= offset).pop();
                    const inside = Array.from(piece.textContent).slice(0, offset - Number(piece.dataset.o));
                    return [piece.firstChild, inside.join("").length];
                };
                const range = document.createRange();
                range.setStart(...at(start));
                range.setEnd(...at(end));
                window.getSelection().removeAllRanges();
                window.getSelection().addRange(range);
            }""",
            [start, end],
        )
        page.locator("#field-patient [data-act='use-selection']").click()
        wait_saved(page)
        state = page.request.get(f"{server.base}/api/records/odd").json()
        assert state["record"]["patient"]["evidence"] == text[start:end]
        evidence = page.locator('#field-patient [data-shape="evidence"]')
        assert evidence.get_attribute("data-start") == str(start)
        assert evidence.get_attribute("data-end") == str(end)
