"""Request dialects: reshape a mode's request for the server at the backend boundary.

instructor's modes (as ``backends.chat`` writes them) speak OpenAI's dialect. llama.cpp (in process and served)
speaks a slightly different one for constrained decoding:

- OpenAI's ``{"type": "json_schema", "json_schema": {"schema": S}}`` is ignored by
  ``Llama.create_chat_completion`` (nothing constrains the output) and rejected with
  HTTP 500 by ``llama_cpp.server``. llama.cpp wants ``{"type": "json_object",
  "schema": S}``, which it compiles into a decoding grammar.
- instructor's ``json`` mode sends a bare ``{"type": "json_object"}``; llama.cpp's
  server (and vLLM, which ignores it) accept the schema in that object too.

A dialect is applied once per response model when requests are built
(``summarizer.backends.chat``), to the request's ``tools``/``response_format`` part, with
the JSON Schema of the model being asked for passed in explicitly.

For decoding, :func:`grammar_schema` tightens the JSON Schema without changing what
validates: every property is emitted (in schema order, ``null``/``[]`` when not
reported), lists and free-text strings are bounded. A small model constrained by the
bare schema writes one string until ``max_tokens``; bounded, it moves on to the next
field. The pydantic model still validates the answer.

The schema sent writes a nullable value as ``"type": [T, "null"]``
(``sent_schema``); llama-cpp-python's grammar compiler keeps only the types of such a
list and drops every other keyword (properties, bounds), so the dialects write it back
as ``anyOf`` first (``split_type_lists``), bounded or not.

Free-text strings also get a ``pattern`` with the same bound, made of characters a JSON
string holds unescaped: llama-cpp-python's grammar lets raw control characters (a newline)
into a string, which no JSON parser accepts, and llama.cpp follows a ``pattern`` before a
``maxLength``. The summary's pattern counts words, so it cannot exceed what its validator
accepts.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from pydantic import BaseModel

from ..config import Settings
from ..schema import SUMMARY_MAX_WORDS

Request = dict[str, Any]


class Dialect(Protocol):
    """Rewrites a request's schema-carrying keys for one kind of server (hashable)."""

    def __call__(self, request: Request, schema: dict[str, Any]) -> Request: ...

    def __hash__(self) -> int: ...


# Hosts known to reject unknown keys inside response_format.
STRICT_HOSTS = ("openai.com", "openai.azure.com", "azure.com")


# Always passes schema.Outcome's timepoint check: a number, a unit, a few words ("6 months later").
TIMEPOINT_GRAMMAR = r"^[1-9][0-9]{0,2} (hours?|days?|weeks?|months?|years?)( [a-z]{1,16}){0,3}$"

TEXT_CHAR = r'[^"\\\x00-\x1F]'
"""A character a JSON string holds as it is: no quote, backslash or control character."""
WORD_CHAR = r'[^ "\\\x00-\x1F]'
MAX_WORD = 30


def text_pattern(max_chars: int) -> str:
    """Up to ``max_chars`` characters that need no escaping (see the module doc)."""
    return f"^{TEXT_CHAR}{{0,{max_chars}}}$"


def words_pattern(max_words: int) -> str:
    """One to ``max_words`` words (of at most MAX_WORD characters) separated by spaces."""
    word = f"{WORD_CHAR}{{1,{MAX_WORD}}}"
    return f"^{word}( {word}){{0,{max_words - 1}}}$"


SUMMARY_GRAMMAR = words_pattern(SUMMARY_MAX_WORDS)


@dataclass(frozen=True, slots=True)
class GrammarBounds:
    """Limits for the decoding grammar (not for validation)."""

    max_items: int = 3
    """Most items per list."""
    max_string: int = 160
    """Most characters per free-text string (enums and patterns are left alone): a phrase
    or a short sentence, what an evidence quote should be; a cut quote still aligns."""
    patterns: tuple[tuple[str, str], ...] = (
        ("timepoint", TIMEPOINT_GRAMMAR),
        ("summary", SUMMARY_GRAMMAR),
    )
    """Per-property regexes for strings whose validator the grammar cannot see otherwise
    (``Outcome.timepoint`` must read as a time, the summary is at most 60 words): a small
    model then cannot fail them."""
    all_required: bool = True
    """Emit every property, in schema order, so a small model cannot skip to the end."""


DEFAULT_BOUNDS = GrammarBounds()


def bounds_for(settings: Settings) -> GrammarBounds:
    """The grammar bounds ``settings`` ask for (``--grammar-max-items``,
    ``--grammar-max-string``), else the backend's defaults."""
    max_items, max_string = settings.resolved_grammar
    return GrammarBounds(max_items=max_items, max_string=max_string)


@functools.lru_cache(maxsize=64)
def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model_json_schema`` costs ~5 ms; derive it once per model (read-only: not mutated)."""
    return model.model_json_schema()


def split_type_lists(node: Any) -> Any:
    """A copy of ``node`` with every ``"type": [T, U…]`` written as ``anyOf`` of one
    schema per type (the keywords that constrain a T go with T; annotations stay
    outside): the same values validate, and a grammar compiler that reads only ``anyOf``
    keeps every constraint."""
    if isinstance(node, list):
        return [split_type_lists(item) for item in node]
    if not isinstance(node, dict):
        return copy.deepcopy(node)
    out = {key: split_type_lists(value) for key, value in node.items()}
    kinds = out.get("type")
    if not isinstance(kinds, list):
        return out
    outside = {key: out.pop(key) for key in ("description", "title", "default") if key in out}
    del out["type"]
    options = [{"type": kind} if kind == "null" else {**out, "type": kind} for kind in kinds]
    return {"anyOf": options, **outside}


def grammar_schema(
    schema: dict[str, Any], bounds: GrammarBounds = DEFAULT_BOUNDS
) -> dict[str, Any]:
    """A copy of ``schema`` bounded for grammar-constrained decoding (see module doc)."""
    patterns = dict(bounds.patterns)

    def visit(node: Any, key: str | None) -> Any:
        # ``key``: the property that owns this node (kept through anyOf and items).
        if isinstance(node, list):
            return [visit(item, key) for item in node]
        if not isinstance(node, dict):
            return copy.deepcopy(node)
        out: dict[str, Any] = {}
        for name, value in node.items():
            if name == "properties" and isinstance(value, dict):
                out[name] = {prop: visit(sub, prop) for prop, sub in value.items()}
            elif name in ("$defs", "definitions") and isinstance(value, dict):
                out[name] = {prop: visit(sub, None) for prop, sub in value.items()}
            elif name in ("items", "anyOf", "oneOf", "allOf"):
                out[name] = visit(value, key)
            else:
                out[name] = copy.deepcopy(value)
        kind = out.get("type")
        if kind == "array" and "maxItems" not in out:
            out["maxItems"] = bounds.max_items
        free_text = not any(k in out for k in ("maxLength", "enum", "const", "pattern", "format"))
        if kind == "string" and free_text:
            if key in patterns:
                out["pattern"] = patterns[key]
            else:
                out["maxLength"] = bounds.max_string
                out["pattern"] = text_pattern(bounds.max_string)
        if bounds.all_required and isinstance(out.get("properties"), dict):
            out["required"] = list(out["properties"])
        return out

    result: dict[str, Any] = visit(split_type_lists(schema), None)
    return result


def _for_grammar(schema: dict[str, Any], bounds: GrammarBounds | None) -> dict[str, Any]:
    """``schema`` as a grammar compiler should get it: bounded, or only split."""
    if bounds is None:
        split: dict[str, Any] = split_type_lists(schema)
        return split
    return grammar_schema(schema, bounds)


def _json_object(schema: dict[str, Any], bounds: GrammarBounds | None) -> dict[str, Any]:
    return {"type": "json_object", "schema": _for_grammar(schema, bounds)}


@dataclass(frozen=True, slots=True)
class LlamaCppDialect:
    """llama.cpp (in process and served): OpenAI's ``json_schema`` response format (and
    a bare ``json_object``) becomes ``{"type": "json_object", "schema": ...}``, and tool
    parameters (tools mode) are bounded too; ``bounds=None`` sends the schemas as they are."""

    bounds: GrammarBounds | None = DEFAULT_BOUNDS

    def __call__(self, request: Request, schema: dict[str, Any]) -> Request:
        tools = request.get("tools")
        if isinstance(tools, list):
            request = {**request, "tools": [_bounded_tool(tool, self.bounds) for tool in tools]}
        response_format = request.get("response_format")
        if not isinstance(response_format, dict):
            return request
        kind = response_format.get("type")
        if kind == "json_schema":
            schema = (response_format.get("json_schema") or {}).get("schema") or schema
        elif kind != "json_object" or "schema" in response_format:
            return request
        return {**request, "response_format": _json_object(schema, self.bounds)}


def _bounded_tool(tool: Any, bounds: GrammarBounds | None) -> Any:
    """llama.cpp compiles a forced tool's parameters into the grammar: bound them too
    (``bounds=None``: only split the type lists)."""
    function = tool.get("function") if isinstance(tool, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("parameters"), dict):
        return tool
    return {
        **tool,
        "function": {**function, "parameters": _for_grammar(function["parameters"], bounds)},
    }


@dataclass(frozen=True, slots=True)
class GrammarServer:
    """A server other than OpenAI's that compiles the schema into a decoding grammar
    (llama.cpp's server; vLLM and Ollama use or ignore what they do not support):

    - ``json`` mode: the schema goes into ``{"type": "json_object", "schema": ...}``;
    - ``tools`` mode: the forced tool's parameters are bounded like the schema.

    ``bounds=None`` sends the schemas unbounded."""

    bounds: GrammarBounds | None = DEFAULT_BOUNDS

    def __call__(self, request: Request, schema: dict[str, Any]) -> Request:
        tools = request.get("tools")
        if isinstance(tools, list):
            request = {**request, "tools": [_bounded_tool(tool, self.bounds) for tool in tools]}
        response_format = request.get("response_format")
        if (
            not isinstance(response_format, dict)
            or response_format.get("type") != "json_object"
            or "schema" in response_format
        ):
            return request
        return {**request, "response_format": _json_object(schema, self.bounds)}


def accepts_schema_in_json_object(base_url: str | None) -> bool:
    """False for OpenAI and Azure (they reject unknown keys); True for other servers."""
    if base_url is None:
        return False
    host = (urlsplit(base_url).hostname or "").lower()
    return not any(host == strict or host.endswith("." + strict) for strict in STRICT_HOSTS)
