"""The models' field descriptions come from their attribute docstrings, found by
:mod:`paybill.models.docstrings` (one parse per source file) exactly as pydantic's own finder finds them."""

from __future__ import annotations

from pydantic import BaseModel
from pydantic._internal._docs_extraction import extract_docstrings_from_cls

from paybill.models import docstrings
from paybill.models.base import Metadata, SpecModel
from paybill.models.registry import KINDS, model_for_kind


def _models() -> list[type[BaseModel]]:
    """Every model class of the spec language: subclasses of SpecModel and the models the kinds use."""
    seen: dict[type[BaseModel], None] = {}
    todo: list[type] = [SpecModel, *(model_for_kind(kind) for kind in KINDS)]
    while todo:
        cls = todo.pop()
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)) or cls in seen:
            continue
        seen[cls] = None
        todo += cls.__subclasses__()
        for field in cls.model_fields.values():
            todo += [arg for arg in getattr(field.annotation, "__args__", ()) if isinstance(arg, type)]
            if isinstance(field.annotation, type):
                todo.append(field.annotation)
    return list(seen)


def test_every_model_class_gets_the_docstrings_pydantic_would_find() -> None:
    placed = 0
    for cls in _models():
        found = docstrings.class_docstrings(cls)
        if found is None:  # left to pydantic's finder at class creation (a class made by create_model)
            continue
        placed += 1
        assert found == extract_docstrings_from_cls(cls, use_inspect=True), cls.__qualname__
    assert placed >= 50


def test_the_descriptions_are_on_the_fields() -> None:
    assert Metadata.model_fields["name"].description == \
        "Unique per kind. Lower case letters, digits and single hyphens; starts with a letter; 1-40."


def test_a_class_it_cannot_place_is_left_to_pydantic() -> None:
    class Local(BaseModel):
        size: int
        """not a paybill module's class"""

    assert docstrings.class_docstrings(Local) is None
    assert docstrings.class_docstrings(type("Metadata", (), {"__module__": "paybill.models.nowhere"})) is None
