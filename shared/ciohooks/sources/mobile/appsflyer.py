"""AppsFlyer Push API -> Customer.io mobile app semantic events.

AppsFlyer's Push API sends one attribution message per HTTP request, in near real time: a POST
with a JSON object body, or a GET with the same keys in the query string (the method is chosen per
endpoint in the dashboard). Blank and null fields are not sent.

- Push API: https://support.appsflyer.com/hc/en-us/articles/207034356-Push-API-streaming-raw-data
- Configuration API (event types, fields, the authentication token):
  https://dev.appsflyer.com/hc/reference/authentication-token and the OpenAPI file
  AppsFlyerKnowledge/devhub docs/apis/mos/pushapi_config_api.yaml
- Field meanings: https://support.appsflyer.com/hc/en-us/articles/208387843-Raw-data-field-dictionary

Mapping: ``EVENTS`` (message type -> Customer.io event: install, reinstall and re-attribution ->
Application Installed) and ``IGNORED`` (re-engagement and the in-app event types, with the reason);
docs/sources/appsflyer.md shows the table, checked against both. Any other type is unknown and kept.

**The message type comes from AppsFlyer's type fields, not from ``event_name`` alone.** An in-app
event's ``event_name`` is the advertiser's own text, so an event the app calls ``install`` must not
become an install. AppsFlyer's "Available message types" table (Push API article) names each type
by ``conversion_type``, ``campaign_type``, ``event_name`` and, for retargeting, ``event_type``.
``message_type`` reads them in this order:

1. ``event_type`` when sent: ``re-engagement``, ``re-attribution``, ``re-engagement-in-app-event``,
   ``re-attribution-in-app-event`` (Push API V2), ``install`` and ``in-app-event`` (V1);
2. else ``conversion_type`` (+ ``campaign_type``): each conversion has one attribution message,
   whose ``event_name`` is fixed by AppsFlyer (install -> ``install``; reinstall -> ``reinstall``,
   or ``re-attribution`` when the campaign is retargeting; re-engagement -> ``re-engagement``);
   any other ``event_name`` in that conversion is one of its in-app events;
3. else (a message without either field, as older copies are) ``event_name`` as AppsFlyer names
   the attribution messages, and anything else is an in-app event.

Decisions (each written down because AppsFlyer leaves it open):

- **Uninstalls.** The Push API has no uninstall message. The message types the Configuration API
  accepts are install, install-organic, reinstall, reinstall-organic, re-engagement,
  re-attribution and the in-app events of each (pushapi_config_api.yaml, ``event_types``), and
  AppsFlyer supplies raw uninstall data "via a downloadable report, Pull API and Data Locker"
  (Uninstall measurement article). Application Uninstalled is therefore never emitted here.
- **re-attribution** is a reinstall: AppsFlyer reports it with ``conversion_type: reinstall`` and
  ``campaign_type: retargeting``. The app was installed again, so it is Application Installed, like
  the user-acquisition ``reinstall``. UNVERIFIED: that AppsFlyer never sends both a reinstall and a
  re-attribution for one reinstall (their contents differ, so they would get different messageIds).
  A **re-engagement** is a user who already had the app, so it is no install. It is not
  translated into Application Opened either: it stands for only the opens that came from a
  retargeting campaign, and Opened events would then count some opens and miss the others.
- Identity: ``IdentityRules.from_settings(settings, "APPSFLYER", ("customer_user_id",))``. The
  keys named by APPSFLYER_USER_ID_KEYS (default ``customer_user_id``, the id the app set with
  ``setCustomerUserId``) give the userId; otherwise the first device id in ``DEVICE_ID_ORDER``
  (``appsflyer_id``, AppsFlyer's per-install id, then idfv, android_id, advertising_id, idfa;
  docs/sources/mobile-policy.md) becomes APPSFLYER_ID_AS (default anonymousId).
- ``messageId``: AppsFlyer messages carry no event id, so it is the UUIDv5 of the message's
  canonical content (``ids.message_id_of_content``). A repeated delivery of one message gets the
  same id.
- ``timestamp`` is ``event_time``: UTC without a zone, "yyyy-mm-dd hh:mm:ss.sss" (Push API article,
  "Format of timestamp fields"). ``*_selected_timezone`` fields are not used.
- ``properties.version`` is ``app_version``. AppsFlyer sends no build number, so ``build`` is never
  set. The same message's device and app data go to ``context`` with Segment's mobile names:
  ``app`` {name <- app_name, version <- app_version, namespace <- bundle_id}, ``device``
  {id <- idfv or android_id, advertisingId <- idfa or advertising_id, adTrackingEnabled <- not
  is_lat, model <- device_model or device_type, type <- platform}, ``os`` {name <- platform,
  version <- os_version}, ``ip``, ``userAgent`` <- user_agent, ``locale`` <- language, ``network``
  {wifi, carrier}, ``location`` {city, country <- country_code}. A field that was not sent stays out.
- SKAdNetwork messages (a separate "attributing entity") carry no AppsFlyer id or customer user id;
  point them at another endpoint. An install message that names nobody is kept in the DLQ.

Authentication: AppsFlyer does not sign Push API messages. It adds one header of your choosing to
every message: the "Push API authentication token", set with the Configuration API
(``PUT https://hq1.appsflyer.com/api/pushapi/v1.0/tokens/app/{app_id}``, body ``{"token": ...,
"token_name": ...}``). ``token_name`` is ``Authorization`` (the default) or a name starting with
``X-``; the token is up to 2000 characters of ``a-z A-Z 0-9 space tab - _ .``. This source compares
the whole header value, in constant time, with the secret APPSFLYER_TOKEN; the header name is
APPSFLYER_TOKEN_HEADER (default ``Authorization``). The header is never stored with a request. UNVERIFIED: that
AppsFlyer sends the bare token as the header value, with no scheme such as ``Bearer`` added (the
API reference describes only the token and the header name). If it adds one, configure the secret
with it.
A token is a shared secret, not a signature: it proves the sender knows it, not that the body is
intact, and there is no timestamp, so replay protection comes only from the deterministic
messageIds.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

from ... import ids
from ...config import Settings
from ...identity import IdentityRules, NoIdentity
from ...request import WebhookRequest
from ...semantic.mobile import ApplicationInstalled, MobileEvent
from .. import _credentials as credentials
from .._translation import build, load_json, optional_timestamp, query_dict
from ..base import InvalidPayload, Source, Translation
from ._context import compact, device_id, flag, name_setting, text

TOKEN_SECRET = "APPSFLYER_TOKEN"
TOKEN_HEADER_SETTING = "APPSFLYER_TOKEN_HEADER"
DEFAULT_TOKEN_HEADER = "authorization"

# AppsFlyer message type (``message_type``) -> Customer.io event.
EVENTS: dict[str, type[MobileEvent]] = {
    "install": ApplicationInstalled,
    "reinstall": ApplicationInstalled,
    "re-attribution": ApplicationInstalled,
}
IN_APP = "an in-app event, named by the advertiser: no semantic mobile event"
IGNORED: dict[str, str] = {
    "re-engagement": "a retargeted user who already had the app opened it: no install, and only some opens",
    "install-in-app-event": IN_APP,
    "re-engagement-in-app-event": IN_APP,
    "re-attribution-in-app-event": IN_APP,
    "in-app-event": IN_APP + " (Push API V1 event_type, or a message without type fields)",
}
# conversion_type -> the event_name of its attribution message (AppsFlyer's "Available message types")
ATTRIBUTION_NAME = {"install": "install", "reinstall": "reinstall", "re-engagement": "re-engagement"}
DEVICE_ID_ORDER = ("appsflyer_id", "idfv", "android_id", "advertising_id", "idfa")


# ---- payload -------------------------------------------------------------------------------------


def parse_message(request: WebhookRequest) -> dict[str, Any]:
    """The message as a dict: the JSON object of a POST, or the query parameters of a GET."""
    if request.method == "GET":
        message: Any = query_dict(request.raw_query)
    else:
        message = load_json(request.body)
    if not isinstance(message, dict):
        raise InvalidPayload(f"message is a JSON {type(message).__name__}, not an object")
    return message


def message_type(message: Mapping[str, Any]) -> str:
    """The AppsFlyer message type, read from its type fields (module docstring, steps 1 to 3)."""
    name = text(message, "event_name")
    if (event_type := text(message, "event_type")) is not None:
        return event_type.lower()
    if (conversion := text(message, "conversion_type")) is not None:
        conversion = conversion.lower()
        retargeting = (text(message, "campaign_type") or "").lower() == "retargeting"
        if conversion not in ATTRIBUTION_NAME:
            return f"conversion_type {conversion}"  # a conversion AppsFlyer does not document: unknown
        attribution = "re-attribution" if conversion == "reinstall" and retargeting else ATTRIBUTION_NAME[conversion]
        if name == attribution:
            return attribution
        in_app_of = {"re-engagement": "re-engagement", "re-attribution": "re-attribution"}.get(attribution, "install")
        return f"{in_app_of}-in-app-event"
    if name is None:
        raise InvalidPayload("message has no event_name, event_type or conversion_type")
    return name if name in (*EVENTS, "re-engagement") else "in-app-event"


def context_of(message: Mapping[str, Any]) -> dict[str, Any]:
    """The device, app and network data AppsFlyer sent, named as Segment's mobile context names them."""
    platform = text(message, "platform")
    lat = flag(message.get("is_lat"))
    return compact({
        "app": {
            "name": text(message, "app_name"),
            "version": text(message, "app_version"),
            "namespace": text(message, "bundle_id"),
        },
        "device": {
            "id": device_id(message, ("idfv", "android_id")),
            "advertisingId": device_id(message, ("idfa", "advertising_id")),
            "adTrackingEnabled": None if lat is None else not lat,
            "model": text(message, "device_model", "device_type"),
            "type": platform,
        },
        "os": {"name": platform, "version": text(message, "os_version")},
        "ip": text(message, "ip"),
        "userAgent": text(message, "user_agent"),
        "locale": text(message, "language"),
        "network": {"wifi": flag(message.get("wifi")), "carrier": text(message, "carrier")},
        "location": {"city": text(message, "city"), "country": text(message, "country_code")},
    })


# ---- the source ----------------------------------------------------------------------------------


class AppsFlyer(Source):
    family: ClassVar[str] = "mobile"
    name: ClassVar[str] = "appsflyer"
    docs_url: ClassVar[str] = "https://support.appsflyer.com/hc/en-us/articles/207034356-Push-API-streaming-raw-data"
    methods: ClassVar[tuple[str, ...]] = ("GET", "POST")
    secret_name: ClassVar[str | None] = TOKEN_SECRET
    ignored_types: ClassVar[Mapping[str, str]] = IGNORED
    mapped_types: ClassVar[Mapping[str, str]] = {kind: event.name for kind, event in EVENTS.items()}

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        self.token_header = name_setting(self.settings, TOKEN_HEADER_SETTING, DEFAULT_TOKEN_HEADER).lower()
        self.rules = IdentityRules.from_settings(self.settings, "APPSFLYER", ("customer_user_id",))

    @property  # type: ignore[override]
    def secret_headers(self) -> frozenset[str]:  # the configured header carries the token
        return frozenset({self.token_header})

    def authenticate(self, request: WebhookRequest) -> None:
        if (token := self.secret_or_open(TOKEN_SECRET)) is not None:
            presented = request.header(self.token_header)
            what = f"AppsFlyer token header {self.token_header}"
            credentials.require(None if presented is None else presented.strip(), token.strip(), what)

    @classmethod
    def sign(cls, request: WebhookRequest, key: str) -> WebhookRequest:
        """``request`` with the token header AppsFlyer adds (the default header name, Authorization)."""
        return credentials.with_header(request, DEFAULT_TOKEN_HEADER, key)

    def translate(self, request: WebhookRequest) -> Translation:
        message = parse_message(request)
        translation = Translation()
        kind = message_type(message)
        if kind not in EVENTS:
            (translation.ignored if kind in IGNORED else translation.unknown)[kind[:64]] += 1
            return translation
        with translation.item(f"{kind} message"):
            translation.events.append(self._installed(kind, message))
        return translation

    def _installed(self, kind: str, message: dict[str, Any]) -> MobileEvent:
        try:
            identity = self.rules.resolve(message, device_id(message, DEVICE_ID_ORDER))
        except NoIdentity:
            raise InvalidPayload(f"{kind} message has no customer_user_id and no device id ({', '.join(DEVICE_ID_ORDER)})") from None
        timestamp = optional_timestamp(text(message, "event_time"), f"{kind} message: event_time")
        version = text(message, "app_version")
        return build(EVENTS[kind], {
            **identity,
            "messageId": ids.message_id_of_content(self.full_name(), message),
            "timestamp": timestamp,
            "properties": {"version": version} if version else None,
            "context": context_of(message) or None,
        }, f"{kind} message")


SOURCE = AppsFlyer
