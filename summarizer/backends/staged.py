"""Run a rendered prompt through a StructuredCaller: one request, or one per stage.

``single`` prompts ask for the whole CaseReport at once. ``staged`` prompts (built for
small and local models) ask one short question per field group; every stage repeats the
same system + abstract prefix, so llama.cpp (in process or served) evaluates the abstract
once and reuses it from its KV cache. Each stage has its own small pydantic model, built
from CaseReport's own field definitions (annotations, descriptions, defaults and field
validators), and the parts are merged into one CaseReport. Attempts and tokens are summed
over all stages. Both backends call :func:`run_prompt` / :func:`arun_prompt`.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any, cast

from instructor.core.exceptions import IncompleteOutputException
from pydantic import BaseModel, ConfigDict, ValidationError, create_model, field_validator

from ..document import Abstract
from ..errors import ExtractionError, SummarizerError
from ..ground import aligner_for
from ..render import RenderedPrompt, Stage
from ..schema import CaseReport
from .adapters import response_schema
from .base import Extraction, Usage
from .structured import AttemptTracker, StructuredCaller


@lru_cache(maxsize=64)
def stage_model(fields: tuple[str, ...], name: str = "") -> type[BaseModel]:
    """A pydantic model holding ``fields`` of CaseReport, as CaseReport defines them."""
    known = CaseReport.model_fields
    unknown = [field for field in fields if field not in known]
    if unknown:
        raise ValueError(f"not CaseReport fields: {', '.join(unknown)}")
    definitions: dict[str, Any] = {
        field: (known[field].annotation, known[field]) for field in fields
    }
    validators: dict[str, Any] = {}
    for attribute, decorator in CaseReport.__pydantic_decorators__.field_validators.items():
        covered = tuple(field for field in decorator.info.fields if field in fields)
        if covered:
            validators[attribute] = field_validator(*covered, mode=decorator.info.mode)(
                _delegate(decorator.func)
            )
    title = "".join(part.capitalize() for part in (name or "_".join(fields)).split("_"))
    model = create_model(
        f"CaseReport{title}",
        __config__=ConfigDict(**CaseReport.model_config),
        __doc__=f"Part of a case record: {', '.join(fields)}.",
        __validators__=validators,
        **definitions,
    )
    return cast(type[BaseModel], model)


def _delegate(validator: Any) -> Any:
    def check(cls: type[BaseModel], value: Any) -> Any:
        return validator(value)

    return classmethod(check)


def merge(parts: Iterable[BaseModel]) -> CaseReport:
    """One CaseReport from the stage answers (validated again as a whole, outside the
    grounding context: each quote was checked, or relaxed, in its own stage)."""
    merged: dict[str, Any] = {}
    for part in parts:
        merged.update(part.model_dump(mode="json", exclude_unset=False))
    try:
        return CaseReport.model_validate(merged)
    except ValidationError as error:
        raise ExtractionError(f"stage answers do not merge into a case record: {error}") from error


def _check_stages(prompt: RenderedPrompt) -> tuple[Stage, ...]:
    if not prompt.stages:
        raise ExtractionError(f"prompt {prompt.version} is staged but has no stages")
    return prompt.stages


def _requests(prompt: RenderedPrompt) -> list[tuple[type[BaseModel], list[dict[str, str]]]]:
    if prompt.strategy != "staged":
        return [(CaseReport, prompt.messages)]
    return [(stage_model(s.fields, s.name), s.messages) for s in _check_stages(prompt)]


class _Totals:
    """Attempts and tokens over every request of one record (failed ones included)."""

    def __init__(self) -> None:
        self.usage = Usage()
        self.attempts = 0

    def add(self, tracker: AttemptTracker) -> None:
        self.attempts += tracker.attempts
        self.usage.prompt_tokens += tracker.usage.prompt_tokens
        self.usage.completion_tokens += tracker.usage.completion_tokens

    def failed(self, error: Exception, model: type[BaseModel]) -> Exception:
        """``error`` as a SummarizerError carrying the usage of every request so far."""
        if isinstance(error, IncompleteOutputException):
            error = ExtractionError(
                f"{model.__name__}: the answer was cut off at max_tokens (raise --max-tokens)"
            )
        spent = getattr(error, "usage", None)
        total = Usage(self.usage.prompt_tokens, self.usage.completion_tokens)
        if isinstance(spent, Usage):
            total.prompt_tokens += spent.prompt_tokens
            total.completion_tokens += spent.completion_tokens
        error.usage = total  # type: ignore[attr-defined]
        return error

    def extraction(self, parts: list[BaseModel]) -> Extraction:
        record = parts[0] if len(parts) == 1 and isinstance(parts[0], CaseReport) else merge(parts)
        return Extraction(record=record, attempts=self.attempts, usage=self.usage)


def run_prompt(caller: StructuredCaller, abstract: Abstract, prompt: RenderedPrompt) -> Extraction:
    """The record for ``abstract``: one request (single) or one per stage (staged)."""
    aligner = aligner_for(abstract.text)  # built once, shared by the stages
    totals, parts = _Totals(), []
    for model, messages in _requests(prompt):
        try:
            with response_schema(model):
                part, tracker = caller.call(model, messages, abstract.text, aligner)
        except (SummarizerError, IncompleteOutputException) as error:
            failure = totals.failed(error, model)
            if failure is error:
                raise
            raise failure from error
        totals.add(tracker)
        parts.append(part)
    return totals.extraction(parts)


async def arun_prompt(
    caller: StructuredCaller, abstract: Abstract, prompt: RenderedPrompt
) -> Extraction:
    """Async ``run_prompt`` (the stages still run in order: they share a cached prefix)."""
    aligner = aligner_for(abstract.text)
    totals, parts = _Totals(), []
    for model, messages in _requests(prompt):
        try:
            with response_schema(model):
                part, tracker = await caller.acall(model, messages, abstract.text, aligner)
        except (SummarizerError, IncompleteOutputException) as error:
            failure = totals.failed(error, model)
            if failure is error:
                raise
            raise failure from error
        totals.add(tracker)
        parts.append(part)
    return totals.extraction(parts)
