"""Read the JSON output contract back: ``{"id", "record", "evidence", "provenance",
"abstract"}`` lines become ``Result`` objects and ``{"id", "error", "error_type"}`` lines
``Failure`` objects, so every writer (CSV, HTML, Markdown), ``to_dataframe`` and the
review page work on a RECORDS.jsonl file as on fresh results.

The cleaned abstract comes from the line's ``abstract`` block; its map back to the
original page is not in the file, so the rebuilt one is the identity (the spans keep
their ``source_start``/``source_end`` as written). A line without the block gets an
empty abstract (``has_abstract`` says so). An unreadable line becomes a Failure with an
``InputError``, so a batch file with one bad line still reads whole. The line format
itself, both ways, is ``summarizer.results``; this module reads files of it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..results import ContractError, Failure, RecordedError, Result

__all__ = ["RecordedError", "has_abstract", "read_results", "result_from_dict"]


def has_abstract(result: Result) -> bool:
    """Whether the result carries its cleaned abstract text (lines from before the
    ``abstract`` block was written do not)."""
    return result.has_abstract and bool(result.abstract.text)


def result_from_dict(data: Mapping[str, Any]) -> Result | Failure:
    """A Result (or Failure) from one line of the output contract (``summarizer.results``).

    Raises ``InputError`` when the line is not in the contract.
    """
    ident = data.get("id")
    if not isinstance(ident, str) or not ident:
        raise InputError("a result line needs a string 'id'")
    if "error" in data and "record" not in data:
        return Failure.from_dict(dict(data))
    try:
        return Result.from_dict(dict(data))
    except ContractError as error:
        raise InputError(error.message) from None


def read_results(path: Path) -> Iterator[Result | Failure]:
    """Every result of a RECORDS.jsonl file, in file order (an unreadable line: a Failure).

    A file holding one pretty-printed result (``summarize page.txt -o out.json``) or a
    JSON array of results is read whole.
    """
    name = str(path)
    try:
        handle = path.open(encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror or error}", path=name) from None
    with handle:
        first = handle.readline()
        start = first.lstrip()[:1]
        if start == "[" or (start == "{" and not _is_json(first)):
            yield from _whole(name, first + handle.read())
            return
        for number, line in enumerate(itertools.chain([first], handle), 1):
            if line.strip():
                yield _parse(name, number, line)


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return False
    return True


def _whole(name: str, text: str) -> Iterator[Result | Failure]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        yield _unreadable(name, error.lineno, f"malformed JSON: {error.msg}")
        return
    for number, item in enumerate(value if isinstance(value, list) else [value], 1):
        yield _parse(name, number, json.dumps(item))


def _parse(name: str, number: int, line: str) -> Result | Failure:
    try:
        data = json.loads(line)
        if not isinstance(data, dict):
            raise InputError("a result line must be a JSON object")
        return result_from_dict(data)
    except json.JSONDecodeError as error:
        return _unreadable(name, number, f"malformed JSON: {error.msg}")
    except InputError as error:
        return _unreadable(name, number, error.message)


def _unreadable(name: str, number: int, message: str) -> Failure:
    return Failure(
        id=f"line {number}", error=InputError(message, path=name, record=f"line {number}")
    )
