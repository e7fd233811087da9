"""An -o file is written only when it is missing, empty, or one of our own outputs of the
kind the command writes: a file the user wrote is never destroyed (issue 21, item 1)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from summarizer import Settings
from summarizer.batch_api import prepare_batch
from summarizer.ingest.detect import OWN_TABLE_COLUMNS
from summarizer.output.ownership import own_kind
from summarizer.output.table import COLUMNS
from tests.conftest import batch_case_text, env_without_keys, write_batch_input, write_rules_results

NOTES = "my thesis, chapter 3\nnot a case-summarizer file\n"


def cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "summarizer.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env_without_keys(),
        timeout=180,
        cwd=cwd,
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    inputs = tmp_path / "abstracts"
    inputs.mkdir()
    for number in range(3):
        (inputs / f"case{number}.txt").write_text(batch_case_text(number))
    return inputs


def refused(done: subprocess.CompletedProcess[str], path: Path) -> bool:
    lines = done.stderr.strip().splitlines()
    return (
        done.returncode == 2
        and len(lines) == 1
        and lines[0].startswith(f"error: {path}:")
        and "not a case-summarizer output" in lines[0]
        and "Traceback" not in done.stderr
    )


@pytest.mark.parametrize("format", ["jsonl", "csv", "md", "html", "json"])
@pytest.mark.parametrize("extra", [[], ["--no-resume"], ["--retry-failed"]])
def test_a_file_that_is_not_ours_is_refused_and_left_as_it_was(
    folder: Path, tmp_path: Path, format: str, extra: list[str]
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text(NOTES)
    done = cli("summarize", folder, "-o", notes, "-f", format, *extra)
    assert refused(done, notes), done.stderr
    assert notes.read_text() == NOTES
    assert not list(tmp_path.glob(".notes.txt*"))  # no sidecar or temporary file either


def test_force_replaces_a_file_that_is_not_ours_but_never_an_input(
    folder: Path, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.csv"
    notes.write_text(NOTES)
    replaced = cli("summarize", folder, "-o", notes, "-f", "csv", "--force")
    assert replaced.returncode == 0, replaced.stderr
    assert notes.read_text().startswith("id,")
    page = folder / "case0.txt"
    before = page.read_text()
    for target in (page, folder / "new.jsonl"):
        done = cli("summarize", folder, "-o", target, "--force")
        assert done.returncode == 2 and "input" in done.stderr, done.stderr
    assert page.read_text() == before


@pytest.mark.parametrize("format", ["jsonl", "csv", "md", "html", "json"])
def test_our_own_outputs_and_empty_files_are_written_again(
    folder: Path, tmp_path: Path, format: str
) -> None:
    out = tmp_path / f"records.{format}"
    out.write_text("\n  \n")  # an empty file holds nothing to lose
    source = folder if format != "json" else folder / "case0.txt"
    first = cli("summarize", source, "-o", out, "-f", format)
    assert first.returncode == 0, first.stderr
    again = cli("summarize", source, "-o", out, "-f", format, "--no-resume")
    assert again.returncode == 0, again.stderr
    assert own_kind(out) in ("results", "table", "page")


def test_a_command_never_writes_over_another_kind_of_our_files(
    folder: Path, tmp_path: Path
) -> None:
    requests = tmp_path / "requests.jsonl"
    prepare_batch([folder], Settings(model="gpt-4o-mini"), output=requests, count_tokens=False)
    before = requests.read_bytes()
    done = cli("summarize", folder, "-o", requests)
    assert done.returncode == 2 and "request file" in done.stderr, done.stderr
    results = tmp_path / "results.jsonl"
    write_rules_results(requests, results)
    for target in (requests, results):  # issue 21: collect -o REQUESTS overwrote it
        collected = cli("batch", "collect", results, "--requests", requests, "-o", target)
        assert collected.returncode == 2 and "Traceback" not in collected.stderr, collected.stderr
    assert requests.read_bytes() == before
    records = tmp_path / "records.jsonl"
    done = cli("batch", "collect", results, "--requests", requests, "-o", records)
    assert done.returncode == 0, done.stderr
    again = cli("batch", "prepare", folder, "-o", records, "--estimate-tokens")
    assert again.returncode == 2 and "results file" in again.stderr, again.stderr


def test_prepare_export_and_reports_refuse_a_file_that_is_not_ours(
    folder: Path, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.jsonl"
    notes.write_text(NOTES)
    assert refused(cli("batch", "prepare", folder, "-o", notes, "--estimate-tokens"), notes)
    records = tmp_path / "records.jsonl"
    assert cli("summarize", folder, "-o", records).returncode == 0
    for format in ("csv", "md", "html", "jsonl"):
        assert refused(cli("export", records, "-f", format, "-o", notes), notes)
    assert cli("export", records, "-o", notes, "--force").returncode == 0  # the suffix: jsonl
    report = tmp_path / "report.md"
    report.write_text(NOTES)
    done = cli("eval", "--gold", tmp_path / "no-gold", "--report", report)
    assert done.returncode == 2 and "not a case-summarizer output" in done.stderr, done.stderr
    assert report.read_text() == NOTES


def test_review_export_never_writes_over_the_records_or_a_file_that_is_not_ours(
    folder: Path, tmp_path: Path
) -> None:
    from summarizer.review import ReviewSession

    records = tmp_path / "records.jsonl"
    assert cli("summarize", folder, "-o", records).returncode == 0
    ReviewSession(records).close()  # a review store, as `review` leaves it
    before = records.read_bytes()
    done = cli("review", "export", records, "-o", records)
    assert done.returncode == 2 and "is the input" in done.stderr, done.stderr
    assert records.read_bytes() == before
    notes = tmp_path / "notes.csv"
    notes.write_text(NOTES)
    assert refused(cli("review", "export", records, "-f", "csv", "-o", notes), notes)
    exported = tmp_path / "reviewed.csv"
    assert cli("review", "export", records, "-f", "csv", "-o", exported).returncode == 0
    assert own_kind(exported) == "table"


def test_every_output_kind_is_recognised(folder: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    write_batch_input(source, 3)
    expected = {"jsonl": "results", "csv": "table", "md": "page", "html": "page"}
    for format, kind in expected.items():
        out = tmp_path / f"out.{format}"
        assert cli("summarize", source, "-o", out, "-f", format).returncode == 0
        assert own_kind(out) == kind
    single = tmp_path / "one.json"
    assert cli("summarize", folder / "case0.txt", "-o", single).returncode == 0
    assert own_kind(single) == "results"
    requests = tmp_path / "requests.jsonl"
    prepare_batch([source], Settings(model="gpt-4o-mini"), output=requests, count_tokens=False)
    assert own_kind(requests) == "requests"
    assert own_kind(tmp_path / "requests.context.jsonl") == "context"
    (tmp_path / "plain.jsonl").write_text('{"id": "1", "abstract": "A 40-year-old man."}\n')
    (tmp_path / "export.csv").write_text("id,title,abstract\n1,T,A 40-year-old man.\n")
    for name in ("plain.jsonl", "export.csv"):
        assert own_kind(tmp_path / name) is None


def test_the_table_signature_is_in_the_table_header() -> None:
    assert set(COLUMNS) >= OWN_TABLE_COLUMNS
