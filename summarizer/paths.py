"""Where things live: the cache and run log in $CASE_SUMMARIZER_HOME, else the user cache
folder; evaluation runs in the project's ``evals/runs``, else in that home."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    configured = os.environ.get("CASE_SUMMARIZER_HOME")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "case-summarizer"


def cache_path() -> Path:
    return home() / "cache.sqlite"


def log_path() -> Path:
    return home() / "logs.sqlite"


def project_root(start: Path | None = None) -> Path | None:
    """The nearest folder at or above ``start`` (the working folder) whose ``evals``
    folder holds gold records or stored runs: a project of this tool's evaluations."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        evals = folder / "evals"
        if (evals / "gold").is_dir() or (evals / "runs").is_dir():
            return folder
    return None


def eval_runs_dir(start: Path | None = None) -> Path:
    """Where evaluation runs are stored by default: the project's ``evals/runs`` inside a
    project (``project_root``), else ``evals/runs`` in the home, never a folder made
    wherever the command happens to run."""
    root = project_root(start)
    return root / "evals" / "runs" if root is not None else home() / "evals" / "runs"


def gold_dir(start: Path | None = None) -> Path:
    """The default gold set: the project's ``evals/gold`` (``evals/gold`` here when there
    is no project, which reading then reports as missing)."""
    root = project_root(start)
    return (root or Path()) / "evals" / "gold"
