"""Who reviews, and which files a review reads and writes.

- A reviewer is a name (``--reviewer``, default the login name); each reviewer has a
  store of their own beside the records: ``RECORDS.review-NAME.sqlite``. The store of a
  review made before reviewers existed, ``RECORDS.review.sqlite``, stays its owner's: it
  is opened for the reviewer recorded in it, else for the user who owns the file.
- Adjudicating two reviews writes ``RECORDS.consensus.sqlite``; when it exists, exports
  and stats read the consensus unless a store or reviewer is named.
- ``review`` on a rendered output (``table.csv``, ``.md``, ``.html``) reads the JSON Lines
  store the batch kept beside it (``.table.csv.results.jsonl``); a table with none is
  refused with the file to open instead, and nothing is written beside it.
"""

from __future__ import annotations

import getpass
import glob
import re
import sqlite3
from pathlib import Path

from ..errors import InputError
from ..output.targets import sidecar_path
from ..sinks import terminal_text
from .review_store import default_store_path

__all__ = [
    "CONSENSUS_SUFFIX",
    "check_reviewer",
    "consensus_path",
    "login_name",
    "records_for_store",
    "records_path",
    "reviews_of",
    "store_for",
    "store_owner",
]

CONSENSUS_SUFFIX = ".consensus.sqlite"
RENDERED_SUFFIXES = (".csv", ".tsv", ".md", ".markdown", ".html", ".htm")
_SLUG = re.compile(r"[^A-Za-z0-9._-]+")
_STORE_NAME = re.compile(r"^(?P<records>.+)\.review(?:-(?P<who>[A-Za-z0-9._-]+))?\.sqlite$")
MAX_NAME = 64


def login_name() -> str:
    """The login name (the default reviewer)."""
    try:
        return getpass.getuser() or "reviewer"
    except (KeyError, OSError):  # no user name in the environment or the password file
        return "reviewer"


def check_reviewer(name: str) -> str:
    """A reviewer name as given, refused when it is empty, too long or holds control
    characters (it is stamped on every change and shown on the page)."""
    name = name.strip()
    if not name or len(name) > MAX_NAME or terminal_text(name) != name:
        raise InputError(
            f"reviewer name {terminal_text(name)!r}: give 1-{MAX_NAME} printable characters"
        )
    if not _slug(name):
        raise InputError(f"reviewer name {name!r} needs a letter or digit")
    if name.casefold() == "consensus":
        raise InputError("'consensus' is the adjudicated review's name; pick another reviewer name")
    return name


def _slug(name: str) -> str:
    return _SLUG.sub("-", name).strip("-.")


def reviewer_store(records: Path, reviewer: str) -> Path:
    """``RECORDS.review-NAME.sqlite`` (the name made safe for a file name)."""
    return records.with_name(f"{records.name}.review-{_slug(reviewer)}.sqlite")


def consensus_path(records: Path) -> Path:
    return records.with_name(records.name + CONSENSUS_SUFFIX)


def store_owner(path: Path) -> str | None:
    """Whose store ``path`` is: the reviewer recorded in it, else the user owning the file."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            row = db.execute("SELECT value FROM state WHERE key = 'reviewer'").fetchone()
    except sqlite3.Error:
        row = None
    if row is not None:
        return str(row[0])
    try:
        import pwd

        return pwd.getpwuid(path.stat().st_uid).pw_name
    except (ImportError, KeyError, OSError):
        return None


def store_for(records: Path, reviewer: str) -> Path:
    """The store of ``reviewer``'s review of ``records``: their own when it exists, else
    the single store of an older review when it is theirs, else their own (new)."""
    own = reviewer_store(records, reviewer)
    if own.exists():
        return own
    legacy = default_store_path(records)
    if legacy.is_file() and store_owner(legacy) == reviewer:
        return legacy
    return own


def reviews_of(records: Path) -> list[tuple[str, Path]]:
    """The reviews of ``records`` there are (who, store), the older single store first."""
    found = []
    legacy = default_store_path(records)
    if legacy.is_file():
        found.append((store_owner(legacy) or "unknown", legacy))
    for path in sorted(records.parent.glob(f"{glob.escape(records.name)}.review-*.sqlite")):
        found.append((store_owner(path) or path.name, path))
    return found


def records_for_store(store: Path) -> Path | None:
    """The records file a store was named after (``X.review-NAME.sqlite`` → ``X``)."""
    match = _STORE_NAME.match(store.name)
    if match is None and store.name.endswith(CONSENSUS_SUFFIX):
        return store.with_name(store.name.removesuffix(CONSENSUS_SUFFIX))
    return store.with_name(match["records"]) if match else None


def records_path(path: Path) -> Path:
    """The records file to review for ``path``: itself, or the JSON Lines store kept
    beside a rendered output (CSV, Markdown, HTML). Raises InputError with the file to
    open when a rendered output has none."""
    if path.suffix.lower() not in RENDERED_SUFFIXES:
        return path
    sidecar = sidecar_path(path)
    if sidecar.is_file() and not sidecar.is_symlink():
        return sidecar
    if not path.exists():
        raise InputError("no such records file", path=str(path))
    raise InputError(
        f"{path.name} is a rendered table, not records: review the JSON Lines it was made "
        f"from (`case-summarizer summarize … -o records.jsonl`, then `case-summarizer review "
        f"records.jsonl`); no {sidecar.name} was kept beside it",
        path=str(path),
    )
