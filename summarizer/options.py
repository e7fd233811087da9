"""RunOptions: how a run reads its inputs, writes its outcomes and paces its requests.

``Settings`` (config.py) holds what shapes a model request; everything else about a run
of many records is one ``RunOptions`` value, passed whole from the CLI (or the caller)
through the runner, and checked here, once:

- reading: a forced input format, export column names, the per-record size limit;
- writing: the output (a path, a stream, or stdout), its format, one record or many,
  resume, retry-failed, force, and the order outcomes come in;
- pacing: records in flight, client-side requests and tokens per minute, a cost budget.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from .errors import ConfigError

__all__ = [
    "DEFAULT_CONCURRENCY",
    "INPUT_FORMATS",
    "MAX_RECORD_BYTES",
    "ORDERS",
    "OUTPUT_FORMATS",
    "OUTPUT_SUFFIXES",
    "ColumnMapping",
    "RunOptions",
    "normalise_input_format",
    "output_format",
]

DEFAULT_CONCURRENCY = 8
MAX_RECORD_BYTES = 2 * 1024 * 1024
"""The default limit on one record's text (a line of JSONL, a CSV row, a RIS or MEDLINE
record, a PubMed XML article, a text page): larger records are reported, one by one, and
skipped."""

INPUT_FORMATS = ("text", "html", "pdf", "pubmed-xml", "medline", "ris", "csv", "tsv", "jsonl")
"""Input formats (``tsv`` is read as CSV with tabs)."""
OUTPUT_FORMATS = ("json", "jsonl", "md", "csv", "html")
ORDERS = ("input", "completion")
"""The orders outcomes can come in (``RunOptions.order``)."""
OUTPUT_SUFFIXES = {
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".md": "md",
    ".markdown": "md",
    ".csv": "csv",
    ".html": "html",
    ".htm": "html",
}
"""The output format a file's suffix names (any other suffix names none)."""
_FORMAT_NAMES = {
    "json": "a JSON file",
    "jsonl": "a JSON Lines file",
    "md": "a Markdown file",
    "csv": "a CSV file",
    "html": "an HTML page",
}

_INPUT_ALIASES = {
    "txt": "text",
    "plain": "text",
    "htm": "html",
    "xml": "pubmed-xml",
    "pubmed": "pubmed-xml",
    "nbib": "medline",
    "json": "jsonl",
    "ndjson": "jsonl",
}


def output_format(output: object, format: str | None, *, default: str) -> str:
    """The format to write ``output`` in: ``format`` when given, else the one its file
    suffix names (``.csv`` → csv…), else ``default``. A given format that the suffix
    contradicts (``-f json -o records.jsonl``) is a ConfigError: one of them is a slip."""
    named = (
        OUTPUT_SUFFIXES.get(Path(output).suffix.lower()) if isinstance(output, str | Path) else None
    )
    if format is None:
        return named or default
    if format not in OUTPUT_FORMATS:
        raise ConfigError(
            f"unknown output format {format!r}; choose one of {', '.join(OUTPUT_FORMATS)}"
        )
    if named is not None and named != format:
        raise ConfigError(
            f"the output {Path(str(output)).name} is named as {_FORMAT_NAMES[named]} but the "
            f"format (-f) is {format}: leave the format out (the suffix chooses it) or make "
            "them agree"
        )
    return format


def normalise_input_format(name: str) -> str:
    """An input format's name, its common aliases (``xml``, ``nbib``, ``txt``…) accepted."""
    value = name.strip().lower()
    value = _INPUT_ALIASES.get(value, value)
    if value not in INPUT_FORMATS:
        raise ConfigError(
            f"unknown input format {name!r}; choose one of {', '.join(INPUT_FORMATS)}"
        )
    return value


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """Which columns (CSV/TSV) or keys (JSONL) hold a record's id, title and abstract.

    Any left as None is found among common header names (PubMed, Covidence, Rayyan,
    EndNote/Zotero CSV); matching ignores case, spaces and punctuation.
    """

    id: str | None = None
    """Column with the record id (default: PMID, Covidence #, key, id, accession number…)."""
    title: str | None = None
    """Column with the title (default: title, article title, TI…)."""
    abstract: str | None = None
    """Column with the abstract (default: abstract, AB, text, summary…)."""


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """How a run reads, writes and paces (see the module doc). Immutable; ``replace``
    gives a changed copy, checked again."""

    # -- reading ---------------------------------------------------------------
    input_format: str | None = None
    """Read every input as this format (None: from the extension and the content)."""
    columns: ColumnMapping = ColumnMapping()
    """Export columns for the id, title and abstract (None in a field: found by name)."""
    max_record_bytes: int = MAX_RECORD_BYTES
    """A record with more text (UTF-8 bytes) is reported and skipped."""

    # -- writing ---------------------------------------------------------------
    output: str | Path | IO[str] | None = None
    """A file (resumable), a text stream, or None for stdout."""
    format: str | None = None
    """``jsonl``, ``json``, ``md``, ``csv`` or ``html``; None: the one the output file's
    suffix names (``.csv``, ``.md``, ``.html``, ``.json``, ``.jsonl``), else ``jsonl``
    (``resolved_format``). A suffix that names another format is a ConfigError."""
    single: bool = False
    """One record: pretty where the format has a pretty form, nothing written if it fails."""
    resume: bool = True
    """Skip the ids already in the output file (False starts it afresh)."""
    retry_failed: bool = False
    """Redo the ids whose line in the output file is an error."""
    force: bool = False
    """Replace an output file that exists and is not one of our outputs (never an input)."""
    order: Literal["input", "completion"] = "input"
    """The order outcomes come in (to ``on_result``, from ``summarize_many``, into the
    output): ``input``, as the records were read (a finished record waits for those
    before it; a stalled one holds back at most 4 × ``concurrency``), or
    ``completion``, each as it finishes."""

    # -- pacing ----------------------------------------------------------------
    concurrency: int = DEFAULT_CONCURRENCY
    """Records in flight at once."""
    rpm: float | None = None
    """Client-side limit: requests per minute (None: none)."""
    tpm: float | None = None
    """Client-side limit: tokens per minute (None: none)."""
    max_cost: float | None = None
    """US dollars: no new request starts once the run's priced cost would pass this."""

    def __post_init__(self) -> None:
        if self.input_format is not None:
            object.__setattr__(self, "input_format", normalise_input_format(self.input_format))
        if self.max_record_bytes < 1:
            raise ConfigError("the record size limit (--max-record-bytes) must be at least 1")
        if isinstance(self.output, str):
            object.__setattr__(self, "output", Path(self.output))
        output_format(self.output, self.format, default="jsonl")  # checked once, here
        if self.retry_failed and self.output_path is None:
            raise ConfigError("--retry-failed works on an -o FILE from an earlier run")
        if self.order not in ORDERS:
            raise ConfigError(f"unknown order {self.order!r}; choose one of {', '.join(ORDERS)}")
        if self.concurrency < 1:
            raise ConfigError("--concurrency must be at least 1")
        if (self.rpm is not None and self.rpm <= 0) or (self.tpm is not None and self.tpm <= 0):
            raise ConfigError("rate limits (--rpm, --tpm) must be positive")
        if self.max_cost is not None and self.max_cost < 0:
            raise ConfigError("--max-cost must be zero or more US dollars")

    @property
    def resolved_format(self) -> str:
        """The format written: ``format``, else the output file's suffix's, else jsonl."""
        return output_format(self.output, self.format, default="jsonl")

    @property
    def destination(self) -> Path | IO[str] | None:
        """The output: a file, a text stream, or None for stdout."""
        return Path(self.output) if isinstance(self.output, str) else self.output

    @property
    def output_path(self) -> Path | None:
        """The output file, when the output is one."""
        destination = self.destination
        return destination if isinstance(destination, Path) else None

    def replace(self, **changes: object) -> RunOptions:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
