"""Branch webhooks (Data Feeds, "Webhook 2.0" event ontology) -> Customer.io mobile app semantic events.

Branch POSTs one JSON object per event, with ``User-agent: Branch Metrics API``:
``{"name", "id", "timestamp", "user_data": {...}, "last_attributed_touch_data": {...},
"custom_data": {...}, "event_data": {...}, ...}``; "If any of these objects are empty, they will not
appear in the POST body." ``timestamp`` is epoch milliseconds.

- Webhooks: https://help.branch.io/developers-hub/docs/webhooks-for-developers
  (also https://help.branch.io/using-branch/docs/webhooks for the dashboard setup)
- Event ontology (field names): https://help.branch.io/developers-hub/docs/branch-event-ontology

Mapping (``name``, compared case-insensitively: the docs sample says ``open``, data exports say
``OPEN``):

    INSTALL     -> Application Installed  ("the first time a user ever launches your app on their device")
    REINSTALL   -> Application Installed  ("a user deletes and reinstalls your app on their device")
    OPEN        -> Application Opened     ("whenever the app is opened (and the open is neither an install or reinstall)")
    CLICK, WEB_SESSION_START, PURCHASE and every other standard or custom event
                -> not translated, counted by name

Decisions (each written down because Branch leaves it open):

- **Big numbers stay exact.** Branch event ids and link ids (``id``, ``~id``) are 64-bit integers
  that do not fit a double (the docs sample has ``"~id": 457624031399716729``). The body is parsed
  with every JSON integer kept as its digits (``json.loads(..., parse_int=str)``), so ``id`` becomes
  the messageId source exactly, whether Branch sent it as a number or as a string.
- **String booleans.** Branch sends some flags as JSON booleans and others as the text
  ``"true"``/``"false"`` (the docs sample has both). Both spellings are read, e.g.
  ``limit_ad_tracking``.
- **Identity**: ``IdentityRules.from_settings(settings, "BRANCH", ("developer_identity",))`` over
  ``user_data``. The keys in BRANCH_USER_ID_KEYS (default ``developer_identity``, the id the app set
  with ``setIdentity``; ``user_data_developer_identity`` in CSV exports) give the userId. Otherwise
  the first device id in BRANCH_DEVICE_ID_KEYS (default ``idfv,android_id,aaid,idfa``, the stable
  vendor/Android ids before the resettable advertising ids) becomes BRANCH_ID_AS (default
  anonymousId).
- **messageId**: UUIDv5 of Branch's event ``id``; an event without one gets the UUIDv5 of its
  canonical content.
- **context** (only what was sent, with Segment's mobile names): ``app.version`` <- app_version,
  ``device`` {id <- idfv or android_id, advertisingId <- idfa or aaid, adTrackingEnabled <- not
  limit_ad_tracking, manufacturer <- brand, model}, ``os`` {name <- os, version <- os_version},
  ``ip``, ``userAgent`` <- user_agent, ``location.country`` <- country or geo_country_code.
  ``properties.version`` <- app_version. Branch sends no build number and no "from background", so
  neither is set.
- GET webhooks carry only what the customer templated into the URL, so there is nothing to
  translate: configure the webhook as POST. Other methods are answered 405.

Authentication: Branch does not sign webhooks. Its docs say: "Use the Filters tab to configure your
own headers and authenticate your webhook events", and they publish the IP addresses webhooks come
from. So a shared secret of your own authenticates the request: in a header you add in Branch
(BRANCH_SECRET_HEADER, default ``Authorization``) or in the webhook URL's query string
(BRANCH_SECRET_PARAM, default ``secret``). Whichever is present must equal the secret BRANCH_SECRET,
compared in constant time. Neither is ever stored with a request. A shared secret does not protect
the body or carry a time, so replays are absorbed by the deterministic messageIds.
Branch waits 2 seconds for an answer and retries only timeouts.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import logging
from datetime import datetime
from typing import Any, ClassVar, Mapping
from urllib.parse import parse_qsl

from pydantic import ValidationError

from ... import ids
from ...identity import IdentityRules, NoIdentity
from ...request import WebhookRequest
from ...semantic.mobile import ApplicationInstalled, ApplicationOpened, MobileEvent
from ...timestamps import BadTimestamp, parse_timestamp
from ..base import InvalidPayload, NotConfigured, Source, Translation, Unauthorized

log = logging.getLogger(__name__)

SECRET = "BRANCH_SECRET"
DEFAULT_SECRET_HEADER = "authorization"
DEFAULT_SECRET_PARAM = "secret"
DEFAULT_DEVICE_ID_KEYS = ("idfv", "android_id", "aaid", "idfa")

EVENTS: dict[str, type[MobileEvent]] = {
    "INSTALL": ApplicationInstalled,
    "REINSTALL": ApplicationInstalled,
    "OPEN": ApplicationOpened,
}


# ---- payload -------------------------------------------------------------------------------------


def parse_event(body: bytes) -> dict[str, Any]:
    """The posted event, every JSON integer kept exact as its digits (Branch ids exceed 2**53)."""
    try:
        event = json.loads(body, parse_int=str)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidPayload(f"body is not JSON ({error.__class__.__name__})") from None
    if not isinstance(event, dict):
        raise InvalidPayload(f"body is a JSON {type(event).__name__}, not an event object")
    if not isinstance(event.get("name"), str) or not event["name"].strip():
        raise InvalidPayload("event has no name")
    return event


def _text(data: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
    return None


def _flag(value: Any) -> bool | None:
    """JSON true/false, or Branch's text booleans "true"/"false"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _compact(tree: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            value = _compact(value)
            if not value:
                continue
        if value is not None:
            out[key] = value
    return out


def context_of(user_data: Mapping[str, Any]) -> dict[str, Any]:
    lat = _flag(user_data.get("limit_ad_tracking"))
    return _compact({
        "app": {"version": _text(user_data, "app_version")},
        "device": {
            "id": _text(user_data, "idfv", "android_id"),
            "advertisingId": _text(user_data, "idfa", "aaid"),
            "adTrackingEnabled": None if lat is None else not lat,
            "manufacturer": _text(user_data, "brand"),
            "model": _text(user_data, "model"),
        },
        "os": {"name": _text(user_data, "os"), "version": _text(user_data, "os_version")},
        "ip": _text(user_data, "ip"),
        "userAgent": _text(user_data, "user_agent"),
        "location": {"country": _text(user_data, "country", "geo_country_code")},
    })


# ---- the source ----------------------------------------------------------------------------------


class Branch(Source):
    family: ClassVar[str] = "mobile"
    name: ClassVar[str] = "branch"
    docs_url: ClassVar[str] = "https://help.branch.io/developers-hub/docs/webhooks-for-developers"
    methods: ClassVar[tuple[str, ...]] = ("POST",)
    secret_name: ClassVar[str | None] = SECRET

    @property
    def secret_header(self) -> str:
        return (self.settings.get("BRANCH_SECRET_HEADER") or DEFAULT_SECRET_HEADER).strip().lower()

    @property
    def secret_param(self) -> str:
        return (self.settings.get("BRANCH_SECRET_PARAM") or DEFAULT_SECRET_PARAM).strip()

    @property  # type: ignore[override]
    def secret_headers(self) -> frozenset[str]:
        return frozenset({self.secret_header})

    @property  # type: ignore[override]
    def secret_query_keys(self) -> frozenset[str]:
        return frozenset({self.secret_param})

    def authenticate(self, request: WebhookRequest) -> None:
        secret = self.settings.secret(SECRET)
        if secret is None or not secret.strip():
            if self.settings.get_bool("ALLOW_UNSIGNED"):
                log.warning(
                    "SECURITY: accepting an UNAUTHENTICATED Branch request: %s is not configured and "
                    "CIOHOOKS_ALLOW_UNSIGNED is on. Anyone can post events to this endpoint.",
                    SECRET,
                )
                return
            raise NotConfigured(f"secret {SECRET} is not configured, so every request is refused")
        presented = [v for k, v in parse_qsl(request.raw_query, keep_blank_values=True) if k == self.secret_param]
        if (header := request.header(self.secret_header)) is not None:
            presented.append(header)
        if not presented:
            raise Unauthorized(f"missing Branch secret (header {self.secret_header} or parameter {self.secret_param})")
        expected = secret.strip().encode("utf-8")
        # Every copy must match: a forged header next to a leaked URL is still a forgery.
        if not all(hmac.compare_digest(value.strip().encode("utf-8"), expected) for value in presented):
            raise Unauthorized("Branch secret does not match")

    @classmethod
    def sign(cls, request: WebhookRequest, key: str) -> WebhookRequest:
        """``request`` with the secret in the header a Branch webhook would be configured to add."""
        return dataclasses.replace(request, headers={**request.headers, DEFAULT_SECRET_HEADER: key})

    def translate(self, request: WebhookRequest) -> Translation:
        event = parse_event(request.body)
        translation = Translation()
        kind = event["name"].strip().upper()
        semantic = EVENTS.get(kind)
        if semantic is None:
            translation.ignored[kind[:64]] += 1
            return translation
        user_data = event.get("user_data") or {}
        if not isinstance(user_data, dict):
            raise InvalidPayload(f"{kind}: user_data is a JSON {type(user_data).__name__}, not an object")

        rules = IdentityRules.from_settings(self.settings, "BRANCH", ("developer_identity",))
        device_keys = tuple(self.settings.get_list("BRANCH_DEVICE_ID_KEYS") or DEFAULT_DEVICE_ID_KEYS)
        try:
            identity = rules.resolve(user_data, _text(user_data, *device_keys))
        except NoIdentity:
            raise InvalidPayload(f"{kind}: no developer_identity and no device id") from None
        timestamp: datetime | None = None
        if (stamp := _text(event, "timestamp")) is not None:
            try:
                timestamp = parse_timestamp(stamp)
            except BadTimestamp as error:
                raise InvalidPayload(f"{kind}: timestamp: {error}") from None
        event_id = _text(event, "id")
        message_id = ids.message_id(self.full_name(), event_id) if event_id else ids.message_id_of_content(self.full_name(), event)
        version = _text(user_data, "app_version")
        try:
            translated = semantic(
                **identity,
                messageId=message_id,
                timestamp=timestamp,
                properties={"version": version} if version else None,
                context=context_of(user_data) or None,
            )
        except ValidationError as error:
            raise InvalidPayload(f"{kind}: {_describe(error)}") from None
        translation.events.append(translated)
        return translation


def _describe(error: ValidationError) -> str:
    problems = dict.fromkeys(f"{'.'.join(str(p) for p in e['loc']) or 'event'} ({e['type']})" for e in error.errors())
    return "invalid " + ", ".join(problems)


SOURCE = Branch
