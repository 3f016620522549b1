"""The queues between ingest and delivery: SQS in AWS, a durable SQLite queue on the embedded default.

Ingest puts each webhook into exactly one message (one ``SendMessage``), so a webhook is either
wholly queued or not at all: an answer of 5xx never leaves half of a request behind.

A message too large for SQS (1 MiB) is stored whole in S3 and a small pointer is queued instead:
the claim check of the SQS extended client, in its own pointer format
(``["software.amazon.payloadoffloading.PayloadS3Pointer", {"s3BucketName": ..., "s3Key": ...}]``
with the ``ExtendedPayloadSize`` attribute), so its Java and Python clients can read our queues
too. Receiving resolves pointers, so neither side of a queue sees them. Objects are never deleted
by the code: a duplicate SQS delivery (at-least-once) must still find its body. The bucket's
lifecycle rule expires them after the longest any pointer can wait (DeadLetterQueue retention).

On the embedded default (``ciohooks serve`` without queue URLs), :class:`SqliteQueue` keeps both
queues in one SQLite file (WAL mode, synchronous FULL): what ingest acknowledged survives
``kill -9``, and it has SQS's visibility semantics (a received message is hidden for a visibility
timeout, ``change_visibility`` backs it off, and the redrive backstop moves it to the dead-letter
queue after ``max_receive_count`` receives).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from . import budgets
from .envelope import Envelope

# SQS takes messages of up to 1 MiB since 2026; queues are created with that maximum.
MAX_MESSAGE_BYTES = 1_048_576
# Room left for message attributes, which count towards the limit.
_ATTRIBUTE_ROOM = 1024
POINTER_CLASS = "software.amazon.payloadoffloading.PayloadS3Pointer"
# SQS's longest visibility timeout: the cap of every backoff.
MAX_VISIBILITY_SECONDS = 43_200


class QueueUnavailable(RuntimeError):
    """The queue did not take the message: the provider must be told to retry (5xx)."""


class MessageTooLarge(ValueError):
    """The message exceeds what one SQS message holds (and no claim-check bucket is configured)."""


class ClaimNotFound(RuntimeError):
    """A pointer names a body that cannot be read (yet): retry the message later."""


class Queue(Protocol):
    def put(self, envelope: Envelope) -> str: ...


@dataclass
class Received:
    message_id: str
    receipt: str
    body: str
    receive_count: int
    sent_at: float | None = None  # epoch seconds the message was first queued (SentTimestamp)


# ---- claim check ---------------------------------------------------------------------------------


def pointer_of(body: str) -> tuple[str, str] | None:
    """(bucket, key) when ``body`` is a claim-check pointer, else None."""
    if not body.startswith(f'["{POINTER_CLASS}"'):
        return None
    try:
        _, target = json.loads(body)
        return target["s3BucketName"], target["s3Key"]
    except (ValueError, TypeError, KeyError):
        return None


class ClaimCheck:
    """Bodies too large for SQS, stored whole in S3 (a bucket of the stack, see template.yaml)."""

    def __init__(self, bucket: str, client: Any = None, prefix: str = "bodies/") -> None:
        self.bucket, self.prefix = bucket, prefix
        self._client = client
        self._clients: dict[budgets.Budget, Any] = {}

    @classmethod
    def from_settings(cls, settings: Any = None) -> ClaimCheck | None:
        from .config import Settings

        bucket = (settings or Settings()).get("CLAIM_CHECK_BUCKET")
        return cls(bucket) if bucket else None

    def _s3(self, budget: budgets.Budget) -> Any:
        """A client per budget (a put may take longer than a get), or the one given."""
        if self._client is not None:
            return self._client
        if budget not in self._clients:  # created on first use, like SqsQueue's
            import boto3

            self._clients[budget] = boto3.client("s3", config=budget.boto_config())
        return self._clients[budget]

    def store(self, body: str) -> str:
        """Put ``body`` in S3; returns the pointer to queue instead."""
        from botocore.exceptions import BotoCoreError, ClientError

        key = f"{self.prefix}{uuid.uuid4()}.json"
        try:
            self._s3(budgets.S3_PUT).put_object(Bucket=self.bucket, Key=key, Body=body.encode("utf-8"), ContentType="application/json")
        except (BotoCoreError, ClientError) as error:
            raise QueueUnavailable(f"S3 did not take the message body ({error.__class__.__name__})") from error
        return json.dumps([POINTER_CLASS, {"s3BucketName": self.bucket, "s3Key": key}])

    def load(self, bucket: str, key: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self._s3(budgets.S3_GET).get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
        except (BotoCoreError, ClientError) as error:
            raise ClaimNotFound(f"could not read the message body from S3 ({error.__class__.__name__})") from error


def resolve(body: str, claim_check: ClaimCheck | None) -> str:
    """The message body itself, fetched from S3 when ``body`` is a pointer (which names its bucket,
    so reading needs no configured bucket, only the permission)."""
    target = pointer_of(body)
    if target is None:
        return body
    return (claim_check or ClaimCheck(target[0])).load(*target)


# ---- SQS -----------------------------------------------------------------------------------------


class SqsQueue:
    """An SQS queue reached through boto3 (a real queue, or an emulator via ``AWS_ENDPOINT_URL_SQS``)."""

    def __init__(self, url: str, client: Any = None, max_bytes: int = MAX_MESSAGE_BYTES, *,
                 claim_check: ClaimCheck | None | bool = True, budget: budgets.Budget = budgets.SQS_SEND) -> None:
        self.url, self.max_bytes, self.budget = url, max_bytes, budget
        self._client = client
        # True: the bucket named by CIOHOOKS_CLAIM_CHECK_BUCKET, if any (what ingest, deliver and the CLI want).
        self.claim_check = ClaimCheck.from_settings() if claim_check is True else (claim_check or None)

    @property
    def client(self) -> Any:
        if self._client is None:  # created on first use: boto3 costs ~150 ms, not at import time
            import boto3

            self._client = boto3.client("sqs", config=self.budget.boto_config())
        return self._client

    def put(self, envelope: Envelope) -> str:
        return self.put_raw(envelope.to_json())

    def put_raw(self, body: str) -> str:
        """Queue ``body`` as it is (a claim-check pointer if it is too large for one message)."""
        size = len(body.encode("utf-8"))
        attributes: dict[str, Any] = {}
        if size > self.max_bytes - _ATTRIBUTE_ROOM and pointer_of(body) is None:
            if self.claim_check is None:
                raise MessageTooLarge(f"message of {size} bytes exceeds {self.max_bytes}")
            body = self.claim_check.store(body)
            attributes = {"ExtendedPayloadSize": {"DataType": "Number", "StringValue": str(size)}}
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.client.send_message(QueueUrl=self.url, MessageBody=body, **({"MessageAttributes": attributes} if attributes else {}))["MessageId"]
        except (BotoCoreError, ClientError) as error:
            raise QueueUnavailable(f"SQS did not take the message ({error.__class__.__name__})") from error

    def receive(self, max_messages: int = 10, wait_seconds: float = 0, visibility_timeout: int | None = None) -> list[Received]:
        """Up to ``max_messages`` messages, pointers resolved. ``wait_seconds`` is rounded to the
        whole seconds SQS takes (boto3 refuses a float WaitTimeSeconds)."""
        kwargs: dict[str, Any] = {
            "QueueUrl": self.url, "MaxNumberOfMessages": max_messages, "WaitTimeSeconds": int(round(wait_seconds)),
            "MessageSystemAttributeNames": ["ApproximateReceiveCount", "SentTimestamp"],
        }
        if visibility_timeout is not None:
            kwargs["VisibilityTimeout"] = int(visibility_timeout)
        messages = self.client.receive_message(**kwargs).get("Messages", [])
        out = []
        for m in messages:
            attributes = m.get("Attributes", {})
            sent = attributes.get("SentTimestamp")
            try:
                body = resolve(m["Body"], self.claim_check)
            except ClaimNotFound:  # left as the pointer: its reader tries again, one message at a time
                body = m["Body"]
            out.append(Received(m["MessageId"], m["ReceiptHandle"], body, int(attributes.get("ApproximateReceiveCount", 1)), int(sent) / 1000 if sent else None))
        return out

    def delete(self, receipt: str) -> None:
        self.client.delete_message(QueueUrl=self.url, ReceiptHandle=receipt)

    def change_visibility(self, receipt: str, seconds: int) -> None:
        self.change_visibilities([(receipt, seconds)])

    def change_visibilities(self, backoffs: list[tuple[str, int]]) -> int:
        """Hide each (receipt, seconds) message for its seconds, ten per ChangeMessageVisibilityBatch;
        returns how many SQS took."""
        from botocore.exceptions import BotoCoreError, ClientError

        taken = 0
        for start in range(0, len(backoffs), 10):
            entries = [{"Id": str(i), "ReceiptHandle": r, "VisibilityTimeout": int(s)} for i, (r, s) in enumerate(backoffs[start:start + 10])]
            try:
                answer = self.client.change_message_visibility_batch(QueueUrl=self.url, Entries=entries)
            except (BotoCoreError, ClientError) as error:
                raise QueueUnavailable(f"SQS did not change the visibility ({error.__class__.__name__})") from error
            taken += len(answer.get("Successful", []))
        return taken

    def approximate_depth(self) -> int:
        attrs = self.client.get_queue_attributes(QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


# ---- in-process (tests, the CLI) -----------------------------------------------------------------


class MemoryQueue:
    """An in-process queue for unit tests and the CLI (lost when the process ends)."""

    def __init__(self, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: deque[Received] = deque()
        self._ready = threading.Condition()

    def put(self, envelope: Envelope) -> str:
        body = envelope.to_json()
        if len(body.encode("utf-8")) > self.max_bytes:
            raise MessageTooLarge(f"message of {len(body)} bytes exceeds {self.max_bytes}")
        return self.put_raw(body)

    def put_raw(self, body: str) -> str:
        message_id = str(uuid.uuid4())
        with self._ready:
            self._items.append(Received(message_id, message_id, body, 0, time.time()))
            self._ready.notify_all()
        return message_id

    def receive(self, max_messages: int = 10, wait_seconds: float = 0, visibility_timeout: int | None = None) -> list[Received]:
        with self._ready:
            if not self._items and wait_seconds:
                self._ready.wait(wait_seconds)
            out = []
            while self._items and len(out) < max_messages:
                item = self._items.popleft()
                out.append(Received(item.message_id, item.receipt, item.body, item.receive_count + 1, item.sent_at))
            return out

    def delete(self, receipt: str) -> None:
        """Received messages are already gone from an in-process queue."""

    def change_visibility(self, receipt: str, seconds: int) -> None:
        """Nothing is in flight in an in-process queue: a failed message is put back with ``requeue``."""

    def change_visibilities(self, backoffs: list[tuple[str, int]]) -> int:
        for receipt, seconds in backoffs:
            self.change_visibility(receipt, seconds)
        return len(backoffs)

    def requeue(self, message: Received) -> None:
        """Put a received message back (what a visibility timeout does on SQS), counting the receive."""
        with self._ready:
            self._items.append(message)
            self._ready.notify_all()

    def approximate_depth(self) -> int:
        return len(self._items)


# ---- durable local queue (serve's embedded default) ----------------------------------------------


class SqliteQueue:
    """One named queue in a SQLite file, with SQS's visibility semantics (see the module docstring).

    Several queues (delivery, dead-letter) share one file; each call is one short transaction, so
    the HTTP threads (put) and the delivery worker (receive) can use it at once.
    """

    def __init__(self, path: str | Path, name: str, *, visibility_timeout: float = 60.0, max_receive_count: int | None = None,
                 dead_letter: SqliteQueue | None = None, clock: Any = time.time) -> None:
        self.path, self.name = Path(path), name
        self.visibility_timeout, self.max_receive_count, self.dead_letter = visibility_timeout, max_receive_count, dead_letter
        self._clock = clock
        self._local = threading.local()
        self._put = threading.Condition()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute("""CREATE TABLE IF NOT EXISTS messages (
                id TEXT PRIMARY KEY, queue TEXT NOT NULL, body TEXT NOT NULL, sent_at REAL NOT NULL,
                visible_at REAL NOT NULL, receive_count INTEGER NOT NULL DEFAULT 0, receipt TEXT)""")
            db.execute("CREATE INDEX IF NOT EXISTS ready ON messages (queue, visible_at, sent_at)")

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)  # autocommit; BEGIN where needed
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # a committed put survives kill -9 and a power cut
            self._local.db = db
        return db

    def put(self, envelope: Envelope) -> str:
        return self.put_raw(envelope.to_json())

    def put_raw(self, body: str) -> str:
        message_id, now = str(uuid.uuid4()), self._clock()
        self._db().execute("INSERT INTO messages (id, queue, body, sent_at, visible_at) VALUES (?, ?, ?, ?, ?)",
                           (message_id, self.name, body, now, now))
        with self._put:
            self._put.notify_all()
        return message_id

    def receive(self, max_messages: int = 10, wait_seconds: float = 0, visibility_timeout: float | None = None) -> list[Received]:
        until = time.monotonic() + wait_seconds
        while True:
            out = self._receive_now(max_messages, self.visibility_timeout if visibility_timeout is None else visibility_timeout)
            left = until - time.monotonic()
            if out or left <= 0:
                return out
            with self._put:  # woken by a put of this process; another process's put is seen within 0.2 s
                self._put.wait(min(left, 0.2))

    def _receive_now(self, max_messages: int, visibility_timeout: float) -> list[Received]:
        db, now = self._db(), self._clock()
        out: list[Received] = []
        db.execute("BEGIN IMMEDIATE")
        try:
            rows = db.execute("SELECT id, body, sent_at, receive_count FROM messages WHERE queue = ? AND visible_at <= ? "
                              "ORDER BY sent_at LIMIT ?", (self.name, now, max_messages)).fetchall()
            for message_id, body, sent_at, count in rows:
                if self.max_receive_count is not None and self.dead_letter is not None and count >= self.max_receive_count:
                    # The redrive backstop, as SQS does it: moved whole, at the receive that would exceed it.
                    db.execute("UPDATE messages SET queue = ?, visible_at = ?, receive_count = 0, receipt = NULL WHERE id = ?",
                               (self.dead_letter.name, now, message_id))
                    continue
                receipt = str(uuid.uuid4())
                db.execute("UPDATE messages SET visible_at = ?, receive_count = ?, receipt = ? WHERE id = ?",
                           (now + visibility_timeout, count + 1, receipt, message_id))
                out.append(Received(message_id, receipt, body, count + 1, sent_at))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return out

    def delete(self, receipt: str) -> None:
        self._db().execute("DELETE FROM messages WHERE receipt = ? AND queue = ?", (receipt, self.name))

    def change_visibility(self, receipt: str, seconds: float) -> None:
        self.change_visibilities([(receipt, seconds)])

    def change_visibilities(self, backoffs: list[tuple[str, float]]) -> int:
        now = self._clock()
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            for receipt, seconds in backoffs:
                db.execute("UPDATE messages SET visible_at = ? WHERE receipt = ? AND queue = ?", (now + seconds, receipt, self.name))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return len(backoffs)

    def approximate_depth(self, in_flight: bool = False) -> int:
        query = "SELECT COUNT(*) FROM messages WHERE queue = ?" + ("" if in_flight else " AND visible_at <= ?")
        args: tuple[Any, ...] = (self.name,) if in_flight else (self.name, self._clock())
        return int(self._db().execute(query, args).fetchone()[0])

    def bodies(self) -> list[str]:
        """Every body in this queue, in flight or not (oldest first), without receiving anything."""
        return [row[0] for row in self._db().execute("SELECT body FROM messages WHERE queue = ? ORDER BY sent_at", (self.name,))]
