"""Where a review lives: one SQLite file per reviewer beside the records file.

Every change is one transaction, committed before the page hears back: a closed tab,
a killed server or a crash loses nothing that was answered. Each record's review row
carries a version; a change names the version it was made on and is refused when the
row has moved on (another tab or window saved first), so two tabs never overwrite each
other silently. An ``events`` table keeps every change, append-only, with who made it
and the row as it was before, so ``undo`` puts the last change back (itself a change).

The records file itself is never written: the store holds the reviewed record (when it
was edited), the offsets of quotes selected in the abstract, each field's status, who set
it and when, notes, the include/exclude decision, and whether the record is done.
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

__all__ = [
    "DECISIONS",
    "ConflictError",
    "FieldReview",
    "RecordReview",
    "ReviewStore",
    "default_store_path",
]

STORE_SUFFIX = ".review.sqlite"
"""The single store of a review made before reviewers had their own (still opened)."""

DECISIONS = ("include", "exclude")
"""A record's include/exclude decision (None: not decided)."""

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
    # who, why and what next; undo (the row before each change)
    """
    ALTER TABLE reviews ADD COLUMN note TEXT;
    ALTER TABLE reviews ADD COLUMN notes TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE reviews ADD COLUMN decision TEXT;
    ALTER TABLE reviews ADD COLUMN decision_reason TEXT;
    ALTER TABLE events ADD COLUMN reviewer TEXT;
    ALTER TABLE events ADD COLUMN before TEXT;
    CREATE INDEX events_by_record ON events (id, seq);
    """,
]

_ROW_COLUMNS = (
    "id, version, record, offsets, fields, done_at, updated_at, base_hash, "
    "note, notes, decision, decision_reason"
)


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


class NothingToUndo(SummarizerError):
    """Undo asked of a record with no change left to undo."""

    exit_code = 2


def default_store_path(records: Path) -> Path:
    """``RECORDS.jsonl.review.sqlite``, beside the records file: the store of a review
    made before each reviewer had their own (see ``review.reviewers.store_for``)."""
    return records.with_name(records.name + STORE_SUFFIX)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class FieldReview:
    """A field's review status (accepted, corrected, rejected), when and by whom."""

    status: str
    set_at: str
    by: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"status": self.status, "set_at": self.set_at, "by": self.by}

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> FieldReview:
        return cls(str(value["status"]), str(value["set_at"]), value.get("by"))


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
    note: str | None = None
    """The reviewer's note on the record."""
    notes: dict[str, str] = field(default_factory=dict)
    """The reviewer's note on each field that has one."""
    decision: str | None = None
    """include | exclude | None (not decided)."""
    decision_reason: str | None = None

    @property
    def done(self) -> bool:
        return self.done_at is not None

    @property
    def started(self) -> bool:
        return self.version > 0

    def snapshot(self) -> dict[str, Any]:
        """Everything a change can alter (what ``undo`` puts back), as JSON."""
        return {
            "record": self.record,
            "offsets": {path: list(pair) for path, pair in self.offsets.items()},
            "fields": {name: value.to_dict() for name, value in self.fields.items()},
            "done_at": self.done_at,
            "base_hash": self.base_hash,
            "note": self.note,
            "notes": dict(self.notes),
            "decision": self.decision,
            "decision_reason": self.decision_reason,
        }

    def restored(self, snapshot: dict[str, Any]) -> RecordReview:
        """This review with a snapshot's contents (version and time unchanged)."""
        return replace(
            self,
            record=snapshot.get("record"),
            offsets=_offsets(snapshot.get("offsets") or {}),
            fields=_fields(snapshot.get("fields") or {}),
            done_at=snapshot.get("done_at"),
            base_hash=snapshot.get("base_hash"),
            note=snapshot.get("note"),
            notes=dict(snapshot.get("notes") or {}),
            decision=snapshot.get("decision"),
            decision_reason=snapshot.get("decision_reason"),
        )


def _offsets(value: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {path: (int(pair[0]), int(pair[1])) for path, pair in value.items()}


def _fields(value: dict[str, Any]) -> dict[str, FieldReview]:
    return {name: FieldReview.from_dict(item) for name, item in value.items()}


def _row(row: sqlite3.Row) -> RecordReview:
    return RecordReview(
        id=row["id"],
        version=row["version"],
        record=json.loads(row["record"]) if row["record"] is not None else None,
        offsets=_offsets(json.loads(row["offsets"])),
        fields=_fields(json.loads(row["fields"])),
        done_at=row["done_at"],
        updated_at=row["updated_at"],
        base_hash=row["base_hash"],
        note=row["note"],
        notes=json.loads(row["notes"]),
        decision=row["decision"],
        decision_reason=row["decision_reason"],
    )


class ReviewStore:
    """The SQLite file of one review (see the module docstring).

    ``reviewer`` is stamped on every change; the first to change the store is kept as
    its owner (``owner``).
    """

    def __init__(self, path: Path, *, reviewer: str | None = None) -> None:
        self.path = path
        self.reviewer = reviewer
        try:
            if path.is_symlink():
                raise OSError(
                    f"{path} is a symbolic link; a review store is never opened through one"
                )
            make_private_file(path)  # 0600: it holds the abstracts; -wal/-shm follow its mode
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._lock = threading.Lock()
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # a change answered is a change on disk
            self._db.execute("PRAGMA busy_timeout=5000")
            self._migrate()
        except (OSError, sqlite3.Error) as error:
            raise SummarizerError(f"{path}: cannot open the review store: {error}") from None
        exposed = exposure(path)
        if exposed:
            warnings.warn(f"the review store {path} is {exposed}", StoreWarning, stacklevel=2)

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
            row = self._db.execute(
                f"SELECT {_ROW_COLUMNS} FROM reviews WHERE id = ?", (record_id,)
            ).fetchone()
        return _row(row) if row is not None else RecordReview(id=record_id)

    def all(self) -> dict[str, RecordReview]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_ROW_COLUMNS} FROM reviews").fetchall()
        return {row["id"]: _row(row) for row in rows}

    @property
    def owner(self) -> str | None:
        """The reviewer who first changed this store (None: nobody yet, or a store made
        before reviewers were recorded)."""
        return self.get_state("reviewer")

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
            current = self._current(db, record_id, version)
            return self._write(db, current, apply(current), action, detail)

    def undo(self, record_id: str, *, version: int) -> tuple[RecordReview, dict[str, Any]]:
        """Put back the record's last change not yet undone (an ``undo`` change itself);
        returns the review and the event undone. Raises ConflictError, NothingToUndo."""
        with self._transaction() as db:
            current = self._current(db, record_id, version)
            rows = db.execute(
                "SELECT seq, action, detail, before FROM events WHERE id = ? ORDER BY seq DESC",
                (record_id,),
            ).fetchall()
            undone: set[int] = set()
            target = None
            for row in rows:
                detail = json.loads(row["detail"])
                if row["action"] == "undo":
                    undone.add(int(detail["undid"]))
                elif row["seq"] not in undone:
                    target = row
                    break
            if target is None:
                raise NothingToUndo(f"{record_id}: nothing to undo")
            if target["before"] is None:
                raise NothingToUndo(
                    f"{record_id}: the last change was made by a version without undo; "
                    "it cannot be undone"
                )
            event = {"seq": target["seq"], "action": target["action"]}
            event["detail"] = json.loads(target["detail"])
            restored = current.restored(json.loads(target["before"]))
            detail = {"undid": target["seq"], "action": target["action"]}
            return self._write(db, current, restored, "undo", detail), event

    def _current(self, db: sqlite3.Connection, record_id: str, version: int) -> RecordReview:
        row = db.execute(
            f"SELECT {_ROW_COLUMNS} FROM reviews WHERE id = ?", (record_id,)
        ).fetchone()
        current = _row(row) if row is not None else RecordReview(id=record_id)
        if current.version != version:
            raise ConflictError(record_id, expected=version, current=current.version)
        return current

    def _write(
        self,
        db: sqlite3.Connection,
        current: RecordReview,
        changed: RecordReview,
        action: str,
        detail: dict[str, Any],
    ) -> RecordReview:
        at = now()
        changed = replace(changed, version=current.version + 1, updated_at=at)
        db.execute(
            f"INSERT OR REPLACE INTO reviews ({_ROW_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                changed.id,
                changed.version,
                json.dumps(changed.record, ensure_ascii=False)
                if changed.record is not None
                else None,
                json.dumps({path: list(pair) for path, pair in changed.offsets.items()}),
                json.dumps({name: value.to_dict() for name, value in changed.fields.items()}),
                changed.done_at,
                changed.updated_at,
                changed.base_hash,
                changed.note,
                json.dumps(changed.notes, ensure_ascii=False),
                changed.decision,
                changed.decision_reason,
            ),
        )
        db.execute(
            "INSERT INTO events (at, id, version, action, detail, reviewer, before) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                at,
                changed.id,
                changed.version,
                action,
                json.dumps(detail, ensure_ascii=False),
                self.reviewer,
                json.dumps(current.snapshot(), ensure_ascii=False),
            ),
        )
        if (
            self.reviewer
            and db.execute("SELECT 1 FROM state WHERE key = 'reviewer'").fetchone() is None
        ):
            db.execute("INSERT INTO state (key, value) VALUES ('reviewer', ?)", (self.reviewer,))
        return changed

    def events(self, record_id: str | None = None) -> list[dict[str, Any]]:
        """The change log (oldest first), of one record or all."""
        sql = "SELECT seq, at, id, version, action, detail, reviewer FROM events"
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
