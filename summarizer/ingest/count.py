"""How many records the inputs hold, counted ahead by a scan of their bytes: a progress
bar's total, known from the start instead of growing as the records are read.

The scan parses nothing: a page is one record, and an export's records are counted by
the mark each one starts or ends with (``<PubmedArticle>``, ``PMID-``, ``ER  -``, a JSON
line, a CSV row). It is an estimate, as cheap as reading the bytes once: the reader's
own count replaces it when reading ends (a malformed record may split or join). What
cannot be known cheaply gives None: stdin, a JSON document that is not JSON Lines,
UTF-16 text, or more than ``SCAN_BYTES`` to read (the bar then counts without a total).
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from ..errors import InputError
from ..options import RunOptions
from .detect import detect_format, is_own_output, is_own_table_header, own_json_kind
from .sources import SNIFF_BYTES, binary_kind, detect_encoding, expand_sources

__all__ = ["SCAN_BYTES", "SCAN_SECONDS", "count_records"]

SCAN_BYTES = 256 * 1024 * 1024
"""Past this many bytes of exports to scan, the total is left unknown."""
SCAN_SECONDS = 2.0
"""Past this long (a slow disk, a folder of many files), the total is left unknown."""

_CHUNK = 1024 * 1024
_MARKS = {
    # an article opens with its tag (the set's own tag, PubmedArticleSet, is not one)
    "pubmed-xml": re.compile(rb"<Pubmed(?:Book)?Article[\s>]"),
    "medline": re.compile(rb"\nPMID- "),  # at a line start: the scan begins with a newline
    "ris": re.compile(rb"\nER  -"),
}
_OVERLAP = 32
"""Bytes kept from one chunk to the next so a mark cut in two is still found once."""


class _Unknown(Exception):
    """The count cannot be known cheaply."""


def count_records(
    sources: Iterable[str | Path],
    options: RunOptions | None = None,
    *,
    budget: int = SCAN_BYTES,
    seconds: float = SCAN_SECONDS,
) -> int | None:
    """The number of records (outcomes) in ``sources``: files, folders, globs, as the
    readers take them (``options``: a forced input format); None when that cannot be
    known cheaply (see the module doc)."""
    options = options or RunOptions()
    deadline = time.monotonic() + seconds
    left = budget
    total = 0
    try:
        for source in expand_sources(sources):
            if time.monotonic() > deadline:
                return None
            if isinstance(source, InputError):
                total += 1  # an entry that cannot be read is one error line
                continue
            if source.path is None:
                return None  # stdin is read once, by the run
            with source.path.open("rb") as handle:
                count, scanned = _count_file(handle, source.suffix, options, left)
            total += count
            left -= scanned
    except (_Unknown, OSError):
        return None
    return total


def _count_file(handle: BinaryIO, suffix: str, options: RunOptions, budget: int) -> tuple[int, int]:
    """(records, bytes scanned) of one file."""
    head = handle.read(SNIFF_BYTES)
    if not head.strip() or binary_kind(head):
        return 1, 0  # empty or binary: one error line
    if detect_encoding(head) not in ("utf-8", "utf-8-sig", "cp1252"):
        raise _Unknown
    fmt = options.input_format or detect_format(head, suffix)
    if fmt in ("text", "html"):
        return (0 if is_own_output(head) else 1), 0
    size = _size(handle)
    if size > budget:
        raise _Unknown
    handle.seek(3 if head.startswith(b"\xef\xbb\xbf") else 0)  # past a UTF-8 BOM
    if fmt in _MARKS:
        return max(_marks(handle, _MARKS[fmt]), 1), size  # none found: one error line
    if fmt == "jsonl":
        return _json_lines(handle), size
    return _csv_rows(handle, "\t" if fmt == "tsv" else None, options), size


def _size(handle: BinaryIO) -> int:
    handle.seek(0, io.SEEK_END)
    return handle.tell()


def _marks(handle: BinaryIO, mark: re.Pattern[bytes]) -> int:
    """Matches of ``mark`` in the file, read a chunk at a time."""
    count = 0
    carried = b"\n"  # the first line starts a line too
    while chunk := handle.read(_CHUNK):
        data = carried + chunk
        end = len(data) - _OVERLAP
        # a match starting in the last bytes is counted with the next chunk
        count += sum(1 for found in mark.finditer(data) if found.start() < end)
        carried = data[max(end, 0) :]
    return count + len(mark.findall(carried))


def _json_lines(handle: BinaryIO) -> int:
    """Lines holding something; a pretty JSON document or array is not JSON Lines."""
    count = 0
    for line in handle:
        if not line.strip():
            continue
        if count == 0:
            start = line.lstrip(b"\xef\xbb\xbf \t")
            if not start.startswith(b"{") or start.rstrip() == b"{":
                raise _Unknown  # an array, or one object over many lines
            if _own_line(start):
                return 0
        count += 1
    return count


def _own_line(line: bytes) -> bool:
    try:
        value = json.loads(line)
    except ValueError:
        return False
    return isinstance(value, dict) and own_json_kind(value) is not None


def _csv_rows(handle: BinaryIO, delimiter: str | None, options: RunOptions) -> int:
    """Rows after the header holding a non-empty cell (a quoted cell may span lines)."""
    csv.field_size_limit(max(csv.field_size_limit(), options.max_record_bytes))  # as read
    text = io.TextIOWrapper(handle, encoding="utf-8", errors="replace", newline="")
    try:
        header = text.readline()
        if delimiter is None:
            delimiter = "\t" if header.count("\t") > header.count(",") else ","
        columns = next(csv.reader([header], delimiter=delimiter), [])
        if options.columns.abstract is None and is_own_table_header(columns):
            return 0  # our own table: left out, not read
        return sum(
            1 for row in csv.reader(text, delimiter=delimiter) if any(c.strip() for c in row)
        )
    except csv.Error:
        raise _Unknown from None
    finally:
        text.detach()  # the handle is closed by its opener
