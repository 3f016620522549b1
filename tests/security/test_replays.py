"""A captured signature cannot be replayed onto another body, on this container or any other.

Every source whose scheme carries a nonce (Mailgun's token, Standard Webhooks' webhook-id, SNS's
MessageId) checks it against the replay store (ciohooks.replay_store). Here, through ingest, with
the providers' own samples signed by the local-only keys (events/keys/): the first delivery and
an identical retry are accepted; the same nonce with another body is refused (401) and nothing of
it is kept. tests/integration/test_replay_store_dynamodb.py does the same across two ingest
instances sharing the DynamoDB table.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest

from ciohooks import replay_store, sources
from ciohooks.config import Settings
from ciohooks.ingest import Ingest
from ciohooks.local import local_keys, signing_key
from ciohooks.queue import MemoryQueue
from ciohooks.replay_store import EmbeddedReplayStore, NonceReused, ReplayGuard
from ciohooks.request import WebhookRequest
from ciohooks.sources import _standard_webhooks
from ciohooks.samples import sample_files, sample_request

EVENTS = Path(__file__).parents[2] / "events"
LOCAL_KEYS = local_keys(EVENTS / "keys")

MAILGUN, SES = "email/mailgun", "email/ses"
STANDARD_WEBHOOKS = ("email/resend", "mobile/backend", "mobile/clerk")
NONCE_SOURCES = (MAILGUN, SES, *STANDARD_WEBHOOKS)
FIRST_SAMPLE = {MAILGUN: "delivered.json", SES: "event-delivery.txt", "email/resend": "delivered.json"}


def test_every_standard_webhooks_source_is_covered_here():
    users = {n for n in sources.names() if getattr(sys.modules[sources.load(n).__module__], "standard_webhooks", None) is _standard_webhooks}
    assert users == set(STANDARD_WEBHOOKS)


def first_request(full_name: str) -> WebhookRequest:
    source = sources.load(full_name)
    folder = EVENTS / "samples" / full_name
    sample = folder / FIRST_SAMPLE[full_name] if full_name in FIRST_SAMPLE else sample_files(folder)[0]
    return source.sign(sample_request(source, sample), signing_key(source, EVENTS / "keys"))


def same_nonce_other_body(full_name: str, first: WebhookRequest) -> WebhookRequest:
    """What a replay onto another body looks like for each scheme."""
    source = sources.load(full_name)
    key = signing_key(source, EVENTS / "keys")
    if full_name == MAILGUN:  # the body is not signed: the captured signature block on other event-data
        document = json.loads(first.body)
        document["event-data"]["recipient"] = "mallory@example.com"
        return dataclasses.replace(first, body=json.dumps(document).encode())
    if full_name == SES:  # the same MessageId on another signed message
        envelope = json.loads(first.body)
        envelope["Message"] += " "
        return source.sign(dataclasses.replace(first, body=json.dumps(envelope).encode()), key)
    # Standard Webhooks: the body is signed; a sender (or whoever holds its key) re-using an id
    return source.sign(dataclasses.replace(first, body=first.body + b"\n"), key)  # sign keeps the id header


def ingest_for(full_name: str, settings: Settings) -> Ingest:
    return Ingest(full_name.split("/")[0], MemoryQueue(), MemoryQueue(), settings)


@pytest.mark.parametrize("full_name", NONCE_SOURCES)
def test_a_nonce_replayed_with_another_body_is_refused_and_an_identical_retry_accepted(full_name):
    ingest = ingest_for(full_name, Settings(LOCAL_KEYS))
    route = sources.load(full_name).name
    first = first_request(full_name)
    assert 200 <= ingest.handle(route, first).status < 300
    queued = ingest.delivery_queue.approximate_depth()
    assert 200 <= ingest.handle(route, first).status < 300  # a provider's retry: the same delivery again
    forged = ingest.handle(route, same_nonce_other_body(full_name, first))
    assert (forged.status, forged.body) == (401, {"error": "unauthorized"})
    assert ingest.delivery_queue.approximate_depth() == 2 * queued and ingest.dead_letter_queue.approximate_depth() == 0


def test_the_forgery_is_refused_even_when_it_arrives_first_at_a_fresh_container_after_the_original():
    """Two ingest instances built from one configuration share the embedded store (ciohooks serve);
    across Lambda containers the DynamoDB store does the same (the integration test)."""
    settings = Settings(LOCAL_KEYS)
    one, two = ingest_for(MAILGUN, settings), ingest_for(MAILGUN, settings)
    first = first_request(MAILGUN)
    assert one.handle("mailgun", first).status == 200
    assert two.handle("mailgun", same_nonce_other_body(MAILGUN, first)).status == 401


# ---- the store and the guard --------------------------------------------------------------------------


def test_embedded_store_refuses_another_digest_until_the_entry_expires():
    store = EmbeddedReplayStore()
    store.remember("k", "digest-a", expires_at=1000, now=900)
    store.remember("k", "digest-a", expires_at=1000, now=950)  # a retry
    with pytest.raises(NonceReused):
        store.remember("k", "digest-b", expires_at=1000, now=1000)
    store.remember("k", "digest-b", expires_at=2000, now=1001)  # the signature it protected is too old by now


def test_embedded_store_is_bounded_oldest_first():
    store = EmbeddedReplayStore(max_entries=2)
    for key in ("a", "b", "c"):
        store.remember(key, "d", expires_at=1000, now=0)
    assert len(store) == 2
    store.remember("a", "other", expires_at=1000, now=0)  # "a" was evicted: nothing to compare with


def test_the_guard_keeps_sources_apart_and_names_no_nonce():
    store = EmbeddedReplayStore()
    mailgun, ses = ReplayGuard(store, "email/mailgun"), ReplayGuard(store, "email/ses")
    mailgun.check("token-1", "a", expires_at=100, now=0, what="Mailgun token")
    ses.check("token-1", "b", expires_at=100, now=0, what="SNS MessageId")  # another source's nonce space
    with pytest.raises(NonceReused) as refused:
        mailgun.check("token-1", "b", expires_at=100, now=0, what="Mailgun token")
    assert str(refused.value) == "Mailgun token reused with a different payload"


def test_one_store_per_configuration():
    settings = Settings({})
    assert replay_store.store_for(settings) is replay_store.store_for(settings)
    assert replay_store.store_for(Settings({})) is not replay_store.store_for(settings)
    assert isinstance(replay_store.store_for(Settings({"CIOHOOKS_REPLAY_TABLE": "t"})), replay_store.DynamoDBReplayStore)


def test_every_store_call_is_bounded_to_one_second():
    config = replay_store.DynamoDBReplayStore("t").client.meta.config
    assert (config.connect_timeout, config.read_timeout, config.retries["total_max_attempts"]) == (0.5, 0.5, 1)
