"""A batch's answers, read from its result files and found by ``custom_id``.

Result files are JSON Lines in the OpenAI batch output format, which ``vllm run-batch``
writes too::

    {"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}

``body`` is a chat completion when ``status_code`` is 200; otherwise the line is an
error, described by ``error`` (a string, ``{"code", "message"}``, or an error response)
or by the body's ``{"error": {...}}``. OpenAI splits them into an output file and an
error file; ``vllm run-batch`` writes one file.

The files are indexed once (custom_id → where its lines are: memory grows with the
number of ids, not with the answers), and each answer is read back when its record is
collected. An id answered twice uses its first good answer (and is reported); lines
that are not JSON or carry no custom_id are counted as unreadable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from openai.types.chat import ChatCompletion
from pydantic import BaseModel, StrictInt, ValidationError

from ..errors import InputError, SummarizerError

__all__ = ["Answers", "BatchAnswerError", "MissingAnswerError"]

_CUSTOM_ID = re.compile(rb'"custom_id"\s*:\s*"((?:[^"\\]|\\.)*)"')
_PLAIN = re.compile(rb"[ -\[\]-~]*")
"""Printable ASCII but the backslash: a JSON string of these reads as itself."""
_SECRET = re.compile(r"\b(sk|key|token)-[A-Za-z0-9_\-]{8,}", re.I)
MAX_MESSAGE = 300
READ_BUFFER = 1 << 16
"""Bytes read at a time: answers are read back in about the order they were indexed, so
most seeks land in the buffer (8 KiB held four answer lines: a read call for every few)."""


class BatchAnswerError(SummarizerError):
    """The batch answered this request with an error (an error line, a non-200 status,
    or a body that is not a chat completion)."""


class MissingAnswerError(SummarizerError):
    """The batch's results hold no answer for this request."""


def _quiet(message: str) -> str:
    """A provider's error message, one line, short, with anything key-like masked."""
    text = " ".join(message.split())
    text = _SECRET.sub(lambda match: f"{match[1]}-…", text)
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def _describe(error: Any) -> str:
    """The message of an error value as providers write it (string or nested object)."""
    if isinstance(error, str):
        return error
    if isinstance(error, dict):
        inner = error.get("error")
        if isinstance(inner, dict | str):
            return _describe(inner)
        code = error.get("code") or error.get("type")
        message = error.get("message")
        parts = [str(part) for part in (code, message) if part]
        return ": ".join(parts) if parts else json.dumps(error)[:MAX_MESSAGE]
    return "" if error is None else str(error)


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer line: a chat completion, or the error that replaced it."""

    completion: ChatCompletion | None
    error: SummarizerError | None


class _Response(BaseModel):
    status_code: StrictInt
    body: ChatCompletion


class _CompletionLine(BaseModel):
    """An answer line that holds a chat completion and no error (the usual line)."""

    response: _Response
    error: None = None


def parse_line(line: bytes) -> Answer:
    """An answer line, parsed (``read_answer`` of its JSON, or the line is not JSON).

    The usual line, a chat completion with status 200 and no error, is parsed and
    validated in one pass over its JSON (a third of the cost of ``json.loads`` then
    ``read_answer``). pydantic's JSON reader accepts no line that ``json.loads`` reads
    otherwise (it refuses lone surrogates, a byte-order mark, ``"error": false``…), so
    whatever it refuses goes the long way, and any error is described as before."""
    try:
        good = _CompletionLine.model_validate_json(line)
    except ValidationError:
        pass
    else:
        if good.response.status_code == 200:
            return Answer(good.response.body, None)
    try:
        value = json.loads(line)
    except ValueError:
        return Answer(None, BatchAnswerError("the answer line is not JSON"))
    return read_answer(value)


def read_answer(value: Any) -> Answer:
    """An answer line, parsed (errors and damaged bodies become ``BatchAnswerError``)."""
    if not isinstance(value, dict):
        return Answer(None, BatchAnswerError("the answer line is not a JSON object"))
    response = value.get("response")
    status = response.get("status_code") if isinstance(response, dict) else None
    body = response.get("body") if isinstance(response, dict) else None
    error = value.get("error")
    if status == 200 and isinstance(body, dict) and not error:
        try:
            return Answer(ChatCompletion.model_validate(body), None)
        except ValidationError as invalid:
            first = invalid.errors()[0]
            where = ".".join(str(part) for part in first.get("loc", ()))
            return Answer(
                None,
                BatchAnswerError(f"the answer is not a chat completion ({where}: {first['msg']})"),
            )
    detail = _describe(error) or (_describe(body) if isinstance(body, dict) else "")
    head = f"HTTP {status}" if isinstance(status, int) else "error"
    message = f"{head}: {_quiet(detail)}" if detail else head
    return Answer(
        None, BatchAnswerError(f"the batch answered with an error: {message}", attempts=1)
    )


@dataclass(slots=True)
class Answers:
    """The answer lines of one batch, indexed by custom_id; see the module doc."""

    paths: tuple[Path, ...]
    index: dict[str, list[tuple[int, int, int]]] = field(default_factory=dict)
    """custom_id → (file, offset, length) of each of its lines, in file order."""
    unreadable: int = 0
    lines: int = 0
    missing: str = "the batch results hold no answer for it"
    """Why an id may have no answer (the batch failed, expired, was cancelled…)."""
    _handles: list[IO[bytes]] = field(default_factory=list)

    @classmethod
    def open(cls, paths: list[Path], *, missing: str | None = None) -> Answers:
        """Index the result files (streamed); InputError when one cannot be read."""
        answers = cls(tuple(paths))
        if missing:
            answers.missing = missing
        try:
            for number, path in enumerate(paths):
                try:
                    handle = path.open("rb", buffering=READ_BUFFER)
                except OSError as error:
                    raise InputError(
                        f"cannot read the results: {error.strerror or error}", path=str(path)
                    ) from error
                answers._handles.append(handle)
                answers._scan(number, handle)
        except BaseException:
            answers.close()
            raise
        return answers

    def _scan(self, number: int, handle: IO[bytes]) -> None:
        offset = 0
        for line in handle:
            length = len(line)
            if not line.isspace():  # (strip would copy the line)
                self.lines += 1
                ident = _custom_id(line)
                if ident is None:
                    self.unreadable += 1
                else:
                    self.index.setdefault(ident, []).append((number, offset, length))
            offset += length

    def __contains__(self, ident: str) -> bool:
        return ident in self.index

    def count(self, ident: str) -> int:
        """How many lines answer ``ident``."""
        return len(self.index.get(ident, ()))

    def get(self, ident: str) -> Answer:
        """The answer to ``ident``: its first chat completion, else its first error line;
        ``MissingAnswerError`` when it has none."""
        found = [self._read(place) for place in self.index.get(ident, ())]
        if not found:
            return Answer(None, MissingAnswerError(self.missing))
        return next((answer for answer in found if answer.completion is not None), found[0])

    def _read(self, place: tuple[int, int, int]) -> Answer:
        number, offset, length = place
        handle = self._handles[number]
        handle.seek(offset)
        return parse_line(handle.read(length))

    def ids(self) -> Iterator[str]:
        return iter(self.index)

    def close(self) -> None:
        for handle in self._handles:
            handle.close()
        self._handles = []

    def __enter__(self) -> Answers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _custom_id(line: bytes) -> str | None:
    """The custom_id of a result line, without parsing the answer: inside the answer a
    key's quotes are escaped, so the first match is the line's own key. A line where
    nothing matches is parsed in full."""
    found = _CUSTOM_ID.search(line)
    if found is not None:
        if _PLAIN.fullmatch(found[1]):  # no escape: the text itself (json.loads costs ~3 µs)
            return found[1].decode("ascii")
        try:
            value = json.loads(b'"' + found[1] + b'"')
        except ValueError:
            value = None
        if isinstance(value, str):
            return value
    try:
        parsed = json.loads(line)
    except ValueError:
        return None
    ident = parsed.get("custom_id") if isinstance(parsed, dict) else None
    return ident if isinstance(ident, str) else None
