"""Token accounting: what a record cost, over every request made for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Usage:
    """Prompt and completion tokens, summed over requests (re-asks and stages included)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens

    def copy(self) -> Usage:
        return Usage(self.prompt_tokens, self.completion_tokens)

    @classmethod
    def of(cls, usage: Any) -> Usage:
        """From an SDK usage object (``CompletionUsage``) or None: some servers send none."""
        if usage is None:
            return cls()
        return cls(int(usage.prompt_tokens or 0), int(usage.completion_tokens or 0))

    def to_dict(self) -> dict[str, int]:
        return {
            "prompt": self.prompt_tokens,
            "completion": self.completion_tokens,
            "total": self.total_tokens,
        }

    @classmethod
    def from_dict(cls, value: dict[str, Any] | None) -> Usage:
        """From ``to_dict`` output (or the cache's ``prompt_tokens``/``completion_tokens``)."""
        value = value or {}
        prompt = value.get("prompt", value.get("prompt_tokens", 0))
        completion = value.get("completion", value.get("completion_tokens", 0))
        return cls(int(prompt or 0), int(completion or 0))
