"""Where the cache and run log live: $CASE_SUMMARIZER_HOME, else the user cache folder."""

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
