"""Reading text a line at a time with a cap, so that no line or record can take more memory
than the per-record limit, whatever the file holds (a 1 GB line with no newline included).

A line over the cap is consumed in small chunks and never kept: the reader sees a
``LongLine`` in its place and reports that record, and goes on with the next one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

from ..options import MAX_RECORD_BYTES

__all__ = ["MAX_RECORD_BYTES", "LongLine", "RecordBudget", "describe_size", "read_lines"]

_SKIP_CHUNK = 64 * 1024
_LINE_ENDS = ("\n", "\r")


@dataclass(frozen=True, slots=True)
class LongLine:
    """A line longer than the cap, read and dropped; ``size`` is its length in characters,
    ``quotes`` how many ``"`` it held (CSV needs them to find where its row ends)."""

    size: int
    quotes: int = 0


def text_bytes(text: str) -> int:
    """Bytes of ``text`` in UTF-8 (without encoding it when the answer is plain)."""
    return len(text.encode("utf-8", errors="surrogatepass")) if not text.isascii() else len(text)


def read_lines(stream: TextIO, limit: int) -> Iterator[str | LongLine]:
    """The lines of ``stream`` (line ends kept); one over ``limit`` bytes is a ``LongLine``.

    ``readline(n)`` never holds more than ``n`` characters, and a character is at least
    one byte, so memory stays within the limit however long a line is.
    """
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        if len(line) > limit:
            size, quotes = len(line), line.count('"')
            while not line.endswith(_LINE_ENDS):
                line = stream.readline(_SKIP_CHUNK)
                if not line:
                    break
                size += len(line)
                quotes += line.count('"')
            yield LongLine(size, quotes)
        elif len(line) * 4 > limit and text_bytes(line) > limit:
            yield LongLine(len(line), line.count('"'))
        else:
            yield line


class RecordBudget:
    """Counts the bytes of the record being gathered (several lines) against the limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def add(self, line: str | LongLine) -> bool:
        """Count a line; False once the record is over the limit."""
        self.used += line.size if isinstance(line, LongLine) else text_bytes(line)
        return self.used <= self.limit

    def reset(self) -> None:
        self.used = 0

    def error(self) -> str:
        return too_large(self.used, self.limit)


def describe_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f}".rstrip("0").rstrip(".") + " MB"
    if size >= 1024:
        return f"{size / 1024:.1f}".rstrip("0").rstrip(".") + " KB"
    return f"{size} bytes"


def too_large(size: int, limit: int) -> str:
    """The message for a record over the limit."""
    return (
        f"the record is larger than the {describe_size(limit)} limit"
        f" (at least {describe_size(size)}); --max-record-bytes raises it"
    )
