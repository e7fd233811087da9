"""Validation re-asks through instructor, kept apart from transport retries.

``StructuredCaller`` takes a raw ``create`` function (already wrapped with transport
retries and any request adapter), patches it with instructor, and asks for a pydantic
model. Only validation and JSON errors are re-asked (with the error text, by
instructor); every attempt's tokens are counted through instructor's hooks. While the
call runs, the abstract's grounding context is active so that fabricated evidence
quotes fail validation, except on the last attempt (see ``summarizer.ground``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, TypeVar

import instructor
from instructor.core.exceptions import InstructorRetryException
from pydantic import BaseModel, ValidationError
from tenacity import AsyncRetrying, Retrying, retry_if_exception_type, stop_after_attempt

from ..errors import ExtractionError, GroundingError, ModelCallError
from ..ground import Aligner, GroundingContext, aligner_for, grounding
from .base import Usage

M = TypeVar("M", bound=BaseModel)

INSTRUCTOR_MODES = {
    "tools": instructor.Mode.TOOLS,
    "json_schema": instructor.Mode.JSON_SCHEMA,
    "json": instructor.Mode.JSON,
    "md_json": instructor.Mode.MD_JSON,
}

try:  # instructor's own parse failures, re-askable like a ValidationError
    from instructor.core.exceptions import ResponseParsingError

    REASKABLE: tuple[type[BaseException], ...] = (
        ValidationError,
        json.JSONDecodeError,
        ResponseParsingError,
    )
except ImportError:  # pragma: no cover - older instructor layouts
    REASKABLE = (ValidationError, json.JSONDecodeError)


class AttemptTracker:
    """Counts attempts and tokens; relaxes grounding before the final attempt."""

    def __init__(self, context: GroundingContext, max_attempts: int, strict: bool) -> None:
        self.context = context
        self.max_attempts = max_attempts
        self.strict = strict
        self.attempts = 0
        self.usage = Usage()
        self.hooks = instructor.hooks.Hooks()
        self.hooks.on("completion:kwargs", self._on_kwargs)
        self.hooks.on("completion:response", self._on_response)

    def _on_kwargs(self, *args: Any, **kwargs: Any) -> None:
        self.attempts += 1
        if self.attempts >= self.max_attempts and not self.strict:
            # Keep the record on the last try; its unfound quotes are reported unaligned.
            self.context.enforce = False

    def _on_response(self, response: Any) -> None:
        self.usage.add(getattr(response, "usage", None))


def _one_line(error: BaseException) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "record"
        more = f" (+{error.error_count() - 1} more)" if error.error_count() > 1 else ""
        return f"{where}: {first.get('msg', 'invalid')}{more}"
    return " ".join(str(error).split())[:300] or type(error).__name__


def _translate(error: InstructorRetryException, tracker: AttemptTracker) -> Exception:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ModelCallError):
            return cause
        cause = cause.__cause__ or cause.__context__
    failed = list(getattr(error, "failed_attempts", None) or [])
    last = failed[-1].exception if failed else error.__cause__ or error
    detail = _one_line(last)
    kind = GroundingError if "evidence quote" in detail else ExtractionError
    result = kind(
        f"no valid record after {tracker.attempts} attempt(s): {detail}", failed_attempts=failed
    )
    result.usage = tracker.usage  # type: ignore[attr-defined]
    return result


@functools.lru_cache(maxsize=64)
def _response_schema(model: type[M]) -> type[M]:
    """instructor wraps a plain model in a new class on every call, then re-derives its
    JSON schema (~6 ms a call); handing it the wrapped class once makes both cached."""
    try:
        from instructor.v2.core.function_calls import response_schema
    except ImportError:  # pragma: no cover - other instructor layouts
        return model
    return response_schema(model)


class StructuredCaller:
    """Ask for ``response_model`` with re-asks on validation errors only."""

    def __init__(
        self,
        create: Callable[..., Any],
        *,
        mode: str,
        model: str,
        request: dict[str, Any],
        validation_attempts: int,
        strict_grounding: bool,
        is_async: bool = False,
    ) -> None:
        self._patched = instructor.patch(create=create, mode=INSTRUCTOR_MODES[mode])
        self._model = model
        self._request = request
        self._attempts = validation_attempts
        self._strict = strict_grounding
        self._is_async = is_async

    def _prepare(
        self, messages: list[dict[str, str]], source_text: str, aligner: Aligner | None
    ) -> tuple[AttemptTracker, GroundingContext, dict[str, Any]]:
        context = GroundingContext(aligner or aligner_for(source_text))
        tracker = AttemptTracker(context, self._attempts, self._strict)
        retry_kwargs: dict[str, Any] = {
            "stop": stop_after_attempt(self._attempts),
            "retry": retry_if_exception_type(REASKABLE),
            "reraise": True,
        }
        retrying = AsyncRetrying(**retry_kwargs) if self._is_async else Retrying(**retry_kwargs)
        kwargs = {
            **self._request,
            "model": self._model,
            "messages": [dict(message) for message in messages],
            "max_retries": retrying,
            "hooks": tracker.hooks,
        }
        return tracker, context, kwargs

    def call(
        self,
        response_model: type[M],
        messages: list[dict[str, str]],
        source_text: str,
        aligner: Aligner | None = None,
    ) -> tuple[M, AttemptTracker]:
        tracker, context, kwargs = self._prepare(messages, source_text, aligner)
        wrapped = _response_schema(response_model)
        with grounding(context):
            try:
                result = self._patched(response_model=wrapped, **kwargs)
            except InstructorRetryException as error:
                raise _translate(error, tracker) from error
        return result, tracker

    async def acall(
        self,
        response_model: type[M],
        messages: list[dict[str, str]],
        source_text: str,
        aligner: Aligner | None = None,
    ) -> tuple[M, AttemptTracker]:
        tracker, context, kwargs = self._prepare(messages, source_text, aligner)
        wrapped = _response_schema(response_model)
        with grounding(context):
            try:
                result: M = await self._patched(response_model=wrapped, **kwargs)
            except InstructorRetryException as error:
                raise _translate(error, tracker) from error
        return result, tracker
