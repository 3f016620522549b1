"""Plain-dict validators generated from the semantic models, for batches on the hot path.

A pydantic model validates a dict by building an instance (and one per nested model), and dumps
it back into a dict: most of the cost of a translated event. ``plain_adapter(Model)`` derives from
the model's own fields a ``TypedDict`` (nested models become nested ``TypedDict``s), with the same
constraints, the same ``extra`` rule and the model's after-validators, and validates a whole
list of events in one call (strict mode), dict in, dict out, no instance at all; the identity rule
every event model has is then asked of the whole list at C speed (``PlainAdapter``).
``bodies`` turns its output into Customer.io bodies: what ``to_cio`` would dump, without a dump.

It is generated, never written by hand, so the models stay the single source of truth, and it is
never looser than the model, only stricter where that makes its output JSON as it stands (so it
needs no dump): a field the model lets be None is left out instead (None is refused); a value the
model takes as ``Any`` (extra fields, ``integrations``) must be plain JSON (no None at the top of
an object, which the model's ``exclude_none`` dump would leave out; no NaN or infinity; no tuple,
set or datetime); the only datetime is the event's ``timestamp``, formatted by pydantic's own
serialiser. A model it cannot mirror exactly (a default other than None, a field or before/wrap
validator, a datetime elsewhere) gets no plain adapter at all (``None``): its events go through
the model. Whatever the plain adapter refuses goes through the model too
(``_translation.EventBatch``), so the model has the last word on every event.
tests/unit/test_plain_validation.py holds the two paths equal: the same bodies for every sample of
every source, key order included, and the same verdict on events broken on purpose.
"""

from __future__ import annotations

import functools
import types
import typing
from collections import deque
from datetime import datetime
from itertools import product, repeat
from typing import Annotated, Any, ClassVar, Union

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, with_config
from typing_extensions import NotRequired, TypeAliasType, TypedDict

from .base import SemanticEvent, identity_problem

_ONE_IDENTITY = SemanticEvent.__pydantic_decorators__.model_validators["_one_identity"].func


FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
# JSON as json.loads gives it, without NaN or infinity (which a JSON dump would turn into null).
PlainJson = TypeAliasType("PlainJson", "Union[str, bool, int, FiniteFloat, list[PlainJson], dict[str, PlainJson], None]")  # type: ignore[misc]
# What the plain mirror takes where the model takes anything: JSON, not None (the model's dump
# leaves a None extra field out; the plain output keeps what it validated, so it refuses None).
PlainValue = Union[str, bool, int, FiniteFloat, list[PlainJson], dict[str, PlainJson]]


class Unsupported(TypeError):
    """The model has a feature the plain mirror cannot reproduce exactly."""


class PlainAdapter:
    """``validate_python(events)``: a list of events validated as ``TypeAdapter(list[<model as a
    TypedDict>])`` would (strict), then the model's identity rule asked of the whole list at once.

    The identity rule is the one after-validator every event model has. Inside the adapter it
    would be a Python call per event; here it is two lookups per event at C speed (``map``), and
    only a refused list asks ``identity_problem`` for its words. Raises ``ValidationError`` for
    anything the model would refuse, and sometimes for more (see the module docstring)."""

    __slots__ = ("accepted", "adapter", "model")

    def __init__(self, model: type[SemanticEvent]) -> None:
        self.model = model
        self.adapter: TypeAdapter[list[dict[str, Any]]] = TypeAdapter(list[_plain_model(model, top=True)], config=ConfigDict(strict=True))  # type: ignore[misc]
        self.accepted = _accepted_identities(model.identity, model.name)  # type: ignore[attr-defined]

    def validate_python(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        validated = self.adapter.validate_python(events)
        pairs = set(zip(map(dict.__contains__, validated, repeat("userId")), map(dict.__contains__, validated, repeat("anonymousId"))))
        if pairs <= self.accepted:
            return validated
        raise self._identity_error(validated)

    def _identity_error(self, validated: list[dict[str, Any]]) -> ValidationError:
        for index, fields in enumerate(validated):
            if (problem := identity_problem(self.model.identity, self.model.name, "userId" in fields, "anonymousId" in fields)) is not None:  # type: ignore[attr-defined]
                break
        return ValidationError.from_exception_data(
            f"{self.model.__name__}Plain",
            [{"type": "value_error", "loc": (index,), "input": None, "ctx": {"error": ValueError(problem)}}],
        )


@functools.cache
def plain_adapter(model: type[SemanticEvent]) -> PlainAdapter | None:
    """The plain mirror of ``model`` for lists of events, or None when the model cannot be mirrored."""
    try:
        return PlainAdapter(model)
    except Unsupported:
        return None


def _accepted_identities(rule: Any, name: str) -> frozenset[tuple[bool, bool]]:
    """The pairs (has userId, has anonymousId) that ``identity_problem`` accepts under ``rule``."""
    return frozenset(pair for pair in product((False, True), repeat=2) if identity_problem(rule, name, *pair) is None)


@functools.cache
def _plain_model(model: type[BaseModel], top: bool = False) -> Any:
    decorators = model.__pydantic_decorators__
    if decorators.field_validators or decorators.field_serializers or decorators.model_serializers or decorators.computed_fields:
        raise Unsupported(f"{model.__name__} has field validators or serializers")
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if info.alias not in (None, name) or info.validation_alias is not None or info.default_factory is not None:
            raise Unsupported(f"{model.__name__}.{name} has an alias or a default factory")
        annotation = _plain_annotation(info.annotation, datetime_ok=name == "timestamp" and issubclass(model, SemanticEvent))
        if info.metadata:
            annotation = Annotated[(annotation, *info.metadata)]  # type: ignore[valid-type]
        if info.is_required():
            fields[name] = annotation
        elif info.default is None:
            fields[name] = NotRequired[_without_none(annotation)]  # left out, never None: see the docstring
        else:
            raise Unsupported(f"{model.__name__}.{name} has a default other than None")
    extra = model.model_config.get("extra") or "ignore"
    closing: dict[str, Any] = {"extra_items": PlainValue} if extra == "allow" else {}
    plain: Any = with_config(ConfigDict(extra=extra))(TypedDict(f"{model.__name__}Plain", fields, **closing))  # type: ignore[operator]
    after = []
    for decorator in decorators.model_validators.values():
        if decorator.info.mode != "after":
            raise Unsupported(f"{model.__name__} has a {decorator.info.mode} model validator")
        if decorator.func is not _ONE_IDENTITY:
            after.append(AfterValidator(functools.partial(_after, decorator.func, _view_class(model))))
        elif not top:  # the identity rule belongs to an event, never to a part of one
            raise Unsupported(f"{model.__name__} is an event inside an event")
        # else: PlainAdapter asks the identity rule of the whole list
    return Annotated[(plain, *after)] if after else plain


def _plain_annotation(annotation: Any, datetime_ok: bool = False) -> Any:
    """``annotation`` with every model in it replaced by its plain mirror, ``Any`` by plain JSON."""
    if annotation is Any:
        return PlainValue
    if annotation is float:
        return FiniteFloat
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _plain_model(annotation)
    if annotation is AwareDatetime or (isinstance(annotation, type) and issubclass(annotation, datetime)):
        if not datetime_ok:
            raise Unsupported("a datetime other than the event's timestamp")
        return annotation
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        return Annotated[(_plain_annotation(args[0], datetime_ok), *annotation.__metadata__)]
    if origin in (Union, types.UnionType):
        return Union[tuple(_plain_annotation(arg, datetime_ok) for arg in args)]
    if origin in (list, dict):
        return origin[tuple(_plain_annotation(arg) for arg in args)]
    if origin is typing.Literal or annotation in (str, int, bool, type(None)):
        return annotation
    raise Unsupported(f"no plain mirror for {annotation!r}")


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


_TIMESTAMPS: TypeAdapter[list[datetime]] = TypeAdapter(list[datetime])


def bodies(model: type[SemanticEvent], validated: list[dict[str, Any]]) -> list[ValidatedEvent]:
    """Customer.io bodies of events ``plain_adapter(model)`` validated: ``type`` and ``event`` first,
    then the validated fields as they are (plain JSON already, in the model's field order), the
    ``timestamp`` in pydantic's JSON format (one serialiser call for the batch). Built with ``map``
    over C methods: no Python step per event."""
    count = len(validated)
    out = list(map(ValidatedEvent.of(model), repeat({"type": "track", "event": model.name}, count)))
    deque(map(dict.update, out, validated), maxlen=0)
    stamps = list(map(dict.get, validated, repeat("timestamp", count)))
    if None in stamps:  # some events have no timestamp: stamp only those that do
        out_stamped = [body for body, stamp in zip(out, stamps) if stamp is not None]
        stamps = [stamp for stamp in stamps if stamp is not None]
    else:
        out_stamped = out
    deque(map(dict.__setitem__, out_stamped, repeat("timestamp", len(stamps)), _TIMESTAMPS.dump_python(stamps, mode="json")), maxlen=0)
    return out


class ValidatedEvent(dict):  # type: ignore[type-arg]
    """One event a plain adapter validated: it is its Customer.io body (a dict), ready to send.

    Stands where a model instance would in ``Translation.events``: ``name`` and ``to_cio()`` are
    read without building anything; any other attribute (``messageId``, ``properties``...) builds
    the model instance from the body on demand (what the model would have built: the tests hold
    them equal). One subclass per model (``of``), so building one is a plain dict copy."""

    __slots__ = ()
    model: ClassVar[type[SemanticEvent]]

    @staticmethod
    @functools.cache
    def of(model: type[SemanticEvent]) -> type[ValidatedEvent]:
        return type(f"Validated{model.__name__}", (ValidatedEvent,), {"__slots__": (), "model": model})

    @property
    def name(self) -> str:
        return self.model.name

    # A fresh plain dict each time, like ``SemanticEvent.to_cio`` (``dict.copy`` of a subclass
    # gives a plain dict, and as a C method it costs no Python call).
    to_cio = dict.copy

    def event(self) -> SemanticEvent:
        """The model instance of this event."""
        return self.model.model_validate({key: value for key, value in self.items() if key not in ("type", "event")})

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):  # copy, pickle and friends probing for hooks
            raise AttributeError(attribute)
        return getattr(self.event(), attribute)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict.__repr__(self)})"
