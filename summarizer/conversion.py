"""Dataclasses to and from the plain values of a JSON line, converted by pydantic.

The parts of a result line (evidence spans, dropped items, sections, provenance) are
plain dataclasses; pydantic writes each as a dict of its fields in declaration order
(through the serializers their annotations name; values otherwise as they are, for
``json.dumps`` to write) and reads one back with its usual coercion and the dataclass
defaults for what an older line lacks. pydantic is imported, and each
converter made, on first use: importing this module costs nothing (``clean`` never
loads pydantic).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from pydantic import TypeAdapter

__all__ = ["dump", "load"]

T = TypeVar("T")


_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(kind: type[Any]) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        from pydantic import TypeAdapter

        adapter = _ADAPTERS[kind] = TypeAdapter(kind)
    return adapter


def dump(value: Any, *, exclude_none: bool = False) -> dict[str, Any]:
    """``value`` (a dataclass) as the plain dict a line holds. A value of another type
    than its field declares is written as it is, without pydantic's warning (a caller's
    own object: the line says what it holds)."""
    return cast(
        "dict[str, Any]",
        _adapter(type(value)).dump_python(value, exclude_none=exclude_none, warnings=False),
    )


def load(kind: type[T], value: Mapping[str, Any]) -> T:
    """A ``kind`` from the plain dict a line holds (pydantic's ``ValidationError`` when it
    is not one)."""
    return cast("T", _adapter(kind).validate_python(value))
