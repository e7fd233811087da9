"""Cleaning done once: the key a cleaned abstract is kept under between runs.

A warm re-run (every answer already in the response cache) spent half its time cleaning
the same pages again, so the response cache keeps each cleaned abstract too
(``Summarizer.prepare``). Its key covers the document (format, title field, text, a PDF's layout) and the
cleaner itself: the source of every module the cleaner is built from and the versions of
the libraries and Unicode data it uses. A changed cleaner therefore never serves an
abstract that the old one cut.
"""

from __future__ import annotations

import hashlib
import re
import sys
import unicodedata
from functools import cache
from pathlib import Path

import ftfy
import selectolax

from ..document import Document

__all__ = ["cleaner_fingerprint", "cleaner_sources", "cleaning_key"]

_PACKAGE = Path(__file__).resolve().parent.parent  # summarizer/
_RELATIVE_IMPORT = re.compile(r"^from (\.+)([\w.]*) import ([\w, ()]+)", re.MULTILINE)


def cleaner_sources() -> list[Path]:
    """Every module of the package the cleaner is built from: ``summarizer/clean`` and
    what it imports from the package, followed import by import."""
    found: set[Path] = set()
    pending = sorted((_PACKAGE / "clean").glob("*.py"))
    while pending:
        path = pending.pop()
        if path in found:
            continue
        found.add(path)
        package = path.parent
        for dots, module, names in _RELATIVE_IMPORT.findall(path.read_text(encoding="utf-8")):
            base = package
            for _ in range(len(dots) - 1):
                base = base.parent
            target = base.joinpath(*module.split(".")) if module else base
            candidates = [target.with_suffix(".py"), target / "__init__.py"]
            if not module:  # "from . import x": each name may be a module
                candidates += [target / f"{name.strip(' ()')}.py" for name in names.split(",")]
            pending += [c for c in candidates if c.is_file() and c not in found]
    return sorted(found)


@cache
def cleaner_fingerprint() -> str:
    """sha256 over the cleaner's sources and the library and Unicode versions it uses."""
    digest = hashlib.sha256()
    versions = (sys.version_info[:2], unicodedata.unidata_version)
    digest.update(repr((versions, ftfy.__version__, selectolax.__version__)).encode())
    for path in cleaner_sources():
        digest.update(path.relative_to(_PACKAGE).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cleaning_key(document: Document) -> str:
    """The key of ``clean(document)``: the same for any document cleaned the same way."""
    digest = hashlib.sha256(cleaner_fingerprint().encode())
    for part in (document.format, document.title or "", document.text):
        encoded = part.encode("utf-8", "surrogatepass")
        digest.update(len(encoded).to_bytes(8, "little"))
        digest.update(encoded)
    digest.update(b"\x01" if document.title is not None else b"\x00")
    if document.layout is not None:  # a PDF: where its lines were printed shapes the cut too
        digest.update(repr(document.layout).encode())
    return digest.hexdigest()
