"""The operator's commands against the SQS emulator (moto's server): `ciohooks dlq purge` and
`ciohooks doctor --endpoint-url`.

`dlq purge` deletes for good, so what matters is what it does NOT delete: nothing without the typed
queue name (or --yes), nothing in the delivery queue, nothing but the one message it was given.
"""

from __future__ import annotations

import io
import json
import sys

import boto3
import pytest

from ciohooks.cli import main
from tests.support.sqs_emulator import SqsQueues

pytestmark = pytest.mark.integration


def purge(queues: SqsQueues, *args: str) -> int:
    return main(["dlq", "purge", *args, "--queue-url", queues.dlq_url, "--endpoint-url", queues.endpoint_url])


def fill(queues: SqsQueues, count: int = 3) -> list[str]:
    queues.send("{}", "delivery")  # a neighbour that must survive every purge
    return queues.send_many([{"n": i} for i in range(count)], "dlq")


def test_purge_with_yes_empties_the_dead_letter_queue_only(sqs_queues: SqsQueues, capsys: pytest.CaptureFixture[str]) -> None:
    fill(sqs_queues)
    assert purge(sqs_queues, "--yes") == 0
    assert json.loads(capsys.readouterr().out) == {"purged": sqs_queues.dlq_name, "approximate_messages": 3}
    assert sqs_queues.count("dlq", in_flight=True) == 0
    assert sqs_queues.count("delivery") == 1


@pytest.mark.parametrize("typed", ["", "yes\n", "cio\n", "DeadLetterQueue\n"])
def test_purge_without_the_typed_queue_name_deletes_nothing(sqs_queues: SqsQueues, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str], typed: str) -> None:
    fill(sqs_queues)
    monkeypatch.setattr(sys, "stdin", io.StringIO(typed))
    assert purge(sqs_queues) == 1
    err = capsys.readouterr().err
    assert f"Type the queue name ({sqs_queues.dlq_name})" in err and "about 3" in err
    assert "not confirmed, nothing purged" in err
    assert sqs_queues.count("dlq") == 3


def test_purge_after_typing_the_queue_name(sqs_queues: SqsQueues, monkeypatch: pytest.MonkeyPatch) -> None:
    fill(sqs_queues)
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"  {sqs_queues.dlq_name}  \n"))
    assert purge(sqs_queues) == 0
    assert sqs_queues.count("dlq", in_flight=True) == 0


def test_purge_one_message_leaves_the_others_visible_at_once(sqs_queues: SqsQueues, capsys: pytest.CaptureFixture[str]) -> None:
    ids = sqs_queues.send_many([{"n": i} for i in range(15)], "dlq")  # more than one receive's worth
    target = ids[-1]
    assert purge(sqs_queues, target, "--yes") == 0
    assert json.loads(capsys.readouterr().out) == {"purged": sqs_queues.dlq_name, "message_id": target}
    remaining = sqs_queues.receive_all("dlq", delete=False)
    assert sorted(m["MessageId"] for m in remaining) == sorted(ids[:-1])  # visible again, not in flight


def test_purge_an_unknown_message_deletes_nothing(sqs_queues: SqsQueues, capsys: pytest.CaptureFixture[str]) -> None:
    fill(sqs_queues)
    assert purge(sqs_queues, "00000000-0000-0000-0000-000000000000", "--yes") == 1
    assert "no message 00000000-0000-0000-0000-000000000000" in capsys.readouterr().err
    assert sqs_queues.count("dlq") == 3


def test_purge_of_a_queue_that_does_not_exist(sqs_queues: SqsQueues, capsys: pytest.CaptureFixture[str]) -> None:
    url = sqs_queues.dlq_url + "-gone"
    assert main(["dlq", "purge", "--yes", "--queue-url", url, "--endpoint-url", sqs_queues.endpoint_url]) == 1
    assert "does not answer" in capsys.readouterr().err


def test_doctor_against_the_emulator(sqs_queues: SqsQueues, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Queues and secrets on moto's server; the Customer.io probe left out (--no-probe)."""
    secrets = boto3.client("secretsmanager", endpoint_url=sqs_queues.endpoint_url, region_name=sqs_queues.region)
    secrets.create_secret(Name="/doctor-test/customerio-api-key", SecretString="k")
    for name, value in {
        "CIOHOOKS_DELIVERY_QUEUE_URL": sqs_queues.delivery_url,
        "CIOHOOKS_DEAD_LETTER_QUEUE_URL": sqs_queues.dlq_url,
        "CIOHOOKS_SECRETS_PREFIX": "/doctor-test/",
        "CIOHOOKS_SOURCES": "sendgrid",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("CIOHOOKS_SENDGRID_VERIFICATION_KEY", "CIOHOOKS_CUSTOMERIO_API_KEY", "CIOHOOKS_SECRETS_STORE", "CIOHOOKS_ALLOW_UNSIGNED"):
        monkeypatch.delenv(name, raising=False)
    doctor = ["doctor", "--endpoint-url", sqs_queues.endpoint_url, "--no-probe"]

    assert main(doctor) == 1
    out = capsys.readouterr().out
    assert "[ok]       delivery queue" in out and "[ok]       dead-letter queue" in out
    assert "[MISSING]  source email/sendgrid" in out
    assert "aws secretsmanager create-secret --name /doctor-test/sendgrid-verification-key" in out

    secrets.create_secret(Name="/doctor-test/sendgrid-verification-key", SecretString="pem")
    assert main(doctor) == 0, capsys.readouterr().out
