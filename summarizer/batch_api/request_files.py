"""The files ``prepare`` writes: request files and their context files, in parts.

A request line is the OpenAI batch input format::

    {"custom_id": "ID" or "ID#stage", "method": "POST", "url": "/v1/chat/completions", "body": {...}}

Each part (``requests.jsonl``, then ``requests-2.jsonl``…) is a request file and its
context file (``summarizer.batch_api.context``), written under temporary names and moved
into place by ``commit``: an interrupted or refused run leaves no partial request file to
submit. A part holds at most ``max_requests`` requests and ``max_bytes`` bytes; a record
whose requests do not fit starts the next part (a record's stages stay together).
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..document import Abstract
from ..errors import InputError
from ..output.line_store import file_mode, json_line, temporary_beside, to_json
from ..private import exposure
from ..results import Failure
from ..sqlite_store import StoreWarning
from .context import ContextHeader, context_path, record_line

__all__ = ["ENDPOINT", "Parts", "RequestFile", "part_path"]

ENDPOINT = "/v1/chat/completions"
_SCHEMA_KEYS = ("tools", "tool_choice", "response_format")
_BUFFER = 64 * 1024
"""Write buffer: a request line is ~12 KB, more than the default buffer, so each would
be its own system call; a few lines a call is enough (and two such buffers are open)."""


@dataclass(slots=True)
class RequestFile:
    """One request file written (a batch is one file) and its context file."""

    path: Path
    context: Path
    requests: int = 0
    records: int = 0
    bytes: int = 0


def part_path(first: Path, number: int) -> Path:
    """The request file of part ``number`` (1: the path asked for; then ``NAME-2.jsonl``…)."""
    if number == 1:
        return first
    stem = first.name.removesuffix(".jsonl")
    return first.with_name(f"{stem}-{number}.jsonl")


class _BodyLines:
    """Batch input lines, with the schema part of each body serialised once.

    ``build`` shares one tools / response_format object between every request of a
    response model (``backends.chat``: the shape is made once), so its JSON (most of a
    line's bytes: ~10 of 12 KB for prompt v1) is kept, encoded, by the object's identity
    and spliced in. The output is the same as ``json.dumps`` of the whole line.
    """

    def __init__(self) -> None:
        self._memo: dict[int, tuple[Any, bytes]] = {}

    def line(self, ident: str, body: dict[str, Any]) -> bytes:
        plain: dict[str, Any] = {}
        schema: list[tuple[str, Any]] = []
        for key, value in body.items():
            if key in _SCHEMA_KEYS:
                schema.append((key, value))
            elif schema:  # a plain key after the schema: keep the order the slow way
                return self._each(ident, body)
            else:
                plain[key] = value
        if not plain:
            return self._each(ident, body)
        head = {"custom_id": ident, "method": "POST", "url": ENDPOINT, "body": plain}
        text = to_json(head)[:-2]  # without the closing "}}"
        tail = b"".join(self._field(key, value) for key, value in schema)
        return b"".join((text.encode(), tail, b"}}\n"))

    def _each(self, ident: str, body: dict[str, Any]) -> bytes:
        fields = b"".join(self._field(key, value) for key, value in body.items())
        head = to_json({"custom_id": ident, "method": "POST", "url": ENDPOINT})
        # each field starts with ", ": the first one's is dropped inside the braces
        return b"".join((head[:-1].encode(), b', "body": {', fields[2:], b"}}\n"))

    def _field(self, key: str, value: Any) -> bytes:
        """``, "key": value`` as bytes (a schema part's from the memo)."""
        if key not in _SCHEMA_KEYS:
            return f", {json.dumps(key)}: {to_json(value)}".encode()
        known = self._memo.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        text = f", {json.dumps(key)}: {to_json(value)}".encode()
        if len(self._memo) < 64:  # a shape per response model; never grows with records
            self._memo[id(value)] = (value, text)  # the reference keeps the id unique
        return text


class _Part:
    """One request file and its context file, written under temporary names."""

    def __init__(self, target: RequestFile, header: ContextHeader) -> None:
        self.target = target
        self._temps: list[str] = []
        self.requests = self._open(target.path)
        self.context = self._open(target.context)
        self.context.write(json_line(header.to_dict()))

    def _open(self, path: Path) -> IO[bytes]:
        descriptor, temp = temporary_beside(path)
        self._temps.append(temp)
        return os.fdopen(descriptor, "wb", buffering=_BUFFER)

    def fits(self, lines: list[bytes], *, max_requests: int, max_bytes: int) -> bool:
        size = sum(len(line) for line in lines)
        return (
            self.target.requests + len(lines) <= max_requests
            and self.target.bytes + size <= max_bytes
        )

    def write(self, lines: list[bytes], context: dict[str, Any]) -> None:
        for line in lines:
            self.requests.write(line)
            self.target.bytes += len(line)
        self.target.requests += len(lines)
        self.target.records += 1
        self.context.write(json_line(context))

    def fail(self, failure: Failure) -> None:
        self.context.write(json_line(failure.to_dict()))

    def commit(self) -> None:
        for handle, temp, path in zip(
            (self.requests, self.context),
            self._temps,
            (self.target.path, self.target.context),
            strict=True,
        ):
            handle.flush()
            os.fsync(handle.fileno())
            if path != self.target.context or path.exists():  # an existing file keeps its mode
                os.chmod(temp, file_mode(path))
            # else mkstemp's 0600 stays: the context file holds the abstracts
            os.replace(temp, path)  # still open, so still locked against a sweeper
            handle.close()
        exposed = exposure(self.target.context)
        if exposed:
            warnings.warn(f"{self.target.context} is {exposed}", StoreWarning, stacklevel=2)

    def discard(self) -> None:
        for handle in (self.requests, self.context):
            with contextlib.suppress(OSError):
                handle.close()
        for temp in self._temps:
            with contextlib.suppress(OSError):
                os.unlink(temp)


class Parts:
    """The parts of one prepared batch, written as records come: the current part takes
    each record's request lines and context line, or its failure."""

    def __init__(
        self, first: Path, header: ContextHeader, *, max_requests: int, max_bytes: int
    ) -> None:
        self._first = first
        self._header = header
        self._max_requests = max_requests
        self._max_bytes = max_bytes
        self._lines = _BodyLines()
        self._parts: list[_Part] = []
        self._part = self._next_part()

    @property
    def files(self) -> list[RequestFile]:
        return [part.target for part in self._parts]

    def _next_part(self) -> _Part:
        path = part_path(self._first, len(self._parts) + 1)
        part = _Part(RequestFile(path, context_path(path)), self._header)
        self._parts.append(part)
        return part

    def add(
        self, ident: str, abstract: Abstract, requests: list[tuple[str, dict[str, Any], str | None]]
    ) -> Failure | None:
        """Write one record's requests, ``(custom_id, body, stage)`` each, and its context
        line; a record too large for an empty part is its failure instead (returned, for
        the caller to count)."""
        lines = [self._lines.line(custom_id, body) for custom_id, body, _ in requests]
        limits = {"max_requests": self._max_requests, "max_bytes": self._max_bytes}
        if not self._part.fits(lines, **limits):
            if self._part.target.requests == 0:
                too_large = InputError(
                    "its requests are larger than the file size limit", record=ident
                )
                return Failure(id=ident, error=too_large)
            self._part = self._next_part()
        stages = [(custom_id, stage) for custom_id, _, stage in requests]
        self._part.write(lines, record_line(abstract, stages))
        return None

    def fail(self, failure: Failure) -> None:
        """Keep a record that could not be prepared in the context file (collected as
        its error)."""
        self._part.fail(failure)

    def commit(self) -> None:
        for part in self._parts:
            part.commit()

    def discard(self) -> None:
        for part in self._parts:
            part.discard()
