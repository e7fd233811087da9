"""Evaluation harness: score prompt versions and models against hand-labelled gold records.

    from summarizer.evaluation import PriceTable, execute, load_gold
    gold = load_gold(Path("evals/gold"))
    run = execute(settings, gold, gold_dir=Path("evals/gold"), runs_dir=Path("evals/runs"),
                  prices=PriceTable.load(), cache=None)
    run.metrics["overall"]   # {"estimate", "low", "high", "n"}

The pieces: ``gold`` (the gold-file model and validation), ``scorers`` (the table of
field specs and the presence rules), ``metrics`` (per-record scores and metrics),
``prices`` (token prices with their sources, online and Batch API), ``compare`` (bootstrap
intervals, paired comparisons), ``runner`` (run, store, reuse, rescore), ``gate`` (the
pass/fail verdict for CI), ``report``.
Names are imported on first use, so the CLI starts without numpy and scipy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .compare import Comparison, Interval, bootstrap_interval, compare_records, paired_bootstrap
    from .eval_runs import (
        StoredRun,
        execute,
        list_runs,
        load_run,
        plan_variants,
        rescore_run,
        score_outputs,
    )
    from .gate import Threshold, Verdict, judge
    from .gold import (
        GoldExpected,
        GoldRecord,
        LoadedGold,
        gold_json_schema,
        load_gold,
        validate_gold_dir,
    )
    from .metrics import METRICS, Metric, RecordScore, aggregate
    from .prices import Price, PriceTable
    from .scorers import (
        FIELD_SPECS,
        FIELDS,
        FieldScore,
        FieldSpec,
        field_label,
        match_lists,
        score_record,
        text_similarity,
    )

_WHERE = {
    "Comparison": "compare",
    "Interval": "compare",
    "bootstrap_interval": "compare",
    "compare_records": "compare",
    "paired_bootstrap": "compare",
    "GoldExpected": "gold",
    "GoldRecord": "gold",
    "LoadedGold": "gold",
    "gold_json_schema": "gold",
    "load_gold": "gold",
    "validate_gold_dir": "gold",
    "Threshold": "gate",
    "Verdict": "gate",
    "judge": "gate",
    "METRICS": "metrics",
    "Metric": "metrics",
    "Price": "prices",
    "PriceTable": "prices",
    "RecordScore": "metrics",
    "aggregate": "metrics",
    "StoredRun": "runner",
    "execute": "runner",
    "list_runs": "runner",
    "load_run": "runner",
    "plan_variants": "runner",
    "rescore_run": "runner",
    "score_outputs": "runner",
    "FIELDS": "scorers",
    "FIELD_SPECS": "scorers",
    "FieldScore": "scorers",
    "FieldSpec": "scorers",
    "field_label": "scorers",
    "match_lists": "scorers",
    "score_record": "scorers",
    "text_similarity": "scorers",
}

__all__ = [
    "FIELDS",
    "FIELD_SPECS",
    "METRICS",
    "Comparison",
    "FieldScore",
    "FieldSpec",
    "GoldExpected",
    "GoldRecord",
    "Interval",
    "LoadedGold",
    "Metric",
    "Price",
    "PriceTable",
    "RecordScore",
    "StoredRun",
    "Threshold",
    "Verdict",
    "aggregate",
    "bootstrap_interval",
    "compare_records",
    "execute",
    "field_label",
    "gold_json_schema",
    "judge",
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


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{module}", __name__), name)
