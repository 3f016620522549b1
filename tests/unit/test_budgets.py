"""Every downstream call's budget adds up below the Timeout of the function that makes it.

The Timeouts are read from template.yaml, the budgets from ciohooks.budgets (the one place every
module takes its timeouts and attempts from), so changing either side without the other fails here.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from aws_lambda_powertools.utilities.parameters import constants

from ciohooks import budgets
from ciohooks.config import bounded_parameters
from ciohooks.customerio import CustomerIO
from ciohooks.queue import SqsQueue
from ciohooks.replay_store import DynamoDBReplayStore
from ciohooks.video_sessions import DynamoDBSessionStore

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def timeouts() -> dict[str, float]:
    template = yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 (SafeLoader subclass)
    default = template["Globals"]["Function"]["Timeout"]
    return {name: r["Properties"].get("Timeout", default) for name, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}


def test_worst_case_counts_every_attempt_and_botocore_backoff():
    # 2 attempts x (0.5 + 1.0) s, plus botocore's longest wait before the 2nd attempt (1 s).
    assert budgets.Budget(0.5, 1.0, 2).worst_case_seconds() == 4.0
    # 3 attempts: waits of at most 1 s and 2 s.
    assert budgets.Budget(0.5, 1.0, 3).worst_case_seconds() == 7.5
    assert budgets.Budget(1.0, 2.0, 1).worst_case_seconds() == 3.0


def test_the_ingest_path_counts_every_call_a_request_can_make():
    def count(budget: budgets.Budget) -> int:  # by identity: two budgets may hold the same numbers
        return sum(b is budget for b in budgets.INGEST_PATH)

    # definitions + secret, replay store, SNS certificate, session read + write, S3, events + DLQ
    assert count(budgets.SECRET_READ) == 2 and count(budgets.REPLAY_PUT) == 1
    assert count(budgets.CERTIFICATE_FETCH) == 1 and count(budgets.VIDEO_SESSION) == 2
    assert count(budgets.S3_PUT) == 1 and count(budgets.SQS_SEND) == 2
    assert len(budgets.INGEST_PATH) == 9
    assert sum(b.worst_case_seconds() for b in budgets.INGEST_PATH) == 13.75


def test_ingest_answers_before_its_timeout():
    spent = sum(b.worst_case_seconds() for b in budgets.INGEST_PATH)
    ingest = {name: timeout for name, timeout in timeouts().items() if name.endswith("IngestFunction")}
    assert ingest
    for name, timeout in ingest.items():
        # Leave at least a second for authenticating and translating, and for the 5xx answer.
        assert spent + 1.0 < timeout, (name, spent, timeout)


def test_deliver_fails_a_record_before_its_timeout():
    timeout = timeouts()["DeliverFunction"]
    before_first_request = sum(b.worst_case_seconds() for b in budgets.DELIVER_PATH)
    assert before_first_request + budgets.DELIVER_SETTLE_SECONDS < timeout
    # The settle reserve holds one dead letter or remainder (SendMessage, PutObject when large).
    assert budgets.DELIVER_SETTLE_SECONDS >= budgets.SQS_DELIVER.worst_case_seconds() + budgets.S3_PUT.worst_case_seconds()


def test_deliver_reads_its_api_key_before_the_first_request():
    assert budgets.DELIVER_PATH[0] is budgets.SECRET_READ


def bounds(client) -> tuple[float, float, dict]:
    config = client.meta.config
    return (config.connect_timeout, config.read_timeout, config.retries)


def test_clients_take_their_timeouts_from_the_budgets(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    io = CustomerIO("key")
    assert (io.connect_timeout, io.timeout) == (budgets.CUSTOMERIO_REQUEST.connect_timeout, budgets.CUSTOMERIO_REQUEST.read_timeout)
    config = budgets.SQS_SEND.boto_config()
    assert (config.connect_timeout, config.read_timeout, config.retries) == (0.25, 0.75, {"total_max_attempts": 2, "mode": "standard"})
    assert SqsQueue("https://sqs.example/q", claim_check=None).budget is budgets.SQS_SEND
    assert bounds(DynamoDBReplayStore("replay").client) == (0.5, 0.5, {"total_max_attempts": 1, "mode": "standard"})
    assert bounds(DynamoDBSessionStore("sessions").client) == (0.25, 0.25, {"total_max_attempts": 1, "mode": "standard"})
    assert budgets.CERTIFICATE_FETCH.timeouts() == (0.5, 0.75)


def test_the_secret_store_clients_are_bounded(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setattr(constants, "DEFAULT_PROVIDERS", constants.DEFAULT_PROVIDERS)  # restored after the test
    for store in ("secrets", "ssm"):
        monkeypatch.delitem(constants.DEFAULT_PROVIDERS, store, raising=False)
        bounded_parameters(store)
        assert bounds(constants.DEFAULT_PROVIDERS[store].client) == (0.5, 0.5, {"total_max_attempts": 1, "mode": "standard"})
