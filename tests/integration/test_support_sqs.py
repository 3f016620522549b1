"""The SQS emulator fixtures: boto3 over HTTP to moto's server, fresh queues, redrive to the DLQ."""

from __future__ import annotations

import json
import os
import time
import urllib.parse

import boto3
import pytest

pytestmark = pytest.mark.integration


def test_environment_cannot_reach_real_aws(sqs_endpoint):
    assert "AWS_PROFILE" not in os.environ
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    assert os.environ["AWS_DEFAULT_REGION"] == "us-east-1"
    creds = boto3.session.Session().get_credentials()
    assert creds.access_key == "testing"
    host = urllib.parse.urlparse(sqs_endpoint).hostname
    assert host == "127.0.0.1"


def test_send_and_receive_over_http(sqs_queues, sqs_endpoint):
    assert sqs_queues.client.meta.endpoint_url == sqs_endpoint
    assert sqs_queues.delivery_arn.startswith("arn:aws:sqs:us-east-1:")
    attrs = sqs_queues.attributes()
    assert json.loads(attrs["RedrivePolicy"]) == {"deadLetterTargetArn": sqs_queues.dlq_arn, "maxReceiveCount": 3}
    assert attrs["VisibilityTimeout"] == "2"

    message_id = sqs_queues.send({"hello": "world"})
    assert sqs_queues.count() == 1
    (msg,) = sqs_queues.receive()
    assert msg["MessageId"] == message_id
    assert json.loads(msg["Body"]) == {"hello": "world"}
    assert msg["Attributes"]["ApproximateReceiveCount"] == "1"
    assert sqs_queues.receive() == []  # in flight: the visibility timeout is honoured
    assert sqs_queues.count(in_flight=True) == 1
    sqs_queues.delete("delivery", [msg["ReceiptHandle"]])
    assert sqs_queues.count(in_flight=True) == 0


def test_send_many_and_drain(sqs_queues):
    ids = sqs_queues.send_many([{"n": i} for i in range(23)])
    assert len(set(ids)) == 23
    assert sqs_queues.count() == 23
    assert sorted(b["n"] for b in sqs_queues.bodies()) == list(range(23))
    assert sqs_queues.count(in_flight=True) == 0


def test_each_test_gets_fresh_queues(sqs_queues):
    urls = sqs_queues.client.list_queues().get("QueueUrls", [])
    assert sorted(urls) == sorted([sqs_queues.delivery_url, sqs_queues.dlq_url])
    assert sqs_queues.count() == 0 and sqs_queues.count("dlq") == 0


def test_redrive_to_dlq_after_max_receive_count(sqs_queues):
    sqs_queues.send({"poison": True})
    for attempt in range(1, sqs_queues.max_receive_count + 1):
        (msg,) = sqs_queues.receive()
        assert msg["Attributes"]["ApproximateReceiveCount"] == str(attempt)
        sqs_queues.release("delivery", [msg["ReceiptHandle"]])  # the consumer failed: visible again now
    assert sqs_queues.receive() == []  # this receive moved it to the DLQ
    (dead,) = sqs_queues.receive_all("dlq")
    assert json.loads(dead["Body"]) == {"poison": True}
    assert sqs_queues.count() == 0 and sqs_queues.count("dlq", in_flight=True) == 0


@pytest.mark.sqs_queues(max_receive_count=1, visibility_timeout=1)
def test_visibility_timeout_expiry_and_marker_options(sqs_queues):
    assert sqs_queues.max_receive_count == 1 and sqs_queues.visibility_timeout == 1
    sqs_queues.send("plain text")
    (msg,) = sqs_queues.receive()
    assert sqs_queues.receive() == []
    time.sleep(1.1)
    assert sqs_queues.receive() == []  # visible again, over maxReceiveCount: moved to the DLQ
    (dead,) = sqs_queues.receive_all("dlq")
    assert dead["Body"] == "plain text" and dead["MessageId"] == msg["MessageId"]


def test_purge(sqs_queues):
    sqs_queues.send_many(["a", "b"])
    sqs_queues.send("c", queue="dlq")
    sqs_queues.purge()
    assert sqs_queues.count(in_flight=True) == 0 and sqs_queues.count("dlq", in_flight=True) == 0


def test_more_pairs_and_env(make_sqs_queues, sqs_queues, sqs_endpoint):
    other = make_sqs_queues(prefix="video", max_receive_count=5)
    assert other.delivery_url != sqs_queues.delivery_url
    env = other.env(CIOHOOKS_DELIVERY_QUEUE_URL=other.delivery_url)
    assert env["AWS_ENDPOINT_URL_SQS"] == sqs_endpoint and env["AWS_ACCESS_KEY_ID"] == "testing"
    # a plain boto3 client configured only from that environment reaches the emulator
    session = boto3.session.Session(aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                                    aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name=env["AWS_DEFAULT_REGION"])
    client = session.client("sqs", endpoint_url=env["AWS_ENDPOINT_URL_SQS"])
    client.send_message(QueueUrl=env["CIOHOOKS_DELIVERY_QUEUE_URL"], MessageBody="x")
    assert other.count() == 1


def test_fifo_pair(make_sqs_queues):
    q = make_sqs_queues(fifo=True)
    assert q.delivery_url.endswith(".fifo")
    q.send("same", MessageGroupId="g")
    q.send("same", MessageGroupId="g")  # content-based deduplication
    assert len(q.receive_all()) == 1
