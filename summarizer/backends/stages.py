"""Staged prompts: one small response model per stage, merged into one CaseReport.

``staged`` prompts (built for small and local models) ask one short question per field
group; every stage repeats the same system + abstract prefix, so llama.cpp (in process
or served) evaluates the abstract once and reuses it from its KV cache. Each stage has
its own pydantic model, built from CaseReport's own field definitions (annotations,
descriptions, defaults and field validators); the answers are merged into one
CaseReport (``merge``).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
)

from ..errors import ExtractionError
from ..schema import CaseReport


@lru_cache(maxsize=64)
def stage_model(fields: tuple[str, ...], name: str = "") -> type[BaseModel]:
    """A pydantic model holding ``fields`` of CaseReport, as CaseReport defines them."""
    known = CaseReport.model_fields
    unknown = [field for field in fields if field not in known]
    if unknown:
        raise ValueError(f"not CaseReport fields: {', '.join(unknown)}")
    definitions: dict[str, Any] = {
        field: (known[field].annotation, known[field]) for field in fields
    }
    validators: dict[str, Any] = {}
    for attribute, decorator in CaseReport.__pydantic_decorators__.field_validators.items():
        covered = tuple(field for field in decorator.info.fields if field in fields)
        if covered:
            validators[attribute] = field_validator(*covered, mode=decorator.info.mode)(
                _delegate(decorator.func)
            )
    title = "".join(part.capitalize() for part in (name or "_".join(fields)).split("_"))
    model = create_model(
        f"CaseReport{title}",
        __config__=ConfigDict(**CaseReport.model_config),
        __doc__=f"Part of a case record: {', '.join(fields)}.",
        __validators__=validators,
        **definitions,
    )
    return cast(type[BaseModel], model)


def _delegate(validator: Any) -> Any:
    """CaseReport's validator for the stage model (with the validation info when it asks)."""
    takes_info = len(inspect.signature(validator).parameters) > 1

    def check(cls: type[BaseModel], value: Any, info: ValidationInfo) -> Any:
        return validator(value, info) if takes_info else validator(value)

    return classmethod(check)


def merge(parts: Iterable[BaseModel]) -> CaseReport:
    """One CaseReport from the stage answers (validated again as a whole, without the
    grounding context: each quote was checked, or relaxed, in its own stage)."""
    merged: dict[str, Any] = {}
    for part in parts:
        merged.update(part.model_dump(mode="json", exclude_unset=False))
    try:
        return CaseReport.model_validate(merged)
    except ValidationError as error:
        raise ExtractionError(f"stage answers do not merge into a case record: {error}") from error
