"""Valid example events, built from the models' fields, so the tests follow the models as they change.

Every field gets a value, optional ones too, so that round trips cover them. A field's first ``examples``
entry is used when it has one; ids are derived from the model and field names, so examples are stable.
"""

from __future__ import annotations

import types
import uuid
from datetime import UTC, date, datetime
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from crm_contracts.envelope import EventModel
from pydantic import AwareDatetime, BaseModel, NaiveDatetime
from pydantic.fields import FieldInfo

M = TypeVar("M", bound=BaseModel)

EXAMPLE_NAMESPACE = uuid.UUID("5f0c1c2e-6a53-4a4e-9d1f-0d6b0f6f7a10")
EXAMPLE_MOMENT = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
EXAMPLE_DAY = date(2026, 3, 20)


def _example_value(annotation: Any, field: FieldInfo | None, where: str) -> Any:
    origin = get_origin(annotation)
    if origin is Literal:
        return get_args(annotation)[0]
    if origin in (Union, types.UnionType):
        present = [arg for arg in get_args(annotation) if arg is not type(None)]
        return _example_value(present[0], field, where)
    if origin is list:
        return [_example_value(get_args(annotation)[0], None, where)]
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return example_values(annotation, prefix=where)
        if issubclass(annotation, bool):
            return True
        if issubclass(annotation, int):
            minimums = [
                getattr(m, "ge", None) or getattr(m, "gt", None) for m in (field.metadata if field else [])
            ]
            return max([1, *(m for m in minimums if m is not None)])
        if issubclass(annotation, uuid.UUID):
            return uuid.uuid5(EXAMPLE_NAMESPACE, where)
        if annotation in (datetime, AwareDatetime, NaiveDatetime):
            return EXAMPLE_MOMENT
        if issubclass(annotation, date):
            return EXAMPLE_DAY
        if issubclass(annotation, str):
            if field is not None and field.examples:
                return field.examples[0]
            if where.endswith("email"):
                return "juana.perez@edesal.example"
            return f"example {where}"
    raise NotImplementedError(
        f"no example value for {annotation!r} ({where}): extend tests/contracts/examples.py"
    )


def example_values(model: type[BaseModel], prefix: str = "") -> dict[str, Any]:
    """A valid value for every field of ``model`` (as Python objects, not yet validated)."""
    base = prefix or model.__name__
    return {
        name: _example_value(field.annotation, field, f"{base}.{name}")
        for name, field in model.model_fields.items()
    }


def example_event(model: type[M], **overrides: Any) -> M:
    """A validated instance of ``model`` with every field set; ``overrides`` replace some values."""
    return model.model_validate({**example_values(model), **overrides})


def required_fields(model: type[EventModel]) -> list[str]:
    return [name for name, field in model.model_fields.items() if field.is_required()]
