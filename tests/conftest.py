from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.openai_server import ScriptedServer

S = TypeVar("S")

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "examples" / "leiomyosarcoma-cervical-spine.txt"
SEED_TITLE = (
    "A rare presentation of leiomyosarcoma metastasis to the cervical spine: "
    "A case report and a brief review."
)
SHARED = Path(os.environ.get("CASE_SUMMARIZER_SHARED") or ROOT.parent / "shared")
"""The workplace's shared data (real pages, texts and PDFs): read by tests, never copied."""
CORPUS = SHARED / "corpus"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def needs(what: str, present: bool, *, hint: str) -> None:
    """Skip a test whose dependency is missing here, or fail it in CI (``CI=true``), where
    a skip would read as a pass: CI installs everything ``make test`` needs."""
    if present:
        return
    if IN_CI:
        pytest.fail(f"CI needs {what}: {hint}", pytrace=False)
    pytest.skip(f"{what} is not here ({hint})")


def needs_module(name: str, *, hint: str) -> Any:
    """``import name``, through ``needs``."""
    try:
        return importlib.import_module(name)
    except ImportError:
        needs(f"the {name} package", False, hint=hint)


def needs_corpus(name: str) -> Path:
    """A file of the shared corpus, through ``needs``."""
    path = CORPUS / name
    needs(f"../shared/corpus/{name}", path.is_file(), hint="set CASE_SUMMARIZER_SHARED")
    return path


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
"""How the tests and the screenshot script launch Debian's Chromium under Playwright."""
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def page() -> Iterator[Any]:
    """A Chromium tab (Debian's, driven by the dev extra's Playwright) that fails its test
    on any script error of the pages it showed."""
    sync_api = needs_module("playwright.sync_api", hint="pip install -e '.[dev]'")
    needs("chromium", Path(CHROMIUM).exists(), hint="make browser")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        tab = context.new_page()
        errors: list[str] = []
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.set_default_timeout(15_000)
        yield tab
        context.close()
        browser.close()
        assert not errors, errors  # no script error on any page


# A fake key; tests assert it never leaks into outputs, logs, caches or errors.
FAKE_KEY = "fake-test-key-DO-NOT-LEAK-0123456789abcdef"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CASE_SUMMARIZER_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CASE_SUMMARIZER_HOME", str(tmp_path / "home"))


_TO_CLOSE: list[Any] = []


def closed_after_test(summarizer: S) -> S:
    """``summarizer``, closed when the test ends: a test that makes one for a call or two,
    as a notebook would, still releases its event loop and connections (the suite fails
    on a ResourceWarning)."""
    _TO_CLOSE.append(summarizer)
    return summarizer


@pytest.fixture(autouse=True)
def _close_summarizers() -> Iterator[None]:
    yield
    while _TO_CLOSE:
        _TO_CLOSE.pop().close()


@pytest.fixture
def scripted_server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


@pytest.fixture
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


def seed_record(**changes: Any) -> dict[str, Any]:
    """A valid, grounded record for the seed page, as a model would return it."""
    record: dict[str, Any] = {
        "title": SEED_TITLE,
        "article_type": "case_report",
        "patient_count": 1,
        "patient": {
            "age_text": "63-year-old",
            "age_years": 63,
            "sex": "female",
            "evidence": "A 63-year-old female",
        },
        "presentation": [
            {
                "description": "right-sided numbness and pain",
                "duration": "2 months",
                "evidence": "right-sided numbness and pain of 2 months duration",
            }
        ],
        "history": [
            {
                "description": "retroperitoneal leiomyosarcoma resection",
                "timing": "3 years ago",
                "evidence": "resection of a retroperitoneal LMS 3 years ago",
            }
        ],
        "diagnosis": {
            "final": "leiomyosarcoma metastasis to C5",
            "differential": [],
            "evidence": "pathologically, this proved to be an LMS metastasis",
        },
        "interventions": [
            {
                "kind": "surgery",
                "detail": "posterior tumor resection",
                "timing": None,
                "evidence": "she underwent posterior tumor resection",
            }
        ],
        "outcomes": [
            {
                "timepoint": "one postoperative year",
                "description": "the lesion recurred",
                "status": "recurred",
                "evidence": "in one postoperative year, the lesion recurred",
            }
        ],
        "conclusion": {
            "text": "Gross total surgical resection is the first line of treatment.",
            "evidence": "Gross total surgical resection is the first line of treatment for patients with metastatic LMS.",
        },
        "summary": "A 63-year-old woman had a leiomyosarcoma metastasis in the cervical spine removed; it recurred within a year.",
    }
    record.update(changes)
    return record


def env_without_keys() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in {"OPENAI_API_KEY", "OPENAI_BASE_URL"}}


# --- batch, cache and run-log helpers (synthetic cases: no corpus text in the repo) ---------

BATCH_CASE_ID = r"Case (\d{5})"


def batch_case_text(number: int) -> str:
    """A small, well-formed case abstract whose facts ``batch_case_record`` quotes verbatim."""
    age = 20 + number % 60
    who = "man" if number % 2 else "woman"
    return (
        f"Case {number:05d}: an unusual presentation of a synthetic condition\n\n"
        f"BACKGROUND: Synthetic conditions are rare.\n\n"
        f"CASE PRESENTATION: A {age}-year-old {who} presented with chest pain of "
        f"{1 + number % 9} days duration. Treatment was started and the patient improved.\n\n"
        f"CONCLUSION: Case {number:05d} shows that early recognition matters."
    )


def batch_case_record(number: int) -> dict[str, Any]:
    age = 20 + number % 60
    who = "man" if number % 2 else "woman"
    return {
        "title": f"Case {number:05d}: an unusual presentation of a synthetic condition",
        "article_type": "case_report",
        "patient_count": 1,
        "patient": {
            "age_text": f"{age}-year-old",
            "age_years": age,
            "sex": "male" if number % 2 else "female",
            "evidence": f"A {age}-year-old {who}",
        },
        "presentation": [
            {"description": "chest pain", "duration": None, "evidence": "presented with chest pain"}
        ],
        "summary": f"A {age}-year-old {who} with chest pain improved.",
    }


def write_batch_input(path: Path, count: int, *, start: int = 0) -> list[str]:
    """A JSONL export of ``count`` synthetic cases; returns their ids."""
    import json

    ids = [f"r{number:05d}" for number in range(start, start + count)]
    with path.open("w", encoding="utf-8") as handle:
        for number, ident in zip(range(start, start + count), ids, strict=True):
            handle.write(json.dumps({"id": ident, "text": batch_case_text(number)}) + "\n")
    return ids


def write_rules_results(requests: Path, results: Path) -> int:
    """A provider batch results file answering every request of ``requests`` (a file
    ``batch prepare`` wrote, tools mode) with the record the rules backend fills from
    the same abstract, as a tool call: answers whose every quote is in the abstract.
    Returns the number of answers."""
    import json

    from summarizer.backends.rules import RulesBackend
    from summarizer.batch_api import context_path
    from summarizer.batch_api.context import Prepared, read_context
    from tests.openai_server import completion_body

    rules = RulesBackend()
    _, records = read_context(context_path(requests))
    answers = 0
    with requests.open("rb") as lines, results.open("w", encoding="utf-8") as out:
        for item in records:
            if not isinstance(item, Prepared):
                continue
            arguments = rules.fill(item.abstract).record.model_dump_json()
            for ident, _ in item.requests:
                request = json.loads(lines.readline())
                assert request["custom_id"] == ident
                body = completion_body(
                    request["body"],
                    arguments,
                    prompt_tokens=2500,
                    completion_tokens=len(arguments) // 4,
                )
                line = {
                    "id": f"batch_req_{answers}",
                    "custom_id": ident,
                    "response": {"status_code": 200, "request_id": f"req_{answers}", "body": body},
                    "error": None,
                }
                out.write(json.dumps(line) + "\n")
                answers += 1
    return answers
