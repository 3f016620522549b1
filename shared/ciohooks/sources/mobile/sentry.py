"""Sentry integration platform webhooks -> Customer.io Application Crashed.

A Sentry integration (internal or public) POSTs one JSON object per webhook:
``{"action", "installation": {"uuid"}, "data": {...}, "actor": {...}}``. The header
``Sentry-Hook-Resource`` names the resource: ``installation``, ``event_alert``, ``issue``,
``metric_alert``, ``error``, ``comment`` (and newer ones such as ``seer``, ``preprod_artifact``).

- Webhooks and signature: https://docs.sentry.io/organization/integrations/integration-platform/webhooks/
- Error webhooks (``data.error``): https://docs.sentry.io/organization/integrations/integration-platform/webhooks/errors/
- Issue alert webhooks (``data.event``): https://docs.sentry.io/organization/integrations/integration-platform/webhooks/issue-alerts/
- Installation webhooks: https://docs.sentry.io/organization/integrations/integration-platform/webhooks/installation/
- Source of the headers: getsentry/sentry ``src/sentry/sentry_apps/api/serializers/app_platform_event.py``

Mapping (``Sentry-Hook-Resource`` -> Customer.io event):

    error         (action created)   -> Application Crashed, when the event is a crash of a mobile app
    event_alert   (action triggered) -> Application Crashed, same test (an alert rule fired for the event)
    error / event_alert otherwise    -> not translated; counted as "<resource>:not_mobile" or
                                        "<resource>:not_crash"
    installation (created/deleted), issue, metric_alert, comment, anything else
                                     -> not translated (answered 200), counted by resource

Decisions (each written down because Sentry leaves it open):

- **A crash** is an event with ``level: fatal``, or one whose exception has a mechanism with
  ``handled: false``. That is how Sentry's mobile SDKs report crashes: sentry-java's
  UncaughtExceptionHandlerIntegration sets mechanism ``{type: UncaughtExceptionHandler, handled:
  false}`` and level FATAL; Sentry's own iOS sample event (``src/sentry/data/samples/cocoa.json``)
  is a Mach exception with level ``fatal`` and no ``handled`` flag. A handled error is not a crash.
- **A mobile app event** is one from a mobile SDK (``sdk.name`` starting with one of
  SENTRY_MOBILE_SDKS, default ``sentry.cocoa, sentry.java.android, sentry.native.android,
  sentry.javascript.react-native, sentry.dart.flutter, sentry.javascript.capacitor,
  sentry.javascript.cordova``) or, when no SDK is named, one whose ``contexts.os.name`` is a mobile
  OS (iOS, iPadOS, Android, tvOS, watchOS, visionOS) with no browser context and a platform other
  than ``javascript``. Browser errors (``platform: javascript`` from ``sentry.javascript.browser``,
  like Sentry's documented samples) are never crashes of an app.
- **version and build** come from ``contexts.app.app_version`` and ``app_build``; a value missing
  there is taken from the release when it has Sentry's mobile form ``package@version+build``
  (``com.example.app@1.2.3+45`` -> 1.2.3 and 45). They go to ``properties`` and ``context.app``.
  ``properties`` also carries Sentry's ``issue_id`` and the exception ``type`` (never its message,
  which may hold personal data).
- **Identity**: ``IdentityRules.from_settings(settings, "SENTRY", ("id",))`` over the event's
  ``user``. The keys in SENTRY_USER_ID_KEYS (default ``id``) give the userId. Otherwise a device id
  Sentry sent (``contexts.device.device_unique_identifier``, then ``contexts.app.device_app_hash``)
  becomes SENTRY_ID_AS (default anonymousId). Note: Sentry's Android sample event has
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
from typing import Any, ClassVar, Mapping

from ... import ids
from ...identity import IdentityRules, NoIdentity
from ...request import WebhookRequest
from ...semantic.mobile import ApplicationCrashed
from .._translation import build, load_json, object_or_empty, optional_timestamp
from ..base import InvalidPayload, Source, Translation, Unauthorized
from ._context import compact, text

SECRET = "SENTRY_CLIENT_SECRET"
SIGNATURE_HEADER = "sentry-hook-signature"
TIMESTAMP_HEADER = "sentry-hook-timestamp"
RESOURCE_HEADER = "sentry-hook-resource"
# resource -> the key of ``data`` holding the event
EVENT_RESOURCES = {"error": "error", "event_alert": "event"}
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


def is_crash(event: Mapping[str, Any]) -> bool:
    """Level fatal, or an exception whose mechanism says it was not handled."""
    if event.get("level") == "fatal":
        return True
    return any(object_or_empty(value.get("mechanism")).get("handled") is False for value in exceptions_of(event))


def is_mobile(event: Mapping[str, Any], mobile_sdks: tuple[str, ...]) -> bool:
    sdk_name = text(object_or_empty(event.get("sdk")), "name")
    if sdk_name is not None:
        return sdk_name.startswith(mobile_sdks)
    contexts = object_or_empty(event.get("contexts"))
    os_name = (text(object_or_empty(contexts.get("os")), "name") or "").lower()
    return os_name in MOBILE_OS and "browser" not in contexts and event.get("platform") != "javascript"


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
    ignored_types: ClassVar[Mapping[str, str]] = {
        "installation": "the integration was installed or removed, not an app event",
        "issue": "issue triage, not an app event",
        "metric_alert": "a metric alert, not a single crash",
        "comment": "a comment on an issue, not an app event",
        **{f"{resource}:not_mobile": "an event from a non-mobile SDK (SENTRY_MOBILE_SDKS)" for resource in EVENT_RESOURCES},
        **{f"{resource}:not_crash": "a handled error, not a crash" for resource in EVENT_RESOURCES},
    }

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
            translation.ignored[resource[:64]] += 1
            return translation
        payload = load_json(request.body)
        event = object_or_empty(object_or_empty(payload).get("data")).get(EVENT_RESOURCES[resource])
        if not isinstance(event, dict):
            raise InvalidPayload(f"{resource} webhook has no data.{EVENT_RESOURCES[resource]} object")
        mobile_sdks = tuple(self.settings.get_list("SENTRY_MOBILE_SDKS") or DEFAULT_MOBILE_SDKS)
        if not is_mobile(event, mobile_sdks):
            translation.ignored[f"{resource}:not_mobile"] += 1
            return translation
        if not is_crash(event):
            translation.ignored[f"{resource}:not_crash"] += 1
            return translation
        translation.events.append(self._crash(resource, event))
        return translation

    def _crash(self, resource: str, event: Mapping[str, Any]) -> ApplicationCrashed:
        contexts = object_or_empty(event.get("contexts"))
        app, device, os_context = object_or_empty(contexts.get("app")), object_or_empty(contexts.get("device")), object_or_empty(contexts.get("os"))
        user = object_or_empty(event.get("user"))
        release_v, release_b = release_version(text(event, "release"))
        version = text(app, "app_version") or release_v
        build_number = text(app, "app_build") or release_b

        rules = IdentityRules.from_settings(self.settings, "SENTRY", ("id",))
        device_id = text(device, "device_unique_identifier") or text(app, "device_app_hash")
        try:
            identity = rules.resolve(user, device_id)
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
