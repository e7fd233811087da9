"""Where a review lives: one SQLite file beside the records file.

Every change is one transaction, committed before the page hears back: a closed tab,
a killed server or a crash loses nothing that was answered. Each record's review row
carries a version; a change names the version it was made on and is refused when the
row has moved on (another tab or window saved first), so two tabs never overwrite each
other silently. An ``events`` table keeps every change, append-only, for the record.

The records file itself is never written: the store holds the reviewed record (when it
was edited), the offsets of quotes selected in the abstract, each field's status and
when it was set, and whether the record is done.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import SummarizerError
from ..private import exposure, make_private_file
from ..sqlite_store import StoreWarning

__all__ = ["ConflictError", "FieldReview", "RecordReview", "ReviewStore", "default_store_path"]

STORE_SUFFIX = ".review.sqlite"

_MIGRATIONS: list[str] = [
    """
    CREATE TABLE reviews (
        id TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        record TEXT,
        offsets TEXT NOT NULL DEFAULT '{}',
        fields TEXT NOT NULL DEFAULT '{}',
        done_at TEXT,
        updated_at TEXT NOT NULL,
        base_hash TEXT
    );
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        id TEXT NOT NULL,
        version INTEGER NOT NULL,
        action TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
]


class ConflictError(SummarizerError):
    """A change made on an old version of a record (another tab saved first)."""

    def __init__(self, record_id: str, *, expected: int, current: int) -> None:
        self.record_id = record_id
        self.expected = expected
        self.current = current
        super().__init__(
            f"{record_id} was changed in another tab or window since this page loaded "
            f"(version {expected}, now {current}); reload to see the latest. "
            "This change was not saved."
        )


def default_store_path(records: Path) -> Path:
    """``RECORDS.jsonl.review.sqlite``, beside the records file."""
    return records.with_name(records.name + STORE_SUFFIX)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class FieldReview:
    """A field's review status (accepted, corrected, rejected) and when it was set."""

    status: str
    set_at: str

    def to_dict(self) -> dict[str, str]:
        return {"status": self.status, "set_at": self.set_at}


@dataclass(frozen=True, slots=True)
class RecordReview:
    """The review of one record; ``record`` is None while nothing was edited."""

    id: str
    version: int = 0
    record: dict[str, Any] | None = None
    offsets: dict[str, tuple[int, int]] = field(default_factory=dict)
    fields: dict[str, FieldReview] = field(default_factory=dict)
    done_at: str | None = None
    updated_at: str | None = None
    base_hash: str | None = None

    @property
    def done(self) -> bool:
        return self.done_at is not None

    @property
    def started(self) -> bool:
        return self.version > 0


def _row(row: sqlite3.Row) -> RecordReview:
    fields = {name: FieldReview(**value) for name, value in json.loads(row["fields"]).items()}
    offsets = {
        path: (int(pair[0]), int(pair[1])) for path, pair in json.loads(row["offsets"]).items()
    }
    return RecordReview(
        id=row["id"],
        version=row["version"],
        record=json.loads(row["record"]) if row["record"] is not None else None,
        offsets=offsets,
        fields=fields,
        done_at=row["done_at"],
        updated_at=row["updated_at"],
        base_hash=row["base_hash"],
    )


class ReviewStore:
    """The SQLite file of one review (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            if path.is_symlink():
                raise OSError(
                    f"{path} is a symbolic link; a review store is never opened through one"
                )
            make_private_file(path)  # 0600: it holds the abstracts; -wal/-shm follow its mode
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        except (OSError, sqlite3.Error) as error:
            raise SummarizerError(f"{path}: cannot open the review store: {error}") from None
        exposed = exposure(path)
        if exposed:
            warnings.warn(f"the review store {path} is {exposed}", StoreWarning, stacklevel=2)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a change answered is a change on disk
        self._db.execute("PRAGMA busy_timeout=5000")
        self._migrate()

    def _migrate(self) -> None:
        with self._transaction() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(_MIGRATIONS[version:], version + 1):
                for statement in script.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def get(self, record_id: str) -> RecordReview:
        with self._lock:
            row = self._db.execute("SELECT * FROM reviews WHERE id = ?", (record_id,)).fetchone()
        return _row(row) if row is not None else RecordReview(id=record_id)

    def all(self) -> dict[str, RecordReview]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM reviews").fetchall()
        return {row["id"]: _row(row) for row in rows}

    def change(
        self,
        record_id: str,
        *,
        version: int,
        action: str,
        detail: dict[str, Any],
        apply: Callable[[RecordReview], RecordReview],
    ) -> RecordReview:
        """Apply one change to the review of ``record_id`` made on ``version``.

        Raises ConflictError when the stored version is not ``version``.
        """
        with self._transaction() as db:
            row = db.execute("SELECT * FROM reviews WHERE id = ?", (record_id,)).fetchone()
            current = _row(row) if row is not None else RecordReview(id=record_id)
            if current.version != version:
                raise ConflictError(record_id, expected=version, current=current.version)
            at = now()
            changed = replace(apply(current), version=version + 1, updated_at=at)
            db.execute(
                "INSERT OR REPLACE INTO reviews "
                "(id, version, record, offsets, fields, done_at, updated_at, base_hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record_id,
                    changed.version,
                    json.dumps(changed.record, ensure_ascii=False)
                    if changed.record is not None
                    else None,
                    json.dumps({path: list(pair) for path, pair in changed.offsets.items()}),
                    json.dumps({name: value.to_dict() for name, value in changed.fields.items()}),
                    changed.done_at,
                    changed.updated_at,
                    changed.base_hash,
                ),
            )
            db.execute(
                "INSERT INTO events (at, id, version, action, detail) VALUES (?, ?, ?, ?, ?)",
                (at, record_id, changed.version, action, json.dumps(detail, ensure_ascii=False)),
            )
        return changed

    def events(self, record_id: str | None = None) -> list[dict[str, Any]]:
        """The change log (oldest first), of one record or all."""
        sql = "SELECT seq, at, id, version, action, detail FROM events"
        arguments: tuple[str, ...] = ()
        if record_id is not None:
            sql += " WHERE id = ?"
            arguments = (record_id,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY seq", arguments).fetchall()
        return [dict(row) | {"detail": json.loads(row["detail"])} for row in rows]

    def get_state(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return row["value"] if row is not None else None

    def set_state(self, key: str, value: str) -> None:
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", (key, value))

    def close(self) -> None:
        with self._lock:
            self._db.close()
