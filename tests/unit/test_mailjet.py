"""Mailjet Event API: Mailjet's documented samples translated, exact big ids, Basic authentication.

Samples: events/samples/email/mailjet (credited in its README.md).
"""

from __future__ import annotations

import base64
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ciohooks.config import Settings
from ciohooks.ingest import Ingest
from ciohooks.local import local_keys, signing_key
from ciohooks.queue import MemoryQueue
from ciohooks.sources import InvalidPayload, NotConfigured, Unauthorized, load
from ciohooks.sources.email.mailjet import SOURCE, Mailjet, exact_id, parse_events
from tests.support.sources import Harness

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "events" / "samples" / "email" / "mailjet"
NAME = "email/mailjet"
CREDENTIALS = "hooks:s3cret-pass"


harness = Harness("email/mailjet")
source, post, translate, one, sample = harness.source, harness.post, harness.translate, harness.one, harness.sample


def event(name: str, **changes: Any) -> dict[str, Any]:
    raw = json.loads(sample(name))
    raw.update(changes)
    return raw


def basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


# ---- the documented samples ---------------------------------------------------------------------


def test_sent_is_delivered_with_the_exact_message_id() -> None:
    assert one(sample("sent.json")) == {
        "type": "track",
        "event": "Email Delivered",
        "anonymousId": "api@mailjet.com",
        "messageId": "000aa701-0c65-52e2-b024-e13e0d944369",  # UUIDv5 of the canonical event
        "timestamp": "2015-06-03T12:19:09Z",
        "properties": {
            "email_id": "19421777835146490",
            "campaign_id": "7257",
            "custom_id": "helloworld",
            "message_guid": "1ab23cd4-e567-8901-2345-6789f0gh1i2j",
        },
        "context": {"traits": {"email": "api@mailjet.com"}},
    }


def test_message_ids_beyond_2_53_keep_every_digit() -> None:
    # 19421777835146490 > 2**53: a float (a JavaScript number) would turn it into 19421777835146488.
    assert int(float(19421777835146490)) != 19421777835146490
    assert json.loads(sample("open.json"))["MessageID"] == 19421777396190490
    assert one(sample("open.json"))["properties"]["email_id"] == "19421777396190490"
    assert one(sample("click.json"))["properties"]["email_id"] == "19421777836302490"
    assert one(sample("unsub.json"))["properties"]["email_id"] == "20547674933128000"
    bodies, _ = translate(sample("grouped.json"))
    assert [b["properties"]["email_id"] for b in bodies] == ["19421777835146490", "19421777835146491"]


def test_same_id_spelled_the_same_from_message_id_or_mj_message_id() -> None:
    without = event("sent.json")
    del without["MessageID"]
    assert one(without)["properties"]["email_id"] == one(sample("sent.json"))["properties"]["email_id"]


@pytest.mark.parametrize("value", [1.9421777835146490e16, "1.942177783514649e16", True, "abc"])
def test_an_id_that_already_lost_digits_is_refused(value: Any) -> None:
    translation = source().translate(post(event("sent.json", MessageID=value)))
    assert not translation.events and len(translation.failed) == 1 and "MessageID" in translation.failed[0]


def test_exact_id() -> None:
    assert exact_id(19421777835146490) == "19421777835146490"
    assert exact_id("19421777835146490") == "19421777835146490"
    assert exact_id(None) is None and exact_id("") is None


def test_open_click_and_unsub_carry_the_recipient_traits() -> None:
    opened = one(sample("open.json"))
    assert opened["event"] == "Email Opened" and opened["timestamp"] == "2015-05-31T20:18:39Z"
    assert opened["context"]["traits"] == {"email": "api@mailjet.com", "ip": "127.0.0.1", "user_agent": "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0"}
    clicked = one(sample("click.json"))
    assert clicked["event"] == "Email Link Clicked" and clicked["properties"]["link_url"] == "https://mailjet.com"
    unsub = one(sample("unsub.json"))
    assert unsub["event"] == "Email Unsubscribed" and unsub["properties"]["list_id"] == "1"
    assert unsub["properties"]["campaign_id"] == "7276"
    assert unsub["context"]["traits"]["user_agent"].startswith("Mozilla/5.0 (Macintosh")


def test_hard_bounce_blocked_and_spam() -> None:
    bounce = one(sample("bounce.json"))
    assert bounce["event"] == "Email Bounced" and bounce["timestamp"] == "2015-05-05T07:49:55Z"
    assert bounce["properties"] == {
        "email_id": "13792286917004336",
        "custom_id": "helloworld",
        "message_guid": "1ab23cd4-e567-8901-2345-6789f0gh1i2j",
        "hard_bounce": True,
        "blocked": False,
        "error_related_to": "recipient",
        "error": "user unknown",
        "comment": "Host or domain name not found. Name service error for name=lbjsnrftlsiuvbsren.com type=A: Host not found",
        "bounce_type": "hard",
    }
    assert bounce["context"] == {"traits": {"email": "bounce@mailjet.com"}}  # mj_campaign_id 0: no campaign
    spam = one(sample("spam.json"))
    assert spam["event"] == "Email Marked as Spam" and spam["properties"]["source"] == "JMRPP"


def test_soft_bounce_follows_the_policy() -> None:
    soft = event("bounce.json", hard_bounce=False)
    assert translate(soft) == ([], Counter({"bounce:soft": 1}))
    assert one(soft, MAILJET_SOFT_BOUNCES="bounce")["properties"]["bounce_type"] == "soft"
    assert one(soft, EMAIL_SOFT_BOUNCES="bounce")["event"] == "Email Bounced"


def test_blocked_was_never_sent_and_is_never_a_bounce() -> None:
    # Mailjet's "blocked": the message was not sent at all (preblocked, duplicate...): the email
    # policy's never-sent rule, whatever MAILJET_BLOCKS says (that setting is about receiver blocks).
    assert translate(sample("blocked.json")) == ([], Counter({"blocked": 1}))
    assert translate(sample("blocked.json"), MAILJET_BLOCKS="bounce") == ([], Counter({"blocked": 1}))


def test_grouped_events_and_the_legacy_grouped_sample() -> None:
    bodies, ignored = translate(sample("grouped-v2-legacy.json"))
    assert not ignored
    assert [b["properties"]["email_id"] for b in bodies] == ["18858825588804172", "18858825588803684", "18014400413866302", "18858825588804459"]
    assert {b["properties"]["campaign_name"] for b in bodies} == {"test"}
    assert {b["properties"]["campaign_id"] for b in bodies} == {"483"}
    assert len({b["messageId"] for b in bodies}) == 4


def test_a_mixed_batch_counts_what_it_does_not_translate() -> None:
    batch = [event(n) for n in ("sent.json", "open.json", "click.json", "bounce.json", "blocked.json", "spam.json", "unsub.json")]
    batch.insert(2, {"event": "unknown_future_event", "time": 1433333949})
    translation = harness.translation(batch)
    assert [e.to_cio()["event"] for e in translation.events] == [
        "Email Delivered", "Email Opened", "Email Link Clicked", "Email Bounced", "Email Marked as Spam", "Email Unsubscribed",
    ]  # fmt: skip
    assert translation.ignored == Counter({"blocked": 1}) and translation.unknown == Counter({"unknown_future_event": 1})


def test_message_id_is_deterministic_and_pinned() -> None:
    # A literal: changing ids.NAMESPACE or the derivation would break de-duplication downstream.
    assert one(sample("sent.json"))["messageId"] == "000aa701-0c65-52e2-b024-e13e0d944369"


# ---- identity and ids --------------------------------------------------------------------------------


def test_user_id_from_a_json_payload() -> None:
    body = one(event("open.json", Payload='{"user_id": "u-42", "plan": "pro"}'))
    assert body["userId"] == "u-42" and "anonymousId" not in body
    assert body["context"]["traits"]["email"] == "api@mailjet.com"


def test_user_id_from_custom_id_when_configured() -> None:
    assert one(sample("open.json"), MAILJET_USER_ID_KEYS="CustomID")["userId"] == "helloworld"
    assert one(sample("open.json"))["anonymousId"] == "api@mailjet.com"
    assert one(event("open.json", Payload="not json"))["anonymousId"] == "api@mailjet.com"
    assert one(sample("open.json"), MAILJET_EMAIL_AS="userId")["userId"] == "api@mailjet.com"


def test_email_id_can_be_the_message_guid() -> None:
    assert one(sample("sent.json"), MAILJET_EMAIL_ID="message_guid")["properties"]["email_id"] == "1ab23cd4-e567-8901-2345-6789f0gh1i2j"


# ---- bodies that cannot be translated ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [(b"not json", "not JSON"), (b'"sent"', "event 0 is a JSON str"), (b'[{"email": "a@b.c"}]', "no event type"), (b"[1]", "event 0 is a JSON int")],
)
def test_bodies_that_are_not_events(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidPayload, match=reason):
        parse_events(body)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({k: v for k, v in event("open.json").items() if k != "email"}, "no address in email"),
        ({k: v for k, v in event("open.json").items() if k not in ("MessageID",)}, "no MessageID"),
        (event("open.json", time="yesterday"), "neither epoch time nor ISO"),
        ({k: v for k, v in event("open.json").items() if k != "time"}, "missing"),
    ],
)
def test_one_bad_event_is_recorded_and_the_others_are_sent(raw: dict[str, Any], reason: str) -> None:
    translation = source().translate(post([event("sent.json"), raw]))
    assert [e.to_cio()["event"] for e in translation.events] == ["Email Delivered"]
    assert len(translation.failed) == 1 and translation.failed[0].startswith("event 2 (open): ") and reason in translation.failed[0]
    assert "@" not in translation.failed[0] and "yesterday" not in translation.failed[0]


# ---- Basic authentication ------------------------------------------------------------------------------


def test_valid_credentials() -> None:
    source(MAILJET_BASIC_AUTH=CREDENTIALS).authenticate(post(sample("sent.json"), {"authorization": basic(CREDENTIALS)}))
    source(MAILJET_BASIC_AUTH=CREDENTIALS).authenticate(post(sample("sent.json"), {"authorization": "basic " + basic(CREDENTIALS).split()[1]}))


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        (basic("hooks:wrong"), "Basic Authorization header does not match"),
        (basic("other:s3cret-pass"), "Basic Authorization header does not match"),
        (basic(CREDENTIALS + "x"), "Basic Authorization header does not match"),
        ("Bearer " + CREDENTIALS, "missing or malformed"),
        ("Basic not-base64!", "missing or malformed"),
        ("Basic", "missing or malformed"),
    ],
)
def test_wrong_or_missing_credentials_are_refused(header: str | None, reason: str) -> None:
    headers = {} if header is None else {"authorization": header}
    with pytest.raises(Unauthorized, match=reason) as caught:
        source(MAILJET_BASIC_AUTH=CREDENTIALS).authenticate(post(sample("sent.json"), headers))
    assert "s3cret" not in str(caught.value)


def test_no_secret_fails_closed() -> None:
    with pytest.raises(NotConfigured, match="MAILJET_BASIC_AUTH"):
        source().authenticate(post(sample("sent.json"), {"authorization": basic(CREDENTIALS)}))
    with pytest.raises(NotConfigured, match="user:password"):
        source(MAILJET_BASIC_AUTH="nocolon").authenticate(post(sample("sent.json"), {"authorization": basic("nocolon")}))


def test_allow_unsigned_is_loud(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="ciohooks.sources.email.mailjet"):
        source(ALLOW_UNSIGNED="true").authenticate(post(sample("sent.json")))
    assert "UNAUTHENTICATED" in caplog.text
    with pytest.raises(Unauthorized):
        source(MAILJET_BASIC_AUTH=CREDENTIALS, ALLOW_UNSIGNED="true").authenticate(post(sample("sent.json")))


def test_replay_is_harmless_same_message_ids() -> None:
    # No timestamp is signed, so a captured request authenticates again; it yields the same ids.
    request = Mailjet.sign(post(sample("grouped.json")), CREDENTIALS)
    mailjet = source(MAILJET_BASIC_AUTH=CREDENTIALS)
    mailjet.authenticate(request)
    mailjet.authenticate(request)
    assert [e.messageId for e in mailjet.translate(request).events] == [e.messageId for e in mailjet.translate(request).events]


def test_through_ingest_credentials_are_never_stored() -> None:
    settings = Settings({"CIOHOOKS_MAILJET_BASIC_AUTH": CREDENTIALS})
    delivery, dead = MemoryQueue(), MemoryQueue()
    ingest = Ingest("email", delivery, dead, settings)
    assert ingest.handle("mailjet", post(sample("sent.json"), {"authorization": basic("x:y")})).status == 401
    ok = ingest.handle("mailjet", post(sample("grouped.json"), {"authorization": basic(CREDENTIALS)}))
    assert ok.status == 200 and delivery.approximate_depth() == 1
    broken = ingest.handle("mailjet", post(b"[1]", {"authorization": basic(CREDENTIALS)}))
    assert broken.status == 200 and dead.approximate_depth() == 1  # authentic but untranslatable: kept whole
    stored = json.dumps([m.body for m in dead.receive(max_messages=10, wait_seconds=0)])
    assert "authorization" not in stored.lower() and base64.b64encode(CREDENTIALS.encode()).decode() not in stored


def test_local_key_signs_samples() -> None:
    key = signing_key(Mailjet, ROOT / "events" / "keys")
    request = Mailjet.sign(post(sample("open.json")), key)
    Mailjet(Settings(local_keys(ROOT / "events" / "keys"))).authenticate(request)


def test_catalog_loads_this_source() -> None:
    assert load(NAME) is Mailjet is SOURCE and Mailjet.ack_status == 200
