"""Every output format is a writer on the one runner, and no output is ever lost,
truncated, shared or read back as input (issues 11 and 12)."""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from summarizer import Document, InputError, OutputError, Settings, Summarizer
from summarizer.document import Section
from summarizer.ground import AlignmentStatus, DroppedItem, EvidenceSpan
from summarizer.ingest.detect import OWN_OUTPUT_MARKERS
from summarizer.local_batch import run_batch
from summarizer.options import RunOptions
from summarizer.output.contract import result_from_dict
from summarizer.output.line_store import LineStore
from summarizer.output.table import COLUMNS
from summarizer.output.targets import RenderedTarget, sidecar_path
from summarizer.results import ContractError, Failure, Result
from tests.conftest import (
    FAKE_KEY,
    batch_case_text,
    closed_after_test,
    env_without_keys,
    needs_corpus,
    write_batch_input,
)
from tests.openai_server import ScriptedServer
from tests.test_local_batch import openai_settings, serve_cases

CLI = [sys.executable, "-m", "summarizer.cli"]
RENDERED = ("md", "csv", "html")


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=env or env_without_keys(), timeout=120
    )


def ids_in(path: Path, format: str) -> list[str]:
    """The record ids a finished output holds, in any format."""
    text = path.read_text(encoding="utf-8")
    if format in ("jsonl", "json"):
        return [json.loads(line)["id"] for line in text.splitlines() if line.strip()]
    if format == "csv":
        return [row["id"] for row in csv.DictReader(io.StringIO(text, newline=""))]
    if format == "md":
        return re.findall(r"^(?:- id: |# Failed: )(\S+)$", text, flags=re.M)
    found = re.findall(r"<dt>id</dt><dd>([^<]+)</dd>|<h2>Failed: ([^<]+)</h2>", text)
    return [good or failed for good, failed in found]


def model_env(server: ScriptedServer, home: Path) -> dict[str, str]:
    return {
        **env_without_keys(),
        "OPENAI_API_KEY": FAKE_KEY,
        "OPENAI_BASE_URL": server.url,
        "CASE_SUMMARIZER_HOME": str(home),
    }


# --- every format batches the same way -----------------------------------------------------


@pytest.mark.parametrize("format", RENDERED)
def test_every_format_runs_concurrently_with_resume_and_retry_failed(
    scripted_server: ScriptedServer, tmp_path: Path, format: str
) -> None:
    docs = [Document.from_text(batch_case_text(n), id=f"d{n:02d}") for n in range(32)]
    serve_cases(scripted_server, delay=0.25, failing=frozenset({5}))
    out = tmp_path / f"out.{format}"
    warm = tmp_path / f"warm.{format}"  # imports and first connections, outside the timing
    run_batch(docs[:1], openai_settings(scripted_server), RunOptions(output=warm, format=format))
    started = time.perf_counter()
    first = run_batch(
        docs,
        openai_settings(scripted_server),
        RunOptions(output=out, format=format, concurrency=16),
    )
    assert time.perf_counter() - started < 32 * 0.25 / 2  # 8 s one at a time
    assert first.succeeded == 31 and first.failed == 1
    assert sorted(ids_in(out, format)) == sorted(doc.id for doc in docs)
    assert sidecar_path(out).exists()  # the resumable store beside it, hidden

    again = run_batch(docs, openai_settings(scripted_server), RunOptions(output=out, format=format))
    assert again.skipped == 32 and again.processed == 0 and again.previously_failed == 1

    serve_cases(scripted_server)
    before = len(scripted_server.requests)
    retried = run_batch(
        docs,
        openai_settings(scripted_server),
        RunOptions(output=out, format=format, retry_failed=True),
    )
    assert retried.retried == 1 and retried.succeeded == 1 and retried.ok
    assert len(scripted_server.requests) - before == 1
    assert Counter(ids_in(out, format)) == Counter(doc.id for doc in docs)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(scripted_server.requests) == 1 + 32 + 1


EARLIER = {
    "csv": ",".join(COLUMNS) + "\r\n",
    "md": OWN_OUTPUT_MARKERS[1].decode() + "\n\nno records yet\n",
    "html": f"<!DOCTYPE html><html><head>{OWN_OUTPUT_MARKERS[0].decode()}</head></html>\n",
}
"""Earlier outputs of ours in each rendered format (nothing but their marks)."""


@pytest.mark.parametrize("format", RENDERED)
def test_kill_mid_run_then_resume_in_every_format(
    scripted_server: ScriptedServer, tmp_path: Path, format: str
) -> None:
    source = tmp_path / "in.jsonl"
    ids = write_batch_input(source, 60)
    serve_cases(scripted_server, delay=0.05)
    env = model_env(scripted_server, tmp_path / "home")
    out = tmp_path / f"records.{format}"
    out.write_text(EARLIER[format])  # an earlier output, kept whole until the new one is complete
    earlier = out.read_bytes()
    args = [*CLI, "summarize", str(source), "-o", str(out), "-f", format]
    args += ["--model", "m", "-j", "4", "-q", "--backoff", "0.01"]
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = sidecar_path(out)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if store.exists() and store.read_bytes().count(b"\n") >= 15:
            break
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    assert process.returncode == -signal.SIGKILL
    assert out.read_bytes() == earlier  # a killed run never truncates the output
    done_before = store.read_bytes().count(b"\n")
    assert 15 <= done_before < 60
    with store.open("ab") as handle:
        handle.write(b'{"id": "r00059", "record": {"ti')  # killed mid-line, on top
    requests_before = len(scripted_server.requests)

    resumed = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert Counter(ids_in(out, format)) == Counter(ids)  # every id, exactly once
    assert len(scripted_server.requests) - requests_before <= 60 - done_before + 4


def test_a_single_record_failure_never_empties_an_existing_output(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    page = tmp_path / "page.txt"
    page.write_text(batch_case_text(3))
    card = tmp_path / "card.html"
    made = cli("summarize", str(page), "-f", "html", "-o", str(card), "--backend", "rules")
    assert made.returncode == 0 and card.stat().st_size > 1000
    earlier = card.read_bytes()
    serve_cases(scripted_server, failing=frozenset({3}))
    env = model_env(scripted_server, tmp_path / "home")
    failed = cli("summarize", str(page), "-f", "html", "-o", str(card), "--model", "m", env=env)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert card.read_bytes() == earlier
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no leftovers


# --- output is never input ------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra", [["-f", "md"], ["-f", "csv"], ["-f", "jsonl"], ["-f", "jsonl", "--retry-failed"]]
)
def test_the_output_is_never_the_input(tmp_path: Path, extra: list[str]) -> None:
    data = tmp_path / "data.jsonl"
    write_batch_input(data, 50)
    original = data.read_bytes()
    done = cli("summarize", str(data), "-o", str(data), "--backend", "rules", *extra)
    assert done.returncode == 2, done.stderr
    assert "is the input" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert data.read_bytes() == original


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_a_link_to_the_input_is_the_input(tmp_path: Path, link: str) -> None:
    data = tmp_path / "data.jsonl"
    write_batch_input(data, 5)
    original = data.read_bytes()
    out = tmp_path / "out.jsonl"
    (os.symlink if link == "symlink" else os.link)(data, out)
    done = cli("summarize", str(data), "-o", str(out), "--backend", "rules")
    assert done.returncode == 2 and "is the input" in done.stderr
    assert data.read_bytes() == original


def test_an_output_inside_an_input_folder_or_glob_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "abstracts"
    folder.mkdir()
    for number in range(3):
        (folder / f"case{number}.txt").write_text(batch_case_text(number))
    inside = cli("summarize", str(folder), "-o", str(folder / "records.md"), "-f", "md")
    assert inside.returncode == 2 and "inside the input folder" in inside.stderr
    assert not (folder / "records.md").exists()
    write_batch_input(tmp_path / "a.jsonl", 2)
    (tmp_path / "b.jsonl").write_text("")
    pattern = str(tmp_path / "*.jsonl")
    globbed = cli("summarize", pattern, "-o", str(tmp_path / "b.jsonl"), "--backend", "rules")
    assert globbed.returncode == 2 and "is the input" in globbed.stderr


def test_our_own_results_are_not_read_as_abstracts(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    write_batch_input(source, 30)
    results = tmp_path / "results.jsonl"
    assert cli("summarize", str(source), "-o", str(results)).returncode == 0
    again = cli("summarize", str(results), "-f", "csv", "-o", str(tmp_path / "x.csv"))
    assert again.returncode == 2, again.stderr
    assert "case-summarizer export" in again.stderr
    assert again.stderr.count("error:") == 1  # once for the file, not once a line
    assert again.stderr.count("\n") == 1


# --- the lock is on the file, not the path ---------------------------------------------------


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_the_lock_holds_through_links(tmp_path: Path, link: str) -> None:
    real = tmp_path / "o.jsonl"
    real.touch()
    alias = tmp_path / "a.jsonl"
    (os.symlink if link == "symlink" else os.link)(real, alias)
    document = Document.from_text(batch_case_text(1), id="x")
    store = LineStore(real)
    with pytest.raises(OutputError, match="another run"):
        run_batch([document], Settings(backend="rules"), RunOptions(output=alias))
    store.close()
    run_batch([document], Settings(backend="rules"), RunOptions(output=alias))
    assert [json.loads(line)["id"] for line in real.read_text().splitlines()] == ["x"]


def test_two_runs_into_one_rendered_file_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    header = ",".join(COLUMNS) + "\n"  # an earlier, empty table of ours
    out.write_text(header)
    alias = tmp_path / "alias.csv"
    os.link(out, alias)  # another name for the same file: another sidecar, same inode
    first = RenderedTarget(out, "csv", resume=True, retry_failed=False)
    document = Document.from_text(batch_case_text(1), id="x")
    for target in (out, alias):
        with pytest.raises(OutputError, match="another run"):
            run_batch(
                [document], Settings(backend="rules"), RunOptions(output=target, format="csv")
            )
    first.finish(complete=False)
    assert out.read_text() == header


def test_an_unwritable_output_is_a_one_line_error(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    write_batch_input(source, 2)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    for output, format in ((blocker / "out.jsonl", "jsonl"), (blocker / "out.csv", "csv")):
        done = cli("summarize", str(source), "-o", str(output), "-f", format)
        assert done.returncode == 2, done.stderr
        assert "cannot write" in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        done = cli("summarize", str(source), "-o", str(locked / "out.jsonl"))
        assert done.returncode == 2 and "Permission denied" in done.stderr


# --- inputs are read once ----------------------------------------------------------------------


def test_inputs_are_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import summarizer.ingest as ingest
    from summarizer.cli import cli as command

    opened: Counter[str] = Counter()
    real_open = ingest._open

    def counting(source: Any) -> Any:
        opened[str(source.path)] += 1
        return real_open(source)

    monkeypatch.setattr(ingest, "_open", counting)
    source = tmp_path / "in.jsonl"
    write_batch_input(source, 25)
    for format in ("jsonl", "csv", "md", "html"):
        opened.clear()
        out = tmp_path / f"out.{format}"
        result = CliRunner().invoke(
            command, ["summarize", str(source), "-o", str(out), "-f", format]
        )
        assert result.exit_code == 0, result.output
        assert opened == Counter({str(source): 1}), format
    opened.clear()
    summary = run_batch(
        [source],
        Settings(backend="rules"),
        RunOptions(output=tmp_path / "p.csv", format="csv"),
        progress=True,
    )
    assert summary.succeeded == 25 and opened == Counter({str(source): 1})


def test_earlier_outputs_in_an_input_folder_are_left_out(tmp_path: Path) -> None:
    folder = tmp_path / "abstracts"
    folder.mkdir()
    for number in range(3):
        (folder / f"case{number}.txt").write_text(batch_case_text(number))
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    formats = ("md", "html", "jsonl", "csv")
    for format in formats:
        done = cli("summarize", str(folder), "-o", str(earlier / f"records.{format}"), "-f", format)
        assert done.returncode == 0, done.stderr
    one = cli("summarize", str(folder / "case0.txt"), "-o", str(earlier / "one.json"))
    assert one.returncode == 0, one.stderr
    requests = earlier / "requests.jsonl"
    prepared = cli("batch", "prepare", str(folder), "-o", str(requests), "--estimate-tokens")
    assert prepared.returncode == 0, prepared.stderr
    left = sorted(path.name for path in earlier.iterdir() if not path.name.startswith("."))
    for name in left:  # outputs of earlier runs, kept in the folder
        os.replace(earlier / name, folder / name)
    out = tmp_path / "again.jsonl"
    done = cli("summarize", str(folder), "-o", str(out))
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(line["id"] for line in lines) == ["case0", "case1", "case2"]
    assert all("record" in line for line in lines)  # no error line for our own files
    notes = [line for line in done.stderr.splitlines() if line.startswith("note: left out")]
    assert len(notes) == len(left) == 7, done.stderr
    for name in left:
        assert any(name in note for note in notes), (name, notes)


def test_a_json_line_is_what_json_dumps_writes() -> None:
    from summarizer.output.line_store import json_line

    value = {
        "id": "naïve-1",
        "text": 'Fièvre à 39 °C, "quoted"\nand a tab\t✓',
        "n": [1, 2.5, None, True, float("1e-7")],
        "nested": {"empty": {}, "list": []},
    }
    assert json_line(value) == (json.dumps(value, ensure_ascii=False) + "\n").encode("utf-8")


def _awkward(result: Result) -> Result:
    """``result`` with every part of a line holding something a writer could get wrong."""
    text = 'Fièvre à 39 °C, "quoted" \\ back\nand a tab\t✓ \x01'
    abstract = replace(
        result.abstract,
        title=text,
        sections=(*result.abstract.sections, Section("case", text, 0, 3, True)),
        warnings=(text, "second"),
        confidence="low",
    )
    spans = [
        *result.evidence,
        EvidenceSpan(text, text, AlignmentStatus.unaligned, -1, -1, -1, -1, 0.0),
        EvidenceSpan("why_reported", "é", AlignmentStatus.fuzzy, 3, 9, 30, 90, 93.3333333),
    ]
    provenance = replace(
        result.provenance,
        prompt_version=None,
        prompt_hash=None,
        reasks=None,
        latency_s=1e-7,
        original_latency_s=12.345678,
        cache_hit=True,
        cache_key=text,
        source=text,
        warnings=[text],
        reference={"doi": text, "key": "k"},
        dropped=[DroppedItem("history", {"evidence": text, "negative": False, "n": 1.5})],
        merged=2,
    )
    return replace(result, id=text, abstract=abstract, evidence=spans, provenance=provenance)


CONTRACT = Path(__file__).parent / "fixtures" / "contract" / "results.jsonl"
"""A line of every shape (written from the invented cases of conftest): a result, one from
the cache with every optional part filled, one without its abstract (an older line), one
without the map to the page, one from a PDF (pages), and failures with and without title."""


def test_every_result_shape_round_trips_byte_for_byte() -> None:
    """The output contract, pinned: each line reads back and is written again to the same
    characters, keys in the same order (the record's own dump is the schema's: taken as
    the schema writes it today)."""
    shapes = []
    for line in CONTRACT.read_text(encoding="utf-8").splitlines():
        value = json.loads(line)
        item = result_from_dict(value)
        if isinstance(item, Result):
            value["record"] = item.record.model_dump(mode="json")
            shapes.append((item.has_abstract, item.has_source_map, bool(item.abstract.pages)))
        assert item.to_json() == json.dumps(value, ensure_ascii=False)
        assert item.to_dict() == value
    assert set(shapes) == {(True, True, False), (False, False, False), (True, False, False),
                           (True, True, True)}  # fmt: skip


def test_a_failure_writes_its_line() -> None:
    lines = CONTRACT.read_text(encoding="utf-8").splitlines()
    plain = Failure(id="case-8", error=InputError("no abstract text found"))
    titled = Failure(
        id="case-9",
        error=InputError("too long: 3 MB"),
        title="Case 9: a title",
        reference={"key": "k9", "doi": "10.1000/k9"},
    )
    assert [plain.to_json(), titled.to_json()] == lines[-2:]


def test_an_older_line_reads_with_what_it_lacks_not_known() -> None:
    value = json.loads(CONTRACT.read_text(encoding="utf-8").splitlines()[0])
    provenance = value["provenance"]
    del provenance["requests"], provenance["reasks"]  # before re-asks were counted apart
    provenance["attempts"] = 3
    provenance["tokens"] = {"prompt": 5, "completion": 1, "total": 6}  # before cached ones
    read = Result.from_dict(value).provenance
    assert (read.requests, read.reasks, read.tokens.cached_tokens) == (3, None, 0)
    bare = Result.from_dict({**value, "provenance": {"backend": "openai"}}).provenance
    assert (bare.model, bare.schema_version, bare.latency_s) == ("unknown", "", 0.0)
    broken = {**value, "evidence": [{**value["evidence"][0], "start": "twelve"}]}
    with pytest.raises(ContractError, match=r"not a result line: start: Input should be"):
        Result.from_dict(broken)


def test_awkward_values_and_real_records_round_trip(seed_text: str) -> None:
    summarizer = closed_after_test(Summarizer(Settings(backend="rules")))
    seed = summarizer.summarize(seed_text)
    results = [seed, _awkward(seed)]
    corpus = needs_corpus("e3c-case-texts.jsonl")
    if corpus.exists():
        with corpus.open(encoding="utf-8") as lines:
            for line in itertools.islice(lines, 300):
                value = json.loads(line)
                document = Document.from_text(value["text"], id=str(value.get("id", "x")))
                results.append(summarizer.summarize(document))
    for result in results:
        line = result.to_json()
        assert json.loads(line) == result.to_dict()
        assert Result.from_dict(json.loads(line)).to_json() == line
