"""The SQLite response cache: protocol, WAL and concurrency, pipeline integration, CLI."""

from __future__ import annotations

import ast
import json
import multiprocessing
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import summarizer
from summarizer import Document, InputError, Settings, Summarizer
from summarizer.cache import ResponseCache
from summarizer.clean import clean
from summarizer.clean.reuse import cleaner_sources, cleaning_key
from summarizer.document import Abstract
from summarizer.sqlite_store import QUEUE_LIMIT
from tests.conftest import (
    FAKE_KEY,
    batch_case_record,
    batch_case_text,
    closed_after_test,
    env_without_keys,
)
from tests.openai_server import ScriptedServer, answer

CLI = [sys.executable, "-m", "summarizer.cli"]


def test_get_put_stats_clear(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    assert cache.get("k") is None
    cache.put("k", {"record": {"a": 1}, "attempts": 2})
    cache.put("k", {"record": {"a": 2}, "attempts": 1})  # replaces
    assert cache.get("k") == {"record": {"a": 2}, "attempts": 1}
    assert "k" in cache and len(cache) == 1
    stats = cache.stats()
    assert stats["entries"] == 1 and stats["hits"] == 1 and stats["bytes"] > 0
    assert cache.clear() == 1
    assert cache.get("k") is None and cache.stats()["entries"] == 0


def test_wal_mode_and_default_path(tmp_path: Path) -> None:
    cache = ResponseCache()  # $CASE_SUMMARIZER_HOME is a tmp dir (conftest)
    assert cache.path.parent.name == "home" and cache.path.exists()
    (mode,) = cache._db.execute("PRAGMA journal_mode").fetchone()
    assert mode == "wal"


def test_refresh_ignores_hits_but_stores(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    ResponseCache(path).put("k", {"v": 1})
    refreshing = ResponseCache(path, refresh=True)
    assert refreshing.get("k") is None
    refreshing.put("k", {"v": 2})
    assert ResponseCache(path).get("k") == {"v": 2}


def _writer(path: str, worker: int) -> None:
    cache = ResponseCache(Path(path))
    for index in range(100):
        cache.put(f"{worker}-{index}", {"worker": worker, "index": index})
        cache.get(f"{worker}-{index // 2}")


def test_concurrent_processes(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    ResponseCache(path)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(str(path), n)) for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    assert len(ResponseCache(path)) == 400


def _summarizer(server: ScriptedServer, cache: ResponseCache, **changes: object) -> Summarizer:
    options: dict[str, object] = {
        "backend": "openai",
        "base_url": server.url,
        "model": "scripted-model",
        "timeout": 5.0,
        "backoff": 0.01,
    }
    options.update(changes)
    settings = Settings.from_env(env={"OPENAI_API_KEY": FAKE_KEY}, **options)
    return closed_after_test(Summarizer(settings, cache=cache))


def test_second_call_is_a_hit_and_sends_nothing(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    scripted_server.fallback = lambda request: answer(batch_case_record(3))
    first = _summarizer(scripted_server, cache).summarize(batch_case_text(3))
    second = _summarizer(scripted_server, cache).summarize(batch_case_text(3))
    assert len(scripted_server.requests) == 1
    assert not first.provenance.cache_hit and second.provenance.cache_hit
    assert second.record.model_dump() == first.record.model_dump()
    assert second.provenance.tokens.total_tokens == first.provenance.tokens.total_tokens
    assert second.provenance.cache_key == first.provenance.cache_key
    # anything that changes the answer changes the key: model, prompt text, parameters
    _summarizer(scripted_server, cache, model="other").summarize(batch_case_text(3))
    _summarizer(scripted_server, cache, temperature=0.5).summarize(batch_case_text(3))
    scripted_server.fallback = lambda request: answer(batch_case_record(4))
    _summarizer(scripted_server, cache).summarize(batch_case_text(4))
    assert len(scripted_server.requests) == 4
    assert len(cache) == 4


def test_refresh_asks_again(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    scripted_server.fallback = lambda request: answer(batch_case_record(5))
    _summarizer(scripted_server, ResponseCache(path)).summarize(batch_case_text(5))
    result = _summarizer(scripted_server, ResponseCache(path, refresh=True)).summarize(
        batch_case_text(5)
    )
    assert len(scripted_server.requests) == 2 and not result.provenance.cache_hit


def test_rules_backend_is_not_cached(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    with Summarizer(Settings(backend="rules"), cache=cache) as summarizer:
        summarizer.summarize(batch_case_text(1))
    assert len(cache) == 0


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=120)


def test_cli_cache_on_by_default_no_cache_refresh_stats_clear(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    page = tmp_path / "case.txt"
    page.write_text(batch_case_text(9))
    scripted_server.fallback = lambda request: answer(batch_case_record(9))
    env = {
        **env_without_keys(),
        "OPENAI_API_KEY": FAKE_KEY,
        "OPENAI_BASE_URL": scripted_server.url,
        "CASE_SUMMARIZER_HOME": str(tmp_path / "home"),
    }
    first = _cli("summarize", str(page), "--model", "m", env=env)
    second = _cli("summarize", str(page), "--model", "m", env=env)
    assert first.returncode == 0 and second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["provenance"]["cache_hit"] is True
    assert len(scripted_server.requests) == 1
    _cli("summarize", str(page), "--model", "m", "--no-cache", env=env)
    refreshed = _cli("summarize", str(page), "--model", "m", "--refresh", env=env)
    assert json.loads(refreshed.stdout)["provenance"]["cache_hit"] is False
    assert len(scripted_server.requests) == 3

    stats = _cli("cache", "stats", "--json", env=env)
    assert stats.returncode == 0, stats.stderr
    figures = json.loads(stats.stdout)
    assert figures["entries"] == 1 and figures["hits"] == 1 and figures["abstracts"] == 1
    assert figures["path"] == str(tmp_path / "home" / "cache.sqlite")
    shown = _cli("cache", "stats", env=env).stdout
    assert "entries" in shown and "cleaned:  1 abstract(s)" in shown
    cleared = _cli("cache", "clear", "--yes", env=env)
    assert cleared.returncode == 0 and "removed 1" in cleared.stderr
    after = json.loads(_cli("cache", "stats", "--json", env=env).stdout)
    assert after["entries"] == 0 and after["abstracts"] == 0
    for name in ("cache", "cache stats", "cache clear"):
        help_text = _cli(*name.split(), "--help", env=env)
        assert help_text.returncode == 0 and "Example" in help_text.stdout


def test_no_sqlite_file_for_rules_backend(tmp_path: Path) -> None:
    page = tmp_path / "case.txt"
    page.write_text(batch_case_text(2))
    env = {**env_without_keys(), "CASE_SUMMARIZER_HOME": str(tmp_path / "home")}
    done = _cli("summarize", str(page), env=env)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "home" / "cache.sqlite").exists()
    assert not (tmp_path / "home" / "logs.sqlite").exists()


def test_database_is_plain_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    ResponseCache(path).put("k", {"v": 1})
    rows = sqlite3.connect(path).execute("SELECT key, value FROM responses").fetchall()
    assert rows == [("k", '{"v":1}')]


# --- cleaned abstracts kept with the answers ------------------------------------------------

REAL_SHAPES = Path(__file__).parent / "fixtures" / "real-shapes"


def test_stored_abstract_rebuilds_the_same_abstract() -> None:
    for path in sorted(REAL_SHAPES.glob("*.txt")):
        document = Document.from_text(path.read_text(encoding="utf-8"), id=path.stem)
        try:
            abstract = clean(document)
        except InputError:
            continue  # a page with no abstract: nothing to keep
        stored = json.loads(json.dumps(abstract.to_stored()))  # what the cache row holds
        again = Abstract.from_stored(stored, document)
        assert again.offsets.as_list() == abstract.offsets.as_list(), path.name
        assert (again.id, again.title, again.text, again.sections, again.body_start) == (
            abstract.id,
            abstract.title,
            abstract.text,
            abstract.sections,
            abstract.body_start,
        )
        assert (again.warnings, again.confidence, again.document) == (
            abstract.warnings,
            abstract.confidence,
            document,
        )
    with pytest.raises(ValueError, match="does not cover"):
        Abstract.from_stored({**stored, "text": stored["text"] + "x"}, document)


def test_cleaning_key_follows_the_document_and_the_cleaner() -> None:
    base = Document.from_text("A 45-year-old man.", id="a")
    key = cleaning_key(base)
    assert cleaning_key(Document.from_text("A 45-year-old man.", id="other", origin="x")) == key
    assert cleaning_key(Document.from_text("A 46-year-old man.")) != key
    assert cleaning_key(Document.from_text("A 45-year-old man.", format="html")) != key
    assert cleaning_key(Document.from_text("A 45-year-old man.", title="")) != key
    assert cleaning_key(Document.from_text("A 45-year-old man.", title="T")) != key


def test_cleaner_fingerprint_covers_every_module_the_cleaner_imports() -> None:
    """An independent walk of the imports (ast, not the fingerprint's regex) must find the
    same modules: a change to any of them has to change every cleaning key."""
    package = Path(summarizer.__file__).parent
    found: set[Path] = set()
    pending = list((package / "clean").glob("*.py"))
    while pending:
        path = pending.pop()
        if path in found:
            continue
        found.add(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = path.parent
                for _ in range(node.level - 1):
                    base = base.parent
                target = base.joinpath(*(node.module or "").split("."))
                names = [target.with_suffix(".py"), target / "__init__.py"]
                names += [target / f"{alias.name}.py" for alias in node.names]
                pending += [name for name in names if name.is_file()]
    assert set(cleaner_sources()) == found
    assert package / "ages.py" in found and package / "document.py" in found


def test_warm_rerun_does_not_clean_again(
    scripted_server: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cleaned: list[str] = []

    def counting_clean(document: Document) -> Abstract:
        cleaned.append(document.id)
        return clean(document)

    monkeypatch.setattr("summarizer.pipeline.clean", counting_clean)
    scripted_server.fallback = lambda request: answer(batch_case_record(6))
    page = (REAL_SHAPES / "03-pubmed-2020.txt").read_text(encoding="utf-8")
    cache = ResponseCache(tmp_path / "c.sqlite")
    first = _summarizer(scripted_server, cache).summarize(page)
    asked = len(scripted_server.requests)
    second = _summarizer(scripted_server, ResponseCache(tmp_path / "c.sqlite")).summarize(page)
    assert cleaned == ["text"] and second.provenance.cache_hit
    assert second.abstract.text == first.abstract.text
    assert second.abstract.offsets.as_list() == first.abstract.offsets.as_list()
    assert [span.to_dict() for span in second.evidence] == [
        span.to_dict() for span in first.evidence
    ]
    # a damaged row is a miss: cleaned again, stored anew, the same answer
    with sqlite3.connect(tmp_path / "c.sqlite") as db:
        db.execute('UPDATE abstracts SET value = \'{"text": "x"}\'')
    third = _summarizer(scripted_server, ResponseCache(tmp_path / "c.sqlite")).summarize(page)
    assert cleaned == ["text", "text"] and third.abstract.text == first.abstract.text
    assert len(scripted_server.requests) == asked  # both answers came from the cache
    # --refresh asks again and cleans again
    refreshing = ResponseCache(tmp_path / "c.sqlite", refresh=True)
    _summarizer(scripted_server, refreshing).summarize(page)
    assert len(cleaned) == 3 and len(scripted_server.requests) == 2 * asked


def test_cache_from_before_abstracts_were_kept_still_serves_read_only(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE responses (key TEXT PRIMARY KEY, value TEXT NOT NULL,"
            " created REAL NOT NULL, hits INTEGER NOT NULL DEFAULT 0, last_hit REAL)"
        )
        db.execute("INSERT INTO responses VALUES ('k', '{\"v\": 1}', 0, 0, NULL)")
    warnings: list[str] = []
    old = ResponseCache(path, read_only=True, warn=warnings.append)
    assert old.get_abstract("anything") is None and old.get("k") == {"v": 1}
    assert old.stats()["abstracts"] == 0
    assert warnings == [] and old.available
    upgraded = ResponseCache(path)  # writable: the table is added
    upgraded.put_abstract("a", {"text": ""})
    assert upgraded.stats()["abstracts"] == 1
    assert upgraded.get_abstract("a") == {"text": ""} and upgraded.get("k") == {"v": 1}
    assert upgraded.clear() == 1 and upgraded.get_abstract("a") is None


def test_hit_counts_are_committed_together(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    cache = ResponseCache(path)
    cache.put("k", {"v": 1})
    for _ in range(QUEUE_LIMIT):
        cache.get("k")
    with sqlite3.connect(path) as other:  # the queue filled up: committed without a close
        assert other.execute("SELECT hits FROM responses").fetchone() == (QUEUE_LIMIT,)
    cache.get("k")
    assert cache.stats()["hits"] == QUEUE_LIMIT + 1  # inspection commits what waits
    cache.get("k")
    cache.close()
    assert ResponseCache(path).stats()["hits"] == QUEUE_LIMIT + 2
