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

Mapping: ``USER_DELETED_TYPES`` (``sdu`` "Success User Deletion" -> User Deleted, userId <-
data.user_id) and ``IGNORED``: every other log type Auth0 documents (the schemas of
auth0/auth0-log-schemas @8b58c73, 165 besides ``sdu``, and the legacy ``du``), with the reason;
docs/sources/auth0.md shows the table, checked against both. A type Auth0 does not document is
unknown and kept.

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
- Each record is translated on its own (``Translation.item``): one that cannot be translated is
  recorded with its reason and the request is kept whole in the DLQ, while the other records'
  events go on; a replay re-translates it (the deterministic messageIds make the re-sent ones
  harmless).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Mapping

from ... import ids
from ...config import Settings
from ...identity import IdentityRules, NoIdentity
from ...request import WebhookRequest, loads_json
from ...semantic.actions import UserDeleted
from .. import _credentials as credentials
from .._translation import build, optional_timestamp
from ..base import InvalidPayload, Source, Translation

SECRET = "AUTH0_AUTHORIZATION"
USER_DELETED_TYPES = frozenset({"sdu"})
# Every log type of auth0/auth0-log-schemas (schemas/log-types, commit 8b58c73) but sdu.
DOCUMENTED_TYPES = (
    "acls_summary", "actions_execution_failed", "acul_sdk_notice", "api_limit", "api_limit_warning", "appi",
    "ciba_exchange_failed", "ciba_exchange_succeeded", "ciba_start_failed", "ciba_start_succeeded", "cls",
    "connected_accounts_connection_failed", "connected_accounts_connection_succeeded",
    "connected_accounts_delete_failed", "connected_accounts_delete_succeeded", "cs",
    "custom_domain_verification_failed", "depnote", "directory_sync_completed", "directory_sync_failed",
    "directory_sync_started", "f", "failed_on_behalf_of_token_exchange", "fce", "fco", "fcoa", "fcp", "fcph",
    "fcpn", "fcpr", "fcpro", "fcu", "fd", "fdeac", "fdeaz", "fdecc", "fdeleacft", "fdelsa", "fdu", "feacft",
    "feccft", "fecte", "fede", "federated_logout_failed", "fens", "feoobft", "feotpft", "fepft", "fepotpft",
    "fercft", "ferrt", "fertft", "feta", "fi", "flo", "flows_execution_completed", "flows_execution_failed",
    "fn", "forms_submission_failed", "forms_submission_succeeded", "fp", "fpar", "fpurh", "fs", "fsa",
    "fscim", "fu", "fui", "fv", "fvr", "gd_auth_email_verification", "gd_auth_failed", "gd_auth_rejected",
    "gd_auth_succeed", "gd_enrollment_complete", "gd_otp_rate_limit_exceed", "gd_recovery_failed",
    "gd_recovery_succeed", "gd_send_email", "gd_send_email_verification", "gd_send_pn", "gd_send_pn_failure",
    "gd_send_sms", "gd_send_sms_failure", "gd_send_voice", "gd_send_voice_failure", "gd_start_auth",
    "gd_start_enroll", "gd_start_enroll_failed", "gd_tenant_update", "gd_unenroll",
    "gd_update_device_account", "gd_webauthn_challenge_failed", "gd_webauthn_enrollment_failed",
    "idjag_exchange_failed", "idjag_exchange_succeeded", "jwt_bearer_exchange_failed",
    "kms_key_management_failure", "kms_key_management_success", "kms_key_state_changed", "limit_delegation",
    "limit_mu", "limit_phone", "limit_sul", "limit_wc", "mfar", "mgmt_api_read",
    "my_account_authentication_method_failed", "my_account_authentication_method_succeeded",
    "oidc_backchannel_logout_failed", "oidc_backchannel_logout_succeeded", "organization_member_added",
    "passkey_challenge_failed", "passkey_challenge_started", "pla", "pwd_leak", "reset_pwd_leak",
    "resource_cleanup", "rich_consents_access_error", "s", "sapi", "sce", "scoa", "scp", "scpn", "scpr",
    "scu", "scv", "sd", "sdel", "sdeleacft", "sdelsa", "seacft", "seccft", "secte", "sede", "sens",
    "seoobft", "seotpft", "sepft", "sepkoobft", "sepkotpft", "sepkrcft", "sercft", "sertft", "seta", "si",
    "slo", "srrt", "ss", "ss_sso_failure", "ss_sso_info", "ss_sso_success", "ssa", "sscim",
    "success_on_behalf_of_token_exchange", "sui", "sv", "svr", "ublkdu", "universal_logout_failed",
    "universal_logout_succeeded", "w", "wn", "wum",

)  # fmt: skip
_OTHER = "a tenant log of another kind (login, token, MFA, configuration...): no Customer.io semantic event"
IGNORED: dict[str, str] = {
    **dict.fromkeys(DOCUMENTED_TYPES, _OTHER),
    "fdu": "the deletion failed: the person still exists",
    "ss": "a sign-up: Customer.io learns of people from your app's identify calls, not from the auth log",
    "sapi": "a Management API call; when it deletes a user, the connection also logs sdu, which is sent",
    "du": "the legacy 'Deleted User' code Auth0 no longer lists; current tenants log sdu",
}


def parse_records(body: bytes) -> list[dict[str, Any]]:
    """The posted log records, whatever content format the stream uses; else ``InvalidPayload``."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidPayload("body is not UTF-8") from None
    try:
        parsed = loads_json(text)
        records = parsed if isinstance(parsed, list) else [parsed]
    except json.JSONDecodeError:
        # JSON Lines: one record per line (a single record is valid JSON and was handled above).
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(loads_json(line))
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
    ignored_types: ClassVar[Mapping[str, str]] = IGNORED
    mapped_types: ClassVar[Mapping[str, str]] = dict.fromkeys(USER_DELETED_TYPES, UserDeleted.name)
    secret_headers: ClassVar[frozenset[str]] = frozenset({"authorization"})

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        self.rules = IdentityRules.from_settings(self.settings, "AUTH0", ("user_id",))

    def authenticate(self, request: WebhookRequest) -> None:
        if (expected := self.secret_or_open(SECRET)) is not None:
            # The whole header, exactly as typed in the stream's settings (scheme included).
            credentials.require(request.header("authorization"), expected, "Authorization header")

    @classmethod
    def sign(cls, request: WebhookRequest, key: str) -> WebhookRequest:
        return credentials.with_header(request, "authorization", key)

    def translate(self, request: WebhookRequest) -> Translation:
        translation = Translation()
        for index, record in enumerate(parse_records(request.body)):
            kind = record["data"]["type"]
            if kind in USER_DELETED_TYPES:
                with translation.item(f"record {index} ({kind})"):
                    translation.events.append(self._user_deleted(index, record))
            else:
                (translation.ignored if kind in IGNORED else translation.unknown)[kind[:64]] += 1
        return translation

    def _user_deleted(self, index: int, record: dict[str, Any]) -> UserDeleted:
        where = f"record {index} ({record['data']['type']})"
        data = record["data"]
        log_id = record.get("log_id") or data.get("log_id")
        if not isinstance(log_id, str) or not log_id:
            raise InvalidPayload(f"{where}: no log_id")
        try:
            # No fallback: the deletion must name its user (User Deleted requires a userId).
            identity = self.rules.resolve(data, None)
        except NoIdentity:
            raise InvalidPayload(f"{where}: no user id in {', '.join(self.rules.user_id_keys)}") from None
        timestamp = optional_timestamp(data.get("date"), f"{where}: date")
        return build(UserDeleted, {**identity, "messageId": ids.message_id(self.full_name(), log_id), "timestamp": timestamp}, where)


SOURCE = Auth0
