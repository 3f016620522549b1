"""An SQS (and S3) emulator for the tests: moto's server in a subprocess, spoken to by boto3 over HTTP.

- :class:`MotoServer`: ``python -m moto.server -H 127.0.0.1 -p <free port>`` started in its own
  process group, ready-checked, reset (``POST /moto-api/reset``) between tests, stopped at the end.
- :class:`SqsQueues`: a fresh DeliveryQueue + DeadLetterQueue pair with a RedrivePolicy and a short
  visibility timeout (1 MiB messages, as template.yaml creates them), a fresh S3 bucket for
  claim-checked bodies on the same server (:attr:`SqsQueues.bucket`), a boto3 client pointed at
  the emulator, and small helpers. :meth:`SqsQueues.env` points both SDK services at the server.

moto's ``send_message`` gets slower as a queue gets deeper (it walks every message to compute the
queue attributes), so keep queues small and fresh: one pair per test, drained by the test.
moto does not implement ``StartMessageMoveTask`` and does not set ``DeadLetterQueueSourceArn``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from ciohooks.lambda_runtime import OFFLINE_AWS_ENV

from . import BackgroundProcess, die_with_parent, free_port, kill_process_group

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account

#: What every test process and subprocess sees, so nothing can reach real AWS with real credentials.
SANDBOX_ENV: dict[str, str] = dict(OFFLINE_AWS_ENV)
#: Removed from the environment: a profile, SSO or web-identity role, or a global endpoint override
#: would otherwise win over the dummies.
SANDBOX_UNSET: tuple[str, ...] = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_SQS",
    "AWS_ENDPOINT_URL_S3",
)


def sandbox_environ(base: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    for name in SANDBOX_UNSET:
        env.pop(name, None)
    env.update(SANDBOX_ENV)
    return env


class EmulatorError(RuntimeError):
    pass


class MotoServer(BackgroundProcess):
    """moto's HTTP server as a subprocess on 127.0.0.1 (a context manager)."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, python: str | None = None,
                 log_path: str | Path | None = None, start_timeout: float = 30.0) -> None:
        self.host = host
        self._requested_port = port
        self.port: int | None = None
        self.python = python or sys.executable
        self.start_timeout = start_timeout
        self._log_path = Path(log_path) if log_path else None
        self._log_file: Any = None
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise EmulatorError("moto server is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path | None:
        return self._log_path

    def start(self) -> "MotoServer":
        if self.proc is not None:
            return self
        if self._log_path is None:
            fd, name = tempfile.mkstemp(prefix="moto-server-", suffix=".log")
            os.close(fd)
            self._log_path = Path(name)
        attempts = 1 if self._requested_port else 3
        last_error = ""
        for _ in range(attempts):
            port = self._requested_port or free_port(self.host)
            self._log_file = open(self._log_path, "ab")
            proc = subprocess.Popen(
                [self.python, "-m", "moto.server", "-H", self.host, "-p", str(port)],
                stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=subprocess.STDOUT,
                env=sandbox_environ(), start_new_session=True, preexec_fn=die_with_parent,
            )
            if self._wait_ready(proc, port):
                self.proc, self.port = proc, port
                return self
            last_error = self._tail()
            kill_process_group(proc)
            self._log_file.close()
        raise EmulatorError(f"moto server did not start on {self.host} (log {self._log_path}):\n{last_error}")

    def _wait_ready(self, proc: subprocess.Popen[bytes], port: int) -> bool:
        deadline = time.monotonic() + self.start_timeout
        url = f"http://{self.host}:{port}/moto-api/data.json"
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(url, timeout=1) as resp:
                    if resp.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        return False

    def _tail(self, n: int = 4000) -> str:
        try:
            return self._log_path.read_bytes()[-n:].decode("utf-8", "replace") if self._log_path else ""
        except OSError:
            return ""

    def reset(self) -> None:
        """Forget every queue and message (``POST /moto-api/reset``)."""
        req = urllib.request.Request(self.url + "/moto-api/reset", data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            if resp.status != 200:
                raise EmulatorError(f"moto reset answered {resp.status}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None



def sqs_client(endpoint_url: str, region: str = REGION):
    """A boto3 SQS client for the emulator with dummy credentials (never real ones)."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(
        aws_access_key_id=SANDBOX_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=SANDBOX_ENV["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=SANDBOX_ENV["AWS_SESSION_TOKEN"],
        region_name=region,
    )
    return session.client("sqs", endpoint_url=endpoint_url,
                          config=Config(retries={"max_attempts": 2, "mode": "standard"},
                                        connect_timeout=5, read_timeout=30))


def s3_client(endpoint_url: str, region: str = REGION):
    """A boto3 S3 client for the same emulator (path-style addressing, dummy credentials)."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session(
        aws_access_key_id=SANDBOX_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=SANDBOX_ENV["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=SANDBOX_ENV["AWS_SESSION_TOKEN"],
        region_name=region,
    ).client("s3", endpoint_url=endpoint_url, config=Config(s3={"addressing_style": "path"}, connect_timeout=5, read_timeout=30))


@dataclass
class SqsQueues:
    """A fresh DeliveryQueue + DeadLetterQueue pair on the emulator."""

    client: Any
    endpoint_url: str
    delivery_url: str
    dlq_url: str
    delivery_arn: str
    dlq_arn: str
    delivery_name: str
    dlq_name: str
    max_receive_count: int
    visibility_timeout: int
    bucket: str = ""
    region: str = REGION
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, endpoint_url: str, *, max_receive_count: int = 3, visibility_timeout: int = 2,
               prefix: str = "cio", client: Any = None, fifo: bool = False) -> "SqsQueues":
        client = client or sqs_client(endpoint_url)
        suffix = uuid.uuid4().hex[:8]
        ext = ".fifo" if fifo else ""
        fifo_attrs = {"FifoQueue": "true", "ContentBasedDeduplication": "true"} if fifo else {}
        dlq_name = f"{prefix}-DeadLetterQueue-{suffix}{ext}"
        delivery_name = f"{prefix}-DeliveryQueue-{suffix}{ext}"
        dlq_url = client.create_queue(QueueName=dlq_name, Attributes={"MessageRetentionPeriod": "1209600", "MaximumMessageSize": "1048576", **fifo_attrs})["QueueUrl"]
        dlq_arn = client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        delivery_url = client.create_queue(QueueName=delivery_name, Attributes={
            "VisibilityTimeout": str(visibility_timeout),
            "MaximumMessageSize": "1048576",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}),
            **fifo_attrs,
        })["QueueUrl"]
        delivery_arn = client.get_queue_attributes(QueueUrl=delivery_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        bucket = f"{prefix.lower()}-bodies-{suffix}"
        s3_client(endpoint_url).create_bucket(Bucket=bucket)
        return cls(client=client, endpoint_url=endpoint_url, delivery_url=delivery_url, dlq_url=dlq_url,
                   delivery_arn=delivery_arn, dlq_arn=dlq_arn, delivery_name=delivery_name, dlq_name=dlq_name,
                   max_receive_count=max_receive_count, visibility_timeout=visibility_timeout, bucket=bucket)

    # -- environment for code under test ------------------------------------------------------------

    def env(self, **extra: str) -> dict[str, str]:
        """AWS variables that point an SDK at the emulator (dummy credentials), plus ``extra``.
        The project's own setting names (queue URLs) are for the caller to add."""
        return {**SANDBOX_ENV, "AWS_ENDPOINT_URL_SQS": self.endpoint_url, "AWS_ENDPOINT_URL_S3": self.endpoint_url, **extra}

    @property
    def s3(self) -> Any:
        return s3_client(self.endpoint_url)

    def stored_bodies(self) -> list[str]:
        """Keys of every claim-checked body in the bucket."""
        return [o["Key"] for o in self.s3.list_objects_v2(Bucket=self.bucket).get("Contents", [])]

    # -- helpers ----------------------------------------------------------------------------------

    def _url(self, queue: str | None) -> str:
        if queue in (None, "delivery"):
            return self.delivery_url
        if queue in ("dlq", "dead-letter"):
            return self.dlq_url
        return queue  # a queue URL

    def send(self, body: str | bytes | Mapping[str, Any], queue: str | None = None, **kwargs: Any) -> str:
        """Send one message (a dict is JSON-encoded); returns its MessageId."""
        text = body.decode() if isinstance(body, bytes) else body if isinstance(body, str) else json.dumps(body)
        return self.client.send_message(QueueUrl=self._url(queue), MessageBody=text, **kwargs)["MessageId"]

    def send_many(self, bodies: Iterable[str | Mapping[str, Any]], queue: str | None = None) -> list[str]:
        """Send with SendMessageBatch, 10 at a time; raises if any entry failed."""
        items = [b if isinstance(b, str) else json.dumps(b) for b in bodies]
        ids: list[str] = []
        for start in range(0, len(items), 10):
            chunk = items[start:start + 10]
            resp = self.client.send_message_batch(QueueUrl=self._url(queue), Entries=[
                {"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)])
            if resp.get("Failed"):
                raise EmulatorError(f"send_message_batch failed: {resp['Failed']}")
            ids.extend(e["MessageId"] for e in sorted(resp["Successful"], key=lambda e: int(e["Id"])))
        return ids

    def receive(self, queue: str | None = None, max_messages: int = 10, wait: int = 0,
                visibility_timeout: int | None = None) -> list[dict[str, Any]]:
        """One ReceiveMessage call (all attributes). Counts towards maxReceiveCount."""
        kwargs: dict[str, Any] = {"QueueUrl": self._url(queue), "MaxNumberOfMessages": max_messages,
                                  "WaitTimeSeconds": wait, "AttributeNames": ["All"], "MessageAttributeNames": ["All"]}
        if visibility_timeout is not None:
            kwargs["VisibilityTimeout"] = visibility_timeout
        return self.client.receive_message(**kwargs).get("Messages", [])

    def receive_all(self, queue: str | None = None, *, delete: bool = True, max_rounds: int = 100,
                    visibility_timeout: int | None = None) -> list[dict[str, Any]]:
        """Receive until a receive comes back empty. With ``delete=True`` (default) this drains the
        queue; with ``delete=False`` the messages stay in flight for the visibility timeout and their
        receive count goes up (which drives redrive)."""
        url = self._url(queue)
        out: list[dict[str, Any]] = []
        for _ in range(max_rounds):
            batch = self.receive(url, visibility_timeout=visibility_timeout)
            if not batch:
                break
            out.extend(batch)
            if delete:
                self.delete(url, [m["ReceiptHandle"] for m in batch])
        return out

    def bodies(self, queue: str | None = None, *, delete: bool = True) -> list[Any]:
        """Drain and JSON-decode (falls back to the raw text) every message body."""
        out = []
        for msg in self.receive_all(queue, delete=delete):
            try:
                out.append(json.loads(msg["Body"]))
            except ValueError:
                out.append(msg["Body"])
        return out

    def delete(self, queue: str | None, receipt_handles: Iterable[str]) -> None:
        handles = list(receipt_handles)
        url = self._url(queue)
        for start in range(0, len(handles), 10):
            self.client.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(handles[start:start + 10])])

    def release(self, queue: str | None, receipt_handles: Iterable[str]) -> None:
        """Make received messages visible again at once (ChangeMessageVisibility 0): simulates a
        failed consumer without waiting for the visibility timeout."""
        url = self._url(queue)
        for handle in receipt_handles:
            self.client.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)

    def count(self, queue: str | None = None, *, in_flight: bool = False) -> int:
        """ApproximateNumberOfMessages (plus NotVisible with ``in_flight=True``)."""
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        attrs = self.client.get_queue_attributes(QueueUrl=self._url(queue), AttributeNames=names)["Attributes"]
        n = int(attrs.get("ApproximateNumberOfMessages", 0))
        return n + int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)) if in_flight else n

    def purge(self, queue: str | None = None) -> None:
        """Empty a queue ("delivery", "dlq", or a URL); with no argument, both."""
        for url in ([self._url(queue)] if queue else [self.delivery_url, self.dlq_url]):
            self.client.purge_queue(QueueUrl=url)

    def attributes(self, queue: str | None = None) -> dict[str, str]:
        return self.client.get_queue_attributes(QueueUrl=self._url(queue), AttributeNames=["All"])["Attributes"]
