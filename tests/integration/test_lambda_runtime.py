"""The real handler modules in a real Lambda runtime: the Runtime Interface Emulator + awslambdaric.

Each function runs in ``functions/<name>`` with only a layer directory on its path, built like the
deployed layer (``requirements.txt`` + ``shared/ciohooks``) but for this machine's architecture, in
an interpreter without site-packages: a dependency missing from the layer fails here as on Lambda.
The functions talk to the SQS emulator and the Customer.io stand-in over HTTP.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ciohooks.request import WebhookRequest
from tests.support.layer import build_layer_dir
from tests.support.signers import new_sendgrid_keypair, sign_sendgrid

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
BATCH = (REPO / "events" / "samples" / "email" / "sendgrid" / "batch.json").read_bytes()
PRIVATE_KEY, PUBLIC_KEY = new_sendgrid_keypair()


@pytest.fixture(scope="session")
def layer_dir() -> Path:
    return build_layer_dir()


def function_env(sqs_queues, **extra: str) -> dict[str, str]:
    return {
        **sqs_queues.env(),
        "CIOHOOKS_DELIVERY_QUEUE_URL": sqs_queues.delivery_url,
        "CIOHOOKS_DEAD_LETTER_QUEUE_URL": sqs_queues.dlq_url,
        "POWERTOOLS_SERVICE_NAME": "cio-hooks",
        "POWERTOOLS_METRICS_NAMESPACE": "CioHooks",
        **extra,
    }


def test_ingest_and_deliver_handlers_in_the_lambda_runtime(lambda_rie, layer_dir, sqs_queues, cio_standin, capsys):
    ingest = lambda_rie(
        "app.lambda_handler", REPO / "functions" / "ingest", [layer_dir],
        function_env(sqs_queues, CIOHOOKS_FAMILY="email", CIOHOOKS_SENDGRID_VERIFICATION_KEY=PUBLIC_KEY), isolated=True, function_name="EmailIngestFunction",
    )
    event = WebhookRequest("POST", "/sendgrid", BATCH, {"content-type": "application/json", **sign_sendgrid(PRIVATE_KEY, BATCH)}).to_function_url_event()
    response, cold = ingest.invoke(event)
    assert response["statusCode"] == 200, response
    assert json.loads(response["body"]) == {"accepted": 7, "ignored": 4}

    forged = dict(event, body=event["body"].replace("example@test.com", "mallory@evil.test"))
    refused, warm = ingest.invoke(forged)
    assert refused["statusCode"] == 401

    (message,) = sqs_queues.receive("delivery")
    deliver = lambda_rie(
        "app.lambda_handler", REPO / "functions" / "deliver", [layer_dir],
        function_env(sqs_queues, CIOHOOKS_CUSTOMERIO_API_KEY=cio_standin.api_key, CIOHOOKS_CUSTOMERIO_BASE_URL=cio_standin.base_url),
        isolated=True, function_name="DeliverFunction", timeout=30,
    )
    sqs_event = {"Records": [{
        "messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"],
        "attributes": message.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs", "eventSourceARN": sqs_queues.delivery_arn, "awsRegion": "us-east-1",
    }]}
    result, deliver_cold = deliver.invoke(sqs_event)
    assert result == {"batchItemFailures": []}, result
    assert len(cio_standin.events) == 7 and cio_standin.duplicates() == {}

    cio_standin.fail_next(50, status=503)
    again, _ = deliver.invoke(sqs_event)
    assert again == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}

    with capsys.disabled():
        print(f"\n  RIE: ingest cold {cold * 1000:.0f} ms, warm {warm * 1000:.0f} ms; deliver cold {deliver_cold * 1000:.0f} ms")
