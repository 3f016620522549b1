"""Plain-dict validators generated from the semantic models, for batches on the hot path.

A pydantic model validates a dict by building an instance (and one per nested model), and dumps
it back into a dict: most of the cost of a translated event. ``plain_adapter(Model)`` derives from
the model's own fields a ``TypedDict`` (nested models become nested ``TypedDict``s), with the same
constraints, the same ``extra`` rule and the model's after-validators (the identity rule), and
validates a whole list of events in one call, dict in, dict out, with no instance at all.

It is generated, never written by hand, so the models stay the single source of truth, and it is
never looser than the model: a field the model lets be None is left out instead (None is refused),
and a model it cannot mirror exactly (a default other than None, a field or before/wrap validator)
gets no plain adapter at all (``None``): its events go through the model. Whatever the plain
adapter refuses goes through the model too (``_translation.EventBatch``), so the model has the last
word on every event. tests/unit/test_plain_validation.py holds the two paths equal: the same output
for every sample of every source, and the same verdict on events broken on purpose.
"""

from __future__ import annotations

import functools
import types
import typing
from typing import Annotated, Any, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, TypeAdapter, with_config
from typing_extensions import NotRequired, TypedDict

from .base import SemanticEvent, identity_problem

_ONE_IDENTITY = SemanticEvent.__pydantic_decorators__.model_validators["_one_identity"].func


class Unsupported(TypeError):
    """The model has a feature the plain mirror cannot reproduce exactly."""


@functools.cache
def plain_adapter(model: type[SemanticEvent]) -> TypeAdapter[list[dict[str, Any]]] | None:
    """``TypeAdapter(list[<model as a TypedDict>])``, or None when the model cannot be mirrored."""
    try:
        return TypeAdapter(list[_plain_model(model)])  # type: ignore[misc]
    except Unsupported:
        return None


@functools.cache
def _plain_model(model: type[BaseModel]) -> Any:
    decorators = model.__pydantic_decorators__
    if decorators.field_validators or decorators.field_serializers or decorators.model_serializers or decorators.computed_fields:
        raise Unsupported(f"{model.__name__} has field validators or serializers")
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if info.alias not in (None, name) or info.validation_alias is not None or info.default_factory is not None:
            raise Unsupported(f"{model.__name__}.{name} has an alias or a default factory")
        annotation = _plain_annotation(info.annotation)
        if info.metadata:
            annotation = Annotated[(annotation, *info.metadata)]  # type: ignore[valid-type]
        if info.is_required():
            fields[name] = annotation
        elif info.default is None:
            fields[name] = NotRequired[_without_none(annotation)]  # left out, never None: see the docstring
        else:
            raise Unsupported(f"{model.__name__}.{name} has a default other than None")
    extra = model.model_config.get("extra") or "ignore"
    plain: Any = with_config(ConfigDict(extra=extra))(TypedDict(f"{model.__name__}Plain", fields))  # type: ignore[operator]
    after = []
    for decorator in decorators.model_validators.values():
        if decorator.info.mode != "after":
            raise Unsupported(f"{model.__name__} has a {decorator.info.mode} model validator")
        if decorator.func is _ONE_IDENTITY:  # the identity rule: the same function, without a view
            after.append(AfterValidator(functools.partial(_identity, model.identity, model.name)))  # type: ignore[attr-defined]
        else:
            after.append(AfterValidator(functools.partial(_after, decorator.func, _view_class(model))))
    return Annotated[(plain, *after)] if after else plain


def _plain_annotation(annotation: Any) -> Any:
    """``annotation`` with every model in it replaced by its plain mirror."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _plain_model(annotation)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        return Annotated[(_plain_annotation(args[0]), *annotation.__metadata__)]
    if origin in (Union, types.UnionType):
        return Union[tuple(_plain_annotation(arg) for arg in args)]
    if origin in (list, dict) and any(isinstance(arg, type) and issubclass(arg, BaseModel) for arg in args):
        return origin[tuple(_plain_annotation(arg) for arg in args)]
    return annotation


def _without_none(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (Union, types.UnionType):
        kept = tuple(arg for arg in typing.get_args(annotation) if arg is not type(None))
        return kept[0] if len(kept) == 1 else Union[kept]
    return annotation


@functools.cache
def _view_class(model: type[BaseModel]) -> type:
    """What a model validator sees as ``self``: the model's class attributes (``name``,
    ``identity``), the validated dict's fields, None for a field left out."""

    def __getattr__(view: Any, name: str) -> Any:
        if name in model.model_fields:
            return view.fields.get(name)
        raise AttributeError(name)

    namespace = {name: getattr(model, name) for name in model.__class_vars__}
    return type(f"{model.__name__}View", (), {**namespace, "__slots__": ("fields",), "__getattr__": __getattr__})


def _after(validate: Any, view_class: type, fields: dict[str, Any]) -> dict[str, Any]:
    view = view_class.__new__(view_class)
    view.fields = fields
    validate(view)
    return fields


def _identity(rule: Any, name: str, fields: dict[str, Any]) -> dict[str, Any]:
    if (problem := identity_problem(rule, name, "userId" in fields, "anonymousId" in fields)) is not None:
        raise ValueError(problem)
    return fields


class ValidatedEvent:
    """One event a plain adapter validated: its Customer.io body, ready to send.

    Stands where a model instance would in ``Translation.events``: ``name`` and ``to_cio()`` are
    read without building anything; any other attribute (``messageId``, ``properties``...) builds
    the model instance from the body on demand (what the model would have built: the tests hold
    them equal)."""

    __slots__ = ("model", "body")

    def __init__(self, model: type[SemanticEvent], body: dict[str, Any]) -> None:
        self.model = model
        self.body = body

    @property
    def name(self) -> str:
        return self.model.name

    def to_cio(self) -> dict[str, Any]:
        """A fresh dict each time, like ``SemanticEvent.to_cio``."""
        return dict(self.body)

    def event(self) -> SemanticEvent:
        """The model instance of this event."""
        return self.model.model_validate({key: value for key, value in self.body.items() if key not in ("type", "event")})

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.event(), attribute)

    def __repr__(self) -> str:
        return f"ValidatedEvent({self.model.__name__})"
