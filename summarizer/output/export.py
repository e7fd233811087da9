"""Finished results in any format, without calling a model.

``export_results`` reads result files (the JSON Lines that ``summarize`` writes, or
the sidecar of a Markdown/CSV/HTML output), streamed, and writes them again in any
format: to a stream as they are read, or to a file atomically. A line that no longer
reads as a record (the schema changed) is kept as a failure; lines written before
results carried their abstract still export, and the Markdown and HTML views say what
they cannot show.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..errors import InputError
from ..ingest.exports import is_result_line
from ..results import NO_ABSTRACT_WARNING, Failure, Result
from . import Writer
from .contract import result_from_dict
from .line_store import iter_lines
from .targets import check_output, render_file

__all__ = ["ExportSummary", "export_results", "read_results"]

VIEWS_WITH_THE_ABSTRACT = ("md", "html")


@dataclass(slots=True)
class ExportSummary:
    records: int = 0
    failures: int = 0
    without_abstract: int = 0
    """Results written before the contract carried the abstract."""
    unreadable: int = 0
    """Lines that are not results of this tool (left out)."""


def read_results(
    paths: Iterable[Path], summary: ExportSummary, *, format: str
) -> Iterator[Result | Failure]:
    """The results stored in ``paths``; InputError for a file that holds none."""
    for path in paths:
        if not path.is_file():
            raise InputError("no such file", path=str(path))
        found = False
        for value in iter_lines(path):
            if not is_result_line(value):
                if not found:
                    raise InputError(
                        "not case-summarizer results (JSON Lines from `summarize -o`)",
                        path=str(path),
                    )
                summary.unreadable += 1
                continue
            found = True
            try:
                item = result_from_dict(value)
            except InputError as error:  # a record that no longer reads: kept, as a failure
                item = Failure(id=str(value["id"]), error=error)
            if isinstance(item, Result) and not item.has_abstract:
                summary.without_abstract += 1
                if format in VIEWS_WITH_THE_ABSTRACT:
                    item.provenance.warnings.append(NO_ABSTRACT_WARNING)
            summary.records += isinstance(item, Result)
            summary.failures += isinstance(item, Failure)
            yield item
        if not found:
            raise InputError("holds no results", path=str(path))


def export_results(
    paths: list[Path], *, format: str, output: Path | IO[str] | None = None, force: bool = False
) -> ExportSummary:
    """Write the results in ``paths`` in ``format`` to ``output`` (a file, atomically; a
    stream; or stdout). The output is never one of the result files, nor an existing file
    that is not one of our outputs unless ``force``."""
    summary = ExportSummary()
    items = read_results(paths, summary, format=format)
    if isinstance(output, Path):
        check_output(output, paths, force=force)
        render_file(items, output, format)
    else:
        with Writer(output or sys.stdout, format) as writer:
            for item in items:
                writer.write(item)
    return summary
