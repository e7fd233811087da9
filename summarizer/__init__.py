"""case-summarizer: structured, grounded, evaluable records from case-report abstracts.

from summarizer import summarize
result = summarize(Path("page.txt"))            # rules backend without a model
result = summarize(text, backend="openai", model="gpt-4o-mini")
result.record.patient.age_years, result.evidence, result.provenance
"""

from __future__ import annotations

from .batch import BatchSummary, arun_batch, run_batch
from .config import Settings
from .document import Abstract, Document, OffsetMap, Section
from .errors import (
    ConfigError,
    ExtractionError,
    GroundingError,
    InputError,
    ModelCallError,
    SummarizerError,
)
from .ground import AlignmentStatus, EvidenceSpan
from .pipeline import Failure, Provenance, Result, Summarizer, asummarize, summarize
from .schema import SCHEMA_VERSION, ArticleType, CaseReport, Sex

__all__ = [
    "SCHEMA_VERSION",
    "Abstract",
    "AlignmentStatus",
    "ArticleType",
    "BatchSummary",
    "CaseReport",
    "ConfigError",
    "Document",
    "EvidenceSpan",
    "ExtractionError",
    "Failure",
    "GroundingError",
    "InputError",
    "ModelCallError",
    "OffsetMap",
    "Provenance",
    "Result",
    "Section",
    "Settings",
    "Sex",
    "Summarizer",
    "SummarizerError",
    "arun_batch",
    "asummarize",
    "run_batch",
    "summarize",
]
