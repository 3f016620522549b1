"""Every downstream call's budget adds up below the Timeout of the function that makes it.

The Timeouts are read from template.yaml, the budgets from ciohooks.budgets (the one place every
module takes its timeouts and attempts from), so changing either side without the other fails here.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ciohooks import budgets
from ciohooks.customerio import CustomerIO
from ciohooks.queue import SqsQueue

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def timeouts() -> dict[str, float]:
    template = yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 (SafeLoader subclass)
    default = template["Globals"]["Function"]["Timeout"]
    return {name: r["Properties"].get("Timeout", default) for name, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}


def test_worst_case_counts_every_attempt_and_botocore_backoff():
    # 2 attempts x (0.5 + 1.0) s, plus botocore's longest wait before the 2nd attempt (2 s).
    assert budgets.Budget(0.5, 1.0, 2).worst_case_seconds() == 5.0
    assert budgets.Budget(1.0, 2.0, 1).worst_case_seconds() == 3.0


def test_ingest_answers_before_its_timeout():
    spent = sum(b.worst_case_seconds() for b in budgets.INGEST_PATH)
    for name, timeout in timeouts().items():
        if name.endswith("IngestFunction"):
            # Leave at least a second for authenticating and translating, and for the 5xx answer.
            assert spent + 1.0 < timeout, (name, spent, timeout)


def test_deliver_fails_a_record_before_its_timeout():
    timeout = timeouts()["DeliverFunction"]
    before_first_request = sum(b.worst_case_seconds() for b in budgets.DELIVER_PATH)
    assert before_first_request + budgets.DELIVER_SETTLE_SECONDS < timeout
    # The settle reserve holds one dead letter or remainder (SendMessage, PutObject when large).
    assert budgets.DELIVER_SETTLE_SECONDS >= budgets.SQS_DELIVER.worst_case_seconds() + budgets.S3_PUT.worst_case_seconds()


def test_clients_take_their_timeouts_from_the_budgets():
    io = CustomerIO("key")
    assert (io.connect_timeout, io.timeout) == (budgets.CUSTOMERIO_REQUEST.connect_timeout, budgets.CUSTOMERIO_REQUEST.read_timeout)
    config = budgets.SQS_SEND.boto_config()
    assert (config.connect_timeout, config.read_timeout, config.retries) == (0.5, 1.0, {"total_max_attempts": 2, "mode": "standard"})
    assert SqsQueue("https://sqs.example/q", claim_check=None).budget is budgets.SQS_SEND
