"""A model backend in three steps, each usable on its own: build (pure) → send (I/O) →
parse (pure), plus the pure re-ask; what they cost, typed; what each backend declares."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletion
from pydantic import ValidationError

from summarizer import ExtractionError, GroundingError, ModelCallError, Settings, Summarizer
from summarizer.backends import (
    Capabilities,
    ModelBackend,
    RecordBackend,
    capabilities_of,
    make_backend,
)
from summarizer.backends.chat import (
    INSTRUCTOR_MODES,
    RequestSpec,
    answer_requests,
    build_requests,
    parse_answer,
)
from summarizer.backends.openai_compat import OpenAIBackend
from summarizer.cache import ResponseCache
from summarizer.config import BACKEND_DEFAULTS
from summarizer.ground import Aligner, is_grounding_error, validation_context
from summarizer.options import RunOptions
from summarizer.render import outline, render
from summarizer.schema import CaseReport
from tests.conftest import FAKE_KEY, SEED, needs_module, seed_record
from tests.openai_server import ScriptedServer, answer, completion_body, error


def openai_settings(url: str = "http://127.0.0.1:9/v1", **changes: Any) -> Settings:
    options: dict[str, Any] = {
        "backend": "openai",
        "base_url": url,
        "model": "scripted-model",
        "timeout": 5.0,
        "transport_attempts": 2,
        "backoff": 0.01,
    }
    options.update(changes)
    return Settings.from_env(env={"OPENAI_API_KEY": FAKE_KEY}, **options)


def completion(request_body: dict[str, Any], content: dict[str, Any] | str) -> ChatCompletion:
    text = content if isinstance(content, str) else json.dumps(content)
    return ChatCompletion.model_validate(completion_body(request_body, text))


@pytest.fixture
def seed_abstract(seed_text: str) -> Any:
    return Summarizer(Settings(backend="rules")).prepare(seed_text)


# --- build (pure) ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", sorted(INSTRUCTOR_MODES))
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_answer_requests_read_answers_as_the_built_requests_do(
    mode: str, version: str, seed_abstract: Any
) -> None:
    """What a collect that sends nothing reads answers with: from the prompt's outline, each
    built request's stage and mode and the same response model, with no body."""
    spec = RequestSpec(model="m", mode=INSTRUCTOR_MODES[mode], params=(("max_tokens", 512),))
    built = build_requests(render(seed_abstract, version), spec)
    read = answer_requests(outline(version), spec)
    assert [(r.stage, r.mode, r.body) for r in read] == [(r.stage, r.mode, {}) for r in built]
    record = seed_record()
    context = validation_context(Aligner(seed_abstract.text))
    for reading, sent in zip(read, built, strict=True):
        assert reading.response_model.__name__ == sent.response_model.__name__
        schema = sent.response_model.model_json_schema()
        assert reading.response_model.model_json_schema() == schema
        content = {name: record[name] for name in schema["properties"] if name in record}
        answered = completion(sent.body, content)
        as_sent = parse_answer(answered, sent, context)
        assert parse_answer(answered, reading, context).model_dump() == as_sent.model_dump()


def test_build_is_pure_and_gives_what_the_online_path_sends(
    scripted_server: ScriptedServer, seed_text: str
) -> None:
    settings = openai_settings(scripted_server.url, prompt="v2")
    summarizer = Summarizer(settings)
    backend = summarizer.backend
    assert isinstance(backend, ModelBackend)
    prompt = render(summarizer.prepare(seed_text), "v2")
    built = [request.body for request in backend.build(prompt)]
    assert built == [request.body for request in backend.build(prompt)]  # same every time
    assert scripted_server.requests == []  # building sent nothing
    assert [request.stage for request in backend.build(prompt)] == [
        stage.name for stage in prompt.stages
    ]

    def reply(request: dict[str, Any]) -> Any:
        chosen = request["tool_choice"]["function"]["name"]
        (tool,) = [t for t in request["tools"] if t["function"]["name"] == chosen]
        fields = tool["function"]["parameters"]["properties"]
        record = seed_record()
        return answer({name: record[name] for name in fields if name in record})

    scripted_server.fallback = reply
    summarizer.summarize(seed_text)
    summarizer.close()
    sent = [recorded.body for recorded in scripted_server.requests]
    assert sent == json.loads(json.dumps(built))  # byte for byte what a batch file would carry


def test_llamacpp_builds_json_object_with_the_schema_without_loading_the_model(
    seed_abstract: Any,
) -> None:
    needs_module("llama_cpp", hint="the server extra: make setup")
    backend = make_backend(Settings(backend="llamacpp", prompt="v2"))
    assert isinstance(backend, ModelBackend)
    requests = backend.build(render(seed_abstract, "v2"))
    assert len(requests) == 5
    for request in requests:
        assert request.body["response_format"]["type"] == "json_object"
        assert request.body["max_tokens"] == BACKEND_DEFAULTS["llamacpp"].max_tokens
        assert "schema" in request.body["response_format"]


# --- parse and re-ask (pure) -----------------------------------------------------------------


def test_parse_validates_with_the_grounding_context_and_reask_appends_the_error(
    seed_abstract: Any,
) -> None:
    backend = make_backend(openai_settings())
    assert isinstance(backend, ModelBackend)
    (request,) = backend.build(render(seed_abstract, "v1"))
    good = backend.parse(
        completion(request.body, seed_record()),
        request,
        validation_context(Aligner(seed_abstract.text)),
    )
    assert isinstance(good, CaseReport) and good.patient.age_years == 63

    made_up = seed_record(patient={"age_text": "63-year-old", "evidence": "a lady of sixty-three"})
    answer_ = completion(request.body, made_up)
    with pytest.raises(ValidationError) as raised:
        backend.parse(answer_, request, validation_context(Aligner(seed_abstract.text)))
    assert is_grounding_error(raised.value)
    relaxed = validation_context(Aligner(seed_abstract.text), enforce=False)
    assert backend.parse(answer_, request, relaxed)  # the last attempt keeps it

    again = backend.reask(request, answer_, raised.value)
    assert len(again.body["messages"]) > len(request.body["messages"])
    assert "a lady of sixty-three" in json.dumps(again.body["messages"])
    assert again.body["tools"] == request.body["tools"]
    assert len(request.body["messages"]) == 2  # the original request is unchanged


# --- send, and the accounting the extraction loop does ----------------------------------------


def test_transport_errors_are_not_reasked_and_carry_what_was_spent(
    scripted_server: ScriptedServer, seed_text: str
) -> None:
    scripted_server.enqueue(answer("{broken"))  # answered, not valid: a re-ask
    scripted_server.fallback = lambda request: error(503)
    summarizer = Summarizer(openai_settings(scripted_server.url))
    with summarizer, pytest.raises(ModelCallError) as raised:
        summarizer.summarize(seed_text)
    # one answered request, then the re-ask sent twice by the transport layer
    assert len(scripted_server.requests) == 3
    assert raised.value.usage.total_tokens == 150
    assert raised.value.attempts == 3 and raised.value.tries == 2


def test_validation_failures_carry_usage_and_attempts(
    scripted_server: ScriptedServer, seed_text: str
) -> None:
    scripted_server.fallback = lambda request: answer('{"title": "never finished')
    summarizer = Summarizer(openai_settings(scripted_server.url, validation_attempts=3))
    with summarizer, pytest.raises(ExtractionError) as raised:
        summarizer.summarize(seed_text)
    assert not isinstance(raised.value, GroundingError)
    assert raised.value.attempts == 3 and raised.value.usage.total_tokens == 3 * 150
    assert len(raised.value.failed_attempts) == 3


def test_a_grounding_failure_is_its_own_type(
    scripted_server: ScriptedServer, seed_text: str
) -> None:
    made_up = seed_record(patient={"age_text": "63-year-old", "evidence": "invented words here"})
    scripted_server.fallback = lambda request: answer(made_up)
    settings = openai_settings(scripted_server.url, validation_attempts=2, strict_grounding=True)
    with Summarizer(settings) as summarizer, pytest.raises(GroundingError) as raised:
        summarizer.summarize(seed_text)
    assert raised.value.attempts == 2 and raised.value.usage.total_tokens == 300


def test_reasks_and_failures_log_nothing_from_instructor(
    scripted_server: ScriptedServer, seed_text: str, caplog: pytest.LogCaptureFixture
) -> None:
    scripted_server.enqueue(answer("{broken"), answer(seed_record()))
    caplog.set_level(logging.DEBUG, logger="instructor")
    with Summarizer(openai_settings(scripted_server.url)) as summarizer:
        result = summarizer.summarize(seed_text)
        scripted_server.fallback = lambda request: answer("{broken")
        with pytest.raises(ExtractionError):
            summarizer.summarize(seed_text)
    assert (result.provenance.requests, result.provenance.reasks) == (2, 1)
    noisy = [
        r
        for r in caplog.records
        if r.name.startswith("instructor") and r.levelno >= logging.WARNING
    ]
    assert noisy == []


def test_the_sync_path_is_rate_limited(scripted_server: ScriptedServer, seed_text: str) -> None:
    scripted_server.fallback = lambda request: answer(seed_record())
    with Summarizer(openai_settings(scripted_server.url), RunOptions(rpm=120)) as summarizer:
        started = time.perf_counter()
        for _ in range(4):  # a bucket of 2, then one every 0.5 s
            summarizer.summarize(seed_text)
        assert time.perf_counter() - started >= 0.9


async def test_a_held_backend_sends_through_one_pooled_aiohttp_client_closed_at_the_end(
    scripted_server: ScriptedServer, seed_text: str
) -> None:
    scripted_server.fallback = lambda request: answer(seed_record())
    backend = OpenAIBackend(openai_settings(scripted_server.url))
    async with Summarizer(backend.settings, backend=backend) as summarizer:
        await asyncio.gather(summarizer.asummarize(seed_text), summarizer.asummarize(seed_text))
        client = backend._client_for_this_loop()
        assert isinstance(client._client, openai.DefaultAioHttpClient)
        assert backend._client is None  # nothing else was made
    assert client.is_closed() and backend._held is None and backend._holding is None


async def test_a_run_served_from_the_cache_makes_no_client(
    scripted_server: ScriptedServer, seed_text: str, tmp_path: Path
) -> None:
    """A client loads the CA bundle (~90 ms): a held backend makes its client on first send."""
    scripted_server.fallback = lambda request: answer(seed_record())
    cache = ResponseCache(tmp_path / "cache.sqlite")
    settings = openai_settings(scripted_server.url)
    async with Summarizer(settings, cache=cache) as summarizer:
        await summarizer.asummarize(seed_text)
    backend = OpenAIBackend(settings)
    async with Summarizer(settings, backend=backend, cache=cache) as summarizer:
        assert (await summarizer.asummarize(seed_text)).provenance.cache_hit
        assert backend._held is None and backend._client is None
    assert len(scripted_server.requests) == 1


async def test_an_unheld_backend_makes_an_httpx_client_on_first_use_closed_by_aclose(
    scripted_server: ScriptedServer, seed_text: str
) -> None:
    scripted_server.fallback = lambda request: answer(seed_record())
    backend = OpenAIBackend(openai_settings(scripted_server.url))
    summarizer = Summarizer(backend.settings, backend=backend)
    await asyncio.gather(summarizer.asummarize(seed_text), summarizer.asummarize(seed_text))
    client = backend._client
    assert client is not None and not isinstance(client._client, openai.DefaultAioHttpClient)
    await summarizer.aclose()
    assert client.is_closed() and backend._client is None


_AT_EXIT = """
import sys
from pathlib import Path
from summarizer import Document, RunOptions, Settings, Summarizer, run_batch
settings = Settings.from_env(
    env={"OPENAI_API_KEY": "fake-exit-key"}, backend="openai", base_url=sys.argv[1], model="m"
)
text = Path(sys.argv[2]).read_text()
if sys.argv[3] == "left-open":  # a one-off call, never closed
    Summarizer(settings).summarize(text)
elif sys.argv[3] == "context":
    with Summarizer(settings) as summarizer:
        summarizer.summarize(text)
else:
    documents = [Document.from_text(text, id=str(number)) for number in range(3)]
    run_batch(documents, settings, RunOptions(output=Path(sys.argv[4]) / "out.jsonl"))
print("done")
"""


@pytest.mark.parametrize("use", ["left-open", "context", "batch"])
def test_no_client_is_left_to_complain_at_exit(
    scripted_server: ScriptedServer, tmp_path: Path, use: str
) -> None:
    """An unclosed aiohttp session prints "Unclosed client session" at exit: the pooled
    client is only taken where the run closes it, and a one-off call stays on httpx."""
    scripted_server.fallback = lambda request: answer(seed_record())
    done = subprocess.run(
        [sys.executable, "-c", _AT_EXIT, scripted_server.url, str(SEED), use, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout == "done\n", done.stderr
    assert done.stderr == ""


# --- capabilities ------------------------------------------------------------------------------


def test_every_backend_declares_what_it_is() -> None:
    rules = make_backend(Settings(backend="rules"))
    assert isinstance(rules, RecordBackend) and not isinstance(rules, ModelBackend)
    assert rules.capabilities == Capabilities(takes_prompt=False, cacheable=False, local=True)
    assert capabilities_of(Settings(backend="rules")) == rules.capabilities
    model = make_backend(openai_settings())
    assert isinstance(model, ModelBackend) and not isinstance(model, RecordBackend)
    assert model.capabilities.takes_prompt and not model.capabilities.local
    assert capabilities_of(openai_settings()) == model.capabilities
    needs_module("llama_cpp", hint="the server extra: make setup")
    local = make_backend(Settings(backend="llamacpp"))
    assert capabilities_of(Settings(backend="llamacpp")) == local.capabilities
    assert local.capabilities.local and local.capabilities.takes_prompt


def test_an_abstract_with_template_syntax_is_sent_as_written() -> None:
    """Validation context goes straight to the parser, never through instructor's message
    templating: ``{{ ... }}`` in an abstract stays text."""
    text = (
        "Braces in a case: a report\n\nCASE PRESENTATION: A 40-year-old man typed "
        "{{ title }} and {% if x %} into a form. He recovered."
    )
    abstract = Summarizer(Settings(backend="rules")).prepare(text)
    for mode in INSTRUCTOR_MODES:
        spec = RequestSpec(model="m", mode=INSTRUCTOR_MODES[mode])
        (request,) = build_requests(render(abstract, "v1"), spec)
        sent = json.dumps(request.body["messages"])
        assert "{{ title }}" in sent and "{% if x %}" in sent, mode
