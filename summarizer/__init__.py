"""case-summarizer: structured, grounded, evaluable records from case-report abstracts.

from summarizer import summarize
result = summarize(Path("page.txt"))            # rules backend without a model
result = summarize(text, backend="openai", model="gpt-4o-mini")
result.record.patient.age_years, result.evidence, result.provenance

with Summarizer(settings) as summarizer:              # many records, through the one runner
    for item in summarizer.summarize_many(paths, concurrency=8):
        ...                                            # a Result or a Failure

run_batch(["export.xml"], settings, RunOptions(output="records.jsonl", concurrency=16))
"""

from __future__ import annotations

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
