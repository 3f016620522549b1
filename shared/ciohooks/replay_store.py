"""Nonces seen by any instance: refuses a signature replayed onto another body, across containers.

Some schemes sign a nonce but not the body (Mailgun signs ``timestamp + token``), or carry a message
id that a captured request could be re-sent under (Standard Webhooks' ``webhook-id``, SNS's
``MessageId``). Whoever sees one authentic request could attach its credentials to a body of their
own, or send it again to a cold container that has never seen it. So after a signature verifies,
the source asks the store to remember ``(nonce, digest of what it came with)``:

- a nonce never seen, or seen with the SAME digest, passes: the same delivery again is exactly
  what a provider's retry looks like, and it is harmless (the same messageIds, which Customer.io
  de-duplicates);
- a nonce seen with a DIFFERENT digest is refused (``NonceReused``, a 401);
- a store that cannot be reached raises ``ReplayStoreUnavailable``: ingest answers the provider's
  ``retry_status`` (5xx) and accepts nothing it could not check.

Each entry lives until the signature it protects would be refused as too old anyway (``expires_at``
= the signed timestamp + the source's tolerance window), so the store never holds more than one
tolerance window of nonces.

Implementations, chosen by :func:`store_for` from the settings:

- :class:`DynamoDBReplayStore` when ``CIOHOOKS_REPLAY_TABLE`` is set (the template's ReplayTable:
  string key ``nonce_key``, TTL attribute ``expires_at``). One conditional ``PutItem`` per request:
  ``attribute_not_exists(nonce_key) OR digest = :digest OR expires_at < :now`` (DynamoDB's TTL
  deletes late, so an expired item still present counts as absent). Every call is bounded by
  ``budgets.REPLAY_PUT``, counted on the ingest path against the functions' Timeout.
- :class:`EmbeddedReplayStore` otherwise: this process's memory (``ciohooks serve``, the CLI, tests).
  In Lambda every container would have its own, which is the hole this module closes, so using it
  there logs an error.

Keys are ``<source>#<sha256 of the nonce>``: bounded in size, and the nonce itself is never stored.
Messages name the store and the error code, never a nonce, a digest or a body.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

from . import budgets
from .config import Settings
from .sources.base import Unauthorized, Unavailable

log = logging.getLogger(__name__)

TABLE_SETTING = "REPLAY_TABLE"
KEY = "nonce_key"
EMBEDDED_MAX_ENTRIES = 100_000


class NonceReused(Unauthorized):
    """The nonce was already used with another body: a forged or tampered request (401)."""


class ReplayStoreUnavailable(Unavailable):
    """The replay store could not be asked: the request is refused with the provider's retry status."""


class ReplayStore(Protocol):
    def remember(self, key: str, digest: str, expires_at: int, now: float) -> None:
        """Store ``key`` with ``digest`` until ``expires_at`` (epoch seconds); ``NonceReused`` if it is
        already stored with another digest and still unexpired at ``now`` (the time the request
        arrived, the clock its signature is checked against); ``ReplayStoreUnavailable`` if the
        store cannot be reached."""
        ...


def digest_of(content: bytes) -> str:
    """The digest stored with a nonce: SHA-256 of what the nonce came with."""
    return hashlib.sha256(content).hexdigest()


@dataclass(frozen=True)
class ReplayGuard:
    """One source's view of the store: its nonces are kept apart from every other source's."""

    store: ReplayStore
    scope: str  # the source's full name, e.g. "email/mailgun"

    def check(self, nonce: str, digest: str, *, expires_at: int, now: float, what: str) -> None:
        """Refuse ``nonce`` (named ``what`` in the message, e.g. "Mailgun token") if it came before
        with another ``digest``; remember it until ``expires_at`` otherwise. ``now`` is the time the
        request arrived (``WebhookRequest.received_at``)."""
        key = f"{self.scope}#{hashlib.sha256(nonce.encode('utf-8')).hexdigest()}"
        try:
            self.store.remember(key, digest, expires_at, now)
        except NonceReused:
            raise NonceReused(f"{what} reused with a different payload") from None


# ---- embedded ----------------------------------------------------------------------------------------


class EmbeddedReplayStore:
    """Nonces in this process's memory, bounded (oldest first out) and expired by time."""

    def __init__(self, max_entries: int = EMBEDDED_MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[str, int]] = OrderedDict()  # key -> (digest, expires_at)
        self._lock = threading.Lock()

    def remember(self, key: str, digest: str, expires_at: int, now: float) -> None:
        with self._lock:
            known = self._entries.get(key)
            if known is not None and known[1] >= now and not hmac.compare_digest(known[0], digest):
                raise NonceReused(key)
            self._entries[key] = (digest, max(expires_at, known[1] if known else 0))
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


# ---- DynamoDB ----------------------------------------------------------------------------------------


class DynamoDBReplayStore:
    """Nonces as DynamoDB items, each written by one conditional PutItem."""

    def __init__(self, table: str, client: Any = None) -> None:
        self.table, self._client = table, client

    @property
    def client(self) -> Any:
        if self._client is None:  # boto3 only when a nonce is first checked: cheaper cold starts
            import boto3

            self._client = boto3.client("dynamodb", config=budgets.REPLAY_PUT.boto_config())
        return self._client

    def remember(self, key: str, digest: str, expires_at: int, now: float) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_item(
                TableName=self.table,
                Item={KEY: {"S": key}, "digest": {"S": digest}, "expires_at": {"N": str(expires_at)}},
                ConditionExpression=f"attribute_not_exists({KEY}) OR digest = :digest OR expires_at < :now",
                ExpressionAttributeValues={":digest": {"S": digest}, ":now": {"N": str(int(now))}},
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code") or "ClientError"
            if code == "ConditionalCheckFailedException":
                raise NonceReused(key) from None
            raise ReplayStoreUnavailable(f"the replay store did not answer ({code})") from None
        except BotoCoreError as error:
            raise ReplayStoreUnavailable(f"the replay store did not answer ({error.__class__.__name__})") from None


# ---- choosing one ------------------------------------------------------------------------------------

# One store per configuration: every source built from the same Settings (one ingest, or serve's
# pipeline) shares it, so two sources of one process see each other's nonces only within their scope.
_stores: weakref.WeakKeyDictionary[Settings, ReplayStore] = weakref.WeakKeyDictionary()
_stores_lock = threading.Lock()


def store_for(settings: Settings) -> ReplayStore:
    """DynamoDB when ``CIOHOOKS_REPLAY_TABLE`` is set, else the embedded store of these settings."""
    with _stores_lock:
        if (store := _stores.get(settings)) is None:
            table = settings.get(TABLE_SETTING)
            if table is not None:
                store = DynamoDBReplayStore(table)
            else:
                if settings.in_lambda:
                    log.error("SECURITY: %s is not set, so replayed signatures are remembered per container only", TABLE_SETTING)
                store = EmbeddedReplayStore()
            _stores[settings] = store
        return store


def guard(source: Any) -> ReplayGuard:
    """The replay guard of a built source (anything with ``settings`` and ``full_name()``)."""
    return ReplayGuard(store_for(source.settings), source.full_name())
