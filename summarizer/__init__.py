"""case-summarizer: structured, grounded, evaluable records from case-report abstracts.

from summarizer import summarize
result = summarize(Path("page.txt"))            # rules backend without a model
result = summarize(text, backend="openai", model="gpt-4o-mini")
result.record.patient.age_years, result.evidence, result.provenance

with Summarizer(settings) as summarizer:              # many records, through the one runner
    for item in summarizer.summarize_many(paths, concurrency=8):
        ...                                            # a Result or a Failure

run_batch(["export.xml"], settings, RunOptions(output="records.jsonl", concurrency=16))

Each name is imported on first use (PEP 562): a command that only cleans pages never
loads the pipeline, pydantic's schema or a model client (``tests/test_startup.py``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import Settings
    from .document import Abstract, Document, OffsetMap, Section, Text
    from .errors import (
        ConfigError,
        ExtractionError,
        GroundingError,
        InputError,
        ModelCallError,
        OutputError,
        SummarizerError,
    )
    from .ground import AlignmentStatus, EvidenceSpan
    from .local_batch import BatchSummary, arun_batch, run_batch
    from .options import ColumnMapping, RunOptions
    from .pipeline import Summarizer, asummarize, summarize
    from .results import Failure, Provenance, Result
    from .schema import SCHEMA_VERSION, ArticleType, CaseReport, Sex
    from .usage import Usage

__all__ = [
    "SCHEMA_VERSION",
    "Abstract",
    "AlignmentStatus",
    "ArticleType",
    "BatchSummary",
    "CaseReport",
    "ColumnMapping",
    "ConfigError",
    "Document",
    "EvidenceSpan",
    "ExtractionError",
    "Failure",
    "GroundingError",
    "InputError",
    "ModelCallError",
    "OffsetMap",
    "OutputError",
    "Provenance",
    "Result",
    "RunOptions",
    "Section",
    "Settings",
    "Sex",
    "Summarizer",
    "SummarizerError",
    "Text",
    "Usage",
    "arun_batch",
    "asummarize",
    "run_batch",
    "summarize",
]

_HOMES = {
    ".config": ("Settings",),
    ".document": ("Abstract", "Document", "OffsetMap", "Section", "Text"),
    ".errors": (
        "ConfigError",
        "ExtractionError",
        "GroundingError",
        "InputError",
        "ModelCallError",
        "OutputError",
        "SummarizerError",
    ),
    ".ground": ("AlignmentStatus", "EvidenceSpan"),
    ".local_batch": ("BatchSummary", "arun_batch", "run_batch"),
    ".options": ("ColumnMapping", "RunOptions"),
    ".pipeline": ("Summarizer", "asummarize", "summarize"),
    ".results": ("Failure", "Provenance", "Result"),
    ".schema": ("SCHEMA_VERSION", "ArticleType", "CaseReport", "Sex"),
    ".usage": ("Usage",),
}
_HOME = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'summarizer' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # the next lookup is a plain global
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
