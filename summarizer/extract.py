"""Extract: fill the case schema for one abstract, with any backend.

A ``RecordBackend`` (rules) fills it itself. A ``ModelBackend`` is asked through its
three steps, with re-asks, rate limits and token accounting (``summarizer.asking``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, cast

from .backends import AnyBackend, Extraction, ModelBackend, RecordBackend
from .document import Abstract
from .errors import ConfigError
from .ground import Aligner
from .ratelimit import RateLimiter
from .render import RenderedPrompt

__all__ = ["Policy", "extract"]

AskModel = Callable[..., Coroutine[Any, Any, Extraction]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """How hard to try for one record."""

    validation_attempts: int = 3
    strict_grounding: bool = False
    limiter: RateLimiter | None = None


async def extract(
    backend: AnyBackend,
    abstract: Abstract,
    prompt: RenderedPrompt | None,
    *,
    aligner: Aligner,
    policy: Policy,
) -> Extraction:
    """The record for ``abstract``; raises SummarizerError subclasses carrying the cost."""
    # The declared capability, not isinstance: a check against a runtime-checkable
    # Protocol walks its members on every call (~25 us a record).
    if not backend.capabilities.takes_prompt:
        return cast(RecordBackend, backend).fill(abstract)
    if prompt is None:
        raise ConfigError(f"the {backend.name} backend needs a rendered prompt")
    ask_model = _ask_model()
    return await ask_model(cast(ModelBackend, backend), prompt, aligner=aligner, policy=policy)


@functools.cache
def _ask_model() -> AskModel:
    """``asking.ask_model``, imported at first use: keeps instructor and the OpenAI SDK out
    of the rules path (start-up, memory). Kept: an import statement costs ~2 µs a record."""
    from .asking import ask_model

    return ask_model
