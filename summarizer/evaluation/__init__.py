"""Evaluation harness: score prompt versions and models against hand-labelled gold records.

    from summarizer.evaluation import load_gold, execute, compare_records
    gold = load_gold(Path("evals/gold"))
    run = execute(settings, gold, gold_dir=..., runs_dir=..., prices=PriceTable.load(), cache=None)
    run.metrics["overall"]   # {"estimate", "low", "high", "n"}

The pieces: ``gold`` (the gold-file model and validation), ``scorers`` (field-typed
scorers), ``metrics`` (per-record scores, metrics, prices), ``compare`` (bootstrap
intervals, paired comparisons), ``runner`` (run, store, rescore), ``report``.
"""

from __future__ import annotations

from .compare import Comparison, Interval, bootstrap_interval, compare_records, paired_bootstrap
from .gold import (
    GoldExpected,
    GoldRecord,
    LoadedGold,
    gold_json_schema,
    load_gold,
    validate_gold_dir,
)
from .metrics import METRICS, Metric, PriceTable, RecordScore, aggregate
from .runner import (
    StoredRun,
    execute,
    list_runs,
    load_run,
    plan_variants,
    rescore_run,
    score_outputs,
)
from .scorers import FIELDS, FieldScore, match_lists, score_record, text_similarity

__all__ = [
    "FIELDS",
    "METRICS",
    "Comparison",
    "FieldScore",
    "GoldExpected",
    "GoldRecord",
    "Interval",
    "LoadedGold",
    "Metric",
    "PriceTable",
    "RecordScore",
    "StoredRun",
    "aggregate",
    "bootstrap_interval",
    "compare_records",
    "execute",
    "gold_json_schema",
    "list_runs",
    "load_gold",
    "load_run",
    "match_lists",
    "paired_bootstrap",
    "plan_variants",
    "rescore_run",
    "score_outputs",
    "score_record",
    "text_similarity",
    "validate_gold_dir",
]
