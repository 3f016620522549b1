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


# ---- list, show, replay: looking is not consuming, replay goes to the end --------------------------
# A dead letter as deliver writes it (envelope v2: the events and the raw request they came from).
DEAD_LETTER = {
    "v": 2, "kind": "events", "source": "email/sendgrid", "received_at": "2026-11-23T12:00:00+00:00",
    "events": [{"type": "track", "event": "Email Opened", "userId": "u-1", "messageId": "7128e3a3-53f1-5065-9169-9f456b6a7b9e"}],
    "request": {"method": "POST", "path": "/sendgrid", "headers": {"content-type": "application/json"}, "query": "",
                "body": "[]", "base64": False, "received_at": "2026-11-23T12:00:00+00:00", "domain": None},
    "failure": {"stage": "deliver", "error": "Customer.io answered 400", "attempts": 1, "failed_at": "2026-11-23T12:05:00Z"},
}


def dlq(queues: SqsQueues, *args: str) -> int:
    return main(["dlq", *args, "--queue-url", queues.dlq_url, "--to", queues.delivery_url, "--endpoint-url", queues.endpoint_url])


def test_list_then_show_then_replay_at_once(sqs_queues: SqsQueues, capsys: pytest.CaptureFixture[str]) -> None:
    (message_id,) = sqs_queues.send_many([DEAD_LETTER], "dlq")
    assert dlq(sqs_queues, "list") == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line) == {"message_id": message_id, "receives": 1, "kind": "events", "source": "email/sendgrid",
                                "received_at": "2026-11-23T12:00:00+00:00", "events": 1, "names": ["Email Opened"],
                                "failure": {"stage": "deliver", "error": "Customer.io answered 400", "attempts": 1, "failed_at": "2026-11-23T12:05:00Z"}}
    assert dlq(sqs_queues, "show", message_id) == 0  # right after list: not hidden
    assert json.loads(capsys.readouterr().out) == DEAD_LETTER
    assert dlq(sqs_queues, "replay") == 0
    assert json.loads(capsys.readouterr().out) == {"replayed": 1, "kept": 0, "remaining": 0}
    (replayed,) = sqs_queues.bodies("delivery")
    assert replayed["kind"] == "request" and "failure" not in replayed and "events" not in replayed  # translated again at delivery
    assert replayed["request"] == DEAD_LETTER["request"]


def test_an_empty_queue_says_so(sqs_queues: SqsQueues, capsys: pytest.CaptureFixture[str]) -> None:
    assert dlq(sqs_queues, "list") == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.strip() == f"{sqs_queues.dlq_name} is empty"


def test_replay_goes_past_a_hundred_and_max_leaves_the_rest_visible(sqs_queues: SqsQueues, capsys: pytest.CaptureFixture[str]) -> None:
    sqs_queues.send_many([DEAD_LETTER] * 130, "dlq")
    assert dlq(sqs_queues, "replay", "--max", "25") == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"replayed": 25, "kept": 0, "remaining": 105}
    assert "105 message(s) remain" in captured.err
    assert sqs_queues.count("dlq") == 105  # visible: nothing hidden behind a timeout
    assert dlq(sqs_queues, "replay") == 0
    assert json.loads(capsys.readouterr().out) == {"replayed": 105, "kept": 0, "remaining": 0}
    assert sqs_queues.count("delivery") == 130


def test_replay_keeps_what_is_not_an_envelope_and_fails(sqs_queues: SqsQueues, capsys: pytest.CaptureFixture[str]) -> None:
    sqs_queues.send_many([DEAD_LETTER, {"not": "ours"}], "dlq")
    assert dlq(sqs_queues, "replay") == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"replayed": 1, "kept": 1, "remaining": 1}
    assert "not a cio-hooks envelope" in captured.err
    assert sqs_queues.count("dlq") == 1


def test_show_of_an_unknown_message(sqs_queues: SqsQueues, capsys: pytest.CaptureFixture[str]) -> None:
    sqs_queues.send_many([DEAD_LETTER], "dlq")
    assert dlq(sqs_queues, "show", "00000000-0000-0000-0000-000000000000") == 1
    assert capsys.readouterr().err.startswith("ciohooks: no message 00000000-0000-0000-0000-000000000000")
    assert sqs_queues.count("dlq") == 1


def test_stack_gives_both_queues(sqs_queues: SqsQueues, capsys: pytest.CaptureFixture[str]) -> None:
    """--stack reads DeliveryQueueUrl and DeadLetterQueueUrl from the stack's outputs (CloudFormation on moto)."""
    template = {"Resources": {"Nothing": {"Type": "AWS::SQS::Queue"}}, "Outputs": {
        "DeliveryQueueUrl": {"Value": sqs_queues.delivery_url}, "DeadLetterQueueUrl": {"Value": sqs_queues.dlq_url}}}
    boto3.client("cloudformation", endpoint_url=sqs_queues.endpoint_url, region_name=sqs_queues.region).create_stack(
        StackName="cio-hooks-dev", TemplateBody=json.dumps(template))
    sqs_queues.send_many([DEAD_LETTER], "dlq")
    args = ["--stack", "cio-hooks-dev", "--region", sqs_queues.region, "--endpoint-url", sqs_queues.endpoint_url]
    assert main(["dlq", "replay", *args]) == 0
    assert json.loads(capsys.readouterr().out) == {"replayed": 1, "kept": 0, "remaining": 0}
    assert sqs_queues.count("delivery") == 1
    assert main(["dlq", "list", "--stack", "no-such-stack", "--region", sqs_queues.region, "--endpoint-url", sqs_queues.endpoint_url]) == 1
    assert capsys.readouterr().err.strip() == f"ciohooks: no stack no-such-stack in {sqs_queues.region}: check --stack and --region"
