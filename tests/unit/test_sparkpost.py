"""SparkPost event webhooks: the samples in events/samples/email/sparkpost (credited in its README),
the bounce classification table, open pixels, the validation batch, and Basic / token auth."""

from __future__ import annotations

import base64
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ciohooks.config import ConfigurationError, Settings
from ciohooks.ingest import Ingest
from ciohooks.queue import MemoryQueue
from ciohooks.sources import InvalidPayload, NotConfigured, Unauthorized, load
from ciohooks.sources.email.sparkpost import BOUNCE_CATEGORIES, SOURCE, SparkPost
from tests.support.sources import Harness

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "samples" / "email" / "sparkpost"
SOURCE_NAME = "email/sparkpost"
EMAIL = "recipient@example.com"
CREDENTIALS = "basicauthuser:mypassword"  # the Webhooks API reference's own example
UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_3) AppleWebKit/537.36"


harness = Harness("email/sparkpost")
source, post, translate, one, sample = harness.source, harness.post, harness.translate, harness.one, harness.sample


def events(name: str) -> list[dict[str, Any]]:
    return json.loads(sample(name))


def delivery_as(event_class: str, kind: str, **fields: Any) -> list[dict[str, Any]]:
    """The documented delivery sample re-labelled as another event of the same shape."""
    event = {**events("delivery.json")[0]["msys"]["message_event"], "type": kind, **fields}
    return [{"msys": {event_class: event}}]


def basic(credentials: str = CREDENTIALS) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


# ---- the samples, translated ---------------------------------------------------------------------


def test_delivery() -> None:
    assert one(sample("delivery.json")) == {
        "type": "track",
        "event": "Email Delivered",
        "anonymousId": EMAIL,
        "messageId": "e6acfe39-811a-5b58-882b-d25c978d3997",  # UUIDv5 of event_id 92356927693813856, "delivery"
        "timestamp": "2016-04-18T14:25:07Z",
        "properties": {"email_id": "000443ee14578172be22", "email_subject": "Summer deals are here!", "campaign_id": "Example Campaign Name"},
        "context": {"traits": {"email": EMAIL}},
    }


def test_hard_bounce_captured_by_anymail() -> None:
    assert one(sample("bounce-invalid-recipient.json")) == {
        "type": "track",
        "event": "Email Bounced",
        "anonymousId": "bounce@example.com",
        "messageId": "bbdf2fba-20a9-5766-a109-801d11b27863",  # UUIDv5 of event_id 84345317653491230, "bounce"
        "timestamp": "2016-06-01T23:42:28Z",
        "properties": {"email_id": "0004e3724f57753a3561", "bounce_class": "10", "error_code": "550", "reason": "550 5.1.1 ...@... Recipient address rejected: ..."},
        "context": {"traits": {"email": "bounce@example.com"}},
    }


def test_mixed_batch() -> None:
    bodies, ignored = translate(sample("mixed-batch.json"))
    assert [b["event"] for b in bodies] == ["Email Delivered", "Email Link Clicked"]
    click = bodies[1]
    assert click["properties"] == {"email_id": "000443ee14578172be22", "link_url": "http://example.com"}
    assert click["context"] == {"traits": {"email": EMAIL, "user_agent": UA}}
    assert click["messageId"] != bodies[0]["messageId"]  # the samples share one event_id
    assert ignored == Counter({"generation_failure": 1, "ab_test_completed": 1, "success": 1})


def test_list_unsubscribe() -> None:
    body = one(sample("list_unsubscribe.json"))
    assert (body["event"], body["timestamp"], body["properties"]) == ("Email Unsubscribed", "2016-06-02T19:04:40Z", {"email_id": "0004278150574660124d"})


@pytest.mark.parametrize(("name", "key"), [("delay.json", "delay"), ("injection.json", "injection"), ("generation_rejection.json", "generation_rejection"), ("bounce-undetermined.json", "bounce:soft")])
def test_untranslated_samples_are_counted(name: str, key: str) -> None:
    assert translate(sample(name)) == ([], Counter({key: 1}))


def test_spam_complaint_and_link_unsubscribe() -> None:
    assert one(delivery_as("message_event", "spam_complaint", fbtype="abuse"))["event"] == "Email Marked as Spam"
    body = one(delivery_as("unsubscribe_event", "link_unsubscribe", ip_address="127.0.0.1", user_agent=UA))
    assert body["event"] == "Email Unsubscribed" and body["context"]["traits"] == {"email": EMAIL, "ip": "127.0.0.1", "user_agent": UA}


def test_big_event_ids_keep_every_digit() -> None:
    raw = sample("delivery.json").replace(b'"event_id": "92356927693813856"', b'"event_id": 923569276938138561234')
    assert one(raw)["messageId"] == "8f4a2687-70c9-5a55-9805-fe3d1804b3ff"  # every digit of 923569276938138561234 counts


def test_email_id_can_be_the_transmission_id() -> None:
    assert one(sample("delivery.json"), SPARKPOST_EMAIL_ID="transmission_id")["properties"]["email_id"] == "65832150921904138"


def test_rcpt_meta_gives_the_user_id() -> None:
    body = one(sample("delivery.json"), SPARKPOST_USER_ID_KEYS="customKey")
    assert body["userId"] == "customValue" and "anonymousId" not in body and body["context"]["traits"]["email"] == EMAIL
    assert one(sample("delivery.json"), SPARKPOST_EMAIL_AS="userId")["userId"] == EMAIL


# ---- bounce classification and policy ------------------------------------------------------------


@pytest.mark.parametrize("bounce_class", ["10", "30"])
@pytest.mark.parametrize("kind", ["bounce", "out_of_band"])
def test_hard_classes_are_bounces(bounce_class: str, kind: str) -> None:
    body = one(delivery_as("message_event", kind, bounce_class=bounce_class, reason="x", error_code="550"))
    assert body["event"] == "Email Bounced" and body["properties"]["bounce_class"] == bounce_class


@pytest.mark.parametrize("bounce_class", ["1", "20", "21", "22", "23", "24", "40", "70"])
def test_soft_and_undetermined_classes_follow_the_soft_bounce_policy(bounce_class: str) -> None:
    event = delivery_as("message_event", "bounce", bounce_class=bounce_class)
    assert translate(event) == ([], Counter({"bounce:soft": 1}))
    assert one(event, SPARKPOST_SOFT_BOUNCES="bounce")["event"] == "Email Bounced"


@pytest.mark.parametrize("bounce_class", ["50", "51", "52", "53", "54"])
def test_block_classes_follow_the_block_policy(bounce_class: str) -> None:
    # Email policy: a block is not a bounce unless EMAIL_BLOCKS / SPARKPOST_BLOCKS says bounce.
    event = delivery_as("message_event", "out_of_band", bounce_class=bounce_class)
    assert translate(event) == ([], Counter({"out_of_band:block": 1}))
    assert one(event, SPARKPOST_BLOCKS="bounce")["event"] == "Email Bounced"


def test_the_admin_class_is_not_a_bounce() -> None:
    assert translate(delivery_as("message_event", "bounce", bounce_class="25"), SPARKPOST_SOFT_BOUNCES="bounce") == ([], Counter({"bounce:admin": 1}))


@pytest.mark.parametrize(("bounce_class", "reply"), [("60", "auto_reply"), ("80", "subscribe_request"), ("90", "unsubscribe_request"), ("100", "challenge_response")])
@pytest.mark.parametrize("kind", ["bounce", "out_of_band"])
def test_replies_are_never_bounces_whatever_the_policy(bounce_class: str, reply: str, kind: str) -> None:
    # SparkPost's classification files 90 (an unsubscribe request) under Hard and 60/100 (auto-reply,
    # challenge-response) under Soft: none is a failed delivery (email policy; django-anymail reads
    # them as auto-replies and (un)subscribe requests too).
    event = delivery_as("message_event", kind, bounce_class=bounce_class)
    assert translate(event, SPARKPOST_SOFT_BOUNCES="bounce", SPARKPOST_BLOCKS="bounce") == ([], Counter({f"{kind}:{reply}": 1}))


def test_the_table_is_sparkposts_own() -> None:
    # bounce-classification-codes.md: 20 classes, in five categories
    assert len(BOUNCE_CATEGORIES) == 20 and set(BOUNCE_CATEGORIES.values()) == {"hard", "soft", "block", "admin", "undetermined"}


def test_an_unknown_bounce_class_fails_that_event_for_a_mapping_fix() -> None:
    translation = source().translate(post(delivery_as("message_event", "bounce", bounce_class="999")))
    assert translation.failed == ["event 0 (bounce): bounce_class missing or not in SparkPost's classification table"]


def test_open_pixels() -> None:
    bottom = delivery_as("track_event", "open", user_agent=UA, ip_address="198.51.100.7")
    top = delivery_as("track_event", "initial_open", user_agent=UA)
    body = one(bottom)
    assert body["event"] == "Email Opened" and body["properties"]["sparkpost_type"] == "open"
    assert body["context"]["traits"] == {"email": EMAIL, "ip": "198.51.100.7", "user_agent": UA}
    assert translate(top) == ([], Counter({"initial_open:not_counted": 1}))
    both = {"SPARKPOST_OPEN_TYPES": "initial_open,amp_initial_open"}
    assert one(top, **both)["properties"]["sparkpost_type"] == "initial_open"
    assert translate(bottom, **both) == ([], Counter({"open:not_counted": 1}))
    assert one(delivery_as("track_event", "amp_click", target_link_url="https://x.example"))["properties"]["link_url"] == "https://x.example"


def test_prefetched_opens_are_flagged_and_can_be_dropped() -> None:
    prefetched = delivery_as("track_event", "open", user_agent_parsed={"is_prefetched": True, "is_proxy": False})
    assert one(prefetched)["properties"]["machine_open"] is True
    assert translate(prefetched, SPARKPOST_MACHINE_OPENS="drop") == ([], Counter({"open:prefetched": 1}))
    assert one(prefetched, SPARKPOST_OPENS="first")["event"] == "Email Opened"  # no first-open flag to honour


# ---- untranslatable ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"nope", "not JSON"),
        (b"{}", "not an array"),
        (b'[{"cust": {}}]', "no msys"),
    ],
)
def test_untranslatable_batches_fail_whole(body: bytes | list[Any], reason: str) -> None:
    with pytest.raises(InvalidPayload, match=reason) as caught:
        source().translate(post(body))
    assert "@" not in str(caught.value)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"msys": {"message_event": {}}}, "event 0 (message_event) has no type"),
        ({"msys": {"message_event": {"type": "delivery"}, "track_event": {"type": "open"}}}, "event 0: msys holds 2 event classes"),
        (delivery_as("message_event", "delivery", rcpt_to="", raw_rcpt_to="")[0], "event 0 (delivery): no address in rcpt_to"),
        (delivery_as("message_event", "delivery", message_id=None)[0], "event 0 (delivery): no message_id"),
        (delivery_as("message_event", "delivery", timestamp="soon")[0], "event 0 (delivery): timestamp"),
    ],
)
def test_one_bad_event_is_recorded_and_the_others_are_sent(bad: dict[str, Any], reason: str) -> None:
    translation = source().translate(post([bad, *events("delivery.json")]))
    assert [e.to_cio()["event"] for e in translation.events] == ["Email Delivered"]
    assert len(translation.failed) == 1 and translation.failed[0].startswith(reason), translation.failed
    assert "@" not in translation.failed[0]


@pytest.mark.parametrize("kind", ["amp_open", "amp_initial_open", "amp_click"])
def test_an_amp_event_without_rcpt_to_does_not_sink_the_batch(kind: str) -> None:
    # SparkPost's AMP engagement events can come without rcpt_to (and raw_rcpt_to): counted as a
    # documented absence.
    amp = {k: v for k, v in delivery_as("track_event", kind)[0]["msys"]["track_event"].items() if k not in ("rcpt_to", "raw_rcpt_to")}
    batch = [{"msys": {"track_event": amp}}, *events("delivery.json")]
    translation = source(SPARKPOST_OPEN_TYPES="amp_open,amp_initial_open").translate(post(batch))
    assert not translation.incomplete, translation.reasons()
    assert [e.to_cio()["event"] for e in translation.events] == ["Email Delivered"]
    assert translation.ignored == Counter({f"{kind}:no_rcpt_to": 1})
    # with a user id in rcpt_meta it is sent, without an email trait
    known = source(SPARKPOST_OPEN_TYPES="amp_open,amp_initial_open").translate(post([{"msys": {"track_event": {**amp, "rcpt_meta": {"user_id": "u-1"}}}}]))
    (body,) = [e.to_cio() for e in known.events]
    assert body["userId"] == "u-1" and "email" not in body.get("context", {}).get("traits", {})


def test_an_unknown_event_type_is_kept() -> None:
    translation = source().translate(post(delivery_as("message_event", "delivery_receipt")))
    assert translation.unknown == Counter({"delivery_receipt": 1}) and not translation.ignored


def test_open_types_that_are_not_opens_are_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="SPARKPOST_OPEN_TYPES"):
        source(SPARKPOST_OPEN_TYPES="open,click")


# ---- the validation batch and authentication -----------------------------------------------------


def test_validation_batch_is_answered_200_before_auth_and_queues_nothing() -> None:
    delivery, dead = MemoryQueue(), MemoryQueue()
    ingest = Ingest("email", delivery, dead, Settings({}))  # not even configured yet
    outcome = ingest.handle("sparkpost", post(sample("validation.json")))
    assert (outcome.status, outcome.result, delivery.approximate_depth(), dead.approximate_depth()) == (200, "replied", 0, 0)
    assert source().reply_before_auth(post(sample("delivery.json"))) is None


def test_basic_credentials() -> None:
    source(SPARKPOST_BASIC_AUTH=CREDENTIALS).authenticate(post(sample("delivery.json"), basic()))
    for wrong in (basic("basicauthuser:other"), {}, {"authorization": "Bearer t"}):
        with pytest.raises(Unauthorized) as caught:
            source(SPARKPOST_BASIC_AUTH=CREDENTIALS).authenticate(post(sample("delivery.json"), wrong))
        assert "mypassword" not in str(caught.value)


def test_legacy_token_header_and_either_method() -> None:
    token = {"x-messagesystems-webhook-token": "legacy-token"}
    source(SPARKPOST_WEBHOOK_TOKEN="legacy-token").authenticate(post(sample("delivery.json"), token))
    with pytest.raises(Unauthorized):
        source(SPARKPOST_WEBHOOK_TOKEN="legacy-token").authenticate(post(sample("delivery.json"), {"x-messagesystems-webhook-token": "other"}))
    both = source(SPARKPOST_WEBHOOK_TOKEN="legacy-token", SPARKPOST_BASIC_AUTH=CREDENTIALS)
    both.authenticate(post(sample("delivery.json"), token))
    both.authenticate(post(sample("delivery.json"), basic()))
    with pytest.raises(Unauthorized):
        both.authenticate(post(sample("delivery.json")))
    assert "x-messagesystems-webhook-token" in SparkPost.secret_headers


def test_nothing_configured_fails_closed(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(NotConfigured):
        source().authenticate(post(sample("delivery.json"), basic()))
    with caplog.at_level(logging.WARNING, logger="ciohooks.sources.email.sparkpost"):
        source(ALLOW_UNSIGNED="yes").authenticate(post(sample("delivery.json")))
    assert "UNAUTHENTICATED" in caplog.text


def test_sign_adds_the_basic_credentials() -> None:
    source(SPARKPOST_BASIC_AUTH=CREDENTIALS).authenticate(SparkPost.sign(post(sample("delivery.json")), CREDENTIALS))


def test_catalog_loads_this_source() -> None:
    assert load("email/sparkpost") is SparkPost is SOURCE
