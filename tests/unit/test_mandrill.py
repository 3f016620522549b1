"""Mailchimp Transactional (Mandrill) webhooks: the samples in events/samples/email/mandrill (credited
in its README), the URL + sorted-params signature, the HEAD probe and the configured URL."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest

from ciohooks.config import Settings
from ciohooks.ingest import Ingest
from ciohooks.queue import MemoryQueue
from ciohooks.sources import InvalidPayload, NotConfigured, Unauthorized, load
from ciohooks.sources.email.mandrill import SOURCE, Mandrill, form_body, signature
from tests.support.sources import Harness

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "samples" / "email" / "mandrill"
SOURCE_NAME = "email/mandrill"
EMAIL = "recipient@example.com"
MSG_ID = "abcdef012345789abcdef012345789"
KEY = "TEST_WEBHOOK_KEY"  # the key of django-anymail's Mandrill tests
HOST = "abcdefghij.lambda-url.us-east-1.on.aws"
FORM = {"content-type": "application/x-www-form-urlencoded", "host": HOST}


harness = Harness("email/mandrill", content_type=FORM["content-type"], headers={"host": HOST}, domain=HOST)
source, post, translate, one, sample = harness.source, harness.post, harness.translate, harness.one, harness.sample


def sample_events(name: str) -> list[dict[str, Any]]:
    return json.loads(dict(parse_qsl(sample(name).decode()))["mandrill_events"])


def changed(name: str, **fields: Any) -> bytes:
    events = sample_events(name)
    events[0].update(fields)
    return form_body(events)


def signed(body: bytes, url: str = f"https://{HOST}/mandrill", key: str = KEY) -> dict[str, str]:
    """The header computed the way Mandrill's docs (and anymail's tests) describe, independently."""
    data = url + "".join(k + v for k, v in sorted(parse_qsl(body.decode(), keep_blank_values=True)))
    return {"x-mandrill-signature": base64.b64encode(hmac.new(key.encode(), data.encode(), hashlib.sha1).digest()).decode()}


# ---- the samples, translated ---------------------------------------------------------------------


def test_delivered_is_email_delivered() -> None:
    # Mailchimp's webhook docs: "Delivered: message has received a response from the recipient's mail
    # server indicating successful delivery" (delivered.form: anymail's send event relabelled, README).
    assert one(sample("delivered.form")) == {
        "type": "track",
        "event": "Email Delivered",
        "anonymousId": EMAIL,
        "messageId": "81a668bf-cf8d-5b34-8826-03b83a839521",
        "timestamp": "2016-04-19T19:47:26Z",
        "properties": {"email_id": MSG_ID, "email_subject": "Webhook Test"},
        "context": {"traits": {"email": EMAIL}},
    }


def test_send_means_accepted_by_mandrill_and_is_ignored() -> None:
    # "Sent: message has been sent successfully": Mandrill's own step, before the receiving server answers.
    assert translate(sample("send.form")) == ([], Counter({"send": 1}))


def test_hard_bounce() -> None:
    body = one(sample("hard_bounce.form"))
    assert (body["event"], body["anonymousId"]) == ("Email Bounced", "bounce@example.com")
    assert body["properties"] == {
        "email_id": MSG_ID, "email_subject": "Webhook Test", "bounce_type": "hard_bounce", "bounce_description": "bad_mailbox",
        "diag": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
    }  # fmt: skip


def test_click() -> None:
    body = one(sample("click.form"))
    assert body["event"] == "Email Link Clicked"
    assert body["properties"] == {"email_id": MSG_ID, "email_subject": "Webhook Test", "link_url": "http://example.com"}
    assert body["context"] == {"traits": {"email": EMAIL, "user_agent": "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0"}}
    assert body["messageId"] == "5f4289af-19f9-53fb-b30d-ec5d83c5421a"


def test_batch_sync_and_empty() -> None:
    bodies, ignored = translate(sample("batch.form"))
    assert [b["event"] for b in bodies] == ["Email Bounced", "Email Link Clicked"]
    assert len({b["messageId"] for b in bodies}) == 2 and ignored == Counter({"send": 1, "sync:blacklist": 1})
    assert translate(sample("sync-blacklist.form")) == ([], Counter({"sync:blacklist": 1}))
    assert translate(sample("empty.form")) == ([], Counter())


@pytest.mark.parametrize(("kind", "event"), [("open", "Email Opened"), ("spam", "Email Marked as Spam"), ("unsub", "Email Unsubscribed")])
def test_other_documented_events(kind: str, event: str) -> None:
    body = one(changed("send.form", event=kind, ip="198.51.100.4", user_agent="UA/1"))
    assert body["event"] == event
    traits = body["context"]["traits"]
    assert traits == ({"email": EMAIL, "ip": "198.51.100.4", "user_agent": "UA/1"} if kind == "open" else {"email": EMAIL})


@pytest.mark.parametrize(("kind", "key"), [("send", "send"), ("deferral", "deferral"), ("reject", "reject"), ("inbound", "inbound"), ("soft_bounce", "soft_bounce:soft")])
def test_ignored_events_are_counted(kind: str, key: str) -> None:
    assert translate(changed("send.form", event=kind)) == ([], Counter({key: 1}))


def test_soft_bounces_can_count() -> None:
    body = one(changed("hard_bounce.form", event="soft_bounce"), MANDRILL_SOFT_BOUNCES="bounce")
    assert body["event"] == "Email Bounced" and body["properties"]["bounce_type"] == "soft_bounce"


def test_metadata_gives_the_user_id() -> None:
    body = one(sample("delivered.form"), MANDRILL_USER_ID_KEYS="custom2")
    assert body["userId"] == "value2" and body["context"]["traits"]["email"] == EMAIL


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"x=1", "no mandrill_events"),
        (b"mandrill_events=nope", "not JSON"),
        (b"mandrill_events=%7B%7D", "not an array"),
    ],
)
def test_a_body_that_is_not_mandrill_events_fails_whole(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidPayload, match=reason) as caught:
        source().translate(post(body))
    assert "@" not in str(caught.value)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"msg": {}}, "event 0 has no event type"),
        ("delivered", "event 0 is a JSON str"),
        ({**sample_events("delivered.form")[0], "msg": {"_id": MSG_ID}}, "event 0 (delivered): no address in msg.email"),
        ({**sample_events("delivered.form")[0], "ts": "later"}, "event 0 (delivered): ts"),
    ],
)
def test_one_bad_event_is_recorded_and_the_others_are_sent(bad: Any, reason: str) -> None:
    translation = source().translate(post(form_body([bad, *sample_events("click.form")])))
    assert [e.to_cio()["event"] for e in translation.events] == ["Email Link Clicked"]
    assert len(translation.failed) == 1 and translation.failed[0].startswith(reason), translation.failed
    assert "@" not in translation.failed[0]


def test_an_unknown_event_type_is_kept() -> None:
    translation = source().translate(post(changed("delivered.form", event="opened_twice")))
    assert translation.unknown == Counter({"opened_twice": 1}) and not translation.events


# ---- signature -----------------------------------------------------------------------------------


def test_signature_matches_the_documented_algorithm() -> None:
    body = sample("batch.form")
    assert signature(KEY, f"https://{HOST}/mandrill", parse_qsl(body.decode())) == signed(body)["x-mandrill-signature"]


def test_valid_signature_over_the_request_url() -> None:
    source(MANDRILL_WEBHOOK_KEY=KEY).authenticate(post(sample("send.form"), signed(sample("send.form"))))
    query = post(sample("send.form"), signed(sample("send.form"), f"https://{HOST}/mandrill?a=1"), query="a=1")
    source(MANDRILL_WEBHOOK_KEY=KEY).authenticate(query)


def test_configured_url_behind_a_proxy() -> None:
    public = "https://hooks.example.com/mandrill"
    request = post(sample("send.form"), signed(sample("send.form"), public))
    with pytest.raises(Unauthorized, match="MANDRILL_WEBHOOK_URL"):
        source(MANDRILL_WEBHOOK_KEY=KEY).authenticate(request)
    source(MANDRILL_WEBHOOK_KEY=KEY, MANDRILL_WEBHOOK_URL=public).authenticate(request)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        signed(sample("send.form"), key="wrong"),
        signed(sample("click.form")),  # the signature of another body
        signed(sample("send.form"), f"http://{HOST}/mandrill"),  # another URL
    ],
)
def test_forged_or_missing_signatures_are_refused(headers: dict[str, str]) -> None:
    with pytest.raises(Unauthorized) as caught:
        source(MANDRILL_WEBHOOK_KEY=KEY).authenticate(post(sample("send.form"), headers))
    assert KEY not in str(caught.value)


def test_any_of_several_webhook_keys() -> None:
    source(MANDRILL_WEBHOOK_KEY=f"other, {KEY}").authenticate(post(sample("send.form"), signed(sample("send.form"))))


def test_no_key_fails_closed(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(NotConfigured, match="MANDRILL_WEBHOOK_KEY"):
        source().authenticate(post(sample("send.form"), signed(sample("send.form"))))
    with caplog.at_level(logging.WARNING, logger="ciohooks.sources.email.mandrill"):
        source(ALLOW_UNSIGNED="true").authenticate(post(sample("send.form")))
    assert "UNSIGNED" in caplog.text


def test_head_and_get_probes_are_answered_200_without_a_key() -> None:
    ingest = Ingest("email", MemoryQueue(), MemoryQueue(), Settings({"CIOHOOKS_SOURCES": "mandrill"}))  # listed: fail closed
    for method in ("HEAD", "GET"):
        outcome = ingest.handle("mandrill", post(b"", method=method))
        assert (outcome.status, outcome.result) == (200, "replied")
    assert ingest.handle("mandrill", post(sample("send.form"))).status == 503


def test_sign_round_trip_through_ingest() -> None:
    settings = Settings({"CIOHOOKS_MANDRILL_WEBHOOK_KEY": KEY})
    delivery = MemoryQueue()
    request = Mandrill.sign(post(sample("batch.form")), KEY)
    assert request.headers["x-mandrill-signature"] == signed(sample("batch.form"))["x-mandrill-signature"]
    assert Ingest("email", delivery, MemoryQueue(), settings).handle("mandrill", request).status == 200
    assert delivery.approximate_depth() == 1


def test_catalog_loads_this_source() -> None:
    assert load("email/mandrill") is Mandrill is SOURCE
    assert urlencode({"mandrill_events": "[]"}).encode() == sample("empty.form")
