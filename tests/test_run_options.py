"""RunOptions (checked once), one sync bridge that works inside a running event loop, the
run budget (--max-cost), and what a plain str means to the library (issues 27, 23, 26)."""

from __future__ import annotations

import asyncio
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

from summarizer import (
    ConfigError,
    InputError,
    RunOptions,
    Settings,
    Summarizer,
    Text,
    arun_batch,
    run_batch,
    summarize,
)
from summarizer.batch_api import (
    abatch_status,
    acancel_batch,
    acollect_batch,
    alist_batches,
    asubmit_batch,
    await_batch,
    batch_status,
    cancel_batch,
    collect_batch,
    list_batches,
    prepare_batch,
    submit_batch,
    wait_for_batch,
)
from summarizer.evaluation.eval_runs import asummarize_gold, summarize_gold
from summarizer.evaluation.prices import PriceTable
from tests.conftest import FAKE_KEY, SEED, batch_case_text, write_batch_input, write_rules_results
from tests.openai_server import ScriptedServer
from tests.test_local_batch import openai_settings, read_lines, serve_cases

# --- one value, checked in one place ----------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"concurrency": 0}, "--concurrency"),
        ({"rpm": -1.0}, "rate limits"),
        ({"tpm": 0.0}, "rate limits"),
        ({"format": "docx"}, "unknown output format"),
        ({"retry_failed": True}, "--retry-failed"),
        ({"max_record_bytes": 0}, "--max-record-bytes"),
        ({"max_cost": -0.01}, "--max-cost"),
    ],
)
def test_every_run_option_is_checked_where_it_is_made(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        RunOptions(**changes)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=message):
        RunOptions().replace(**changes)


def test_run_options_normalise_what_they_are_given(tmp_path: Path) -> None:
    options = RunOptions(input_format="xml", output=str(tmp_path / "o.jsonl"))
    assert options.input_format == "pubmed-xml"
    assert options.output_path == tmp_path / "o.jsonl"
    assert RunOptions().destination is None
    assert not hasattr(Settings(), "rpm") and not hasattr(Settings(), "max_record_bytes")


def test_the_cli_and_the_library_refuse_the_same_options(tmp_path: Path) -> None:
    page = tmp_path / "page.txt"
    page.write_text(batch_case_text(1))
    for args, message in (
        (["-j", "0"], "concurrency"),
        (["--max-cost", "-1"], "max-cost"),
        (["--retry-failed"], "--retry-failed"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "summarizer.cli", "summarize", str(page), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr


# --- one sync bridge --------------------------------------------------------------------------

TWINS = [
    (run_batch, arun_batch),
    (collect_batch, acollect_batch),
    (submit_batch, asubmit_batch),
    (batch_status, abatch_status),
    (list_batches, alist_batches),
    (wait_for_batch, await_batch),
    (cancel_batch, acancel_batch),
    (summarize_gold, asummarize_gold),
]


@pytest.mark.parametrize(("sync", "twin"), TWINS, ids=[sync.__name__ for sync, _ in TWINS])
def test_each_sync_function_has_its_async_twins_signature(sync: object, twin: object) -> None:
    assert inspect.signature(sync) == inspect.signature(twin)  # type: ignore[arg-type]
    assert inspect.iscoroutinefunction(twin) and not inspect.iscoroutinefunction(sync)


async def test_the_sync_api_works_inside_a_running_event_loop(tmp_path: Path) -> None:
    """What a notebook does: plain calls while an event loop runs in the thread."""
    asyncio.get_running_loop()  # a loop is running here
    source = tmp_path / "in.jsonl"
    write_batch_input(source, 3)
    out = tmp_path / "out.jsonl"
    summary = run_batch([source], Settings(backend="rules"), RunOptions(output=out))
    assert summary.succeeded == 3 and len(read_lines(out)) == 3
    requests = tmp_path / "requests.jsonl"
    prepare_batch([source], Settings(model="gpt-4o-mini"), output=requests, count_tokens=False)
    results = tmp_path / "results.jsonl"
    write_rules_results(requests, results)
    collected = collect_batch(
        results, None, RunOptions(output=tmp_path / "collected.jsonl"), requests=requests
    )
    assert collected.run.succeeded == 3
    with Summarizer(Settings(backend="rules")) as summarizer:
        assert summarizer.summarize(SEED).record.patient.age_years == 63


# --- the run budget ---------------------------------------------------------------------------


def _price_file(tmp_path: Path) -> Path:
    prices = tmp_path / "prices.toml"
    # $10 per 1M prompt tokens, $20 per 1M completion tokens: a scripted answer
    # (100 + 50 tokens, the scripted server's usage) costs $0.002.
    prices.write_text(
        '[models."scripted"]\ninput = 10.0\noutput = 20.0\n'
        'source = "https://example.invalid/test-prices"\nread = "2026-12-07"\n'
    )
    return prices


def test_a_budget_stops_new_requests_and_a_rerun_goes_on(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    ids = write_batch_input(source, 20)
    serve_cases(scripted_server)
    table = PriceTable.load(_price_file(tmp_path))
    out = tmp_path / "out.jsonl"
    options = RunOptions(output=out, concurrency=1, max_cost=0.0101)
    summary = run_batch([source], openai_settings(scripted_server), options, prices=table)
    assert summary.stopped_by_budget and not summary.ok
    assert summary.succeeded == 5 and summary.cost == pytest.approx(0.01)
    assert len(scripted_server.requests) == 5
    again = run_batch(
        [source], openai_settings(scripted_server), options.replace(max_cost=1.0), prices=table
    )
    assert not again.stopped_by_budget and again.skipped == 5 and again.succeeded == 15
    assert sorted(line["id"] for line in read_lines(out)) == ids  # each id once


def test_the_cli_budget_says_so_and_exits_1(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    write_batch_input(source, 10)
    serve_cases(scripted_server)
    out = tmp_path / "out.jsonl"
    command = [sys.executable, "-m", "summarizer.cli", "summarize", str(source), "-o", str(out)]
    command += ["--base-url", scripted_server.url, "--model", "scripted", "-j", "1"]
    command += ["--prices", str(_price_file(tmp_path)), "--max-cost", "0.0041", "-q"]
    env = {"OPENAI_API_KEY": FAKE_KEY, "CASE_SUMMARIZER_HOME": str(tmp_path / "home")}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 1, done.stderr
    assert "--max-cost" in done.stderr and "Traceback" not in done.stderr
    assert len(read_lines(out)) == 2
    unknown = subprocess.run(
        [*command[:-5], "--max-cost", "1"], capture_output=True, text=True, timeout=120, env=env
    )
    assert unknown.returncode == 2 and "price" in unknown.stderr, unknown.stderr


def test_a_local_backend_is_never_stopped_by_a_budget(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    write_batch_input(source, 4)
    options = RunOptions(output=tmp_path / "o.jsonl", max_cost=0.0)
    summary = run_batch([source], Settings(backend="rules"), options)
    assert summary.succeeded == 4 and not summary.stopped_by_budget and summary.cost == 0.0


# --- what a plain str means to the library ----------------------------------------------------


def test_a_str_naming_a_file_is_that_file_and_other_text_is_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = tmp_path / "page.txt"
    page.write_text(SEED.read_text())
    assert summarize(str(page)).id == "page"
    monkeypatch.chdir(tmp_path)
    assert summarize("page.txt").record.patient.age_years == 63
    with pytest.raises(InputError, match="no such file"):
        summarize("missing-page.txt")
    text = summarize(SEED.read_text())
    assert text.id == "text" and text.record.patient.age_years == 63
    assert summarize(Text(SEED.read_text(), id="t1")).id == "t1"
    with pytest.raises(InputError, match="no abstract found"):
        summarize(Text("page.txt"))  # a Text is never a file name, even one that exists


def test_summarize_many_mixes_files_texts_and_exports(tmp_path: Path) -> None:
    export = tmp_path / "in.jsonl"
    ids = write_batch_input(export, 2)
    with Summarizer(Settings(backend="rules")) as summarizer:
        found = list(
            summarizer.summarize_many([str(export), batch_case_text(5), Text(batch_case_text(6))])
        )
    assert sorted(item.id for item in found) == sorted([*ids, "text-1", "text-2"])
    assert json.dumps([item.id for item in found])  # plain ids, nothing else
