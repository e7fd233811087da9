"""A run log of every model call, and of every provider batch submitted, in SQLite.

Each call the pipeline makes (or answers from the cache) becomes one row: time, record
id, backend, model, prompt version, tokens (prompt, completion, and the prompt tokens the
server answered from its prompt cache), duration, attempts, error, cache hit. Each
provider batch submitted (``batch submit``) becomes a row of ``batches``: its id, the
server, the request file and its content hash, the provider's file ids, model and
prompt, and its last known state and counts (``batch status``), so a file is never
submitted (and paid for) twice. The
schema evolves through ``MIGRATIONS``, a list of small functions applied once each, in
order, and remembered in the ``_migrations`` table (the way simonw/llm does it).

Only the columns below are stored; nothing from a request or its headers, so no key.

The log degrades instead of failing (see ``summarizer.sqlite_store``): a corrupt or unwritable
file is reported once and the run goes on without logging; ``logs`` reads it read-only.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .paths import log_path
from .sqlite_store import SqliteStore, Warn

__all__ = ["BATCH_COLUMNS", "COLUMNS", "MIGRATIONS", "RunLog", "parse_since"]

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[Migration] = []


def migration(function: Migration) -> Migration:
    MIGRATIONS.append(function)
    return function


@migration
def m001_calls(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE calls (
            id INTEGER PRIMARY KEY,
            time TEXT NOT NULL,
            record_id TEXT,
            backend TEXT,
            model TEXT,
            mode TEXT,
            prompt_version TEXT,
            prompt_hash TEXT,
            cache_key TEXT,
            cache_hit INTEGER NOT NULL DEFAULT 0,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            duration_s REAL,
            attempts INTEGER,
            error TEXT
        )
        """
    )
    db.execute("CREATE INDEX calls_time ON calls (time)")


@migration
def m002_run_id(db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE calls ADD COLUMN run_id TEXT")
    db.execute("CREATE INDEX calls_run ON calls (run_id)")


@migration
def m003_extra(db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE calls ADD COLUMN extra TEXT")


@migration
def m004_batches(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE batches (
            id TEXT PRIMARY KEY,
            time TEXT NOT NULL,
            base_url TEXT,
            request_file TEXT,
            request_sha256 TEXT,
            requests INTEGER,
            input_file_id TEXT,
            output_file_id TEXT,
            error_file_id TEXT,
            model TEXT,
            prompt_version TEXT,
            prompt_hash TEXT,
            status TEXT,
            completed INTEGER,
            failed INTEGER,
            total INTEGER,
            updated TEXT,
            collected TEXT,
            prompt_tokens INTEGER,
            completion_tokens INTEGER
        )
        """
    )
    db.execute("CREATE INDEX batches_sha ON batches (request_sha256)")


@migration
def m005_cached_tokens(db: sqlite3.Connection) -> None:
    """Prompt tokens the server answered from its prompt cache (billed at the cached rate)."""
    db.execute("ALTER TABLE calls ADD COLUMN cached_tokens INTEGER")
    db.execute("ALTER TABLE batches ADD COLUMN cached_tokens INTEGER")


BATCH_COLUMNS = (
    "id",
    "time",
    "base_url",
    "request_file",
    "request_sha256",
    "requests",
    "input_file_id",
    "output_file_id",
    "error_file_id",
    "model",
    "prompt_version",
    "prompt_hash",
    "status",
    "completed",
    "failed",
    "total",
    "updated",
    "collected",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
)

COLUMNS = (
    "id",
    "time",
    "run_id",
    "record_id",
    "backend",
    "model",
    "mode",
    "prompt_version",
    "prompt_hash",
    "cache_key",
    "cache_hit",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "duration_s",
    "attempts",
    "error",
    "extra",
)
_WRITABLE = COLUMNS[2:-1]
_INSERT = (
    f"INSERT INTO calls (time, {', '.join(_WRITABLE)}, extra) "
    f"VALUES ({', '.join('?' for _ in range(len(_WRITABLE) + 2))})"
)
_NOT_EXTRA = frozenset((*COLUMNS, "time"))
_RUN_ID, _CACHE_HIT, _DURATION = (
    _WRITABLE.index(name) for name in ("run_id", "cache_hit", "duration_s")
)
# Entry keys never stored, even in ``extra`` (defence in depth: nobody should pass them).
_SECRET_KEY = re.compile(r"key|secret|token_value|authorization|password|header", re.I)


def migrate(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied TEXT)")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    for function in MIGRATIONS:
        if function.__name__ in done:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            # another process may have applied it while we waited for the lock
            if db.execute(
                "SELECT 1 FROM _migrations WHERE name = ?", (function.__name__,)
            ).fetchone():
                db.execute("ROLLBACK")
                continue
            function(db)
            db.execute(
                "INSERT INTO _migrations (name, applied) VALUES (?, ?)",
                (function.__name__, _now()),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(value: str, *, now: dt.datetime | None = None) -> str:
    """An ISO timestamp (UTC) from ``2026-01-31``, ``2026-01-31T10:00`` or ``2h``/``30m``/``7d``."""
    now = now or dt.datetime.now(dt.UTC)
    relative = _RELATIVE.match(value)
    if relative:
        seconds = float(relative[1]) * _UNITS[relative[2]]
        return (now - dt.timedelta(seconds=seconds)).isoformat(timespec="milliseconds")
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(
            f"--since {value!r}: use a date (2026-01-31), a time (2026-01-31T10:00) or 30m/2h/7d"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds")


_NO_COLUMNS: frozenset[str] = frozenset()


def _columns_present(db: sqlite3.Connection) -> frozenset[str]:
    return frozenset(row[1] for row in db.execute("PRAGMA table_info(calls)"))


def _extra(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return {"unreadable": text}


class RunLog(SqliteStore):
    """Implements the pipeline's ``RunLog`` protocol (``record_call``) over SQLite.

    ``run_id`` groups the calls of one batch (a fresh one per ``RunLog`` unless given).
    ``read_only=True`` opens the file without creating, migrating or writing anything
    (the ``logs`` command). ``warn`` receives the one-line warning when the file cannot
    be used (default: a ``StoreWarning``).
    """

    label = "run log"
    repair = "move the file aside to start a new log"
    off_option = "--no-log"
    read_only_effect = "model calls are not logged"

    def __init__(
        self,
        path: Path | None = None,
        *,
        run_id: str | None = None,
        read_only: bool = False,
        warn: Warn | None = None,
    ) -> None:
        self.run_id = run_id or uuid.uuid4().hex[:12]
        super().__init__(
            Path(path) if path is not None else log_path(), read_only=read_only, warn=warn
        )

    def _prepare(self, db: sqlite3.Connection) -> None:
        migrate(db)

    def record_call(self, entry: dict[str, Any]) -> None:
        row: list[Any] = [entry.get(name) for name in _WRITABLE]
        row[_RUN_ID] = entry.get("run_id") or self.run_id
        row[_CACHE_HIT] = cache_hit = 1 if entry.get("cache_hit") else 0
        if isinstance(row[_DURATION], float):
            row[_DURATION] = round(row[_DURATION], 6)
        extra = {
            key: value
            for key, value in entry.items()
            if key not in _NOT_EXTRA and not _SECRET_KEY.search(key)
        }
        values = (
            entry.get("time") or _now(),
            *row,
            json.dumps(extra, default=str) if extra else None,
        )
        if cache_hit:  # cost nothing and come thousands a second: committed together
            self.write_later(_INSERT, values)
            return
        self.flush()  # the log keeps the order calls finished in
        self._use(lambda db: db.execute(_INSERT, values), None, write=True)

    def query(
        self,
        *,
        model: str | None = None,
        errors: bool = False,
        since: str | None = None,
        run_id: str | None = None,
        limit: int | None = 20,
    ) -> Iterator[dict[str, Any]]:
        """Calls, oldest first; ``limit`` keeps the most recent N (None or 0: all)."""
        where: list[str] = []
        params: list[Any] = []
        if model:
            where.append("model = ?")
            params.append(model)
        if errors:
            where.append("error IS NOT NULL")
        if since:
            where.append("time >= ?")
            params.append(parse_since(since))
        if run_id:
            where.append("run_id = ?")
            params.append(run_id)
        present = self._inspect(_columns_present, _NO_COLUMNS)
        if not present:
            return  # no log yet
        # a log written by an older version, read without migrating it: absent columns are null
        selected = ", ".join(name if name in present else "NULL" for name in COLUMNS)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        sql = f"SELECT {selected} FROM calls{clause}"
        if limit:
            sql = f"SELECT * FROM ({sql} ORDER BY id DESC LIMIT ?) ORDER BY id"
            params.append(limit)
        else:
            sql += " ORDER BY id"
        # a separate cursor streams rows without holding the lock between them
        cursor = self._inspect(lambda db: db.execute(sql, params), None)
        if cursor is None:
            return
        try:
            for values in cursor:
                row = dict(zip(COLUMNS, values, strict=True))
                row["cache_hit"] = bool(row["cache_hit"])
                row["extra"] = _extra(row["extra"])
                yield row
        except sqlite3.Error as error:
            raise self._unreadable(str(error)) from None

    # -- provider batches ----------------------------------------------------------------
    def record_batch(self, entry: dict[str, Any]) -> None:
        """Add or update a submitted batch (``entry["id"]``: the provider's batch id); only
        the given columns change on an update."""
        row = {name: entry[name] for name in BATCH_COLUMNS if name in entry}
        row.setdefault("time", _now())
        row["updated"] = _now()
        names = list(row)
        marks = ", ".join("?" for _ in names)
        changes = ", ".join(
            f"{name} = excluded.{name}" for name in names if name not in ("id", "time")
        )
        sql = (
            f"INSERT INTO batches ({', '.join(names)}) VALUES ({marks}) "
            f"ON CONFLICT (id) DO UPDATE SET {changes}"
        )
        self._use(lambda db: db.execute(sql, list(row.values())), None, write=True)

    def batches(
        self, *, request_sha256: str | None = None, batch_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Submitted batches, oldest first (one file's, or one batch); empty when the log
        cannot be read (``available`` says whether it could)."""
        where, params = [], []
        if request_sha256 is not None:
            where.append("request_sha256 = ?")
            params.append(request_sha256)
        if batch_id is not None:
            where.append("id = ?")
            params.append(batch_id)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        sql = f"SELECT {', '.join(BATCH_COLUMNS)} FROM batches{clause} ORDER BY time, id"

        def read(db: sqlite3.Connection) -> list[dict[str, Any]]:
            if "batches" not in {row[0] for row in db.execute("SELECT name FROM sqlite_master")}:
                return []  # a log from before batches, opened read-only
            # a log from an older version, read without migrating it: absent columns are null
            present = {row[1] for row in db.execute("PRAGMA table_info(batches)")}
            selected = ", ".join(name if name in present else "NULL" for name in BATCH_COLUMNS)
            query = sql.replace(f"SELECT {', '.join(BATCH_COLUMNS)} ", f"SELECT {selected} ", 1)
            return [
                dict(zip(BATCH_COLUMNS, values, strict=True))
                for values in db.execute(query, params)
            ]

        return self._use(read, [], write=False)

    def __len__(self) -> int:
        if not self._inspect(_columns_present, _NO_COLUMNS):
            return 0
        count = self._inspect(lambda db: db.execute("SELECT count(*) FROM calls").fetchone()[0], 0)
        return int(count)

    def __enter__(self) -> RunLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
