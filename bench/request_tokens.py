"""Prompt tokens a request, by prompt version, mode and layout, on the E3C case texts.

For each (prompt, mode) the requests ``batch prepare`` would write for the texts are
built (nothing is sent) and counted with the model's tokenizer (o200k_base, as
``TokenCounter`` counts a request file: messages, the chat format's tokens, and the
schema part as JSON text), with each request's repeated prefix (what it shares from its
start with a request before it) under OpenAI's caching rule (1,024 tokens, then steps of
128). Layouts: ``openai`` is what OpenAI and Azure get (a staged prompt's stages send
their own tool), ``self-hosted`` what a server elsewhere and the in-process llamacpp
backend get (every stage offers every stage's tool, one shared prefix). The part of a v1
request that is the tool schema is counted apart, and so is the full pydantic schema
instructor would have sent in its place (the schema before ``sent_schema``).

Costs are for 10,000 records at gpt-4o-mini and gpt-4.1-mini list prices, input only,
without caching and with every repeated prefix answered from the cache. Target: ≤ 1,800
prompt tokens per v1 request (tools mode). Deterministic: one run. Skipped when
../shared/corpus is absent.

    .venv/bin/python bench/request_tokens.py [--limit N]
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from common import ROOT, print_table, write_results

from summarizer import Settings
from summarizer.backends.chat import INSTRUCTOR_MODES, RequestSpec, build_requests
from summarizer.backends.openai_compat import request_spec
from summarizer.batch_api.tokens import TokenCounter
from summarizer.clean import clean
from summarizer.errors import SummarizerError
from summarizer.evaluation.prices import PriceTable
from summarizer.ingest import iter_documents
from summarizer.render import render
from summarizer.schema import CaseReport

CORPUS = ROOT.parent / "shared" / "corpus" / "e3c-case-texts.jsonl"
TARGET_V1 = 1800
MODEL = "gpt-4o-mini"
SELF_HOSTED = "http://127.0.0.1:8080/v1"


def abstracts(limit: int | None) -> list[Any]:
    found = []
    for item in iter_documents([CORPUS]):
        if isinstance(item, Exception):
            continue
        try:
            found.append(clean(item))
        except SummarizerError:
            continue
        if limit and len(found) >= limit:
            break
    return found


def spec(mode: str, layout: str) -> RequestSpec:
    settings = Settings(
        backend="openai",
        api_key="unused",
        model=MODEL,
        mode=mode,
        base_url=SELF_HOSTED if layout == "self-hosted" else None,
    )
    built = request_spec(settings)
    # the self-hosted layout, without a grammar dialect: the same text a provider reads
    return RequestSpec(
        model=built.model,
        mode=built.mode,
        params=built.params,
        share_stage_tools=built.share_stage_tools,
    )


def measure(texts: list[Any], version: str, mode: str, layout: str) -> dict[str, Any]:
    table = PriceTable.load()
    counter = TokenCounter(MODEL, cache_rule=table.prompt_cache.cached)
    requests_spec = spec(mode, layout)
    requests = 0
    for abstract in texts:
        for request in build_requests(render(abstract, version), requests_spec):
            counter.add(request.body)
            requests += 1
    total = counter.total()
    row: dict[str, Any] = {
        "prompt": version,
        "mode": mode,
        "layout": layout,
        "requests": requests,
        "tokens_per_request": round(total.prompt_tokens / requests, 1),
        "tokens_per_record": round(total.prompt_tokens / len(texts), 1),
        "cacheable_share": round(total.cacheable_tokens / total.prompt_tokens, 3),
    }
    for model in ("gpt-4o-mini", "gpt-4.1-mini"):
        price = table.price("openai", model)
        assert price is not None
        scale = 10_000 / len(texts)
        row[f"{model} $/10k"] = round(price.cost(total.prompt_tokens, 0) * scale, 2)
        row[f"{model} cached $/10k"] = round(
            price.cost(total.prompt_tokens, 0, cached=total.cacheable_tokens) * scale, 2
        )
    return row


def schema_tokens() -> dict[str, int]:
    """The v1 tool's schema as sent, and pydantic's in its place (o200k, JSON text)."""
    import toktok
    from instructor import generate_openai_schema

    sent = build_requests(
        render(abstracts(1)[0], "v1"), RequestSpec(model=MODEL, mode=INSTRUCTOR_MODES["tools"])
    )[0].body["tools"]
    # the tool instructor sends for CaseReport: pydantic's schema, with its description
    raw = [{"type": "function", "function": generate_openai_schema(CaseReport)}]

    def count(part: Any) -> int:
        return int(toktok.batch_count([json.dumps(part, ensure_ascii=False)], "o200k_base")[0])

    return {"sent_schema": count(sent), "pydantic_schema": count(raw)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="First N texts (default: all).")
    options = parser.parse_args()
    if not CORPUS.is_file():
        print(f"skipped: {CORPUS} not found")
        return
    texts = abstracts(options.limit)
    rows = [
        measure(texts, version, mode, layout)
        for version in ("v1", "v2")
        for mode in ("tools", "json_schema", "json", "md_json")
        for layout in (
            ("openai", "self-hosted") if version == "v2" and mode == "tools" else ("openai",)
        )
    ]
    print(f"{len(texts):,} E3C texts, {MODEL} tokenizer (o200k_base)")
    print_table("Prompt tokens per request", rows)
    schema = schema_tokens()
    print(
        f"\nv1 tool schema: {schema['sent_schema']:,} tokens sent "
        f"(pydantic's own: {schema['pydantic_schema']:,})"
    )
    v1 = next(row for row in rows if row["prompt"] == "v1" and row["mode"] == "tools")
    verdict = "met" if v1["tokens_per_request"] <= TARGET_V1 else "MISSED"
    print(f"target: v1 ≤ {TARGET_V1:,} tokens a request: {v1['tokens_per_request']:,} ({verdict})")
    write_results("request_tokens", {"texts": len(texts), "rows": rows, "schema": schema})


if __name__ == "__main__":
    sys.exit(main())
