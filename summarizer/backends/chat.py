"""The chat-completions dialect of every mode: build requests, parse answers, re-ask.

Pure functions, shared by every backend that speaks the chat-completions API (``openai``
for any compatible server, ``llamacpp`` in process), and usable without sending
anything (a provider batch writes ``build``'s bodies to a file and ``parse``s the
answers it gets back):

- ``build_requests(prompt, spec)``: the request bodies for one rendered prompt, one per
  stage of a staged prompt, with the schema sent as each mode sends it (``_shape``); the
  server's ``Dialect`` then reshapes the schema-carrying keys (llama.cpp's
  ``json_object`` + schema).
- ``answer_requests(prompt, spec)``: ``build_requests`` without the bodies, for a caller
  that only reads answers it already has.
- ``parse_answer`` and ``reask_request`` (``backends.parsing``): an answer read as the
  response model, and the request that follows one that failed.

The modes are instructor's (``instructor.Mode``), in the shapes instructor sends them;
the requests are written here, from the schema as a model is sent it (``sent_schema``:
no titles or defaults, single-use definitions inlined, compact where it is text), so
that no instructor internals are called. ``tests/test_instructor_public.py`` sends the
same prompts through instructor's public client and checks that it sends these bodies
(with pydantic's schema where we send the lean one).

- ``tools``: one forced function tool named for the response model, its parameters the
  schema (``required`` sorted, as instructor writes it);
- ``json_schema``: ``response_format`` ``json_schema`` with the model's name and schema;
- ``json``: ``response_format`` ``json_object``, and the schema in the system message,
  in instructor's words;
- ``md_json``: the schema in the system message, and the user asked for a ```json block.

A shape is made once per (response model, mode, dialect) and shared by every request
for that model (one object: a batch file serialises it once). What every request
repeats comes first, as providers' prompt caches and llama.cpp's KV cache need it:
tools, then the system prompt, then the abstract. In the ``json``/``md_json`` modes a
stage's schema text follows its question instead of sitting in the system message, so a
record's stages share system prompt and abstract as one prefix; with
``RequestSpec.share_stage_tools`` (self-hosted servers) the stages also offer the same
tools, one per stage, ``tool_choice`` naming the stage's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from instructor import Mode
from openai.types.chat import ChatCompletion
from pydantic import BaseModel

from ..render import RenderedPrompt
from ..schema import CaseReport
from .adapters import Dialect, model_schema
from .base import ChatRequest
from .parsing import REASKABLE, parse_answer, reask_request
from .sent_schema import compact_json, sent_schema
from .stages import stage_model

__all__ = [
    "INSTRUCTOR_MODES",
    "REASKABLE",
    "ChatSteps",
    "Mode",
    "RequestSpec",
    "answer_requests",
    "build_requests",
    "parse_answer",
    "reask_request",
    "sent_model_schema",
]

INSTRUCTOR_MODES = {
    "tools": Mode.TOOLS,
    "json_schema": Mode.JSON_SCHEMA,
    "json": Mode.JSON,
    "md_json": Mode.MD_JSON,
}

_JSON_INSTRUCTIONS = (
    "\n\n"
    "\n            As a genius expert, your task is to understand the content and provide"
    "\n            the parsed objects in json that match the following json_schema:\n\n"
    "\n            {schema}\n"
    "\n            Make sure to return an instance of the JSON, not the schema itself\n"
)
"""The json modes' schema instructions, as instructor words and spaces them (its
indentation included: bodies, batch files and cache keys stay as they were)."""
_CODE_BLOCK = "\n\nReturn the correct JSON response within a ```json codeblock. not the JSON_SCHEMA"
"""md_json's request for a fenced answer, added to the user's message."""


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """What a backend puts in every request besides the messages."""

    model: str
    mode: Mode
    params: tuple[tuple[str, Any], ...] = ()
    """temperature, max_tokens, seed… in the order they are sent."""
    dialect: Dialect | None = None
    share_stage_tools: bool = False
    """Offer every stage's tool in each stage's request (``tool_choice`` names its own),
    so a record's stages share tools + system + abstract as one prefix: for servers
    where a reused prefix is free (llama.cpp's KV cache, vLLM's prefix cache). Against a
    provider that bills each token (OpenAI, Azure) each stage sends its own tool: five
    stages' tools in every request cost more than the cached-token discount gives back
    (bench/request_tokens.py measures both)."""


@dataclass(frozen=True, slots=True)
class _Shape:
    """What a mode adds to every request for one response model."""

    extra: Mapping[str, Any]
    """tools / tool_choice / response_format (after the dialect)."""
    system_suffix: str = ""
    """Text appended to the system message (the json modes' schema instructions)."""
    user_suffix: str = ""
    """Text appended to the user's message (md_json's request for a fenced answer)."""


@lru_cache(maxsize=64)
def sent_model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON Schema as a model is sent it (``sent_schema``; read-only)."""
    return sent_schema(model_schema(model))


@lru_cache(maxsize=128)
def _shape(model: type[BaseModel], mode: Mode, dialect: Dialect | None) -> _Shape:
    """How ``mode`` sends ``model``'s schema (made once; see the module doc)."""
    if mode is Mode.TOOLS:
        shape = _Shape({"tools": [_tool(model)], "tool_choice": _tool_choice(model)})
    elif mode is Mode.JSON_SCHEMA:
        named = {"name": model.__name__, "schema": sent_model_schema(model)}
        shape = _Shape({"response_format": {"type": "json_schema", "json_schema": named}})
    elif mode in (Mode.JSON, Mode.MD_JSON):
        instructions = _JSON_INSTRUCTIONS.format(schema=compact_json(sent_model_schema(model)))
        if mode is Mode.JSON:
            shape = _Shape({"response_format": {"type": "json_object"}}, instructions)
        else:
            shape = _Shape({}, instructions, _CODE_BLOCK)
    else:
        raise ValueError(f"mode {mode.value} is not one of {', '.join(INSTRUCTOR_MODES)}")
    if dialect is None:
        return shape
    return _Shape(
        dialect(dict(shape.extra), sent_model_schema(model)),
        shape.system_suffix,
        shape.user_suffix,
    )


def _tool(model: type[BaseModel]) -> dict[str, Any]:
    """The function tool for ``model``: named for it, its parameters the sent schema with
    ``required`` sorted (as instructor writes them); no description (the system prompt
    says what the record is; a stage's tool is named for its stage)."""
    schema = model_schema(model)
    parameters = {
        key: value for key, value in schema.items() if key not in ("title", "description")
    }
    parameters["required"] = sorted(schema.get("required", []))
    return {
        "type": "function",
        "function": {"name": schema["title"], "parameters": sent_schema(parameters)},
    }


def _tool_choice(model: type[BaseModel]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": model_schema(model)["title"]}}


def _request(
    model: type[BaseModel],
    messages: list[dict[str, str]],
    spec: RequestSpec,
    stage: str | None,
) -> ChatRequest:
    shape = _shape(model, spec.mode, spec.dialect)
    body = {
        "model": spec.model,
        "messages": _with_suffixes(messages, shape.system_suffix, shape.user_suffix),
        **dict(spec.params),
        **shape.extra,
    }
    return ChatRequest(body, model, spec.mode, stage)


def _with_suffixes(
    messages: list[dict[str, str]], system_suffix: str, user_suffix: str
) -> list[dict[str, str]]:
    """``messages`` with the mode's text added: the system part to the system message
    (or, without one, as a system message first), the user part to the last message
    when it is the user's (else as a user message of its own)."""
    sent = [dict(message) for message in messages]
    if system_suffix:
        if sent and sent[0]["role"] == "system":
            sent[0]["content"] += system_suffix
        else:
            sent.insert(0, {"role": "system", "content": system_suffix.removeprefix("\n\n")})
    if user_suffix:
        if sent and sent[-1]["role"] == "user":
            sent[-1]["content"] += user_suffix
        else:
            sent.append({"role": "user", "content": user_suffix.removeprefix("\n\n")})
    return sent


def build_requests(prompt: RenderedPrompt, spec: RequestSpec) -> list[ChatRequest]:
    """The chat-completions requests for one rendered prompt (one per stage when staged)."""
    if prompt.strategy != "staged":
        return [_request(CaseReport, prompt.messages, spec, None)]
    models = tuple(stage_model(stage.fields, stage.name) for stage in prompt.stages)
    return [
        _stage_request(models, index, stage.messages, spec, stage.name)
        for index, stage in enumerate(prompt.stages)
    ]


def _stage_request(
    models: tuple[type[BaseModel], ...],
    index: int,
    messages: list[dict[str, str]],
    spec: RequestSpec,
    stage: str,
) -> ChatRequest:
    """One stage's request, laid out so that every stage of a record shares its prefix:
    in the json modes the schema text after the question rather than in the system
    message, and when the spec says so the tools of every stage (``tool_choice`` picks
    this one's)."""
    model = models[index]
    shape = _shape(model, spec.mode, spec.dialect)
    if [message["role"] for message in messages] != ["system", "user"]:
        return _request(model, messages, spec, stage)
    system, user = messages
    question = user["content"] + shape.system_suffix + shape.user_suffix
    body = {
        "model": spec.model,
        "messages": [dict(system), {**user, "content": question}],
        **dict(spec.params),
        **shape.extra,
    }
    tools = _stage_tools(models, spec.mode, spec.dialect) if spec.share_stage_tools else None
    if tools is not None:
        body["tools"] = tools
    return ChatRequest(body, model, spec.mode, stage)


@lru_cache(maxsize=32)
def _stage_tools(
    models: tuple[type[BaseModel], ...], mode: Mode, dialect: Dialect | None
) -> list[Any] | None:
    """Every stage's tool, in stage order: one list (one object, so a token counter reads
    it once) for every stage's request; None when the mode sends no tools."""
    tools: list[Any] = []
    for model in models:
        offered = _shape(model, mode, dialect).extra.get("tools")
        if not isinstance(offered, list):
            return None
        tools.extend(offered)
    return tools


def answer_requests(prompt: RenderedPrompt, spec: RequestSpec) -> list[ChatRequest]:
    """The requests ``build_requests`` gives for ``prompt``, as far as reading their
    answers needs: the response model, mode and stage of each, with an empty body.

    For a caller that has the answers and sends nothing (a provider batch's collect
    without ``--retry-failed``): ``prompt`` may be an outline (``render.outline``), so no
    abstract is rendered into messages that would never be sent."""
    if prompt.strategy != "staged":
        return [ChatRequest({}, CaseReport, spec.mode, None)]
    return [
        ChatRequest({}, stage_model(stage.fields, stage.name), spec.mode, stage.name)
        for stage in prompt.stages
    ]


class ChatSteps:
    """``build``, ``parse`` and ``reask`` of a ``ModelBackend`` that speaks chat
    completions, from its ``spec``; the backend adds ``send``."""

    spec: RequestSpec

    def build(self, prompt: RenderedPrompt) -> list[ChatRequest]:
        return build_requests(prompt, self.spec)

    def parse(
        self, completion: ChatCompletion, request: ChatRequest, context: dict[str, Any]
    ) -> BaseModel:
        return parse_answer(completion, request, context)

    def reask(
        self, request: ChatRequest, completion: ChatCompletion, error: Exception
    ) -> ChatRequest:
        return reask_request(request, completion, error)
