"""Brevo transactional webhooks: Brevo's documented samples and django-anymail's live captures
translated, the opens policy, Basic and bearer authentication.

Samples: events/samples/email/brevo (credited in its README.md).
"""

from __future__ import annotations

import base64
import json
import logging
from collections import Counter
from pathlib import Path
from datetime import UTC, datetime
from typing import Any

import pytest

from ciohooks.config import Settings
from ciohooks.local import local_keys, signing_key
from ciohooks.sources import InvalidPayload, NotConfigured, Unauthorized, load
from ciohooks.sources.email.brevo import SOURCE, Brevo, message_id, tags
from tests.support.sources import Harness

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "events" / "samples" / "email" / "brevo"
NAME = "email/brevo"
DOCS_EMAIL = "example@domain.com"
DOCS_ID = "201798300811.5787683@relay.domain.com"
TOKEN = "brevo-test-token"
BASIC = "hooks:brevo-pass"


harness = Harness("email/brevo")
source, post, translate, one, sample = harness.source, harness.post, harness.translate, harness.one, harness.sample


def event(name: str, **changes: Any) -> dict[str, Any]:
    raw = json.loads(sample(name))
    raw.update(changes)
    return raw


# ---- the documented samples ---------------------------------------------------------------------


def test_delivered_exactly() -> None:
    assert one(sample("delivered.json")) == {
        "type": "track",
        "event": "Email Delivered",
        "anonymousId": DOCS_EMAIL,
        "messageId": "5e33e2d9-994c-5509-804b-b5fb1c2e78f3",  # UUIDv5 of the canonical event
        "timestamp": "2020-11-09T14:54:14Z",  # ts_event (no ts_epoch in this sample)
        "properties": {"email_id": DOCS_ID, "email_subject": "My first Transactional", "template_id": "22", "tags": ["transac_messages"]},
        "context": {"traits": {"email": DOCS_EMAIL}},
    }


MAPPED = {
    "hard_bounce.json": ("Email Bounced", {"bounce_type": "hard", "reason": "server is down"}),
    "spam.json": ("Email Marked as Spam", {}),
    "opened.json": ("Email Opened", {}),
    "unique_opened.json": ("Email Opened", {"first_open": True}),
    "click.json": ("Email Link Clicked", {"link_url": "https://domain.com/product"}),
    "unsubscribed.json": ("Email Unsubscribed", {"tags": ["transactionalTag"]}),
}


@pytest.mark.parametrize("name", sorted(MAPPED))
def test_documented_samples(name: str) -> None:
    semantic, extra = MAPPED[name]
    body = one(sample(name))
    assert body["event"] == semantic and body["anonymousId"] == DOCS_EMAIL
    assert body["properties"]["email_id"] == DOCS_ID
    assert extra.items() <= body["properties"].items()


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("request.json", "request"), ("deferred.json", "deferred"), ("error.json", "error"), ("soft_bounce.json", "soft_bounce:soft"),
        # never sent (a blocklisted contact; an address refused before sending): not bounces (email policy)
        ("blocked.json", "blocked"), ("invalid_email.json", "invalid_email"),
    ],
)  # fmt: skip
def test_untranslated_types_are_counted(name: str, kind: str) -> None:
    assert translate(sample(name)) == ([], Counter({kind: 1}))


def test_engagement_traits_and_timestamps() -> None:
    click = one(sample("click.json"))
    assert click["context"]["traits"] == {"email": DOCS_EMAIL, "user_agent": "Mozilla/5.0..."}  # no recipient ip sent
    assert click["timestamp"] == "2020-11-09T14:54:14Z"  # ts_epoch 1604933654, seconds in this sample
    delivered = one(sample("delivered.json"))
    assert "user_agent" not in delivered["context"]["traits"]  # sending_ip is Brevo's, never a trait
    live = one(sample("anymail-hard-bounce.json"))
    assert live["timestamp"] == "2018-03-06T19:10:23Z"  # ts_epoch in milliseconds
    assert live["properties"] == {
        "email_id": "201803011158.9876543210@smtp-relay.mailin.fr",  # brackets removed
        "tags": ["header-tag"],
        "bounce_type": "hard",
        "reason": " RecipientError: 550 5.5.0 Requested action not taken: mailbox unavailable.",
    }


def test_message_id_is_spelled_the_same_with_or_without_brackets() -> None:
    assert message_id("<201798300811.5787683@relay.domain.com>") == message_id("201798300811.5787683@relay.domain.com") == DOCS_ID
    assert one(event("delivered.json", **{"message-id": f"<{DOCS_ID}>"}))["properties"]["email_id"] == DOCS_ID


def test_tags_array_json_string_or_single() -> None:
    assert tags({"tags": ["a", "b"], "tag": "x"}) == ["a", "b"]
    assert tags({"tag": '["a", "b"]'}) == ["a", "b"]
    assert tags({"tag": "header-tag"}) == ["header-tag"]
    assert tags({}) == []


def test_proxy_open_with_no_email_is_counted() -> None:
    # Brevo's own unique_proxy_open sample has "email": "" and a contact_id above 2**53.
    assert translate(sample("unique_proxy_open.json")) == ([], Counter({"unique_proxy_open:no_email": 1}))


def test_proxy_opens_are_flagged_machine_opens() -> None:
    raw = event("unique_proxy_open.json", email=DOCS_EMAIL)
    body = one(raw)
    assert body["properties"]["machine_open"] is True and body["properties"]["first_open"] is True
    assert body["timestamp"] == "2024-08-22T10:33:29.710000Z"
    assert translate(raw, BREVO_MACHINE_OPENS="drop") == ([], Counter({"unique_proxy_open:machine": 1}))
    later = event("unique_proxy_open.json", email=DOCS_EMAIL, event="proxy_open")
    assert one(later)["properties"]["machine_open"] is True
    assert translate(later, EMAIL_OPENS="first") == ([], Counter({"proxy_open:not_first": 1}))


def test_first_opens_only() -> None:
    assert translate(sample("opened.json"), BREVO_OPENS="first") == ([], Counter({"opened:not_first": 1}))
    assert one(sample("unique_opened.json"), BREVO_OPENS="first")["event"] == "Email Opened"


def test_one_open_reported_under_both_names_counts_once() -> None:
    unique, again = one(sample("unique_opened.json")), one(event("unique_opened.json", event="opened"))
    assert unique["messageId"] == again["messageId"]
    assert one(sample("opened.json"))["messageId"] == unique["messageId"]  # same documented field values
    later = one(event("opened.json", ts_epoch=1604933999000))
    assert later["messageId"] != unique["messageId"]


def test_soft_bounce_policy() -> None:
    body = one(sample("soft_bounce.json"), BREVO_SOFT_BOUNCES="bounce")
    assert body["event"] == "Email Bounced" and body["properties"]["bounce_type"] == "soft"


def test_blocked_is_never_a_bounce_whatever_the_blocks_policy() -> None:
    # Brevo's "blocked" is a suppression (the contact is blocklisted, nothing was sent), not a block.
    assert translate(sample("blocked.json"), EMAIL_BLOCKS="bounce") == ([], Counter({"blocked": 1}))


def test_unsubscribe_under_either_name() -> None:
    # Brevo's docs example says "unsubscribed"; django-anymail (anymail/webhooks/brevo.py, from live
    # captures) maps "unsubscribe".
    body = one(event("unsubscribed.json", event="unsubscribe"))
    assert (body["event"], body["anonymousId"]) == ("Email Unsubscribed", DOCS_EMAIL)
    assert body["context"]["traits"]["user_agent"] == one(sample("unsubscribed.json"))["context"]["traits"]["user_agent"]


def test_complaint_is_marked_as_spam() -> None:
    # Brevo's transactional webhook page files its spam reports under "complaint" (#complaint); the
    # same fields as its "Spam" example (spam.json).
    body = one(event("spam.json", event="complaint"))
    assert (body["event"], body["anonymousId"], body["properties"]["email_id"]) == ("Email Marked as Spam", DOCS_EMAIL, DOCS_ID)


def test_an_event_without_any_timestamp_takes_the_time_it_was_received() -> None:
    # Brevo's Proxy Open example carries no ts_epoch, ts_event or ts (only "date", in the account's
    # time zone): here its unique_proxy_open sample without the three, for a known recipient.
    raw = {k: v for k, v in event("unique_proxy_open.json", email=DOCS_EMAIL, event="proxy_open").items() if k not in ("ts", "ts_epoch", "ts_event")}
    translation = source().translate(post([raw, event("click.json")], received=datetime(2024, 8, 22, 16, 3, 30, tzinfo=UTC)))
    assert not translation.incomplete, translation.reasons()
    assert [(e.to_cio()["event"], e.to_cio()["timestamp"]) for e in translation.events] == [
        ("Email Opened", "2024-08-22T16:03:30Z"),
        ("Email Link Clicked", "2020-11-09T14:54:14Z"),
    ]


def test_an_unknown_event_type_is_kept() -> None:
    translation = source().translate(post(event("delivered.json", event="replied")))
    assert translation.unknown == Counter({"replied": 1}) and not translation.events


def test_batched_webhook_array() -> None:
    batch = [event(n) for n in ("request.json", "delivered.json", "click.json", "spam.json")]
    bodies, ignored = translate(batch)
    assert [b["event"] for b in bodies] == ["Email Delivered", "Email Link Clicked", "Email Marked as Spam"]
    assert ignored == Counter({"request": 1})


def test_message_id_is_pinned() -> None:
    # A literal: changing ids.NAMESPACE or the derivation would break de-duplication downstream.
    assert one(sample("delivered.json"))["messageId"] == "5e33e2d9-994c-5509-804b-b5fb1c2e78f3"


# ---- identity ---------------------------------------------------------------------------------------


def test_user_id_from_x_mailin_custom_json() -> None:
    body = one(event("delivered.json", **{"X-Mailin-custom": '{"user_id": "u-42"}'}))
    assert body["userId"] == "u-42" and body["context"]["traits"]["email"] == DOCS_EMAIL
    live = json.loads(sample("anymail-request.json"))
    live["event"] = "delivered"
    assert one(live, BREVO_USER_ID_KEYS="meta")["userId"] == "data"
    assert one(sample("delivered.json"))["anonymousId"] == DOCS_EMAIL  # "some_custom_header" is not JSON


def test_user_id_from_a_prefixed_tag() -> None:
    raw = event("delivered.json", tags=["transac_messages", "user:77"])
    assert one(raw, BREVO_USER_ID_TAG_PREFIX="user:")["userId"] == "77"
    assert one(raw)["anonymousId"] == DOCS_EMAIL
    both = event("delivered.json", tags=["user:77"], **{"X-Mailin-custom": '{"user_id": "u-1"}'})
    assert one(both, BREVO_USER_ID_TAG_PREFIX="user:")["userId"] == "u-1"  # the header's key first
    assert one(event("unique_proxy_open.json", tags=["user:9"]), BREVO_USER_ID_TAG_PREFIX="user:")["userId"] == "9"


# ---- bodies that cannot be translated ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({k: v for k, v in event("delivered.json").items() if k != "message-id"}, "event 2 (delivered): no message-id"),
        (event("delivered.json", ts_event="soon", ts=None), "event 2 (delivered): timestamp is neither epoch time nor ISO"),
    ],
)
def test_one_bad_event_is_recorded_and_the_others_are_sent(raw: dict[str, Any], reason: str) -> None:
    translation = source().translate(post([event("click.json"), raw]))
    assert [e.to_cio()["event"] for e in translation.events] == ["Email Link Clicked"]
    assert len(translation.failed) == 1 and translation.failed[0].startswith(reason), translation.failed
    assert "@" not in translation.failed[0]


@pytest.mark.parametrize("body", [b"nope", b"[1]", b'{"email": "x"}'])
def test_bodies_that_are_not_events(body: bytes) -> None:
    with pytest.raises(InvalidPayload):
        source().translate(post(body))


# ---- authentication --------------------------------------------------------------------------------


def basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


def test_bearer_token_and_basic_credentials() -> None:
    source(BREVO_TOKEN=TOKEN).authenticate(post(sample("click.json"), {"authorization": f"Bearer {TOKEN}"}))
    source(BREVO_BASIC_AUTH=BASIC).authenticate(post(sample("click.json"), {"authorization": basic(BASIC)}))
    both = source(BREVO_TOKEN=TOKEN, BREVO_BASIC_AUTH=BASIC)
    both.authenticate(post(sample("click.json"), {"authorization": f"bearer {TOKEN}"}))
    both.authenticate(post(sample("click.json"), {"authorization": basic(BASIC)}))


@pytest.mark.parametrize(
    ("env", "header", "reason"),
    [
        ({"BREVO_TOKEN": TOKEN}, None, "missing"),
        ({"BREVO_TOKEN": TOKEN}, f"Bearer {TOKEN}x", "bearer token does not match"),
        ({"BREVO_TOKEN": TOKEN}, f"Bearer {TOKEN[:-1]}", "bearer token does not match"),
        ({"BREVO_TOKEN": TOKEN}, basic(f"x:{TOKEN}"), "scheme is not the one configured"),
        ({"BREVO_TOKEN": TOKEN}, TOKEN, "missing or malformed"),
        ({"BREVO_BASIC_AUTH": BASIC}, basic("hooks:other"), "Basic Authorization header does not match"),
        ({"BREVO_BASIC_AUTH": BASIC}, f"Bearer {BASIC}", "scheme is not the one configured"),
        ({"BREVO_BASIC_AUTH": BASIC}, "Basic %%%", "malformed Basic Authorization header"),
    ],
)
def test_wrong_or_missing_credentials_are_refused(env: dict[str, str], header: str | None, reason: str) -> None:
    headers = {} if header is None else {"authorization": header}
    with pytest.raises(Unauthorized, match=reason) as caught:
        source(**env).authenticate(post(sample("click.json"), headers))
    assert TOKEN not in str(caught.value) and "brevo-pass" not in str(caught.value)


def test_no_secret_fails_closed_unless_unsigned_is_allowed(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(NotConfigured, match="BREVO_BASIC_AUTH nor BREVO_TOKEN"):
        source().authenticate(post(sample("click.json"), {"authorization": f"Bearer {TOKEN}"}))
    with pytest.raises(NotConfigured, match="user:password"):
        source(BREVO_BASIC_AUTH="nocolon").authenticate(post(sample("click.json"), {"authorization": basic("nocolon")}))
    with caplog.at_level(logging.WARNING, logger="ciohooks.sources.email.brevo"):
        source(ALLOW_UNSIGNED="1").authenticate(post(sample("click.json")))
    assert "UNAUTHENTICATED" in caplog.text


def test_replayed_request_yields_the_same_ids() -> None:
    request = Brevo.sign(post(sample("click.json")), TOKEN)
    brevo = source(BREVO_TOKEN=TOKEN)
    brevo.authenticate(request)
    brevo.authenticate(request)  # nothing signed is time-bound: a replay is accepted ...
    assert [e.messageId for e in brevo.translate(request).events] == [e.messageId for e in brevo.translate(request).events]  # ... and harmless


def test_local_key_signs_samples() -> None:
    request = Brevo.sign(post(sample("delivered.json")), signing_key(Brevo, ROOT / "events" / "keys"))
    Brevo(Settings(local_keys(ROOT / "events" / "keys"))).authenticate(request)


def test_answer_codes() -> None:
    # Brevo retries only unanswered requests and 429s: the retry answer ingest should use.
    assert Brevo.retry_status == 429 and Brevo.ack_status == 200


def test_catalog_loads_this_source() -> None:
    assert load(NAME) is Brevo is SOURCE
