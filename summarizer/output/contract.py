"""Read the JSON output contract back: ``{"id", "record", "evidence", "provenance",
"abstract"}`` lines become ``Result`` objects and ``{"id", "error", "error_type"}`` lines
``Failure`` objects, so every writer (CSV, HTML, Markdown), ``to_dataframe`` and the
review page work on a RECORDS.jsonl file as on fresh results.

The cleaned abstract comes from the line's ``abstract`` block; its map back to the
original page is not in the file, so the rebuilt one is the identity (the spans keep
their ``source_start``/``source_end`` as written). A line without the block gets an
empty abstract (``has_abstract`` says so). An unreadable line becomes a Failure with an
``InputError``, so a batch file with one bad line still reads whole.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..backends import Usage
from ..document import Abstract, Document, OffsetMap, Section
from ..errors import InputError, SummarizerError
from ..ground import AlignmentStatus, EvidenceSpan
from ..pipeline import Failure, Provenance, Result
from ..schema import CaseReport

__all__ = ["RecordedError", "has_abstract", "read_results", "result_from_dict"]


class RecordedError(SummarizerError):
    """An error read back from an output file (its class is named after the original type)."""


@functools.cache
def _error_class(name: str) -> type[RecordedError]:
    if not name.isidentifier():
        return RecordedError
    return type(name, (RecordedError,), {"__module__": __name__})


def _span(data: Mapping[str, Any]) -> EvidenceSpan:
    return EvidenceSpan(
        field=str(data["field"]),
        quote=str(data["quote"]),
        status=AlignmentStatus(data["status"]),
        start=int(data.get("start", -1)),
        end=int(data.get("end", -1)),
        source_start=int(data.get("source_start", -1)),
        source_end=int(data.get("source_end", -1)),
        score=float(data.get("score", 0.0)),
    )


_PROVENANCE_FIELDS = {field.name for field in dataclasses.fields(Provenance)}


def _provenance(data: Mapping[str, Any]) -> Provenance:
    tokens = data.get("tokens") or {}
    known = {key: value for key, value in data.items() if key in _PROVENANCE_FIELDS}
    known["tokens"] = Usage(
        prompt_tokens=int(tokens.get("prompt", 0)),
        completion_tokens=int(tokens.get("completion", 0)),
    )
    known.setdefault("backend", "unknown")
    known.setdefault("model", "unknown")
    known.setdefault("mode", "unknown")
    known.setdefault("prompt_version", None)
    known.setdefault("prompt_hash", None)
    known.setdefault("schema_version", "")
    known.setdefault("attempts", 1)
    known.setdefault("latency_s", 0.0)
    return Provenance(**known)


def _abstract(ident: str, data: Mapping[str, Any] | None, provenance: Provenance) -> Abstract:
    block = data or {}
    text = str(block.get("text") or "")
    title = block.get("title") or None
    sections = tuple(
        Section(
            kind=str(section.get("kind", "other")),
            heading=section.get("heading"),
            start=int(section["start"]),
            end=int(section["end"]),
        )
        for section in block.get("sections") or ()
    )
    body_start = len(title) + 2 if title and text.startswith(title + "\n\n") else 0
    document = Document(
        id=ident,
        text=text,
        origin=provenance.source,
        format=provenance.source_format,
        title=title,
    )
    return Abstract(
        id=ident,
        title=title,
        text=text,
        sections=sections,
        offsets=OffsetMap.identity(len(text)),
        document=document,
        body_start=body_start,
        warnings=tuple(str(warning) for warning in block.get("warnings") or ()),
    )


def has_abstract(result: Result) -> bool:
    """Whether the result carries its cleaned abstract text (lines from before the
    ``abstract`` block was written do not)."""
    return bool(result.abstract.text)


def result_from_dict(data: Mapping[str, Any]) -> Result | Failure:
    """A Result (or Failure) from one line of the output contract.

    Raises ``InputError`` when the line is not in the contract.
    """
    ident = data.get("id")
    if not isinstance(ident, str) or not ident:
        raise InputError("a result line needs a string 'id'")
    if "error" in data and "record" not in data:
        error = _error_class(str(data.get("error_type") or "SummarizerError"))(str(data["error"]))
        reference = data.get("reference") or {}
        return Failure(
            id=ident,
            error=error,
            title=data.get("title") or None,
            reference={str(key): str(value) for key, value in reference.items()},
        )
    try:
        record = CaseReport.model_validate(data["record"])
        provenance = _provenance(data.get("provenance") or {})
        evidence = [_span(span) for span in data.get("evidence") or ()]
        abstract = _abstract(ident, data.get("abstract"), provenance)
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise InputError(f"record is not a valid case record: {where}: {problem['msg']}") from None
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(f"not a result line: {type(error).__name__}: {error}") from None
    return Result(
        id=ident, record=record, evidence=evidence, provenance=provenance, abstract=abstract
    )


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
