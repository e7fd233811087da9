"""Token accounting: what a record cost, over every request made for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Usage:
    """Prompt and completion tokens, summed over requests (re-asks and stages included).

    ``cached_tokens`` are the prompt tokens the server answered from its prompt cache (a
    prefix it had seen: OpenAI's ``usage.prompt_tokens_details.cached_tokens``, or the
    tokens llama.cpp reused from its KV cache); they are part of ``prompt_tokens`` and
    billed at the provider's cached rate.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.cached_tokens += other.cached_tokens

    def copy(self) -> Usage:
        return Usage(self.prompt_tokens, self.completion_tokens, self.cached_tokens)

    @classmethod
    def of(cls, usage: Any) -> Usage:
        """From an SDK usage object (``CompletionUsage``) or None: some servers send none."""
        if usage is None:
            return cls()
        details = getattr(usage, "prompt_tokens_details", None)
        cached = getattr(details, "cached_tokens", None) if details is not None else None
        prompt = int(usage.prompt_tokens or 0)
        # a cached count above the prompt's is a server's error: never more than all of it
        return cls(prompt, int(usage.completion_tokens or 0), min(int(cached or 0), prompt))

    def to_dict(self) -> dict[str, int]:
        return {
            "prompt": self.prompt_tokens,
            "completion": self.completion_tokens,
            "total": self.total_tokens,
            "cached": self.cached_tokens,
        }

    @classmethod
    def from_dict(cls, value: dict[str, Any] | None) -> Usage:
        """From ``to_dict`` output (or the cache's ``prompt_tokens``/``completion_tokens``/
        ``cached_tokens``); written before cached tokens were read: 0 of them."""
        value = value or {}
        prompt = value.get("prompt", value.get("prompt_tokens", 0))
        completion = value.get("completion", value.get("completion_tokens", 0))
        cached = value.get("cached", value.get("cached_tokens", 0))
        return cls(int(prompt or 0), int(completion or 0), int(cached or 0))
