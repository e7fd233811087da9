"""The library as a review pipeline uses it (issue 11, item 6)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from summarizer import (
    Document,
    Failure,
    InputError,
    Result,
    Settings,
    Summarizer,
    run_batch,
    summarize,
)
from summarizer.config import Secret
from summarizer.options import RunOptions
from tests.conftest import FAKE_KEY, ROOT, batch_case_record, batch_case_text, seed_record
from tests.openai_server import ScriptedServer, answer
from tests.test_local_batch import openai_settings, serve_cases

PUBMED = ROOT / "tests" / "fixtures" / "exports" / "pubmed-3.xml"


def test_a_plain_string_key_works_and_stays_secret(
    scripted_server: ScriptedServer, seed_text: str
) -> None:
    settings = Settings(backend="openai", base_url=scripted_server.url, api_key=FAKE_KEY)
    assert isinstance(settings.api_key, Secret) and settings.secret == Secret(FAKE_KEY)
    assert FAKE_KEY not in repr(settings)
    scripted_server.fallback = lambda request: answer(seed_record())
    result = summarize(seed_text, settings=settings)
    assert scripted_server.requests[0].headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert FAKE_KEY not in json.dumps(result.to_dict())


def test_summarize_many_gives_distinct_ids_in_order() -> None:
    texts = [batch_case_text(number) for number in range(4)]
    with Summarizer(Settings(backend="rules")) as summarizer:
        items = list(summarizer.summarize_many([*texts, "  "]))
    assert [item.id for item in items] == ["text-1", "text-2", "text-3", "text-4", "text-5"]
    assert isinstance(items[-1], Failure) and isinstance(items[-1].error, InputError)
    assert all(isinstance(item, Result) for item in items[:4])


def test_summarize_many_reads_every_record_of_an_export() -> None:
    with Summarizer(Settings(backend="rules")) as summarizer:
        ids = [item.id for item in summarizer.summarize_many([PUBMED, batch_case_text(1)])]
    assert len(ids) == 4 and ids[-1] == "text-1"


def test_summarize_of_an_export_with_several_records_is_a_clear_error() -> None:
    with pytest.raises(InputError, match=r"several records.*summarize_many"):
        summarize(PUBMED)


def test_document_from_text() -> None:
    document = Document.from_text(batch_case_text(2), id="mine", title="A title")
    assert (document.origin, document.format) == ("<text>", "text")
    result = summarize(document, backend="rules")
    assert result.id == "mine" and result.provenance.source == "<text>"


def test_run_batch_hands_over_every_result(tmp_path: Path) -> None:
    documents = [Document.from_text(batch_case_text(n), id=f"d{n}") for n in range(5)]
    seen: list[Result | Failure] = []
    summary = run_batch(
        documents,
        Settings(backend="rules"),
        RunOptions(output=tmp_path / "o.jsonl"),
        on_result=seen.append,
    )
    assert summary.succeeded == 5 and sorted(item.id for item in seen) == [d.id for d in documents]
    assert all(isinstance(item, Result) and item.record.summary for item in seen)


async def test_async_many_streams_with_concurrency(scripted_server: ScriptedServer) -> None:
    serve_cases(scripted_server, delay=0.2)
    texts = [batch_case_text(number) for number in range(8)]
    async with Summarizer(openai_settings(scripted_server)) as summarizer:
        started = time.perf_counter()
        ids = [item.id async for item in summarizer.asummarize_many(texts, concurrency=8)]
        elapsed = time.perf_counter() - started
    assert sorted(ids) == [f"text-{n}" for n in range(1, 9)]
    assert elapsed < 8 * 0.2 * 0.75  # overlapped, not one after another


def test_a_cache_hit_keeps_the_original_cost(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    from summarizer.cache import ResponseCache

    scripted_server.fallback = lambda request: answer(batch_case_record(7))
    cache = ResponseCache(tmp_path / "cache.sqlite")
    with Summarizer(openai_settings(scripted_server), cache=cache) as summarizer:
        first = summarizer.summarize(batch_case_text(7))
        again = summarizer.summarize(batch_case_text(7))
    assert not first.provenance.cache_hit and first.provenance.original_latency_s is None
    assert again.provenance.cache_hit and again.provenance.tokens == first.provenance.tokens
    assert again.provenance.original_latency_s == pytest.approx(
        first.provenance.latency_s, abs=0.01
    )
    assert again.provenance.original_latency_s and again.provenance.original_latency_s > 0
    assert again.to_dict()["provenance"]["original_latency_s"] > 0
    assert len(scripted_server.requests) == 1


def test_sync_methods_work_inside_a_running_event_loop() -> None:
    async def notebook_cell() -> str:
        with Summarizer(Settings(backend="rules")) as summarizer:
            return summarizer.summarize(batch_case_text(3)).id

    assert asyncio.run(notebook_cell()) == "text"


def test_an_evaluation_of_cached_answers_reports_the_original_latency(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    from summarizer.cache import ResponseCache
    from summarizer.evaluation.eval_runs import score_outputs, summarize_gold
    from summarizer.evaluation.gold import load_gold
    from summarizer.evaluation.prices import PriceTable

    gold = load_gold(ROOT / "evals" / "gold")[:2]
    scripted_server.fallback = lambda request: answer(seed_record())
    cache = ResponseCache(tmp_path / "cache.sqlite")
    settings = openai_settings(scripted_server, validation_attempts=1)
    summarize_gold(settings, gold, cache=cache)
    again = summarize_gold(settings, gold, cache=cache)
    assert all(line["provenance"]["cache_hit"] for line in again)
    price = PriceTable.load().price("openai", "scripted")
    scores = score_outputs(gold, again, price=price)
    assert all(score.latency_s and score.latency_s > 0 for score in scores)
