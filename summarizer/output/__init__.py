"""Writers for results: json (one object), jsonl, md (case cards), csv (the review table),
html (highlighted pages); and the reader of the JSON output contract (``read_results``).

``Writer(stream, format, single=...)`` streams results as they come; formats with a
header or footer (csv, a batch html page) write them in the writer's lifecycle, so
call ``close()`` (or use it as a context manager) even when nothing was written.

The Markdown and HTML writers (jinja2 templates) are imported when one is made: JSON
output, the default, starts without them.
"""

from __future__ import annotations

import importlib
import json
from typing import IO, TYPE_CHECKING, Any, Protocol

from ..errors import ConfigError
from ..options import OUTPUT_FORMATS
from ..results import Failure, Result
from .card import build_card, build_error_card
from .contract import read_results, result_from_dict
from .table import COLUMNS, CsvFormat, csv_row, decode_row, to_dataframe, typed_row

if TYPE_CHECKING:
    from .markdown import render_markdown
    from .webpage import render_html

FORMATS = OUTPUT_FORMATS

__all__ = [
    "COLUMNS",
    "FORMATS",
    "Writer",
    "build_card",
    "build_error_card",
    "csv_row",
    "decode_row",
    "read_results",
    "render_html",
    "render_markdown",
    "result_from_dict",
    "result_json",
    "to_dataframe",
    "typed_row",
]


def result_json(item: Result | Failure) -> dict[str, Any]:
    return item.to_dict()


class _Format(Protocol):
    def write(self, item: Result | Failure) -> None: ...

    def close(self) -> None: ...


class _JsonFormat:
    def __init__(self, stream: IO[str], *, single: bool = False, lines: bool = False) -> None:
        self.stream = stream
        self.pretty = single and not lines

    def write(self, item: Result | Failure) -> None:
        payload = result_json(item)
        if self.pretty:
            self.stream.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
        else:
            self.stream.write(json.dumps(payload, ensure_ascii=False) + "\n")

    def close(self) -> None:
        pass


class _JsonLinesFormat(_JsonFormat):
    def __init__(self, stream: IO[str], *, single: bool = False) -> None:
        super().__init__(stream, single=single, lines=True)


class _FormatFactory(Protocol):
    def __call__(self, stream: IO[str], *, single: bool = ...) -> _Format: ...


def _templated(module: str, name: str) -> _FormatFactory:
    """A writer whose module (and jinja2) is imported when the first one is made."""

    def make(stream: IO[str], *, single: bool = False) -> _Format:
        factory: _FormatFactory = getattr(importlib.import_module(module, __name__), name)
        return factory(stream, single=single)

    return make


_FORMATTERS: dict[str, _FormatFactory] = {
    "json": _JsonFormat,
    "jsonl": _JsonLinesFormat,
    "md": _templated(".markdown", "MarkdownFormat"),
    "csv": CsvFormat,
    "html": _templated(".webpage", "HtmlFormat"),
}
_LATE = {"render_markdown": ".markdown", "render_html": ".webpage"}


def __getattr__(name: str) -> Any:
    module = _LATE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


class Writer:
    """Writes results to a text stream in one format; ``single`` means one record only.

    json with ``single`` pretty-prints one object (otherwise JSON Lines); md writes one
    card per record; csv one row per record under a fixed header; html one
    self-contained page (one record, or every record of a batch).
    """

    def __init__(self, stream: IO[str], format: str = "json", *, single: bool = False) -> None:
        if format not in FORMATS:
            raise ConfigError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
        self.stream = stream
        self.format = format
        self.single = single
        self._format: _Format = _FORMATTERS[format](stream, single=single)
        self._closed = False

    def write(self, item: Result | Failure) -> None:
        if self._closed:
            raise ValueError("write to a closed Writer")
        self._format.write(item)
        self.stream.flush()

    def close(self) -> None:
        """Write any footer (csv header of an empty batch, html page end) and flush."""
        if not self._closed:
            self._closed = True
            self._format.close()
        self.stream.flush()

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
