"""``ciohooks dlq list|show|replay``: the dead-letter queue, for an operator.

Looking is not consuming: ``list`` and ``show`` receive messages (SQS has no other way to read
them) and make every one visible again at once, so ``show`` or ``replay`` right after ``list``
finds them. ``replay`` goes on until the queue is empty (or ``--max`` is reached), deletes a dead
letter only once the delivery queue took it, and says how many remain.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from .cli import Failure
from .config import Settings
from .envelope import Envelope
from .queue import Received, SqsQueue

HIDE_SECONDS = 60  # long enough to page through a big queue; every message is released at the end


def queue_urls(stack: str | None, region: str | None, endpoint_url: str | None, dead_letter_url: str | None, delivery_url: str | None) -> tuple[str | None, str | None]:
    """(dead-letter queue URL, delivery queue URL): the options, else the stack's outputs, else the environment."""
    from_stack: dict[str, str] = {}
    if stack:
        from botocore.exceptions import ClientError

        from .doctor import AwsClients, settings_from_stack

        try:
            from_stack, _ = settings_from_stack(AwsClients(region, endpoint_url).cloudformation, stack)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ValidationError":
                raise Failure(f"no stack {stack} in {region or 'your default region'}: check --stack and --region") from None
            raise
    settings = Settings()
    return (
        dead_letter_url or from_stack.get("CIOHOOKS_DEAD_LETTER_QUEUE_URL") or settings.get("DEAD_LETTER_QUEUE_URL"),
        delivery_url or from_stack.get("CIOHOOKS_DELIVERY_QUEUE_URL") or settings.get("DELIVERY_QUEUE_URL"),
    )


class DeadLetters:
    def __init__(self, url: str, client: Any) -> None:
        self.url, self.client = url, client
        self.queue = SqsQueue(url, client)
        self.name = url.rstrip("/").rsplit("/", 1)[-1]

    # -- the commands ----------------------------------------------------------------------------

    def list(self, most: int | None) -> int:
        held = self._collect(most)
        try:
            for message in held:
                print(json.dumps({"message_id": message.message_id, "receives": message.receive_count, **summary(message.body)}))
        finally:
            self._release(held)
        if not held:
            print(f"{self.name} is empty", file=sys.stderr)
        elif most is not None and len(held) == most and (more := self.depth() - most) > 0:
            print(f"listed {most}; {more} more in {self.name} (raise --max)", file=sys.stderr)
        return 0

    def show(self, message_id: str, most: int | None) -> int:
        held = self._collect(most, until=message_id)
        self._release(held)
        for message in held:
            if message.message_id == message_id:
                print(message.body)
                return 0
        raise Failure(f"no message {message_id} in {self.name}: `ciohooks dlq list` prints the ids")

    def replay(self, target_url: str, message_id: str | None, most: int | None) -> int:
        target = SqsQueue(target_url, self.client)
        replayed, kept, passed = 0, [], []
        seen: set[str] = set()
        while most is None or replayed + len(kept) < most:
            fresh = [m for m in self.queue.receive(max_messages=10, wait_seconds=0, visibility_timeout=HIDE_SECONDS) if m.message_id not in seen]
            if not fresh:
                break
            for message in fresh:
                seen.add(message.message_id)
                if (message_id is not None and message.message_id != message_id) or (most is not None and replayed + len(kept) >= most):
                    passed.append(message)
                elif self._replay_one(message, target):
                    replayed += 1
                else:
                    kept.append(message)
            if message_id is not None and message_id in seen:
                break
        self._release(passed + kept)
        if message_id is not None and replayed + len(kept) == 0:
            raise Failure(f"no message {message_id} in {self.name}: `ciohooks dlq list` prints the ids")
        remaining = self.depth()
        print(json.dumps({"replayed": replayed, "kept": len(kept), "remaining": remaining}))
        if remaining:
            why = "raise --max or run again" if most is not None and message_id is None else "run `ciohooks dlq list`"
            print(f"{remaining} message(s) remain in {self.name}: {why}", file=sys.stderr)
        return 0 if not kept else 1

    # -- helpers ---------------------------------------------------------------------------------

    def _replay_one(self, message: Received, target: SqsQueue) -> bool:
        try:
            envelope = Envelope.from_json(message.body).for_replay()
        except ValueError:
            print(f"kept {message.message_id}: not a cio-hooks envelope (use the SQS console's redrive for it)", file=sys.stderr)
            return False
        try:
            target.put(envelope)
        except Exception as error:  # noqa: BLE001 - the dead letter is deleted only after the send succeeded
            print(f"kept {message.message_id}: the delivery queue did not take it ({error.__class__.__name__})", file=sys.stderr)
            return False
        self.queue.delete(message.receipt)
        return True

    def _collect(self, most: int | None, until: str | None = None) -> list[Received]:
        """Receive (hidden for a while) until the queue gives nothing new, ``most`` or ``until`` is reached."""
        held: dict[str, Received] = {}
        while most is None or len(held) < most:
            fresh = [m for m in self.queue.receive(max_messages=10, wait_seconds=0, visibility_timeout=HIDE_SECONDS) if m.message_id not in held]
            if not fresh:
                break
            room = len(fresh) if most is None else most - len(held)
            for message in fresh[:room]:
                held[message.message_id] = message
            self._release(fresh[room:])
            if until is not None and until in held:
                break
        return list(held.values())

    def _release(self, messages: list[Received]) -> None:
        """Visible again at once: looking at a dead letter must not hide it from the next command."""
        self.queue.change_visibilities([(m.receipt, 0) for m in messages])

    def depth(self) -> int:
        attributes = self.client.get_queue_attributes(QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return int(attributes.get("ApproximateNumberOfMessages", 0)) + int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0))


def summary(body: str) -> dict[str, Any]:
    try:
        return Envelope.from_json(body).summary()
    except ValueError:
        return {"kind": "unknown", "bytes": len(body)}
