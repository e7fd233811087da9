"""A resumable JSON Lines file of results: the store behind every file output.

``LineStore`` opens (or creates) the file, takes an exclusive lock on it, makes it
hold whole, readable lines only, and appends one line per outcome:

- The lock is ``flock`` on the file itself, so it belongs to the file (device and
  inode), not to the path: a second run through a symlink or a hard link to the same
  file is refused like a second run on the same path.
- Each line goes out in a single ``write`` on an append handle (fsynced about once a
  second and at the end), so a killed run leaves whole lines, at worst followed by one
  partial line. Opening again cuts the partial line and reads the ids already there
  (they are skipped: nothing is done twice); ``retry_failed`` first rewrites the file
  without its error lines (temp file + ``os.replace``, then locked again): all of them,
  or those of the ids it holds when it is a set of ids (a provider batch's collect).

``atomic_write`` writes any other file the same safe way: a temporary file beside it,
fsynced, moved into place; the old file stays whole until the new one is complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
import time
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..errors import OutputError
from ..private import open_store

__all__ = [
    "LineStore",
    "OutputState",
    "atomic_write",
    "file_mode",
    "json_line",
    "read_output_state",
    "same_file",
    "sweep_temporaries",
    "temporary_beside",
]

FSYNC_INTERVAL_S = 1.0


def to_json(value: Any) -> str:
    """One JSON value as a line holds it: non-ASCII written as is."""
    return json.dumps(value, ensure_ascii=False)


def json_line(value: Any) -> bytes:
    """One JSON Lines line, UTF-8 (non-ASCII written as is, as ``json.dumps`` with
    ``ensure_ascii=False`` writes it)."""
    return (to_json(value) + "\n").encode("utf-8")


Retry = bool | Container[str]
"""Error lines to redo: none, all, or those of these ids."""


@dataclass(slots=True)
class OutputState:
    """The ids already in an output file, and whether each is an error line."""

    done: dict[str, bool] = field(default_factory=dict)
    """id → True when its line is an error."""
    good_end: int = 0
    """Byte offset after the last complete, readable line."""
    bad_lines: int = 0
    """Complete lines that are not JSON objects with an id (kept out on rewrite)."""
    partial_tail: bool = False

    @property
    def errors(self) -> int:
        return sum(self.done.values())


def _parse_line(line: bytes) -> tuple[str, bool] | None:
    try:
        value = json.loads(line)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(value, dict) or not isinstance(value.get("id"), str):
        return None
    return value["id"], "record" not in value


def _redo(retry_failed: Retry, ident: str) -> bool:
    return retry_failed if isinstance(retry_failed, bool) else ident in retry_failed


def read_output_state(path: Path) -> OutputState:
    """Scan a JSON Lines output (streamed; memory grows with the number of ids only)."""
    state = OutputState()
    if not path.exists():
        return state
    offset = 0
    with path.open("rb") as handle:
        for line in handle:
            if not line.endswith(b"\n"):
                state.partial_tail = True  # a killed run's half-written last line
                break
            offset += len(line)
            if not line.strip():
                state.good_end = offset
                continue
            parsed = _parse_line(line)
            if parsed is None:
                state.bad_lines += 1
                continue
            ident, is_error = parsed
            previous = state.done.get(ident)
            # a good line wins over an error line for the same id
            state.done[ident] = is_error if previous is None else previous and is_error
            state.good_end = offset
    return state


def iter_lines(path: Path) -> Iterator[dict[str, Any]]:
    """The readable JSON objects of a JSON Lines file, streamed."""
    with path.open("rb") as handle:
        for line in handle:
            if not line.endswith(b"\n") or not line.strip():
                continue
            with contextlib.suppress(ValueError, UnicodeDecodeError, RecursionError):
                value = json.loads(line)
                if isinstance(value, dict):
                    yield value


def same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def temporary_beside(path: Path) -> tuple[int, str]:
    """A new temporary file beside ``path`` (``.NAME.XXXX.tmp``, 0600), locked for as long
    as its descriptor is open; the temporaries a killed run left beside it are removed
    first (they hold abstracts). A temporary whose lock is held belongs to a live writer
    and is left alone."""
    sweep_temporaries(path)
    try:
        descriptor, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise OutputError(f"cannot write: {error.strerror or error}", path=str(path)) from error
    _flock(descriptor, blocking=True)
    return descriptor, temp


def sweep_temporaries(path: Path) -> int:
    """Remove the temporaries of ``path`` no live writer holds; how many went."""
    prefix = f".{path.name}."
    removed = 0
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return 0
    for entry in entries:
        if not (entry.name.startswith(prefix) and entry.name.endswith(".tmp")):
            continue
        if not entry.is_file(follow_symlinks=False):
            continue
        try:
            descriptor = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            if _flock(descriptor, blocking=False):
                os.unlink(entry.path)
                removed += 1
        except OSError:
            pass
        finally:
            os.close(descriptor)
    return removed


def _flock(descriptor: int, *, blocking: bool) -> bool:
    """An exclusive lock on an open file; False when another process holds it."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return True
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


def atomic_write(path: Path, write: Callable[[IO[str]], None]) -> None:
    """Write ``path`` through ``write`` into a temporary file beside it, then move it
    into place (``os.replace``): a failure leaves the old file untouched and removes the
    temporary; one left by a killed run is removed by the next write."""
    folder = path.parent
    descriptor, temp = temporary_beside(path)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
            os.chmod(temp, file_mode(path))  # mkstemp makes it 0600
            os.replace(temp, path)  # still locked: a sweeper never takes a file being moved
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_dir(folder)


def file_mode(path: Path) -> int:
    """The mode the file has, or a new file's mode under the umask."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _lock(descriptor: int, path: Path) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise OutputError("is being written by another run", path=str(path)) from None


def _open_locked(path: Path, *, hidden: bool = False) -> int:
    """An append handle on ``path`` (created if missing), locked; OutputError otherwise. A
    ``hidden`` store (beside a rendered output) is created 0600 and never opened through a
    symbolic link."""
    if path.is_dir():
        raise OutputError("is a folder, not a file", path=str(path))
    blocking = next((p for p in path.parents if p.exists()), None)
    if blocking is not None and not blocking.is_dir():
        raise OutputError(f"cannot write: {blocking} is not a folder", path=str(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        descriptor = open_store(path, flags) if hidden else os.open(path, flags, 0o666)
    except OSError as error:
        raise OutputError(f"cannot write: {error.strerror or error}", path=str(path)) from error
    try:
        _lock(descriptor, path)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


class FileLock:
    """An exclusive lock on an existing file (its device and inode), held until released."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._fd: int | None = os.open(path, os.O_RDONLY)
        except OSError as error:
            raise OutputError(f"cannot open: {error.strerror or error}", path=str(path)) from error
        try:
            _lock(self._fd, path)
        except BaseException:
            os.close(self._fd)
            self._fd = None
            raise

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class LineStore:
    """A locked, resumable JSON Lines file; see the module doc."""

    def __init__(
        self, path: Path, *, resume: bool = True, retry_failed: Retry = False, hidden: bool = False
    ) -> None:
        self.path = path
        self.hidden = hidden
        self.state = OutputState()
        self.previously_failed = 0
        self.retried = 0
        self.repaired = 0
        self._fd: int | None = _open_locked(path, hidden=hidden)
        self._synced = time.monotonic()
        try:
            self._prepare(resume=resume, retry_failed=retry_failed)
        except BaseException:
            self.close()
            raise

    def _prepare(self, *, resume: bool, retry_failed: Retry) -> None:
        assert self._fd is not None
        if not resume:
            os.ftruncate(self._fd, 0)
            return
        state = read_output_state(self.path)
        redo = {
            ident for ident, error in state.done.items() if error and _redo(retry_failed, ident)
        }
        if state.bad_lines or redo:

            def keep(line: bytes) -> bool:
                parsed = _parse_line(line)
                return parsed is not None and not (parsed[1] and parsed[0] in redo)

            self._rewrite(keep)
            self.repaired = state.bad_lines + int(state.partial_tail)
            if redo:
                self.retried = len(redo)
                state.done = {
                    ident: error for ident, error in state.done.items() if ident not in redo
                }
        elif state.partial_tail:
            os.ftruncate(self._fd, state.good_end)
            self.repaired = 1
        self.state = state
        self.previously_failed = state.errors

    def _rewrite(self, keep: Callable[[bytes], bool]) -> None:
        """The file with only the complete lines ``keep`` accepts, atomically; the new
        file (a new inode) is locked before going on."""

        def write(out: IO[str]) -> None:
            with self.path.open("rb") as source:
                for line in source:
                    if line.endswith(b"\n") and line.strip() and keep(line):
                        out.write(line.decode("utf-8"))

        atomic_write(self.path, write)
        old, self._fd = self._fd, _open_locked(self.path, hidden=self.hidden)
        if old is not None:
            os.close(old)

    def append(self, payload: dict[str, Any]) -> None:
        """One whole line, in one ``write`` (fsynced at intervals)."""
        self.append_json(to_json(payload))

    def append_json(self, text: str) -> None:
        """``append`` for a payload already written as JSON text (one line of it)."""
        assert self._fd is not None, "append to a closed store"
        data = (text + "\n").encode("utf-8")
        try:
            written = os.write(self._fd, data)
            while written < len(data):  # only on a full disk or a signal; keep the line whole
                written += os.write(self._fd, data[written:])
        except OSError as error:  # a half line is cut when the store is opened again
            raise OutputError(
                f"cannot write: {error.strerror or error}; what was written is kept, and the "
                "same command resumes once this is fixed",
                path=str(self.path),
            ) from error
        now = time.monotonic()
        if now - self._synced >= FSYNC_INTERVAL_S:
            os.fsync(self._fd)
            self._synced = now

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
