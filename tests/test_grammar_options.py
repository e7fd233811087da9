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
from summarizer.cli import cli
from summarizer.config import BACKEND_DEFAULTS, DEFAULTS
from tests.conftest import SEED, seed_record
from tests.openai_server import ScriptedServer, answer, completion_body


def presentation_bounds(schema: dict[str, Any]) -> tuple[int, int]:
    """(maxItems of the presentation list, maxLength of a symptom's evidence)."""
    items = schema["properties"]["presentation"]["maxItems"]
    evidence = schema["$defs"]["Symptom"]["properties"]["evidence"]["maxLength"]
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
    pytest.importorskip("llama_cpp")
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
    pytest.importorskip("llama_cpp")
    settings = Settings(backend="llamacpp")
    local = BACKEND_DEFAULTS["llamacpp"]
    assert settings.resolved_prompt == local.prompt
    assert settings.resolved_max_tokens == local.max_tokens
    assert settings.resolved_grammar == (local.grammar_max_items, local.grammar_max_string)
    # the openai path keeps its own
    assert Settings(backend="openai").resolved_prompt == DEFAULTS.prompt
    assert Settings(backend="openai").resolved_max_tokens == DEFAULTS.max_tokens
    # explicit settings win over either
    assert Settings(backend="llamacpp", prompt="v1", max_tokens=99).resolved_max_tokens == 99
    assert Settings(backend="llamacpp", prompt="v1").resolved_prompt == "v1"
