"""What a backend declares, what it returns, and the two shapes a backend comes in.

A backend declares its ``Capabilities`` (does it take a prompt? may its answers be
cached? does it run on this machine?) and its lifecycle (``aclose``), so nothing else
needs to know which backend it is. It is one of two kinds:

- ``ModelBackend``: a model behind the chat-completions API, in three steps that can be
  used on their own: ``build`` the requests for a rendered prompt (pure), ``send`` one
  (I/O, with transport retries), ``parse`` an answer into the response model (pure,
  validated with the grounding context), plus ``reask`` (pure: the next request after an
  answer that did not validate). ``summarizer.asking`` drives the three steps and the
  re-asks; the provider batch path builds and parses without sending.
- ``RecordBackend``: fills the case schema itself, without a prompt (``rules``).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel

from ..document import Abstract
from ..progress import ProgressListener
from ..schema import CaseReport
from ..usage import Usage

if TYPE_CHECKING:  # the rules path never imports instructor, the OpenAI SDK or jinja2
    from instructor import Mode
    from openai.types.chat import ChatCompletion

    from ..render import RenderedPrompt

__all__ = [
    "AnyBackend",
    "Backend",
    "Capabilities",
    "ChatRequest",
    "Extraction",
    "ModelBackend",
    "RecordBackend",
    "ReportsProgress",
    "TakesTurns",
    "Usage",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Capabilities:
    """What a backend is, for the code that runs it."""

    takes_prompt: bool
    """Renders a versioned prompt and asks a model (a ``ModelBackend``)."""
    cacheable: bool
    """Its answers are worth keeping in the response cache (and its calls in the run log)."""
    local: bool
    """Runs on this machine: no network, no per-token price."""


@dataclass(slots=True)
class Extraction:
    """A validated record and what producing it cost, over every request."""

    record: CaseReport
    usage: Usage = field(default_factory=Usage)
    requests: int = 1
    """Requests answered: one per stage, plus every re-ask (a transport retry is not one)."""
    reasks: int = 0
    """Validation re-asks among ``requests``."""
    warnings: list[str] = field(default_factory=list)

    @property
    def attempts(self) -> int:
        """``requests`` under its older name (kept in the output contract)."""
        return self.requests


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One chat-completions request and how to read its answer.

    ``body`` is exactly what is sent (``model``, ``messages``, ``tools`` or
    ``response_format``, ``temperature``, ``max_tokens``…): the online path posts it, and
    a provider batch file can carry it unchanged. It is empty in a request that is only
    read, never sent (``backends.chat.answer_requests``: a provider batch's collect).
    """

    body: dict[str, Any]
    response_model: type[BaseModel]
    """The pydantic model the answer is parsed into."""
    mode: Mode
    """instructor's mode: how the body asks for the schema and how the answer is read."""
    stage: str | None = None
    """The stage of a staged prompt this request asks (None: the whole record)."""


class Backend(Protocol):
    """What every backend declares."""

    name: str
    model: str
    mode: str
    capabilities: Capabilities

    def identity(self) -> dict[str, Any]:
        """Everything about this backend that changes the answer (for cache keys)."""
        ...

    async def aclose(self) -> None:
        """Release clients and models (inside the event loop that used them)."""
        ...


@runtime_checkable
class ModelBackend(Backend, Protocol):
    """A model behind the chat-completions API: build → send → parse."""

    def build(self, prompt: RenderedPrompt) -> list[ChatRequest]:
        """The requests for one record: one, or one per stage of a staged prompt (pure)."""
        ...

    async def send(self, request: ChatRequest) -> ChatCompletion:
        """The model's answer to ``request`` (transport retries inside; ModelCallError out)."""
        ...

    def parse(
        self, completion: ChatCompletion, request: ChatRequest, context: dict[str, Any]
    ) -> BaseModel:
        """The answer as ``request.response_model``, validated with ``context`` (pure).

        Raises what a re-ask can fix (``parsing.REASKABLE``) or ``parsing.AnswerCutOff``.
        """
        ...

    def reask(
        self, request: ChatRequest, completion: ChatCompletion, error: Exception
    ) -> ChatRequest:
        """The next request: ``request`` plus the failed answer and its error (pure)."""
        ...


@runtime_checkable
class RecordBackend(Backend, Protocol):
    """A backend that fills the case schema itself, without a prompt or a model."""

    def fill(self, abstract: Abstract) -> Extraction: ...


@runtime_checkable
class HoldsOpen(Protocol):
    """A backend with resources worth holding for a run (a pooled HTTP session): taken by
    ``aopen``, released by ``aclose``. Never opened, it still works, lazily."""

    async def aopen(self) -> None:
        """Take the resources, inside the event loop that will use them."""
        ...


class TakesTurns(Protocol):
    """A backend whose requests share one model on this machine (llama.cpp in process):
    a record's requests are sent in one turn, back to back, so each stage after the
    first reuses the prefix (system prompt and abstract) the model has just read."""

    def record_turn(self) -> AbstractAsyncContextManager[None]:
        """Held around one record's requests; other records wait for it."""
        ...


@runtime_checkable
class ReportsProgress(Protocol):
    """A backend that can say what it is doing (a local model: loading, each request's
    prefill and generation), for callers that ask (``Summarizer(on_progress=...)``)."""

    def report_progress(self, listener: ProgressListener | None) -> None:
        """Send progress events to ``listener`` from now on (None: stop)."""
        ...


AnyBackend = ModelBackend | RecordBackend
