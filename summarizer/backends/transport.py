"""Transport retries (tenacity): rate limits, 5xx, timeouts and dropped connections.

This is the ``send`` step of a backend: one request, retried on its own when the
transport fails, without re-asking the model; a validation re-ask (``summarizer.asking``)
never re-sends because of a transport fault. The OpenAI SDK's own retries are switched
off (``max_retries=0``) so this is the one policy.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import openai
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
)

from ..errors import ModelCallError

T = TypeVar("T")

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})


@dataclass(frozen=True, slots=True)
class TransportPolicy:
    attempts: int = 4
    deadline: float = 300.0
    initial_backoff: float = 0.5
    max_backoff: float = 30.0
    provider: str = "openai"


def is_transient(error: BaseException) -> bool:
    if isinstance(error, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(error, openai.APIStatusError):
        return error.status_code in RETRY_STATUS
    return False


def retry_after_seconds(error: BaseException | None) -> float | None:
    """Seconds the server asked us to wait (Retry-After / retry-after-ms), if any."""
    if not isinstance(error, openai.APIStatusError):
        return None
    headers = error.response.headers
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def _wait(policy: TransportPolicy) -> Callable[[RetryCallState], float]:
    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        asked = retry_after_seconds(error)
        if asked is not None:
            return min(asked, policy.max_backoff)
        # Full jitter: spreads concurrent workers that failed at the same moment.
        ceiling = min(policy.max_backoff, policy.initial_backoff * 2 ** (state.attempt_number - 1))
        return random.uniform(ceiling / 2, ceiling)

    return wait


_STATUS_HINTS = {
    401: "authentication failed (check the API key)",
    403: "permission denied (check the API key and model access)",
    404: "not found (check --model and --base-url)",
    429: "rate limited",
}


def _describe(error: BaseException) -> str:
    # Server messages are not echoed: some quote part of the API key back.
    if isinstance(error, openai.APITimeoutError):
        return "request timed out"
    if isinstance(error, openai.APIConnectionError):
        return "could not connect"
    if isinstance(error, openai.APIStatusError):
        hint = _STATUS_HINTS.get(
            error.status_code, "server error" if error.status_code >= 500 else "request rejected"
        )
        return f"HTTP {error.status_code}: {hint}"
    return type(error).__name__


def _give_up(policy: TransportPolicy, state: RetryCallState) -> ModelCallError:
    error = state.outcome.exception() if state.outcome else None
    detail = _describe(error) if error else "failed"
    return ModelCallError(detail, provider=policy.provider, tries=state.attempt_number)


def _settings(policy: TransportPolicy) -> dict[str, Any]:
    def give_up(state: RetryCallState) -> None:
        raise _give_up(policy, state)

    return {
        "stop": stop_after_attempt(policy.attempts) | stop_after_delay(policy.deadline),
        "wait": _wait(policy),
        "retry": retry_if_exception(is_transient),
        "retry_error_callback": give_up,
    }


async def send_with_retries(
    create: Callable[..., Awaitable[T]], body: dict[str, Any], policy: TransportPolicy
) -> T:
    """``await create(**body)``, retried on transient transport errors; every failure
    that is not retried, or outlasts the policy, becomes a ModelCallError."""

    async def attempt() -> T:
        # The SDK's create is a plain function returning a coroutine, which tenacity
        # would not await; this wrapper is a true coroutine function.
        return await create(**body)

    try:
        return await AsyncRetrying(**_settings(policy))(attempt)
    except openai.APIError as error:  # not transient: 400, 401, 404…
        raise ModelCallError(_describe(error), provider=policy.provider, tries=1) from error
