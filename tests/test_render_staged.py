"""The staged strategy (prompt v2) through the openai backend against the scripted server:
one request per stage, parts merged into one CaseReport, attempts and tokens summed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from summarizer import ExtractionError, Settings, Summarizer
from summarizer.schema import CaseReport
from tests.conftest import FAKE_KEY, closed_after_test, seed_record
from tests.openai_server import Reply, ScriptedServer, answer, completion_body

STAGE_FIELDS = {
    "CaseReportPatient": ["title", "article_type", "patient_count", "patient"],
    "CaseReportPresentation": ["presentation", "history"],
    "CaseReportFindings": ["clinical_findings", "diagnostic_assessment", "diagnosis"],
    "CaseReportTreatment": ["interventions", "outcomes"],
    "CaseReportConclusion": ["why_reported", "conclusion", "summary"],
}


def make(server: ScriptedServer, **changes: object) -> Summarizer:
    options: dict[str, object] = {
        "backend": "openai",
        "base_url": server.url,
        "model": "scripted-model",
        "prompt": "v2",
        "timeout": 5.0,
        "validation_attempts": 2,
    }
    options.update(changes)
    settings = Settings.from_env(env={"OPENAI_API_KEY": FAKE_KEY}, **options)
    return closed_after_test(Summarizer(settings))


def stage_of(request: dict[str, Any]) -> str:
    """The stage a request asks: every stage offers every stage's tool, and names its own."""
    return str(request["tool_choice"]["function"]["name"])


def stage_tool(request: dict[str, Any]) -> dict[str, Any]:
    (tool,) = [t for t in request["tools"] if t["function"]["name"] == stage_of(request)]
    return dict(tool["function"]["parameters"])


def part(stage: str, **changes: Any) -> dict[str, Any]:
    record = seed_record(**changes)
    return {field: record.get(field) for field in STAGE_FIELDS[stage] if field in record}


def test_one_request_per_stage_merged_into_one_record(
    scripted_server: ScriptedServer, seed_text: str
) -> None:
    scripted_server.fallback = lambda request: answer(part(stage_of(request)))
    result = make(scripted_server).summarize(seed_text)
    bodies = [r.body for r in scripted_server.requests]
    assert [stage_of(body) for body in bodies] == list(STAGE_FIELDS)
    # Every stage repeats the same tools + system + abstract prefix (what llama.cpp and
    # providers' prompt caches reuse); tool_choice names the stage's own tool.
    system = bodies[0]["messages"][0]
    abstract = bodies[0]["messages"][1]["content"].split("</abstract>")[0]
    for body in bodies:
        assert body["tools"] == bodies[0]["tools"]
        assert [t["function"]["name"] for t in body["tools"]] == list(STAGE_FIELDS)
        assert body["messages"][0] == system
        assert body["messages"][1]["content"].startswith(abstract)
        assert set(stage_tool(body)["properties"]) == set(STAGE_FIELDS[stage_of(body)])
    assert result.record == CaseReport.model_validate(seed_record())  # merged whole
    assert result.provenance.attempts == 5
    assert result.provenance.tokens.total_tokens == 5 * 150
    assert all(span.status.value == "exact" for span in result.evidence)


def test_a_stage_reasks_alone_and_every_attempt_is_counted(
    scripted_server: ScriptedServer, seed_text: str
) -> None:
    bad_patient = part(
        "CaseReportPatient",
        patient={"age_text": "63-year-old", "sex": "female", "evidence": "a lady of sixty-three"},
    )
    replies = iter([answer(bad_patient)])

    def reply(request: dict[str, Any]) -> Reply:
        stage = stage_of(request)
        if stage == "CaseReportPatient":
            return next(replies, answer(part(stage)))
        return answer(part(stage))

    scripted_server.fallback = reply
    result = make(scripted_server).summarize(seed_text)
    names = [stage_of(r.body) for r in scripted_server.requests]
    assert names == ["CaseReportPatient", *STAGE_FIELDS]
    assert "a lady of sixty-three" in scripted_server.requests[1].text  # the re-ask
    assert result.provenance.attempts == 6
    assert (result.provenance.requests, result.provenance.reasks) == (6, 1)  # apart
    assert result.provenance.tokens.total_tokens == 6 * 150
    assert result.record.patient.evidence == "A 63-year-old female"


def test_a_failing_stage_fails_the_record_with_the_tokens_spent(
    scripted_server: ScriptedServer, seed_text: str
) -> None:
    def reply(request: dict[str, Any]) -> Reply:
        stage = stage_of(request)
        if stage == "CaseReportTreatment":
            return answer('{"interventions": [')  # never valid JSON
        return answer(part(stage))

    scripted_server.fallback = reply
    with pytest.raises(ExtractionError) as raised:
        make(scripted_server).summarize(seed_text)
    usage = raised.value.usage  # declared on every SummarizerError
    assert usage.total_tokens == (3 + 2) * 150  # three stages, then two failed attempts
    assert raised.value.attempts == len(scripted_server.requests) == 5


def test_json_mode_carries_the_stage_schema_for_local_servers(
    scripted_server: ScriptedServer, seed_text: str
) -> None:
    def reply(request: dict[str, Any]) -> Reply:
        properties = request["response_format"]["schema"]["properties"]
        stage = next(
            name for name, fields in STAGE_FIELDS.items() if set(fields) == set(properties)
        )
        return Reply(body=completion_body(request, json.dumps(part(stage))))

    scripted_server.fallback = reply
    result = make(scripted_server, mode="json").summarize(seed_text)
    formats = [r.body["response_format"] for r in scripted_server.requests]
    assert all(f["type"] == "json_object" for f in formats)
    # The grammar schema is bounded: every property emitted, lists and strings capped.
    patient = formats[0]["schema"]
    assert patient["required"] == STAGE_FIELDS["CaseReportPatient"]
    assert result.record.summary.startswith("A 63-year-old woman")


async def test_async_staged(scripted_server: ScriptedServer, seed_text: str) -> None:
    scripted_server.fallback = lambda request: answer(part(stage_of(request)))
    async with make(scripted_server) as summarizer:
        result = await summarizer.asummarize(seed_text)
    assert result.provenance.attempts == 5
    assert result.record.patient.age_years == 63
