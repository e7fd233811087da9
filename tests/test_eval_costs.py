"""Prices with sources (online and Batch API), requests counted apart from re-asks, and
reports that put the verdict and the comparison first."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from summarizer.errors import ConfigError
from summarizer.evaluation.compare import compare_records
from summarizer.evaluation.eval_runs import StoredRun, scores_document
from summarizer.evaluation.gate import Threshold, judge
from summarizer.evaluation.metrics import RecordScore, request_counts
from summarizer.evaluation.prices import Price, PriceTable, price_note
from summarizer.evaluation.report import json_report, markdown_report
from summarizer.evaluation.scorers import FieldScore

# -- prices ------------------------------------------------------------------------------


def test_every_built_in_price_names_its_source_and_date() -> None:
    table = PriceTable.load()
    assert table.models
    for name, entry in table.models.items():
        online = entry.online
        assert online.billed and not online.estimate, name
        assert online.source and online.source.startswith("https://"), name
        assert online.read and date.fromisoformat(online.read), name
        # OpenAI's Batch API: half the online price, same source
        assert entry.batch is not None and entry.batch.batch, name
        assert entry.batch.input == pytest.approx(online.input / 2), name
        assert entry.batch.output == pytest.approx(online.output / 2), name
    for backend in ("rules", "llamacpp"):
        local = table.price(backend, None)
        assert local is not None and not local.billed and not local.estimate
        assert local.cost(10_000, 10_000) == 0.0
        assert table.price(backend, None, batch=True) == Price(
            input=0.0, output=0.0, billed=False, batch=True
        )


def test_price_lookup_online_and_batch() -> None:
    table = PriceTable.load()
    online = table.price("openai", "gpt-4o-mini-2024-07-18")  # a dated snapshot: the pattern
    batch = table.price("openai", "gpt-4o-mini-2024-07-18", batch=True)
    assert online is not None and batch is not None
    assert online.cost(1_000_000, 1_000_000) == pytest.approx(0.75)
    assert batch.cost(1_000_000, 1_000_000) == pytest.approx(0.375)
    assert table.price("openai", "gpt-4o-2024-08-06") != online  # the longer pattern wins
    assert table.price("openai", "some-local-model") is None  # unknown: no cost


def test_a_price_without_a_source_is_an_estimate(tmp_path: Path) -> None:
    extra = tmp_path / "prices.toml"
    extra.write_text(
        "[models]\nmine = { input = 1.0, output = 2.0 }\n"
        'sourced = { input = 1.0, output = 2.0, source = "https://example.test/p", '
        'read = "2026-11-28", batch_input = 0.5, batch_output = 1.0 }\n',
        encoding="utf-8",
    )
    table = PriceTable.load(extra)
    mine, sourced = table.price("openai", "mine"), table.price("openai", "sourced")
    assert mine is not None and mine.estimate
    assert table.price("openai", "mine", batch=True) is None  # no batch rate given
    assert sourced is not None and not sourced.estimate
    stored = table.to_dict("openai", "mine")
    assert stored["estimate"] is True and stored["table"] == f"built-in + {extra}"
    assert "is an estimate" in (price_note(stored) or "")
    note = price_note(table.to_dict("openai", "sourced", batch=True)) or ""
    assert (
        "Batch API price of sourced" in note and "https://example.test/p, read 2026-11-28" in note
    )
    assert price_note(table.to_dict("rules", None)) is None  # nothing billed, nothing to say
    assert "cost unknown" in (price_note(table.to_dict("openai", "nobody")) or "")


def test_half_a_batch_price_is_an_error(tmp_path: Path) -> None:
    extra = tmp_path / "prices.toml"
    extra.write_text("[models]\nx = { input = 1, output = 2, batch_input = 0.5 }\n")
    with pytest.raises(ConfigError, match="both 'batch_input' and 'batch_output'"):
        PriceTable.load(extra)


def test_prices_stored_before_sources_still_read() -> None:
    old_local = {"source": "built-in", "input_per_1m": 0.0, "output_per_1m": 0.0}
    old_model = {"source": "built-in", "input_per_1m": 0.15, "output_per_1m": 0.6}
    local, model = Price.from_dict(old_local), Price.from_dict(old_model)
    assert local is not None and not local.billed and not local.estimate
    assert model is not None and model.estimate  # no source recorded then
    assert Price.from_dict({"input_per_1m": None, "output_per_1m": None}) is None


# -- requests and re-asks ---------------------------------------------------------------


def test_request_counts_from_provenance() -> None:
    assert request_counts({"requests": 5, "reasks": 1, "attempts": 5}) == (5, 1)
    # stored before the split: attempts counted every request; re-asks unknown
    assert request_counts({"attempts": 5}) == (5, None)
    assert request_counts({}) == (None, None)


def _record(ident: str, *, requests: int, reasks: int, sex: float = 1.0) -> RecordScore:
    return RecordScore(
        id=ident,
        ok=True,
        requests=requests,
        reasks=reasks,
        fields={"patient.sex": FieldScore(field="patient.sex", score=sex, reason="")},
    )


def test_staged_requests_are_not_a_regression() -> None:
    """v2 sends one request per stage: more requests, but no "▼ worse" and no gate."""
    single = [_record(f"r{i}", requests=1, reasks=0) for i in range(8)]
    staged = [_record(f"r{i}", requests=5, reasks=0) for i in range(8)]
    comparison = compare_records(single, staged, resamples=1000)
    rows = {row.metric.name: row for row in comparison.rows}
    assert rows["requests"].significant and rows["requests"].verdict == ""
    assert not rows["requests"].regression and not rows["reasks"].significant
    # re-asks are judged: a model that needs them is worse
    reasking = [_record(f"r{i}", requests=2, reasks=1) for i in range(8)]
    rows = {row.metric.name: row for row in compare_records(single, reasking).rows}
    assert rows["reasks"].verdict == "worse"


# -- reports -----------------------------------------------------------------------------


def _run(
    tmp_path: Path, label: str, records: list[RecordScore], price: dict[str, object]
) -> StoredRun:
    scores = scores_document(label, records, resamples=1000, seed=1)
    config = {"run_id": label, "label": label, "backend": "openai", "model": "mine", "price": price}
    return StoredRun(path=tmp_path / label, config=config, scores=scores)


def test_markdown_report_reads_verdict_comparison_then_metrics(tmp_path: Path) -> None:
    estimate = {"input_per_1m": 1.0, "output_per_1m": 2.0, "estimate": True, "billed": True}
    base = _run(
        tmp_path, "base", [_record(f"r{i}", requests=1, reasks=0) for i in range(6)], estimate
    )
    new = _run(
        tmp_path,
        "new",
        [_record(f"r{i}", requests=5, reasks=0, sex=0.0) for i in range(6)],
        estimate,
    )
    comparison = compare_records(base.records, new.records, name_a="base", name_b="new")
    verdict = judge([new], [comparison], thresholds=[Threshold.parse("overall=0.5")],
                    fail_on_regression=True)  # fmt: skip
    text = markdown_report([base, new], [comparison], verdict=verdict)
    order = [text.index(heading) for heading in ("## Verdict", "## new vs base", "## Runs",
                                                 "## Metrics", "## Fields", "## Records")]  # fmt: skip
    assert order == sorted(order)
    assert "**FAIL: 3 gate(s) failed for new**" in text
    assert "- fail: new: overall = 0 is below 0.5" in text
    assert "| Patient sex (patient.sex) | 1.000 | 0.000 |" in text
    assert re.search(r"\| requests \| 1 \| 5 \| \+4 \| \[\+?4, \+?4\] \| more \|", text)
    assert "**Patient sex (patient.sex)**: `r0` 1.00→0.00" in text
    assert "cost is an estimate" in text
    assert json_report([base, new], [comparison], verdict=verdict)["verdict"]["passed"] is False
