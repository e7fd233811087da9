"""Shared by the review tests: records made from our own fixtures, and the review command
run as a real server process."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "tests" / "fixtures" / "pages"
FIXTURE_PAGES = ("bmc-jmcr.txt", "pubmed-structured.txt", "europepmc.txt")
BIDI_PAGE = (
    "An odd \u202etitle\u202c\n\nCASE PRESENTATION: A 40-year-old man \u202egnp.exe\u202c had "
    "fever\x07 and a rash. He recovered well after treatment.\n\nCONCLUSION: Odd things happen."
)
"""A page with bidi and control characters, which the cleaner keeps and pages must not show."""


def run_cli(*args: str | Path, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    """``case-summarizer ARGS`` from the project root; its exit status must be in ``ok``."""
    done = subprocess.run(
        [sys.executable, "-m", "summarizer.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert done.returncode in ok, done.stdout + done.stderr
    return done


def make_records(folder: Path, *pages: str) -> Path:
    """A RECORDS.jsonl from our fixture pages with the rules backend (no model)."""
    records = folder / "records.jsonl"
    inputs = [PAGES / name for name in (pages or FIXTURE_PAGES)]
    run_cli("summarize", *inputs, "-f", "jsonl", "-o", records)
    return records


def copy_records(template: Path, folder: Path) -> Path:
    """A fresh copy of a records file made once per module (summarize takes seconds)."""
    records = folder / "records.jsonl"
    shutil.copyfile(template, records)
    return records


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def write_lines(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def as_model_line(
    line: dict[str, Any], *, model: str = "a-model", prompt: str = "v1"
) -> dict[str, Any]:
    """A result line as a model backend would have written it (so the queue compares it
    with the rules backend, which reads the same abstract for free)."""
    changed = json.loads(json.dumps(line))
    changed["provenance"].update(backend="openai", model=model, prompt_version=prompt)
    return changed


def wrong_age(line: dict[str, Any], years: int) -> dict[str, Any]:
    """``line`` with the patient's age as written changed to ``years`` (a model's slip;
    the evidence quote still reads the true age)."""
    changed = json.loads(json.dumps(line))
    patient = changed["record"]["patient"]
    patient["age_text"] = f"{years}-year-old"
    patient["age_years"] = float(years)
    return changed


class ReviewServer:
    """``case-summarizer review RECORDS --no-browser`` in its own process (``args``: more
    options, e.g. ``--reviewer alice``; ``command``: another review command's arguments
    instead of RECORDS, e.g. ``["adjudicate", "alice", "bob", "--records", path]``)."""

    def __init__(
        self,
        records: Path,
        *args: str,
        port: int = 0,
        command: list[str] | None = None,
    ) -> None:
        self.records = records
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "summarizer.cli",
                "review",
                *(command or [str(records)]),
                "--no-browser",
                "--port",
                str(port),
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        self.url = self._first_line(timeout=60)
        self.base = self.url.split("/?", 1)[0]

    def _first_line(self, timeout: float) -> str:
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.2)
            if ready:
                line = self.process.stdout.readline().strip()
                if line.startswith("http://127.0.0.1:"):
                    return line
            if self.process.poll() is not None:
                error = self.process.stderr.read() if self.process.stderr else ""
                raise AssertionError(f"the review server exited: {error}")
        self.kill()
        raise AssertionError("the review server printed no URL")

    def kill(self) -> None:
        """``kill -9``: no shutdown, no flush, nothing the server can do about it."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> ReviewServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()
