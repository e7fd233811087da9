"""Which existing files an output may replace or extend: only a missing or empty file, or
one of our own outputs of a kind the command writes, recognised by its content (never by
its name). So ``-o notes.txt`` never destroys a file the user wrote, and a command never
writes over a file of another kind of ours (``batch collect -o requests.jsonl``).

The kinds:

- ``results``: JSON Lines of results and failures (``summarize``, ``export``, ``collect``,
  ``review export``), or one pretty JSON result;
- ``table``: the CSV review table (its header);
- ``page``: a Markdown or HTML output, or an evaluation report (their marker);
- ``requests`` and ``context``: a provider batch's request and context files.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from ..errors import OutputError
from ..ingest.detect import is_own_output, is_own_table_header, own_json_kind

__all__ = ["RESULT_KINDS", "check_overwrite", "own_kind"]

RESULT_KINDS = frozenset({"results", "table", "page"})
"""What a results output (any ``--format``) may replace: our results in any format."""

_HEAD_BYTES = 64 * 1024
_WHOLE_JSON_BYTES = 64 * 1024 * 1024
"""A pretty JSON file (one result) is parsed whole up to this size to tell whether it is ours."""

_NAMES = {
    "results": "case-summarizer results file",
    "table": "case-summarizer table",
    "page": "case-summarizer page",
    "requests": "provider batch request file",
    "context": "provider batch context file",
}


def own_kind(path: Path) -> str | None:
    """``empty`` for a file with nothing but whitespace, the kind of our output it is, or
    None when it is not one of ours (or cannot be read)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_HEAD_BYTES)
            if not head.strip():
                return "empty"
            if is_own_output(head):
                return "page"
            start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
            if start.startswith(b"{"):
                handle.seek(len(head) - len(start))  # the first line that is not blank
                return _json_kind(handle.readline(_WHOLE_JSON_BYTES), path)
            return "table" if _is_own_table(head) else None
    except OSError:
        return None


def _json_kind(first_line: bytes, path: Path) -> str | None:
    value = _loads(first_line)
    if value is None and first_line.strip() in (b"{", b"{\xef\xbb\xbf"):
        # a pretty-printed JSON object: one result, or an evaluation report
        try:
            if path.stat().st_size <= _WHOLE_JSON_BYTES:
                value = _loads(path.read_bytes())
        except OSError:
            return None
    return own_json_kind(value) if isinstance(value, dict) else None


def _loads(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def _is_own_table(head: bytes) -> bool:
    first = head.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    try:
        header = next(csv.reader([first]), [])
    except csv.Error:
        return False
    return is_own_table_header(header)


def check_overwrite(path: Path, *, writes: frozenset[str], force: bool = False) -> None:
    """Refuse, before anything is read or written, to write ``path`` when it exists and is
    not ours (unless ``force``), or is ours but of a kind this output does not write
    (whatever ``force`` says)."""
    try:
        if not path.exists() or not path.is_file():
            return  # missing; a folder or a device is refused where it is opened
    except OSError:
        return
    kind = own_kind(path)
    if kind == "empty" or kind in writes:
        return
    if kind is not None:
        raise OutputError(
            f"is a {_NAMES[kind]}, not what this command writes: left as it is; "
            "write the output to another file",
            path=str(path),
        )
    if force:
        return
    raise OutputError(
        "exists and is not a case-summarizer output: left as it is; write the output to "
        "another file, or remove it first",
        path=str(path),
    )
