"""The bibliographic reference of a record, passed through from the export it came from.

Exports name the same things differently (``Authors``/``AU``/``author``, ``Year``/``PY``/
``DP``, ``Journal``/``JT``/``secondary_title``, ``DOI``/``DI``…); readers keep what they
find in ``Document.metadata`` under the export's own names. ``reference_of`` picks the
five a review table carries, whatever they were called: the export's key, authors, year,
journal and DOI. Values are passed through as written (only a year is cut to its four
digits); a field the export did not have is absent, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

from .document import Document

__all__ = ["REFERENCE_FIELDS", "reference_of"]

REFERENCE_FIELDS = ("key", "authors", "year", "journal", "doi")

# Metadata names (lower case, letters and digits only), most specific first.
_ALIASES: dict[str, tuple[str, ...]] = {
    "key": (
        "key",
        "citationkey",
        "covidence",
        "covidencenumber",
        "refid",
        "recordid",
        "accessionnumber",
        "pmid",
        "pubmedid",
        "uid",
        "id",
    ),
    "authors": ("authors", "author", "authorfullnames", "authornames", "au", "fau"),
    "year": (
        "year",
        "publicationyear",
        "publishedyear",
        "pubyear",
        "py",
        "dp",
        "publicationdate",
        "date",
    ),
    "journal": (
        "journal",
        "journalname",
        "journaltitle",
        "publicationtitle",
        "sourcetitle",
        "secondarytitle",
        "jt",
        "ta",
    ),
    "doi": ("doi", "di"),
}
_YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b")
_NAME = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=512)
def _plain_name(name: str) -> str:
    """``Secondary_Title`` → ``secondarytitle`` (kept: an export repeats its few column
    names on every record)."""
    return _NAME.sub("", name.lower())


def _by_name(metadata: Mapping[str, str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in metadata.items():
        text = str(value).strip()
        if text:
            found.setdefault(_plain_name(name), text)
    return found


def reference_of(document: Document) -> dict[str, str]:
    """The key, authors, year, journal and DOI of ``document`` that its export gave
    (a page, text or HTML, has none)."""
    metadata = _by_name(document.metadata)
    reference: dict[str, str] = {}
    for field, aliases in _ALIASES.items():
        value = None
        for alias in aliases:
            if alias in metadata:
                value = metadata[alias]
                break
        if field == "year" and value is not None:
            match = _YEAR.search(value)
            value = match.group(1) if match else None
        if value:
            reference[field] = value
    return reference
