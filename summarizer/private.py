"""Files that hold abstracts, kept from other users and from planted links.

The response cache, the run log, a review's SQLite file, a rendered output's hidden store
and a provider batch's context file all hold abstracts. Each is created readable and
writable by its owner only (0600), in folders this package creates for them with 0700
(``$CASE_SUMMARIZER_HOME`` and its children); SQLite's ``-wal`` and ``-shm`` files take
the database's mode. A file that already exists is left as it is: ``exposure`` says when
other users can read it, and the caller warns once. The hidden stores beside an output
are opened without following a symbolic link (``open_store``): one planted there, in a
folder shared with others, would send the records to its target.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

from .errors import OutputError

__all__ = [
    "PRIVATE_FILE",
    "PRIVATE_FOLDER",
    "exposure",
    "make_private_file",
    "open_store",
    "private_folder",
]

PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700


def private_folder(path: Path) -> None:
    """Make ``path`` (and its missing parents) as 0700 folders; an existing one is kept."""
    missing = [folder for folder in (path, *path.parents) if not folder.exists()]
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made by another process meanwhile
            folder.mkdir(mode=PRIVATE_FOLDER)


def make_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 when it does not exist (never through a link)."""
    try:
        descriptor = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE
        )
    except FileExistsError:
        return
    os.close(descriptor)


def exposure(path: Path) -> str | None:
    """How an existing file of ours is exposed to other users, or None when it is not:
    ``readable by others (0644)``; the file is left as it is."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    if mode & 0o077 == 0:
        return None
    return f"readable by other users ({mode:04o}); it holds abstracts: chmod 600 it"


def open_store(path: Path, flags: int) -> int:
    """``os.open`` for a hidden store beside an output: created 0600, never through a
    symbolic link (OutputError instead)."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW, PRIVATE_FILE)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise OutputError(
                "is a symbolic link; a hidden store is never written through one (someone "
                "may have planted it to capture the records): remove it and run again",
                path=str(path),
            ) from None
        raise
