"""Auth0 log streams (Custom Webhook) -> Customer.io ``User Deleted``.

Auth0 has no per-event webhooks. A *Custom Webhook* log stream POSTs tenant logs to a URL, with
an optional static ``Authorization`` header, in one of three content formats chosen on the
stream: JSON Lines, JSON Array or JSON Object. Every record is ``{"log_id": ..., "data": {<log>}}``.

- Custom log streams: https://auth0.com/docs/customize/log-streams/custom-log-streams
  (source: auth0/docs-v2 main/docs/customize/log-streams/custom-log-streams.mdx)
- Log type codes: https://auth0.com/docs/deploy-monitor/logs/log-event-type-codes
- The ``sdu`` log schema: https://github.com/auth0/auth0-log-schemas (schemas/log-types/sdu.schema.json)
- Delivery: "We guarantee logs are delivered at least once", up to three attempts per log
  (https://auth0.com/docs/customize/log-streams).

Mapping (``data.type`` -> Customer.io event):

    sdu  "Success User Deletion"  -> User Deleted   (userId <- data.user_id)
    ss (signup), fdu (failed deletion), s, f, sapi, ... every other type -> not translated, counted

Decisions:

- Authentication: the stream's *Authorization Token* is sent verbatim as the ``Authorization``
  header. ``AUTH0_AUTHORIZATION`` holds exactly what was typed there (for example
  ``Bearer 3f9c...``) and the whole header is compared in constant time. Auth0 does not sign the
  body, so there is no timestamp and no replay window: the token is the only proof. Replays are
  harmless because the messageIds are deterministic.
- The three content formats are all accepted: a JSON array, one JSON object, or JSON Lines (one
  record per line). Auth0's custom webhook page says "The payload will be delivered in JSON lines
  format" while the stream settings offer all three, so nothing is assumed.
- ``userId`` is ``data.user_id``. The ``sdu`` schema describes ``user_id`` as "the user behind the
  auth flow, or the user executing the action, whichever applies". ``sdu`` is written by the
  connection that deleted the user (its ``details.body`` carries only ``connection`` and
  ``tenant``), like ``ss`` for a sign-up, whose ``user_id`` is the new user. The administrator who
  asked for the deletion is in the separate ``sapi`` "Delete a user" log, which is ignored here.
  ``AUTH0_USER_ID_KEYS`` (default ``user_id``) names the ``data`` keys tried in order. An ``sdu``
  log with none of them fails the request (``InvalidPayload``): a deletion is never attributed to a
  guessed person.
- The legacy ``du`` ("Deleted User") code from the old code table is not mapped: current tenants
  emit ``sdu`` and Auth0 no longer lists ``du``. Should an old tenant send it, it is counted as
  ``du`` and visible in the ignored counts.
- ``messageId`` is the UUIDv5 of ``log_id`` (Auth0's own unique log id), so at-least-once
  re-deliveries are one event downstream. ``timestamp`` is ``data.date``.
- ``User Deleted`` gets no properties: the spec defines none, and the log holds nothing else
  about the person that Customer.io needs.
- One record that cannot be translated fails the whole request (``InvalidPayload``); it goes to
  the DLQ whole and a replay re-translates it.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from ... import ids
from ...identity import IdentityRules, NoIdentity
from ...request import WebhookRequest
from ...semantic.actions import UserDeleted
from .. import _credentials as credentials
from .._translation import build, optional_timestamp
from ..base import InvalidPayload, Source, Translation

SECRET = "AUTH0_AUTHORIZATION"
USER_DELETED_TYPES = frozenset({"sdu"})


def parse_records(body: bytes) -> list[dict[str, Any]]:
    """The posted log records, whatever content format the stream uses; else ``InvalidPayload``."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidPayload("body is not UTF-8") from None
    try:
        parsed = json.loads(text)
        records = parsed if isinstance(parsed, list) else [parsed]
    except json.JSONDecodeError:
        # JSON Lines: one record per line (a single record is valid JSON and was handled above).
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                raise InvalidPayload(f"line {number} is not JSON: the body is neither JSON nor JSON Lines") from None
    for index, record in enumerate(records):
        if not isinstance(record, dict) or not isinstance(record.get("data"), dict):
            raise InvalidPayload(f"record {index} is not an Auth0 log stream record ({{log_id, data}})")
        if not isinstance(record["data"].get("type"), str) or not record["data"]["type"]:
            raise InvalidPayload(f"record {index} has no log type")
    return records


class Auth0(Source):
    family: ClassVar[str] = "mobile"
    name: ClassVar[str] = "auth0"
    docs_url: ClassVar[str] = "https://auth0.com/docs/customize/log-streams/custom-log-streams"
    secret_name: ClassVar[str | None] = SECRET
    ignored_types: ClassVar[dict[str, str]] = {
        "*": "every other tenant log type (sign-ups, logins, API calls...): the stream sends all; only sdu is a deletion",
    }
    secret_headers: ClassVar[frozenset[str]] = frozenset({"authorization"})

    def authenticate(self, request: WebhookRequest) -> None:
        if (expected := self.secret_or_open(SECRET)) is not None:
            # The whole header, exactly as typed in the stream's settings (scheme included).
            credentials.require(request.header("authorization"), expected, "Authorization header")

    @classmethod
    def sign(cls, request: WebhookRequest, key: str) -> WebhookRequest:
        return credentials.with_header(request, "authorization", key)

    def translate(self, request: WebhookRequest) -> Translation:
        rules = IdentityRules.from_settings(self.settings, "AUTH0")
        translation = Translation()
        for index, record in enumerate(parse_records(request.body)):
            kind = record["data"]["type"]
            if kind not in USER_DELETED_TYPES:
                translation.ignored[kind[:64]] += 1
                continue
            translation.events.append(self._user_deleted(index, record, rules))
        return translation

    def _user_deleted(self, index: int, record: dict[str, Any], rules: IdentityRules) -> UserDeleted:
        where = f"record {index} ({record['data']['type']})"
        data = record["data"]
        log_id = record.get("log_id") or data.get("log_id")
        if not isinstance(log_id, str) or not log_id:
            raise InvalidPayload(f"{where}: no log_id")
        try:
            # No fallback: the deletion must name its user (User Deleted requires a userId).
            identity = rules.resolve(data, None)
        except NoIdentity:
            raise InvalidPayload(f"{where}: no user id in {', '.join(rules.user_id_keys)}") from None
        timestamp = optional_timestamp(data.get("date"), f"{where}: date")
        return build(UserDeleted, {**identity, "messageId": ids.message_id(self.full_name(), log_id), "timestamp": timestamp}, where)


SOURCE = Auth0
