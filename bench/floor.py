"""The floor: SendGrid and Mailjet translated by plain dict-to-dict code, with no validation.

What an unvalidated peer does (copy fields from the provider's JSON into Customer.io's), written
as directly as Python allows, for the default settings only. ``make bench`` times the real path
(sources + the semantic models) against it on the same 1,000-event payloads; its output is the
real path's, dict for dict and key for key (tests/unit/test_bench_floor.py), so both do the same
work and the ratio is the price of the guarantee. Never used to translate anything for real.

It parses with ``json.loads``, the standard parser a peer uses; the real path parses with
``request.loads_json`` (msgspec, then ``json.loads`` for what msgspec refuses), one of the levers
issue 17 names. So that the parser does not hide the price of validation, ``make bench`` also
prints the ratio with each side's parse taken out.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from ciohooks.ids import message_id

_PLAIN = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+")
_OLD_X_MESSAGE_ID = re.compile(r"([0-9a-f]+\.[0-9a-f]+\.[0-9a-f]+)(?:\.|$)")


def _stamp(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- SendGrid -----------------------------------------------------------------------------------

SENDGRID = {
    "delivered": "Email Delivered",
    "open": "Email Opened",
    "click": "Email Link Clicked",
    "bounce": "Email Bounced",
    "spamreport": "Email Marked as Spam",
    "unsubscribe": "Email Unsubscribed",
    "group_unsubscribe": "Email Unsubscribed",
}
SENDGRID_ENGAGEMENT = frozenset({"open", "click", "spamreport", "unsubscribe", "group_unsubscribe"})


def sendgrid(body: bytes) -> list[dict[str, Any]]:
    out = []
    for raw in json.loads(body):
        kind = raw["event"]
        name = SENDGRID.get(kind)
        if name is None or (kind == "bounce" and (raw.get("type") == "blocked" or not raw.get("sg_message_id"))):
            continue
        sg_message_id = raw["sg_message_id"]
        old = _OLD_X_MESSAGE_ID.match(sg_message_id)
        properties: dict[str, Any] = {"email_id": old.group(1) if old else sg_message_id.partition(".")[0]}
        for key in ("email_subject", "campaign_id", "campaign_name"):
            if (value := raw.get(key)) is not None:
                properties[key] = value
        if kind == "click":
            properties["link_url"] = raw["url"]
            if "url_offset" in raw:
                properties["url_offset"] = raw["url_offset"]
        elif kind == "open":
            if "sg_machine_open" in raw:
                properties["machine_open"] = raw["sg_machine_open"]
        elif kind == "bounce":
            for key in ("reason", "status", "type", "bounce_classification"):
                if key in raw:
                    properties[key] = raw[key]
        elif kind == "group_unsubscribe":
            properties["list_id"] = str(raw["asm_group_id"])
        email = raw["email"].lower()
        traits = {"email": email}
        if kind in SENDGRID_ENGAGEMENT:
            if "ip" in raw:
                traits["ip"] = raw["ip"]
            if "useragent" in raw:
                traits["user_agent"] = raw["useragent"]
        identity = {"userId": str(raw["user_id"])} if raw.get("user_id") else {"anonymousId": email}
        out.append({
            "type": "track",
            "event": name,
            **identity,
            "messageId": message_id("email/sendgrid", raw["sg_event_id"]),
            "timestamp": _stamp(raw["timestamp"]),
            "context": {"traits": traits},
            "properties": properties,
        })
    return out


# ---- Mailjet ------------------------------------------------------------------------------------

MAILJET = {
    "sent": "Email Delivered",
    "open": "Email Opened",
    "click": "Email Link Clicked",
    "bounce": "Email Bounced",
    "spam": "Email Marked as Spam",
    "unsub": "Email Unsubscribed",
}
MAILJET_ENGAGEMENT = frozenset({"open", "click", "unsub"})


def mailjet(body: bytes) -> list[dict[str, Any]]:
    parsed = json.loads(body)
    out = []
    for raw in parsed if isinstance(parsed, list) else [parsed]:
        kind = raw["event"]
        name = MAILJET.get(kind)
        if name is None or (kind == "bounce" and raw.get("hard_bounce") is not True):
            continue
        properties: dict[str, Any] = {"email_id": str(raw.get("MessageID") or raw["mj_message_id"])}
        if raw.get("mj_campaign_id") not in (None, "", 0, "0"):
            properties["campaign_id"] = str(raw["mj_campaign_id"])
        if raw.get("customcampaign"):
            properties["campaign_name"] = raw["customcampaign"]
        if kind == "click" and raw.get("url") is not None:
            properties["link_url"] = raw["url"]
        elif kind == "unsub" and raw.get("mj_list_id") not in (None, "", 0, "0"):
            properties["list_id"] = str(raw["mj_list_id"])
        if raw.get("CustomID"):
            properties["custom_id"] = raw["CustomID"]
        if raw.get("Message_GUID"):
            properties["message_guid"] = raw["Message_GUID"]
        if kind == "bounce":
            for key in ("hard_bounce", "blocked", "error_related_to", "error", "comment"):
                if raw.get(key) is not None:
                    properties[key] = raw[key]
            properties["bounce_type"] = "hard"
        elif kind == "spam" and raw.get("source") is not None:
            properties["source"] = raw["source"]
        email = raw["email"].lower()
        traits = {"email": email}
        if kind in MAILJET_ENGAGEMENT:
            if raw.get("ip"):
                traits["ip"] = raw["ip"]
            if raw.get("agent"):
                traits["user_agent"] = raw["agent"]
        payload = raw.get("Payload")
        user_id = json.loads(payload).get("user_id") if isinstance(payload, str) and payload.startswith("{") else None
        identity = {"userId": str(user_id)} if user_id else {"anonymousId": email}
        canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        out.append({
            "type": "track",
            "event": name,
            **identity,
            "messageId": message_id("email/mailjet", canonical),
            "timestamp": _stamp(raw["time"]),
            "context": {"traits": traits},
            "properties": properties,
        })
    return out
