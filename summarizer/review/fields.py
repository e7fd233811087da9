"""Which widget edits each field of the case record, derived from the pydantic schema.

The review page edits every top-level field of ``CaseReport``; each gets a widget tree
built from the field's type, so a schema change shows up on the page without a
template change: enums become choices, ``list[str]`` a list of lines, a list of items a
list of item forms (add, remove, reorder), ``X | None`` a "reported" toggle, and an
``evidence`` quote a quote box set from a selection in the abstract. The patient's age
is one widget: the age as written, and a number with its unit.
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from ..ages import AGE_PATTERN, number_value
from ..schema import FIELD_LABELS, CaseReport, Patient

__all__ = ["AGE_UNITS", "FIELD_NAMES", "WIDGETS", "Widget", "age_display", "field_label"]

Shape = Literal[
    "text", "textarea", "int", "number", "bool", "enum", "strlist", "evidence", "age",
    "object", "objlist", "optobject",
]  # fmt: skip

AGE_UNITS: dict[str, float] = {
    "years": 1.0,
    "months": 1 / 12,
    "weeks": 7 / 365.25,
    "days": 1 / 365.25,
}
"""Units the age widget offers, in years (the factors of ``summarizer.ages``)."""

_LONG_TEXT = {"title", "summary", "text", "result", "detail", "description", "final"}


def field_label(name: str) -> str:
    """The clinical name of a field (the schema's), else its name in words."""
    return FIELD_LABELS.get(name, name.replace("_", " ").capitalize())


@dataclass(frozen=True, slots=True)
class Widget:
    """One editable value: its key in the parent object, its shape and its children."""

    key: str
    shape: Shape
    label: str
    nullable: bool = False
    options: tuple[str, ...] = ()
    children: tuple[Widget, ...] = ()
    """The fields of an object (for ``objlist`` and ``optobject``: of one item)."""
    help: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(type, nullable) for ``X | None``."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _widget(key: str, annotation: Any, info: FieldInfo | None) -> Widget:
    kind, nullable = _unwrap(annotation)
    label = field_label(key)
    help_text = (info.description or "") if info else ""
    if key == "evidence":
        return Widget(key, "evidence", "Evidence", nullable=nullable, help=help_text)
    origin = typing.get_origin(kind)
    if origin is typing.Annotated:
        kind = typing.get_args(kind)[0]
        origin = typing.get_origin(kind)
    if origin is list:
        (item,) = typing.get_args(kind)
        if isinstance(item, type) and issubclass(item, BaseModel):
            return Widget(key, "objlist", label, children=_children(item), help=help_text)
        return Widget(key, "strlist", label, help=help_text)
    if isinstance(kind, type) and issubclass(kind, Enum):
        options = tuple(str(member.value) for member in kind)
        return Widget(key, "enum", label, nullable=nullable, options=options, help=help_text)
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        shape: Shape = "optobject" if nullable else "object"
        return Widget(
            key, shape, label, nullable=nullable, children=_children(kind), help=help_text
        )
    if kind is bool:
        return Widget(key, "bool", label, help=help_text)
    if kind is int:
        return Widget(key, "int", label, nullable=nullable, help=help_text)
    if kind is float:
        return Widget(key, "number", label, nullable=nullable, help=help_text)
    if kind is str:
        shape = "textarea" if key in _LONG_TEXT else "text"
        return Widget(key, shape, label, nullable=nullable, help=help_text)
    raise TypeError(f"no review widget for {key}: {annotation!r}")  # pragma: no cover


def _children(model: type[BaseModel]) -> tuple[Widget, ...]:
    if model is Patient:
        return _patient_children()
    children = [_widget(name, info.annotation, info) for name, info in model.model_fields.items()]
    # the quote goes last in every item, after the values it supports
    return tuple(sorted(children, key=lambda child: child.shape == "evidence"))


def _patient_children() -> tuple[Widget, ...]:
    fields = Patient.model_fields
    age = Widget(
        "age",
        "age",
        "Age",
        nullable=True,
        options=tuple(AGE_UNITS),
        help="The age as written in the abstract, and as a number with its unit.",
    )
    rest = [
        _widget(name, info.annotation, info)
        for name, info in fields.items()
        if name not in ("age_text", "age_years")
    ]
    return (age, *sorted(rest, key=lambda child: child.shape == "evidence"))


WIDGETS: dict[str, Widget] = {
    name: _widget(name, info.annotation, info) for name, info in CaseReport.model_fields.items()
}
"""The widget of each top-level field of CaseReport, in schema order."""

FIELD_NAMES: tuple[str, ...] = tuple(WIDGETS)


_UNIT_BY_LETTER = {"y": "years", "m": "months", "w": "weeks", "d": "days"}


def age_display(age_text: str | None, age_years: float | None) -> tuple[float | None, str]:
    """The number and unit to show for an age: the unit it was written in when it parses
    ("six-day-old" → 6 days), else years."""
    if age_text:
        match = AGE_PATTERN.search(age_text)
        if match:
            value = number_value(match["num"])
            unit = _UNIT_BY_LETTER.get(match["unit"][0].lower())
            if value is not None and unit is not None:
                if re.search(r"and[- ]a[- ]half", match.group(0), re.IGNORECASE):
                    value += 0.5
                return value, unit
    if age_years is None:
        return None, "years"
    return age_years, "years"
