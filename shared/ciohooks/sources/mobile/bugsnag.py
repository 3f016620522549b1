"""BugSnag (Insight Hub) webhook -> Customer.io ``Application Crashed``, for the person who crashed.

A project's *Webhook* integration POSTs one JSON object per notification: ``account``, ``project``,
``trigger`` (``type``, ``message``, ...) and, for the triggers an event fires, ``error``: "the event
that caused this trigger to fire", with the event's ``id``, its error's ``errorId``,
``exceptionClass``, ``context``, ``appVersion``, ``releaseStage``, ``receivedAt`` ("the timestamp
when this event was received"), ``severity`` and ``userId`` ("the user ID connected to the event").
That ``userId`` (what the app set with ``Bugsnag.setUser``) is what makes a BugSnag crash a
person's crash; Firebase Crashlytics alerts name an issue and Embrace alerts an aggregate
condition, neither a person (docs/sources/bugsnag.md says why they are not sources).

Sources: https://docs.bugsnag.com/product/integrations/webhook/ (the triggers, and the "JSON
payload" reference: a commented example of every field, which the samples copy; events/samples/
mobile/bugsnag/README.md says where the copy was read).

Mapping (``MAPPED``, ``IGNORED``; docs/sources/bugsnag.md shows the table, checked against both):

- the triggers an event fires -- ``exception`` ("every time an event matching your filters is
  received"), ``firstException``, ``reopened``, ``powerTen``, ``errorEventFrequency`` -- carry that
  event in ``error``. It becomes Application Crashed when its ``severity`` is ``error``, which the
  reference defines as "used when the app crashes" (``warning`` is ``Bugsnag.notify``, ``info`` a
  manual notify): other severities are ``<trigger>:not_crash``, errors the app survived (mobile
  policy, what is a crash). With both ``exception`` and ``firstException`` on, the first event of an
  error arrives twice with the same event ``id``: one ``messageId``, one crash in Customer.io.
- project and collaborator triggers (``projectSpiking``, ``release``, ``projectSamplingStarted``,
  ``projectApproachingRateLimit``, ``comment``, ``errorStateManualChange``) name no event of a
  person: ignored with their reasons. Any other trigger is unknown and kept.
- ``userId`` <- ``error.userId`` (``BUGSNAG_USER_ID_KEYS``); the payload carries no device id, so
  a crash without a user is failed and kept with the reason (mobile policy: nothing is invented).
  ``timestamp`` <- ``receivedAt``; ``properties``: ``version`` <- ``appVersion``,
  ``exception_type`` <- ``exceptionClass``, ``error_id`` <- ``errorId``, ``release_stage``;
  ``context.app.version`` <- ``appVersion``. The message, context, request URL and stack trace are
  not copied (they can hold personal data and Customer.io does not need them).

Decisions:

- Authentication: BugSnag signs nothing and sets no header of yours; the URL you register is all
  it sends. So the URL carries a secret, ``?token=<BUGSNAG_WEBHOOK_TOKEN>``, compared in constant
  time (every copy of a repeated parameter must match) and never stored with a request
  (``secret_query_keys``), as Adjust's callbacks do.
- BugSnag's payload says nothing of the platform: point only your mobile projects' webhooks here
  (a web or server project's "error" is not an app crash, and this source cannot tell them apart).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Mapping
from urllib.parse import urlencode

from ... import ids
from ...config import Settings
from ...identity import IdentityRules, NoIdentity
from ...request import WebhookRequest
from ...semantic.mobile import ApplicationCrashed
from .. import _credentials as credentials
from .._translation import build, load_json, object_or_empty, timestamp_of
from ..base import InvalidPayload, Source, Translation
from ._context import compact, text

SECRET = "BUGSNAG_WEBHOOK_TOKEN"
TOKEN_PARAM = "token"
CRASH_SEVERITY = "error"  # "used when the app crashes"
EVENT_TRIGGERS = ("exception", "firstException", "reopened", "powerTen", "errorEventFrequency")

MAPPED: dict[str, str] = {trigger: ApplicationCrashed.name for trigger in EVENT_TRIGGERS}
IGNORED: dict[str, str] = {
    **{f"{trigger}:not_crash": "an error the app survived: severity warning or info, a Bugsnag.notify call (mobile policy: what is a crash)" for trigger in EVENT_TRIGGERS},
    "projectSpiking": "a spike in a project's error rate: it names no person",
    "release": "a new release of the app was seen: nothing happened to a person",
    "projectSamplingStarted": "the project is being rate-limited by BugSnag: it names no person",
    "projectApproachingRateLimit": "the project is close to its rate limit: it names no person",
    "comment": "a collaborator commented on an error in BugSnag",
    "errorStateManualChange": "a collaborator changed an error's state (fixed, snoozed, ignored) in BugSnag",
}


class Bugsnag(Source):
    family: ClassVar[str] = "mobile"
    name: ClassVar[str] = "bugsnag"
    docs_url: ClassVar[str] = "https://docs.bugsnag.com/product/integrations/webhook/"
    secret_name: ClassVar[str | None] = SECRET
    ignored_types: ClassVar[Mapping[str, str]] = IGNORED
    mapped_types: ClassVar[Mapping[str, str]] = MAPPED
    secret_query_keys: ClassVar[frozenset[str]] = frozenset({TOKEN_PARAM})

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        self.rules = IdentityRules.from_settings(self.settings, "BUGSNAG", ("userId",))

    def authenticate(self, request: WebhookRequest) -> None:
        if (secret := self.secret_or_open(SECRET)) is not None:
            credentials.require_every(credentials.query_values(request, TOKEN_PARAM), secret, f"BugSnag {TOKEN_PARAM} parameter")

    @classmethod
    def sign(cls, request: WebhookRequest, key: str) -> WebhookRequest:
        """``request`` with the token in its query string, as in the registered webhook URL."""
        extra = urlencode({TOKEN_PARAM: key})
        return dataclasses.replace(request, raw_query=f"{request.raw_query}&{extra}" if request.raw_query else extra)

    def translate(self, request: WebhookRequest) -> Translation:
        payload = load_json(request.body)
        trigger = object_or_empty(payload.get("trigger") if isinstance(payload, dict) else None)
        kind = text(trigger, "type")
        if kind is None:
            raise InvalidPayload("body is not a BugSnag webhook (no trigger.type)")
        kind = kind[:64]
        translation = Translation()
        if kind not in MAPPED:
            (translation.ignored if kind in IGNORED else translation.unknown)[kind] += 1
            return translation
        error = payload.get("error")
        if not isinstance(error, dict):
            raise InvalidPayload(f"a {kind} trigger without its error (the event that fired it)")
        if text(error, "severity") != CRASH_SEVERITY:
            translation.ignored[f"{kind}:not_crash"] += 1
            return translation
        with translation.item(f"error ({kind})"):
            translation.events.append(self._crash(error))
        return translation

    def _crash(self, error: dict[str, Any]) -> ApplicationCrashed:
        event_id = text(error, "id")
        if event_id is None:
            raise InvalidPayload("no error.id (the event's id)")
        try:
            identity = self.rules.resolve(error, None)
        except NoIdentity:
            raise InvalidPayload(f"the crash names no user ({', '.join(f'error.{key}' for key in self.rules.user_id_keys)}) and BugSnag sends no device id") from None
        version = text(error, "appVersion")
        properties = compact({
            "version": version,
            "exception_type": text(error, "exceptionClass"),
            "error_id": text(error, "errorId"),
            "release_stage": text(error, "releaseStage"),
        })
        return build(ApplicationCrashed, {
            **identity,
            "messageId": ids.message_id(self.full_name(), event_id),
            "timestamp": timestamp_of(error.get("receivedAt"), "error.receivedAt"),
            "properties": properties or None,
            "context": {"app": {"version": version}} if version else None,
        }, "error")


SOURCE = Bugsnag
