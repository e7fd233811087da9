"""``case-summarizer export``: finished results in any format, without a model."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from summarizer.results import NO_ABSTRACT_WARNING, Result
from tests.conftest import SEED, env_without_keys, write_batch_input
from tests.test_outputs import ids_in

CLI = [sys.executable, "-m", "summarizer.cli"]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=env_without_keys(), timeout=120
    )


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("results")
    source = tmp_path / "in.jsonl"
    write_batch_input(source, 6)
    with source.open("a") as handle:
        handle.write('{"id": "empty", "text": ""}\n')  # a failure line too
    out = tmp_path / "results.jsonl"
    done = cli("summarize", str(source), str(SEED), "-o", str(out))
    assert done.returncode == 1  # the empty record failed
    return out


def test_results_read_back_exactly(results: Path) -> None:
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    for line in lines:
        if "record" in line:
            block = line["abstract"]
            assert set(block) == {"title", "text", "sections", "warnings", "confidence", "offsets"}
            assert Result.from_dict(line).to_dict() == line  # the contract round-trips
            without_map = json.loads(json.dumps(line))
            del without_map["abstract"]["offsets"]  # a line from before the map was kept
            again = Result.from_dict(without_map)
            assert not again.has_source_map and again.to_dict() == without_map


@pytest.mark.parametrize("format", ["jsonl", "json", "csv", "md", "html"])
def test_export_renders_every_record_in_any_format(
    results: Path, tmp_path: Path, format: str
) -> None:
    out = tmp_path / f"export.{format}"
    done = cli("export", str(results), "-f", format, "-o", str(out))
    assert done.returncode == 0, done.stderr
    expected = sorted(json.loads(line)["id"] for line in results.read_text().splitlines())
    assert sorted(ids_in(out, format)) == expected
    if format == "jsonl":
        assert out.read_text() == results.read_text()  # nothing lost or changed
    if format == "html":
        assert out.read_text().count("<mark") > 5  # evidence highlighted in the stored abstract


def test_export_to_stdout_and_old_lines_without_the_abstract(results: Path, tmp_path: Path) -> None:
    old = tmp_path / "old.jsonl"
    with old.open("w") as handle:
        for line in results.read_text().splitlines():
            value = json.loads(line)
            value.pop("abstract", None)
            handle.write(json.dumps(value) + "\n")
    as_csv = cli("export", str(old), "-f", "csv")
    assert as_csv.returncode == 0 and as_csv.stderr == ""
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout, newline="")))
    assert len(rows) == 8 and NO_ABSTRACT_WARNING not in as_csv.stdout
    as_jsonl = cli("export", str(old), "-f", "jsonl")
    assert as_jsonl.stdout == old.read_text()  # still no abstract: none is made up
    as_html = cli("export", str(old), "-f", "html")
    assert as_html.returncode == 0 and "without their abstract" in as_html.stderr
    assert "cannot be shown in context" in as_html.stdout


def test_export_refuses_what_is_not_results(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    write_batch_input(source, 3)
    done = cli("export", str(source), "-f", "csv")
    assert done.returncode == 2 and "not case-summarizer results" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    results = tmp_path / "r.jsonl"
    assert cli("summarize", str(source), "-o", str(results)).returncode == 0
    onto_itself = cli("export", str(results), "-f", "jsonl", "-o", str(results))
    assert onto_itself.returncode == 2 and "is the input" in onto_itself.stderr
