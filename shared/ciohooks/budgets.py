"""Time budgets of every downstream call: one place, so they can be added up against each function's
Timeout in template.yaml (tests/unit/test_budgets.py does exactly that).

A webhook provider must get an answer before the ingest function times out (a timeout is a 502 from
the Function URL with nothing logged by us, where a 503 says "retry" clearly); deliver must report a
failed record before its own timeout (a timed-out invocation fails every record of the batch and
skips the per-message backoff). So every call has a connect timeout, a read timeout and a number of
attempts, and :meth:`Budget.worst_case_seconds` is the longest it can take, backoff included.

Other modules (secrets, video sessions, the SNS certificate fetch) add their own ``Budget`` here;
the budget test picks up every ``Budget`` of this module and the ``INGEST_PATH``/``DELIVER_PATH``
lists say which ones one invocation can spend in sequence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# botocore's "standard" retry mode waits min(20, random() * 2**attempt) seconds before attempt
# number ``attempt`` + 1 (botocore/retries/standard.py, ExponentialBackoff with base 2, max 20 s).
_BOTOCORE_MAX_BACKOFF = 20.0


@dataclass(frozen=True)
class Budget:
    connect_timeout: float
    read_timeout: float
    max_attempts: int

    def worst_case_seconds(self) -> float:
        calls = self.max_attempts * (self.connect_timeout + self.read_timeout)
        backoff = sum(min(_BOTOCORE_MAX_BACKOFF, 2.0**attempt) for attempt in range(1, self.max_attempts))
        return calls + backoff

    def boto_config(self) -> Any:
        """A botocore ``Config`` with these timeouts and attempts (standard retry mode)."""
        from botocore.config import Config

        return Config(
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            retries={"total_max_attempts": self.max_attempts, "mode": "standard"},
        )


# SendMessage at ingest: the webhook is acknowledged only once this returned.
SQS_SEND = Budget(connect_timeout=0.5, read_timeout=1.0, max_attempts=2)
# PutObject of a body too large for one SQS message (up to 6 MB): one attempt, the provider retries.
S3_PUT = Budget(connect_timeout=0.5, read_timeout=2.0, max_attempts=1)
# Deliver's own SQS calls (ChangeMessageVisibility, SendMessage of a remainder or a dead letter).
SQS_DELIVER = Budget(connect_timeout=1.0, read_timeout=2.0, max_attempts=2)
# GetObject of a claim-checked body at deliver (or by the CLI).
S3_GET = Budget(connect_timeout=1.0, read_timeout=3.0, max_attempts=2)
# One POST /v1/batch to Customer.io (the client retries within the invocation's deadline).
CUSTOMERIO_REQUEST = Budget(connect_timeout=3.05, read_timeout=10.0, max_attempts=1)

# What one ingest invocation spends in sequence, at worst: a claim-checked body goes to S3, then its
# pointer to SQS. (Other helpers' budgets, e.g. a secret fetch, are appended where they are defined.)
INGEST_PATH: list[Budget] = [S3_PUT, SQS_SEND]

# Deliver stops starting Customer.io requests this long before its Timeout, to settle the batch:
# a dead letter or a remainder (SendMessage, with PutObject when it is large) and the backoffs
# (ChangeMessageVisibility). Each settling call starts only if its worst case still fits before the
# Timeout; a backoff that does not fit is skipped (the record still fails and comes back after the
# queue's VisibilityTimeout: later, never lost).
DELIVER_SETTLE_SECONDS = SQS_DELIVER.worst_case_seconds() + S3_PUT.worst_case_seconds()
# What one deliver invocation spends before its first Customer.io request, at worst (a pointer's
# GetObject; each further one starts only while the deadline allows).
DELIVER_PATH: list[Budget] = [S3_GET, CUSTOMERIO_REQUEST]
