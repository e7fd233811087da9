"""``--grammar-max-items`` / ``--grammar-max-string`` (and ``--max-tokens``) reach the
decoding grammar of the request, per backend, and change the cache key."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from openai.types.chat import ChatCompletion

from summarizer import Settings
from summarizer.backends import make_backend
from summarizer.backends.adapters import (
    MAX_WORD,
    SUMMARY_GRAMMAR,
    TIMEPOINT_GRAMMAR,
    GrammarBounds,
    grammar_schema,
    text_pattern,
)
from summarizer.backends.stages import stage_model
from summarizer.cli import cli
from summarizer.config import BACKEND_DEFAULTS, DEFAULTS
from summarizer.render import load_prompt
from summarizer.schema import SUMMARY_MAX_WORDS, CaseReport
from tests.conftest import SEED, needs_module, seed_record
from tests.openai_server import ScriptedServer, answer, completion_body


def presentation_bounds(schema: dict[str, Any]) -> tuple[int, int]:
    """(maxItems of the presentation list, maxLength of a symptom's evidence)."""
    items = schema["properties"]["presentation"]["maxItems"]
    symptom = schema["properties"]["presentation"]["items"]  # the sent schema inlines it
    evidence = symptom["properties"]["evidence"]["maxLength"]
    return items, evidence


def summarize(*args: str) -> Any:
    result = CliRunner().invoke(cli, ["summarize", str(SEED), "--no-log", *args])
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize("mode", ["json", "tools"])
def test_grammar_options_reach_a_local_server(scripted_server: ScriptedServer, mode: str) -> None:
    scripted_server.fallback = lambda request: answer(seed_record())
    options = ["--base-url", scripted_server.url, "--model", "m", "--mode", mode]
    summarize(*options, "--grammar-max-items", "1", "--grammar-max-string", "40")
    summarize(*options)  # the defaults: a different grammar, so not a cache hit
    summarize(*options)  # the same again: from the cache
    assert len(scripted_server.requests) == 2
    bodies = [request.body for request in scripted_server.requests]
    if mode == "json":
        schemas = [body["response_format"]["schema"] for body in bodies]
    else:
        schemas = [body["tools"][0]["function"]["parameters"] for body in bodies]
    assert presentation_bounds(schemas[0]) == (1, 40)
    assert presentation_bounds(schemas[1]) == (
        DEFAULTS.grammar_max_items,
        DEFAULTS.grammar_max_string,
    )
    assert [body["max_tokens"] for body in bodies] == [DEFAULTS.max_tokens] * 2


def test_openai_itself_gets_no_grammar_bounds() -> None:
    backend = make_backend(Settings(backend="openai", api_key="placeholder", grammar_max_items=1))
    assert "grammar_bounds" not in backend.identity()  # api.openai.com compiles no grammar


def test_grammar_options_reach_the_llamacpp_grammar(monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-process request, as ``create`` receives it (the model itself is not run:
    ``create`` answers as the model would, so only the plumbing is under test)."""
    needs_module("llama_cpp", hint="the server extra: make setup")
    from summarizer.backends.llamacpp import LlamaCppBackend

    sent: list[dict[str, Any]] = []

    def create(self: LlamaCppBackend, **body: Any) -> ChatCompletion:
        sent.append(body)
        return ChatCompletion.model_validate(completion_body(body, json.dumps(seed_record())))

    monkeypatch.setattr(LlamaCppBackend, "create", create)
    common = ["--backend", "llamacpp", "--prompt", "v1"]
    summarize(*common, "--grammar-max-items", "1", "--grammar-max-string", "40")
    summarize(*common, "--max-tokens", "300")
    summarize(*common, "--max-tokens", "300")  # the same again: from the cache
    assert len(sent) == 2
    assert [body["response_format"]["type"] for body in sent] == ["json_object"] * 2
    local = BACKEND_DEFAULTS["llamacpp"]
    assert presentation_bounds(sent[0]["response_format"]["schema"]) == (1, 40)
    assert sent[0]["max_tokens"] == local.max_tokens
    assert presentation_bounds(sent[1]["response_format"]["schema"]) == (
        local.grammar_max_items,
        local.grammar_max_string,
    )
    assert sent[1]["max_tokens"] == 300


def test_llamacpp_defaults_are_its_own() -> None:
    needs_module("llama_cpp", hint="the server extra: make setup")
    settings = Settings(backend="llamacpp")
    local = BACKEND_DEFAULTS["llamacpp"]
    assert settings.resolved_prompt == local.prompt
    assert settings.resolved_max_tokens == local.max_tokens
    assert settings.resolved_grammar == (local.grammar_max_items, local.grammar_max_string)
    assert settings.resolved_validation_attempts == local.validation_attempts == 1
    # the openai path keeps its own
    assert Settings(backend="openai").resolved_prompt == DEFAULTS.prompt
    assert Settings(backend="openai").resolved_max_tokens == DEFAULTS.max_tokens
    assert Settings(backend="openai").resolved_validation_attempts == 3
    # explicit settings win over either
    assert Settings(backend="llamacpp", prompt="v1", max_tokens=99).resolved_max_tokens == 99
    assert Settings(backend="llamacpp", prompt="v1").resolved_prompt == "v1"


# -- the defaults fit their token limit ---------------------------------------------

CHARS_PER_TOKEN = 2
"""A floor for what a token of a JSON answer holds (SmolLM2 writes about 4 characters a
token of English): a grammar whose longest answer fits ``max_tokens`` at this rate cannot
be cut off, however the model fills it."""


def longest_answer(schema: dict[str, Any], bounds: GrammarBounds) -> int:
    """Characters of the longest compact JSON the bounded ``schema`` admits."""
    defs = schema.get("$defs", {})
    words = SUMMARY_MAX_WORDS * (MAX_WORD + 1) - 1
    patterned = {text_pattern(bounds.max_string): bounds.max_string, SUMMARY_GRAMMAR: words}
    patterned[TIMEPOINT_GRAMMAR] = 3 + 1 + len("months") + 3 * (1 + 16)

    def size(node: dict[str, Any]) -> int:
        if "$ref" in node:
            return size(defs[node["$ref"].rsplit("/", 1)[-1]])
        if "anyOf" in node:
            return max(size(option) for option in node["anyOf"])
        if "enum" in node:
            return max(len(json.dumps(value)) for value in node["enum"])
        kind = node.get("type")
        if kind == "object":
            members = [len(json.dumps(k)) + 1 + size(v) for k, v in node["properties"].items()]
            return 2 + sum(members) + len(members) - 1
        if kind == "array":
            count = node["maxItems"]  # every list is bounded
            return 2 + count * (size(node["items"]) + 1) - 1
        if kind == "string":
            return 2 + patterned[node["pattern"]]  # every free-text string is patterned
        return {"integer": 20, "number": 24, "boolean": 5, "null": 4}[kind]

    return size(schema)


def test_every_stage_of_the_llamacpp_defaults_fits_its_token_limit() -> None:
    """The longest answer the default grammar admits, stage by stage, fits in the default
    ``max_tokens`` at CHARS_PER_TOKEN: a small model runs out of grammar, not tokens."""
    local = BACKEND_DEFAULTS["llamacpp"]
    bounds = GrammarBounds(max_items=local.grammar_max_items, max_string=local.grammar_max_string)
    stages = load_prompt(local.prompt).metadata["stages"]
    longest = {
        stage["name"]: longest_answer(
            grammar_schema(stage_model(tuple(stage["fields"])).model_json_schema(), bounds),
            bounds,
        )
        for stage in stages
    }
    assert len(longest) == 5
    assert all(size <= local.max_tokens * CHARS_PER_TOKEN for size in longest.values()), longest
    # The check can fail: the hosted defaults' lists and strings would not fit.
    wide = GrammarBounds(
        max_items=DEFAULTS.grammar_max_items, max_string=DEFAULTS.grammar_max_string
    )
    findings = stage_model(("clinical_findings", "diagnostic_assessment", "diagnosis"))
    wide_size = longest_answer(grammar_schema(findings.model_json_schema(), wide), wide)
    assert wide_size > local.max_tokens * CHARS_PER_TOKEN


def test_the_server_tests_limits_fit_v1() -> None:
    """tests/test_llama_server.py asks for a whole v1 record with these limits."""
    from tests.test_llama_server import settings

    chosen = settings("http://127.0.0.1:9/v1")
    items, string = chosen.resolved_grammar
    bounds = GrammarBounds(max_items=items, max_string=string)
    longest = longest_answer(grammar_schema(CaseReport.model_json_schema(), bounds), bounds)
    assert longest <= chosen.resolved_max_tokens * CHARS_PER_TOKEN
