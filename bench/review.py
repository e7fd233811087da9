"""The review loop by keyboard alone: key presses and seconds per record, and the server's
save latency, over records a model got right and records with one wrong field.

    .venv/bin/python bench/review.py                 # 50 right + 50 with one wrong field
    .venv/bin/python bench/review.py --right 10 --wrong 10

Records: real PubMed titles and abstracts (../shared/corpus/bc5cdr-case-like.jsonl, read
at run time; our own fixture pages when it is absent) summarized by the rules backend,
then written as a model's lines. A "right" record is the rules' reading itself; a wrong
one has one field changed the way a model slips (article type, sex, patient count, or
the age), which the queue flags because the rules read it differently.

The review runs as a user runs it: ``case-summarizer review`` in its own process and
Playwright driving Debian's Chromium, keys pressed with no delay, each record's plan what
a reviewer types: ``A`` ``d`` for a right record; Enter, the correction, Esc, ``A``,
``d`` for a wrong one. Every record is checked afterwards in the export (all fields
reviewed, done, the wrong field corrected to the right value), so the figures are for
reviews that came out right. Time per record is from the record's page being ready to
the next one's (the machine's share, no thinking); the save latency is the server's own
time per change (its ``Server-Timing`` header). Prints a table and writes
bench/results/review-<time>.json (and review-latest.json).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import ROOT, print_table, write_results  # puts the project root on sys.path

from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.review_helpers import (
    PAGES,
    ReviewServer,
    as_model_line,
    read_lines,
    run_cli,
    write_lines,
)

CORPUS = ROOT.parent / "shared" / "corpus" / "bc5cdr-case-like.jsonl"
ARTICLE_TYPES = ["case_report", "case_series", "review_with_case", "not_a_case_report"]
SEXES = ["female", "male", "other", "not_reported"]
KINDS = ("article_type", "sex", "patient_count", "age")


def source_lines(count: int, folder: Path) -> Path:
    """``count`` result lines of real abstracts (our fixture pages when the corpus is not
    here), summarized by the rules backend."""
    raw = folder / "input.jsonl"
    if CORPUS.is_file():
        with CORPUS.open(encoding="utf-8") as source, raw.open("w", encoding="utf-8") as out:
            for number, line in enumerate(source):
                if number >= count * 2:  # some are refused or too thin to review
                    break
                item = json.loads(line)
                out.write(
                    json.dumps(
                        {"id": item["id"], "title": item["title"], "abstract": item["abstract"]}
                    )
                    + "\n"
                )
        inputs: list[Path] = [raw]
    else:
        inputs = sorted(PAGES.glob("*.txt"))
    records = folder / "rules.jsonl"
    run_cli("summarize", *inputs, "-f", "jsonl", "-o", records, ok=(0, 1))
    return records


def arrows(options: list[str], start: str, target: str) -> list[str]:
    steps = options.index(target) - options.index(start)
    return ["ArrowDown" if steps > 0 else "ArrowUp"] * abs(steps)


def slip(line: dict[str, Any], kind: str) -> tuple[dict[str, Any], list[str]] | None:
    """``line`` with one field wrong as a model gets it wrong, and the keys that fix it
    (None when the record has no such value to get wrong)."""
    wrong = json.loads(json.dumps(line))
    record, patient = wrong["record"], wrong["record"]["patient"]
    if kind == "article_type":
        right = record["article_type"]
        other = ARTICLE_TYPES[1] if right == ARTICLE_TYPES[0] else ARTICLE_TYPES[0]
        record["article_type"] = other
        return wrong, ["Enter", *arrows(ARTICLE_TYPES, other, right), "Escape"]
    if kind == "sex":
        right = patient["sex"]
        if right not in ("female", "male"):
            return None
        other = "male" if right == "female" else "female"
        patient["sex"] = other
        # Enter: the age as written; Tab: its number, its unit, then the sex
        return wrong, ["Enter", "Tab", "Tab", "Tab", *arrows(SEXES, other, right), "Escape"]
    if kind == "patient_count":
        right = record["patient_count"]
        if right is None:
            return None
        record["patient_count"] = right + 1
        return wrong, ["Enter", *str(right), "Escape"]
    text, years = patient["age_text"], patient["age_years"]
    if not text or years is None or years != int(years) or not text.startswith(str(int(years))):
        return None
    false = int(years) + 10
    patient["age_text"] = str(false) + text[len(str(int(years))) :]
    patient["age_years"] = float(false)
    # Enter: the age as written; Tab: its number, typed over (the text follows it)
    return wrong, ["Enter", "Tab", "Control+a", *str(int(years)), "Escape"]


def build(folder: Path, right: int, wrong: int) -> tuple[Path, dict[str, dict[str, Any]]]:
    lines = [line for line in read_lines(source_lines(right + wrong, folder)) if "record" in line]
    plans: dict[str, dict[str, Any]] = {}
    written: list[dict[str, Any]] = []
    kinds = iter(KINDS * (wrong + 1))
    for line in lines:
        model = as_model_line(line)
        wrongs = sum(plan["kind"] != "right" for plan in plans.values())
        if wrongs < wrong:
            for _ in KINDS:
                kind = next(kinds)
                made = slip(model, kind)
                if made is not None:
                    break
            if made is not None:
                bad, keys = made
                plans[line["id"]] = {"kind": kind, "keys": [*keys, "Shift+A", "d"], "right": line}
                written.append(bad)
                continue
        if len(plans) - wrongs < right:
            plans[line["id"]] = {"kind": "right", "keys": ["Shift+A", "d"], "right": line}
            written.append(model)
        if len(plans) == right + wrong:
            break
    return write_lines(folder / "records.jsonl", written), plans


def press(page: Any, key: str) -> None:
    page.keyboard.press(key)


def review(records: Path, plans: dict[str, dict[str, Any]]) -> dict[str, Any]:
    from playwright.sync_api import expect, sync_playwright

    timings: list[float] = []
    per_record: list[dict[str, Any]] = []
    with ReviewServer(records) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)

        def on_response(response: Any) -> None:
            timing = response.headers.get("server-timing", "")
            if response.request.method == "POST" and timing.startswith("app;dur="):
                timings.append(float(timing.removeprefix("app;dur=")))

        page.on("response", on_response)
        page.goto(server.url)
        while "/records/" in page.url:
            expect(page.locator(".field.current")).to_have_count(1)
            ident = page.evaluate("document.body.dataset.recordId")
            plan = plans[ident]
            started = time.perf_counter()
            for key in plan["keys"]:
                press(page, key)
            page.wait_for_url(lambda url, here=page.url: url != here)
            if "/records/" in page.url:
                expect(page.locator(".field.current")).to_have_count(1)
            per_record.append(
                {
                    "id": ident,
                    "kind": plan["kind"],
                    "keys": len(plan["keys"]),
                    "seconds": time.perf_counter() - started,
                }
            )
        browser.close()
    return {"records": per_record, "server_ms": timings}


def check(records: Path, plans: dict[str, dict[str, Any]]) -> list[str]:
    """What came out wrong (the export against the right readings)."""
    exported = run_cli("review", "export", records).stdout.splitlines()
    problems = []
    for line in map(json.loads, exported):
        plan = plans[line["id"]]
        review = line["review"]
        if review["status"] != "done":
            problems.append(f"{line['id']}: not done")
        if any(field["status"] == "unreviewed" for field in review["fields"].values()):
            problems.append(f"{line['id']}: a field left unreviewed")
        right, got = plan["right"]["record"], line["record"]
        kind = plan["kind"]
        if kind == "right":
            if got != right:
                problems.append(f"{line['id']}: changed")
            continue
        name = "patient" if kind in ("sex", "age") else kind
        if review["fields"][name]["status"] != "corrected":
            problems.append(f"{line['id']}: {name} not corrected")
        if value_of(got, kind) != value_of(right, kind):
            problems.append(
                f"{line['id']}: {kind} {value_of(got, kind)!r}, should be {value_of(right, kind)!r}"
            )
    return problems


def value_of(record: dict[str, Any], kind: str) -> Any:
    patient = record["patient"]
    if kind == "sex":
        return patient["sex"]
    if kind == "age":
        return patient["age_text"], patient["age_years"]
    return record[kind]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--right", type=int, default=50)
    parser.add_argument("--wrong", type=int, default=50)
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit("needs Debian's chromium (/usr/bin/chromium)")
    folder = Path(tempfile.mkdtemp(prefix="review-bench-"))
    try:
        records, plans = build(folder, args.right, args.wrong)
        done = review(records, plans)
        problems = check(records, plans)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    rows = []
    for label, kinds in (("right", {"right"}), ("one wrong field", set(KINDS))):
        chosen = [item for item in done["records"] if item["kind"] in kinds]
        if not chosen:
            continue
        keys = [item["keys"] for item in chosen]
        seconds = [item["seconds"] for item in chosen]
        rows.append(
            {
                "records": f"{label} ({len(chosen)})",
                "keys mean": statistics.mean(keys),
                "keys max": max(keys),
                "s/record median": statistics.median(seconds),
                "s/record p95": percentile(seconds, 0.95),
            }
        )
    for kind in KINDS:
        chosen = [item for item in done["records"] if item["kind"] == kind]
        if chosen:
            rows.append(
                {
                    "records": f"  wrong {kind} ({len(chosen)})",
                    "keys mean": statistics.mean(item["keys"] for item in chosen),
                    "keys max": max(item["keys"] for item in chosen),
                    "s/record median": statistics.median(item["seconds"] for item in chosen),
                    "s/record p95": percentile([item["seconds"] for item in chosen], 0.95),
                }
            )
    server = done["server_ms"]
    latency = {
        "changes": len(server),
        "median ms": statistics.median(server),
        "p95 ms": percentile(server, 0.95),
        "max ms": max(server),
    }
    print_table("Review by keyboard (keys pressed with no delay)", rows)
    print_table("Server time per change (Server-Timing)", [latency])
    print(f"\nreviews checked in the export: {len(done['records'])}, wrong: {len(problems)}")
    for problem in problems[:10]:
        print("  " + problem)
    source = CORPUS.name if CORPUS.is_file() else "tests/fixtures/pages"
    path = write_results(
        "review",
        {"source": source, "rows": rows, "server": latency, "problems": problems, **done},
    )
    print(f"wrote {path}")
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
