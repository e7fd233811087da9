"""Review: check each record against its evidence, correct it, and turn corrections into gold.

- ``review_queue(results)``: records in the order that most needs a person, with reasons;
- ``ReviewSession(Path("records.jsonl"))``: a stored review of a records file (SQLite
  beside it): edits validated by the schema, field statuses, done marks;
- ``export_reviewed`` / ``export_gold``: the reviewed records (JSON Lines or the CSV
  review table, with a ``review`` block) and gold files for ``case-summarizer eval``;
- ``serve(session)``: the local web page (``case-summarizer review RECORDS.jsonl``).
"""

from __future__ import annotations

from .export import GoldExport, export_gold, export_reviewed, gold_expected
from .queue import QueueEntry, Reason, ReasonKind, reasons_for, review_queue
from .review_store import ConflictError, ReviewStore, default_store_path
from .session import EditError, RecordState, ReviewSession

__all__ = [
    "ConflictError",
    "EditError",
    "GoldExport",
    "QueueEntry",
    "Reason",
    "ReasonKind",
    "RecordState",
    "ReviewSession",
    "ReviewStore",
    "default_store_path",
    "export_gold",
    "export_reviewed",
    "gold_expected",
    "reasons_for",
    "review_queue",
]
