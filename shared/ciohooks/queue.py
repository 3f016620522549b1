"""The queues between ingest and delivery: SQS in AWS, an in-process queue on the embedded default.

Ingest puts each webhook into exactly one message (one ``SendMessage``), so a webhook is either
wholly queued or not at all: an answer of 5xx never leaves half of a request behind.
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

from .envelope import Envelope

# SQS takes messages of up to 1 MiB since 2026; queues are created with that maximum.
MAX_MESSAGE_BYTES = 1_048_576


class QueueUnavailable(RuntimeError):
    """The queue did not take the message: the provider must be told to retry (5xx)."""


class MessageTooLarge(ValueError):
    """The message exceeds what one SQS message holds."""


class Queue(Protocol):
    def put(self, envelope: Envelope) -> str: ...


@dataclass
class Received:
    message_id: str
    receipt: str
    body: str
    receive_count: int


class SqsQueue:
    """An SQS queue reached through boto3 (a real queue, or an emulator via ``AWS_ENDPOINT_URL_SQS``)."""

    def __init__(self, url: str, client: Any = None, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.url, self.max_bytes = url, max_bytes
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:  # created on first use: boto3 costs ~150 ms, not at import time
            import boto3
            from botocore.config import Config

            self._client = boto3.client("sqs", config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"}))
        return self._client

    def put(self, envelope: Envelope) -> str:
        body = envelope.to_json()
        if len(body.encode("utf-8")) > self.max_bytes:
            raise MessageTooLarge(f"message of {len(body)} bytes exceeds {self.max_bytes}")
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.client.send_message(QueueUrl=self.url, MessageBody=body)["MessageId"]
        except (BotoCoreError, ClientError) as error:
            raise QueueUnavailable(f"SQS did not take the message ({error.__class__.__name__})") from error

    def receive(self, max_messages: int = 10, wait_seconds: int = 0, visibility_timeout: int | None = None) -> list[Received]:
        kwargs: dict[str, Any] = {"QueueUrl": self.url, "MaxNumberOfMessages": max_messages, "WaitTimeSeconds": wait_seconds, "MessageSystemAttributeNames": ["ApproximateReceiveCount"]}
        if visibility_timeout is not None:
            kwargs["VisibilityTimeout"] = visibility_timeout
        messages = self.client.receive_message(**kwargs).get("Messages", [])
        return [
            Received(m["MessageId"], m["ReceiptHandle"], m["Body"], int(m.get("Attributes", {}).get("ApproximateReceiveCount", 1)))
            for m in messages
        ]

    def delete(self, receipt: str) -> None:
        self.client.delete_message(QueueUrl=self.url, ReceiptHandle=receipt)

    def approximate_depth(self) -> int:
        attrs = self.client.get_queue_attributes(QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


class MemoryQueue:
    """An in-process queue for the local server and the CLI (lost when the process ends)."""

    def __init__(self, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: deque[Received] = deque()
        self._ready = threading.Condition()

    def put(self, envelope: Envelope) -> str:
        body = envelope.to_json()
        if len(body.encode("utf-8")) > self.max_bytes:
            raise MessageTooLarge(f"message of {len(body)} bytes exceeds {self.max_bytes}")
        message_id = str(uuid.uuid4())
        with self._ready:
            self._items.append(Received(message_id, message_id, body, 0))
            self._ready.notify_all()
        return message_id

    def receive(self, max_messages: int = 10, wait_seconds: float = 0, visibility_timeout: int | None = None) -> list[Received]:
        with self._ready:
            if not self._items and wait_seconds:
                self._ready.wait(wait_seconds)
            out = []
            while self._items and len(out) < max_messages:
                item = self._items.popleft()
                out.append(Received(item.message_id, item.receipt, item.body, item.receive_count + 1))
            return out

    def delete(self, receipt: str) -> None:
        """Received messages are already gone from an in-process queue."""

    def requeue(self, message: Received) -> None:
        """Put a received message back (what a visibility timeout does on SQS), counting the receive."""
        with self._ready:
            self._items.append(message)
            self._ready.notify_all()

    def approximate_depth(self) -> int:
        return len(self._items)
