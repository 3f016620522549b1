"""Mailgun webhooks: the samples in events/samples/email/mailgun (credited in its README), the
signature (Symfony's Mailgun fixtures are signed with the key of its test: a real vector), stale
timestamps, token replays, the 406 for authentic non-events, and the email policy."""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ciohooks.config import Settings
from ciohooks.ingest import Ingest
from ciohooks.queue import MemoryQueue
from ciohooks.sources import InvalidPayload, NotConfigured, Unauthorized, load
from ciohooks.sources.email.mailgun import SOURCE, Mailgun, expected_signature
from tests.support.sources import Harness

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "samples" / "email" / "mailgun"
SOURCE_NAME = "email/mailgun"
# symfony/symfony src/Symfony/Component/Mailer/Bridge/Mailgun/Tests/Webhook/MailgunRequestParserTest.php
VECTOR_KEY = "key-0p6mqbf74lb20gzq9f4dhpn9rg3zyk26"
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.31 (KHTML, like Gecko) Chrome/26.0.1410.43 Safari/537.31"
EMAIL = "alice@example.com"
VARIABLES_USER_KEY = "my_var_1"  # a user-variable of the samples, used as the user id key


harness = Harness("email/mailgun")
source, post, translate, one, sample = harness.source, harness.post, harness.translate, harness.one, harness.sample


def document(name: str) -> dict[str, Any]:
    return json.loads(sample(name))


def changed(name: str, **fields: Any) -> bytes:
    """A sample with event-data fields changed (documented fields the sample lacks)."""
    doc = document(name)
    doc["event-data"].update(fields)
    return json.dumps(doc).encode()


def stamp(name: str) -> int:
    return int(document(name)["signature"]["timestamp"])


# ---- the samples, translated ---------------------------------------------------------------------

ENGAGED = {"traits": {"email": EMAIL, "ip": "50.56.129.169", "user_agent": UA}}
MAPPED = {
    "delivered.json": ("Email Delivered", "CPgfbmQMTCKtHW6uIWtuVe", "delivered", "1521472262.000002", "2018-03-19T15:11:02.000002Z",
                       {"email_id": "20130503182626.18666.16540@app.symfony.com", "email_subject": "Test delivered webhook"}, {"traits": {"email": EMAIL}}),
    "permanent_failure.json": ("Email Bounced", "G9Bn5sl1TC6nu79C8C0bwg", "failed", "1521233195.375624", "2018-03-16T20:46:35.375624Z",
                               {"email_id": "20130503192659.13651.20287@app.symfony.com", "email_subject": "Test permanent_fail webhook",
                                "reason": "bounce", "severity": "permanent", "bounce_code": 550, "bounce_message": "No Such User Here"}, {"traits": {"email": EMAIL}}),
    "opens.json": ("Email Opened", "Ase7i2zsRYeDXztHGENqRA", "opened", "1521243339.873676", "2018-03-16T23:35:39.873676Z",
                   {"email_id": "20130503182626.18666.16540@app.symfony.com"}, ENGAGED),
    "clicks.json": ("Email Link Clicked", "Ase7i2zsRYeDXztHGENqRA", "clicked", "1521243339.873676", "2018-03-16T23:35:39.873676Z",
                    {"email_id": "20130503182626.18666.16540@app.symfony.com"}, ENGAGED),
    "unsubscribes.json": ("Email Unsubscribed", "Ase7i2zsRYeDXztHGENqRA", "unsubscribed", "1521243339.873676", "2018-03-16T23:35:39.873676Z",
                          {"email_id": "20130503182626.18666.16540@app.symfony.com"}, ENGAGED),
    "spam_complaints.json": ("Email Marked as Spam", "-Agny091SquKnsrW2NEKUA", "complained", "1521233123.501324", "2018-03-16T20:45:23.501324Z",
                             {"email_id": "20110215055645.25246.63817@app.symfony.com", "email_subject": "Test complained webhook"}, {"traits": {"email": EMAIL}}),
}  # fmt: skip


# UUIDv5 of event-data.id, the event type and the raw timestamp of each sample (pinned literals).
MESSAGE_IDS = {
    "delivered.json": "fd0f4f35-c6e3-5a5c-adac-e31d8f69c546",
    "permanent_failure.json": "0dae287d-0d78-504d-89cb-e803602e047a",
    "opens.json": "7357b3f6-3467-5717-b39a-5c8e0f720c01",
    "clicks.json": "bc02b587-ab27-57f0-b038-5dfd721945e9",
    "unsubscribes.json": "f22da961-37fb-5660-a9d4-2c2efb1d6112",
    "spam_complaints.json": "f9b9bb00-11f2-59ca-8727-e22934a40d65",
}


@pytest.mark.parametrize("name", sorted(MAPPED))
def test_sample_translates_to_exactly_this(name: str) -> None:
    event, event_id, kind, raw_time, time, properties, context = MAPPED[name]
    assert one(sample(name)) == {
        "type": "track",
        "event": event,
        "anonymousId": EMAIL,
        "messageId": MESSAGE_IDS[name],
        "timestamp": time,
        "properties": properties,
        "context": context,
    }


@pytest.mark.parametrize(("name", "key"), [("accepted.json", "accepted"), ("temporary_failure.json", "failed:temporary")])
def test_untranslated_samples_are_counted(name: str, key: str) -> None:
    assert translate(sample(name)) == ([], Counter({key: 1}))


def test_message_ids_differ_although_the_test_webhooks_share_an_event_id() -> None:
    ids_seen = {one(sample(name))["messageId"] for name in ("opens.json", "clicks.json", "unsubscribes.json")}
    assert len(ids_seen) == 3
    assert one(sample("opens.json"))["messageId"] == "7357b3f6-3467-5717-b39a-5c8e0f720c01"  # pinned


def test_email_id_loses_angle_brackets_and_whitespace() -> None:
    doc = document("delivered.json")
    doc["event-data"]["message"]["headers"]["message-id"] = " <20130503182626.18666.16540@app.symfony.com> "
    assert one(json.dumps(doc).encode())["properties"]["email_id"] == "20130503182626.18666.16540@app.symfony.com"


def test_click_url_becomes_link_url() -> None:
    body = one(changed("clicks.json", url="https://example.com/pricing"))
    assert body["properties"]["link_url"] == "https://example.com/pricing"


def test_event_without_id_gets_a_content_id() -> None:
    doc = document("delivered.json")
    del doc["event-data"]["id"]
    assert one(json.dumps(doc).encode())["messageId"] == "b0b63f3f-623f-5d7f-a42f-69aef6e80c78"  # UUIDv5 of the canonical event-data


# ---- identity ------------------------------------------------------------------------------------


def test_user_variable_gives_the_user_id_and_email_stays_a_trait() -> None:
    body = one(sample("opens.json"), MAILGUN_USER_ID_KEYS=f"missing,{VARIABLES_USER_KEY}")
    assert body["userId"] == "Mailgun Variable #1" and "anonymousId" not in body
    assert body["context"]["traits"]["email"] == EMAIL


def test_default_user_id_key_and_email_as_user_id() -> None:
    assert one(changed("delivered.json", **{"user-variables": {"user_id": "u-7"}}))["userId"] == "u-7"
    body = one(sample("delivered.json"), MAILGUN_EMAIL_AS="userId")
    assert body["userId"] == EMAIL and "anonymousId" not in body


def test_user_variables_as_an_empty_list_are_no_variables() -> None:
    # Mailgun's current docs show "user-variables": [] when there are none.
    assert one(changed("delivered.json", **{"user-variables": []}))["anonymousId"] == EMAIL


# ---- policy --------------------------------------------------------------------------------------


def test_temporary_failure_is_a_bounce_when_soft_bounces_count() -> None:
    body = one(sample("temporary_failure.json"), MAILGUN_SOFT_BOUNCES="bounce")
    assert body["event"] == "Email Bounced"
    assert body["properties"]["severity"] == "temporary" and body["properties"]["bounce_code"] == 452


@pytest.mark.parametrize("reason", ["suppress-bounce", "suppress-unsubscribe", "suppress-complaint"])
def test_suppressed_recipients_are_not_new_bounces(reason: str) -> None:
    assert translate(changed("permanent_failure.json", reason=reason)) == ([], Counter({f"failed:{reason}": 1}))


def test_esp_block_follows_the_block_policy() -> None:
    # Email policy: a block is not a bounce unless EMAIL_BLOCKS / MAILGUN_BLOCKS says bounce.
    block = changed("permanent_failure.json", reason="espblock")
    assert translate(block) == ([], Counter({"failed:espblock": 1}))
    assert one(block, MAILGUN_BLOCKS="bounce")["event"] == "Email Bounced"


@pytest.mark.parametrize("kind", ["accepted", "rejected", "stored", "list_member_uploaded", "list_member_upload_error", "list_uploaded"])
def test_documented_types_not_mapped_are_ignored_on_purpose(kind: str) -> None:
    assert translate(changed("accepted.json", event=kind)) == ([], Counter({kind: 1}))


def test_an_unknown_type_is_kept() -> None:
    translation = harness.translation(changed("delivered.json", event="archived"))
    assert translation.unknown == Counter({"archived": 1}) and not translation.events


def test_a_recipient_with_a_display_name_is_identified_by_the_address() -> None:
    body = one(changed("delivered.json", recipient="Alice <Alice@Example.com>"))
    assert body["anonymousId"] == "alice@example.com" and body["context"]["traits"]["email"] == "alice@example.com"


@pytest.mark.parametrize("bot", ["apple", "gmail", "generic"])
def test_bot_opens_are_flagged_and_can_be_dropped(bot: str) -> None:
    doc = document("opens.json")
    doc["event-data"]["client-info"]["bot"] = bot
    body = json.dumps(doc).encode()
    assert one(body)["properties"]["bot"] == bot and one(body)["properties"]["machine_open"] is True
    assert translate(body, MAILGUN_MACHINE_OPENS="drop") == ([], Counter({"opened:bot": 1}))


def test_an_empty_bot_field_is_a_human_open() -> None:
    doc = document("opens.json")
    doc["event-data"]["client-info"]["bot"] = ""
    body = one(json.dumps(doc).encode(), MAILGUN_MACHINE_OPENS="drop")
    assert body["event"] == "Email Opened" and "bot" not in body["properties"]


def test_first_opens_setting_cannot_filter_mailgun_opens() -> None:
    assert one(sample("opens.json"), MAILGUN_OPENS="first")["event"] == "Email Opened"


# ---- payloads that cannot be translated ----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[]", "no event-data"),
        (b'{"event-data": {"id": "x"}}', "no event type"),
        (changed("delivered.json", recipient=""), "no address in recipient"),
        (changed("delivered.json", timestamp="yesterday"), "timestamp"),
        (changed("permanent_failure.json", severity="fatal"), "severity"),
        (changed("delivered.json", message={"headers": {}}), "no message.headers.message-id"),
    ],
)
def test_untranslatable_payloads_fail_whole_without_values(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidPayload, match=reason) as caught:
        source().translate(post(body))
    assert "@" not in str(caught.value) and "yesterday" not in str(caught.value)


# ---- authentication ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["delivered.json", "permanent_failure.json", "temporary_failure.json", "clicks.json", "opens.json", "unsubscribes.json", "spam_complaints.json"])
def test_symfony_vectors_verify(name: str) -> None:
    source(MAILGUN_SIGNING_KEY=VECTOR_KEY).authenticate(post(sample(name), received=stamp(name) + 5))


def test_the_documented_algorithm() -> None:
    block = document("delivered.json")["signature"]
    assert expected_signature(VECTOR_KEY, block["timestamp"], block["token"]) == block["signature"]


def test_wrong_key_is_refused() -> None:
    with pytest.raises(Unauthorized, match="does not match"):
        source(MAILGUN_SIGNING_KEY="key-wrong").authenticate(post(sample("delivered.json"), received=stamp("delivered.json")))


def test_any_of_several_keys_verifies_during_a_rotation() -> None:
    source(MAILGUN_SIGNING_KEY=f"key-new, {VECTOR_KEY}").authenticate(post(sample("delivered.json"), received=stamp("delivered.json")))


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        (None, "missing"),
        ({"timestamp": "1661621787", "token": "t"}, "missing"),
        ({"timestamp": "soon", "token": "t", "signature": "s"}, "not unix seconds"),
        ({"timestamp": "1661621787", "token": "d1931d9645b65e60f6fddf94448e982ff8db9256144a7fcb15", "signature": "00" * 32}, "does not match"),
        # a forged token with the genuine signature of another token
        ({"timestamp": "1661621787", "token": "forged", "signature": "1aed11dcc25700d6b75f9a6d568343ea02ecdd3fc89cc3209e2883a19e5cdd50"}, "does not match"),
        # the genuine signature with a shifted timestamp
        ({"timestamp": "1661621788", "token": "d1931d9645b65e60f6fddf94448e982ff8db9256144a7fcb15", "signature": "1aed11dcc25700d6b75f9a6d568343ea02ecdd3fc89cc3209e2883a19e5cdd50"}, "does not match"),
    ],
)
def test_forged_or_malformed_signatures_are_refused(signature: dict[str, str] | None, reason: str) -> None:
    doc = document("delivered.json")
    if signature is None:
        del doc["signature"]
    else:
        doc["signature"] = signature
    with pytest.raises(Unauthorized, match=reason) as caught:
        source(MAILGUN_SIGNING_KEY=VECTOR_KEY).authenticate(post(json.dumps(doc).encode(), received=1661621787))
    assert VECTOR_KEY not in str(caught.value) and "1aed11dc" not in str(caught.value)


def test_parent_signature_of_a_subaccount_event_verifies_with_the_primary_key() -> None:
    doc = document("delivered.json")
    block = doc["signature"]
    block["parent-signature"] = expected_signature("key-primary", block["timestamp"], block["token"])
    block["signature"] = expected_signature("key-subaccount", block["timestamp"], block["token"])
    source(MAILGUN_SIGNING_KEY="key-primary").authenticate(post(json.dumps(doc).encode(), received=stamp("delivered.json")))


def test_stale_signatures_are_refused_after_the_retry_window() -> None:
    when = stamp("delivered.json")
    mailgun = source(MAILGUN_SIGNING_KEY=VECTOR_KEY)
    mailgun.authenticate(post(sample("delivered.json"), received=when + 8 * 3600))  # Mailgun's last retry
    with pytest.raises(Unauthorized, match="old"):
        source(MAILGUN_SIGNING_KEY=VECTOR_KEY).authenticate(post(sample("delivered.json"), received=when + 9 * 3600 + 1))
    with pytest.raises(Unauthorized, match="future"):
        source(MAILGUN_SIGNING_KEY=VECTOR_KEY).authenticate(post(sample("delivered.json"), received=when - 301))
    with pytest.raises(Unauthorized, match="old"):
        source(MAILGUN_SIGNING_KEY=VECTOR_KEY).authenticate(post(sample("delivered.json")))  # the real clock


def test_tolerance_is_configurable() -> None:
    late = post(sample("delivered.json"), received=stamp("delivered.json") + 301)
    with pytest.raises(Unauthorized, match="300 s old"):
        source(MAILGUN_SIGNING_KEY=VECTOR_KEY, MAILGUN_TOLERANCE_SECONDS="300").authenticate(late)
    with pytest.raises(NotConfigured):
        source(MAILGUN_SIGNING_KEY=VECTOR_KEY, MAILGUN_TOLERANCE_SECONDS="-1").authenticate(late)


def test_a_token_reused_with_another_payload_is_refused() -> None:
    mailgun = source(MAILGUN_SIGNING_KEY=VECTOR_KEY)
    when = stamp("delivered.json") + 1
    mailgun.authenticate(post(sample("delivered.json"), received=when))
    # The body is not signed: the same signature block on other event-data is a forgery.
    forged = changed("delivered.json", recipient="mallory@example.com")
    forged_doc = json.loads(forged)
    forged_doc["signature"] = document("delivered.json")["signature"]
    with pytest.raises(Unauthorized, match="reused"):
        mailgun.authenticate(post(json.dumps(forged_doc).encode(), received=when))


def test_an_identical_replay_is_accepted_because_it_is_what_a_retry_looks_like() -> None:
    mailgun = source(MAILGUN_SIGNING_KEY=VECTOR_KEY)
    first = post(sample("delivered.json"), received=stamp("delivered.json") + 1)
    retry = post(json.dumps(document("delivered.json")).encode(), received=stamp("delivered.json") + 600)  # re-serialised
    mailgun.authenticate(first)
    mailgun.authenticate(retry)
    assert mailgun.translate(first).events[0].messageId == mailgun.translate(retry).events[0].messageId


def test_no_key_fails_closed_and_unsigned_mode_warns(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(NotConfigured, match="MAILGUN_SIGNING_KEY"):
        source().authenticate(post(sample("delivered.json")))
    with caplog.at_level(logging.WARNING, logger="ciohooks.sources.email.mailgun"):
        source(ALLOW_UNSIGNED="true").authenticate(post(sample("delivered.json")))
    assert "UNSIGNED" in caplog.text and EMAIL not in caplog.text


def test_sign_makes_a_fresh_verifiable_signature_that_is_stable() -> None:
    key = "local-test-key"
    unsigned = post(sample("delivered.json"), received=1_800_000_000)
    signed = Mailgun.sign(unsigned, key)
    assert Mailgun.sign(unsigned, key).body == signed.body  # generated files do not drift
    source(MAILGUN_SIGNING_KEY=key).authenticate(signed)
    assert json.loads(signed.body)["event-data"] == document("delivered.json")["event-data"]
    with pytest.raises(Unauthorized):
        source(MAILGUN_SIGNING_KEY=VECTOR_KEY).authenticate(signed)


# ---- answer codes through ingest -------------------------------------------------------------------


def ingest_answer(body: bytes, content_type: str = "application/json", **env: str) -> tuple[int, int, int]:
    settings = Settings({"CIOHOOKS_MAILGUN_SIGNING_KEY": "k", **{f"CIOHOOKS_{k}": v for k, v in env.items()}})
    delivery, dead = MemoryQueue(), MemoryQueue()
    request = post(body, received=datetime.now(UTC).timestamp(), content_type=content_type)
    if content_type == "application/json":
        request = Mailgun.sign(request, "k")
    outcome = Ingest("email", delivery, dead, settings).handle("mailgun", request)
    return outcome.status, delivery.approximate_depth(), dead.approximate_depth()


def test_ingest_answers_200_for_queued_ignored_and_untranslatable() -> None:
    assert ingest_answer(sample("delivered.json")) == (200, 1, 0)
    assert ingest_answer(sample("accepted.json")) == (200, 0, 0)
    assert ingest_answer(changed("delivered.json", recipient="")) == (200, 0, 1)


def test_ingest_answers_406_for_an_authentic_request_that_is_no_event_webhook() -> None:
    doc = document("delivered.json")
    del doc["event-data"]
    assert ingest_answer(json.dumps(doc).encode()) == (406, 0, 0)
    # a route forward / legacy webhook: form fields carry the signature
    when = str(int(datetime.now(UTC).timestamp()))
    form = f"timestamp={when}&token=abc&signature={expected_signature('k', when, 'abc')}&sender=x".encode()
    assert ingest_answer(form, content_type="application/x-www-form-urlencoded") == (406, 0, 0)


def test_ingest_never_answers_406_for_what_a_retry_can_fix() -> None:
    settings = Settings({"CIOHOOKS_MAILGUN_SIGNING_KEY": "k"})
    ingest = Ingest("email", MemoryQueue(), MemoryQueue(), settings)
    assert ingest.handle("mailgun", post(sample("delivered.json"))).status == 401  # stale/forged: Mailgun retries
    unconfigured = Ingest("email", MemoryQueue(), MemoryQueue(), Settings({"CIOHOOKS_SOURCES": "mailgun"}))  # listed: fail closed
    assert unconfigured.handle("mailgun", post(sample("delivered.json"))).status == 503


def test_catalog_loads_this_source() -> None:
    assert load("email/mailgun") is Mailgun is SOURCE
    assert Mailgun.full_name() == SOURCE_NAME and Mailgun.docs_url.startswith("https://documentation.mailgun.com/")
