"""Which reader a file needs: by the caller's choice, the extension, then the content."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..options import INPUT_FORMATS

FORMATS = INPUT_FORMATS
"""Formats ``--format`` accepts (``tsv`` is read as CSV with tabs)."""

_EXTENSIONS = {
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".mhtml": "html",
    ".xml": "pubmed-xml",
    ".nbib": "medline",
    ".medline": "medline",
    ".ris": "ris",
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".pdf": "pdf",
}

_PUBMED_XML = re.compile(rb"<(PubmedArticleSet|PubmedArticle|PubmedBookArticle)[\s>]")
_HTML = re.compile(
    rb"<(!doctype\s+html|html|head|body|meta|div|p|article|section|h1|title)[\s>/]", re.I
)
_MEDLINE = re.compile(rb"^PMID- ", re.M)
_RIS = re.compile(rb"^TY  - ", re.M)
_JSON_LINE = re.compile(rb"\A\s*\{")
_HEADER_WORDS = re.compile(
    rb"(?i)\b(title|abstract|pmid|covidence|authors?|journal|doi|key|text|id)\b"
)


OWN_OUTPUT_MARKERS = (
    b'<meta name="generator" content="case-summarizer">',  # our HTML pages and reports
    b"<!-- case-summarizer: case cards -->",  # our Markdown cards
    b"<!-- case-summarizer: evaluation report -->",  # our Markdown evaluation reports
)
"""Written at the top of our own Markdown and HTML outputs, so they are never read back
as abstract pages (a rerun into a folder that holds an earlier output)."""

OWN_OUTPUT_HINT = (
    "is a case-summarizer output, not an abstract page "
    "(render stored results with `case-summarizer export`)"
)
OWN_TABLE_HINT = (
    "is a case-summarizer table (its header is ours), not an export of abstracts "
    "(its records are in the JSON Lines store it was rendered from)"
)

OWN_TABLE_COLUMNS = frozenset(
    {"id", "evidence_count", "unaligned_count", "grounding_rate", "error_type", "error"}
)
"""Columns of the review table (``summarizer.output.table``) that no export of abstracts
has together: a header holding all of them is ours, whatever its order or extra columns
(a test holds them to the table's header)."""

BATCH_REQUEST_KEYS = frozenset({"custom_id", "method", "url", "body"})
"""A provider batch's request line (``batch prepare``)."""
BATCH_CONTEXT_KIND = "case-summarizer/batch-context"
"""The ``kind`` of a batch context file's first line (``batch prepare``)."""
EVAL_REPORT_KIND = "case-summarizer/eval-report"
"""The ``kind`` of a JSON evaluation report (``eval --report FILE.json``)."""


def is_own_output(head: bytes) -> bool:
    """Whether a page's first bytes carry our own output marker."""
    return any(marker in head for marker in OWN_OUTPUT_MARKERS)


def is_own_table_header(columns: Iterable[str]) -> bool:
    """Whether a CSV header is our review table's."""
    return {column.strip().lstrip("\ufeff") for column in columns} >= OWN_TABLE_COLUMNS


def own_json_kind(value: Mapping[str, Any]) -> str | None:
    """Which of our own JSON files a first line (or a whole pretty JSON file) comes from:
    ``results`` (a result or a failure), ``requests`` or ``context`` (a provider batch's),
    ``page`` (an evaluation report), or None."""
    if isinstance(value.get("id"), str) and (
        {"record", "provenance"} <= value.keys() or {"error", "error_type"} <= value.keys()
    ):
        return "results"
    if value.keys() >= BATCH_REQUEST_KEYS:
        return "requests"
    if value.get("kind") == BATCH_CONTEXT_KIND:
        return "context"
    if value.get("kind") == EVAL_REPORT_KIND:
        return "page"
    return None


def detect_format(head: bytes, suffix: str = "") -> str:
    """The format of a file from its extension and its first bytes.

    ``head`` should already be decoded-compatible ASCII-ish bytes (UTF-16 input is
    transcoded by the caller before sniffing).
    """
    by_extension = _EXTENSIONS.get(suffix)
    sample = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if by_extension == "pubmed-xml":
        if _PUBMED_XML.search(sample) or not _HTML.search(sample):
            return "pubmed-xml"
        return "html"
    if by_extension == "jsonl":
        return "jsonl"
    if by_extension is not None:
        return by_extension
    if _PUBMED_XML.search(sample):
        return "pubmed-xml"
    if _MEDLINE.search(sample):
        return "medline"
    if _RIS.search(sample):
        return "ris"
    if sample.startswith(b"<") and _HTML.search(sample[:4096]):
        return "html"
    if _JSON_LINE.match(sample):
        return "jsonl"
    first_line = sample.split(b"\n", 1)[0]
    if _HEADER_WORDS.search(first_line) and len(first_line) < 4000:
        if first_line.count(b"\t") >= 1:
            return "tsv"
        if first_line.count(b",") >= 1 and b". " not in first_line:
            return "csv"
    if _HTML.search(sample[:2048]) and sample.count(b"<") > 5:
        return "html"
    return "text"
