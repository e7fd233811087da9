"""A SQLite response cache, keyed by ``Summarizer.cache_key`` (a content hash).

One row per key: the validated record and what producing it cost. A second table keeps
each cleaned abstract under ``summarizer.clean.reuse.cleaning_key``, so a warm re-run does
not clean its pages again either. The database is in
WAL mode with a busy timeout, so concurrent workers and several processes can read and
write it at once. Only what the pipeline hands over is stored (records, attempts,
token counts): never a request, a header or a key.

The cache degrades instead of failing (see ``summarizer.sqlite_store``): a corrupt or
unwritable file is reported once and the run goes on without it; an entry that cannot
be read back is a miss.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from .errors import StoreError
from .paths import cache_path
from .sqlite_store import BUSY_TIMEOUT_MS, SqliteStore, StoreWarning, Warn

__all__ = ["BUSY_TIMEOUT_MS", "ResponseCache", "StoreWarning"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created REAL NOT NULL,
    hits INTEGER NOT NULL DEFAULT 0,
    last_hit REAL
);
CREATE TABLE IF NOT EXISTS abstracts (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created REAL NOT NULL
)
"""


class ResponseCache(SqliteStore):
    """Implements the pipeline's ``Cache`` protocol (``get``/``put``) over SQLite.

    ``refresh=True`` ignores hits but still stores answers (re-ask the model, keep
    the cache up to date). ``read_only=True`` opens the file without writing anything
    (``cache stats``). ``warn`` receives the one-line warning when the file cannot be
    used (default: a ``StoreWarning``).
    """

    label = "response cache"
    repair = "`case-summarizer cache clear` recreates it"
    off_option = "--no-cache"
    read_only_effect = "cached answers are used but new ones are not stored"

    def __init__(
        self,
        path: Path | None = None,
        *,
        refresh: bool = False,
        read_only: bool = False,
        warn: Warn | None = None,
    ) -> None:
        self.refresh = refresh
        super().__init__(
            Path(path) if path is not None else cache_path(), read_only=read_only, warn=warn
        )

    def _prepare(self, db: sqlite3.Connection) -> None:
        db.executescript(_SCHEMA)

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored value, or None (a miss: absent, unreadable, or the cache is off)."""
        if self.refresh:
            return None
        row = self._use(
            lambda db: db.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone(),
            None,
            write=False,
        )
        if row is None:
            return None
        self.write_later(
            "UPDATE responses SET hits = hits + 1, last_hit = ? WHERE key = ?", (time.time(), key)
        )
        try:
            value = json.loads(row[0])
        except (TypeError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        self._use(
            lambda db: db.execute(
                "INSERT INTO responses (key, value, created) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value, created = excluded.created",
                (key, text, time.time()),
            ),
            None,
            write=True,
        )

    def get_abstract(self, key: str) -> dict[str, Any] | None:
        """A cleaned abstract's stored form (``Abstract.to_stored``), or None."""
        if self.refresh:
            return None
        row = self._use(lambda db: _abstract_row(db, key), None, write=False)
        try:
            value = json.loads(row[0]) if row is not None else None
        except (TypeError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def put_abstract(self, key: str, value: dict[str, Any]) -> None:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        self._use(
            lambda db: db.execute(
                "INSERT OR REPLACE INTO abstracts (key, value, created) VALUES (?, ?, ?)",
                (key, text, time.time()),
            ),
            None,
            write=True,
        )

    def __contains__(self, key: object) -> bool:
        row = self._inspect(
            lambda db: db.execute("SELECT 1 FROM responses WHERE key = ?", (key,)).fetchone(), None
        )
        return row is not None

    def __len__(self) -> int:
        return int(self._inspect(lambda db: db.execute(_COUNT).fetchone()[0], 0))

    def stats(self) -> dict[str, Any]:
        """Path, entries, hits served, cleaned abstracts kept, bytes on disk, oldest and
        newest entry (unix time)."""
        entries, hits, oldest, newest = self._inspect(
            lambda db: db.execute(
                "SELECT count(*), coalesce(sum(hits), 0), min(created), max(created) FROM responses"
            ).fetchone(),
            (0, 0, None, None),
        )
        abstracts = self._inspect(_abstract_count, 0)
        return {
            "path": str(self.path),
            "entries": int(entries),
            "hits": int(hits),
            "abstracts": abstracts,
            "bytes": sum(_size(candidate) for candidate in _files(self.path)),
            "oldest": oldest,
            "newest": newest,
        }

    def clear(self) -> int:
        """Delete every entry and return how many there were (``StoreError`` when the file
        cannot be read: ``recreate`` starts a fresh one)."""
        if not self.writable and self.available:
            raise StoreError(
                f"the {self.label} {self.path} cannot be changed here"
                f" ({self.problem or 'opened read-only'}); nothing was removed",
                path=str(self.path),
                corrupt=False,
            )

        def delete(db: sqlite3.Connection) -> int:
            (count,) = db.execute(_COUNT).fetchone()
            db.execute("DELETE FROM responses")
            db.execute("DELETE FROM abstracts")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            db.execute("VACUUM")
            return int(count)

        return self._inspect(delete, 0)

    def recreate(self) -> None:
        """Remove the file (and its WAL files) and start an empty cache in its place."""
        self.close()
        try:
            for candidate in _files(self.path):
                with contextlib.suppress(FileNotFoundError):
                    candidate.unlink()
        except OSError as error:
            raise StoreError(
                f"cannot remove the {self.label} {self.path}: {error.strerror or error}",
                path=str(self.path),
            ) from None
        self._warned.clear()
        self.problem = None
        self._open()
        if self.problem is not None:
            raise StoreError(
                f"cannot recreate the {self.label} {self.path}: {self.problem}",
                path=str(self.path),
            )

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_COUNT = "SELECT count(*) FROM responses"


def _abstract_row(db: sqlite3.Connection, key: str) -> tuple[str] | None:
    try:
        row: tuple[str] | None = db.execute(
            "SELECT value FROM abstracts WHERE key = ?", (key,)
        ).fetchone()
    except sqlite3.OperationalError as error:
        if _no_abstracts_table(error):
            return None
        raise
    return row


def _abstract_count(db: sqlite3.Connection) -> int:
    try:
        return int(db.execute("SELECT count(*) FROM abstracts").fetchone()[0])
    except sqlite3.OperationalError as error:
        if _no_abstracts_table(error):
            return 0
        raise


def _no_abstracts_table(error: sqlite3.OperationalError) -> bool:
    """A file from before abstracts were kept, opened read-only (so not upgraded)."""
    return "no such table" in str(error)


def _files(path: Path) -> tuple[Path, ...]:
    return (path, Path(f"{path}-wal"), Path(f"{path}-shm"))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
