"""Where a video playback session's state lives between beacons: DynamoDB in AWS, memory locally.

A browser tracker sends one playback session as many beacons (``seq`` 0, 1, 2, ...), which may be
retried, duplicated or reordered on the way. Turning them into semantic events needs what came
before: the state machine of the player, the next ``seq`` expected, beacons that arrived early, and
what recent beacons produced (so a retried beacon yields the very same events again). That is a
:class:`SessionRecord`, and a :class:`SessionStore` keeps one per session behind three methods:

    load(key)                         -> SessionRecord or None
    save(record, expected_version)    -> the record written (version + 1), or SessionConflict
    due(now_ms, limit)                -> keys of sessions whose early beacons waited long enough

``save`` is a compare-and-set on ``version``: two beacons of one session handled at the same time
(two Lambda instances) cannot overwrite each other; the loser reloads and runs again
(:func:`update`). Processing a beacon has no side effect before ``save`` succeeds, so running it
again is harmless.

Implementations, chosen by :func:`store_from_settings`:

- :class:`DynamoDBSessionStore` when ``VIDEO_SESSIONS_TABLE`` is set (AWS). The table has a string
  partition key ``session_key``; each item holds ``version`` (N), ``record`` (B: the record as
  zlib-compressed JSON, so floats need no Decimal dance and items stay far below DynamoDB's 400 KB)
  and ``expires_at`` (N: epoch seconds, the table's TTL attribute); a session holding early beacons
  also has ``sweep`` (S, "due") and ``sweep_due_ms`` (N), the keys of the sparse index ``SweepDue``
  that the scheduled sweep queries (``sources/video/_sweep.py``). Conditional ``PutItem``
  (``attribute_not_exists(session_key)`` for a new session, ``#version = :expected`` after that)
  and strongly consistent ``GetItem``. The endpoint follows boto3's own configuration
  (``AWS_ENDPOINT_URL_DYNAMODB`` points it at moto or DynamoDB Local in tests).
- :class:`EmbeddedSessionStore` otherwise: a dict in this process, with the same compare-and-set.
  Right for ``ciohooks serve``, ``ciohooks translate`` and tests; wrong for Lambda, where every
  instance would have its own (a loud warning says so).

Settings (``CIOHOOKS_`` prefix):

    VIDEO_SESSIONS_TABLE          DynamoDB table name (unset: embedded store)
    VIDEO_SESSION_TTL_SECONDS     how long a session is kept after its last beacon (default 86400)

A store failure other than a conflict raises :class:`SessionStoreUnavailable`, a kind of
``InvalidPayload``: ingest keeps the beacon whole in the DLQ with that reason and a replay
translates it again once the store is back. Messages never contain keys, ids or payloads.
"""

from __future__ import annotations

import json
import logging
import weakref
import random
import threading
import time
import zlib
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Callable, Protocol, TypeVar

from .config import ConfigurationError, Settings, in_lambda
from .sources.base import InvalidPayload
from .sources.video._state import PlaybackState

log = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 86_400
# DynamoDB refuses items over 400 KB; the record is trimmed (oldest replay results first) below this.
MAX_RECORD_BYTES = 300_000
CONFLICT_ATTEMPTS = 10  # a session rarely has more than two beacons in flight at once

T = TypeVar("T")


class SessionConflict(Exception):
    """Someone else saved the session since it was loaded: load it again and redo the work."""


class SessionStoreUnavailable(InvalidPayload):
    """The session store could not be read or written. The beacon goes to the DLQ, to be replayed."""


@dataclass
class SessionRecord:
    """Everything a session needs between beacons. JSON-safe by construction."""

    key: str
    version: int = 0  # 0: never saved
    next_seq: int = 0  # every seq below this was processed, or its gap was closed by time (``skipped``)
    anchor_ms: int | None = None  # epoch ms of the session's t = 0 (fixed by the first beacon)
    machine: PlaybackState = field(default_factory=PlaybackState)  # the player state machine
    buffered: dict[str, dict[str, Any]] = field(default_factory=dict)  # seq -> beacon that came early
    waiting_since_ms: int | None = None  # when the oldest buffered beacon arrived
    sweep_due_ms: int | None = None  # when that beacon stops waiting: the scheduled sweep's due time
    results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # arrival seq -> events it produced
    closed: bool = False  # the final beacon was processed
    final_seq: int | None = None  # the seq of the final beacon, once it arrived
    # Gaps closed by time: [first, end) seq ranges never received, so a straggler is still translated,
    # with the player state as it was where its gap began (``gap_states``, by first seq).
    skipped: list[list[int]] = field(default_factory=list)
    gap_states: dict[str, dict[str, Any]] = field(default_factory=dict)
    expires_at: int = 0  # epoch seconds; every save sets it to now + the store's TTL

    def to_bytes(self) -> bytes:
        return zlib.compress(json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False).encode("utf-8"))

    @classmethod
    def from_bytes(cls, data: bytes) -> SessionRecord:
        return cls.from_dict(json.loads(zlib.decompress(data).decode("utf-8")))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionRecord:
        """A record as any version of this code saved it: unknown keys (``native_index`` of the
        counter-based messageIds) are dropped, missing ones take their defaults."""
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["machine"] = PlaybackState.from_dict(values.get("machine"))
        return cls(**values)

    def trimmed(self, limit: int = MAX_RECORD_BYTES) -> tuple[SessionRecord, bytes]:
        """This record and its bytes, dropping the oldest replay results until it fits ``limit``."""
        record, data = self, self.to_bytes()
        while len(data) > limit and record.results:
            oldest = min(record.results, key=int)
            record = replace(record, results={k: v for k, v in record.results.items() if k != oldest})
            data = record.to_bytes()
        if len(data) > limit:
            raise SessionStoreUnavailable("session state is too large to store (too many buffered beacons)")
        return record, data


class SessionStore(Protocol):
    ttl_seconds: int

    def load(self, key: str) -> SessionRecord | None: ...

    def save(self, record: SessionRecord, expected_version: int) -> SessionRecord:
        """Write ``record`` if the stored version is still ``expected_version`` (0: no item yet).

        Returns the record as written (``version`` = expected + 1, ``expires_at`` = now + TTL);
        raises ``SessionConflict``.
        """
        ...

    def due(self, now_ms: int, limit: int) -> list[str]:
        """Keys of sessions whose early beacons have waited until ``now_ms`` (``sweep_due_ms``),
        at most ``limit`` of them: the scheduled sweep closes their gaps."""
        ...


def update(store: SessionStore, key: str, work: Callable[[SessionRecord], tuple[SessionRecord | None, T]], attempts: int = CONFLICT_ATTEMPTS) -> T:
    """Load the session, let ``work`` compute the next record (``None``: unchanged) and a result,
    save it; on a conflict, start over from a fresh load. ``work`` must be free of side effects."""
    for attempt in range(attempts):
        current = store.load(key) or SessionRecord(key=key)  # a fresh copy: ``work`` may change it
        version = current.version
        record, result = work(current)
        if record is None:  # nothing to write (a duplicate beacon)
            return result
        try:
            store.save(record, version)
            return result
        except SessionConflict:
            if attempt + 1 < attempts:
                # Full jitter, so instances that collided do not collide again in step.
                time.sleep(random.uniform(0, min(0.01 * 2**attempt, 0.5)))
    raise SessionStoreUnavailable(f"session state kept changing under {attempts} attempts to save it")


# ---- embedded ------------------------------------------------------------------------------------


class EmbeddedSessionStore:
    """Sessions in this process's memory (serialised, so no caller can alias stored state)."""

    def __init__(self, ttl_seconds: int = DEFAULT_TTL_SECONDS) -> None:
        self.ttl_seconds = ttl_seconds
        self._items: dict[str, tuple[int, bytes, int, int | None]] = {}  # key -> (version, record bytes, expires_at, sweep_due_ms)
        self._lock = threading.Lock()

    def load(self, key: str) -> SessionRecord | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None and item[2] < time.time():
                del self._items[key]
                item = None
        return None if item is None else SessionRecord.from_bytes(item[1])

    def save(self, record: SessionRecord, expected_version: int) -> SessionRecord:
        written = replace(record, version=expected_version + 1, expires_at=int(time.time()) + self.ttl_seconds)
        written, data = written.trimmed()
        with self._lock:
            stored = self._items.get(record.key)
            if (stored[0] if stored else 0) != expected_version:
                raise SessionConflict(record.key)
            self._items[record.key] = (written.version, data, written.expires_at, written.sweep_due_ms)
        return written

    def due(self, now_ms: int, limit: int) -> list[str]:
        with self._lock:
            found = [key for key, item in self._items.items() if item[3] is not None and item[3] <= now_ms]
        return found[:limit]

    def __len__(self) -> int:
        return len(self._items)


# ---- DynamoDB ------------------------------------------------------------------------------------


class DynamoDBSessionStore:
    """Sessions as DynamoDB items, written with a condition on their version."""

    KEY = "session_key"
    # A sparse index of the sessions holding early beacons: only items with the two attributes
    # below are in it, so the sweep queries a handful of items, never scans the table.
    DUE_INDEX = "SweepDue"
    DUE_PARTITION = "sweep"  # S, always "due" when present
    DUE_AT = "sweep_due_ms"  # N, epoch ms

    def __init__(self, table: str, ttl_seconds: int = DEFAULT_TTL_SECONDS, client: Any = None) -> None:
        self.table, self.ttl_seconds = table, ttl_seconds
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:  # boto3 only when a session is first touched: cheaper cold starts
            import boto3

            from .budgets import VIDEO_SESSION

            self._client = boto3.client("dynamodb", config=VIDEO_SESSION.boto_config())
        return self._client

    def load(self, key: str) -> SessionRecord | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            item = self.client.get_item(TableName=self.table, Key={self.KEY: {"S": key}}, ConsistentRead=True).get("Item")
        except (BotoCoreError, ClientError) as error:
            raise SessionStoreUnavailable(f"could not read the session store ({_aws_error(error)})") from None
        if not item:
            return None
        try:
            return replace(SessionRecord.from_bytes(item["record"]["B"]), version=int(item["version"]["N"]))
        except (KeyError, ValueError, TypeError, zlib.error):
            raise SessionStoreUnavailable("a stored session is unreadable") from None

    def save(self, record: SessionRecord, expected_version: int) -> SessionRecord:
        from botocore.exceptions import BotoCoreError, ClientError

        written, data = replace(record, version=expected_version + 1, expires_at=int(time.time()) + self.ttl_seconds).trimmed()
        item = {
            self.KEY: {"S": record.key},
            "version": {"N": str(written.version)},
            "record": {"B": data},
            "expires_at": {"N": str(written.expires_at)},
        }
        if written.sweep_due_ms is not None:
            item[self.DUE_PARTITION] = {"S": "due"}
            item[self.DUE_AT] = {"N": str(written.sweep_due_ms)}
        if expected_version == 0:
            condition: dict[str, Any] = {"ConditionExpression": f"attribute_not_exists({self.KEY})"}
        else:
            condition = {
                "ConditionExpression": "#version = :expected",
                "ExpressionAttributeNames": {"#version": "version"},
                "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
            }
        try:
            self.client.put_item(TableName=self.table, Item=item, **condition)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise SessionConflict(record.key) from None
            raise SessionStoreUnavailable(f"could not write the session store ({_aws_error(error)})") from None
        except BotoCoreError as error:
            raise SessionStoreUnavailable(f"could not write the session store ({_aws_error(error)})") from None
        return written

    def due(self, now_ms: int, limit: int) -> list[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        keys: list[str] = []
        query: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": self.DUE_INDEX,
            "KeyConditionExpression": "#p = :due AND #at <= :now",
            "ExpressionAttributeNames": {"#p": self.DUE_PARTITION, "#at": self.DUE_AT},
            "ExpressionAttributeValues": {":due": {"S": "due"}, ":now": {"N": str(now_ms)}},
        }
        try:
            while len(keys) < limit:
                page = self.client.query(**query, Limit=limit - len(keys))
                keys += [item[self.KEY]["S"] for item in page.get("Items", [])]
                if "LastEvaluatedKey" not in page:
                    break
                query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except (BotoCoreError, ClientError) as error:
            raise SessionStoreUnavailable(f"could not query the sessions due for a sweep ({_aws_error(error)})") from None
        return keys


def _aws_error(error: Exception) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code") or error.__class__.__name__)
    return error.__class__.__name__


# ---- choosing one --------------------------------------------------------------------------------

_warned_embedded_in_lambda = False
# One embedded store per configuration: everything built from the same Settings (serve's ingest and
# deliver sides, which share theirs) sees the same sessions; a test's fresh Settings gets a fresh store.
_embedded: weakref.WeakKeyDictionary[Settings, EmbeddedSessionStore] = weakref.WeakKeyDictionary()


def store_from_settings(settings: Settings) -> SessionStore:
    """DynamoDB when ``VIDEO_SESSIONS_TABLE`` is set, else the embedded store of these settings."""
    global _warned_embedded_in_lambda
    ttl = settings.get_int("VIDEO_SESSION_TTL_SECONDS", DEFAULT_TTL_SECONDS)
    if ttl <= 0:
        raise ConfigurationError("CIOHOOKS_VIDEO_SESSION_TTL_SECONDS must be a positive number of seconds")
    table = settings.get("VIDEO_SESSIONS_TABLE")
    if table:
        return DynamoDBSessionStore(table, ttl)
    if in_lambda() and not _warned_embedded_in_lambda:
        _warned_embedded_in_lambda = True
        log.warning(
            "video sessions are kept in this Lambda instance's memory because CIOHOOKS_VIDEO_SESSIONS_TABLE "
            "is not set: concurrent instances will not see each other's sessions (duplicate or missing events)"
        )
    if settings not in _embedded:
        _embedded[settings] = EmbeddedSessionStore(ttl)
    return _embedded[settings]
