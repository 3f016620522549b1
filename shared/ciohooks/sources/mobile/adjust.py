"""Adjust server callbacks -> Customer.io mobile app semantic events.

Adjust calls a URL you register (a global callback for every activity, or one per activity) with a
GET request. You write the query string yourself as a template of Adjust placeholders, e.g.
``?activity_kind={activity_kind}&adid={adid}&created_at={created_at}``, and Adjust replaces each
placeholder with the activity's value. "If placeholder data is not available, it will be dropped
from the callback." Session callback parameters the app sets in the Adjust SDK (for example a
``user_id``) are appended as ``key=value`` to install, session, reattribution and event callbacks.

- Server callbacks: https://help.adjust.com/en/article/server-callbacks
- Per activity: https://help.adjust.com/en/article/install-callbacks ,
  https://help.adjust.com/en/article/uninstall-callbacks ,
  https://help.adjust.com/en/article/reinstall-and-reinstall-attribution-callbacks ,
  https://help.adjust.com/en/article/global-callbacks
- Custom parameters: https://help.adjust.com/en/article/custom-callback-parameters

Mapping: ``EVENTS`` (``activity_kind`` -> Customer.io event: install, reinstall and
reattribution_reinstall -> Application Installed, session -> Application Opened, uninstall ->
Application Uninstalled) and ``IGNORED`` (every other documented kind, with its reason); the event
table in docs/sources/adjust.md is checked against both. Any other kind is unknown and kept.

Decisions (each written down because Adjust leaves it open):

- **The query keys are the customer's.** A default key map assumes each parameter is named like its
  placeholder (``activity_kind={activity_kind}``). ADJUST_KEY_MAP overrides any of them:
  ``field=key`` pairs, comma-separated, e.g. ``activity_kind=kind,created_at=ts,version=app_ver``.
  Fields and their default keys:

      activity_kind, created_at, adid, gps_adid, idfa, idfv, android_id, app_name,
      os_name, os_version, device_name, device_type, device_manufacturer, country, ip_address
                                       -> the key of the same name
      version                          -> app_version_short
      build                            -> (none: set it in ADJUST_KEY_MAP to use it)

  ``build`` has no default: Adjust's ``{app_version}`` is the build number on iOS but the version
  name on Android, so one key cannot say "build" for both. Map it if your template and platform make
  it one. UNVERIFIED: that wording of Adjust's placeholder list, which the docs index did not hold.
- **Absent values.** An empty value, and a placeholder Adjust left unreplaced (``idfa={idfa}``),
  count as not sent. Nothing is invented.
- **reattribution** is a change of attribution source recorded on a session: "Reattributions
  trigger specific reattribution callbacks and do not trigger install callbacks." The session itself
  is reported as ``session``, so ``reattribution`` is not translated a second time.
  UNVERIFIED: whether Adjust also fires the session callback for the session that reattributes.
- **Identity**: ``IdentityRules.from_settings(settings, "ADJUST", ("user_id",))``. The query keys
  in ADJUST_USER_ID_KEYS (default ``user_id``, a session callback parameter) give the userId;
  otherwise the first device id sent, in ``DEVICE_ID_ORDER`` (adid, idfv, android_id, gps_adid,
  idfa; docs/sources/mobile-policy.md), becomes ADJUST_ID_AS (default anonymousId). ``adid`` is
  the only id an uninstall callback has (Uninstall callbacks article), but Adjust's own session
  callback example carries only ``gps_adid`` and ``idfa``: such a callback is attributed to its
  advertising id rather than refused. An all-zero advertising id (tracking not authorised) counts
  as not sent.
- **messageId**: Adjust callbacks carry no event id, so it is the UUIDv5 of the canonical content of
  the query parameters (without the secret): the same callback retried has the same id.
- **timestamp** is ``created_at`` ("the timestamp for when the data point occurred", unix seconds).
- **context** (only what was sent, with Segment's mobile names): ``app`` {name <- app_name,
  version, build}, ``device`` {id <- idfv or android_id, advertisingId <- idfa or gps_adid,
  manufacturer <- device_manufacturer, model <- device_name, type <- device_type}, ``os`` {name
  <- os_name, version <- os_version}, ``ip`` <- ip_address, ``location.country`` <- country.
  ``properties.version``/``build`` are set for Installed and Opened when sent.

Authentication: Adjust does not sign callbacks. Put a secret of your own in the callback URL
(``...&secret=<value>``): Adjust sends the URL as written. The parameter named by ADJUST_SECRET_PARAM
(default ``secret``) is compared in constant time with the secret ADJUST_SECRET, and it is never
stored with a request (``secret_query_keys``). A URL secret proves only that the sender knows the
URL; there is no timestamp, so replays are absorbed by the deterministic messageIds. Adjust
publishes its callback server IPs for an allowlist as a second layer.
"""

from __future__ import annotations

import dataclasses
import re
from typing import ClassVar, Mapping
from urllib.parse import urlencode

from ... import ids
from ...config import ConfigurationError, Settings
from ...identity import IdentityRules, NoIdentity
from ...request import WebhookRequest
from ...semantic.mobile import ApplicationInstalled, ApplicationOpened, ApplicationUninstalled, MobileEvent
from .. import _credentials as credentials
from .._translation import build, optional_timestamp, query_dict
from ..base import InvalidPayload, Source, Translation
from ._context import compact, device_id, name_setting

SECRET = "ADJUST_SECRET"
SECRET_PARAM_SETTING = "ADJUST_SECRET_PARAM"
DEFAULT_SECRET_PARAM = "secret"

EVENTS: dict[str, type[MobileEvent]] = {
    "install": ApplicationInstalled,
    "reinstall": ApplicationInstalled,
    "reattribution_reinstall": ApplicationInstalled,
    "session": ApplicationOpened,
    "uninstall": ApplicationUninstalled,
}
# Events whose spec properties include version/build.
VERSIONED = (ApplicationInstalled, ApplicationOpened)
# Every other activity_kind Adjust documents ("{activity_kind}" placeholder, Server callbacks and the
# per-activity articles), and why it is not translated. Any other kind is unknown and kept.
IGNORED: dict[str, str] = {
    "reattribution": "a change of attribution source on a session; the session itself is reported as session",
    "event": "an in-app event named by the advertiser (event_token); no semantic mobile event",
    "click": "an ad click before any install: nothing happened in the app",
    "impression": "an ad impression before any install: nothing happened in the app",
    "rejected_install": "an install Adjust's fraud prevention rejected; the real install, if any, is reported as install",
    "rejected_reattribution": "a reattribution Adjust's fraud prevention rejected",
    "attribution_update": "an attribution change (self-attributing network claim, ATT consent): no app activity",
    "cost_updated": "ad spend data for the campaign, not a device's activity",
    "gdpr_forget_device": "an erasure request for a device (adid only); User Deleted needs a person's userId",
}
# Mobile policy, "Which device id wins": Adjust's own device id first (one per install, on every
# activity), then the vendor ids, then the resettable advertising ids.
VENDOR_IDS = ("idfv", "android_id")
ADVERTISING_IDS = ("idfa", "gps_adid")
DEVICE_ID_ORDER = ("adid", *VENDOR_IDS, "gps_adid", "idfa")

# Our field -> the query key that carries it when the template names keys after the placeholders.
DEFAULT_KEY_MAP: dict[str, str | None] = {
    "activity_kind": "activity_kind",
    "created_at": "created_at",
    "adid": "adid",
    "gps_adid": "gps_adid",
    "idfa": "idfa",
    "idfv": "idfv",
    "android_id": "android_id",
    "app_name": "app_name",
    "version": "app_version_short",
    "build": None,
    "os_name": "os_name",
    "os_version": "os_version",
    "device_name": "device_name",
    "device_type": "device_type",
    "device_manufacturer": "device_manufacturer",
    "country": "country",
    "ip_address": "ip_address",
}
UNREPLACED = re.compile(r"^\{[A-Za-z0-9_]+\}$")


def parse_key_map(text: str | None) -> dict[str, str | None]:
    """DEFAULT_KEY_MAP with ADJUST_KEY_MAP's ``field=key`` pairs applied; unknown fields are refused."""
    key_map = dict(DEFAULT_KEY_MAP)
    for item in (part.strip() for part in (text or "").split(",")):
        if not item:
            continue
        field, sep, key = (s.strip() for s in item.partition("="))
        if not sep or field not in key_map:
            raise ConfigurationError(f"ADJUST_KEY_MAP: a field is not one of {', '.join(DEFAULT_KEY_MAP)}")
        key_map[field] = key or None
    return key_map


def present(query: Mapping[str, str]) -> dict[str, str]:
    """The parameters Adjust filled in: not empty, and not a placeholder left as ``{name}``."""
    return {k: v for k, v in query.items() if v.strip() and not UNREPLACED.match(v.strip())}


class Adjust(Source):
    family: ClassVar[str] = "mobile"
    name: ClassVar[str] = "adjust"
    docs_url: ClassVar[str] = "https://help.adjust.com/en/article/server-callbacks"
    methods: ClassVar[tuple[str, ...]] = ("GET",)
    secret_name: ClassVar[str | None] = SECRET
    ignored_types: ClassVar[Mapping[str, str]] = IGNORED
    mapped_types: ClassVar[Mapping[str, str]] = {kind: event.name for kind, event in EVENTS.items()}

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        self.key_map = parse_key_map(self.settings.get("ADJUST_KEY_MAP"))
        self.secret_param = name_setting(self.settings, SECRET_PARAM_SETTING, DEFAULT_SECRET_PARAM)
        self.rules = IdentityRules.from_settings(self.settings, "ADJUST", ("user_id",))

    @property  # type: ignore[override]
    def secret_query_keys(self) -> frozenset[str]:  # the configured parameter carries the secret
        return frozenset({self.secret_param})

    def authenticate(self, request: WebhookRequest) -> None:
        if (secret := self.secret_or_open(SECRET)) is not None:
            presented = [value.strip() for value in credentials.query_values(request, self.secret_param)]
            credentials.require_every(presented, secret.strip(), f"Adjust secret parameter {self.secret_param}")

    @classmethod
    def sign(cls, request: WebhookRequest, key: str) -> WebhookRequest:
        """``request`` with the secret appended to its query string, as in the registered callback URL."""
        extra = urlencode({DEFAULT_SECRET_PARAM: key})
        query = f"{request.raw_query}&{extra}" if request.raw_query else extra
        return dataclasses.replace(request, raw_query=query)

    def translate(self, request: WebhookRequest) -> Translation:
        params = present({k: v for k, v in query_dict(request.raw_query).items() if k != self.secret_param})
        fields = {name: params[key] for name, key in self.key_map.items() if key and key in params}
        translation = Translation()
        kind = fields.get("activity_kind")
        if kind is None:
            raise InvalidPayload(f"callback has no activity kind (query key {self.key_map['activity_kind']!r})")
        semantic = EVENTS.get(kind)
        if semantic is None:
            (translation.ignored if kind in IGNORED else translation.unknown)[kind[:64]] += 1
            return translation
        with translation.item(f"{kind} callback"):
            translation.events.append(self._event(kind, semantic, params, fields))
        return translation

    def _event(self, kind: str, semantic: type[MobileEvent], params: dict[str, str], fields: dict[str, str]) -> MobileEvent:
        try:
            identity = self.rules.resolve(params, device_id(fields, DEVICE_ID_ORDER))
        except NoIdentity:
            raise InvalidPayload(f"{kind} callback has no user id and no device id ({', '.join(DEVICE_ID_ORDER)})") from None
        timestamp = optional_timestamp(fields.get("created_at"), f"{kind} callback: created_at")
        version, build_number = fields.get("version"), fields.get("build")
        properties = compact({"version": version, "build": build_number}) if semantic in VERSIONED else {}
        context = compact({
            "app": {"name": fields.get("app_name"), "version": version, "build": build_number},
            "device": {
                "id": device_id(fields, VENDOR_IDS),
                "advertisingId": device_id(fields, ADVERTISING_IDS),
                "manufacturer": fields.get("device_manufacturer"),
                "model": fields.get("device_name"),
                "type": fields.get("device_type"),
            },
            "os": {"name": fields.get("os_name"), "version": fields.get("os_version")},
            "ip": fields.get("ip_address"),
            "location": {"country": fields.get("country")},
        })
        return build(semantic, {
            **identity,
            "messageId": ids.message_id_of_content(self.full_name(), params),
            "timestamp": timestamp,
            "properties": properties or None,
            "context": context or None,
        }, f"{kind} callback")


SOURCE = Adjust
