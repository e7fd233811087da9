"""The JSON Schema as a model is sent it: what validates an answer, and nothing only a reader needs.

pydantic's schema (exported to ``schemas/``, drift-tested) is written for people and
editors as much as for validation. A model pays for every token of it in every request,
so the schema sent drops what changes nothing a model can be told or an answer can fail:

- ``title`` keywords (pydantic adds one to every property and definition; a property's
  name already says it);
- ``default`` values (annotations only: a field left out gets its default when the answer
  is parsed; what the value means is in the field's description or the system prompt);
- ``$defs`` used once, inlined where they are referenced (a definition used twice stays),
  with the referencing field's description in place of the definition's own;
- the ``type`` of an ``enum`` whose values are all of that type (the values say it);
- ``anyOf: [S, {"type": "null"}]`` (pydantic's ``X | None``) written as S with
  ``"type": [T, "null"]``, where S says nothing that would also reject null (no
  ``enum``, ``const``, reference or combinator). Grammar compilers that drop a type
  list's other keywords (llama-cpp-python's) get the ``anyOf`` back from the request
  dialect (``adapters.split_type_lists``).

Every keyword that constrains a value (``type``, ``enum``, ``required``, ``anyOf``,
``items``, ``minimum``…) is kept, so an answer validates against the sent schema exactly
when it validates against the full one (``tests/test_sent_schema.py`` checks that on
the gold records and on generated variants of them). The text of the schema in a prompt
(instructor's ``json`` and ``md_json`` modes) is written without spaces between tokens.
"""

from __future__ import annotations

import copy
import json
from typing import Any

__all__ = ["ANNOTATIONS", "compact_json", "sent_schema"]

_NULL = {"type": "null"}
_APPLY_TO_NULL = frozenset({"enum", "const", "$ref", "anyOf", "oneOf", "allOf", "not", "if"})
"""Keywords that would judge a null too: a schema with one cannot take ``[T, "null"]``."""

ANNOTATIONS = frozenset({"title", "default"})
"""Keywords of a schema object that annotate and never constrain: dropped."""

_SCHEMA_MAPS = frozenset({"properties", "$defs", "definitions", "patternProperties"})
"""Keywords whose value maps names to schemas (the names themselves are data)."""
_DATA = frozenset({"enum", "const", "required", "examples"})
"""Keywords whose value is data, never a schema."""
_DEFS = "#/$defs/"


def sent_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``schema`` without annotations and with single-use definitions inlined."""
    uses: dict[str, int] = {}
    _count_refs(schema, uses)
    definitions = schema.get("$defs", {})
    inlined = {name for name, count in uses.items() if count == 1 and name in definitions}
    result: dict[str, Any] = _visit(schema, definitions, inlined)
    kept = {
        name: _visit(definition, definitions, inlined)
        for name, definition in definitions.items()
        if uses.get(name, 0) > 1
    }
    result.pop("$defs", None)
    if kept:
        result["$defs"] = kept
    return result


def compact_json(schema: dict[str, Any]) -> str:
    """The schema as JSON text with no space between tokens (a third fewer tokens than
    ``indent=2``)."""
    return json.dumps(schema, ensure_ascii=False, separators=(",", ":"))


def _count_refs(node: Any, uses: dict[str, int]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_DEFS):
            name = ref[len(_DEFS) :]
            uses[name] = uses.get(name, 0) + 1
        for key, value in node.items():
            if key not in _DATA and key not in ANNOTATIONS:
                _count_refs(value, uses)
    elif isinstance(node, list):
        for item in node:
            _count_refs(item, uses)


def _visit(node: Any, definitions: dict[str, Any], inlined: set[str]) -> Any:
    """One schema object (or a list of them), lean."""
    if isinstance(node, list):
        return [_visit(item, definitions, inlined) for item in node]
    if not isinstance(node, dict):
        return copy.deepcopy(node)
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(_DEFS) and ref[len(_DEFS) :] in inlined:
        # The definition in place of the reference; the field's own keywords (its
        # description) win over the definition's.
        here = {key: value for key, value in node.items() if key != "$ref"}
        node = {**definitions[ref[len(_DEFS) :]], **here}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ANNOTATIONS or key == "$defs":
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: _visit(sub, definitions, inlined) for name, sub in value.items()}
        elif key in _DATA:
            out[key] = copy.deepcopy(value)
        else:
            out[key] = _visit(value, definitions, inlined)
    return _nullable(_untyped_enum(out))


_JSON_TYPES: dict[str, type | tuple[type, ...]] = {"string": str, "boolean": bool}


def _untyped_enum(node: dict[str, Any]) -> dict[str, Any]:
    """An ``enum`` of strings (or booleans) without the ``type`` its values already have."""
    values, kind = node.get("enum"), node.get("type")
    expected = _JSON_TYPES.get(kind) if isinstance(kind, str) else None
    if not isinstance(values, list) or not values or expected is None:
        return node
    if not all(isinstance(value, expected) for value in values):
        return node
    return {key: value for key, value in node.items() if key != "type"}


def _nullable(node: dict[str, Any]) -> dict[str, Any]:
    """``{"anyOf": [S, {"type": "null"}], ...}`` as S with ``"type": [T, "null"]``."""
    options = node.get("anyOf")
    if not isinstance(options, list) or len(options) != 2 or _NULL not in options:
        return node
    (other,) = [option for option in options if option != _NULL]
    kind = other.get("type") if isinstance(other, dict) else None
    if not isinstance(kind, str) or _APPLY_TO_NULL & set(other):
        return node
    rest = {key: value for key, value in node.items() if key != "anyOf"}
    if set(rest) & set(other):
        return node  # the two would have to be merged keyword by keyword: leave them
    return {**rest, **other, "type": [kind, "null"]}
