"""The shared replay store against moto's server (the process the SQS fixtures start): two ingest
instances, as two Lambda containers would be, share the DynamoDB table shaped as the template's
ReplayTable. A nonce replayed onto another body is refused by the other instance; an identical
retry is accepted by either; an unreachable store refuses with the retry status, never accepts.
"""

from __future__ import annotations

import uuid

import boto3
import pytest

from ciohooks.config import Settings
from ciohooks.ingest import Ingest
from ciohooks.queue import MemoryQueue
from ciohooks.replay_store import DynamoDBReplayStore, NonceReused, ReplayStoreUnavailable
from tests.security.test_replays import LOCAL_KEYS, MAILGUN, NONCE_SOURCES, first_request, same_nonce_other_body
from tests.support.sqs_emulator import REGION

pytestmark = pytest.mark.integration


@pytest.fixture
def dynamodb(sqs_emulator, monkeypatch):
    if not sqs_emulator.alive():
        pytest.fail(f"the moto server died; its log: {sqs_emulator.log_path}")
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", sqs_emulator.url)  # what the code's own boto3 client reads
    return boto3.client("dynamodb", endpoint_url=sqs_emulator.url, region_name=REGION)


@pytest.fixture
def table(dynamodb):
    """A fresh table shaped as template.yaml's ReplayTable (string key nonce_key, TTL on expires_at)."""
    name = f"replay-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "nonce_key", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "nonce_key", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})
    yield name
    dynamodb.delete_table(TableName=name)


def instance(full_name: str, table: str) -> Ingest:
    """One ingest "container": its own Settings, so its own store object and boto3 client."""
    return Ingest(full_name.split("/")[0], MemoryQueue(), MemoryQueue(), Settings({**LOCAL_KEYS, "CIOHOOKS_REPLAY_TABLE": table}))


@pytest.mark.parametrize("full_name", NONCE_SOURCES)
def test_a_replay_across_two_instances_is_refused_and_an_identical_retry_accepted(full_name, table):
    route = full_name.split("/")[1]
    one, two = instance(full_name, table), instance(full_name, table)
    first = first_request(full_name)
    assert 200 <= one.handle(route, first).status < 300
    assert 200 <= two.handle(route, first).status < 300  # the provider's retry, landing on another container
    refused = two.handle(route, same_nonce_other_body(full_name, first))
    assert refused.status == 401
    assert one.handle(route, same_nonce_other_body(full_name, first)).status == 401
    assert two.delivery_queue.approximate_depth() == one.delivery_queue.approximate_depth()  # the same events, once each


def test_conditional_put_semantics(dynamodb, table):
    store = DynamoDBReplayStore(table, client=dynamodb)
    store.remember("email/mailgun#k", "a", expires_at=2000, now=1000)
    store.remember("email/mailgun#k", "a", expires_at=2000, now=1500)
    with pytest.raises(NonceReused):
        store.remember("email/mailgun#k", "b", expires_at=2000, now=1999)
    store.remember("email/mailgun#k", "b", expires_at=3000, now=2001)  # expired, not yet deleted by TTL
    item = dynamodb.get_item(TableName=table, Key={"nonce_key": {"S": "email/mailgun#k"}})["Item"]
    assert item == {"nonce_key": {"S": "email/mailgun#k"}, "digest": {"S": "b"}, "expires_at": {"N": "3000"}}


def test_a_missing_table_or_an_unreachable_store_answers_the_retry_status(dynamodb, monkeypatch):
    first = first_request(MAILGUN)
    outcome = instance(MAILGUN, "no-such-table").handle("mailgun", first)
    assert (outcome.status, outcome.result) == (503, "failed")
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9")  # nothing listens there
    ingest = instance(MAILGUN, "any")
    outcome = ingest.handle("mailgun", first)
    assert (outcome.status, outcome.result) == (503, "failed")
    assert ingest.delivery_queue.approximate_depth() == 0 and ingest.dead_letter_queue.approximate_depth() == 0
    with pytest.raises(ReplayStoreUnavailable, match=r"^the replay store did not answer \(EndpointConnectionError\)$"):
        DynamoDBReplayStore("any").remember("k", "d", expires_at=1, now=0)
