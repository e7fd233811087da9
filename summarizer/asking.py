"""Ask a model for one record: build → send → parse, and the re-asks.

For each request ``build`` gives (one, or one per stage): wait for the rate limiter,
``send`` it, count its tokens, and ``parse`` the answer with the abstract's grounding
context. An answer that is not JSON or does not validate is re-asked with the error
(``reask``: the failed answer and its error, as the mode writes them) up to
``validation_attempts`` times; on the last attempt grounding stops enforcing (unless
strict), so the record is kept and an unfound quote is reported unaligned. A transport failure is never re-asked: ``send``
retried it already. Tokens are counted over every answered request, on success and on
failure; the error raised carries them (``SummarizerError.usage`` / ``attempts``).

A backend that ``TakesTurns`` (one model on this machine) has a record's requests sent
in one turn, back to back, while other records wait: each stage after the first then
finds the system prompt and abstract still in llama.cpp's KV cache.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import NamedTuple, cast

from openai.types.chat import ChatCompletion
from pydantic import BaseModel, ValidationError

from .backends import Extraction, ModelBackend
from .backends.base import ChatRequest, TakesTurns
from .backends.parsing import REASKABLE, AnswerCutOff
from .backends.stages import merge
from .errors import ExtractionError, GroundingError, MalformedAnswerError, SummarizerError
from .ground import Aligner, is_grounding_error, validation_context
from .ratelimit import RateLimiter
from .render import RenderedPrompt
from .schema import CaseReport
from .usage import Usage

__all__ = ["FailedAttempt", "Policy", "ask_model"]


class FailedAttempt(NamedTuple):
    """An answer that did not validate (``ExtractionError.failed_attempts``)."""

    attempt_number: int
    exception: Exception
    completion: ChatCompletion


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """How hard to try for one record."""

    validation_attempts: int = 3
    strict_grounding: bool = False
    limiter: RateLimiter | None = None


@dataclass(slots=True)
class _Tally:
    """Requests and tokens over every request of one record (failed ones included)."""

    usage: Usage = field(default_factory=Usage)
    requests: int = 0
    reasks: int = 0

    def answered(self, completion: ChatCompletion) -> Usage:
        usage = Usage.of(completion.usage)
        self.usage.add(usage)
        self.requests += 1
        return usage

    def charge(self, error: SummarizerError, *, unanswered: int = 0) -> SummarizerError:
        error.spent(self.usage, self.requests + unanswered)
        return error


async def ask_model(
    backend: ModelBackend, prompt: RenderedPrompt, *, aligner: Aligner, policy: Policy
) -> Extraction:
    """The record the model gives for ``prompt``, over one request or one per stage."""
    tally = _Tally()
    # getattr, not isinstance on the Protocol: that walks its members (~25 us a record)
    turn = cast(TakesTurns, backend).record_turn() if hasattr(backend, "record_turn") else None
    async with turn or nullcontext():
        parts = [
            await _answer(backend, request, aligner, policy, tally)
            for request in backend.build(prompt)
        ]
    try:
        record = parts[0] if len(parts) == 1 and isinstance(parts[0], CaseReport) else merge(parts)
    except ExtractionError as error:
        raise tally.charge(error) from error
    return Extraction(
        record=record, usage=tally.usage, requests=tally.requests, reasks=tally.reasks
    )


async def _answer(
    backend: ModelBackend,
    request: ChatRequest,
    aligner: Aligner,
    policy: Policy,
    tally: _Tally,
) -> BaseModel:
    """One validated answer to ``request``: sent, parsed, and re-asked while it fails."""
    limiter = policy.limiter
    failed: list[FailedAttempt] = []
    attempts = policy.validation_attempts
    for attempt in range(1, attempts + 1):
        estimate = limiter.estimate(request.body) if limiter is not None else 0
        if limiter is not None:
            await limiter.acquire(estimate)
        try:
            completion = await backend.send(request)
        except MalformedAnswerError as error:  # no answer to re-ask with: ask again as built
            tally.requests += 1
            if attempt == attempts:
                failure = ExtractionError(f"no valid record after {attempt} attempt(s): {error}")
                raise tally.charge(failure) from error
            continue
        except SummarizerError as error:
            raise tally.charge(error, unanswered=_tries(error)) from error
        usage = tally.answered(completion)
        if limiter is not None:
            limiter.observe(usage.completion_tokens)
            limiter.settle(estimate, usage.total_tokens or estimate)
        enforce = policy.strict_grounding or attempt < attempts
        try:
            return backend.parse(completion, request, validation_context(aligner, enforce=enforce))
        except AnswerCutOff as error:
            what = request.stage or "the record"
            cut = ExtractionError(
                f"{what}: the answer was cut off at max_tokens (raise --max-tokens)"
            )
            raise tally.charge(cut) from error
        except REASKABLE as error:
            failed.append(
                FailedAttempt(attempt_number=attempt, exception=error, completion=completion)
            )
            if attempt == attempts:
                raise tally.charge(_no_valid_record(error, attempt, failed)) from error
            request = backend.reask(request, completion, error)
            tally.reasks += 1
    raise AssertionError("unreachable: validation_attempts is at least 1")


def _tries(error: SummarizerError) -> int:
    """Requests a transport failure sent (its tries), counted in the error's ``attempts``."""
    return max(error.attempts, 1)


def _no_valid_record(
    error: Exception, attempts: int, failed: list[FailedAttempt]
) -> ExtractionError:
    kind = GroundingError if is_grounding_error(error) else ExtractionError
    return kind(
        f"no valid record after {attempts} attempt(s): {_one_line(error)}", failed_attempts=failed
    )


def _one_line(error: BaseException) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "record"
        more = f" (+{error.error_count() - 1} more)" if error.error_count() > 1 else ""
        return f"{where}: {first.get('msg', 'invalid')}{more}"
    return " ".join(str(error).split())[:300] or type(error).__name__
