"""Review: check each record against its evidence, correct it, and turn corrections into gold.

- ``review_queue(results)``: records in the order that most needs a person, with reasons;
- ``ReviewSession(Path("records.jsonl"), reviewer="alice")``: one reviewer's stored review
  of a records file (SQLite beside it): edits validated by the schema, field statuses,
  notes, the include/exclude decision, done marks, undo; the reasons computed again after
  every change;
- ``compare(first, second)``: two reviews' agreement (percent, Cohen's kappa) and conflicts;
  ``ConsensusSession(records, first, second)``: their adjudication, what exports write;
- ``review_stats([session])``: the model's accuracy per field with Wilson intervals, by
  backend, model and prompt version, and each reviewer's pace;
- ``export_reviewed`` / ``export_gold``: the reviewed records (JSON Lines or the CSV
  review table, with a ``review`` block) and gold files for ``case-summarizer eval``;
- ``serve(session)``: the local web page (``case-summarizer review RECORDS.jsonl``).
"""

from __future__ import annotations

from .consensus import Agreement, ConsensusSession, FieldAgreement, cohen_kappa, compare
from .export import GoldExport, export_gold, export_reviewed, gold_expected
from .queue import QueueEntry, Reason, ReasonKind, reasons_for, review_queue
from .review_store import ConflictError, NothingToUndo, ReviewStore, default_store_path
from .session import EditError, RecordState, ReviewSession
from .stats import ReviewStats, review_stats, wilson

__all__ = [
    "Agreement",
    "ConflictError",
    "ConsensusSession",
    "EditError",
    "FieldAgreement",
    "GoldExport",
    "NothingToUndo",
    "QueueEntry",
    "Reason",
    "ReasonKind",
    "RecordState",
    "ReviewSession",
    "ReviewStats",
    "ReviewStore",
    "cohen_kappa",
    "compare",
    "default_store_path",
    "export_gold",
    "export_reviewed",
    "gold_expected",
    "reasons_for",
    "review_queue",
    "review_stats",
    "wilson",
]
