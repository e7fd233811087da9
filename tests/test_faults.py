"""Fault tolerance at batch scale, against the scripted server.

A seeded plan gives each record a few transient faults (429 with and without
Retry-After, 500/503, timeouts, dropped connections, truncated bodies, truncated JSON
content) before a good answer, always within the retry budget; a few records fail for
good. Every record must end up succeeded or reported failed, with exactly one line each.
Then the same batch is killed (SIGKILL) mid-run and resumed.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from summarizer import Settings
from summarizer.local_batch import run_batch
from summarizer.options import RunOptions
from tests.conftest import (
    BATCH_CASE_ID,
    FAKE_KEY,
    batch_case_record,
    env_without_keys,
    write_batch_input,
)
from tests.openai_server import Reply, ScriptedServer, answer, completion_body, error

TIMEOUT = 1.0
# Each request meets at most 2 planned transport faults in a row; the 3rd and 4th tries
# are spare, for a reply slowed past the timeout by a loaded machine.
TRANSPORT_ATTEMPTS = 5
VALIDATION_ATTEMPTS = 3  # each record meets at most 1 broken answer

TRANSPORT_FAULTS = ("429-retry-after", "429", "500", "503", "timeout", "drop", "truncate")


def fault_reply(kind: str, request: dict[str, Any], content: str) -> Reply:
    if kind == "429-retry-after":
        return error(429, retry_after=0.1)
    if kind == "429":
        return error(429)
    if kind in ("500", "503"):
        return error(int(kind))
    if kind == "timeout":
        return Reply(delay=TIMEOUT + 0.2, body=lambda body: completion_body(body, content))
    if kind == "drop":
        return Reply(drop=True)
    if kind == "truncate":
        return Reply(truncate=True, body=lambda body: completion_body(body, content))
    if kind == "bad-json":  # a 200 whose JSON content stops halfway: a validation re-ask
        return answer(content[: len(content) // 2])
    raise AssertionError(kind)


class FaultPlan:
    """Per record: a seeded list of faults served before the good answer."""

    def __init__(self, seed: int, *, permanent: set[int], always_bad: set[int]) -> None:
        self.random = random.Random(seed)
        self.permanent = permanent
        self.always_bad = always_bad
        self.plans: dict[int, list[str]] = {}
        self.served: Counter[int] = Counter()
        self.faults: Counter[str] = Counter()
        self.lock = threading.Lock()

    def _draw(self) -> list[str]:
        plan: list[str] = []
        for _ in range(2):  # up to two validation rounds, each with up to two transport faults
            roll = self.random.random()
            faults = 0 if roll < 0.55 else 1 if roll < 0.88 else 2
            plan += [self.random.choice(TRANSPORT_FAULTS) for _ in range(faults)]
            if self.random.random() < 0.12 and "bad-json" not in plan:
                plan.append("bad-json")
            else:
                break
        return plan

    def __call__(self, request: dict[str, Any]) -> Reply:
        found = re.search(BATCH_CASE_ID, request["messages"][1]["content"])
        assert found
        number = int(found[1])
        content = json.dumps(batch_case_record(number))
        if number in self.permanent:
            return error(503)
        if number in self.always_bad:
            return answer('{"title": "never finished')
        with self.lock:
            plan = self.plans.setdefault(number, self._draw())
            step = self.served[number]
            self.served[number] += 1
        if step < len(plan):
            with self.lock:
                self.faults[plan[step]] += 1
            return fault_reply(plan[step], request, content)
        return answer(content)


def settings(server: ScriptedServer) -> Settings:
    return Settings.from_env(
        env={"OPENAI_API_KEY": FAKE_KEY},
        backend="openai",
        base_url=server.url,
        model="scripted",
        timeout=TIMEOUT,
        transport_attempts=TRANSPORT_ATTEMPTS,
        validation_attempts=VALIDATION_ATTEMPTS,
        backoff=0.02,
        max_backoff=0.2,
    )


def test_500_records_with_random_faults(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    ids = write_batch_input(source, 500)
    with source.open("a") as handle:
        handle.write("{not json\n")  # one malformed input record: an error line, not a crash
    permanent, always_bad = {13, 250, 487}, {99}
    plan = FaultPlan(20261125, permanent=permanent, always_bad=always_bad)
    scripted_server.fallback = plan
    out = tmp_path / "out.jsonl"
    started = time.perf_counter()
    summary = run_batch([source], settings(scripted_server), RunOptions(output=out, concurrency=16))
    elapsed = time.perf_counter() - started

    lines = [json.loads(line) for line in out.read_text().splitlines()]
    counted = Counter(line["id"] for line in lines)
    assert len(lines) == 501 and max(counted.values()) == 1  # one line per input, no duplicates
    assert set(counted) == {*ids, "line 501"}
    failed = {line["id"] for line in lines if "error" in line}
    expected = {f"r{number:05d}" for number in permanent | always_bad} | {"line 501"}
    assert failed == expected  # transient faults within the budget cost no record
    types = {line["id"]: line["error_type"] for line in lines if "error" in line}
    assert types["r00013"] == "ModelCallError" and types["r00099"] == "ExtractionError"
    assert types["line 501"] == "InputError"
    assert summary.succeeded == 496 and summary.failed == 5
    # the plan really did inject every kind of fault, many times
    assert set(plan.faults) == {*TRANSPORT_FAULTS, "bad-json"}
    assert sum(plan.faults.values()) > 150
    good = [line for line in lines if "record" in line]
    reasked = [line for line in good if line["provenance"]["attempts"] == 2]
    # (a broken answer that arrived after the client timed out is not a re-ask)
    assert 0 < len(reasked) <= plan.faults["bad-json"]
    assert elapsed < 60


def _line_count(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_sigkill_mid_batch_then_resume(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    ids = write_batch_input(source, 300)
    plan = FaultPlan(7, permanent=set(), always_bad=set())

    def slow(request: dict[str, Any]) -> Reply:
        reply = plan(request)
        reply.delay = max(reply.delay, 0.02)
        return reply

    scripted_server.fallback = slow
    env = {
        **env_without_keys(),
        "OPENAI_API_KEY": FAKE_KEY,
        "OPENAI_BASE_URL": scripted_server.url,
    }
    out = tmp_path / "out.jsonl"
    command = [
        *[sys.executable, "-m", "summarizer.cli", "summarize", str(source)],
        *["-o", str(out), "--model", "scripted", "-j", "8", "-q"],
        *["--timeout", str(TIMEOUT), "--backoff", "0.02"],
    ]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while _line_count(out) < 60 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    assert process.returncode == -signal.SIGKILL
    written = _line_count(out)
    assert 60 <= written < 300
    requests_before = len(scripted_server.requests)

    # a kill can also land mid-line: simulate the worst case on top
    with out.open("ab") as handle:
        handle.write(b'{"id": "r00299", "record": {"tit')
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    counted = Counter(line["id"] for line in lines)
    assert sorted(counted) == ids and max(counted.values()) == 1
    assert all("record" in line for line in lines)
    # the rerun asked only for what was missing (plus faults and in-flight losses)
    assert len(scripted_server.requests) - requests_before < 2 * (300 - written) + 50
