"""Our chat steps against the installed instructor's public behaviour.

``backends.chat`` and ``backends.parsing`` write requests, read answers and write re-asks
themselves, in instructor's modes, without calling instructor's internals. Here the same
prompts go through instructor's public client (``instructor.from_openai``) to the
scripted server, and what it sends, re-asks and returns is compared with ours: an
instructor upgrade that changes any of it fails here, not silently in a run.

What we send differs from instructor's on purpose in two ways, undone before comparing:
the schema is the lean one (``sent_schema``: instructor sends pydantic's, and in the json
modes indented), with no tool description; and a stage of a staged prompt has the json
modes' schema text after its question instead of in the system message.
"""

from __future__ import annotations

import ast
import copy
import json
import types
from collections.abc import Callable
from typing import Any

import instructor
import openai
import pytest
from openai.types.chat import ChatCompletion
from pydantic import BaseModel

from summarizer import Settings, Summarizer
from summarizer.backends.chat import INSTRUCTOR_MODES, RequestSpec, build_requests
from summarizer.backends.parsing import REASKABLE, AnswerCutOff, parse_answer, reask_request
from summarizer.backends.sent_schema import compact_json, sent_schema
from summarizer.render import render
from tests.conftest import FAKE_KEY, SEED, seed_record
from tests.openai_server import Reply, ScriptedServer, completion_body
from tests.test_architecture import sources

PARAMS = (("temperature", 0.0), ("max_tokens", 512), ("seed", 0))
Answer = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.fixture(scope="module")
def seed_prompts() -> dict[str, Any]:
    abstract = Summarizer(Settings(backend="rules")).prepare(SEED.read_text(encoding="utf-8"))
    return {version: render(abstract, version) for version in ("v1", "v2")}


def _ask_instructor(
    server: ScriptedServer, request: Any, messages: list[dict[str, str]], *answers: Answer
) -> tuple[BaseModel | Exception, list[dict[str, Any]]]:
    """What instructor's public client returns (or raises) for ``messages``, and the bodies
    it sent, with the server answering ``answers`` in turn (one re-ask at most)."""
    for answer in answers:
        server.enqueue(Reply(body=answer))
    sdk = openai.OpenAI(base_url=server.url, api_key=FAKE_KEY, max_retries=0)
    try:
        result: BaseModel | Exception = instructor.from_openai(
            sdk, mode=request.mode
        ).chat.completions.create(
            response_model=request.response_model,
            messages=copy.deepcopy(messages),  # type: ignore[arg-type]
            model="m",
            max_retries=len(answers) - 1,
            strict=False,  # as we validate: pydantic's lax mode
            **dict(PARAMS),
        )
    except Exception as error:  # what instructor gave up with
        result = error
    finally:
        sdk.close()
    sent = [recorded.body for recorded in server.requests]
    server.requests.clear()
    return result, sent


def _as_we_send(body: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """instructor's body with the lean schema in place of pydantic's, wherever it put it."""
    body = copy.deepcopy(body)
    for tool in body.get("tools") or []:
        tool["function"].pop("description", None)
        tool["function"]["parameters"] = sent_schema(tool["function"]["parameters"])
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        inner = response_format["json_schema"]
        inner["schema"] = sent_schema(inner["schema"])
    full = json.dumps(model.model_json_schema(), indent=2, ensure_ascii=False)
    lean = compact_json(sent_schema(model.model_json_schema()))
    for message in body["messages"]:
        if isinstance(message.get("content"), str):
            message["content"] = message["content"].replace(full, lean)
    return body


def _laid_out_as_a_stage(body: dict[str, Any], asked: list[dict[str, str]]) -> dict[str, Any]:
    """instructor's body with what it appended to the system message moved to the end of
    the question (before what it appended there): a staged prompt's layout."""
    body = copy.deepcopy(body)
    system, user = body["messages"][:2]
    added_to_system = system["content"][len(asked[0]["content"]) :]
    added_to_user = user["content"][len(asked[1]["content"]) :]
    system["content"] = asked[0]["content"]
    user["content"] = asked[1]["content"] + added_to_system + added_to_user
    return body


def _completion(request: dict[str, Any], content: str, **changes: Any) -> dict[str, Any]:
    body = completion_body(request, content)
    body["choices"][0].update(changes)
    return body


def _fields(record: dict[str, Any], request: dict[str, Any], model: type[BaseModel]) -> str:
    return json.dumps({name: record[name] for name in model.model_fields if name in record})


# --- requests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", sorted(INSTRUCTOR_MODES))
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_requests_are_what_instructors_client_sends(
    mode: str, version: str, scripted_server: ScriptedServer, seed_prompts: dict[str, Any]
) -> None:
    prompt = seed_prompts[version]
    spec = RequestSpec(model="m", mode=INSTRUCTOR_MODES[mode], params=PARAMS)
    asked = [prompt.messages] if version == "v1" else [stage.messages for stage in prompt.stages]
    record = seed_record()
    for request, messages in zip(build_requests(prompt, spec), asked, strict=True):
        model = request.response_model

        def valid(body: dict[str, Any], model: type[BaseModel] = model) -> dict[str, Any]:
            return completion_body(body, _fields(record, body, model))

        result, (sent,) = _ask_instructor(scripted_server, request, messages, valid)
        theirs = _as_we_send(sent, model)
        if request.stage is not None:
            theirs = _laid_out_as_a_stage(theirs, messages)
        assert json.loads(json.dumps(request.body)) == theirs, (mode, request.stage)
        ours = parse_answer(ChatCompletion.model_validate(valid(request.body)), request, None)
        assert isinstance(result, BaseModel)
        assert ours.model_dump() == result.model_dump()


# --- answers and re-asks -----------------------------------------------------------------------


def _answers(mode: str, record: str) -> dict[str, Answer]:
    """Answers that fail, by kind, for ``mode`` (each is re-asked, then answered well)."""
    kinds: dict[str, Answer] = {
        "not JSON": lambda body: completion_body(body, '{"title": "never finished'),
        "off the schema": lambda body: completion_body(
            body, json.dumps({**json.loads(record), "article_type": "a novel"})
        ),
    }
    if mode == "tools":
        kinds["no tool call"] = lambda body: completion_body({}, record)
    else:
        kinds["empty"] = lambda body: _completion(body, "", finish_reason="stop")
    if mode == "md_json":
        kinds["prose only"] = lambda body: completion_body(body, "I cannot find a case here.")
    return kinds


def _good_answers(mode: str, record: str) -> dict[str, Answer]:
    """Answers read at once, by kind: the md_json ones in prose and fences."""
    kinds: dict[str, Answer] = {"plain": lambda body: completion_body(body, record)}
    if mode == "md_json":
        quoted = json.dumps({"title": "quoted from the abstract"})
        kinds.update(
            fenced=lambda body: completion_body(body, f"Here it is:\n```json\n{record}\n```\n"),
            after_quoted_json=lambda body: completion_body(
                body, f"The abstract writes {quoted}.\n```json\n{record}\n```"
            ),
            unfenced_in_prose=lambda body: completion_body(body, f"Record: {record} (done)"),
        )
    return kinds


@pytest.mark.parametrize("mode", sorted(INSTRUCTOR_MODES))
def test_answers_are_read_as_instructor_reads_them(
    mode: str, scripted_server: ScriptedServer, seed_prompts: dict[str, Any]
) -> None:
    spec = RequestSpec(model="m", mode=INSTRUCTOR_MODES[mode], params=PARAMS)
    (request,) = build_requests(seed_prompts["v1"], spec)
    record = json.dumps(seed_record())
    for kind, answer in _good_answers(mode, record).items():
        result, sent = _ask_instructor(
            scripted_server, request, seed_prompts["v1"].messages, answer
        )
        assert isinstance(result, BaseModel) and len(sent) == 1, kind
        ours = parse_answer(ChatCompletion.model_validate(answer(request.body)), request, None)
        assert ours.model_dump() == result.model_dump(), kind


@pytest.mark.parametrize("mode", sorted(INSTRUCTOR_MODES))
def test_reasks_are_what_instructor_sends_after_each_bad_answer(
    mode: str, scripted_server: ScriptedServer, seed_prompts: dict[str, Any]
) -> None:
    """Every answer instructor re-asks we re-ask, with the same next request."""
    spec = RequestSpec(model="m", mode=INSTRUCTOR_MODES[mode], params=PARAMS)
    (request,) = build_requests(seed_prompts["v1"], spec)
    record = json.dumps(seed_record())

    def good(body: dict[str, Any]) -> dict[str, Any]:
        return completion_body(body, record)

    for kind, bad in _answers(mode, record).items():
        result, sent = _ask_instructor(
            scripted_server, request, seed_prompts["v1"].messages, bad, good
        )
        assert isinstance(result, BaseModel) and len(sent) == 2, kind  # instructor re-asked
        answered = ChatCompletion.model_validate(bad(request.body))
        with pytest.raises(REASKABLE) as raised:
            parse_answer(answered, request, None)
        again = reask_request(request, answered, raised.value)
        assert json.loads(json.dumps(again.body)) == _as_we_send(sent[1], request.response_model), (
            kind
        )
        ours = parse_answer(ChatCompletion.model_validate(good(again.body)), again, None)
        assert ours.model_dump() == result.model_dump(), kind


@pytest.mark.parametrize("mode", sorted(INSTRUCTOR_MODES))
def test_an_answer_cut_off_is_not_reasked_by_either(
    mode: str, scripted_server: ScriptedServer, seed_prompts: dict[str, Any]
) -> None:
    spec = RequestSpec(model="m", mode=INSTRUCTOR_MODES[mode], params=PARAMS)
    (request,) = build_requests(seed_prompts["v1"], spec)

    def cut(body: dict[str, Any]) -> dict[str, Any]:
        return _completion(body, '{"title": "A rare', finish_reason="length")

    result, sent = _ask_instructor(scripted_server, request, seed_prompts["v1"].messages, cut, cut)
    assert isinstance(result, Exception) and len(sent) == 1
    with pytest.raises(AnswerCutOff):
        parse_answer(ChatCompletion.model_validate(cut(request.body)), request, None)


# --- only the public names ---------------------------------------------------------------------


def test_the_package_uses_only_instructors_public_names() -> None:
    """``import instructor`` / ``from instructor import X`` / ``instructor.X`` with X in its
    ``__all__``: no submodule (``instructor.core``, ``instructor.processing``,
    ``instructor.v2``…), which its ``__all__`` names too."""
    used: list[str] = []
    for _, path, tree in sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                used += [alias.name for alias in node.names if alias.name.startswith("instructor")]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("instructor"):
                if node.module != "instructor":
                    used.append(f"{node.module} ({path.name})")
                used += [
                    f"instructor.{alias.name} ({path.name})"
                    for alias in node.names
                    if alias.name not in instructor.__all__
                    or isinstance(getattr(instructor, alias.name), types.ModuleType)
                ]
            elif (  # after ``import instructor``: ``instructor.core.X`` reaches inside too
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "instructor"
                and (
                    node.attr not in instructor.__all__
                    or isinstance(getattr(instructor, node.attr, None), types.ModuleType)
                )
            ):
                used.append(f"instructor.{node.attr} ({path.name})")
    assert used == [] or set(used) == {"instructor"}, used
