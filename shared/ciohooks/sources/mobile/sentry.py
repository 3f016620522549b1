"""Sentry integration platform webhooks -> Customer.io Application Crashed.

A Sentry integration (internal or public) POSTs one JSON object per webhook:
``{"action", "installation": {"uuid"}, "data": {...}, "actor": {...}}``. The header
``Sentry-Hook-Resource`` names the resource: ``installation``, ``event_alert``, ``issue``,
``metric_alert``, ``error``, ``comment``, ``seer``, ``preprod_artifact``, ``activity_alert``
(getsentry/sentry ``SentryAppResourceType``).

- Webhooks and signature: https://docs.sentry.io/organization/integrations/integration-platform/webhooks/
- Error webhooks (``data.error``): https://docs.sentry.io/organization/integrations/integration-platform/webhooks/errors/
- Issue alert webhooks (``data.event``): https://docs.sentry.io/organization/integrations/integration-platform/webhooks/issue-alerts/
- Installation webhooks: https://docs.sentry.io/organization/integrations/integration-platform/webhooks/installation/
- Source of the headers: getsentry/sentry ``src/sentry/sentry_apps/api/serializers/app_platform_event.py``

Mapping: ``EVENT_RESOURCES`` (``error`` and ``event_alert`` -> Application Crashed when the event is
a crash of a mobile app) and ``IGNORED`` (every other documented resource, and the error events
that are not app crashes, with the reason); docs/sources/sentry.md shows the table, checked against
both. Any other resource is unknown and kept.

Decisions (each written down because Sentry leaves it open; the crash rule is the mobile policy's,
docs/sources/mobile-policy.md):

- **A crash ends the app.** Which events do depends on the layer that reported it, named by
  ``sdk.name`` (``runtime_of``):

  - *native* SDKs (``sentry.cocoa``, ``sentry.java.android``, ``sentry.native``, and their
    ``.react-native`` / ``.flutter`` builds that report native crashes under React Native and
    Flutter): ``level: fatal``, or an exception whose mechanism has ``handled: false``.
    sentry-java's UncaughtExceptionHandlerIntegration sets mechanism ``{type:
    UncaughtExceptionHandler, handled: false}`` and level FATAL; Sentry's own iOS sample event
    (``src/sentry/data/samples/cocoa.json``) is a Mach exception with level ``fatal``.
  - *React Native* JavaScript (``sentry.javascript.react-native``): only ``level: fatal``. Its
    global handler reports an error React Native calls fatal at level ``fatal`` (mechanism
    ``onerror``, handled false; getsentry/sentry ``fixtures/sdk_crash_detection/
    crash_event_react_native.py``), and React Native ends the app after a fatal JS error in a
    release build. An unhandled promise rejection (mechanism ``onunhandledrejection``, handled
    false, level ``error``) does not end the app.
  - *Dart/Flutter* (``sentry.dart*``): never. sentry-dart reports FlutterError, runZonedGuarded
    and isolate errors at level ``fatal`` with ``handled: true`` and says in its code that they
    "don't crash the App"; an app-ending crash of a Flutter app is reported by the bundled native
    SDK under its own name.
  - *WebView JavaScript* (``sentry.javascript.capacitor``, ``sentry.javascript.cordova``): never. A
    script error in a WebView leaves the app running, whatever its mechanism says; native crashes
    come from the bundled native SDKs.

  Events that are not crashes are counted as ``<resource>:not_crash``.
- **A mobile app event** is one from a mobile SDK (``sdk.name`` starting with one of
  SENTRY_MOBILE_SDKS, default ``sentry.cocoa, sentry.java.android, sentry.native.android,
  sentry.javascript.react-native, sentry.dart.flutter, sentry.javascript.capacitor,
  sentry.javascript.cordova``) or, when no SDK is named, one whose ``contexts.os.name`` is a mobile
  OS (iOS, iPadOS, Android, tvOS, watchOS, visionOS) with no browser context and a platform other
  than ``javascript``. Browser errors (``platform: javascript`` from ``sentry.javascript.browser``,
  like Sentry's documented samples) are never crashes of an app (``<resource>:not_mobile``).
- **version and build** come from ``contexts.app.app_version`` and ``app_build``; a value missing
  there is taken from the release when it has Sentry's mobile form ``package@version+build``
  (``com.example.app@1.2.3+45`` -> 1.2.3 and 45). They go to ``properties`` and ``context.app``.
  ``properties`` also carries Sentry's ``issue_id`` and the exception ``type`` (never its message,
  which may hold personal data).
- **Identity**: ``IdentityRules.from_settings(settings, "SENTRY", ("id",))`` over the event's
  ``user``. The keys in SENTRY_USER_ID_KEYS (default ``id``) give the userId. Otherwise the first
  device id Sentry sent, in ``DEVICE_ID_ORDER`` (``contexts.device.device_unique_identifier``, then
  ``contexts.device.id``, the installation id sentry-java and React Native set, then
  ``contexts.app.device_app_hash``), becomes SENTRY_ID_AS (default anonymousId). A ``user.id``
  equal to the event's device id is not a person: sentry-java fills ``user.id`` with its
  installation id when the app sets no user (``DefaultAndroidEventProcessor.mergeUser``), the same
  value as ``contexts.device.id`` (``DeviceInfoUtil``); such an id goes to the anonymousId. Note: Sentry's Android sample event has
  ``user.id: "1761a9fcb6836d4c"``, which looks like the SDK's own installation id rather than an id
  the app set (UNVERIFIED when the SDK fills it). If your app sets no user of its own, set
  SENTRY_USER_ID_KEYS to a key it does set (for example ``username``).
- **messageId** is the UUIDv5 of Sentry's ``event_id``, so the ``error`` webhook and an
  ``event_alert`` for the same crash are one event downstream.
- **timestamp** is the event's ``timestamp`` (epoch seconds), else ``datetime``.
- **context** (only what was sent): ``app`` {name <- app_name, version, build, namespace <-
  app_identifier}, ``device`` {id <- device_unique_identifier, manufacturer, model}, ``os`` {name,
  version}, ``ip`` <- user.ip_address.

Authentication: ``Sentry-Hook-Signature`` is the hex HMAC-SHA256 of the raw body, keyed with the
integration's Client Secret (SENTRY_CLIENT_SECRET); it is compared in constant time.
``Sentry-Hook-Timestamp`` (unix seconds at send time) is **not signed**: Sentry's
``build_signature(self.body)`` covers the body only. A stale check on an unsigned header proves
nothing, since anyone replaying a request can rewrite it, so none is made. Replays are absorbed by
the deterministic messageIds. The signature is a MAC, not a credential, so no header needs hiding.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from enum import Enum
from typing import Any, ClassVar, Mapping

from ... import ids
from ...config import Settings
from ...identity import IdentityRules, NoIdentity
from ...request import WebhookRequest
from ...semantic.mobile import ApplicationCrashed
from .._translation import build, load_json, object_or_empty, optional_timestamp
from ..base import InvalidPayload, Source, Translation, Unauthorized
from ._context import compact, device_id, key_list, text

SECRET = "SENTRY_CLIENT_SECRET"
SIGNATURE_HEADER = "sentry-hook-signature"
TIMESTAMP_HEADER = "sentry-hook-timestamp"
RESOURCE_HEADER = "sentry-hook-resource"
# resource -> the key of ``data`` holding the event
EVENT_RESOURCES = {"error": "error", "event_alert": "event"}
EVENT_TYPES = {resource: ApplicationCrashed for resource in EVENT_RESOURCES}
IGNORED: dict[str, str] = {
    "installation": "the integration was installed or uninstalled in Sentry: nothing happened in the app",
    "issue": "an issue changed state in Sentry (created, resolved, assigned, ...); crashes come as error events",
    "metric_alert": "an alert on an aggregate metric: it names no device or person",
    "comment": "a comment on an issue, written in Sentry",
    "seer": "Seer (Sentry's AI) analysis of an issue",
    "preprod_artifact": "a build artifact uploaded to Sentry, not an app event",
    "activity_alert": "an alert on issue activity in Sentry; the crashes themselves come as error events",
    **{f"{resource}:not_mobile": "an error from a browser or server SDK, not a mobile app" for resource in EVENT_RESOURCES},
    **{f"{resource}:not_crash": "an error the app survived (mobile policy: what is a crash)" for resource in EVENT_RESOURCES},
}
DEVICE_ID_ORDER = ("device_unique_identifier", "id")  # in contexts.device; then contexts.app.device_app_hash


class Runtime(Enum):
    """The layer an event came from, which decides whether it can be a crash (``is_crash``)."""

    NATIVE = "native"
    REACT_NATIVE = "react-native"
    DART = "dart"
    WEBVIEW = "webview"


DEFAULT_MOBILE_SDKS = (
    "sentry.cocoa",
    "sentry.java.android",
    "sentry.native.android",
    "sentry.javascript.react-native",
    "sentry.dart.flutter",
    "sentry.javascript.capacitor",
    "sentry.javascript.cordova",
)
MOBILE_OS = frozenset({"ios", "ipados", "android", "tvos", "watchos", "visionos"})


# ---- authentication ------------------------------------------------------------------------------


def signature(raw_body: bytes, client_secret: str) -> str:
    """What Sentry puts in Sentry-Hook-Signature: hex HMAC-SHA256 of the body, keyed with the secret."""
    return hmac.new(client_secret.encode("utf-8"), raw_body, hashlib.sha256).hexdigest()


def verify(raw_body: bytes, headers: Mapping[str, str], client_secret: str) -> None:
    """Raise ``Unauthorized`` unless Sentry signed exactly ``raw_body`` with ``client_secret``."""
    lowered = {k.lower(): v for k, v in headers.items()}
    presented = (lowered.get(SIGNATURE_HEADER) or "").strip().lower()
    if not presented:
        raise Unauthorized("missing Sentry-Hook-Signature header")
    expected = signature(raw_body, client_secret)
    if not hmac.compare_digest(presented.encode("ascii", "replace"), expected.encode("ascii")):
        raise Unauthorized("Sentry signature does not match")


# ---- payload -------------------------------------------------------------------------------------


def exceptions_of(event: Mapping[str, Any]) -> list[dict[str, Any]]:
    exception = event.get("exception")
    values = exception.get("values") if isinstance(exception, dict) else exception
    return [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []


def runtime_of(sdk_name: str | None) -> Runtime:
    """``sentry.javascript.react-native`` -> React Native, ``sentry.dart*`` -> Dart, any other
    ``sentry.javascript.*`` -> a WebView; everything else (cocoa, java, native, and their
    ``.react-native``/``.flutter`` builds) reports from the native layer."""
    name = (sdk_name or "").lower()
    if name == "sentry.javascript.react-native" or name.startswith("sentry.javascript.react-native."):
        return Runtime.REACT_NATIVE
    if name.startswith("sentry.dart"):
        return Runtime.DART
    if name.startswith("sentry.javascript."):
        return Runtime.WEBVIEW
    return Runtime.NATIVE


def is_crash(event: Mapping[str, Any]) -> bool:
    """Whether the event ended the app (module docstring, "A crash ends the app")."""
    runtime = runtime_of(text(object_or_empty(event.get("sdk")), "name"))
    fatal = event.get("level") == "fatal"
    if runtime is Runtime.NATIVE:
        return fatal or any(object_or_empty(value.get("mechanism")).get("handled") is False for value in exceptions_of(event))
    if runtime is Runtime.REACT_NATIVE:
        return fatal
    return False  # Dart and WebView JavaScript errors leave the app running


def is_mobile(event: Mapping[str, Any], mobile_sdks: tuple[str, ...]) -> bool:
    sdk_name = text(object_or_empty(event.get("sdk")), "name")
    if sdk_name is not None:
        return sdk_name.startswith(mobile_sdks)
    contexts = object_or_empty(event.get("contexts"))
    os_name = (text(object_or_empty(contexts.get("os")), "name") or "").lower()
    return os_name in MOBILE_OS and "browser" not in contexts and event.get("platform") != "javascript"


def without_sdk_user_id(user: Mapping[str, Any], device: Mapping[str, Any]) -> Mapping[str, Any]:
    """``user`` without an ``id`` the SDK filled in with the device's own id.

    When the app sets no user, sentry-java (``DefaultAndroidEventProcessor.mergeUser``) sets
    ``user.id`` to its installation id, the very value ``DeviceInfoUtil`` puts in
    ``contexts.device.id``. That is a device, not a person: it must not become a ``userId``."""
    device_ids = {text(device, key) for key in DEVICE_ID_ORDER} - {None}
    if text(user, "id") in device_ids:
        return {key: value for key, value in user.items() if key != "id"}
    return user


def release_version(release: str | None) -> tuple[str | None, str | None]:
    """``package@version+build`` -> (version, build); anything else names neither."""
    if not release or "@" not in release:
        return None, None
    version, _, build = release.rpartition("@")[2].partition("+")
    return version or None, build or None


# ---- the source ----------------------------------------------------------------------------------


class Sentry(Source):
    family: ClassVar[str] = "mobile"
    name: ClassVar[str] = "sentry"
    docs_url: ClassVar[str] = "https://docs.sentry.io/organization/integrations/integration-platform/webhooks/"
    secret_name: ClassVar[str | None] = SECRET
    ignored_types: ClassVar[Mapping[str, str]] = IGNORED
    mapped_types: ClassVar[Mapping[str, str]] = {resource: event.name for resource, event in EVENT_TYPES.items()}

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        self.mobile_sdks = key_list(self.settings, "SENTRY_MOBILE_SDKS", DEFAULT_MOBILE_SDKS)
        self.rules = IdentityRules.from_settings(self.settings, "SENTRY", ("id",))

    def authenticate(self, request: WebhookRequest) -> None:
        if (secret := self.secret_or_open(SECRET)) is not None:
            verify(request.body, request.headers, secret)

    @classmethod
    def sign(cls, request: WebhookRequest, key: str) -> WebhookRequest:
        """``request`` with the two headers Sentry computes when sending (the resource header is the caller's)."""
        headers = {
            **request.headers,
            SIGNATURE_HEADER: signature(request.body, key),
            TIMESTAMP_HEADER: str(int(request.received_at.timestamp())),
        }
        return dataclasses.replace(request, headers=headers)

    def translate(self, request: WebhookRequest) -> Translation:
        translation = Translation()
        resource = (request.header(RESOURCE_HEADER) or "").strip().lower()
        if not resource:
            raise InvalidPayload("no Sentry-Hook-Resource header")
        if resource not in EVENT_RESOURCES:
            (translation.ignored if resource in IGNORED else translation.unknown)[resource[:64]] += 1
            return translation
        payload = load_json(request.body)
        event = object_or_empty(object_or_empty(payload).get("data")).get(EVENT_RESOURCES[resource])
        if not isinstance(event, dict):
            raise InvalidPayload(f"{resource} webhook has no data.{EVENT_RESOURCES[resource]} object")
        if not is_mobile(event, self.mobile_sdks):
            translation.ignored[f"{resource}:not_mobile"] += 1
        elif not is_crash(event):
            translation.ignored[f"{resource}:not_crash"] += 1
        else:
            with translation.item(resource):
                translation.events.append(self._crash(resource, event))
        return translation

    def _crash(self, resource: str, event: Mapping[str, Any]) -> ApplicationCrashed:
        contexts = object_or_empty(event.get("contexts"))
        app, device, os_context = object_or_empty(contexts.get("app")), object_or_empty(contexts.get("device")), object_or_empty(contexts.get("os"))
        user = object_or_empty(event.get("user"))
        release_v, release_b = release_version(text(event, "release"))
        version = text(app, "app_version") or release_v
        build_number = text(app, "app_build") or release_b

        try:
            identity = self.rules.resolve(without_sdk_user_id(user, device), device_id(device, DEVICE_ID_ORDER) or device_id(app, ("device_app_hash",)))
        except NoIdentity:
            raise InvalidPayload(f"{resource}: the crash names no user id and no device id") from None
        timestamp = optional_timestamp(text(event, "timestamp") or text(event, "datetime"), f"{resource}: timestamp")
        event_id = text(event, "event_id")
        exceptions = exceptions_of(event)
        properties = compact({
            "version": version,
            "build": build_number,
            "issue_id": text(event, "issue_id"),
            # The last value is the outermost exception, the one that ended the app.
            "exception_type": text(exceptions[-1], "type") if exceptions else None,
        })
        context = compact({
            "app": {"name": text(app, "app_name"), "version": version, "build": build_number, "namespace": text(app, "app_identifier")},
            "device": {
                "id": text(device, "device_unique_identifier"),
                "manufacturer": text(device, "manufacturer"),
                "model": text(device, "model"),
            },
            "os": {"name": text(os_context, "name"), "version": text(os_context, "version")},
            "ip": text(user, "ip_address"),
        })
        fields = {
            **identity,
            "messageId": ids.message_id(self.full_name(), event_id) if event_id else ids.message_id_of_content(self.full_name(), event),
            "timestamp": timestamp,
            "properties": properties or None,
            "context": context or None,
        }
        return build(ApplicationCrashed, fields, resource)


SOURCE = Sentry
