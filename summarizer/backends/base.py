"""What every backend returns, and the interface the pipeline calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..document import Abstract
from ..render import RenderedPrompt
from ..schema import CaseReport


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, usage: Any) -> None:
        """Add an SDK usage object (or None: some servers send no usage)."""
        if usage is None:
            return
        self.prompt_tokens += int(getattr(usage, "prompt_tokens", 0) or 0)
        self.completion_tokens += int(getattr(usage, "completion_tokens", 0) or 0)

    def to_dict(self) -> dict[str, int]:
        return {
            "prompt": self.prompt_tokens,
            "completion": self.completion_tokens,
            "total": self.total_tokens,
        }


@dataclass(slots=True)
class Extraction:
    """A validated record and what producing it cost, over every attempt."""

    record: CaseReport
    attempts: int = 1
    usage: Usage = field(default_factory=Usage)
    warnings: list[str] = field(default_factory=list)


@runtime_checkable
class Backend(Protocol):
    name: str
    model: str
    mode: str

    def identity(self) -> dict[str, Any]:
        """Everything about this backend that changes the answer (for cache keys)."""
        ...

    def extract(self, abstract: Abstract, prompt: RenderedPrompt) -> Extraction: ...

    async def aextract(self, abstract: Abstract, prompt: RenderedPrompt) -> Extraction: ...

    def close(self) -> None: ...
