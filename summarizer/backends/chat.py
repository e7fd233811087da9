"""The chat-completions dialect through instructor: build requests, parse answers, re-ask.

Pure functions, shared by every backend that speaks the chat-completions API (``openai``
for any compatible server, ``llamacpp`` in process), and usable without sending
anything (a provider batch writes ``build``'s bodies to a file and ``parse``s the
answers it gets back):

- ``build_requests(prompt, spec)``: the request bodies for one rendered prompt, one per
  stage of a staged prompt. instructor shapes them (``handle_response_model``: tools,
  ``response_format`` or schema instructions, per mode); the server's ``Dialect`` then
  reshapes the schema-carrying keys (llama.cpp's ``json_object`` + schema).
- ``answer_requests(prompt, spec)``: ``build_requests`` without the bodies, for a caller
  that only reads answers it already has.
- ``parse_answer(completion, request, context)``: the answer as the response model,
  validated with ``context`` (the grounding context) by instructor's parser for the
  mode. Raises what a re-ask can fix (``REASKABLE``) or ``IncompleteOutputException``.
- ``reask_request(request, completion, error)``: the next request, with the failed
  answer and the error appended the way instructor does it for the mode.

instructor's request shaping costs several milliseconds a call (it re-derives the JSON
Schema and walks the model for async validators), so it runs once per (response model,
mode, dialect): a probe request shows what it adds (keys, and text appended to each
message), and each record's messages get the same. ``shape_is_faithful`` checks that
against instructor's own output for real messages (a test runs it for every mode).

What instructor adds carries the schema as a model is sent it (``sent_schema``: no
titles or defaults, single-use definitions inlined, compact where it is text), and is
laid out so that what every request repeats comes first, as providers' prompt caches
and llama.cpp's KV cache need it: tools, then the system prompt, then the abstract.
In the ``json``/``md_json`` modes a stage's schema text follows its question instead
of sitting in the system message, so a record's stages share system prompt and
abstract as one prefix; with ``RequestSpec.share_stage_tools`` (self-hosted servers)
the stages also offer the same tools, one per stage, ``tool_choice`` naming the stage's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import instructor
from instructor.core.exceptions import ResponseParsingError
from instructor.processing import handle_reask_kwargs, handle_response_model
from instructor.v2 import Provider, mode_registry
from openai.types.chat import ChatCompletion
from pydantic import BaseModel, ValidationError

from ..render import RenderedPrompt
from ..schema import CaseReport
from .adapters import Dialect, model_schema
from .base import ChatRequest
from .sent_schema import compact_json, sent_schema
from .stages import stage_model

Mode = instructor.Mode

INSTRUCTOR_MODES = {
    "tools": Mode.TOOLS,
    "json_schema": Mode.JSON_SCHEMA,
    "json": Mode.JSON,
    "md_json": Mode.MD_JSON,
}

REASKABLE: tuple[type[Exception], ...] = (
    ValidationError,
    json.JSONDecodeError,
    ResponseParsingError,
)
"""Errors a re-ask can fix: the answer is not JSON, or does not validate."""

_PROBE = ({"role": "system", "content": "\x00system"}, {"role": "user", "content": "\x00user"})


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
    """What instructor adds to a request for one response model and mode."""

    response_model: type[BaseModel]
    extra: Mapping[str, Any]
    """tools / tool_choice / response_format (after the dialect)."""
    suffixes: tuple[str, ...]
    """Text instructor appends to each probe message (schema instructions in json modes)."""


@lru_cache(maxsize=128)
def _shape(model: type[BaseModel], mode: Mode, dialect: Dialect | None) -> _Shape | None:
    """The cached shape, or None when instructor does more than append (build per request)."""
    prepared, kwargs = handle_response_model(model, mode=mode, messages=[dict(m) for m in _PROBE])
    assert prepared is not None
    kwargs = _lean(kwargs, model)
    messages = kwargs.pop("messages")
    if len(messages) != len(_PROBE):
        return None
    suffixes = []
    for sent, probe in zip(messages, _PROBE, strict=True):
        content = sent.get("content")
        if sent.get("role") != probe["role"] or not isinstance(content, str):
            return None
        if not content.startswith(probe["content"]) or set(sent) != set(probe):
            return None
        suffixes.append(content[len(probe["content"]) :])
    if dialect is not None:
        kwargs = dialect(kwargs, sent_model_schema(model))
    return _Shape(prepared, kwargs, tuple(suffixes))


@lru_cache(maxsize=64)
def sent_model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON Schema as a model is sent it (``sent_schema``; read-only)."""
    return sent_schema(model_schema(model))


def _lean(kwargs: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """instructor's request with the sent schema in place of pydantic's, wherever it put
    it: a tool's parameters, ``response_format``, or the text of a message."""
    kwargs = dict(kwargs)
    tools = kwargs.get("tools")
    if isinstance(tools, list):
        kwargs["tools"] = [_lean_tool(tool) for tool in tools]
    response_format = kwargs.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        inner = dict(response_format.get("json_schema") or {})
        if isinstance(inner.get("schema"), dict):
            inner["schema"] = sent_schema(inner["schema"])
            kwargs["response_format"] = {**response_format, "json_schema": inner}
    messages = kwargs.get("messages")
    if isinstance(messages, list):
        # json / md_json: instructor writes the schema into the system message, indented
        as_written = json.dumps(model_schema(model), indent=2, ensure_ascii=False)
        lean = compact_json(sent_model_schema(model))
        kwargs["messages"] = [
            {**message, "content": message["content"].replace(as_written, lean)}
            if isinstance(message.get("content"), str)
            else message
            for message in messages
        ]
    return kwargs


def _lean_tool(tool: Any) -> Any:
    """The tool with the sent schema as its parameters, and without the model's docstring
    as its description (the system prompt says what the record is; a stage's tool is
    named for its stage)."""
    function = tool.get("function") if isinstance(tool, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("parameters"), dict):
        return tool
    kept = {key: value for key, value in function.items() if key != "description"}
    return {**tool, "function": {**kept, "parameters": sent_schema(function["parameters"])}}


def _request(
    model: type[BaseModel],
    messages: list[dict[str, str]],
    spec: RequestSpec,
    stage: str | None,
) -> ChatRequest:
    roles = tuple(message["role"] for message in messages)
    shaped = roles == tuple(probe["role"] for probe in _PROBE)
    shape = _shape(model, spec.mode, spec.dialect) if shaped else None
    head: dict[str, Any] = {"model": spec.model}
    if shape is not None:
        sent = [
            {"role": message["role"], "content": message["content"] + suffix}
            for message, suffix in zip(messages, shape.suffixes, strict=True)
        ]
        body = {**head, "messages": sent, **dict(spec.params), **shape.extra}
        return ChatRequest(body, shape.response_model, spec.mode, stage)
    # Anything else: instructor shapes this request itself (slower, same result).
    return _instructor_request(model, messages, spec, stage)


def _instructor_request(
    model: type[BaseModel], messages: list[dict[str, str]], spec: RequestSpec, stage: str | None
) -> ChatRequest:
    prepared, kwargs = handle_response_model(
        model,
        mode=spec.mode,
        messages=[dict(m) for m in messages],
        model=spec.model,
        **dict(spec.params),
    )
    assert prepared is not None
    kwargs = _lean(kwargs, model)
    if spec.dialect is not None:
        kwargs = spec.dialect(kwargs, sent_model_schema(model))
    return ChatRequest(kwargs, prepared, spec.mode, stage)


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
    request = _request(models[index], messages, spec, stage)
    shape = _shape(models[index], spec.mode, spec.dialect)
    if shape is None or [m["role"] for m in messages] != [p["role"] for p in _PROBE]:
        return request
    body = dict(request.body)
    tools = _stage_tools(models, spec.mode, spec.dialect) if spec.share_stage_tools else None
    if tools is not None:
        body["tools"] = tools
    system_suffix, user_suffix = shape.suffixes
    if system_suffix:
        system, user = messages
        body["messages"] = [
            dict(system),
            {**user, "content": user["content"] + system_suffix + user_suffix},
        ]
    return ChatRequest(body, request.response_model, request.mode, stage)


@lru_cache(maxsize=32)
def _stage_tools(
    models: tuple[type[BaseModel], ...], mode: Mode, dialect: Dialect | None
) -> list[Any] | None:
    """Every stage's tool, in stage order: one list (one object, so a token counter reads
    it once) for every stage's request; None when the mode sends no tools."""
    tools: list[Any] = []
    for model in models:
        shape = _shape(model, mode, dialect)
        offered = shape.extra.get("tools") if shape is not None else None
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
        return [ChatRequest({}, _response_model(CaseReport, spec), spec.mode, None)]
    return [
        ChatRequest(
            {}, _response_model(stage_model(stage.fields, stage.name), spec), spec.mode, stage.name
        )
        for stage in prompt.stages
    ]


def _response_model(model: type[BaseModel], spec: RequestSpec) -> type[BaseModel]:
    """The response model instructor prepares for ``model`` in the spec's mode (what
    ``_request`` gives; it does not depend on the messages)."""
    shape = _shape(model, spec.mode, spec.dialect)
    if shape is not None:
        return shape.response_model
    prepared, _ = handle_response_model(model, mode=spec.mode, messages=[dict(m) for m in _PROBE])
    assert prepared is not None
    return prepared


def parse_answer(
    completion: ChatCompletion, request: ChatRequest, context: dict[str, Any] | None
) -> BaseModel:
    """``completion`` as ``request.response_model``, validated with ``context``.

    The parser instructor registers for the mode (the one its own retry loop calls).
    """
    parsed = _response_parser(request.mode)(
        response=completion,
        response_model=request.response_model,
        validation_context=context,
        strict=None,
        stream=False,
        is_async=False,
    )
    if not isinstance(parsed, BaseModel):  # pragma: no cover - only for instructor's DSL types
        raise ResponseParsingError(f"unexpected answer type {type(parsed).__name__}")
    return parsed


@lru_cache(maxsize=16)
def _response_parser(mode: Mode) -> Callable[..., Any]:
    """instructor's answer parser for ``mode`` (looked up once: the registry lookup hashes
    several enums, ~2 µs an answer)."""
    parser: Callable[..., Any] = mode_registry.get_handlers(Provider.OPENAI, mode).response_parser
    return parser


def reask_request(
    request: ChatRequest, completion: ChatCompletion, error: Exception
) -> ChatRequest:
    """``request`` with the failed answer and the error appended (instructor's re-ask);
    ``request`` itself is left as it was (instructor appends to the list it is given)."""
    messages = [dict(message) for message in request.body["messages"]]
    body = handle_reask_kwargs(
        {**request.body, "messages": messages}, request.mode, completion, error
    )
    return ChatRequest(body, request.response_model, request.mode, request.stage)


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


def shape_is_faithful(
    model: type[BaseModel], messages: list[dict[str, str]], spec: RequestSpec
) -> bool:
    """Whether the cached shape gives what instructor gives for these messages, with the
    sent schema in place of pydantic's (tests)."""
    cached = _request(model, messages, spec, None).body
    return cached == _instructor_request(model, messages, spec, None).body
