"""The provider batch path (issue 13): prepare → submit → status → collect, against the
scripted server's files and batches endpoints, and local result files in the OpenAI and
``vllm run-batch`` formats."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import summarizer.batch_api
from summarizer import Document, Settings, Summarizer
from summarizer.batch_api import (
    BatchStateError,
    batch_status,
    cancel_batch,
    collect_batch,
    context_path,
    list_batches,
    prepare_batch,
    submit_batch,
    wait_for_batch,
)
from summarizer.batch_api.answers import Answer, Answers, BatchAnswerError, parse_line, read_answer
from summarizer.batch_api.context import read_context
from summarizer.batch_api.tokens import TokenCounter, encoding_for
from summarizer.document import OffsetMap
from summarizer.ingest import iter_documents
from summarizer.options import RunOptions
from summarizer.reference import reference_of
from summarizer.runlog import RunLog
from tests.conftest import (
    BATCH_CASE_ID,
    FAKE_KEY,
    ROOT,
    SEED,
    batch_case_record,
    batch_case_text,
    seed_record,
    write_batch_input,
    write_rules_results,
)
from tests.openai_server import BatchPlan, Reply, ScriptedServer, answer, completion_body, error
from tests.test_local_batch import case_number as last_message_case

CLI = [sys.executable, "-m", "summarizer.cli"]
BATCH_CASE_ID_RE = re.compile(BATCH_CASE_ID)


# --- helpers ---------------------------------------------------------------------------------


def case_number(request: dict[str, Any]) -> int:
    """The synthetic case a request asks about (a re-ask's last message is the error)."""
    for message in request["messages"]:
        if BATCH_CASE_ID_RE.search(str(message.get("content"))):
            return last_message_case({"messages": [message]})
    raise AssertionError("not a synthetic case")


def serve_cases(server: ScriptedServer) -> None:
    """Answer every synthetic case (online or in a batch) with its grounded record."""

    def reply(request: dict[str, Any]) -> Reply:
        content = json.dumps(batch_case_record(case_number(request)))
        return Reply(body=lambda body: completion_body(body, content))

    server.fallback = reply


def online(server: ScriptedServer, **changes: object) -> Settings:
    options: dict[str, object] = {
        "backend": "openai",
        "base_url": server.url,
        "model": "gpt-4o-mini",
        "timeout": 5.0,
        "transport_attempts": 2,
        "backoff": 0.01,
    }
    options.update(changes)
    return Settings.from_env(env={"OPENAI_API_KEY": FAKE_KEY}, **options)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def by_id(path: Path) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for line in lines(path):
        assert line["id"] not in found, f"{line['id']} written twice"
        found[line["id"]] = line
    return found


def result_line(custom_id: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    return {
        "id": f"batch_req_{custom_id}",
        "custom_id": custom_id,
        "response": {"status_code": status, "request_id": f"req_{custom_id}", "body": body},
        "error": None,
    }


def tool_answer(
    request_body: dict[str, Any], arguments: str, *, finish: str = "tool_calls"
) -> dict[str, Any]:
    body = completion_body(request_body, arguments)
    body["choices"][0]["finish_reason"] = finish
    return body


def prepared_bodies(path: Path) -> dict[str, dict[str, Any]]:
    return {line["custom_id"]: line["body"] for line in lines(path)}


def answer_every_request(requests: Path, results: Path) -> None:
    """A results file answering each request of ``requests`` with its grounded record."""
    results.write_text(
        "".join(
            json.dumps(
                result_line(
                    ident,
                    completion_body(body, json.dumps(batch_case_record(case_number(body)))),
                )
            )
            + "\n"
            for ident, body in prepared_bodies(requests).items()
        )
    )


def run_cli(
    *args: str, home: Path, key: bool = True, check: bool = False
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    env["CASE_SUMMARIZER_HOME"] = str(home)
    if key:
        env["OPENAI_API_KEY"] = FAKE_KEY
    done = subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


# --- prepare: the bodies the online path sends ----------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "mode"), [("v1", "tools"), ("v1", "json_schema"), ("v2", "tools")]
)
def test_each_prepared_body_is_what_the_online_path_sends(
    scripted_server: ScriptedServer, seed_text: str, tmp_path: Path, prompt: str, mode: str
) -> None:
    scripted_server.fallback = lambda request: answer(seed_record())
    settings = online(scripted_server, prompt=prompt, mode=mode, max_tokens=1500)
    with Summarizer(settings) as summarizer:
        summarizer.summarize(Document.from_text(seed_text, id="seed", origin=str(SEED)))
    sent = [recorded.body for recorded in scripted_server.requests]

    summary = prepare_batch([SEED], settings, output=tmp_path / "requests.jsonl")
    prepared = lines(tmp_path / "requests.jsonl")
    assert summary.requests == len(prepared) == len(sent) == (5 if prompt == "v2" else 1)
    assert [line["body"] for line in prepared] == sent  # byte for byte the same request
    assert {line["method"] for line in prepared} == {"POST"}
    assert {line["url"] for line in prepared} == {"/v1/chat/completions"}
    stem = SEED.stem
    if prompt == "v2":
        assert [line["custom_id"] for line in prepared] == [
            f"{stem}#patient",
            f"{stem}#presentation",
            f"{stem}#findings",
            f"{stem}#treatment",
            f"{stem}#conclusion",
        ]
    else:
        assert [line["custom_id"] for line in prepared] == [stem]
    assert sent[0]["max_tokens"] == 1500


def test_collect_grounds_exactly_like_the_online_path(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    """A page whose cleaned text maps back to the original through a real offset map: the
    collected record and its evidence spans (original offsets too) equal the online ones."""
    scripted_server.fallback = lambda request: answer(seed_record())
    settings = online(scripted_server)
    with Summarizer(settings) as summarizer:
        expected = summarizer.summarize(SEED)
    assert any(s.source_start != s.start for s in expected.evidence)  # the map matters here

    prepare_batch([SEED], settings, output=tmp_path / "requests.jsonl")
    bodies = prepared_bodies(tmp_path / "requests.jsonl")
    results = tmp_path / "results.jsonl"
    results.write_text(
        "".join(
            json.dumps(result_line(ident, completion_body(body, json.dumps(seed_record())))) + "\n"
            for ident, body in bodies.items()
        )
    )
    summary = collect_batch(
        results,
        requests=tmp_path / "requests.jsonl",
        options=RunOptions(output=tmp_path / "records.jsonl"),
    )
    assert summary.ok and summary.run.succeeded == 1
    (line,) = lines(tmp_path / "records.jsonl")
    online_line = expected.to_dict()
    assert line["record"] == online_line["record"]
    assert line["evidence"] == online_line["evidence"]
    assert line["abstract"] == online_line["abstract"]
    assert line["provenance"]["backend"] == "openai-batch"
    assert line["provenance"]["tokens"] == {
        "prompt": 100,
        "completion": 50,
        "total": 150,
        "cached": 0,
    }


def test_an_exports_reference_goes_through_the_batch(tmp_path: Path) -> None:
    export = ROOT / "tests" / "fixtures" / "exports" / "pubmed-3.xml"
    items = list(iter_documents([export]))  # two abstracts, one record without one
    expected = {doc.id: reference_of(doc) for doc in items if isinstance(doc, Document)}
    requests = tmp_path / "requests.jsonl"
    prepared = prepare_batch([export], Settings(), output=requests)
    assert (prepared.records, prepared.failed) == (2, 1)
    results = tmp_path / "results.jsonl"
    assert write_rules_results(requests, results) == 2
    summary = collect_batch(
        results, requests=requests, options=RunOptions(output=tmp_path / "records.jsonl")
    )
    found = by_id(tmp_path / "records.jsonl")
    assert (summary.run.succeeded, summary.run.failed) == (2, 1) and len(found) == 3
    for ident, reference in expected.items():
        assert reference and found[ident]["provenance"]["reference"] == reference
    (failed,) = [line for line in found.values() if "error" in line]
    assert failed["error_type"] == "InputError" and "no abstract" in failed["error"]
    assert failed.get("title") == next(i.title for i in items if not isinstance(i, Document))


def test_the_context_file_holds_the_abstracts_and_no_key(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    settings = online(scripted_server)
    prepare_batch([SEED], settings, output=tmp_path / "requests.jsonl")
    context = context_path(tmp_path / "requests.jsonl")
    assert context.name == "requests.context.jsonl"
    header, records = read_context(context)
    (record,) = list(records)
    cleaned = Summarizer(settings).prepare(SEED)
    assert record.abstract.text == cleaned.text
    assert record.abstract.offsets.as_list() == cleaned.offsets.as_list()
    assert header.model == "gpt-4o-mini" and header.prompt == "v1"
    for path in (context, tmp_path / "requests.jsonl"):
        assert FAKE_KEY not in path.read_text()


# A context file as `batch prepare` wrote it before its header was a pydantic model: the
# lines users' disks hold, byte for byte (key order included), with invented content.
OLD_CONTEXT_RECORD = (
    '{"id": "c1", "requests": [["c1", null]], "source": "in.jsonl", "format": "jsonl", '
    '"document_title": "Invented case", "reference": {"key": "c1"}, "title": "Invented case", '
    '"text": "Invented case\\n\\nA 40-year-old man presented with fever and a rash on the left '
    "arm. Blood cultures grew Staphylococcus aureus. He recovered after six weeks of "
    'cefazolin.", "sections": [["other", null, 15, 167, false]], "warnings": ["short text '
    '(152 characters): check it is the abstract"], "confidence": "low", "body_start": 15, '
    '"offsets": [0, 0, 1, 1, 0, 1, 2, 0, 1, 3, 0, 1, 4, 0, 1, 5, 0, 1, 6, 0, 1, 7, 0, 1, 8, 0, '
    "1, 9, 0, 1, 10, 0, 1, 11, 0, 1, 12, 0, 1, 13, 0, 1, 14, 0, 1, 15, 0, 152]}"
)
OLD_CONTEXT_FAILURE = (
    '{"id": "c2", "error": "in.jsonl record c2: no \'text\' key", "error_type": "InputError"}'
)


def old_context_header(settings: str) -> str:
    """The header line of an old context file (its hashes: today's prompt and schema)."""
    from summarizer.pipeline import schema_hash
    from summarizer.render import load_prompt
    from summarizer.schema import SCHEMA_VERSION

    return (
        '{"kind": "case-summarizer/batch-context", "version": 1, "requests_file": '
        '"requests.jsonl", "model": "gpt-4o-mini", "mode": "tools", "prompt": "v1", '
        f'"prompt_hash": "{load_prompt("v1").hash}", "schema_version": "{SCHEMA_VERSION}", '
        f'"schema_hash": "{schema_hash()}", "settings": {settings}}}'
    )


def test_a_context_file_written_before_the_header_was_a_model_still_collects(
    tmp_path: Path,
) -> None:
    from summarizer.batch_api.context import Prepared, read_header
    from summarizer.errors import InputError

    source = tmp_path / "in.jsonl"
    text = json.loads(OLD_CONTEXT_RECORD)["text"].split("\n\n", 1)[1]
    source.write_text(json.dumps({"id": "c1", "title": "Invented case", "text": text}) + "\n")
    requests = tmp_path / "requests.jsonl"
    settings = Settings(model="gpt-4o-mini", seed=7, temperature=0.2, max_tokens=2048)
    prepare_batch([source], settings, output=requests, count_tokens=False)
    context = context_path(requests)
    header_line = old_context_header('{"temperature": 0.2, "max_tokens": 2048, "seed": 7}')
    assert context.read_text().splitlines()[0] == header_line  # written as it always was
    context.write_text(f"{header_line}\n{OLD_CONTEXT_RECORD}\n{OLD_CONTEXT_FAILURE}\n")

    header, records = read_context(context)
    assert (header.model, header.mode, header.prompt, header.requests_file) == (
        "gpt-4o-mini",
        "tools",
        "v1",
        "requests.jsonl",
    )
    assert (header.settings.temperature, header.settings.max_tokens, header.settings.seed) == (
        0.2,
        2048,
        7,
    )
    prepared, failed = list(records)
    assert isinstance(prepared, Prepared) and prepared.requests == (("c1", None),)
    assert prepared.abstract.text.endswith(text) and prepared.abstract.title == "Invented case"
    assert not isinstance(failed, Prepared) and failed.id == "c2"

    results = tmp_path / "results.jsonl"
    assert write_rules_results(requests, results) == 1
    summary = collect_batch(
        results, requests=requests, options=RunOptions(output=tmp_path / "records.jsonl")
    )
    found = by_id(tmp_path / "records.jsonl")
    assert summary.run.succeeded == 1 and summary.run.failed == 1
    assert "record" in found["c1"] and "no 'text' key" in found["c2"]["error"]

    # a header without a seed (it was optional to the reader) and a damaged one
    context.write_text(old_context_header('{"temperature": 0, "max_tokens": 2048}') + "\n")
    assert read_header(context).settings.seed is None
    context.write_text(old_context_header('{"temperature": 0.2}') + "\n")
    with pytest.raises(InputError, match=r"damaged context header \(settings\.max_tokens"):
        read_header(context)


def test_a_batchs_state_prints_and_logs_as_it_always_did() -> None:
    from summarizer.batch_api.remote import BatchInfo

    info = BatchInfo(id="batch_1", status="failed", completed=3, failed=1, total=4)
    info.errors.append("line 2: bad url")
    expected = {
        "id": "batch_1",
        "status": "failed",
        "request_counts": {"completed": 3, "failed": 1, "total": 4},
        "input_file_id": None,
        "output_file_id": None,
        "error_file_id": None,
        "model": None,
        "prompt_version": None,
        "request_file": None,
        "request_sha256": None,
        "base_url": None,
        "created": None,
        "errors": ["line 2: bad url"],
    }
    shown = info.to_dict()
    assert shown == expected and list(shown) == list(expected)  # the order --json prints
    assert shown["errors"] is not info.errors  # a copy: the caller may change it
    assert info.log_entry() == {
        "id": "batch_1",
        "status": "failed",
        "completed": 3,
        "failed": 1,
        "total": 4,
        "output_file_id": None,
        "error_file_id": None,
    }


def test_offset_runs_give_the_same_map_back() -> None:
    for index in ([], [0], [0, 1, 2, 5, 6, 6, 7, 40], list(range(100))):
        offsets = OffsetMap.from_runs(OffsetMap(__import__("array").array("i", index)).runs())
        assert offsets.as_list() == index
    with pytest.raises(ValueError):
        OffsetMap.from_runs([0, 0])
    with pytest.raises(ValueError):
        OffsetMap.from_runs([1, 0, 3])  # does not start at 0


def test_prepare_splits_at_the_limits_and_keeps_stages_together(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    write_batch_input(source, 20)
    summary = prepare_batch(
        [source], Settings(), output=tmp_path / "requests.jsonl", max_requests=7
    )
    assert [part.requests for part in summary.files] == [7, 7, 6]
    assert [part.path.name for part in summary.files] == [
        "requests.jsonl",
        "requests-2.jsonl",
        "requests-3.jsonl",
    ]
    for part in summary.files:
        assert len(lines(part.path)) == part.requests
        assert part.context.name == part.path.name.replace(".jsonl", ".context.jsonl")

    staged = prepare_batch(
        [source], Settings(prompt="v2"), output=tmp_path / "staged.jsonl", max_requests=12
    )
    assert [part.requests for part in staged.files] == [10] * 10  # two records of 5 stages
    limit = staged.files[0].bytes // 2 + 10  # one record's requests fit, two do not
    by_size = prepare_batch(
        [source], Settings(prompt="v2"), output=tmp_path / "sized.jsonl", max_bytes=limit
    )
    assert len(by_size.files) == 20 and {part.requests for part in by_size.files} == {5}


def test_duplicate_ids_are_an_error_that_names_them(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    with source.open("w") as handle:
        for ident, number in (("a", 1), ("b", 2), ("a", 3), ("c", 4), ("b", 5)):
            handle.write(json.dumps({"id": ident, "text": batch_case_text(number)}) + "\n")
    done = run_cli("batch", "prepare", str(source), "-o", str(tmp_path / "r.jsonl"), home=tmp_path)
    assert done.returncode == 2
    assert "duplicate record ids: a, b" in done.stderr and "Traceback" not in done.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.jsonl"]  # nothing written


def test_a_record_that_cannot_be_prepared_is_collected_as_its_error(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    write_batch_input(source, 3)
    with source.open("a") as handle:
        handle.write(json.dumps({"id": "blank", "text": "   "}) + "\n")
    requests = tmp_path / "requests.jsonl"
    done = run_cli("batch", "prepare", str(source), "-o", str(requests), home=tmp_path)
    assert done.returncode == 1 and "blank" in done.stderr
    assert len(lines(requests)) == 3
    results = tmp_path / "results.jsonl"
    answer_every_request(requests, results)
    summary = collect_batch(
        results, requests=requests, options=RunOptions(output=tmp_path / "records.jsonl")
    )
    found = by_id(tmp_path / "records.jsonl")
    assert set(found) == {"r00000", "r00001", "r00002", "blank"}
    assert found["blank"]["error_type"] == "InputError" and summary.run.failed == 1


def test_prompt_tokens_are_counted_for_known_models_and_estimated_otherwise(
    tmp_path: Path,
) -> None:
    assert encoding_for("gpt-4o-mini-2024-07-18") == "o200k_base"
    assert encoding_for("gpt-4-turbo") == "cl100k_base"
    assert encoding_for("llama-3.1-8b") is None
    body = {"messages": [{"role": "user", "content": "hello world"}]}
    exact = TokenCounter("gpt-4o")
    exact.add(body)
    assert exact.total().prompt_tokens == 2 + 4 + 3 and not exact.total().estimate
    guess = TokenCounter("my-azure-deployment")
    guess.add(body)
    assert guess.total().estimate and guess.total().prompt_tokens == 3 + 4 + 3
    assert "estimate" in guess.total().describe()

    source = tmp_path / "in.jsonl"
    write_batch_input(source, 4)
    done = run_cli(
        "batch", "prepare", str(source), "-o", str(tmp_path / "r.jsonl"), "--model", "local-llama",
        home=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "4 request(s)" in done.stdout and "estimate: characters / 4" in done.stdout
    assert "cost unknown: no price for local-llama" in done.stdout
    priced = run_cli(
        "batch", "prepare", str(source), "-o", str(tmp_path / "p.jsonl"), "--model", "gpt-4o-mini",
        home=tmp_path,
    )  # fmt: skip
    assert "counted with the o200k_base tokenizer" in priced.stdout
    assert "Batch API price of gpt-4o-mini" in priced.stdout and "$" in priced.stdout
    estimated = prepare_batch(
        [source], Settings(model="gpt-4o-mini"), output=tmp_path / "e.jsonl", count_tokens=False
    )
    assert estimated.tokens.estimate and estimated.tokens.prompt_tokens > 4 * 1000


def test_counts_do_not_depend_on_how_the_texts_are_grouped_for_the_tokenizer() -> None:
    import toktok

    from summarizer.batch_api import tokens

    texts = [
        f"Case {n}: a {n}-year-old man with fever of 39.{n % 10} °C." * (n % 7 + 1)
        for n in range(150)
    ]
    bodies = [
        {"messages": [{"role": "system", "content": "Extract."}, {"role": "user", "content": text}]}
        for text in texts
    ]
    counter = TokenCounter("gpt-4o")
    for body in bodies:  # 150 bodies: two full groups of _FLUSH and a partial one
        counter.add(body)
    assert len(texts) > 2 * tokens._FLUSH
    one_by_one = sum(toktok.batch_count([text], "o200k_base")[0] for text in texts)
    system = toktok.batch_count(["Extract."], "o200k_base")[0]
    expected = one_by_one + len(bodies) * (system + 2 * tokens.PER_MESSAGE + tokens.PER_REQUEST)
    assert counter.total().prompt_tokens == expected


def test_preparing_imports_neither_collect_nor_what_only_other_inputs_need() -> None:
    """``prepare`` holds a tokenizer (~64 MB): the modules it does not use stay unloaded
    (the provider API's collect and remote halves, lxml for XML, rapidfuzz for fuzzy
    grounding), and the names they give are still ``summarizer.batch_api``'s."""
    script = (
        "import json, sys\n"
        "import summarizer.batch_api as provider\n"
        "before = sorted(sys.modules)\n"
        "from summarizer.batch_api import BatchInfo, collect_batch\n"
        "from summarizer.batch_api.collect import collect_batch as direct\n"
        "print(json.dumps({'before': before, 'same': collect_batch is direct,\n"
        "                  'all': all(hasattr(provider, name) for name in provider.__all__),\n"
        "                  'dir': set(provider.__all__) <= set(dir(provider))}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    found = json.loads(done.stdout)
    loaded = set(found["before"])
    assert {"summarizer.batch_api.prepare", "summarizer.batch_api.tokens"} <= loaded
    for module in (
        "summarizer.batch_api.collect",
        "summarizer.batch_api.remote",
        "lxml",
        "rapidfuzz",
    ):
        assert module not in loaded, module
    assert found["same"] and found["all"] and found["dir"]
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = summarizer.batch_api.nothing_here


# --- end to end against the scripted Batch API --------------------------------------------


def test_one_thousand_records_end_to_end(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    serve_cases(scripted_server)
    answer_case = scripted_server.fallback
    assert answer_case is not None

    def reply(request: dict[str, Any]) -> Reply:  # every 250th request fails: the error file
        if case_number(request) % 250 == 7:
            return error(500, message="scripted overload")
        return answer_case(request)

    scripted_server.fallback = reply
    failing = [f"r{number:05d}" for number in (7, 257, 507, 757)]
    scripted_server.jobs.plans.append(BatchPlan(steps=2))
    home = tmp_path / "home"
    source = tmp_path / "in.jsonl"
    ids = write_batch_input(source, 1000)
    requests = tmp_path / "requests.jsonl"
    url = ["--base-url", scripted_server.url]

    prepared = run_cli(
        "batch", "prepare", str(source), "-o", str(requests), "--model", "gpt-4o-mini", home=home
    )
    assert prepared.returncode == 0, prepared.stderr
    assert "1,000 request(s)" in prepared.stdout and "prompt tokens" in prepared.stdout

    submitted = run_cli("batch", "submit", str(requests), *url, home=home, check=True)
    batch_id = submitted.stdout.strip()
    upload = next(call for call in scripted_server.api_calls if call.path == "/v1/files")
    assert upload.body["purpose"] == "batch" and upload.body["filename"] == "requests.jsonl"
    create = next(call for call in scripted_server.api_calls if "input_file_id" in call.body)
    assert create.body["completion_window"] == "24h"
    assert create.body["endpoint"] == "/v1/chat/completions"
    assert len(create.body["metadata"]["request_sha256"]) == 64

    waited = run_cli(
        "batch", "status", batch_id, "--wait", "--poll", "0.01", *url, home=home, check=True
    )
    assert "completed (996 done, 4 failed of 1,000)" in waited.stdout
    for state in ("validating", "in_progress", "finalizing"):  # each state seen while waiting
        assert state in waited.stderr
    listed = run_cli("batch", "status", *url, home=home, check=True)
    assert batch_id in listed.stdout and "requests.jsonl" in listed.stdout

    out = tmp_path / "records.jsonl"
    collected = run_cli("batch", "collect", batch_id, "-o", str(out), *url, home=home)
    assert collected.returncode == 1 and "Traceback" not in collected.stderr
    assert "996 record(s) collected, 4 failed" in collected.stderr
    assert (home / "batches" / batch_id / "errors.jsonl").is_file()  # the error file, downloaded
    found = by_id(out)
    assert sorted(found) == ids
    for ident in failing:
        assert found[ident]["error_type"] == "BatchAnswerError"
        assert "HTTP 500: scripted: scripted overload" in found[ident]["error"]
        assert f"error: {ident}:" in collected.stderr
    answered = [line for ident, line in found.items() if ident not in failing]
    assert all("record" in line for line in answered)
    assert all(line["provenance"]["tokens"]["total"] == 150 for line in answered)

    # the library, on the same run log: no second payment, and collecting again changes nothing
    settings = online(scripted_server)
    log = RunLog(home / "logs.sqlite")
    with pytest.raises(BatchStateError, match=f"already submitted as {batch_id}"):
        submit_batch(requests, settings, run_log=log)
    before = out.read_bytes()
    rerun = collect_batch(batch_id, settings=settings, run_log=log, options=RunOptions(output=out))
    assert rerun.run.skipped == 996 and rerun.run.retried == 4 and not rerun.ok
    assert by_id(out) == found and out.read_bytes() != before  # the errors redone, last
    assert BatchStateError("x").exit_code == 2  # the CLI's exit status for a refusal

    with sqlite3.connect(home / "logs.sqlite") as db:
        row = db.execute(
            "SELECT status, requests, prompt_tokens, collected FROM batches WHERE id = ?",
            (batch_id,),
        ).fetchone()
        calls = db.execute("SELECT count(*) FROM calls WHERE extra LIKE ?", (f"%{batch_id}%",))
        assert calls.fetchone()[0] == 1000 + 4  # each record, and the errors redone
    assert row[0] == "completed" and row[1] == 1000 and row[2] == 99_600 and row[3]
    for path in [*tmp_path.rglob("*"), *home.rglob("*")]:
        if path.is_file():
            assert FAKE_KEY.encode() not in path.read_bytes(), path


def test_expired_failed_and_cancelled_batches(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    serve_cases(scripted_server)
    source = tmp_path / "in.jsonl"
    write_batch_input(source, 6)
    settings = online(scripted_server)
    log = RunLog(tmp_path / "log.sqlite")

    # expired, with the first 4 answered
    scripted_server.jobs.plans.append(BatchPlan(outcome="expired", answered=4))
    prepare_batch([source], settings, output=tmp_path / "a.jsonl")
    expired = submit_batch(tmp_path / "a.jsonl", settings, run_log=log)
    with pytest.raises(BatchStateError, match="wait for it"):
        collect_batch(
            expired.id,
            settings=settings,
            run_log=log,
            options=RunOptions(output=tmp_path / "a.out.jsonl"),
        )
    info = wait_for_batch(expired.id, settings, run_log=log, poll_s=0.01)
    assert (info.status, info.completed, info.failed) == ("expired", 4, 2)
    summary = collect_batch(
        expired.id,
        settings=settings,
        run_log=log,
        options=RunOptions(output=tmp_path / "a.out.jsonl"),
    )
    found = by_id(tmp_path / "a.out.jsonl")
    assert summary.run.succeeded == 4 and summary.run.failed == 2 and len(found) == 6
    assert found["r00005"]["error_type"] == "BatchAnswerError"
    assert "batch_expired" in found["r00005"]["error"]

    # failed at validation: no output at all, every record says why
    scripted_server.jobs.plans.append(BatchPlan(outcome="failed"))
    write_batch_input(tmp_path / "in-b.jsonl", 3)
    prepare_batch([tmp_path / "in-b.jsonl"], settings, output=tmp_path / "b.jsonl")
    failed = submit_batch(tmp_path / "b.jsonl", settings, run_log=log)
    info = wait_for_batch(failed.id, settings, run_log=log, poll_s=0.01)
    assert info.status == "failed" and "scripted validation failure" in info.errors[0]
    summary = collect_batch(
        failed.id,
        settings=settings,
        run_log=log,
        options=RunOptions(output=tmp_path / "b.out.jsonl"),
    )
    errors = by_id(tmp_path / "b.out.jsonl")
    assert summary.run.failed == 3 and {e["error_type"] for e in errors.values()} == {
        "MissingAnswerError"
    }
    assert "the batch failed" in errors["r00000"]["error"]
    # a failed batch never ran: its file may be submitted again
    assert submit_batch(tmp_path / "b.jsonl", settings, run_log=log).id != failed.id

    # cancelled after 1 answer
    scripted_server.jobs.plans.append(BatchPlan(answered=1))
    write_batch_input(tmp_path / "in-c.jsonl", 3, start=10)
    prepare_batch([tmp_path / "in-c.jsonl"], settings, output=tmp_path / "c.jsonl")
    started = submit_batch(tmp_path / "c.jsonl", settings, run_log=log)
    assert cancel_batch(started.id, settings, run_log=log).status == "cancelling"
    assert batch_status(started.id, settings, run_log=log).status == "cancelled"
    summary = collect_batch(
        started.id,
        settings=settings,
        run_log=log,
        options=RunOptions(output=tmp_path / "c.out.jsonl"),
    )
    assert (summary.run.succeeded, summary.run.failed) == (1, 2)
    statuses = {info.id: info.status for info in list_batches(settings, run_log=log)}
    assert statuses[expired.id] == "expired" and statuses[started.id] == "cancelled"
    with pytest.raises(BatchStateError, match="already submitted"):
        submit_batch(tmp_path / "c.jsonl", settings, run_log=log)


def test_the_server_guards_a_double_submission_when_the_run_log_is_broken(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    write_batch_input(source, 2)
    settings = online(scripted_server)
    prepare_batch([source], settings, output=tmp_path / "r.jsonl")
    first = submit_batch(tmp_path / "r.jsonl", settings, run_log=None)
    broken = tmp_path / "broken.sqlite"
    broken.write_bytes(b"not a database at all" * 100)
    with pytest.warns(UserWarning, match="cannot be used"):
        log = RunLog(broken)
    with pytest.raises(BatchStateError, match=f"already submitted as {first.id}"):
        submit_batch(tmp_path / "r.jsonl", settings, run_log=log)
    creates = [c for c in scripted_server.api_calls if c.path == "/v1/batches" and c.body]
    assert len(creates) == 1


# --- collect: every failure shape, nothing lost, nothing duplicated ------------------------


def failure_shapes(requests: Path) -> str:
    """A results file with one record per failure shape (ids r00000…r00008)."""
    bodies = prepared_bodies(requests)
    good = {
        ident: json.dumps(batch_case_record(case_number(body))) for ident, body in bodies.items()
    }
    invalid = batch_case_record(4)
    invalid["article_type"] = "a cooking recipe"  # not one of the schema's article types
    fabricated = batch_case_record(5)
    fabricated["patient"]["evidence"] = "a quote that appears nowhere in the abstract"
    out = [
        result_line("r00000", tool_answer(bodies["r00000"], good["r00000"])),
        {
            "id": "batch_req_1",
            "custom_id": "r00001",
            "response": None,
            "error": {"code": "server_error", "message": "the model crashed"},
        },
        result_line(
            "r00002", {"error": {"message": "internal error", "type": "server_error"}}, status=500
        ),
        result_line("r00003", tool_answer(bodies["r00003"], good["r00003"][:40], finish="length")),
        result_line("r00004", tool_answer(bodies["r00004"], json.dumps(invalid))),
        result_line("r00005", tool_answer(bodies["r00005"], json.dumps(fabricated))),
        result_line("zzz-not-ours", tool_answer(bodies["r00000"], good["r00000"])),
        # r00006: no answer at all
        result_line("r00007", tool_answer(bodies["r00007"], good["r00007"])),
        result_line("r00007", tool_answer(bodies["r00007"], good["r00007"])),
        result_line("r00008", {"error": {"message": "overloaded"}}, status=503),
        result_line("r00008", tool_answer(bodies["r00008"], good["r00008"])),
    ]
    no_id = result_line("r00000", tool_answer(bodies["r00000"], good["r00000"]))
    del no_id["custom_id"]  # an answer that names no request
    out.append(no_id)
    return "".join(json.dumps(line) + "\n" for line in out) + "this line is not JSON\n"


def test_every_failure_shape_is_reported_and_nothing_is_lost_or_duplicated(
    tmp_path: Path,
) -> None:
    source = tmp_path / "in.jsonl"
    ids = write_batch_input(source, 9)
    requests = tmp_path / "requests.jsonl"
    prepare_batch([source], Settings(model="gpt-4o-mini"), output=requests)
    results = tmp_path / "results.jsonl"
    results.write_text(failure_shapes(requests))
    out = tmp_path / "records.jsonl"

    done = run_cli(
        "batch", "collect", str(results), "--requests", str(requests), "-o", str(out),
        home=tmp_path, key=False,
    )  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr
    found = by_id(out)
    assert sorted(found) == ids  # one line per record, the unknown id not among them
    kinds = {ident: line.get("error_type", "ok") for ident, line in found.items()}
    assert kinds == {
        "r00000": "ok",
        "r00001": "BatchAnswerError",
        "r00002": "BatchAnswerError",
        "r00003": "ExtractionError",
        "r00004": "ExtractionError",
        "r00005": "GroundingError",
        "r00006": "MissingAnswerError",
        "r00007": "ok",
        "r00008": "ok",
    }
    assert "server_error: the model crashed" in found["r00001"]["error"]
    assert "HTTP 500" in found["r00002"]["error"]
    assert "max_tokens" in found["r00003"]["error"]
    assert "article_type" in found["r00004"]["error"]
    assert "not found in the abstract" in found["r00005"]["error"]
    assert "no answer" in found["r00006"]["error"]
    assert "zzz-not-ours" in done.stderr and "r00007" in done.stderr
    assert "2 result line(s) were not JSON or had no custom_id" in done.stderr
    for ident in ("r00001", "r00003", "r00006"):
        assert f"error: {ident}:" in done.stderr

    library = collect_batch(
        results, requests=requests, options=RunOptions(output=tmp_path / "library.jsonl")
    )
    assert (library.unknown, library.unknown_count) == (["zzz-not-ours"], 1)
    assert library.answered_twice == ["r00007", "r00008"] and library.unreadable == 2
    assert (library.run.succeeded, library.run.failed, library.ok) == (3, 6, False)
    again_kinds = {
        i: line.get("error_type", "ok") for i, line in by_id(tmp_path / "library.jsonl").items()
    }
    assert again_kinds == kinds

    # idempotent: collecting again redoes the errors and gives the same lines
    again = run_cli(
        "batch", "collect", str(results), "--requests", str(requests), "-o", str(out),
        home=tmp_path, key=False,
    )  # fmt: skip
    assert again.returncode == 1
    assert by_id(out) == found


def test_json_content_answers_and_vllm_result_files(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    write_batch_input(source, 3)
    requests = tmp_path / "requests.jsonl"
    prepare_batch(
        [source], Settings(model="Qwen/Qwen2.5-7B-Instruct", mode="json_schema"), output=requests
    )
    bodies = prepared_bodies(requests)
    assert all("response_format" in body and "tools" not in body for body in bodies.values())
    vllm = []
    for number, (ident, body) in enumerate(bodies.items()):
        if number == 2:  # vllm's error line: a 400 status, no body, the message in error
            vllm.append(
                {
                    "id": "vllm-7f3c",
                    "custom_id": ident,
                    "response": {"status_code": 400, "request_id": "vllm-batch-7f3c", "body": None},
                    "error": "This model's maximum context length is 4096 tokens",
                }
            )
            continue
        content = json.dumps(batch_case_record(case_number(body)))
        vllm.append(
            {
                "id": f"vllm-{number}",
                "custom_id": ident,
                "response": {
                    "status_code": 200,
                    "request_id": f"vllm-batch-{number}",
                    "body": completion_body(body, content),  # JSON content: no tools asked
                },
                "error": None,
            }
        )
    results = tmp_path / "vllm-output.jsonl"
    results.write_text("".join(json.dumps(line) + "\n" for line in vllm))
    summary = collect_batch(
        results, requests=requests, options=RunOptions(output=tmp_path / "records.jsonl")
    )
    found = by_id(tmp_path / "records.jsonl")
    assert summary.run.succeeded == 2 and summary.run.failed == 1
    assert found["r00000"]["record"]["patient"]["age_years"] == 20
    assert "maximum context length" in found["r00002"]["error"]
    assert summary.cost is None  # no price for a local model


def test_retry_failed_asks_online_what_the_batch_could_not_answer(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    serve_cases(scripted_server)
    source = tmp_path / "in.jsonl"
    write_batch_input(source, 9)
    requests = tmp_path / "requests.jsonl"
    settings = online(scripted_server)
    prepare_batch([source], settings, output=requests)
    results = tmp_path / "results.jsonl"
    results.write_text(failure_shapes(requests))
    out = tmp_path / "records.jsonl"
    first = collect_batch(results, requests=requests, options=RunOptions(output=out))
    assert first.run.failed == 6

    summary = collect_batch(
        results,
        requests=requests,
        settings=settings,
        retry_failed=True,
        options=RunOptions(output=out),
    )
    found = by_id(out)
    assert summary.run.retried == 6 and summary.run.skipped == 3
    assert [ident for ident, line in found.items() if "error" in line] == ["r00003"]  # cut off
    # the schema-invalid answer was re-asked from the batch's answer, with its error
    assert found["r00004"]["provenance"]["requests"] == 2
    assert found["r00004"]["provenance"]["reasks"] == 1
    reask = next(
        r.body
        for r in scripted_server.requests
        if any("article_type" in str(m.get("content")) for m in r.body["messages"][2:])
    )
    assert len(reask["messages"]) > 2
    # error lines and the missing answer were asked as built
    assert found["r00001"]["provenance"]["requests"] == 1
    assert summary.online_requests == 5
    assert summary.online_tokens.total_tokens == 5 * 150


def test_collect_writes_every_format_and_resumes(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    write_batch_input(source, 5)
    requests = tmp_path / "requests.jsonl"
    prepare_batch([source], Settings(), output=requests)
    results = tmp_path / "results.jsonl"
    answer_every_request(requests, results)
    for fmt, marker in (("csv", "r00004"), ("md", "r00004"), ("html", "r00004")):
        target = tmp_path / f"records.{fmt}"
        summary = collect_batch(
            results, requests=requests, options=RunOptions(output=target, format=fmt)
        )
        assert summary.ok and marker in target.read_text()
    out = tmp_path / "records.jsonl"
    collect_batch(results, requests=requests, options=RunOptions(output=out))
    kept = out.read_text().splitlines()
    out.write_text(
        "\n".join(kept[:2]) + "\n" + kept[2][:30]
    )  # a crash: 2 whole lines, half a third
    summary = collect_batch(results, requests=requests, options=RunOptions(output=out))
    assert summary.run.skipped == 2 and summary.run.succeeded == 3 and summary.run.repaired == 1
    assert sorted(by_id(out)) == [f"r{n:05d}" for n in range(5)]


def test_prepare_only_failed_writes_the_failed_ids(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    write_batch_input(source, 9)
    requests = tmp_path / "requests.jsonl"
    prepare_batch([source], Settings(), output=requests)
    results = tmp_path / "results.jsonl"
    results.write_text(failure_shapes(requests))
    out = tmp_path / "records.jsonl"
    collect_batch(results, requests=requests, options=RunOptions(output=out))
    retry = tmp_path / "retry.jsonl"
    done = run_cli(
        "batch", "prepare", str(source), "-o", str(retry), "--only-failed", str(out), home=tmp_path
    )
    assert done.returncode == 0, done.stderr
    failed = sorted(ident for ident, line in by_id(out).items() if "error" in line)
    assert sorted(prepared_bodies(retry)) == failed
    table = tmp_path / "records.csv"  # a rendered output: its records are in its sidecar
    collect_batch(results, requests=requests, options=RunOptions(output=table, format="csv"))
    from_table = run_cli(
        "batch", "prepare", str(source), "-o", str(tmp_path / "retry-csv.jsonl"),
        "--only-failed", str(table), home=tmp_path,
    )  # fmt: skip
    assert from_table.returncode == 0, from_table.stderr
    assert sorted(prepared_bodies(tmp_path / "retry-csv.jsonl")) == failed
    wrong = run_cli(
        "batch", "prepare", str(source), "-o", str(tmp_path / "x.jsonl"),
        "--only-failed", str(source), home=tmp_path,
    )  # fmt: skip
    assert wrong.returncode == 2 and "holds no result lines" in wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1 and not (tmp_path / "x.jsonl").exists()

    # the retry batch's answers replace those errors in the same output
    retry_results = tmp_path / "retry-results.jsonl"
    answer_every_request(retry, retry_results)
    summary = collect_batch(retry_results, requests=retry, options=RunOptions(output=out))
    assert summary.ok and summary.run.retried == len(failed)
    assert all("record" in line for line in by_id(out).values())


def test_answers_index_reads_each_line_back(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    tricky = result_line("a", completion_body({}, json.dumps({"custom_id": "b"})))
    path.write_text(json.dumps(tricky) + "\n" + '{"no": "id"}\n')
    with Answers.open([path]) as answers:
        assert list(answers.ids()) == ["a"] and answers.unreadable == 1
        assert answers.get("a").completion is not None
        assert answers.get("b").error is not None


def _shaped(change: Any) -> bytes:
    tools = [{"type": "function", "function": {"name": "CaseReport"}}]
    line = result_line("a", completion_body({"tools": tools}, json.dumps({"summary": "x"})))
    changed = change(line)
    return changed if isinstance(changed, bytes) else json.dumps(changed).encode()


def _set(line: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    *head, last = path.split(".")
    where = line
    for key in head:
        where = where[key]
    where[last] = value
    return line


@pytest.mark.parametrize(
    "line",
    [
        _shaped(lambda line: line),
        _shaped(lambda line: {k: v for k, v in line.items() if k != "error"}),
        _shaped(lambda line: _set(line, "error", False)),
        _shaped(lambda line: _set(line, "error", {"code": "x", "message": "boom"})),
        _shaped(lambda line: _set(line, "response.status_code", 200.0)),
        _shaped(lambda line: _set(line, "response.status_code", "200")),
        _shaped(lambda line: _set(line, "response.status_code", True)),
        _shaped(lambda line: _set(line, "response.status_code", 500)),
        _shaped(lambda line: _set(line, "response.body.choices", "none")),
        _shaped(lambda line: _set(line, "response.body.model", "\ud800")),
        _shaped(lambda line: _set(line, "response", None)),
        _shaped(lambda line: b"\xef\xbb\xbf" + json.dumps(line).encode()),
        _shaped(lambda line: json.dumps(line).encode()[:-9]),
        _shaped(lambda line: json.dumps(line).encode().replace(b"scripted", b"\xff")),
        b"[1, 2]",
    ],
)
def test_an_answer_line_reads_as_read_answer_reads_its_json(line: bytes) -> None:
    """The usual line is read in one pass, any other the long way: the same answer."""
    try:
        expected = read_answer(json.loads(line))
    except ValueError:
        expected = Answer(None, BatchAnswerError("the answer line is not JSON"))
    found = parse_line(line)
    assert found.completion == expected.completion
    assert repr(found.error) == repr(expected.error)


def test_request_lines_are_json_dumps_of_the_whole_line() -> None:
    from summarizer.batch_api.request_files import _BodyLines

    lines_of = _BodyLines()
    tools = [{"type": "function", "function": {"name": "x", "parameters": {"é": 1}}}]
    message = {"role": "user", "content": 'hé\n"q"'}
    for body in (
        {"model": "m", "messages": [message], "tools": tools, "tool_choice": {"a": 1}},
        {"tools": tools, "model": "m"},  # no plain key first
        {"model": "m", "tools": tools, "temperature": 0},  # a plain key after the schema
    ):
        for _ in range(2):  # the second time from the memo
            whole = {"custom_id": 'id"1', "method": "POST", "url": "/v1/chat/completions"}
            expected = json.dumps({**whole, "body": body}, ensure_ascii=False) + "\n"
            assert lines_of.line('id"1', body) == expected.encode()


@pytest.mark.parametrize("command", [("cancel", "batch_abc"), ("status", "batch_abc")])
def test_batch_commands_without_a_server_fail_before_any_call(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    done = run_cli("batch", *command, home=tmp_path, key=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "needs OPENAI_API_KEY" in done.stderr
    assert "Traceback" not in done.stderr


def test_prepare_with_no_input_that_exists_is_a_one_line_error(tmp_path: Path) -> None:
    requests = tmp_path / "r.jsonl"
    done = run_cli(
        "batch", "prepare", str(tmp_path / "missing.txt"), "-o", str(requests), home=tmp_path
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "no such file or folder" in done.stderr
    assert not requests.exists() and not (tmp_path / "r.context.jsonl").exists()
