"""What the SQLite stores (the response cache and the run log) share: opening a file, and
going on without it when it fails.

A store is a convenience, never a reason to lose a record. Every read and write goes
through ``SqliteStore._use``: when SQLite fails (a corrupt page, a broken header, a file
or folder that cannot be written) the store warns once, naming the file and the way out,
and from then on behaves as an empty store (reads miss, writes are dropped), so the
records are still produced. A store that can be read but not written (a read-only home)
keeps serving reads. Inspection (``cache stats``, ``logs``) goes through
``SqliteStore._inspect`` instead, which raises ``StoreError``: there is nothing to go on
with when the store is the thing asked for.

Writes that may wait (``SqliteStore.write_later``: a cache hit's counter, the log line of
an answer served from the cache) are queued and committed together, one transaction for
up to 256 of them or a second's worth, and on ``flush``, ``close``, any inspection and
interpreter exit. A committed write costs about 0.1 ms in WAL mode, which doubled the
time of a warm re-run.

Read-only stores (``read_only=True``) open the file with SQLite's ``mode=ro`` and never
create, migrate or write anything, so they work on a read-only home.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import itertools
import operator
import sqlite3
import threading
import time
import warnings
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, TypeVar

from .errors import StoreError
from .private import exposure, make_private_file, private_folder

__all__ = ["BUSY_TIMEOUT_MS", "SqliteStore", "StoreWarning", "Warn", "open_database"]

BUSY_TIMEOUT_MS = 30_000

QUEUE_LIMIT = 256
"""Queued writes committed together at most (see ``SqliteStore.write_later``)."""
QUEUE_SECONDS = 1.0
"""How long a queued write may wait for the next one before it is committed."""

Warn = Callable[[str], None]
"""Where a store's one-line warnings go (the CLI prints them on stderr)."""

T = TypeVar("T")

_READ_ONLY_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS}


class StoreWarning(UserWarning):
    """A store could not be used and the run goes on without it (library default)."""


def _warn_by_default(message: str) -> None:
    warnings.warn(message, StoreWarning, stacklevel=4)


def open_database(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection shareable between threads (callers serialise use).

    Writable: WAL mode with a busy timeout, so workers and processes share the file.
    Read-only: ``mode=ro``, falling back to ``immutable=1`` where SQLite cannot create
    the WAL index beside the file (a read-only folder). Raises ``OSError`` or
    ``sqlite3.Error``.
    """
    if read_only:
        connection = _connect(f"{path.resolve().as_uri()}?mode=ro")
        try:
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            connection.close()
            # Nobody can be writing a file in a folder we cannot write either.
            connection = _connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1")
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return connection
    private_folder(path.parent)
    make_private_file(path)  # 0600 before SQLite makes it; -wal and -shm follow its mode
    connection = _connect(str(path), uri=False)
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")  # durable across crashes in WAL mode
    except sqlite3.Error:
        connection.close()
        raise
    return connection


def _connect(target: str, *, uri: bool = True) -> sqlite3.Connection:
    connection = sqlite3.connect(
        target,
        uri=uri,
        timeout=BUSY_TIMEOUT_MS / 1000,
        check_same_thread=False,
        isolation_level=None,
    )
    connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return connection


def _sqlite_name(error: BaseException) -> str:
    return str(getattr(error, "sqlite_errorname", "") or "")


def is_read_only_error(error: BaseException) -> bool:
    """Whether an error means "cannot write here" rather than "this file is broken"."""
    if isinstance(error, OSError):
        return error.errno in _READ_ONLY_ERRNOS
    name = _sqlite_name(error)
    return name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM")) or (
        "readonly" in str(error)
    )


def _is_busy(error: BaseException) -> bool:
    return _sqlite_name(error).startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError):
        return error.strerror or str(error)
    return str(error) or type(error).__name__


class SqliteStore:
    """A SQLite file that degrades: see the module docstring.

    Subclasses name themselves (``label``), say how to repair and how to turn them off
    (``repair``, ``off_option``), and create or migrate their tables in ``_prepare``.
    """

    label: ClassVar[str] = "store"
    repair: ClassVar[str] = "move the file aside to start a new one"
    off_option: ClassVar[str] = ""
    read_only_effect: ClassVar[str] = "nothing new is stored"

    def __init__(self, path: Path, *, read_only: bool = False, warn: Warn | None = None) -> None:
        self.path = path
        self.read_only = read_only
        self._warn = warn or _warn_by_default
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._warned: set[str] = set()
        self.problem: str | None = None
        """Why the store is off (or read-only); None while it works."""
        self.writable = False
        self._queue: list[tuple[str, tuple[object, ...]]] = []
        self._queued_since = 0.0
        self._open()

    # -- state -------------------------------------------------------------------------
    @property
    def available(self) -> bool:
        """Whether reads reach the file (False once it failed, or when it does not exist)."""
        return self._db is not None

    def _open(self) -> None:
        if self.read_only:
            if not self.path.exists():
                return  # nothing stored yet: every read finds nothing
            try:
                self._db = open_database(self.path, read_only=True)
            except (OSError, sqlite3.Error) as error:
                self.problem = _reason(error)
            return
        try:
            db = open_database(self.path)
        except (OSError, sqlite3.Error) as error:
            self._open_failed(error)
            return
        try:
            self._prepare(db)
        except (OSError, sqlite3.Error) as error:
            db.close()
            self._open_failed(error)
            return
        self._db = db
        self.writable = True
        exposed = exposure(self.path)
        if exposed:
            self._warn_once("exposed", f"the {self.label} {self.path} is {exposed}")

    def _open_failed(self, error: BaseException) -> None:
        """A read-only file still serves reads; anything else turns the store off."""
        if is_read_only_error(error) and self.path.is_file():
            with contextlib.suppress(OSError, sqlite3.Error):
                self._db = open_database(self.path, read_only=True)
                self._became_read_only(error)
                return
        self._turn_off(error)

    def _turn_off(self, error: BaseException) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
        self._db = None
        self.writable = False
        self.problem = _reason(error)
        # a folder we may not write is fixed elsewhere than a damaged file
        fix = (
            "set CASE_SUMMARIZER_HOME to a writable folder"
            if is_read_only_error(error)
            else self.repair
        )
        self._warn_once(
            "off",
            f"the {self.label} {self.path} cannot be used ({self.problem}); going on without it"
            f" ({fix}; {self.off_option} turns it off)",
        )

    def _became_read_only(self, error: BaseException) -> None:
        self.writable = False
        self.problem = _reason(error)
        self._warn_once(
            "read-only",
            f"the {self.label} {self.path} is read-only ({self.problem}); {self.read_only_effect}"
            f" ({self.off_option} turns it off)",
        )

    def _warn_once(self, kind: str, message: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            self._warn(message)

    # -- use ---------------------------------------------------------------------------
    def _prepare(self, db: sqlite3.Connection) -> None:
        """Create or migrate the tables (writable stores only)."""

    def _use(self, action: Callable[[sqlite3.Connection], T], default: T, *, write: bool) -> T:
        """Run ``action`` on the file; on a SQLite failure warn once and return ``default``."""
        with self._lock:
            db = self._db
            if db is None or (write and not self.writable):
                return default
            try:
                return action(db)
            except sqlite3.Error as error:
                if _is_busy(error):  # another process held the file past the timeout
                    self._warn_once(
                        "busy", f"the {self.label} {self.path} is busy ({error}); skipped"
                    )
                elif write and is_read_only_error(error):
                    self._became_read_only(error)
                else:
                    self._turn_off(error)
                return default

    def write_later(self, sql: str, parameters: tuple[object, ...]) -> None:
        """Queue a write that need not be on disk at once (see the module docstring)."""
        if not self.writable:
            return
        now = time.monotonic()
        with self._lock:
            if not self._queue:
                self._queued_since = now
            self._queue.append((sql, parameters))
            due = len(self._queue) >= QUEUE_LIMIT or now - self._queued_since >= QUEUE_SECONDS
        _QUEUED.add(self)
        if due:
            self.flush()

    def flush(self) -> None:
        """Commit the queued writes, in one transaction."""
        with self._lock:
            queue, self._queue = self._queue, []
        if queue:
            self._use(lambda db: _commit_all(db, queue), None, write=True)

    def _inspect(self, action: Callable[[sqlite3.Connection], T], empty: T) -> T:
        """Run ``action`` for a command that shows the store; failures raise ``StoreError``."""
        self.flush()
        with self._lock:
            if self._db is None:
                if self.problem is not None:
                    raise self._unreadable(self.problem)
                return empty
            try:
                return action(self._db)
            except sqlite3.Error as error:
                raise self._unreadable(_reason(error)) from None

    def _unreadable(self, reason: str) -> StoreError:
        return StoreError(
            f"the {self.label} {self.path} cannot be read ({reason}); {self.repair}",
            path=str(self.path),
        )

    def close(self) -> None:
        self.flush()
        with self._lock:
            if self._db is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._db.close()
                self._db = None


def _commit_all(db: sqlite3.Connection, writes: list[tuple[str, tuple[object, ...]]]) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        # runs of one statement go to executemany, which binds them without a round
        # through Python per row (a queue is mostly one kind: hit counters, log lines)
        for sql, run in itertools.groupby(writes, key=operator.itemgetter(0)):
            db.executemany(sql, [parameters for _, parameters in run])
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


_QUEUED: weakref.WeakSet[SqliteStore] = weakref.WeakSet()
"""Stores that have queued writes (each flushed at exit, whoever forgot to close it)."""


@atexit.register
def _flush_at_exit() -> None:
    for store in list(_QUEUED):
        with contextlib.suppress(Exception):
            store.flush()
