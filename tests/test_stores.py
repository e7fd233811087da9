"""The stores degrade, they do not stop: a corrupt, broken or read-only cache or run log is
reported once (naming the file and the way out) and every record is still produced.

Each test damages a real SQLite file the way a crash, a full disk or a bad copy would:
garbage over its pages, a broken header, a home folder mounted read-only.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from summarizer import Summarizer
from summarizer.cache import ResponseCache
from summarizer.errors import StoreError
from summarizer.runlog import RunLog
from summarizer.sqlite_store import StoreWarning
from tests.conftest import (
    FAKE_KEY,
    batch_case_record,
    batch_case_text,
    closed_after_test,
    env_without_keys,
    write_batch_input,
)
from tests.openai_server import ScriptedServer, answer
from tests.test_local_batch import openai_settings, serve_cases

CLI = [sys.executable, "-m", "summarizer.cli"]
PAGE = 4096


# --- damage -----------------------------------------------------------------------------------


def filled_cache(path: Path, entries: int = 300) -> None:
    with ResponseCache(path) as cache:
        for index in range(entries):
            cache.put(f"filler-{index}", {"record": {"filler": "x" * 400}, "attempts": 1})


def filled_log(path: Path, entries: int = 300) -> None:
    with RunLog(path) as log:
        for index in range(entries):
            log.record_call({"record_id": f"filler-{index}", "error": "x" * 400})


def corrupt_pages(path: Path) -> None:
    """Garbage over every page but the first (the header and the schema stay readable)."""
    data = bytearray(path.read_bytes())
    assert len(data) > 4 * PAGE, "fill the database first"
    for offset in range(PAGE, len(data), PAGE):
        data[offset : offset + PAGE] = b"\xde\xad\xbe\xef" * (PAGE // 4)
    path.write_bytes(bytes(data))


def break_header(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[:100] = b"not a database, just a broken header" + b"\x00" * 64
    path.write_bytes(bytes(data))


DAMAGE = {"corrupt pages": corrupt_pages, "broken header": break_header}


# --- running the CLI --------------------------------------------------------------------------


def cli_env(server: ScriptedServer, home: Path) -> dict[str, str]:
    return {
        **env_without_keys(),
        "OPENAI_API_KEY": FAKE_KEY,
        "OPENAI_BASE_URL": server.url,
        "CASE_SUMMARIZER_HOME": str(home),
    }


def run(
    *args: str, env: dict[str, str], prefix: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    command = [*prefix, *CLI, *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def warnings_in(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


def summarize_args(page: Path) -> list[str]:
    return ["summarize", str(page), "--model", "m", "--backoff", "0.01"]


@pytest.fixture
def page(tmp_path: Path) -> Path:
    path = tmp_path / "case.txt"
    path.write_text(batch_case_text(7))
    return path


# --- the response cache -------------------------------------------------------------------


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_cache_single_record_goes_on_and_says_the_way_out(
    damage: str, scripted_server: ScriptedServer, tmp_path: Path, page: Path
) -> None:
    home = tmp_path / "home"
    filled_cache(home / "cache.sqlite")
    DAMAGE[damage](home / "cache.sqlite")
    serve_cases(scripted_server)
    done = run(*summarize_args(page), env=cli_env(scripted_server, home))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["record"]["patient"]["age_years"] == 27
    [warning] = warnings_in(done.stderr)
    assert str(home / "cache.sqlite") in warning
    assert "--no-cache" in warning and "case-summarizer cache clear" in warning


def test_corrupt_cache_batch_every_record_succeeds_with_one_warning(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    filled_cache(home / "cache.sqlite")
    corrupt_pages(home / "cache.sqlite")
    source = tmp_path / "in.jsonl"
    ids = write_batch_input(source, 12)
    serve_cases(scripted_server)
    out = tmp_path / "out.jsonl"
    args = ["summarize", str(source), "-o", str(out), "--model", "m", "-j", "4"]
    done = run(*args, env=cli_env(scripted_server, home))
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(line["id"] for line in lines) == ids
    assert all("record" in line for line in lines)
    assert len(warnings_in(done.stderr)) == 1


@pytest.mark.parametrize("damage", DAMAGE)
def test_cache_stats_reports_and_clear_recreates_a_damaged_file(
    damage: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    filled_cache(home / "cache.sqlite")
    DAMAGE[damage](home / "cache.sqlite")
    env = {**env_without_keys(), "CASE_SUMMARIZER_HOME": str(home)}
    message = one_line_error(run("cache", "stats", env=env))
    assert str(home / "cache.sqlite") in message and "cache clear" in message
    cleared = run("cache", "clear", "--yes", env=env)
    assert cleared.returncode == 0 and "recreated" in cleared.stderr, cleared.stderr
    stats = run("cache", "stats", "--json", env=env)
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["entries"] == 0
    with ResponseCache(home / "cache.sqlite") as cache:  # a working cache again
        cache.put("k", {"v": 1})
        assert cache.get("k") == {"v": 1}


def test_library_cache_on_a_corrupt_file_warns_once_and_misses(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    filled_cache(path)
    corrupt_pages(path)
    said: list[str] = []
    cache = ResponseCache(path, warn=said.append)
    assert cache.get("filler-3") is None
    cache.put("new", {"v": 1})  # dropped, not raised
    assert cache.get("new") is None
    assert len(said) == 1 and str(path) in said[0] and not cache.available
    with pytest.raises(StoreError, match="cannot be read"):
        cache.stats()
    with pytest.warns(StoreWarning, match="--no-cache"):  # the library default
        ResponseCache(path).get("filler-3")


def test_cache_entry_that_no_longer_validates_is_a_miss(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    path = tmp_path / "c.sqlite"
    settings = openai_settings(scripted_server)
    scripted_server.fallback = lambda request: answer(batch_case_record(4))
    first = closed_after_test(Summarizer(settings, cache=ResponseCache(path))).summarize(
        batch_case_text(4)
    )
    key = first.provenance.cache_key
    assert key is not None
    with sqlite3.connect(path) as db:
        (text,) = db.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        value = json.loads(text)
        # what the schema let through before derived ages were bounded
        value["record"]["patient"].update(age_text="999-year-old", age_years=999)
        db.execute("UPDATE responses SET value = ? WHERE key = ?", (json.dumps(value), key))
    again = closed_after_test(Summarizer(settings, cache=ResponseCache(path))).summarize(
        batch_case_text(4)
    )
    assert not again.provenance.cache_hit and again.record.patient.age_years == 24
    assert len(scripted_server.requests) == 2
    with sqlite3.connect(path) as db:  # a value that is not JSON at all
        db.execute("UPDATE responses SET value = '{not json' WHERE key = ?", (key,))
    third = closed_after_test(Summarizer(settings, cache=ResponseCache(path))).summarize(
        batch_case_text(4)
    )
    assert not third.provenance.cache_hit and len(scripted_server.requests) == 3
    fourth = closed_after_test(Summarizer(settings, cache=ResponseCache(path))).summarize(
        batch_case_text(4)
    )
    assert fourth.provenance.cache_hit  # the fresh answer replaced the bad one


# --- the run log ------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_run_log_records_still_produced_cache_hits_included(
    damage: str, scripted_server: ScriptedServer, tmp_path: Path, page: Path
) -> None:
    home = tmp_path / "home"
    serve_cases(scripted_server)
    env = cli_env(scripted_server, home)
    assert run(*summarize_args(page), env=env).returncode == 0  # fills the cache
    filled_log(home / "logs.sqlite")
    DAMAGE[damage](home / "logs.sqlite")
    hit = run(*summarize_args(page), env=env)
    assert hit.returncode == 0, hit.stderr
    assert json.loads(hit.stdout)["provenance"]["cache_hit"] is True
    [warning] = warnings_in(hit.stderr)
    assert "run log" in warning and str(home / "logs.sqlite") in warning and "--no-log" in warning
    other = tmp_path / "other.txt"
    other.write_text(batch_case_text(8))
    miss = run(*summarize_args(other), env=env)  # a model call, paid for, then kept
    assert miss.returncode == 0 and json.loads(miss.stdout)["record"], miss.stderr
    assert len(scripted_server.requests) == 2
    message = one_line_error(run("logs", env=env))
    assert str(home / "logs.sqlite") in message


def test_library_run_log_on_a_corrupt_file_warns_once(tmp_path: Path) -> None:
    path = tmp_path / "logs.sqlite"
    filled_log(path)
    corrupt_pages(path)
    said: list[str] = []
    log = RunLog(path, warn=said.append)
    for index in range(3):
        log.record_call({"record_id": str(index)})
    assert len(said) == 1 and "--no-log" in said[0]
    with pytest.raises(StoreError):
        list(log.query())


# --- a read-only home -------------------------------------------------------------------------


def _read_only_prefix(home: Path) -> Iterator[tuple[str, ...]]:
    """Make ``home`` read-only for a CLI run: permissions, or (as root, who ignores them) a
    read-only bind mount in a user namespace."""
    if os.geteuid() != 0:
        modes = {path: path.stat().st_mode for path in [home, *home.iterdir()]}
        for path in modes:
            path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield ()
        finally:
            for path, mode in modes.items():
                path.chmod(mode)
        return
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("running as root without unshare: cannot make a folder read-only")
    prefix = (
        unshare,
        "-rm",
        "sh",
        "-c",
        'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"',
        str(home),
    )
    probe = subprocess.run([*prefix, "touch", str(home / "probe")], capture_output=True)
    if b"Read-only" not in probe.stderr:
        pytest.skip(f"cannot mount read-only here: {probe.stderr.decode(errors='replace')}")
    yield prefix


def test_read_only_home_serves_hits_runs_misses_and_lists(
    scripted_server: ScriptedServer, tmp_path: Path, page: Path
) -> None:
    home = tmp_path / "home"
    serve_cases(scripted_server)
    env = cli_env(scripted_server, home)
    assert run(*summarize_args(page), env=env).returncode == 0
    before = sorted(path.name for path in home.iterdir())
    other = tmp_path / "other.txt"
    other.write_text(batch_case_text(8))
    for prefix in _read_only_prefix(home):
        hit = run(*summarize_args(page), env=env, prefix=prefix)
        assert hit.returncode == 0, hit.stderr
        assert json.loads(hit.stdout)["provenance"]["cache_hit"] is True
        said = warnings_in(hit.stderr)
        assert said and all("read-only" in line for line in said), hit.stderr
        miss = run(*summarize_args(other), env=env, prefix=prefix)
        assert miss.returncode == 0 and json.loads(miss.stdout)["record"], miss.stderr
        listed = run("logs", "--json", env=env, prefix=prefix)
        assert listed.returncode == 0, listed.stderr
        assert [row["record_id"] for row in json.loads(listed.stdout)] == ["case"]
        stats = run("cache", "stats", "--json", env=env, prefix=prefix)
        assert stats.returncode == 0 and json.loads(stats.stdout)["entries"] == 1, stats.stderr
        nested = {**env, "CASE_SUMMARIZER_HOME": str(home / "cannot-be-created")}
        fresh = run(*summarize_args(other), env=nested, prefix=prefix)
        assert fresh.returncode == 0 and json.loads(fresh.stdout)["record"], fresh.stderr
        assert len(warnings_in(fresh.stderr)) == 2  # the cache and the run log
    assert sorted(path.name for path in home.iterdir()) == before
    assert len(scripted_server.requests) == 3


def test_logs_and_cache_stats_write_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**env_without_keys(), "CASE_SUMMARIZER_HOME": str(home)}
    assert run("logs", env=env).returncode == 0
    assert json.loads(run("cache", "stats", "--json", env=env).stdout)["entries"] == 0
    assert not home.exists()  # nothing created just to look
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no StoreWarning on a missing file opened to read
        assert list(RunLog(home / "logs.sqlite", read_only=True).query()) == []
