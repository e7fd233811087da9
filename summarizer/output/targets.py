"""Where a batch's outcomes go: every output format is a writer on the one runner.

- ``StreamTarget``: a text stream (stdout): each outcome is written as it finishes, in
  any format (``Writer``).
- ``LinesTarget``: a JSON Lines file (``jsonl``, and ``json`` for a batch): the file is
  its own resumable store (``LineStore``).
- ``RenderedTarget``: a Markdown, CSV or HTML file (or one pretty JSON object): outcomes
  go to a hidden resumable JSON Lines sidecar beside it (``.NAME.results.jsonl``, kept
  so a rerun resumes and ``--retry-failed`` works), and the file is rendered from the
  sidecar when the run ends, written to a temporary file and moved into place, so it
  is never truncated or half-written. A run that stops early (Ctrl-C, an unreadable
  input, the cost budget spent) renders what is done so far, marked partial: a
  Markdown or HTML file by a comment line (``PARTIAL_MARK``) after its first line; a
  CSV table stays a plain table (a comment line or marker row would be read as data
  by every CSV reader, and a first line that is not the header hides the table from
  ``ownership``), and the command says it is partial.
- ``SingleTarget``: one record (``single``) in a rendered format to a file: written
  atomically once it succeeded; nothing is touched when it failed.

``check_output`` refuses, before anything is touched, an output that is one of the
inputs (same device and inode, whatever the path) or lies inside an input folder, and an
existing file that is not one of our outputs (``ownership``).
"""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Protocol, cast

from ..errors import OutputError
from ..results import Failure, Result
from . import Writer
from .contract import read_results
from .line_store import FileLock, LineStore, Retry, atomic_write, same_file
from .ownership import RESULT_KINDS, check_overwrite

__all__ = [
    "LINE_FORMATS",
    "Target",
    "check_output",
    "open_target",
    "sidecar_path",
]

LINE_FORMATS = ("json", "jsonl")
"""Formats whose batch file is JSON Lines: the file is its own store."""

Outcome = Result | Failure


class Target(Protocol):
    """What the runner's outcomes are written to."""

    done: dict[str, bool]
    """Ids already done by an earlier run (True: an error line), to skip."""
    previously_failed: int
    retried: int
    repaired: int
    path: Path | None

    def write(self, outcome: Outcome) -> None: ...

    def finish(self, *, complete: bool) -> None:
        """Close, and write what is written at the end; not ``complete``: the run
        stopped before every record was done."""
        ...


class _NoState:
    done: dict[str, bool]
    previously_failed = 0
    retried = 0
    repaired = 0

    def __init__(self) -> None:
        self.done = {}


class StreamTarget(_NoState):
    """Outcomes written to a text stream as they finish."""

    path: Path | None = None

    def __init__(self, stream: IO[str] | None, format: str, *, single: bool) -> None:
        super().__init__()
        self.single = single
        self._writer = Writer(stream or sys.stdout, format, single=single)

    def write(self, outcome: Outcome) -> None:
        if self.single and isinstance(outcome, Failure):
            return  # one record that failed is an error message, not output
        self._writer.write(outcome)

    def finish(self, *, complete: bool) -> None:
        self._writer.close()


class _Stored:
    """A target whose outcomes go to a ``LineStore``, one line each."""

    path: Path | None

    def _open(self, store: LineStore) -> None:
        self._store = store
        self.done = store.state.done
        self.previously_failed = store.previously_failed
        self.retried = store.retried
        self.repaired = store.repaired

    def write(self, outcome: Outcome) -> None:
        self._store.append_json(outcome.to_json())


class LinesTarget(_Stored):
    """A resumable JSON Lines file."""

    def __init__(self, path: Path, *, resume: bool, retry_failed: Retry) -> None:
        self.path = path
        self._open(LineStore(path, resume=resume, retry_failed=retry_failed))

    def finish(self, *, complete: bool) -> None:
        self._store.close()


def sidecar_path(output: Path) -> Path:
    """The resumable store of a rendered output, beside the file it resolves to (so a
    symlink and its target share one)."""
    real = Path(os.path.realpath(output))
    return real.with_name(f".{real.name}.results.jsonl")


def _lock_existing(path: Path) -> FileLock | None:
    """A lock on the output file itself when it exists (a hard link shares its inode)."""
    return FileLock(path) if path.is_file() else None


class RenderedTarget:
    """A rendered file (md, csv, html) kept in a resumable sidecar until the run ends."""

    def __init__(self, path: Path, format: str, *, resume: bool, retry_failed: Retry) -> None:
        self.path: Path | None = path
        self.format = format
        self.sidecar = sidecar_path(path)
        self._lock = _lock_existing(path)
        try:
            self._store = LineStore(
                self.sidecar, resume=resume, retry_failed=retry_failed, hidden=True
            )
        except BaseException:
            self._release()
            raise
        self.done = self._store.state.done
        self.previously_failed = self._store.previously_failed
        self.retried = self._store.retried
        self.repaired = self._store.repaired

    def write(self, outcome: Outcome) -> None:
        self._store.append_json(outcome.to_json())

    def finish(self, *, complete: bool) -> None:
        self._store.close()
        try:
            assert self.path is not None
            render_file(read_results(self.sidecar), self.path, self.format, partial=not complete)
        finally:
            self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None


class SingleTarget(_NoState):
    """One record in a rendered format, written atomically when it succeeded."""

    def __init__(self, path: Path, format: str) -> None:
        super().__init__()
        self.path: Path | None = path
        self.format = format
        self._result: Result | None = None
        self._lock = _lock_existing(path)

    def write(self, outcome: Outcome) -> None:
        if isinstance(outcome, Result):
            self._result = outcome

    def finish(self, *, complete: bool) -> None:
        try:
            if complete and self._result is not None and self.path is not None:
                render_file([self._result], self.path, self.format, single=True)
        finally:
            if self._lock is not None:
                self._lock.release()


PARTIAL_MARK = (
    "<!-- case-summarizer: partial: the run stopped before every record was done; "
    "run the same command again to finish this file -->"
)
"""The line that marks a Markdown or HTML output rendered from a run that stopped early."""
MARKED_FORMATS = ("md", "html")


def render_file(
    items: Iterable[Outcome],
    path: Path,
    format: str,
    *,
    single: bool = False,
    partial: bool = False,
) -> None:
    """``items`` rendered in ``format`` into ``path``, atomically; ``partial``: marked as
    what a run that stopped early had done (Markdown and HTML: ``PARTIAL_MARK``)."""

    def write(stream: IO[str]) -> None:
        if partial and format in MARKED_FORMATS:
            stream = cast(IO[str], _MarkedAfterFirstLine(stream, PARTIAL_MARK))
        with Writer(stream, format, single=single) as writer:
            for item in items:
                writer.write(item)

    try:
        atomic_write(path, write)
    except OSError as error:
        raise OutputError(f"cannot write: {error.strerror or error}", path=str(path)) from error


class _MarkedAfterFirstLine:
    """A text stream that writes ``mark`` on a line of its own after the first line
    (after our Markdown marker, or the HTML doctype, so both stay first)."""

    def __init__(self, stream: IO[str], mark: str) -> None:
        self._stream = stream
        self._mark: str | None = mark

    def write(self, text: str) -> int:
        if self._mark is not None and "\n" in text:
            end = text.index("\n") + 1
            text = text[:end] + self._mark + "\n" + text[end:]
            self._mark = None
        return self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()


def open_target(
    output: Path | IO[str] | None,
    format: str,
    *,
    single: bool = False,
    resume: bool = True,
    retry_failed: Retry = False,
) -> Target:
    """The target for ``output`` (a path, a text stream, or None for stdout)."""
    if not isinstance(output, Path):
        return StreamTarget(output, format, single=single)
    if format == "jsonl" or (format == "json" and not single):
        return LinesTarget(output, resume=resume, retry_failed=retry_failed)
    if single:
        return SingleTarget(output, format)
    return RenderedTarget(output, format, resume=resume, retry_failed=retry_failed)


# --- output is never input --------------------------------------------------------------


def _input_paths(inputs: Iterable[str | Path]) -> Iterator[Path]:
    """The files and folders the inputs name (globs expanded; stdin and missing paths
    left to the reader, which reports them)."""
    for source in inputs:
        text = str(source)
        if text == "-":
            continue
        path = Path(text).expanduser()
        try:
            exists = path.exists()
        except OSError:  # a name too long to be a file (a text passed as a path)
            continue
        if exists:
            yield path
        elif glob.has_magic(text):
            yield from (
                Path(match) for match in glob.glob(os.path.expanduser(text), recursive=True)
            )


def _inside(path: Path, folder: Path) -> bool:
    return folder == path or folder in path.parents


def check_output(
    output: Path,
    inputs: Iterable[str | Path],
    *,
    writes: frozenset[str] = RESULT_KINDS,
    force: bool = False,
) -> None:
    """Refuse, before anything is read or written, an output that is an input (same file
    by device and inode) or lies inside an input folder, whatever ``force`` says; and an
    existing file that is not one of our outputs of a kind in ``writes``
    (``ownership.check_overwrite``; ``force`` replaces a file that is not ours)."""
    targets = [output, sidecar_path(output)]
    real = [Path(os.path.realpath(target)) for target in targets]
    stats = [target.stat() for target in targets if target.exists()]
    for path in _input_paths(inputs):
        if path.is_dir():
            folder = Path(os.path.realpath(path))
            if any(_inside(target, folder) for target in real):
                raise OutputError(
                    f"is inside the input folder {path}; write the output elsewhere",
                    path=str(output),
                )
            continue
        try:
            found = path.stat()
        except OSError:
            continue
        if any(same_file(found, existing) for existing in stats):
            raise OutputError(f"is the input {path}; write the output elsewhere", path=str(output))
    check_overwrite(output, writes=writes, force=force)


class OwnFiles:
    """Recognises the output files of this run among input records (a symlink in an
    input folder, say), so they are never read as inputs."""

    def __init__(self, target: Target) -> None:
        paths = [target.path] if target.path is not None else []
        if isinstance(target, RenderedTarget):
            paths.append(target.sidecar)
        self._stats = [path.stat() for path in paths if path.exists()]
        self._last: tuple[str, bool] = ("", False)  # an export repeats one origin

    def __contains__(self, origin: object) -> bool:
        if not self._stats or not isinstance(origin, str) or origin.startswith("<"):
            return False
        if self._last[0] == origin:
            return self._last[1]
        try:
            found = os.stat(origin)
        except OSError:
            own = False
        else:
            own = any(same_file(found, mine) for mine in self._stats)
        self._last = (origin, own)
        return own
