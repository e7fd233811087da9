"""The README's Python examples run as written: the library section and the provider-batch
example (against the scripted server) and the review-table example (from a copy of the
examples folder)."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FAKE_KEY, ROOT, SEED, seed_record
from tests.openai_server import ScriptedServer, answer

MARKER = "In Python (checked by `tests/test_readme.py`):"


def readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    after = text[text.index(MARKER) :]
    match = re.search(r"```python\n(.*?)```", after, flags=re.S)
    assert match is not None
    return match.group(1)


def test_review_table_example_runs(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    script = tmp_path / "example.py"
    script.write_text(readme_example(), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("63.0 female ['surgery: posterior tumor resection")
    assert lines[1].startswith("leiomyosarcoma-cervical-spine ")  # the queue entry
    assert "presentation_evidence_status" in done.stdout  # the DataFrame printed
    assert (tmp_path / "records.jsonl").is_file()


def library_examples() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Library", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_library_section_has_examples() -> None:
    assert library_examples()


def test_the_library_examples_run(
    scripted_server: ScriptedServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    shutil.copy(SEED, tmp_path / "page.txt")
    shutil.copy(ROOT / "tests" / "fixtures" / "exports" / "pubmed-3.xml", tmp_path / "export.xml")
    scripted_server.fallback = lambda request: answer(seed_record())
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", scripted_server.url)
    monkeypatch.chdir(tmp_path)
    for example in library_examples():
        exec(compile(example, "README.md", "exec"), {"__name__": "readme"})
    printed = capsys.readouterr().out
    assert "text-1" in printed and "text-2" in printed
    with (tmp_path / "records.csv").open(newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 3  # the export's three records
    assert scripted_server.requests  # the model examples really asked the model


def test_the_provider_batch_example_runs(
    scripted_server: ScriptedServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Provider batches", 1)[1].split("\n## ", 1)[0]
    (example,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    shutil.copy(ROOT / "tests" / "fixtures" / "exports" / "pubmed-3.xml", tmp_path / "export.xml")
    scripted_server.fallback = lambda request: answer(seed_record())  # not these abstracts'
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", scripted_server.url)
    monkeypatch.setattr("summarizer.batch_api.remote.random.uniform", lambda low, high: 0.0)
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "README.md", "exec"), {"__name__": "readme"})
    printed = capsys.readouterr().out.split()
    assert printed[0] == "2" and "tokens" in printed  # two abstracts, counted
    records = (tmp_path / "records.jsonl").read_text(encoding="utf-8").splitlines()
    assert len([json.loads(line) for line in records]) == 3  # every record, each a line
    assert any(call.path == "/v1/files" for call in scripted_server.api_calls)
