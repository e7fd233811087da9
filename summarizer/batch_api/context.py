"""The context file: what ``collect`` needs to ground a provider batch's answers.

``prepare`` writes it beside each request file (``requests.jsonl`` →
``requests.context.jsonl``), streamed, one JSON object a line:

- a header: the settings that shaped the requests (model, mode, prompt version and hash,
  temperature, max_tokens, seed), the schema version and hash, and the request file's
  name. ``collect`` rebuilds the same requests from it and refuses a prompt or schema
  that changed since.
- one line per record: its id, the ``custom_id`` of each of its requests (one, or one
  per stage of a staged prompt: ``ID#stage``), where it came from (and the reference
  its export gave: key, authors, year, journal, DOI), and its cleaned abstract (title,
  text, sections, warnings) with the offset map back to the original page (as runs,
  see ``OffsetMap.runs``);
- or, for a record that could not be prepared (unreadable, no abstract), its failure
  (``{"id", "error", "error_type"}``), so the collected output still has one line per
  input record.

It holds the abstracts, so it is as private as the inputs; it never holds an API key
(no setting that carries one is written).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from ..document import Abstract, Document
from ..errors import ConfigError, InputError
from ..ingest.detect import BATCH_CONTEXT_KIND
from ..reference import reference_of
from ..results import Failure

__all__ = [
    "CONTEXT_KIND",
    "ContextHeader",
    "Prepared",
    "RequestSettings",
    "check_header",
    "context_ids",
    "context_path",
    "custom_id",
    "read_context",
    "read_header",
    "record_line",
]

CONTEXT_KIND = BATCH_CONTEXT_KIND
CONTEXT_VERSION = 1
READ_BUFFER = 1 << 16
"""Bytes read at a time (a record's line holds its abstract: ~1 KiB)."""


def context_path(requests: Path) -> Path:
    """The context file of a request file (``x.jsonl`` → ``x.context.jsonl``); given a
    context file, itself."""
    if requests.name.endswith(".context.jsonl"):
        return requests
    stem = requests.name.removesuffix(".jsonl")
    return requests.with_name(f"{stem}.context.jsonl")


def custom_id(record_id: str, stage: str | None) -> str:
    """The ``custom_id`` of one request: the record id, plus ``#stage`` for a stage."""
    return record_id if stage is None else f"{record_id}#{stage}"


class RequestSettings(BaseModel):
    """The request parameters the header records (what ``collect`` asks again with)."""

    model_config = ConfigDict(frozen=True)

    temperature: float
    max_tokens: int
    seed: int | None = None


class ContextHeader(BaseModel):
    """The first line of a context file: how its requests were built (the line is this
    model's JSON)."""

    model_config = ConfigDict(frozen=True)

    kind: str = CONTEXT_KIND
    """What the file is (checked before the rest is read)."""
    version: int = CONTEXT_VERSION
    requests_file: str
    model: str
    mode: str
    prompt: str
    prompt_hash: str
    schema_version: str
    schema_hash: str
    settings: RequestSettings

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, value: dict[str, Any], *, path: Path) -> ContextHeader:
        if value.get("kind") != CONTEXT_KIND:
            raise InputError("not a batch context file (made by `batch prepare`)", path=str(path))
        if value.get("version") != CONTEXT_VERSION:
            raise InputError(
                f"context file version {value.get('version')!r} is not {CONTEXT_VERSION} "
                "(prepare the requests again with this version)",
                path=str(path),
            )
        try:
            return cls.model_validate(value)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise InputError(
                f"damaged context header ({where}: {first['msg']})", path=str(path)
            ) from None


@dataclass(frozen=True, slots=True)
class Prepared:
    """One record of a context file: its abstract and the custom_id of each request."""

    abstract: Abstract
    requests: tuple[tuple[str, str | None], ...]
    """(custom_id, stage) of each request, in the order ``build`` gives them."""


def record_line(abstract: Abstract, requests: list[tuple[str, str | None]]) -> dict[str, Any]:
    """The context line of one prepared record."""
    document = abstract.document
    return {
        "id": abstract.id,
        "requests": [list(request) for request in requests],
        "source": document.origin,
        "format": document.format,
        "document_title": document.title,
        "reference": reference_of(document),
        **abstract.to_stored(),
    }


def _abstract(value: dict[str, Any]) -> Abstract:
    heading = value.get("document_title")
    document = Document(
        id=str(value["id"]),
        text="",
        origin=str(value.get("source", "")),
        format=str(value["format"]),
        title=None if heading is None else str(heading),
        metadata={str(k): str(v) for k, v in (value.get("reference") or {}).items()},
    )
    return Abstract.from_stored(value, document)


def _item(value: Any, number: int, path: Path) -> Prepared | Failure:
    if not isinstance(value, dict) or not isinstance(value.get("id"), str):
        raise InputError(f"line {number} is not a record of this context file", path=str(path))
    if "error" in value:
        failure = Failure.from_dict(value)
        return failure
    try:
        requests = tuple(
            (str(ident), None if stage is None else str(stage))
            for ident, stage in value["requests"]
        )
        if not requests:
            raise ValueError("no requests")
        return Prepared(abstract=_abstract(value), requests=requests)
    except (KeyError, TypeError, ValueError) as error:
        return Failure(
            id=value["id"], error=InputError(f"its line in the context file is damaged ({error})")
        )


def _open(path: Path) -> tuple[ContextHeader, IO[bytes]]:
    """The header, and the file positioned at the first record line."""
    try:
        handle = path.open("rb", buffering=READ_BUFFER)
    except OSError as error:
        raise InputError(
            f"cannot read the context file: {error.strerror or error} (it is written by "
            "`batch prepare` beside the request file)",
            path=str(path),
        ) from error
    try:
        first = handle.readline()
        try:
            value = json.loads(first) if first.strip() else {}
        except ValueError:
            value = {}
        if not isinstance(value, dict):
            value = {}
        return ContextHeader.from_dict(value, path=path), handle
    except BaseException:
        handle.close()
        raise


def read_header(path: Path) -> ContextHeader:
    """The header of a context file (how its requests were built)."""
    header, handle = _open(path)
    handle.close()
    return header


def read_context(path: Path) -> tuple[ContextHeader, Iterator[Prepared | Failure]]:
    """The header of a context file, and its records as they stream (a damaged record
    line becomes that record's failure; the file's other records are kept)."""
    header, handle = _open(path)

    def records() -> Iterator[Prepared | Failure]:
        with handle:
            for number, line in enumerate(handle, start=2):
                if line.isspace():  # (strip would copy the line)
                    continue
                if not line.endswith(b"\n"):
                    raise InputError(
                        f"line {number} is cut short (the file was not written to the end)",
                        path=str(path),
                    )
                try:
                    value = json.loads(line)
                except ValueError:
                    raise InputError(f"line {number} is not JSON", path=str(path)) from None
                yield _item(value, number, path)

    return header, records()


_ID = re.compile(rb'^\{"id": "((?:[^"\\]|\\.)*)"')


def context_ids(path: Path) -> set[str]:
    """The record ids of a context file, read quickly (each line starts with its id)."""
    ids: set[str] = set()
    _, handle = _open(path)
    with handle:
        for line in handle:
            found = _ID.match(line)
            if found is not None:
                ids.add(json.loads(b'"' + found[1] + b'"'))
            elif line.strip():
                with contextlib.suppress(ValueError):
                    value = json.loads(line)
                    if isinstance(value, dict) and isinstance(value.get("id"), str):
                        ids.add(value["id"])
    return ids


def check_header(header: ContextHeader, *, prompt_hash: str, schema_hash: str, path: Path) -> None:
    """Refuse to collect answers to requests built from another prompt or schema."""
    if header.prompt_hash != prompt_hash:
        raise ConfigError(
            f"{path}: prompt {header.prompt} changed since the requests were prepared "
            f"(hash {header.prompt_hash}, now {prompt_hash}); collect with the version that "
            "prepared them"
        )
    if header.schema_hash != schema_hash:
        raise ConfigError(
            f"{path}: the case schema changed since the requests were prepared "
            f"(schema {header.schema_version}); collect with the version that prepared them"
        )
