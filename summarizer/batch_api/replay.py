"""The batch's answers as a backend: collect runs the online pipeline over them.

``BatchBackend`` is a ``ModelBackend`` whose ``build``, ``parse`` and ``reask`` are the
``openai`` backend's own steps and whose ``send`` answers each record's first request
per stage from the batch's results (by ``custom_id``: the record id, plus ``#stage``).
So ``collect`` is the online path with the network replaced by the results file: the
same ``Summarizer`` renders the prompt, builds the same requests, parses each answer as
its mode is read (``backends.parsing``), validates it with the grounding context, merges the
stages and grounds the record; the same runner and writers store it.

Without an online backend an error line, a missing answer or an answer that does not
validate is the record's failure (collect asks once: ``validation_attempts`` 1, and
grounding enforced). With one (``--retry-failed``) whatever the batch could not answer
is asked online: a missing or failed request is sent as built, and an answer that did
not validate is re-asked from the batch's answer with its error, as the online path
re-asks.

The record being collected is known to ``send`` through a context variable that
``answering`` sets around each record (each runner worker is its own task).
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field
from typing import Any

from openai.types.chat import ChatCompletion
from pydantic import BaseModel

from ..backends import Capabilities, ChatRequest, ModelBackend
from ..backends.chat import answer_requests
from ..backends.openai_compat import OpenAISteps
from ..render import RenderedPrompt
from ..usage import Usage
from .answers import Answers
from .context import custom_id

__all__ = ["BatchBackend", "Served", "answering"]

_RECORD: contextvars.ContextVar[str] = contextvars.ContextVar("batch_record")


@dataclass(slots=True)
class Served:
    """What the batch answered and what was asked online, for costs and reports."""

    batch: Usage = field(default_factory=Usage)
    online: Usage = field(default_factory=Usage)
    online_requests: int = 0
    answered_twice: list[str] = field(default_factory=list)


class BatchBackend:
    """A ``ModelBackend`` over a batch's answers; see the module doc."""

    capabilities = Capabilities(takes_prompt=True, cacheable=False, local=False)

    def __init__(
        self,
        steps: OpenAISteps,
        answers: Answers,
        *,
        mode: str,
        online: ModelBackend | None = None,
    ) -> None:
        self.name = "openai-batch"
        self.model = steps.spec.model
        self.mode = mode
        self._steps = steps
        self._answers = answers
        self._online = online
        self._asked: set[str] = set()
        self._read_only: dict[str, tuple[ChatRequest, ...]] = {}
        """custom_ids whose batch answer was served (a second send is a re-ask)."""
        self.served = Served()

    def identity(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model, "mode": self.mode}

    # -- the openai backend's pure steps --------------------------------------------------
    @property
    def sends(self) -> bool:
        """Whether anything is asked online (``--retry-failed``). Without, every request
        is only read from the batch's answers: ``build`` gives them without bodies, and
        the prompt may be an outline (``render.outline``; no abstract is rendered)."""
        return self._online is not None

    def build(self, prompt: RenderedPrompt) -> list[ChatRequest]:
        if self.sends:
            return self._steps.build(prompt)
        # The same for every record of a prompt (no messages): made once.
        requests = self._read_only.get(prompt.hash)
        if requests is None:
            requests = self._read_only[prompt.hash] = tuple(
                answer_requests(prompt, self._steps.spec)
            )
        return list(requests)

    def parse(
        self, completion: ChatCompletion, request: ChatRequest, context: dict[str, Any]
    ) -> BaseModel:
        return self._steps.parse(completion, request, context)

    def reask(
        self, request: ChatRequest, completion: ChatCompletion, error: Exception
    ) -> ChatRequest:
        return self._steps.reask(request, completion, error)

    # -- send: the batch's answer, else online ------------------------------------------
    async def send(self, request: ChatRequest) -> ChatCompletion:
        ident = custom_id(_RECORD.get(), request.stage)
        if ident not in self._asked:
            self._asked.add(ident)
            if self._answers.count(ident) > 1:
                self.served.answered_twice.append(ident)
            answer = self._answers.get(ident)
            if answer.completion is not None:
                self.served.batch.add(Usage.of(answer.completion.usage))
                return answer.completion
            if self._online is None:
                assert answer.error is not None
                raise answer.error
        if self._online is None:  # pragma: no cover - a re-ask needs validation_attempts > 1
            raise AssertionError("a re-ask without an online backend")
        completion = await self._online.send(request)
        self.served.online.add(Usage.of(completion.usage))
        self.served.online_requests += 1
        return completion

    async def aclose(self) -> None:
        if self._online is not None:
            await self._online.aclose()


def answering(record_id: str) -> contextlib.AbstractContextManager[None]:
    """Make ``record_id`` the record whose requests ``BatchBackend.send`` answers (around
    one record's summarize, inside its own task)."""
    return _Answering(record_id)


class _Answering:
    """``answering``'s context manager (a class: a generator-based one costs ~2 µs a record)."""

    __slots__ = ("_record_id", "_token")
    _token: contextvars.Token[str]

    def __init__(self, record_id: str) -> None:
        self._record_id = record_id

    def __enter__(self) -> None:
        self._token = _RECORD.set(self._record_id)

    def __exit__(self, *exc: object) -> None:
        _RECORD.reset(self._token)
