"""Reading a chat-completions answer in each mode, and writing the re-ask after a bad one.

Pure, and ours: nothing here calls into instructor. What it does is what instructor's
OpenAI modes do, in the shapes instructor documents (``tests/test_instructor_public.py``
checks it against the installed instructor through its public API, so an upgrade that
changes instructor's behaviour fails a test instead of drifting away unnoticed):

- the answer's JSON is the first tool call's arguments (``tools``), the message content
  (``json_schema``, ``json``), or the last complete JSON value in the content
  (``md_json``: a fenced block, or JSON amid prose), validated by the response model
  with the grounding context;
- an answer cut off at ``max_tokens`` is ``AnswerCutOff`` (a re-ask would be cut off
  too); an answer without the tool call asked for is ``UnreadableAnswer``, re-asked
  like one that does not validate (``REASKABLE``);
- a re-ask is the request with the failed answer appended as the assistant's message,
  then the error: in a ``tool`` message answering each tool call (``tools``), else as
  the user's next message.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from instructor import Mode
from pydantic import BaseModel, ValidationError

from .base import ChatRequest

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletion, ChatCompletionMessage

__all__ = [
    "REASKABLE",
    "AnswerCutOff",
    "UnreadableAnswer",
    "answer_json",
    "json_in_text",
    "parse_answer",
    "reask_request",
]


class UnreadableAnswer(ValueError):
    """The answer holds no JSON where its mode puts it (no tool call, no choice)."""


class AnswerCutOff(Exception):
    """The answer stopped at ``max_tokens`` (``finish_reason == "length"``)."""


REASKABLE: tuple[type[Exception], ...] = (ValidationError, json.JSONDecodeError, UnreadableAnswer)
"""Errors a re-ask can fix: the answer is not JSON, or does not validate."""

_FIX_THE_CALL = "Validation Error found:\n{error}\nRecall the function correctly, fix the errors"
_FIX_THE_JSON = "Correct your JSON ONLY RESPONSE, based on the following errors:\n{error}"
_OPENING = re.compile(r"[\[{]")


def parse_answer(
    completion: ChatCompletion, request: ChatRequest, context: dict[str, Any] | None
) -> BaseModel:
    """``completion`` as ``request.response_model``, validated with ``context``."""
    parsed: BaseModel = request.response_model.model_validate_json(
        answer_json(completion, request.mode), context=context
    )
    return parsed


def answer_json(completion: ChatCompletion, mode: Mode) -> str:
    """The JSON text of the answer, where ``mode`` puts it."""
    choices = getattr(completion, "choices", None)
    if not choices:
        raise UnreadableAnswer(f"No choices in OpenAI response (mode: {mode.value})")
    choice = choices[0]
    if getattr(choice, "finish_reason", None) == "length":
        raise AnswerCutOff("the answer was cut off at max_tokens")
    message = choice.message
    if mode is Mode.TOOLS:
        return _tool_arguments(message)
    content: str = getattr(message, "content", None) or ""
    return json_in_text(content) if mode is Mode.MD_JSON else content


def _tool_arguments(message: ChatCompletionMessage) -> str:
    refusal = getattr(message, "refusal", None)
    if refusal is not None:
        raise UnreadableAnswer(f"the model refused: {refusal}")
    calls = getattr(message, "tool_calls", None) or []
    called = calls[0].function if calls else getattr(message, "function_call", None)
    arguments = getattr(called, "arguments", None) if called is not None else None
    if called is None:
        raise UnreadableAnswer("No tool calls or function call found in response (mode: TOOLS)")
    if arguments is None:
        raise UnreadableAnswer("Tool call arguments missing in response (mode: TOOLS)")
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def json_in_text(text: str) -> str:
    """The last complete JSON object or array in ``text``, else ``text`` itself.

    The last, not the first: the model's answer comes after anything it quotes (JSON in
    an abstract it repeats must not become the record). A span that does not decode costs
    a read of the rest of the text, so the reading stops after about 16 texts' worth.
    """
    decoder = json.JSONDecoder()
    found, end, budget = text, 0, 16 * len(text)
    for opening in _OPENING.finditer(text):
        start = opening.start()
        if start < end:
            continue
        try:
            _, stop = decoder.raw_decode(text, start)
        except (json.JSONDecodeError, RecursionError):
            budget -= len(text) - start
            if budget < 0:
                break
            continue
        found, end = text[start:stop], stop
    return found


def reask_request(
    request: ChatRequest, completion: ChatCompletion, error: Exception
) -> ChatRequest:
    """``request`` with the failed answer and ``error`` appended (``request`` itself is
    left as it was)."""
    message = completion.choices[0].message
    said = _as_sent(message)
    if request.mode is Mode.TOOLS:
        text = _FIX_THE_CALL.format(error=error)
        calls = getattr(message, "tool_calls", None) or []
        replies = [
            {"role": "tool", "tool_call_id": call.id, "name": call.function.name, "content": text}
            for call in calls
        ] or [{"role": "user", "content": text}]
    else:
        replies = [{"role": "user", "content": _FIX_THE_JSON.format(error=error)}]
    body = {**request.body, "messages": [*request.body["messages"], said, *replies]}
    return ChatRequest(body, request.response_model, request.mode, request.stage)


def _as_sent(message: ChatCompletionMessage) -> dict[str, Any]:
    """The assistant's answer as a message of the next request (its text, its tool calls)."""
    sent: dict[str, Any] = {"role": message.role, "content": message.content or ""}
    if getattr(message, "tool_calls", None) is not None:
        sent["tool_calls"] = message.model_dump()["tool_calls"]
    function_call = getattr(message, "function_call", None)
    if function_call is not None:  # the deprecated functions API: the call as text
        sent["content"] += json.dumps(message.model_dump()["function_call"])
    return sent
