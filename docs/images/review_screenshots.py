"""Make the README's screenshots of the review page (run from the project root):

    .venv/bin/python docs/images/review_screenshots.py

Records come from our own fixture pages through the real OpenAI path, answered by the
scripted test server (tests/openai_server.py) with the rules backend's record plus the
mistakes a model makes: a wrong age, a paraphrased quote, a wrong article type, an answer
that fails validation and is re-asked. Two reviewers (alice and bob) review some of them
through the library, as the page would; the review page then runs in headless Chromium
(Playwright, Debian's build) and the queue, a record, the adjudication of the two
reviews and the stats page are captured into docs/images/ as small palette PNGs.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import uvicorn  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402

import summarizer  # noqa: E402
from summarizer.options import RunOptions  # noqa: E402
from summarizer.review.app import build_app  # noqa: E402
from summarizer.review.consensus import ConsensusSession  # noqa: E402
from summarizer.review.server import bind  # noqa: E402
from summarizer.review.session import ReviewSession  # noqa: E402
from tests.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.openai_server import ScriptedServer, answer  # noqa: E402

PAGES = ROOT / "tests" / "fixtures" / "pages"
OUT = ROOT / "docs" / "images"
NAMES = [
    "bmc-jmcr",
    "pubmed-structured",
    "europepmc",
    "scielo",
    "medicine-care",
    "pmc-fulltext",
    "publisher-elsevier",
    "readingapp-structured",
]


def model_answers() -> dict[str, list[dict[str, Any]]]:
    """What the scripted 'model' answers for each page (in order, one per attempt)."""
    answers: dict[str, list[dict[str, Any]]] = {}
    for name in NAMES:
        record = summarizer.summarize(PAGES / f"{name}.txt").record.model_dump(mode="json")
        answers[name] = [record]
    wrong_age = answers["bmc-jmcr"][0]
    wrong_age["patient"].update(age_text="34-year-old", age_years=34)
    series = answers["scielo"][0]
    series.update(article_type="case_series", patient_count=2)
    paraphrased = answers["europepmc"][0]
    for item in paraphrased["presentation"][:1]:
        item["evidence"] = "she came in with pain in the flank and a fever"
    reasked = answers["pubmed-structured"]
    invalid = dict(reasked[0], summary="word " * 70)
    answers["pubmed-structured"] = [invalid, reasked[0]]
    return answers


def make_records(folder: Path) -> Path:
    os.chdir(ROOT)  # sources read as relative paths, as a reviewer would type them
    answers = model_answers()
    titles = {name: answers[name][-1]["title"] for name in NAMES}
    served: dict[str, int] = {}
    with ScriptedServer() as server:

        def reply(request: dict[str, Any]) -> Any:
            text = json.dumps(request.get("messages", []), ensure_ascii=False)
            name = next(n for n in NAMES if json.dumps(titles[n] or "")[1:-1] in text)
            attempt = served.get(name, 0)
            served[name] = attempt + 1
            return answer(answers[name][min(attempt, len(answers[name]) - 1)])

        server.fallback = lambda request: reply(request)
        settings = summarizer.Settings.from_env(
            env={},
            backend="openai",
            base_url=server.url,
            api_key="fake-screenshot-key",
            model="a-model",
        )
        records = folder / "records.jsonl"
        pages = [PAGES.relative_to(ROOT) / f"{name}.txt" for name in NAMES]
        summarizer.run_batch(pages, settings, RunOptions(output=records))
    return records


ALICE = "alice"
BOB = "bob"


def review(records: Path, name: str, steps: list[tuple[str, str, str]], done: list[str]) -> None:
    """``name``'s review: (record, field, status) steps, then records marked done."""
    session = ReviewSession(records, reviewer=name)
    try:
        for ident, field, status in steps:
            version = session.state(ident).review.version
            if status.startswith("corrected:"):
                session.edit(ident, field, json.loads(status.split(":", 1)[1]), version=version)
            elif status.startswith("decision:"):
                _, decision, reason = status.split(":", 2)
                session.decide(ident, decision, reason, version=version)
            else:
                session.mark(ident, field, status, version=version)
        for ident in done:
            state = session.state(ident)
            state, _ = session.accept_all(ident, version=state.review.version)
            session.set_done(ident, True, version=state.review.version)
    finally:
        session.close()


def serve(session: ReviewSession) -> tuple[uvicorn.Server, threading.Thread, str, str]:
    sock = bind(0)
    port = sock.getsockname()[1]
    app, app_state = build_app(session, port=port)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread, app_state.url, f"http://127.0.0.1:{port}"


def small_png(path: Path) -> None:
    """The screenshot as a palette PNG (a page of flat colours loses nothing visible);
    left as Chromium wrote it where Pillow is not installed."""
    try:
        from PIL import Image
    except ImportError:
        print(f"{path.name}: Pillow is not installed, kept as a full-colour PNG")
        return
    with Image.open(path) as image:
        image.convert("RGB").quantize(colors=128, dither=Image.Dither.NONE).save(
            path, optimize=True
        )


def main() -> None:
    with tempfile.TemporaryDirectory() as temporary:
        records = make_records(Path(temporary))
        review(
            records,
            ALICE,
            [
                ("scielo", "article_type", 'corrected:"case_report"'),
                ("scielo", "patient_count", "corrected:1"),
                ("scielo", "decision", "decision:include:one patient, a case report"),
                ("europepmc", "presentation", "rejected"),
                ("pmc-fulltext", "title", "accepted"),
            ],
            ["medicine-care", "readingapp-structured", "publisher-elsevier", "scielo", "europepmc"],
        )
        review(
            records,
            BOB,
            [
                ("scielo", "article_type", "accepted"),
                ("scielo", "patient_count", "accepted"),
                ("scielo", "decision", "decision:exclude:a series of two"),
                ("europepmc", "presentation", "accepted"),
                ("readingapp-structured", "summary", "rejected"),
            ],
            ["medicine-care", "readingapp-structured", "publisher-elsevier", "scielo", "europepmc"],
        )
        session = ReviewSession(records, reviewer=ALICE)
        server, thread, url, base = serve(session)
        try:
            shoot_review(url, base)
        finally:
            server.should_exit = True
            thread.join(timeout=20)
            session.close()
        first = ReviewSession(records, reviewer=ALICE)
        second = ReviewSession(records, reviewer=BOB)
        consensus = ConsensusSession(records, first, second, reviewer="carol")
        server, thread, url, base = serve(consensus)
        try:
            shoot_adjudication(url, base)
        finally:
            server.should_exit = True
            thread.join(timeout=20)
            consensus.close()
    for name in SHOTS:
        small_png(OUT / name)
    print("wrote " + ", ".join(str(OUT / name) for name in SHOTS))


SHOTS = ("review-queue.png", "review-record.png", "review-adjudication.png", "review-stats.png")


def browser_page(playwright: Any) -> Any:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    return browser, browser.new_page(viewport={"width": 1440, "height": 900}, device_scale_factor=1)


def shoot_review(url: str, base: str) -> None:
    with sync_playwright() as playwright:
        browser, page = browser_page(playwright)
        page.goto(url)
        page.goto(f"{base}/queue")
        expect(page.locator("#toast")).to_be_hidden()
        page.screenshot(path=str(OUT / "review-queue.png"))

        page.goto(f"{base}/records/bmc-jmcr")
        expect(page.locator("#field-patient")).to_be_focused()  # the field that needs a look
        page.keyboard.press("Shift+J")
        page.keyboard.press("Shift+K")
        page.locator("#field-title [data-act='accept']").click()
        expect(page.locator("#field-title .badge")).to_have_text("accepted")
        page.locator("#field-patient h2").click()
        expect(page.locator("#toast")).to_be_hidden(timeout=5000)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(OUT / "review-record.png"))

        page.goto(f"{base}/stats")
        page.screenshot(path=str(OUT / "review-stats.png"), full_page=True)
        browser.close()


def shoot_adjudication(url: str, base: str) -> None:
    with sync_playwright() as playwright:
        browser, page = browser_page(playwright)
        page.goto(url)
        expect(page.locator(".field.current")).to_have_count(1)
        page.goto(f"{base}/records/scielo")
        expect(page.locator(".field.current")).to_have_count(1)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(OUT / "review-adjudication.png"))
        browser.close()


if __name__ == "__main__":
    main()
