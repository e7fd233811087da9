"""A SQLite response cache, keyed by ``Summarizer.cache_key`` (a content hash).

One row per key: the validated record and what producing it cost. The database is in
WAL mode with a busy timeout, so concurrent workers and several processes can read and
write it at once. Only what the pipeline hands over is stored (records, attempts,
token counts): never a request, a header or a key.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .paths import cache_path

__all__ = ["ResponseCache"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created REAL NOT NULL,
    hits INTEGER NOT NULL DEFAULT 0,
    last_hit REAL
)
"""

BUSY_TIMEOUT_MS = 30_000


def connect(path: Path) -> sqlite3.Connection:
    """A connection in WAL mode, shareable between threads (callers serialise use)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False, isolation_level=None
        )
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")  # durable across crashes in WAL mode
    except (OSError, sqlite3.Error) as error:
        raise ConfigError(f"cannot open {path}: {error}") from error
    return connection


class ResponseCache:
    """Implements the pipeline's ``Cache`` protocol (``get``/``put``) over SQLite.

    ``refresh=True`` ignores hits but still stores answers (re-ask the model, keep
    the cache up to date).
    """

    def __init__(self, path: Path | None = None, *, refresh: bool = False) -> None:
        self.path = Path(path) if path is not None else cache_path()
        self.refresh = refresh
        self._lock = threading.Lock()
        self._db = connect(self.path)
        with self._lock:
            self._db.execute(_SCHEMA)

    def get(self, key: str) -> dict[str, Any] | None:
        if self.refresh:
            return None
        with self._lock:
            row = self._db.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            self._db.execute(
                "UPDATE responses SET hits = hits + 1, last_hit = ? WHERE key = ?",
                (time.time(), key),
            )
        value: dict[str, Any] = json.loads(row[0])
        return value

    def put(self, key: str, value: dict[str, Any]) -> None:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        with self._lock:
            self._db.execute(
                "INSERT INTO responses (key, value, created) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value, created = excluded.created",
                (key, text, time.time()),
            )

    def __contains__(self, key: object) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM responses WHERE key = ?", (key,)).fetchone()
        return row is not None

    def __len__(self) -> int:
        with self._lock:
            (count,) = self._db.execute("SELECT count(*) FROM responses").fetchone()
        return int(count)

    def stats(self) -> dict[str, Any]:
        """Path, entries, hits served, bytes on disk, oldest and newest entry (unix time)."""
        with self._lock:
            entries, hits, oldest, newest = self._db.execute(
                "SELECT count(*), coalesce(sum(hits), 0), min(created), max(created) FROM responses"
            ).fetchone()
        size = sum(
            candidate.stat().st_size
            for candidate in (self.path, Path(f"{self.path}-wal"))
            if candidate.exists()
        )
        return {
            "path": str(self.path),
            "entries": int(entries),
            "hits": int(hits),
            "bytes": size,
            "oldest": oldest,
            "newest": newest,
        }

    def clear(self) -> int:
        """Delete every entry and return how many there were."""
        with self._lock:
            (count,) = self._db.execute("SELECT count(*) FROM responses").fetchone()
            self._db.execute("DELETE FROM responses")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.execute("VACUUM")
        return int(count)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
