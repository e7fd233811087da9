"""The progress lines: what a local model is doing, on stderr, only when asked for."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from summarizer import Settings, Summarizer
from summarizer.local_batch import run_batch
from summarizer.options import RunOptions
from summarizer.progress import (
    CallFinished,
    CallStarted,
    ModelLoaded,
    ModelLoading,
    ProgressEvent,
    ProgressPrinter,
    RecordFinished,
    duration_text,
    pace_text,
)
from tests.conftest import FAKE_KEY, batch_case_record, batch_case_text, write_batch_input
from tests.openai_server import Reply, ScriptedServer, answer
from tests.test_cli import run

PATIENT = CallFinished(
    stage="patient",
    prompt_tokens=612,
    evaluated=612,
    prefill_s=3.4,
    completion_tokens=85,
    decode_s=1.42,
    seconds=4.9,
)
FINDINGS = CallFinished(
    stage="findings",
    prompt_tokens=700,
    evaluated=88,
    prefill_s=0.5,
    completion_tokens=120,
    decode_s=2.0,
    seconds=2.6,
)


def printed(*events: ProgressEvent) -> str:
    stream = io.StringIO()
    printer = ProgressPrinter(stream)
    for event in events:
        printer(event)
    return stream.getvalue()


def test_a_staged_record_reads_line_by_line() -> None:
    text = printed(
        ModelLoading("SmolLM2-135M-Instruct.Q4_1.gguf", 98_392_416),
        ModelLoaded("SmolLM2-135M-Instruct.Q4_1.gguf", 0.84, 8192, 2),
        CallStarted("patient"),
        PATIENT,
        CallStarted("findings"),
        FINDINGS,
        RecordFinished(id="seed", ok=True, done=1, total=4, elapsed_s=31.2),
    )
    assert text.splitlines() == [
        "loading SmolLM2-135M-Instruct.Q4_1.gguf (98.4 MB)... "
        "ready in 0.8 s (context 8,192 tokens, 2 thread(s))",
        "  patient: prefill 612 tokens in 3.4 s (180 tok/s), "
        "generated 85 tokens in 1.4 s (60 tok/s), sampling 0.1 s; 4.9 s in all",
        "  findings: prefill 88 tokens, 612 reused in 0.5 s (176 tok/s), "
        "generated 120 tokens in 2.0 s (60 tok/s), sampling 0.1 s; 2.6 s in all",
        "record seed done (1 of 4, 31.2 s; ETA 1 min 34 s)",
    ]


def test_a_request_line_is_begun_before_it_runs() -> None:
    """A terminal shows which stage is running while it runs."""
    assert printed(CallStarted(None)) == "  record: "
    assert printed(CallStarted(None), PATIENT).endswith("4.9 s in all\n")


def test_a_call_line_accounts_for_all_its_time() -> None:
    """Prefill, generation and sampling add up to the call: the part the model's own
    counters do not see (choosing each token under the grammar) is shown, not lost."""
    slow = CallFinished("patient", 600, 600, 10.0, 100, 20.0, 48.5)
    assert slow.sampling_s == 18.5
    assert "sampling 18.5 s; 48.5 s in all" in ProgressPrinter.call_text(slow)
    assert CallFinished("x", 1, 1, 2.0, 1, 2.0, 3.0).sampling_s == 0.0  # never below 0


@pytest.mark.parametrize(
    ("done", "seconds", "text"),
    [
        (500, 40.0, "12.5/s"),
        (1, 315.8, "5 min 16 s per record"),
        (3, 12.0, "4.0 s per record"),
        (2, 2.0, "1.0/s"),
        (0, 5.0, "0/s"),
    ],
)
def test_the_pace_of_a_run_reads_as_time_per_record_when_slow(
    done: int, seconds: float, text: str
) -> None:
    assert pace_text(done, seconds) == text


def test_record_lines_without_a_total_give_the_pace() -> None:
    text = printed(
        RecordFinished(id="a", ok=True, done=2, total=None, elapsed_s=50.0),
        RecordFinished(id="b", ok=False, done=3, total=3, elapsed_s=75.0),
    )
    assert text.splitlines() == [
        "record a done (2 so far, 50.0 s; 25.0 s per record)",
        "record b failed (3 of 3, 1 min 15 s)",
    ]


def test_an_interrupting_line_finishes_the_open_one() -> None:
    text = printed(CallStarted("patient"), RecordFinished("x", False, 1, 1, 2.0))
    assert text == "  patient: \nrecord x failed (1 of 1, 2.0 s)\n"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(4.24, "4.2 s"), (59.94, "59.9 s"), (185, "3 min 05 s"), (3725, "1 h 02 min")],
)
def test_durations(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text


def test_eta_is_the_pace_so_far_times_what_is_left() -> None:
    assert RecordFinished("a", True, done=2, total=10, elapsed_s=60.0).eta_s == 240.0
    assert RecordFinished("a", True, done=2, total=None, elapsed_s=60.0).eta_s is None


# -- who prints: only when asked ----------------------------------------------------


def scripted_settings(server: ScriptedServer) -> Settings:
    return Settings.from_env(
        env={"OPENAI_API_KEY": FAKE_KEY},
        backend="openai",
        base_url=server.url,
        model="scripted-model",
        timeout=5.0,
    )


def test_a_batch_reports_each_record_with_the_count(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    def reply(request: dict[str, Any]) -> Reply:
        text = json.dumps(request)
        return answer(batch_case_record(next(n for n in range(3) if f"Case {n:05d}" in text)))

    scripted_server.fallback = reply
    source = tmp_path / "cases.jsonl"
    write_batch_input(source, 3)
    events: list[ProgressEvent] = []
    run_batch(
        [source],
        scripted_settings(scripted_server),
        RunOptions(output=io.StringIO(), concurrency=1),
        on_progress=events.append,
    )
    finished = [event for event in events if isinstance(event, RecordFinished)]
    assert [event.done for event in finished] == [1, 2, 3]
    # inputs are read as they stream: the total is known once the last one is read
    assert {event.total for event in finished} <= {None, 3} and finished[-1].total == 3
    assert all(event.ok for event in finished)
    assert finished[-1].elapsed_s >= finished[0].elapsed_s


def test_the_library_reports_nothing_unless_asked(
    scripted_server: ScriptedServer, capsys: pytest.CaptureFixture[str], seed_text: str
) -> None:
    from tests.conftest import seed_record

    scripted_server.enqueue(answer(seed_record()))
    with Summarizer(scripted_settings(scripted_server)) as summarizer:
        summarizer.summarize(seed_text)
    assert capsys.readouterr().err == ""


def cli_batch(server: ScriptedServer, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (folder / "a.txt").write_text(batch_case_text(1))
    (folder / "b.txt").write_text(batch_case_text(2))
    server.fallback = lambda request: answer({"article_type": "case_report", "summary": "A case."})
    return run(
        "summarize", str(folder / "a.txt"), str(folder / "b.txt"),
        "--base-url", server.url, "--model", "m", "--no-cache", "--no-log", "-j", "1", *args,
    )  # fmt: skip


def test_cli_progress_lines_are_off_when_stderr_is_not_a_terminal(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    done = cli_batch(scripted_server, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "record " not in done.stderr


def test_cli_progress_lines_when_asked(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    done = cli_batch(scripted_server, tmp_path, "--progress")
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("record ")]
    assert len(lines) == 2
    assert lines[0].startswith("record a done (1 of 2, ") and "; ETA " in lines[0]
    assert lines[1].startswith("record b done (2 of 2, ")
    assert [json.loads(line)["id"] for line in done.stdout.splitlines()] == ["a", "b"]


def test_cli_quiet_and_no_progress(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    done = cli_batch(scripted_server, tmp_path, "--no-progress")
    assert done.returncode == 0 and "record " not in done.stderr
