"""Branch webhooks (Data Feeds, "Webhook 2.0" event ontology) -> Customer.io mobile app semantic events.

Branch POSTs one JSON object per event, with ``User-agent: Branch Metrics API``:
``{"name", "id", "timestamp", "user_data": {...}, "last_attributed_touch_data": {...},
"custom_data": {...}, "event_data": {...}, ...}``; "If any of these objects are empty, they will not
appear in the POST body." ``timestamp`` is epoch milliseconds.

- Webhooks: https://help.branch.io/developers-hub/docs/webhooks-for-developers
  (also https://help.branch.io/using-branch/docs/webhooks for the dashboard setup)
- Event ontology (field names): https://help.branch.io/developers-hub/docs/branch-event-ontology

Mapping (``name``, compared case-insensitively: the docs sample says ``open``, data exports say
``OPEN``): ``EVENTS`` (INSTALL "the first time a user ever launches your app on their device" and
REINSTALL "a user deletes and reinstalls your app on their device" -> Application Installed; OPEN
"whenever the app is opened (and the open is neither an install or reinstall)" -> Application
Opened) and ``IGNORED`` (Branch's other standard events, with the reason);
docs/sources/branch.md shows the table, checked against both. Any other name is a custom event the
app defines (Branch's ontology allows any name): counted as ``custom event``, its name being the
app's own text.

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
  the first device id in BRANCH_DEVICE_ID_KEYS (default ``idfv,android_id,aaid,idfa``: Branch sends
  no per-install id of its own, so the mobile policy's order starts with the vendor ids, then the
  resettable advertising ids; an all-zero advertising id counts as not sent) becomes BRANCH_ID_AS
  (default anonymousId).
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

from typing import Any, ClassVar, Mapping

from ... import ids
from ...config import Settings
from ...identity import IdentityRules, NoIdentity
from ...request import WebhookRequest
from ...semantic.mobile import ApplicationInstalled, ApplicationOpened, MobileEvent
from .. import _credentials as credentials
from .._translation import build, load_json, optional_timestamp
from ..base import InvalidPayload, Source, Translation
from ._context import compact, device_id, flag, key_list, name_setting, text

SECRET = "BRANCH_SECRET"
DEFAULT_SECRET_HEADER = "authorization"
DEFAULT_SECRET_PARAM = "secret"
DEFAULT_DEVICE_ID_KEYS = ("idfv", "android_id", "aaid", "idfa")

EVENTS: dict[str, type[MobileEvent]] = {
    "INSTALL": ApplicationInstalled,
    "REINSTALL": ApplicationInstalled,
    "OPEN": ApplicationOpened,
}
CUSTOM = "custom event"
_COMMERCE = "a commerce event (Branch event ontology): no semantic mobile event"
_CONTENT = "a content event (Branch event ontology): no semantic mobile event"
_LIFECYCLE = "a user lifecycle event (Branch event ontology): no semantic mobile event"
IGNORED: dict[str, str] = {
    "CLICK": "a click on a Branch link: it happened before the app, if any, opened",
    "WEB_SESSION_START": "a session on the website, not in the app",
    "WEB_TO_APP_AUTO_REDIRECT": "a web page redirected to the app; the app's own OPEN follows",
    **dict.fromkeys(("ADD_TO_CART", "ADD_TO_WISHLIST", "VIEW_CART", "INITIATE_PURCHASE", "ADD_PAYMENT_INFO", "PURCHASE", "SPEND_CREDITS", "CLICK_AD", "VIEW_AD", "RESERVE"), _COMMERCE),
    **dict.fromkeys(("SEARCH", "VIEW_ITEM", "VIEW_ITEMS", "RATE", "SHARE", "INITIATE_STREAM", "COMPLETE_STREAM"), _CONTENT),
    **dict.fromkeys(("COMPLETE_REGISTRATION", "COMPLETE_TUTORIAL", "ACHIEVE_LEVEL", "UNLOCK_ACHIEVEMENT", "INVITE", "LOGIN", "START_TRIAL", "SUBSCRIBE"), _LIFECYCLE),
    CUSTOM: "an event the app defines, named by the app: no semantic mobile event",
}  # fmt: skip


# ---- payload -------------------------------------------------------------------------------------


def parse_event(body: bytes) -> dict[str, Any]:
    """The posted event, every JSON integer kept exact as its digits (Branch ids exceed 2**53)."""
    event = load_json(body, parse_int=str)
    if not isinstance(event, dict):
        raise InvalidPayload(f"body is a JSON {type(event).__name__}, not an event object")
    if not isinstance(event.get("name"), str) or not event["name"].strip():
        raise InvalidPayload("event has no name")
    return event


def context_of(user_data: Mapping[str, Any]) -> dict[str, Any]:
    lat = flag(user_data.get("limit_ad_tracking"))
    return compact({
        "app": {"version": text(user_data, "app_version")},
        "device": {
            "id": device_id(user_data, ("idfv", "android_id")),
            "advertisingId": device_id(user_data, ("idfa", "aaid")),
            "adTrackingEnabled": None if lat is None else not lat,
            "manufacturer": text(user_data, "brand"),
            "model": text(user_data, "model"),
        },
        "os": {"name": text(user_data, "os"), "version": text(user_data, "os_version")},
        "ip": text(user_data, "ip"),
        "userAgent": text(user_data, "user_agent"),
        "location": {"country": text(user_data, "country", "geo_country_code")},
    })


# ---- the source ----------------------------------------------------------------------------------


class Branch(Source):
    family: ClassVar[str] = "mobile"
    name: ClassVar[str] = "branch"
    docs_url: ClassVar[str] = "https://help.branch.io/developers-hub/docs/webhooks-for-developers"
    methods: ClassVar[tuple[str, ...]] = ("POST",)
    secret_name: ClassVar[str | None] = SECRET
    ignored_types: ClassVar[Mapping[str, str]] = IGNORED
    mapped_types: ClassVar[Mapping[str, str]] = {kind: event.name for kind, event in EVENTS.items()}

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        self.secret_header = name_setting(self.settings, "BRANCH_SECRET_HEADER", DEFAULT_SECRET_HEADER).lower()
        self.secret_param = name_setting(self.settings, "BRANCH_SECRET_PARAM", DEFAULT_SECRET_PARAM)
        self.rules = IdentityRules.from_settings(self.settings, "BRANCH", ("developer_identity",))
        self.device_keys = key_list(self.settings, "BRANCH_DEVICE_ID_KEYS", DEFAULT_DEVICE_ID_KEYS)

    @property  # type: ignore[override]
    def secret_headers(self) -> frozenset[str]:
        return frozenset({self.secret_header})

    @property  # type: ignore[override]
    def secret_query_keys(self) -> frozenset[str]:
        return frozenset({self.secret_param})

    def authenticate(self, request: WebhookRequest) -> None:
        if (secret := self.secret_or_open(SECRET)) is not None:
            presented = credentials.query_values(request, self.secret_param)
            if (header := request.header(self.secret_header)) is not None:
                presented.append(header)
            what = f"Branch secret (header {self.secret_header} or parameter {self.secret_param})"
            credentials.require_every([value.strip() for value in presented], secret.strip(), what)

    @classmethod
    def sign(cls, request: WebhookRequest, key: str) -> WebhookRequest:
        """``request`` with the secret in the header a Branch webhook would be configured to add."""
        return credentials.with_header(request, DEFAULT_SECRET_HEADER, key)

    def translate(self, request: WebhookRequest) -> Translation:
        event = parse_event(request.body)
        translation = Translation()
        kind = event["name"].strip().upper()
        semantic = EVENTS.get(kind)
        if semantic is None:
            translation.ignored[kind if kind in IGNORED else CUSTOM] += 1
            return translation
        with translation.item(kind):
            translation.events.append(self._event(kind, semantic, event))
        return translation

    def _event(self, kind: str, semantic: type[MobileEvent], event: dict[str, Any]) -> MobileEvent:
        user_data = event.get("user_data") or {}
        if not isinstance(user_data, dict):
            raise InvalidPayload(f"{kind}: user_data is a JSON {type(user_data).__name__}, not an object")
        try:
            identity = self.rules.resolve(user_data, device_id(user_data, self.device_keys))
        except NoIdentity:
            raise InvalidPayload(f"{kind}: no developer_identity and no device id") from None
        timestamp = optional_timestamp(text(event, "timestamp"), f"{kind}: timestamp")
        event_id = text(event, "id")
        message_id = ids.message_id(self.full_name(), event_id) if event_id else ids.message_id_of_content(self.full_name(), event)
        version = text(user_data, "app_version")
        return build(semantic, {
            **identity,
            "messageId": message_id,
            "timestamp": timestamp,
            "properties": {"version": version} if version else None,
            "context": context_of(user_data) or None,
        }, kind)


SOURCE = Branch
