"""Make the README's screenshots of the review page (run from the project root):

    .venv/bin/python docs/images/review_screenshots.py

Records come from our own fixture pages through the real OpenAI path, answered by the
scripted test server (tests/openai_server.py) with the rules backend's record plus the
mistakes a model makes: a wrong age, a paraphrased quote, a wrong article type, an answer
that fails validation and is re-asked. The review page then runs in headless Chromium
(Playwright, Debian's build), a few fields are reviewed, and the queue and a record are
captured into docs/images/.
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
from summarizer.review.server import bind  # noqa: E402
from summarizer.review.session import ReviewSession  # noqa: E402
from tests.openai_server import ScriptedServer, answer  # noqa: E402
from tests.review_helpers import CHROMIUM_ARGS  # noqa: E402

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


def main() -> None:
    with tempfile.TemporaryDirectory() as temporary:
        records = make_records(Path(temporary))
        session = ReviewSession(records)
        sock = bind(0)
        port = sock.getsockname()[1]
        app, review = build_app(session, port=port)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        try:
            shoot(review.url, f"http://127.0.0.1:{port}")
        finally:
            server.should_exit = True
            thread.join(timeout=20)
            session.close()


def shoot(url: str, base: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1440, "height": 900}, device_scale_factor=1)
        page.goto(url)
        # review a little first, so the queue shows progress
        page.goto(f"{base}/records/medicine-care")
        for field in ("title", "article_type", "patient_count", "patient"):
            page.locator(f"#field-{field} [data-act='accept']").click()
            expect(page.locator(f"#field-{field} .badge")).to_have_text("accepted")
        page.locator("#done-button").click()
        expect(page.locator("#done-button")).to_have_text("Done ✓")
        page.goto(f"{base}/records/pmc-fulltext")
        page.locator("#field-title [data-act='accept']").click()
        expect(page.locator("#field-title .badge")).to_have_text("accepted")

        page.goto(f"{base}/queue")
        expect(page.locator("#toast")).to_be_hidden()
        page.screenshot(path=str(OUT / "review-queue.png"))

        page.goto(f"{base}/records/bmc-jmcr")
        page.locator("#field-title [data-act='accept']").click()
        expect(page.locator("#field-title .badge")).to_have_text("accepted")
        page.locator("#field-patient h2").click()
        expect(page.locator("#toast")).to_be_hidden()
        page.screenshot(path=str(OUT / "review-record.png"))
        browser.close()
    print(f"wrote {OUT / 'review-queue.png'} and {OUT / 'review-record.png'}")


if __name__ == "__main__":
    main()
