"""What a new user meets in the first hour (issue 26): the output format chosen by the -o
suffix, results in input order, a progress bar that tells the truth, notes that stay out
of the bar and out of -q, partial outputs after Ctrl-C, a re-run that says why it exits
1, gold files that name their schema portably, eval runs stored in the project (or the
home), and readers that leave no file unclosed."""

from __future__ import annotations

import asyncio
import csv
import gc
import io
import json
import os
import pty
import re
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

from summarizer import (
    ConfigError,
    Document,
    Failure,
    InputError,
    RunOptions,
    Settings,
    Summarizer,
    arun_batch,
    run_batch,
    summarize,
)
from summarizer.evaluation.gold import gold_files, gold_json_schema_text, validate_gold_dir
from summarizer.ingest.detect import is_own_table_header
from summarizer.output.targets import PARTIAL_MARK, sidecar_path
from summarizer.paths import eval_runs_dir, gold_dir, project_root
from summarizer.runner import ORDER_WINDOW, RunCounts, run_records
from tests.conftest import FAKE_KEY, batch_case_record, batch_case_text, env_without_keys
from tests.conftest import write_batch_input as write_cases
from tests.openai_server import Reply, ScriptedServer, completion_body
from tests.review_helpers import ROOT, make_records
from tests.test_local_batch import case_number, openai_settings, read_lines

CLI = [sys.executable, "-m", "summarizer.cli"]


def cli(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> Any:
    return subprocess.run(
        [*CLI, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=180,
        env=env or env_without_keys(),
        cwd=cwd,
    )


def serve_with_delays(server: ScriptedServer, delays: dict[int, float]) -> None:
    """Answer every synthetic case with its record, case N after ``delays[N]`` seconds."""

    def reply(request: dict[str, Any]) -> Reply:
        number = case_number(request)
        content = json.dumps(batch_case_record(number))
        return Reply(
            body=lambda body: completion_body(body, content), delay=delays.get(number, 0.0)
        )

    server.fallback = reply


def model_env(server: ScriptedServer, tmp_path: Path) -> dict[str, str]:
    return {
        **env_without_keys(),
        "OPENAI_API_KEY": FAKE_KEY,
        "OPENAI_BASE_URL": server.url,
        "CASE_SUMMARIZER_HOME": str(tmp_path / "home"),
    }


# --- the format follows the -o suffix ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "start"),
    [
        ("out.jsonl", '{"id": "leiomyosarcoma'),
        ("out.json", "{\n"),
        ("out.csv", "id,title,"),
        ("out.md", "<!-- case-summarizer: case cards -->"),
        ("out.html", "<!DOCTYPE html>"),
    ],
)
def test_without_f_the_output_suffix_chooses_the_format(
    tmp_path: Path, name: str, start: str
) -> None:
    out = tmp_path / name
    done = cli("summarize", ROOT / "examples" / "leiomyosarcoma-cervical-spine.txt", "-o", out)
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    assert text.startswith(start)
    if name == "out.jsonl":  # one record into a .jsonl file is one line, not a pretty object
        assert text.count("\n") == 1 and json.loads(text)["record"]


def test_a_suffix_that_contradicts_f_is_a_one_line_usage_error(tmp_path: Path) -> None:
    page = ROOT / "examples" / "leiomyosarcoma-cervical-spine.txt"
    done = cli("summarize", page, "-f", "json", "-o", tmp_path / "out.jsonl")
    assert done.returncode == 2 and not (tmp_path / "out.jsonl").exists()
    assert done.stderr.count("\n") == 1 and "JSON Lines" in done.stderr and "-f" in done.stderr
    records = tmp_path / "records.jsonl"
    assert cli("summarize", page, "-o", records).returncode == 0
    export = cli("export", records, "-f", "csv", "-o", tmp_path / "cards.md")
    assert export.returncode == 2 and export.stderr.count("\n") == 1
    assert cli("export", records, "-o", tmp_path / "cards.md").returncode == 0
    assert (tmp_path / "cards.md").read_text().startswith("<!-- case-summarizer: case cards")
    assert cli("summarize", page, "-f", "md", "-o", tmp_path / "notes.txt").returncode == 0


def test_the_library_takes_the_format_from_the_suffix_too(tmp_path: Path) -> None:
    assert RunOptions(output=tmp_path / "t.csv").resolved_format == "csv"
    assert RunOptions(output=tmp_path / "t.HTML").resolved_format == "html"
    assert RunOptions(output=tmp_path / "t.txt").resolved_format == "jsonl"
    assert RunOptions().resolved_format == "jsonl"
    assert RunOptions(output="t.txt", format="md").resolved_format == "md"
    with pytest.raises(ConfigError, match="named as a CSV file"):
        RunOptions(output=tmp_path / "t.csv", format="jsonl")
    with pytest.raises(ConfigError, match="unknown order"):
        RunOptions(order="fastest")  # type: ignore[arg-type]


# --- results in input order ---------------------------------------------------------------------


async def test_summarize_many_yields_in_input_order_or_completion_on_request(
    scripted_server: ScriptedServer,
) -> None:
    serve_with_delays(scripted_server, {0: 0.5})  # the first record is the slowest
    texts = [batch_case_text(number) for number in range(6)]
    async with Summarizer(openai_settings(scripted_server)) as summarizer:
        ordered = [item.id async for item in summarizer.asummarize_many(texts, concurrency=4)]
        finished = [
            item.id
            async for item in summarizer.asummarize_many(texts, concurrency=4, order="completion")
        ]
    assert ordered == [f"text-{n}" for n in range(1, 7)]
    assert finished[-1] == "text-1" and sorted(finished) == ordered


def test_an_empty_text_given_second_comes_back_second() -> None:
    texts = [batch_case_text(1), "", batch_case_text(2)]
    with Summarizer(Settings(backend="rules")) as summarizer:
        items = list(summarizer.summarize_many(texts, concurrency=3))
    assert [item.id for item in items] == ["text-1", "text-2", "text-3"]
    assert isinstance(items[1], Failure) and not isinstance(items[0], Failure)


def _documents(count: int) -> list[Document]:
    return [Document.from_text(f"text {n}", id=f"d{n}") for n in range(count)]


async def test_input_order_holds_back_a_bounded_number_behind_a_stalled_record() -> None:
    release = asyncio.Event()
    started: list[str] = []

    async def process(document: Any) -> Any:
        started.append(document.id)
        if document.id == "d0":
            await release.wait()
        raise InputError("scripted", record=document.id)  # a Failure that keeps the id

    outcomes = run_records(process, _documents(40), concurrency=2, ordered=True)
    first = asyncio.ensure_future(anext(outcomes))
    await asyncio.sleep(0.2)
    assert not first.done()  # d1… finished, but wait for d0
    assert len(started) == 2 * ORDER_WINDOW  # reading stopped: the window is full
    release.set()
    ids = [(await first).id] + [outcome.id async for outcome in outcomes]
    assert ids == [f"d{n}" for n in range(40)]


async def test_outcomes_held_back_when_a_run_stops_are_handed_over() -> None:
    async def process(document: Any) -> Any:
        if document.id == "d0":
            await asyncio.sleep(30)
        raise InputError("scripted", record=document.id)

    counts = RunCounts()
    outcomes = run_records(process, _documents(6), concurrency=3, counts=counts, ordered=True)
    waiting = asyncio.ensure_future(anext(outcomes))
    await asyncio.sleep(0.2)
    waiting.cancel()  # what Ctrl-C does to a run
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await outcomes.aclose()
    assert [outcome.id for outcome in counts.held_back] == ["d1", "d2", "d3", "d4", "d5"]


async def test_an_interrupted_run_still_writes_the_records_held_back(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    serve_with_delays(scripted_server, {0: 5.0})
    documents = [Document.from_text(batch_case_text(n), id=f"c{n}") for n in range(4)]
    out = tmp_path / "out.jsonl"
    run = asyncio.ensure_future(
        arun_batch(documents, openai_settings(scripted_server), RunOptions(output=out))
    )
    deadline = time.monotonic() + 30
    while len(scripted_server.requests) < 4 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # c1…c3 answered; c0 still waits for its answer
    run.cancel()  # what Ctrl-C does to a run
    with pytest.raises(asyncio.CancelledError):
        await run
    assert [line["id"] for line in read_lines(out)] == ["c1", "c2", "c3"]


# --- a progress bar that tells the truth, and notes that stay out of it --------------------------

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def on_a_terminal(*args: str | Path, env: dict[str, str], stdin: Path | None = None) -> str:
    """``case-summarizer ARGS`` with stderr on a terminal (a pty): what a user sees there,
    as lines (each redraw of the bar a line of its own)."""
    leader, follower = pty.openpty()
    with open(stdin or os.devnull, "rb") as given:
        process = subprocess.Popen(
            [*CLI, *map(str, args)],
            stdin=given,
            stdout=subprocess.DEVNULL,
            stderr=follower,
            env={**env, "COLUMNS": "200", "TERM": "xterm"},
        )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the follower closed: the process is done
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(timeout=120) in (0, 1)
    text = _ANSI.sub("", b"".join(chunks).decode("utf-8", "replace"))
    return [line.strip() for line in re.split(r"[\r\n]+", text) if line.strip()]


def test_the_bar_knows_the_total_from_the_start_and_shows_no_tokens_without_a_model(
    tmp_path: Path,
) -> None:
    source = tmp_path / "in.jsonl"
    write_cases(source, 30)
    lines = on_a_terminal(
        "summarize", source, "-o", tmp_path / "out.csv", env={**env_without_keys()}
    )
    bars = [line for line in lines if "summarizing" in line]
    assert bars and "0/30" in bars[0] and "30/30" in bars[-1]  # the total, read ahead
    assert all(re.search(r"\b\d+/30\b", bar) for bar in bars)  # never a fraction of "?"
    assert not any(" tok" in bar for bar in bars)
    notes = [line for line in lines if "note:" in line]  # above the bar, never inside it
    assert notes and all(line.startswith("note: no model configured") for line in notes)


def test_without_a_known_total_the_bar_counts_without_a_fraction(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    write_cases(source, 12)
    lines = on_a_terminal(
        "summarize", "-", "-o", tmp_path / "out.jsonl", env={**env_without_keys()}, stdin=source
    )
    bars = [line for line in lines if "summarizing" in line]
    assert bars and "0 records" in bars[0]  # stdin: a count, no fraction
    # a fraction only once everything is read, of the count read (how far it got depends on load)
    fractions = [re.findall(r"\d+/(\d+)", bar) for bar in bars]
    assert all(totals in ([], ["12"]) for totals in fractions) and "12/12" in bars[-1]
    assert not any("ETA" in bar or "/?" in bar for bar in bars)


def test_a_model_run_shows_tokens_and_errors_above_the_bar(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    serve_with_delays(scripted_server, {3: 0.3})
    source = tmp_path / "in.jsonl"
    write_cases(source, 8)
    with source.open("a") as handle:
        handle.write('{"id": "broken", "abstract": "two words"}\n')
    env = model_env(scripted_server, tmp_path)
    lines = on_a_terminal("summarize", source, "-o", tmp_path / "out.jsonl", "-j", "2", env=env)
    bars = [line for line in lines if "summarizing" in line]
    assert bars and " tok" in bars[-1] and "9/9" in bars[-1]
    errors = [line for line in lines if "broken" in line]
    assert errors and all(line.startswith("error: ") for line in errors)  # a line of its own


def test_one_record_written_to_a_file_says_where(tmp_path: Path) -> None:
    page = ROOT / "examples" / "leiomyosarcoma-cervical-spine.txt"
    out = tmp_path / "seed.csv"
    done = cli("summarize", page, "-o", out)
    assert done.returncode == 0 and done.stderr.splitlines()[-1] == f"1 record summarized -> {out}"
    assert cli("summarize", page, "-o", tmp_path / "quiet.csv", "-q").stderr == ""


def test_quiet_silences_everything_but_errors(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    write_cases(source, 3)
    done = cli("summarize", source, "-o", tmp_path / "out.csv", "-q")
    assert done.returncode == 0 and done.stderr == ""
    page = ROOT / "examples" / "leiomyosarcoma-cervical-spine.txt"
    single = cli("summarize", page, "-q")
    assert single.returncode == 0 and single.stderr == "" and json.loads(single.stdout)
    with source.open("a") as handle:
        handle.write('{"id": "broken", "abstract": "two words"}\n')
    failed = cli("summarize", source, "-o", tmp_path / "more.csv", "-q")
    assert failed.returncode == 1
    assert failed.stderr.splitlines() == ["exit status 1: 1 record(s) failed in this run"]


def test_commands_that_call_no_model_say_nothing_about_models(tmp_path: Path) -> None:
    from summarizer.review.session import ReviewSession

    records = make_records(tmp_path, "bmc-jmcr.txt")
    session = ReviewSession(records)
    session.mark("bmc-jmcr", "article_type", "accepted", version=0)
    session.set_done("bmc-jmcr", True, version=1)
    session.close()
    page = ROOT / "examples" / "leiomyosarcoma-cervical-spine.txt"
    for args in (
        ["export", records, "-o", tmp_path / "cards.html"],
        ["clean", page],
        ["schema"],
        ["review", "export", records, "-o", tmp_path / "reviewed.csv"],
        ["gold", "export", records, "-o", tmp_path / "gold"],
        ["gold", "validate", tmp_path / "gold"],
    ):
        done = cli(*args)
        assert done.returncode == 0, (args, done.stderr)
        assert "model" not in done.stderr.lower(), (args, done.stderr)


# --- a run that stops early, and a re-run that says why it exits 1 -------------------------------


@pytest.mark.parametrize("suffix", ["md", "csv", "html"])
def test_ctrl_c_leaves_the_page_or_table_rendered_from_what_is_done(
    scripted_server: ScriptedServer, tmp_path: Path, suffix: str
) -> None:
    source = tmp_path / "in.jsonl"
    write_cases(source, 40)
    # cases after the tenth are slow until the interrupt, so it lands mid-run under any load
    serve_with_delays(scripted_server, {n: 0.05 if n < 10 else 3.0 for n in range(40)})
    env = model_env(scripted_server, tmp_path)
    out = tmp_path / f"out.{suffix}"
    args = [*CLI, "summarize", str(source), "-o", str(out), "-j", "2"]
    process = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True)
    store = sidecar_path(out)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not store.exists() or store.read_text().count("\n") < 6):
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    done = store.read_text().count("\n")
    assert 6 <= done < 40
    assert f"holds only the {done} record(s) done so far" in stderr and "Traceback" not in stderr
    text = out.read_text(encoding="utf-8")
    if suffix == "csv":  # a plain table: the header first, a row per record done
        rows = list(csv.reader(io.StringIO(text)))
        assert is_own_table_header(rows[0]) and len(rows) == done + 1
        assert PARTIAL_MARK not in text and "a CSV file has no place to say so" in stderr
    else:
        assert text.splitlines()[1] == PARTIAL_MARK and "comment line" in stderr
    serve_with_delays(scripted_server, {})
    finished = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert f"{done} record(s) already in {out}" in finished.stderr
    assert PARTIAL_MARK not in out.read_text(encoding="utf-8")


def test_a_budget_stop_marks_a_page_partial(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    from summarizer.evaluation.prices import PriceTable
    from tests.test_run_options import _price_file

    source = tmp_path / "in.jsonl"
    write_cases(source, 6)
    serve_with_delays(scripted_server, {})
    out = tmp_path / "out.md"
    options = RunOptions(output=out, concurrency=1, max_cost=0.0041)
    prices = PriceTable.load(_price_file(tmp_path))
    summary = run_batch([source], openai_settings(scripted_server), options, prices=prices)
    assert summary.stopped_by_budget and summary.succeeded == 2
    assert out.read_text(encoding="utf-8").splitlines()[1] == PARTIAL_MARK
    run_batch(
        [source], openai_settings(scripted_server), options.replace(max_cost=1.0), prices=prices
    )
    assert PARTIAL_MARK not in out.read_text(encoding="utf-8")


def test_a_rerun_says_what_is_done_what_failed_earlier_and_why_it_exits_1(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    write_cases(source, 3)
    with source.open("a") as handle:
        handle.write('{"id": "broken", "abstract": "two words"}\n')
    out = tmp_path / "table.csv"
    first = cli("summarize", source, "-o", out)
    assert first.returncode == 1
    assert "exit status 1: 1 record(s) failed in this run" in first.stderr
    again = cli("summarize", source, "-o", out)
    assert again.returncode == 1
    lines = [line for line in again.stderr.splitlines() if not line.startswith("note:")]
    assert lines == [
        f"nothing left to do: all 4 record(s) already in {out}: 3 done, 1 failed in an earlier run",
        "exit status 1: 1 record(s) that failed in an earlier run are still errors in the "
        "output (--retry-failed redoes them)",
    ]


# --- gold files and eval runs ---------------------------------------------------------------------


def test_gold_export_names_the_schema_copy_beside_it(tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from summarizer.review.export import export_gold
    from summarizer.review.session import ReviewSession

    records = make_records(tmp_path, "bmc-jmcr.txt")
    session = ReviewSession(records)
    session.mark("bmc-jmcr", "article_type", "accepted", version=0)
    session.set_done("bmc-jmcr", True, version=1)
    gold = tmp_path / "gold"
    try:
        export_gold(session, gold)
    finally:
        session.close()
    moved = tmp_path / "elsewhere" / "reviewed-gold"
    moved.parent.mkdir()
    gold.rename(moved)  # the folder travels: its files still find their schema
    written = json.loads((moved / "bmc-jmcr.json").read_text(encoding="utf-8"))
    assert written["$schema"] == "gold.schema.json"
    schema = json.loads((moved / written["$schema"]).read_text(encoding="utf-8"))
    assert (moved / "gold.schema.json").read_text(encoding="utf-8") == gold_json_schema_text()
    jsonschema.validate(written, schema)
    assert gold_files(moved) == [moved / "bmc-jmcr.json"] and validate_gold_dir(moved) == []
    done = cli("gold", "validate", moved)
    assert done.returncode == 0 and "1 gold record(s)" in done.stderr


def test_eval_runs_live_in_the_project_else_in_the_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "evals" / "gold").mkdir(parents=True)
    (project / "notes" / "deep").mkdir(parents=True)
    assert project_root(project / "notes" / "deep") == project
    assert eval_runs_dir(project / "notes" / "deep") == project / "evals" / "runs"
    assert gold_dir(project / "notes") == project / "evals" / "gold"
    outside = tmp_path / "outside"
    outside.mkdir()
    monkeypatch.setenv("CASE_SUMMARIZER_HOME", str(tmp_path / "home"))
    assert project_root(outside) is None
    assert eval_runs_dir(outside) == tmp_path / "home" / "evals" / "runs"
    gold = ROOT / "evals" / "gold"
    record = sorted(gold.glob("*.json"))[0].stem
    env = {**env_without_keys(), "CASE_SUMMARIZER_HOME": str(tmp_path / "home")}
    done = cli("eval", "--gold", gold, "--record", record, env=env, cwd=outside)
    assert done.returncode == 0, done.stderr
    stored = tmp_path / "home" / "evals" / "runs"
    assert f"stored {stored}" in done.stderr and any(stored.iterdir())
    assert list(outside.iterdir()) == []  # nothing made where the command ran
    listed = cli("eval", "list", env=env, cwd=outside)
    assert listed.returncode == 0 and "rules" in listed.stdout


# --- readers leave no file unclosed -------------------------------------------------------------


def test_reading_exports_leaves_no_file_unclosed(tmp_path: Path) -> None:
    ris = tmp_path / "two.ris"
    ris.write_text(
        "TY  - JOUR\nTI  - One\nAB  - " + batch_case_text(1).replace("\n", " ") + "\nER  - \n\n"
        "TY  - JOUR\nTI  - Two\nAB  - " + batch_case_text(2).replace("\n", " ") + "\nER  - \n"
    )
    table = tmp_path / "in.csv"
    table.write_text('id,abstract\n1,"' + batch_case_text(3) + '"\n')
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        with pytest.raises(InputError, match="several records"):
            summarize(ris)
        run_batch([table, ris], Settings(backend="rules"), RunOptions(output=io.StringIO()))
        gc.collect()  # an unclosed file would warn here, as it is collected
