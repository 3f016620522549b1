"""The app-backend contract, version 1 -> Customer.io mobile-app and action semantic events.

Some semantic events have no third-party webhook behind them: device tokens, app lifecycle seen
by the team's own backend, deletions and suppressions, in-app and push delivery metrics. A team's
backend (or a Firebase / Supabase function) reports them with ``POST /backend`` on the mobile
Function URL, in this small versioned JSON contract, signed with Standard Webhooks.

- Contract reference: docs/sources/backend.md; published JSON Schema (Draft 2020-12):
  ``ciohooks/schemas/backend-v1.schema.json``; examples: events/samples/mobile/backend/.
- Signature scheme: Standard Webhooks 1.0 (https://www.standardwebhooks.com/,
  github.com/standard-webhooks/standard-webhooks spec/standard-webhooks.md): HMAC-SHA256 of
  ``<webhook-id>.<webhook-timestamp>.<raw body>`` with the ``whsec_`` secret, sent as
  ``webhook-signature: v1,<base64>``. Signers exist for most languages (``standardwebhooks`` on
  PyPI, npm, Go, ...); examples/backend/ has a curl + openssl one and a Python one.
- Target events: the seed specs ``mobile-app-events`` and ``customerio-actions``
  (https://docs.customer.io/integrations/data-in/semantic-events/mobile-app/,
  https://docs.customer.io/integrations/data-in/semantic-events/cio-journeys/).

The body is ``{"version": 1, "events": [...]}``: 1 to 100 events, each with a ``type``, an ``id``
(unique per event, reused when the same event is resent), an RFC 3339 ``timestamp`` and the fields
its type takes. Mapping (contract type -> Customer.io event; identity: U = ``user_id`` required,
A = ``anonymous_id`` required, 1 = exactly one of the two):

    device.registered    U  device{token, platform}          -> Device Created or Updated  (context.device {token, type})
    device.removed       U  device{token, platform?}         -> Device Deleted
    app.installed        1  app{version, build?}?            -> Application Installed      (properties.version, build)
    app.opened           1  app?, from_background?, url?     -> Application Opened
    app.backgrounded     1  app?                             -> Application Backgrounded
    app.foregrounded     1  app?                             -> Application Foregrounded
    app.updated          1  app, previous_app                -> Application Updated        (previous_version, previous_build)
    app.uninstalled      1  app?                             -> Application Uninstalled
    app.crashed          1  app?                             -> Application Crashed
    user.deleted         U                                   -> User Deleted
    user.suppressed      U                                   -> User Suppressed
    user.unsuppressed    U                                   -> User Unsuppressed
    relationship.deleted U  object{id, type_id?}             -> Relationship Deleted       (properties.objectId, objectTypeId)
    object.deleted       A  object{id, type_id?}             -> Object Deleted
    delivery.metric      1  delivery{id, metric, recipient?, reason?, action_value?, href?}
                                                             -> Report Delivery Event      (deliveryId, metric, recipient, reason, actionValue, href)

``app.*`` and ``user.*`` events also take ``properties``: custom properties passed on as sent
(``app.*`` may not use the names the contract types: version, build, previous_version,
previous_build, from_background, url).

Decisions:

- Strict contract, explicit refusals. Unknown types, unknown fields, nulls, wrong types, a bad
  timestamp, duplicate event ids in one request, duplicate JSON keys: the whole request is refused
  with ``400`` and a JSON body listing every problem by JSON Pointer (values are never echoed) plus
  the accepted types and versions. This happens in ``reply_after_accept``: it runs after the
  signature is verified, so only the authenticated backend learns anything, and a backend bug gets
  an immediate answer instead of a ``2xx`` and a silent DLQ entry. Provider webhooks cannot act on
  a ``400``; our own backend can, and its retries would only repeat the bug. ``translate`` applies
  the same validation (it also runs on replay and in the CLI) and raises ``InvalidPayload``; an
  unexpected exception in the 400 check does not answer ``400`` but falls through to the usual
  path, where the request is kept whole in the DLQ.
- Nothing is invented. A field that was not sent stays absent: no ``build``, ``from_background``,
  ``objectTypeId`` (Customer.io assumes 1) or ``type`` of a removed device unless sent.
- Identity is explicit per type (table above), as the specs and ``semantic`` models require:
  device, person and relationship actions need ``user_id``; ``Object Deleted`` needs an
  ``anonymousId`` that Customer.io does not use ("it can be anything"), so the backend sends any
  non-empty value (the docs suggest the deleting job's name); app events take exactly one of the
  two. ``delivery.metric`` also takes exactly one although the spec requires neither: Customer.io's
  own iOS SDK notes "anonymousId or userId is required in the payload for backend processing" and
  sends the delivery id as ``anonymousId`` when it has no user
  (customerio/customerio-ios Sources/DataPipeline/DataPipelineImplementation+BGQ.swift
  @dadec62fbe8c7706c894f7b97b5c967f80f79430). The backend chooses; nothing is filled in here.
- ``messageId`` is ``ids.message_id("mobile/backend", event.id)``. A retried request, a replayed
  DLQ entry or the same ``webhook-id`` posted twice within the window gives the same messageIds, so
  it is one event downstream. No ``webhook-id`` store is kept: deterministic messageIds already
  make a replay harmless.
- Signature: ``_standard_webhooks.py`` verifies (the ``standardwebhooks`` library computes the
  expected signature); the timestamp window (``BACKEND_TOLERANCE_SECONDS``, default 300 s, the
  Standard Webhooks default) is checked there against the time AWS received the request, and each
  ``v1,`` signature is compared with ``hmac.compare_digest``. ``BACKEND_SIGNING_SECRET`` may hold
  several secrets separated by spaces or commas (receiver-side rotation); senders rotate by sending
  two signatures. A secret must be ``whsec_`` + base64 of at least 24 bytes (the spec's minimum),
  else the source is not configured (503). A ``webhook-id`` containing ``.`` is refused, as the spec
  asks. Only the standard's ``webhook-*`` header names are read.
- Loop guard: this endpoint never re-emits Customer.io's own webhooks. A request carrying
  ``x-cio-signature`` / ``x-cio-timestamp`` (Customer.io reporting webhooks and campaign webhook
  actions both send them) or a body shaped like a reporting webhook (``event_id``, ``object_type``,
  ``metric``) is answered ``200`` before authentication with nothing queued, and logged as a
  misconfiguration (the family's one loop-guard policy: ``sources/_customerio_loop.py``).
  Customer.io retries refused webhooks hourly for seven days and holds back later calls of that
  webhook (https://docs.customer.io/api/webhooks/): only the misconfigured webhook stalls, nothing
  is ever queued, and the failure is visible in Customer.io's UI rather than silently swallowed.
- Acknowledgement is ``202 Accepted`` with ``{"accepted": n, "ignored": 0}``: the events are
  queued, not yet delivered.

Settings: ``BACKEND_SIGNING_SECRET`` (secret; AWS: ``/cio-hooks/backend-signing-secret``),
``BACKEND_TOLERANCE_SECONDS`` (300), ``ALLOW_UNSIGNED`` (local only; logged loudly).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from ... import ids
from ...redact import redact
from ...request import WebhookRequest
from ...semantic import SemanticEvent
from ...semantic import actions as cio_actions
from ...semantic import mobile as cio_mobile
from ...timestamps import BadTimestamp, parse_timestamp
from .. import _standard_webhooks as standard_webhooks
from .._customerio_loop import refuse_loop
from ..base import InvalidPayload, Reply, Source, Translation

log = logging.getLogger(__name__)

CONTRACT_VERSION = 1
ACCEPTED_VERSIONS = (1,)
MAX_EVENTS = 100
MAX_PROBLEMS = 20  # listed in one 400 answer: enough to fix a batch, bounded for a broken one
SCHEMA_FILE = "backend-v1.schema.json"
DOCS_PATH = "docs/sources/backend.md"

SECRET = "BACKEND_SIGNING_SECRET"
DEFAULT_TOLERANCE_SECONDS = 300

# RFC 3339 with a zone, years 1900-2099, no leap second: the schema has the same pattern.
TIMESTAMP_PATTERN = (
    r"^(19|20)\d\d-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?"
    r"(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$"
)
_TIMESTAMP = re.compile(TIMESTAMP_PATTERN)
# Names ``app.*`` custom properties may not use: the contract's own fields become these properties.
RESERVED_APP_PROPERTIES = frozenset({"version", "build", "previous_version", "previous_build", "from_background", "url"})


# ---- the contract -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One way a request breaks the contract: where (a JSON Pointer) and what, never with the value."""

    path: str
    message: str


class ContractViolation(InvalidPayload):
    """An authentic request that does not follow the contract. Answered 400 with every problem."""

    def __init__(self, problems: list[Problem], code: str = "invalid_request") -> None:
        self.problems, self.code = problems[:MAX_PROBLEMS], code
        shown = "; ".join(f"{p.path or '/'}: {p.message}" for p in self.problems[:5])
        more = f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"app-backend contract v{CONTRACT_VERSION}: {shown}{more}")

    def body(self) -> dict[str, Any]:
        return {
            "error": self.code,
            "message": f"the request does not follow the app-backend contract (version {CONTRACT_VERSION}); nothing was accepted",
            "problems": [dataclasses.asdict(p) for p in self.problems],
            "accepted_versions": list(ACCEPTED_VERSIONS),
            "accepted_types": sorted(EVENT_TYPES),
            "schema": SCHEMA_FILE,
            "docs": DOCS_PATH,
        }


def _integral_float_as_int(value: Any) -> Any:
    # JSON Schema counts 2.0 as an integer, so the contract does too; it is emitted as 2.
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _timestamp(value: Any) -> datetime:
    if not isinstance(value, str) or not _TIMESTAMP.fullmatch(value):
        raise ValueError("must be an RFC 3339 date-time with a zone, e.g. 2024-01-15T10:30:00Z")
    try:
        return parse_timestamp(value)
    except BadTimestamp:
        raise ValueError("is not a real date and time") from None


def _no_reserved_app_properties(properties: dict[str, Any]) -> dict[str, Any]:
    taken = sorted(RESERVED_APP_PROPERTIES.intersection(properties))
    if taken:
        raise ValueError(f"custom properties may not use the contract's own names: {', '.join(taken)}")
    return properties


Text = Annotated[str, Field(min_length=1)]
Timestamp = Annotated[datetime, BeforeValidator(_timestamp)]
ObjectTypeId = Annotated[int, BeforeValidator(_integral_float_as_int), Field(ge=1)]
Platform = Literal["ios", "android"]
CustomProperties = dict[str, Any]
AppCustomProperties = Annotated[dict[str, Any], AfterValidator(_no_reserved_app_properties)]


class Strict(BaseModel):
    """Every contract object: unknown fields, wrong JSON types and nulls are refused.

    An optional field is left out, never ``null``: the types below say ``| None`` only because an
    absent field defaults to None.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            nulls = sorted(k for k, v in data.items() if v is None and k in cls.model_fields)
            if nulls:
                raise ValueError(f"null is not a value in this contract; leave out {', '.join(nulls)}")
        return data


class AppBuild(Strict):
    version: Text
    build: Text | None = None


class RegisteredDevice(Strict):
    token: Text
    platform: Platform


class RemovedDevice(Strict):
    token: Text
    platform: Platform | None = None


class ObjectReference(Strict):
    id: Text
    type_id: ObjectTypeId | None = None

    def as_properties(self) -> dict[str, Any]:
        """The spec's ObjectReference properties (``objectTypeId`` only when sent)."""
        return {"objectId": self.id, **({} if self.type_id is None else {"objectTypeId": self.type_id})}


class Delivery(Strict):
    id: Text
    metric: Literal["delivered", "opened", "clicked", "converted"]
    recipient: Text | None = None
    reason: Text | None = None
    action_value: Text | None = None
    href: Text | None = None


class BackendEvent(Strict):
    """Fields every event has. Subclasses add their identity and payload and say what they become."""

    type: str
    id: Text
    timestamp: Timestamp

    cio_event: ClassVar[type[SemanticEvent]]

    def identity(self) -> dict[str, str]:
        """``userId`` / ``anonymousId`` as sent (each subclass declares the ones its type takes)."""
        sent = {"userId": getattr(self, "user_id", None), "anonymousId": getattr(self, "anonymous_id", None)}
        return {name: value for name, value in sent.items() if value is not None}

    def payload(self) -> dict[str, Any]:
        """``properties`` and ``context`` of the Customer.io event (nothing that was not sent)."""
        return {}

    def to_cio(self, source: str) -> SemanticEvent:
        # One model_validate on plain dicts: the contract models above already checked every value.
        fields = {**self.identity(), "messageId": ids.message_id(source, self.id), "timestamp": self.timestamp, **self.payload()}
        return self.cio_event.model_validate(fields)


class KnownUser(BackendEvent):
    user_id: Text


class OneIdentity(BackendEvent):
    """Exactly one of ``user_id`` and ``anonymous_id``: the specs' Known/Anonymous ``oneOf``."""

    user_id: Text | None = None
    anonymous_id: Text | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> OneIdentity:
        if (self.user_id is None) == (self.anonymous_id is None):
            raise ValueError("send exactly one of user_id and anonymous_id")
        return self


class DeviceRegistered(KnownUser):
    type: Literal["device.registered"]
    device: RegisteredDevice
    cio_event = cio_actions.DeviceCreatedOrUpdated

    def payload(self) -> dict[str, Any]:
        return {"context": {"device": {"token": self.device.token, "type": self.device.platform}}}


class DeviceRemoved(KnownUser):
    type: Literal["device.removed"]
    device: RemovedDevice
    cio_event = cio_actions.DeviceDeleted

    def payload(self) -> dict[str, Any]:
        device = {"token": self.device.token, **({"type": self.device.platform} if self.device.platform else {})}
        return {"context": {"device": device}}


class AppEvent(OneIdentity):
    app: AppBuild | None = None
    properties: AppCustomProperties | None = None

    def app_properties(self) -> dict[str, Any]:
        """Typed properties of the Customer.io event; the custom ones are added after them."""
        return {"version": self.app.version, "build": self.app.build} if self.app else {}

    def payload(self) -> dict[str, Any]:
        typed = {k: v for k, v in self.app_properties().items() if v is not None}
        properties = {**typed, **(self.properties or {})}
        return {"properties": properties} if properties else {}


class AppInstalled(AppEvent):
    type: Literal["app.installed"]
    cio_event = cio_mobile.ApplicationInstalled


class AppOpened(AppEvent):
    type: Literal["app.opened"]
    from_background: bool | None = None
    url: Text | None = None
    cio_event = cio_mobile.ApplicationOpened

    def app_properties(self) -> dict[str, Any]:
        return {**super().app_properties(), "from_background": self.from_background, "url": self.url}


class AppBackgrounded(AppEvent):
    type: Literal["app.backgrounded"]
    cio_event = cio_mobile.ApplicationBackgrounded


class AppForegrounded(AppEvent):
    type: Literal["app.foregrounded"]
    cio_event = cio_mobile.ApplicationForegrounded


class AppUpdated(AppEvent):
    type: Literal["app.updated"]
    app: AppBuild
    previous_app: AppBuild
    cio_event = cio_mobile.ApplicationUpdated

    def app_properties(self) -> dict[str, Any]:
        previous = {"previous_version": self.previous_app.version, "previous_build": self.previous_app.build}
        return {**super().app_properties(), **previous}


class AppUninstalled(AppEvent):
    type: Literal["app.uninstalled"]
    cio_event = cio_mobile.ApplicationUninstalled


class AppCrashed(AppEvent):
    type: Literal["app.crashed"]
    cio_event = cio_mobile.ApplicationCrashed


class UserEvent(KnownUser):
    properties: CustomProperties | None = None

    def payload(self) -> dict[str, Any]:
        return {"properties": self.properties} if self.properties else {}


class UserDeleted(UserEvent):
    type: Literal["user.deleted"]
    cio_event = cio_actions.UserDeleted


class UserSuppressed(UserEvent):
    type: Literal["user.suppressed"]
    cio_event = cio_actions.UserSuppressed


class UserUnsuppressed(UserEvent):
    type: Literal["user.unsuppressed"]
    cio_event = cio_actions.UserUnsuppressed


class RelationshipDeleted(KnownUser):
    type: Literal["relationship.deleted"]
    object: ObjectReference
    cio_event = cio_actions.RelationshipDeleted

    def payload(self) -> dict[str, Any]:
        return {"properties": self.object.as_properties()}


class ObjectDeleted(BackendEvent):
    type: Literal["object.deleted"]
    anonymous_id: Text  # Customer.io requires one and ignores it: any non-empty value
    object: ObjectReference
    cio_event = cio_actions.ObjectDeleted

    def payload(self) -> dict[str, Any]:
        return {"properties": self.object.as_properties()}


class DeliveryMetric(OneIdentity):
    type: Literal["delivery.metric"]
    delivery: Delivery
    cio_event = cio_actions.ReportDeliveryEvent

    def payload(self) -> dict[str, Any]:
        d = self.delivery
        report = {"recipient": d.recipient, "reason": d.reason, "actionValue": d.action_value, "href": d.href}
        return {"properties": {"deliveryId": d.id, "metric": d.metric, **{k: v for k, v in report.items() if v is not None}}}


EVENT_TYPES: dict[str, type[BackendEvent]] = {
    get_args(model.model_fields["type"].annotation)[0]: model
    for model in (
        DeviceRegistered, DeviceRemoved,
        AppInstalled, AppOpened, AppBackgrounded, AppForegrounded, AppUpdated, AppUninstalled, AppCrashed,
        UserDeleted, UserSuppressed, UserUnsuppressed,
        RelationshipDeleted, ObjectDeleted,
        DeliveryMetric,
    )
}  # fmt: skip
"""Contract type (``"app.opened"``) -> its model."""


def parse_contract(body: bytes) -> list[BackendEvent]:
    """The events of a contract request, or ``ContractViolation`` listing every problem found."""
    document = _load_json(body)
    if not isinstance(document, dict):
        raise ContractViolation([Problem("", "the body must be a JSON object {\"version\": 1, \"events\": [...]}")])
    version = document.get("version")
    if "version" not in document:
        raise ContractViolation([Problem("/version", "required: the contract version, 1")], "unsupported_version")
    if isinstance(version, bool) or not isinstance(version, int | float) or version not in ACCEPTED_VERSIONS:
        raise ContractViolation([Problem("/version", "is not a version this endpoint takes (see accepted_versions)")], "unsupported_version")

    problems = [Problem(f"/{_escape(key)}", "is not a field of the request") for key in document if key not in ("version", "events")]
    events = document.get("events")
    if "events" not in document:
        problems.append(Problem("/events", "required: an array of 1 to 100 events"))
    elif not isinstance(events, list):
        problems.append(Problem("/events", "must be an array of 1 to 100 events"))
    elif not 1 <= len(events) <= MAX_EVENTS:
        problems.append(Problem("/events", f"must hold 1 to {MAX_EVENTS} events (split larger batches)"))
    if problems:
        raise ContractViolation(problems)

    parsed: list[BackendEvent] = []
    first_index_of_id: dict[str, int] = {}
    for index, raw in enumerate(events):
        where = f"/events/{index}"
        if not isinstance(raw, dict):
            problems.append(Problem(where, "must be an object"))
            continue
        kind = raw.get("type")
        if not isinstance(kind, str) or kind not in EVENT_TYPES:
            message = "required: the event type" if "type" not in raw else "is not an event type of this version (see accepted_types)"
            problems.append(Problem(f"{where}/type", message))
            continue
        try:
            event = EVENT_TYPES[kind].model_validate(raw)
        except ValidationError as error:
            problems.extend(_problems(where, error))
            continue
        if event.id in first_index_of_id:
            # Same id -> same messageId: downstream would keep only one of the two events.
            problems.append(Problem(f"{where}/id", f"repeats the id of /events/{first_index_of_id[event.id]}; every event needs its own id"))
            continue
        first_index_of_id[event.id] = index
        parsed.append(event)
    if problems:
        raise ContractViolation(problems)
    return parsed


def _load_json(body: bytes) -> Any:
    def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ContractViolation([Problem("", "a JSON object repeats a key; which value counts would be a guess")], "invalid_json")
        return dict(pairs)

    def no_constants(name: str) -> Any:
        raise ContractViolation([Problem("", f"{name} is not JSON")], "invalid_json")

    try:
        return json.loads(body.decode("utf-8"), object_pairs_hook=unique_keys, parse_constant=no_constants)
    except ContractViolation:
        raise
    except UnicodeDecodeError:
        raise ContractViolation([Problem("", "the body is not UTF-8 JSON")], "invalid_json") from None
    except json.JSONDecodeError as error:
        raise ContractViolation([Problem("", f"the body is not JSON ({error.msg} at character {error.pos})")], "invalid_json") from None
    except RecursionError:
        raise ContractViolation([Problem("", "the body nests JSON too deeply")], "invalid_json") from None
    except ValueError as error:  # e.g. an integer longer than Python reads (sys.get_int_max_str_digits)
        raise ContractViolation([Problem("", f"the body is not JSON this endpoint can read ({error.__class__.__name__})")], "invalid_json") from None


_FRIENDLY = {
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
    "missing": "required",
    "extra_forbidden": "is not a field of this event type",
}


def _problems(where: str, error: ValidationError) -> list[Problem]:
    """pydantic's errors as Problems, without input values (its messages name types, not inputs)."""
    found = []
    for item in error.errors(include_input=False, include_url=False, include_context=False):
        path = where + "".join(f"/{_escape(str(part))}" for part in item["loc"])
        message = _FRIENDLY.get(item["type"]) or item["msg"].removeprefix("Value error, ")
        found.append(Problem(path, message))
    return found


def _escape(token: str) -> str:
    """A JSON Pointer reference token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


# ---- the source -----------------------------------------------------------------------------------


class Backend(Source):
    family: ClassVar[str] = "mobile"
    name: ClassVar[str] = "backend"
    docs_url: ClassVar[str] = "https://www.standardwebhooks.com/"
    secret_name: ClassVar[str | None] = SECRET
    ignored_types: ClassVar[dict[str, str]] = {}  # a strict contract: an unknown type is refused, never ignored
    ack_status: ClassVar[int] = 202

    def reply_before_auth(self, request: WebhookRequest) -> Reply | None:
        return refuse_loop(request, self.full_name())

    def authenticate(self, request: WebhookRequest) -> None:
        if (secrets := self.secret_or_open(SECRET)) is not None:
            tolerance = self.tolerance_seconds("BACKEND_TOLERANCE_SECONDS", DEFAULT_TOLERANCE_SECONDS)
            standard_webhooks.verify(request, secrets, secret_name=SECRET, tolerance_seconds=tolerance)

    def reply_after_accept(self, request: WebhookRequest) -> Reply | None:
        """Answer 400 now when an authentic request breaks the contract (see the module docstring)."""
        try:
            self.translate(request)
        except ContractViolation as violation:
            first = violation.problems[0] if violation.problems else Problem("", "")
            log.warning(
                "refused a %s request that breaks the contract: %d problem(s), first at %s: %s",
                self.full_name(), len(violation.problems), redact(first.path or "/"), redact(first.message),
            )  # fmt: skip
            return Reply(400, json.dumps(violation.body()), "application/json")
        except Exception:  # noqa: BLE001 - a bug of ours, not the sender's: ingest keeps the request in the DLQ
            log.exception("the %s contract check failed unexpectedly; the request goes the usual way", self.full_name())
        return None

    def translate(self, request: WebhookRequest) -> Translation:
        source = self.full_name()
        return Translation(events=[event.to_cio(source) for event in parse_contract(request.body)])

    @classmethod
    def sign(cls, request: WebhookRequest, key: str) -> WebhookRequest:
        return standard_webhooks.sign(request, key)


SOURCE = Backend

__all__ = [
    "ACCEPTED_VERSIONS",
    "EVENT_TYPES",
    "SOURCE",
    "Backend",
    "ContractViolation",
    "Problem",
    "parse_contract",
]
