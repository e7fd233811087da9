"""The SQLite run log: migrations, recording, filters, the `logs` command, no secrets stored."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from summarizer import ConfigError, ModelCallError, Settings, Summarizer
from summarizer.cache import ResponseCache
from summarizer.runlog import MIGRATIONS, RunLog, migrate, parse_since
from tests.conftest import (
    FAKE_KEY,
    batch_case_record,
    batch_case_text,
    closed_after_test,
    env_without_keys,
)
from tests.openai_server import ScriptedServer, answer, error

CLI = [sys.executable, "-m", "summarizer.cli"]


def entry(**changes: object) -> dict[str, object]:
    value: dict[str, object] = {
        "record_id": "r1",
        "backend": "openai",
        "model": "m1",
        "mode": "tools",
        "prompt_version": "v1",
        "prompt_hash": "abc",
        "cache_key": "k",
        "cache_hit": False,
        "prompt_tokens": 100,
        "completion_tokens": 50,
        "duration_s": 0.25,
        "attempts": 1,
        "error": None,
    }
    value.update(changes)
    return value


def test_migrations_apply_once_and_upgrade_an_old_database(tmp_path: Path) -> None:
    path = tmp_path / "logs.sqlite"
    old = sqlite3.connect(path, isolation_level=None)
    old.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied TEXT)")
    MIGRATIONS[0](old)  # a database made by the first version
    old.execute("INSERT INTO _migrations VALUES (?, 'then')", (MIGRATIONS[0].__name__,))
    old.execute("INSERT INTO calls (time, record_id) VALUES ('2020-01-01T00:00:00', 'old')")
    old.close()
    log = RunLog(path)
    names = [row[0] for row in log._db.execute("SELECT name FROM _migrations ORDER BY rowid")]
    assert names == [function.__name__ for function in MIGRATIONS]
    migrate(log._db)  # idempotent
    log.record_call(entry())
    rows = list(log.query(limit=None))
    assert [row["record_id"] for row in rows] == ["old", "r1"]
    assert rows[1]["run_id"] == log.run_id


def test_record_and_query_filters(tmp_path: Path) -> None:
    log = RunLog(tmp_path / "logs.sqlite", run_id="run-a")
    log.record_call(entry(time="2020-01-01T00:00:00.000+00:00", record_id="old"))
    log.record_call(entry(record_id="a", model="m1"))
    log.record_call(entry(record_id="b", model="m2", error="ModelCallError: HTTP 500"))
    log.record_call(entry(record_id="c", cache_hit=True, api_key=FAKE_KEY, note="kept"))
    assert len(log) == 4
    assert [row["record_id"] for row in log.query(model="m2")] == ["b"]
    assert [row["record_id"] for row in log.query(errors=True)] == ["b"]
    assert [row["record_id"] for row in log.query(since="1d")] == ["a", "b", "c"]
    assert [row["record_id"] for row in log.query(limit=2)] == ["b", "c"]
    assert [row["record_id"] for row in log.query(run_id="nope")] == []
    last = next(iter(log.query(limit=1)))
    assert last["cache_hit"] is True and last["extra"] == {"note": "kept"}
    assert FAKE_KEY.encode() not in (tmp_path / "logs.sqlite").read_bytes()


def test_parse_since() -> None:
    now = dt.datetime(2026, 1, 31, 12, tzinfo=dt.UTC)
    assert parse_since("2h", now=now).startswith("2026-01-31T10:00:00")
    assert parse_since("7d", now=now).startswith("2026-01-24T12:00")
    assert parse_since("2026-01-30").startswith("2026-01-30T00:00:00")
    with pytest.raises(ConfigError):
        parse_since("yesterday")


def test_pipeline_logs_calls_hits_and_errors(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    log = RunLog(tmp_path / "logs.sqlite")
    cache = ResponseCache(tmp_path / "cache.sqlite")
    settings = Settings.from_env(
        env={"OPENAI_API_KEY": FAKE_KEY},
        backend="openai",
        base_url=scripted_server.url,
        model="scripted",
        transport_attempts=2,
        backoff=0.01,
    )
    summarizer = closed_after_test(Summarizer(settings, cache=cache, run_log=log))
    scripted_server.enqueue(answer(batch_case_record(1)))
    summarizer.summarize(batch_case_text(1))
    summarizer.summarize(batch_case_text(1))
    scripted_server.fallback = lambda request: error(500, message=FAKE_KEY)
    with pytest.raises(ModelCallError):
        summarizer.summarize(batch_case_text(2))
    rows = list(log.query(limit=None))
    assert [row["cache_hit"] for row in rows] == [False, True, False]
    assert rows[0]["prompt_tokens"] == 100 and rows[0]["completion_tokens"] == 50
    assert rows[0]["model"] == "scripted" and rows[0]["prompt_version"] == "v1"
    assert rows[0]["attempts"] == 1 and rows[0]["duration_s"] > 0
    assert rows[2]["error"].startswith("ModelCallError") and rows[2]["attempts"] == 2


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=120)


def test_cli_logs_and_no_key_in_any_database_file(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    for number in range(6):
        (inputs / f"case{number}.txt").write_text(batch_case_text(number))

    def reply(request: dict[str, object]) -> object:
        text = json.dumps(request)
        if "Case 00005" in text:
            return error(500, message=f"bad key {FAKE_KEY}")
        number = int(text.split("Case 0000", 1)[1][0])
        return answer(batch_case_record(number))

    scripted_server.fallback = reply  # type: ignore[assignment]
    home = tmp_path / "home"
    env = {
        **env_without_keys(),
        "OPENAI_API_KEY": FAKE_KEY,
        "OPENAI_BASE_URL": scripted_server.url,
        "CASE_SUMMARIZER_HOME": str(home),
    }
    out = tmp_path / "out.jsonl"
    args = ["summarize", str(inputs), "-o", str(out), "--model", "m", "--transport-attempts", "2"]
    done = _cli(*args, "--backoff", "0.01", env=env)
    assert done.returncode == 1, done.stderr
    assert FAKE_KEY not in done.stderr + done.stdout + out.read_text()

    listing = _cli("logs", "-n", "0", env=env)
    assert listing.returncode == 0, listing.stderr
    assert len(listing.stdout.splitlines()) == 1 + 6 and "HTTP 500" in listing.stdout
    exported = json.loads(_cli("logs", "-n", "0", "--json", env=env).stdout)
    assert len(exported) == 6 and {row["model"] for row in exported} == {"m"}
    assert sum(row["error"] is not None for row in exported) == 1
    errors = json.loads(_cli("logs", "--errors", "--json", env=env).stdout)
    assert [row["record_id"] for row in errors] == ["case5"]
    rows = list(
        csv.DictReader(
            io.StringIO(_cli("logs", "--csv", "-m", "m", "--since", "1h", env=env).stdout)
        )
    )
    assert len(rows) == 6 and rows[0]["backend"] == "openai"
    assert _cli("logs", "-m", "other", "--json", env=env).stdout.strip() == "[\n]"
    assert _cli("logs", "--since", "whenever", env=env).returncode == 2
    help_text = _cli("logs", "--help", env=env)
    assert help_text.returncode == 0 and "Example" in help_text.stdout

    files = sorted(home.iterdir())
    assert any(path.name == "cache.sqlite" for path in files)
    assert any(path.name == "logs.sqlite" for path in files)
    for path in files:  # the databases and their -wal / -shm files
        data = path.read_bytes()
        assert FAKE_KEY.encode() not in data, path
        assert FAKE_KEY[8:].encode() not in data, path


def test_cache_hits_are_committed_together_and_kept_at_exit(tmp_path: Path) -> None:
    path = tmp_path / "logs.sqlite"
    script = (
        "import sys; from pathlib import Path; from summarizer.runlog import RunLog\n"
        "log = RunLog(Path(sys.argv[1]))\n"
        "for n in range(3): log.record_call({'record_id': f'h{n}', 'cache_hit': True})\n"
    )  # no close: what was queued is committed when the interpreter exits
    subprocess.run([sys.executable, "-c", script, str(path)], check=True, timeout=60)
    assert [row["record_id"] for row in RunLog(path).query()] == ["h0", "h1", "h2"]


def test_model_calls_are_written_at_once_after_the_queued_hits(tmp_path: Path) -> None:
    path = tmp_path / "logs.sqlite"
    log = RunLog(path)
    log.record_call(entry(record_id="hit", cache_hit=True))
    log.record_call(entry(record_id="call"))
    with sqlite3.connect(path) as other:  # another reader sees both now, in order
        rows = other.execute("SELECT record_id, cache_hit FROM calls ORDER BY id").fetchall()
    assert rows == [("hit", 1), ("call", 0)]
