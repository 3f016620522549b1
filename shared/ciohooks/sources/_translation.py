"""What every source's ``translate`` shares: reading the body, building semantic events the fast
way, and saying why one could not be built, never with a value.

- ``load_json`` / ``event_objects``: the body parsed once; ``InvalidPayload`` naming the problem
  (the error class, the index of the bad item), never the text. ``query_dict``: a query string
  (GET callbacks) the way ``WebhookRequest.query`` reads it, in half the time.
- ``build`` / ``email_event``: translation runs on every webhook and again on replay, so each
  event is built with ONE ``Model.model_validate`` call on plain nested dicts: pydantic validates
  the whole tree in one pass, where building ``Context(...)``, ``Traits(...)`` and properties
  instances first costs about half as much again (docs/ADDING-A-SOURCE.md, "Fast enough by
  construction"). The output is the same: the models drop what is None when they serialise
  (``to_cio``), and the dicts here leave it out anyway, so a field the provider did not send stays
  absent.
- ``EventBatch``: the same, for the events of a whole request at once: one call per event type
  validates them all with the plain adapter generated from the model (``semantic/plain.py``),
  whose output is the Customer.io body as it stands; anything it refuses is built by the model itself, one by one, so a bad item is
  recorded under its own name exactly as ``build`` would record it.
- ``text_or_none`` / ``object_or_empty``: reading optional payload fields.
- ``timestamp_of`` / ``optional_timestamp``: ``timestamps.parse_timestamp`` with the field named
  in the error.
- ``describe``: a pydantic error as field paths and error kinds (pydantic's own messages quote the
  offending input).
"""

from __future__ import annotations

import json
from datetime import datetime
from itertools import repeat
from operator import itemgetter
from typing import Any, Callable, Iterator, Mapping, TypeVar
from urllib.parse import unquote

from pydantic import ValidationError

from ..request import UnreadableJson, loads_json
from ..semantic import SemanticEvent
from ..semantic.plain import ValidatedEvent, bodies, plain_adapter
from ..timestamps import BadTimestamp, parse_timestamp
from .base import InvalidPayload, Translation

Event = TypeVar("Event", bound=SemanticEvent)


def load_json(body: bytes, parse_int: Callable[[str], Any] | None = None) -> Any:
    """The body as JSON (``parse_int=str`` keeps big integer ids exact); else ``InvalidPayload``.
    Bounded (``request.loads_json``): a body nested deeper than any webhook is refused unparsed."""
    try:
        return loads_json(body, parse_int=parse_int)
    except UnreadableJson as error:
        raise InvalidPayload(f"body is not JSON we read ({error.msg})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidPayload(f"body is not JSON ({error.__class__.__name__})") from None


def query_dict(raw_query: str) -> dict[str, str]:
    """``dict(parse_qsl(raw_query, keep_blank_values=True))`` (a repeated key keeps its last value),
    without its per-pair function calls: ``unquote`` runs only where there is a ``%`` to decode,
    which is exactly when ``unquote`` would change anything."""
    found: dict[str, str] = {}
    for pair in raw_query.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        name, value = name.replace("+", " "), value.replace("+", " ")
        found[unquote(name) if "%" in name else name] = unquote(value) if "%" in value else value
    return found


def event_objects(body: bytes, *, single: bool) -> list[dict[str, Any]]:
    """A JSON array of event objects, each with a non-empty string ``event`` (the type), as a list.

    ``single``: anything but an array is taken as one event (providers that batch only when asked
    to), so a lone non-object is "event 0 is a JSON str".
    """
    parsed = load_json(body)
    if single and not isinstance(parsed, list):
        parsed = [parsed]
    if not isinstance(parsed, list):
        raise InvalidPayload(f"body is a JSON {type(parsed).__name__}, not an array of events")
    # The common case checked at C speed (map, set); the loop below names the first bad item.
    if set(map(type, parsed)) <= _DICT:
        kinds = list(map(dict.get, parsed, repeat("event", len(parsed))))
        if set(map(type, kinds)) <= _STR and "" not in kinds:
            return parsed
    for index, item in enumerate(parsed):
        if not isinstance(item, dict):
            raise InvalidPayload(f"event {index} is a JSON {type(item).__name__}, not an object")
        if not isinstance(item.get("event"), str) or not item["event"]:
            raise InvalidPayload(f"event {index} has no event type")
    return parsed


_DICT, _STR = frozenset({dict}), frozenset({str})


def not_mapped(translation: Translation, kind: str, ignored_types: Mapping[str, str], times: int = 1) -> None:
    """Count an event type the source does not map (``times`` events of it): ``ignored`` when it is
    one of the source's ``ignored_types`` (deliberately not sent), else ``unknown`` (kept: the
    request goes to the DLQ so a later version can replay it)."""
    if kind in ignored_types:
        translation.ignored[kind] += times
    else:
        translation.unknown[kind[:64]] += times


def text_or_none(value: Any) -> str | None:
    """``value`` when it is a non-empty string, else None (a field sent empty counts as not sent)."""
    return value if isinstance(value, str) and value else None


def object_or_empty(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else ``{}`` (so nested reads need no type checks)."""
    return value if isinstance(value, dict) else {}


def timestamp_of(value: Any, where: str) -> datetime:
    """``parse_timestamp(value)``, or ``InvalidPayload`` "<where>: <why>" (``where`` names the field)."""
    try:
        return parse_timestamp(value)
    except BadTimestamp as error:
        raise InvalidPayload(f"{where}: {error}") from None


def optional_timestamp(value: Any, where: str) -> datetime | None:
    """``timestamp_of`` for a field that may be left out: None when it was not sent."""
    return None if value is None else timestamp_of(value, where)


def setting_keys(settings: Any, name: str, default: str) -> tuple[str, ...]:
    """The comma-separated keys of setting ``name`` (e.g. SENDGRID_SUBJECT_KEYS), else ``(default,)``.
    Read once per request, not per event."""
    configured = settings.get_list(name)
    return (default,) if configured is None else tuple(configured)


def describe(error: ValidationError) -> str:
    """Field paths and error kinds only: pydantic's own messages quote the offending values."""
    problems = dict.fromkeys(f"{'.'.join(str(p) for p in e['loc']) or 'event'} ({e['type']})" for e in error.errors())
    return "invalid " + ", ".join(problems)


def build(model: type[Event], fields: dict[str, Any], where: str, describe_error: Callable[[ValidationError], str] = describe) -> Event:
    """``model`` validated from ``fields`` in one pass; ``InvalidPayload`` saying where and what
    (``describe_error`` words the model's verdict: field paths by default)."""
    try:
        return model.model_validate(fields)
    except ValidationError as error:
        raise InvalidPayload(f"{where}: {describe_error(error)}") from None


def sent(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` without the ones that were not sent (None)."""
    return {key: value for key, value in values.items() if value is not None}


def email_fields(identity: Mapping[str, str], message_id: str, timestamp: Any, properties: Mapping[str, Any], traits: Mapping[str, Any]) -> dict[str, Any]:
    """What ``email_event`` validates: properties and ``context.traits`` as sent (None left out);
    no ``context`` at all when no trait was sent."""
    fields = {**identity, "messageId": message_id, "timestamp": timestamp, "properties": sent(properties)}
    if traits := sent(traits):
        fields["context"] = {"traits": traits}
    return fields


def email_event(
    model: type[Event],
    identity: Mapping[str, str],
    message_id: str,
    timestamp: Any,
    properties: Mapping[str, Any],
    traits: Mapping[str, Any],
    where: str,
) -> Event:
    """An email semantic event: properties and ``context.traits`` (email, ip, user_agent) as sent;
    no ``context`` at all when no trait was sent."""
    return build(model, email_fields(identity, message_id, timestamp, properties, traits), where)


Where = str | tuple[int, str]  # an item's name, or (index, type) to write it from (``item_name``)


_FIELDS = itemgetter(0)  # of an entry (fields, where) of EventBatch.by_model


def item_name(index: int, kind: str) -> str:
    """How a batch names its item ``index`` of type ``kind`` in a reason (the type cut to 64 characters)."""
    return f"event {index} ({kind[:64]})"


class EventBatch:
    """The events of one request, validated together: ``add`` each event's fields (what ``build``
    takes) inside its ``translation.item``, and the batch appends them all to ``translation.events``
    in the order added when the ``with`` block ends.

        with EventBatch(translation) as batch:
            for index, raw in enumerate(items):
                with translation.item(f"event {index}"):
                    batch.add(EmailOpened, fields, f"event {index}")

    Per event type, one plain-adapter call validates every event and gives their bodies
    (``ValidatedEvent``, no dump needed: ``plain.bodies``). When that call refuses anything, the events of that type are built by the
    model one by one (``build``), each inside its own ``translation.item``: the bad ones are
    recorded in ``translation.failed`` with the reason ``build`` gives, the good ones are kept.
    """

    def __init__(self, translation: Translation, describe_error: Callable[[ValidationError], str] = describe) -> None:
        self.translation = translation
        self.describe_error = describe_error  # how a reason words the model's verdict (``build``)
        self.order: list[type[SemanticEvent]] = []  # the model of each event, in the order added
        self.by_model: dict[type[SemanticEvent], list[tuple[dict[str, Any], Where]]] = {}
        self.fell_back = False  # some type went through the model, which may have refused an event

    def add(self, model: type[SemanticEvent], fields: dict[str, Any], where: str) -> None:
        self.order.append(model)
        if (group := self.by_model.get(model)) is None:
            group = self.by_model[model] = []
        group.append((fields, where))

    def add_from(self, model: type[SemanticEvent], where: str, fields_of: Callable[..., dict[str, Any]], *args: Any) -> None:
        """``add(model, fields_of(*args), where)`` inside ``translation.item(where)``, without
        building the context manager (this runs once per event): a failure is recorded the same way."""
        try:
            fields = fields_of(*args)
        except Exception as error:  # noqa: BLE001 - what item() does not record is raised again
            if not self.translation._record_failure(where, error):
                raise
        else:
            self.add(model, fields, where)

    def add_event(self, model: type[SemanticEvent], index: int, kind: str, fields_of: Callable[..., dict[str, Any]], *args: Any) -> None:
        """``add_from`` for the item ``event <index> (<kind>)``, a name written only when it is read
        (a failure, the model's fallback): ``fields_of`` raises without naming the item, and its
        name is put before the reason where the failure is recorded (``_record_failure``)."""
        try:
            fields = fields_of(*args)
        except Exception as error:  # noqa: BLE001 - what item() does not record is raised again
            if not self.translation._record_failure(item_name(index, kind), error):
                raise
        else:
            self.order.append(model)
            if (group := self.by_model.get(model)) is None:
                group = self.by_model[model] = []
            group.append((fields, (index, kind)))

    def __enter__(self) -> EventBatch:
        return self

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        if kind is None:
            self.translation.events.extend(self.validated())

    def validated(self) -> list[SemanticEvent | ValidatedEvent]:
        built: dict[type[SemanticEvent], Iterator[Any]] = {}
        for model, group in self.by_model.items():
            built[model] = iter(self._validated(model, group))
        order, fell_back = self.order, self.fell_back
        self.order, self.by_model, self.fell_back = [], {}, False
        events = list(map(next, map(built.__getitem__, order)))
        return [event for event in events if event is not None] if fell_back else events

    def _validated(self, model: type[SemanticEvent], group: list[tuple[dict[str, Any], Where]]) -> list[Any]:
        """The events of one type, in order (None for one the model refused)."""
        adapter = plain_adapter(model)
        if adapter is not None:
            try:
                return bodies(model, adapter.validate_python(list(map(_FIELDS, group))))
            except ValidationError:
                pass
        self.fell_back = True  # the model may refuse some: validated() leaves those out
        out: list[Any] = []
        for fields, named in group:  # the model decides, one event at a time
            where = named if isinstance(named, str) else item_name(*named)
            out.append(None)
            with self.translation.item(where):
                out[-1] = build(model, fields, where, self.describe_error)
        return out
