"""Priced as billed: cached prompt tokens read from the usage, carried everywhere, and
priced at the provider's cached rate; the expected cost with and without caching.

Against the scripted OpenAI-compatible server: replies that report
``usage.prompt_tokens_details.cached_tokens`` (fixed, or measured by ``PromptCache`` as a
caching provider would), through ``summarize``, the run log, ``eval`` and ``batch
collect``; ``batch prepare`` counts the repeated prefix of each request itself.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openai.types import CompletionUsage

from summarizer import RunOptions, Settings, Summarizer, Usage
from summarizer.batch_api import collect_batch, prepare_batch
from summarizer.batch_api.tokens import TokenCounter
from summarizer.cli import cli
from summarizer.errors import ConfigError
from summarizer.evaluation.eval_runs import load_run
from summarizer.evaluation.prices import Price, PriceTable, PromptCacheRule, price_note
from summarizer.runlog import RunLog
from tests.conftest import FAKE_KEY, ROOT, SEED, seed_record, write_batch_input
from tests.openai_server import PromptCache, Reply, ScriptedServer, answer, completion_body
from tests.test_batch_api import answer_every_request, case_number, result_line
from tests.test_eval_run import gold_dir  # noqa: F401 - the fixture, used below
from tests.test_eval_run import route as eval_route

# --- reading and pricing -------------------------------------------------------------------


def test_usage_reads_the_cached_tokens_of_the_prompt() -> None:
    usage = CompletionUsage.model_validate(
        {
            "prompt_tokens": 2006,
            "completion_tokens": 300,
            "total_tokens": 2306,
            "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
        }
    )
    assert Usage.of(usage) == Usage(2006, 300, 1920)
    bare = CompletionUsage(prompt_tokens=10, completion_tokens=2, total_tokens=12)
    assert Usage.of(bare).cached_tokens == 0  # a server that reports no details
    wrong = usage.model_copy(update={"prompt_tokens": 1000})
    assert Usage.of(wrong).cached_tokens == 1000  # never more than the prompt
    assert Usage.from_dict(Usage(5, 1, 3).to_dict()) == Usage(5, 1, 3)
    assert Usage.from_dict({"prompt": 5, "completion": 1, "total": 6}).cached_tokens == 0


def test_cached_tokens_are_priced_at_the_cached_rate() -> None:
    price = Price(input=1.0, output=2.0, cached_input=0.25, source="s")
    assert price.cost(1000, 50, cached=800) == pytest.approx((200 + 800 * 0.25 + 100) / 1e6)
    assert price.cost(1000, 50) == pytest.approx(1100 / 1e6)
    assert price.cost(1000, 0, cached=5000) == pytest.approx(250 / 1e6)  # capped at the prompt
    unknown = Price(input=1.0, output=2.0, source="s")
    assert unknown.cost(1000, 0, cached=800) == unknown.cost(1000, 0)  # no cached rate: full
    assert "cached prompt tokens at the full rate" in (price_note({**unknown.to_dict()}) or "")
    assert Price.from_dict(price.to_dict()) == price


def test_every_billed_model_has_a_sourced_cached_rate() -> None:
    table = PriceTable.load()
    for name, entry in table.models.items():
        online = entry.online
        assert online.cached_input is not None and online.cached_input < online.input, name
        assert online.source and (online.cached_read or online.read), name
        assert entry.batch is not None and entry.batch.cached_input is not None, name
        assert entry.batch.cached_input < entry.batch.input, name
    mini = table.price("openai", "gpt-4o-mini-2024-07-18")
    assert mini is not None and (mini.input, mini.cached_input) == (0.15, 0.075)
    note = price_note({"model": "gpt-4.1-mini", **table.to_dict("openai", "gpt-4.1-mini")})
    assert note is not None and "cached prompt tokens $0.1 per 1M (https://" in note
    assert table.prompt_cache.source and table.prompt_cache.read


def test_the_prompt_cache_rule_is_openais() -> None:
    rule = PromptCacheRule(minimum=1024, step=128)
    assert [rule.cached(n) for n in (0, 1023, 1024, 1151, 1152, 1700)] == [
        0,
        0,
        1024,
        1024,
        1152,
        1664,
    ]


def test_a_price_file_gives_cached_rates_and_its_own_cache_rule(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(
        "[prompt_cache]\nminimum = 256\nstep = 64\n\n"
        '[models."my-deployment"]\ninput = 1.0\ncached_input = 0.1\noutput = 4.0\n',
        encoding="utf-8",
    )
    table = PriceTable.load(path)
    price = table.price("openai", "my-deployment")
    assert price is not None and price.cached_input == 0.1
    assert table.prompt_cache.cached(300) == 256
    path.write_text('[models.x]\ninput = 1.0\noutput = 1.0\ncached_input = "half"\n')
    with pytest.raises(ConfigError, match="numeric"):
        PriceTable.load(path)
    path.write_text("[prompt_cache]\nstep = 0\n")
    with pytest.raises(ConfigError, match="step"):
        PriceTable.load(path)


# --- counting the repeated prefix ---------------------------------------------------------


def _body(system: str, user: str, tools: list[Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}]
    }
    if tools is not None:
        body["tools"] = tools
    return body


def test_the_repeated_prefix_is_what_a_request_shares_with_one_before_it() -> None:
    every = PromptCacheRule(minimum=0, step=1).cached  # every shared token counts
    counter = TokenCounter("unknown-model", cache_rule=every)  # characters / 4
    tools = [{"type": "function", "function": {"name": "T", "parameters": {"x": "y" * 400}}}]
    system = "s" * 400
    counter.add(_body(system, "A" * 400, tools))
    first = counter.total()
    assert first.cacheable_tokens == 0  # nothing came before it
    counter.add(_body(system, "A" * 200 + "B" * 200, tools))
    second = counter.total().cacheable_tokens
    schema = -(-len(json.dumps(tools)) // 4)
    # the tools, the system message (its text and the format's 4 tokens a message) and
    # the start the two user messages share (their role and 200 characters)
    shared_start = -(-len("user\n" + "A" * 200) // 4)
    assert second == schema + (len(system) // 4 + 4) + shared_start
    counter.add(_body("other system", "A" * 400, tools))
    # only the tools repeat, and the role that opens the system message ("system\n")
    assert counter.total().cacheable_tokens - second == schema + 2
    # in batches or one by one, the same count
    again = TokenCounter("unknown-model", cache_rule=every)
    for body in (_body(system, "A" * 400, tools), _body(system, "A" * 200 + "B" * 200, tools)):
        again.add(body)
    assert again.total().cacheable_tokens == second


def test_batch_prepare_shows_the_cost_with_and_without_caching(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    write_batch_input(source, 6)
    settings = Settings(backend="openai", api_key=FAKE_KEY, model="gpt-4o-mini")
    v1 = prepare_batch([source], settings, output=tmp_path / "v1.jsonl")
    # the tools and system prompt repeat in every request after the first, over 1,024 tokens
    assert v1.tokens.cacheable_tokens >= 5 * 1024
    assert v1.tokens.cacheable_tokens < v1.tokens.prompt_tokens
    assert v1.prompt_cost_cached is not None and v1.prompt_cost is not None
    assert v1.prompt_cost_cached < v1.prompt_cost
    staged = Settings(backend="openai", api_key=FAKE_KEY, model="gpt-4o-mini", prompt="v2")
    v2 = prepare_batch([source], staged, output=tmp_path / "v2.jsonl")
    # each stage's own tool + the system prompt: under OpenAI's 1,024-token minimum
    assert v2.tokens.cacheable_tokens == 0
    done = CliRunner().invoke(
        cli, ["batch", "prepare", str(source), "-o", str(tmp_path / "r.jsonl"), "--model", "gpt-4o"]
    )
    assert done.exit_code == 0, done.output
    assert "of them a repeated prefix a prompt cache answers" in done.output
    assert "without prompt caching, $" in done.output and "if every repeated prefix" in done.output


# --- online: provenance, the run log ------------------------------------------------------


def _online(server: ScriptedServer, **changes: Any) -> Settings:
    options: dict[str, Any] = {
        "backend": "openai",
        "base_url": server.url,
        "model": "gpt-4o-mini",
        "timeout": 5.0,
    }
    options.update(changes)
    return Settings.from_env(env={"OPENAI_API_KEY": FAKE_KEY}, **options)


def test_cached_tokens_reach_provenance_the_output_and_the_run_log(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    scripted_server.enqueue(answer(seed_record(), prompt_tokens=1800, cached_tokens=1536))
    log = RunLog(tmp_path / "log.sqlite")
    with Summarizer(_online(scripted_server), cache=None, run_log=log) as summarizer:
        result = summarizer.summarize(SEED)
    assert result.provenance.tokens == Usage(1800, 50, 1536)
    line = json.loads(result.to_json())
    assert line["provenance"]["tokens"] == {
        "prompt": 1800,
        "completion": 50,
        "total": 1850,
        "cached": 1536,
    }
    assert json.loads(json.dumps(result.to_dict())) == line  # the fast path writes the same
    log.close()
    (row,) = RunLog(tmp_path / "log.sqlite", read_only=True).query()
    assert (row["prompt_tokens"], row["cached_tokens"]) == (1800, 1536)


def test_the_logs_command_shows_cached_tokens(
    scripted_server: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripted_server.enqueue(answer(seed_record(), prompt_tokens=1800, cached_tokens=1536))
    runner = CliRunner()
    options = ["--base-url", scripted_server.url, "--api-key", FAKE_KEY, "--model", "m"]
    done = runner.invoke(cli, ["summarize", str(SEED), *options])
    assert done.exit_code == 0, done.output
    table = runner.invoke(cli, ["logs"])
    header, row = table.output.splitlines()[:2]
    assert "cached" in header and "1536" in row
    exported = json.loads(runner.invoke(cli, ["logs", "--json"]).output)
    assert exported[0]["cached_tokens"] == 1536


def test_a_caching_server_reports_the_repeated_prefix_of_later_requests(
    scripted_server: ScriptedServer,
) -> None:
    """``PromptCache`` as a caching provider: the first request pays in full, the next
    ones find the tools and system prompt (v1: over 1,024 tokens) in the cache."""
    scripted_server.prompt_cache = PromptCache("gpt-4o-mini")
    scripted_server.fallback = lambda request: answer(seed_record())
    with Summarizer(_online(scripted_server), cache=None, run_log=None) as summarizer:
        first = summarizer.summarize(SEED).provenance.tokens
        second = summarizer.summarize(SEED.read_text(encoding="utf-8") + " ").provenance.tokens
    assert first.cached_tokens == 0 and first.prompt_tokens > 1024
    assert second.cached_tokens >= 1024 and (second.cached_tokens - 1024) % 128 == 0
    assert second.cached_tokens <= second.prompt_tokens


# --- eval ---------------------------------------------------------------------------------


def test_eval_prices_cached_tokens_and_shows_the_cost_with_and_without_caching(
    scripted_server: ScriptedServer,
    tmp_path: Path,
    gold_dir: Path,  # noqa: F811 - the imported fixture
) -> None:
    """Every answer reports 1,000 prompt tokens, 800 of them cached: the run costs what
    the provider bills, and the report says what it would cost with no caching and with
    every repeated prefix cached."""

    def reply(request: dict[str, Any]) -> Reply:
        found = eval_route(request)
        body = found.body

        def cached(request: dict[str, Any]) -> dict[str, Any]:
            made = body(request) if callable(body) else body
            assert isinstance(made, dict)
            made["usage"] = {
                "prompt_tokens": 1000,
                "completion_tokens": 50,
                "total_tokens": 1050,
                "prompt_tokens_details": {"cached_tokens": 800},
            }
            return made

        return Reply(body=cached)

    scripted_server.fallback = reply
    gold = gold_dir
    prices = tmp_path / "prices.toml"
    prices.write_text(
        '[models.scripted-model]\ninput = 1.0\ncached_input = 0.25\noutput = 2.0\nsource = "test"\n',
        encoding="utf-8",
    )
    runs = tmp_path / "runs"
    done = CliRunner().invoke(
        cli,
        [
            "eval", "--backend", "openai", "--base-url", scripted_server.url,
            "--api-key", FAKE_KEY, "--model", "scripted-model", "--gold", str(gold),
            "--runs-dir", str(runs), "--prices", str(prices), "--no-cache",
        ],
    )  # fmt: skip
    assert done.exit_code in (0, 1), done.output
    (path,) = [p for p in runs.iterdir() if "scripted-model" in p.name]
    run = load_run(path)
    for record in run.records:
        assert record.cached_tokens == 800
        assert record.cost_usd == pytest.approx((200 + 800 * 0.25 + 100) / 1e6)
        assert record.cost_uncached_usd == pytest.approx((1000 + 100) / 1e6)
        assert record.cost_cached_usd is not None
        assert record.cost_cached_usd <= record.cost_uncached_usd
    # what a cache would answer of the requests as built: nothing for the first record,
    # the tools and system prompt for the next ones (characters / 4 for an unknown model)
    expected = run.config["expected_cached_tokens"]
    first, *rest = [expected[record.id] for record in run.records]
    assert first == 0 and rest and all(value >= 1024 for value in rest)
    for name in ("cost_usd", "cost_uncached_usd", "cost_cached_usd", "cached_tokens"):
        assert name in run.metrics, name
    assert "cached_tokens" in done.output and "cost_uncached_usd" in done.output


# --- batch collect ------------------------------------------------------------------------


def test_batch_collect_prices_the_cached_tokens_of_the_answers(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    write_batch_input(source, 3)
    settings = Settings(backend="openai", api_key=FAKE_KEY, model="gpt-4o-mini")
    requests = tmp_path / "requests.jsonl"
    prepare_batch([source], settings, output=requests)
    results = tmp_path / "results.jsonl"
    answer_every_request(requests, results)
    lines = []
    for raw in results.read_text(encoding="utf-8").splitlines():
        line = json.loads(raw)
        line["response"]["body"]["usage"]["prompt_tokens_details"] = {"cached_tokens": 60}
        lines.append(json.dumps(line) + "\n")
    results.write_text("".join(lines), encoding="utf-8")
    log = RunLog(tmp_path / "log.sqlite")
    summary = collect_batch(
        results, settings, RunOptions(output=tmp_path / "out.jsonl"), requests=requests, run_log=log
    )
    assert summary.batch_tokens == Usage(300, 150, 180)
    price = PriceTable.load().price("openai", "gpt-4o-mini", batch=True)
    assert price is not None and price.cached_input is not None
    assert summary.cost == pytest.approx(price.cost(300, 150, cached=180))
    assert summary.cost_without_cache == pytest.approx(price.cost(300, 150))
    assert summary.cost is not None and summary.cost_without_cache is not None
    assert summary.cost < summary.cost_without_cache
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [record["provenance"]["tokens"]["cached"] for record in records] == [60] * 3
    assert summary.to_dict()["batch_tokens"]["cached"] == 180
    log.close()


def test_collect_from_the_cli_says_how_many_prompt_tokens_were_cached(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    write_batch_input(source, 2)
    requests = tmp_path / "requests.jsonl"
    prepare_batch(
        [source], Settings(backend="openai", api_key=FAKE_KEY, model="gpt-4o"), output=requests
    )
    results = tmp_path / "results.jsonl"
    results.write_text(
        "".join(
            json.dumps(
                result_line(
                    line["custom_id"],
                    completion_body(
                        line["body"],
                        json.dumps(_record_for(line["body"])),
                        prompt_tokens=1700,
                        cached_tokens=1536,
                    ),
                )
            )
            + "\n"
            for line in map(json.loads, requests.read_text().splitlines())
        ),
        encoding="utf-8",
    )
    done = CliRunner().invoke(
        cli,
        [
            "batch", "collect", str(results), "--requests", str(requests),
            "-o", str(tmp_path / "out.jsonl"), "--no-log",
        ],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "3,400 prompt (3,072 of them cached)" in done.output
    assert "without the cache discount" in done.output


def _record_for(body: dict[str, Any]) -> dict[str, Any]:
    from tests.conftest import batch_case_record

    return batch_case_record(case_number(body))


def test_the_run_log_migrates_and_old_logs_read_without_the_column(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE calls (id INTEGER PRIMARY KEY, time TEXT NOT NULL, record_id TEXT,"
            " prompt_tokens INTEGER, completion_tokens INTEGER, cache_hit INTEGER NOT NULL"
            " DEFAULT 0)"
        )
        db.execute(
            "INSERT INTO calls (time, record_id, prompt_tokens, completion_tokens)"
            " VALUES ('2026-01-01T00:00:00', 'a', 10, 2)"
        )
    (row,) = RunLog(path, read_only=True).query()
    assert row["cached_tokens"] is None and row["prompt_tokens"] == 10
    assert ROOT.is_dir()
