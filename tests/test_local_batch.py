"""The batch runner: JSON Lines output, concurrency, rate limits, resume, retry, the CLI."""

from __future__ import annotations

import asyncio
import io
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from summarizer import Document, Settings
from summarizer.cache import ResponseCache
from summarizer.local_batch import run_batch
from summarizer.options import RunOptions
from summarizer.output.line_store import read_output_state
from summarizer.ratelimit import RateLimiter, estimate_tokens
from summarizer.runlog import RunLog
from tests.conftest import (
    BATCH_CASE_ID,
    FAKE_KEY,
    batch_case_record,
    batch_case_text,
    env_without_keys,
    write_batch_input,
)
from tests.openai_server import Reply, ScriptedServer, completion_body, error

CLI = [sys.executable, "-m", "summarizer.cli"]


def case_number(request: dict[str, Any]) -> int:
    found = re.search(BATCH_CASE_ID, request["messages"][-1]["content"])
    assert found, "not a synthetic case"
    return int(found[1])


def serve_cases(
    server: ScriptedServer,
    *,
    delay: float = 0.0,
    failing: frozenset[int] = frozenset(),
    slow_from: int | None = None,
) -> None:
    """Answer every case after ``delay`` s; from case ``slow_from`` on, after 3 s, so that an
    interrupt sent once the first cases are done always lands mid-run, however loaded the
    machine is."""

    def reply(request: dict[str, Any]) -> Reply:
        number = case_number(request)
        if number in failing:
            return error(400, message="scripted rejection")
        content = json.dumps(batch_case_record(number))
        slow = slow_from is not None and number >= slow_from
        return Reply(body=lambda body: completion_body(body, content), delay=3.0 if slow else delay)

    server.fallback = reply


def openai_settings(server: ScriptedServer, **changes: object) -> Settings:
    options: dict[str, object] = {
        "backend": "openai",
        "base_url": server.url,
        "model": "scripted",
        "timeout": 5.0,
        "transport_attempts": 3,
        "backoff": 0.01,
    }
    options.update(changes)
    return Settings.from_env(env={"OPENAI_API_KEY": FAKE_KEY}, **options)


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_batch_writes_one_line_per_record(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    ids = write_batch_input(source, 40)
    serve_cases(scripted_server, failing=frozenset({3, 17}))
    out = tmp_path / "out.jsonl"
    seen: list[str] = []
    summary = run_batch(
        [source],
        openai_settings(scripted_server),
        RunOptions(output=out, concurrency=8),
        on_result=lambda item: seen.append(item.id),
    )
    lines = read_lines(out)
    assert sorted(line["id"] for line in lines) == sorted(ids) == sorted(seen)
    errors = {line["id"] for line in lines if "error" in line}
    assert errors == {"r00003", "r00017"}
    assert all(line["error_type"] == "ModelCallError" for line in lines if "error" in line)
    good = [line for line in lines if "record" in line]
    assert all(line["provenance"]["backend"] == "openai" for line in good)
    assert summary.succeeded == 38 and summary.failed == 2 and not summary.ok
    assert summary.prompt_tokens == 38 * 100 and summary.completion_tokens == 38 * 50
    assert summary.output == str(out)


def test_concurrency_overlaps_requests(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    docs = [
        Document(id=f"d{n}", text=batch_case_text(n), origin="<test>", format="text")
        for n in range(32)
    ]
    serve_cases(scripted_server, delay=0.25)
    started = time.perf_counter()
    summary = run_batch(
        docs,
        openai_settings(scripted_server),
        RunOptions(output=tmp_path / "o.jsonl", concurrency=16),
    )
    elapsed = time.perf_counter() - started
    assert summary.succeeded == 32
    assert elapsed < 32 * 0.25 / 2  # 8 s one at a time; ~0.5 s with 16 in flight


def test_resume_skips_done_ids_and_repairs_a_partial_line(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    ids = write_batch_input(source, 12)
    serve_cases(scripted_server)
    out = tmp_path / "out.jsonl"
    first = [json.dumps({"id": ident, "record": {}, "provenance": {}}) for ident in ids[:5]]
    out.write_text("\n".join(first) + "\n" + '{"id": "r00005", "rec')  # killed mid-line
    state = read_output_state(out)
    assert state.partial_tail and len(state.done) == 5
    summary = run_batch([source], openai_settings(scripted_server), RunOptions(output=out))
    assert summary.skipped == 5 and summary.succeeded == 7 and summary.repaired == 1
    assert len(scripted_server.requests) == 7
    lines = read_lines(out)
    assert sorted(line["id"] for line in lines) == ids
    again = run_batch([source], openai_settings(scripted_server), RunOptions(output=out))
    assert again.skipped == 12 and again.processed == 0 and again.ok
    assert len(read_lines(out)) == 12


def test_retry_failed_redoes_only_error_lines(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    ids = write_batch_input(source, 10)
    out = tmp_path / "out.jsonl"
    serve_cases(scripted_server, failing=frozenset({2, 7}))
    assert run_batch([source], openai_settings(scripted_server), RunOptions(output=out)).failed == 2
    plain = run_batch([source], openai_settings(scripted_server), RunOptions(output=out))
    assert plain.processed == 0 and plain.previously_failed == 2 and not plain.ok
    serve_cases(scripted_server)
    before = len(scripted_server.requests)
    summary = run_batch(
        [source], openai_settings(scripted_server), RunOptions(output=out, retry_failed=True)
    )
    assert summary.retried == 2 and summary.succeeded == 2 and summary.ok
    assert len(scripted_server.requests) - before == 2
    lines = read_lines(out)
    assert sorted(line["id"] for line in lines) == ids
    assert all("record" in line for line in lines)
    assert not list(tmp_path.glob(".out.jsonl.*"))  # no temp or lock file left behind


def test_no_resume_starts_afresh(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    write_batch_input(source, 3)
    out = tmp_path / "out.jsonl"
    old = '{"id": "%s", "error": "old", "error_type": "InputError"}\n'
    out.write_text(old % "r00000" + old % "zzz")
    summary = run_batch([source], Settings(backend="rules"), RunOptions(output=out, resume=False))
    assert summary.succeeded == 3 and [line["id"] for line in read_lines(out)] == [
        "r00000",
        "r00001",
        "r00002",
    ]


def test_repeated_ids_get_a_suffix_and_stdout_stream(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "case.txt").write_text(batch_case_text(1))
    stream = io.StringIO()
    summary = run_batch(
        [tmp_path / "a", tmp_path / "b"],
        Settings(backend="rules"),
        RunOptions(output=stream, concurrency=2),
    )
    ids = [json.loads(line)["id"] for line in stream.getvalue().splitlines()]
    assert sorted(ids) == ["case", "case#2"] and summary.renamed == 1


@pytest.mark.parametrize("concurrency", [1, 3])
def test_an_input_that_breaks_while_read_raises_its_error(concurrency: int, tmp_path: Path) -> None:
    def documents() -> Any:
        for n in range(5):
            yield Document(id=f"d{n}", text=batch_case_text(n), origin="mem", format="text")
        raise OSError("the disk went away")

    out = tmp_path / "out.jsonl"
    with pytest.raises(OSError, match="went away"):
        run_batch(
            documents(), Settings(backend="rules"), RunOptions(output=out, concurrency=concurrency)
        )
    ids = [line["id"] for line in read_lines(out)]
    assert len(ids) == len(set(ids)) and set(ids) <= {f"d{n}" for n in range(5)}
    if concurrency == 1:  # one at a time: what was read before the failure is done, in order
        assert ids == [f"d{n}" for n in range(5)]
    state = read_output_state(out)
    assert not state.partial_tail and not state.bad_lines  # whole lines: a rerun resumes


def test_one_at_a_time_keeps_input_order_and_renames_repeated_ids(tmp_path: Path) -> None:
    texts = [
        Document(id="x" if n % 2 else f"d{n}", text=batch_case_text(n), origin="m", format="text")
        for n in range(5)
    ]
    stream = io.StringIO()
    summary = run_batch(texts, Settings(backend="rules"), RunOptions(output=stream, concurrency=1))
    ids = [json.loads(line)["id"] for line in stream.getvalue().splitlines()]
    assert ids == ["d0", "x", "d2", "x#2", "d4"] and summary.renamed == 1


def test_input_errors_become_error_lines(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.txt").write_text(batch_case_text(1))
    (folder / "empty.txt").write_text("")
    out = tmp_path / "out.jsonl"
    summary = run_batch([folder], Settings(backend="rules"), RunOptions(output=out))
    lines = read_lines(out)
    assert len(lines) == 2 and summary.failed == 1
    assert next(line for line in lines if "error" in line)["error_type"] == "InputError"


def test_cache_and_log_in_a_batch(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    write_batch_input(source, 10)
    serve_cases(scripted_server)
    cache = ResponseCache(tmp_path / "c.sqlite")
    log = RunLog(tmp_path / "l.sqlite")
    settings = openai_settings(scripted_server)
    run_batch([source], settings, RunOptions(output=tmp_path / "a.jsonl"), cache=cache, run_log=log)
    summary = run_batch(
        [source], settings, RunOptions(output=tmp_path / "b.jsonl"), cache=cache, run_log=log
    )
    assert summary.cache_hits == 10 and summary.prompt_tokens == 0
    assert len(scripted_server.requests) == 10
    assert len(log) == 20 and sum(row["cache_hit"] for row in log.query(limit=None)) == 10


def test_another_run_on_the_same_output_is_refused(tmp_path: Path) -> None:
    from summarizer.errors import OutputError
    from summarizer.output.line_store import LineStore

    out = tmp_path / "out.jsonl"
    store = LineStore(out)
    with pytest.raises(OutputError, match="another run"):
        document = Document(id="x", text=batch_case_text(1), origin="<test>", format="text")
        run_batch([document], Settings(backend="rules"), RunOptions(output=out))
    store.close()


async def test_rate_limiter_requests_per_minute() -> None:
    limiter = RateLimiter(rpm=600, burst_s=0.1)  # 10 a second, one at a time
    started = time.perf_counter()
    for _ in range(6):
        await limiter.acquire()
    assert 0.45 <= time.perf_counter() - started < 2.0


async def test_rate_limiter_tokens_per_minute_with_correction() -> None:
    limiter = RateLimiter(tpm=6000, burst_s=0.1)  # 100 tokens a second, bucket of 10
    started = time.perf_counter()
    await limiter.acquire(50)  # bigger than the bucket: allowed when full, leaves a debt
    await limiter.acquire(50)  # waits for the debt (0.5 s)
    waited = time.perf_counter() - started
    assert 0.4 <= waited < 1.5
    limiter.settle(50, 0)  # the call used nothing after all (say, it failed at once)
    started = time.perf_counter()
    await limiter.acquire(10)
    assert time.perf_counter() - started < 0.2


async def test_rate_limiter_off_is_free() -> None:
    limiter = RateLimiter()
    assert not limiter.active
    await asyncio.wait_for(limiter.acquire(10**9), 0.1)
    assert estimate_tokens([{"role": "user", "content": "x" * 400}]) > 100


def test_rpm_limits_a_batch(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    write_batch_input(source, 10)
    serve_cases(scripted_server)
    started = time.perf_counter()
    summary = run_batch(
        [source],
        openai_settings(scripted_server),
        RunOptions(output=tmp_path / "o.jsonl", rpm=300, concurrency=10),
    )
    assert summary.succeeded == 10
    assert time.perf_counter() - started >= 0.9  # a burst of 5, then 5 a second


def test_progress_bar_does_not_disturb_output(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    write_batch_input(source, 5)
    out = tmp_path / "o.jsonl"
    summary = run_batch([source], Settings(backend="rules"), RunOptions(output=out), progress=True)
    assert summary.succeeded == 5 and len(read_lines(out)) == 5


# --- the CLI ---------------------------------------------------------------------------------


def cli(
    *args: str, env: dict[str, str] | None = None, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        env=env or env_without_keys(),
        timeout=120,
        **kwargs,
    )


def test_cli_batch_to_stdout_and_file(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    ids = write_batch_input(source, 20)
    done = cli("summarize", str(source), "-j", "4")
    assert done.returncode == 0, done.stderr
    assert sorted(json.loads(line)["id"] for line in done.stdout.splitlines()) == ids
    out = tmp_path / "out.jsonl"
    first = cli("summarize", str(source), "-o", str(out))
    assert first.returncode == 0 and "20 record(s) summarized" in first.stderr
    again = cli("summarize", str(source), "-o", str(out))
    assert again.returncode == 0 and "all 20 record(s) already in" in again.stderr
    assert len(out.read_text().splitlines()) == 20
    quiet = cli("summarize", str(source), "-o", str(tmp_path / "q.jsonl"), "-q")
    assert quiet.returncode == 0 and "summarized" not in quiet.stderr


def test_cli_usage_errors_exit_2(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    write_batch_input(source, 2)
    for args in (["-j", "0"], ["--rpm", "-1"], ["--concurrency", "many"], ["--retry-failed"]):
        done = cli("summarize", str(source), *args)
        assert done.returncode == 2 and "Traceback" not in done.stderr, args


def test_cli_failed_records_exit_1_and_retry_failed(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    ids = write_batch_input(source, 8)
    serve_cases(scripted_server, failing=frozenset({4}))
    env = {**env_without_keys(), "OPENAI_API_KEY": FAKE_KEY, "OPENAI_BASE_URL": scripted_server.url}
    out = tmp_path / "out.jsonl"
    args = ["summarize", str(source), "-o", str(out), "--model", "m", "--backoff", "0.01"]
    done = cli(*args, env=env)
    assert done.returncode == 1 and "1 record(s) failed" in done.stderr
    assert "r00004" in done.stderr and FAKE_KEY not in done.stderr
    serve_cases(scripted_server)
    again = cli(*args, "--retry-failed", env=env)
    assert again.returncode == 0, again.stderr
    lines = read_lines(out)
    assert sorted(line["id"] for line in lines) == ids and all("record" in line for line in lines)


def test_cli_ctrl_c_keeps_whole_lines_and_resumes(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    ids = write_batch_input(source, 60)
    serve_cases(scripted_server, delay=0.05, slow_from=14)
    env = {**env_without_keys(), "OPENAI_API_KEY": FAKE_KEY, "OPENAI_BASE_URL": scripted_server.url}
    out = tmp_path / "out.jsonl"
    args = [*CLI, "summarize", str(source), "-o", str(out), "--model", "m", "-j", "2"]
    process = subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not out.exists() or out.read_text().count("\n") < 10):
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    partial = out.read_text()
    assert partial.endswith("\n") and 10 <= partial.count("\n") < 60
    serve_cases(scripted_server)
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = read_lines(out)
    assert sorted(line["id"] for line in lines) == ids
