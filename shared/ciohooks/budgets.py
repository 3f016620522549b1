"""Time budgets of every downstream call: one place, so they can be added up against each function's
Timeout in template.yaml (tests/unit/test_budgets.py does exactly that).

A webhook provider must get an answer before the ingest function times out (a timeout is a 502 from
the Function URL with nothing logged by us, where a 503 says "retry" clearly); deliver must report a
failed record before its own timeout (a timed-out invocation fails every record of the batch and
skips the per-message backoff). So every call has a connect timeout, a read timeout and a number of
attempts, and :meth:`Budget.worst_case_seconds` is the longest it can take, backoff included.

Every client takes its numbers from here: SQS and S3 (queue.py), Customer.io (customerio.py), the
secret store (config.py: Powertools Parameters' Secrets Manager and SSM clients), the replay store
and the video sessions (DynamoDB), the SNS certificate fetch (sources/email/ses.py). The
``INGEST_PATH``/``DELIVER_PATH`` lists say which ones one invocation can spend in sequence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# botocore's "standard" retry mode waits random() * min(scale * 2**(attempt - 1), 20) seconds after
# attempt number ``attempt`` (botocore/retries/standard.py, ExponentialBackoff: scale 1 s for a
# throttling error, 50 ms otherwise); the worst case takes the throttling scale.
_BOTOCORE_MAX_BACKOFF = 20.0


@dataclass(frozen=True)
class Budget:
    connect_timeout: float
    read_timeout: float
    max_attempts: int

    def worst_case_seconds(self) -> float:
        calls = self.max_attempts * (self.connect_timeout + self.read_timeout)
        backoff = sum(min(_BOTOCORE_MAX_BACKOFF, 2.0 ** (attempt - 1)) for attempt in range(1, self.max_attempts))
        return calls + backoff

    def timeouts(self) -> tuple[float, float]:
        """``(connect, read)``, as ``requests`` takes them (one attempt: requests does not retry)."""
        return (self.connect_timeout, self.read_timeout)

    def boto_config(self) -> Any:
        """A botocore ``Config`` with these timeouts and attempts (standard retry mode)."""
        from botocore.config import Config

        return Config(
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            retries={"total_max_attempts": self.max_attempts, "mode": "standard"},
        )


# SendMessage at ingest: the webhook is acknowledged only once this returned. An in-region
# SendMessage takes milliseconds; the second attempt is for a dropped connection.
SQS_SEND = Budget(connect_timeout=0.25, read_timeout=0.75, max_attempts=2)
# PutObject of a body too large for one SQS message (up to 6 MB): one attempt, the provider retries.
S3_PUT = Budget(connect_timeout=0.5, read_timeout=2.0, max_attempts=1)
# One read of the secret store (Secrets Manager GetSecretValue or SSM GetParameter; also the custom
# source definitions' parameter): cached 5 minutes, so one attempt; a failure is the retry status.
SECRET_READ = Budget(connect_timeout=0.5, read_timeout=0.5, max_attempts=1)
# The replay store's conditional PutItem (replay_store.py): one attempt, a hiccup is the retry status
# and the provider sends the request again (a single-digit-ms PutItem has 50x headroom).
REPLAY_PUT = Budget(connect_timeout=0.5, read_timeout=0.5, max_attempts=1)
# The SNS signing certificate (sources/email/ses.py), fetched once per URL and container: one try,
# a failure answers 503 and SNS retries.
CERTIFICATE_FETCH = Budget(connect_timeout=0.5, read_timeout=0.75, max_attempts=1)
# One GetItem or PutItem of a video session (video_sessions.py): in-region, single-digit ms.
VIDEO_SESSION = Budget(connect_timeout=0.25, read_timeout=0.25, max_attempts=1)
# Deliver's own SQS calls (ChangeMessageVisibility, SendMessage of a remainder or a dead letter).
SQS_DELIVER = Budget(connect_timeout=1.0, read_timeout=2.0, max_attempts=2)
# GetObject of a claim-checked body at deliver (or by the CLI).
S3_GET = Budget(connect_timeout=1.0, read_timeout=3.0, max_attempts=2)
# One POST /v1/batch to Customer.io (the client retries within the invocation's deadline).
CUSTOMERIO_REQUEST = Budget(connect_timeout=3.05, read_timeout=10.0, max_attempts=1)

# What one ingest invocation can spend in sequence, at worst, whatever the source (no source does
# all of it: a sum over every kind is simpler to keep true than one path per source): the custom
# source definitions (first request of a container) and the source's secret, the replay store, the
# SNS certificate, a video session read and write, a claim-checked body to S3, then two messages
# (the events, and what did not translate to the DLQ).
INGEST_PATH: list[Budget] = [SECRET_READ, SECRET_READ, REPLAY_PUT, CERTIFICATE_FETCH, VIDEO_SESSION, VIDEO_SESSION, S3_PUT, SQS_SEND, SQS_SEND]

# Deliver stops starting Customer.io requests this long before its Timeout, to settle the batch:
# a dead letter or a remainder (SendMessage, with PutObject when it is large) and the backoffs
# (ChangeMessageVisibility). Each settling call starts only if its worst case still fits before the
# Timeout; a backoff that does not fit is skipped (the record still fails and comes back after the
# queue's VisibilityTimeout: later, never lost).
DELIVER_SETTLE_SECONDS = SQS_DELIVER.worst_case_seconds() + S3_PUT.worst_case_seconds()
# What one deliver invocation spends before its first Customer.io request, at worst (the API key,
# a pointer's GetObject; each further one starts only while the deadline allows).
DELIVER_PATH: list[Budget] = [SECRET_READ, S3_GET, CUSTOMERIO_REQUEST]
