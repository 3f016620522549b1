"""Customer.io Pipelines API client: ``POST /v1/batch`` with size-aware packing and honest retries.

https://docs.customer.io/integrations/api/cdp/

- Basic auth with the API key as user and an empty password; one reused ``requests.Session``.
- ``X-Strict-Mode: 1`` on every call: without it the API answers 200 even for invalid events.
- Packing: an event over 32 KB is rejected before sending; a request stays under 500 KB
  (475,000 bytes of events, as Customer.io's own Python client does, leaving room for the wrapper).
- Retries 429, 5xx, timeouts and connection errors with exponential backoff and full jitter,
  honouring ``Retry-After``, and never past the caller's deadline (the Lambda's remaining time).
- A permanent 4xx blames events only after isolating them. Customer.io documents a 400's body as
  ``{"meta": {"errors": ["...", ...]}}`` (one string per error; the OpenAPI specs in
  ``shared/ciohooks/specs``), without saying how an error names the event it is about. Where an
  error names it (``batch[3]`` in a string, ``batch_index``/``index`` in an object, the shape of
  Customer.io's Track API v2 batch errors, or the event's ``messageId`` quoted) the named events
  are rejected with their reasons and the others sent again at once: one extra request per round,
  whatever the batch size. Where no error
  names an event, the pack is split in halves until the refused events stand alone (bisection).
  401/403 blame nobody's event (the key is wrong), so those events stay undelivered for a later retry.
- Any other failure of the HTTP exchange (a broken chunked answer, an SSL error) is a transient
  failure of that request, never an exception out of ``send``.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Sequence

import requests

from . import budgets
from .redact import redact

logger = logging.getLogger(__name__)

REGIONS = {"us": "https://cdp.customer.io", "eu": "https://cdp-eu.customer.io"}
MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 475_000
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
BLAMELESS_STATUS = frozenset({401, 403, 404, 405})  # configuration errors: not the events' fault
# "batch[12] (Email Opened) /properties: ..." or "batch.12...": which event of the batch an error is about.
_BATCH_INDEX = re.compile(r"\bbatch(?:\[(\d+)\]|\.(\d+)\b)")
# Rounds of "reject the named events, send the rest again" before falling back to bisection.
MAX_NAMED_ROUNDS = 3


@dataclass
class Rejected:
    event: dict[str, Any]
    reason: str


@dataclass
class SendResult:
    """What happened to each event handed to ``send``: every event is in exactly one list."""

    delivered: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)  # permanent: Customer.io refused it
    unsent: list[dict[str, Any]] = field(default_factory=list)  # transient: try again later
    requests: int = 0
    last_error: str | None = None
    retry_after: float | None = None  # the longest Retry-After Customer.io asked for, in seconds


@dataclass
class _Packed:
    event: dict[str, Any]
    raw: str


class CustomerIO:
    def __init__(
        self,
        api_key: str | Callable[[], str],
        region: str = "us",
        base_url: str | None = None,
        *,
        timeout: float = budgets.CUSTOMERIO_REQUEST.read_timeout,
        connect_timeout: float = budgets.CUSTOMERIO_REQUEST.connect_timeout,
        max_attempts: int = 6,
        backoff_base: float = 0.5,
        backoff_cap: float = 20.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if region not in REGIONS and base_url is None:
            raise ValueError(f"region must be one of {', '.join(REGIONS)}")
        self.base_url = (base_url or REGIONS[region]).rstrip("/")
        self.timeout, self.connect_timeout = timeout, connect_timeout
        self.max_attempts, self.backoff_base, self.backoff_cap = max_attempts, backoff_base, backoff_cap
        self._sleep, self._clock = sleep, clock
        self.session = session or requests.Session()
        # A callable is asked again before every send (Secrets Manager values are cached for five
        # minutes), so a rotated key is picked up by running instances, not only by new ones.
        self._api_key = api_key
        self.session.auth = (api_key, "") if isinstance(api_key, str) else None
        self.session.headers.update(
            {"Content-Type": "application/json", "X-Strict-Mode": "1", "User-Agent": "cio-hooks/0.1"}
        )

    @classmethod
    def from_settings(cls, settings: Any, api_key: str | None = None) -> CustomerIO:
        """Built from ``CUSTOMERIO_*`` settings (see the README's configuration reference)."""
        return cls(
            api_key or (lambda: settings.require_secret("CUSTOMERIO_API_KEY")),
            region=(settings.get("CUSTOMERIO_REGION", "us") or "us").lower(),
            base_url=settings.get("CUSTOMERIO_BASE_URL"),
            timeout=settings.get_float("CUSTOMERIO_TIMEOUT_SECONDS", budgets.CUSTOMERIO_REQUEST.read_timeout),
            max_attempts=settings.get_int("CUSTOMERIO_MAX_ATTEMPTS", 6),
            backoff_base=settings.get_float("CUSTOMERIO_BACKOFF_SECONDS", 0.5),
        )

    # -- public ------------------------------------------------------------------------------

    def send(self, events: Sequence[dict[str, Any]], deadline: float | None = None) -> SendResult:
        """Deliver ``events`` in as few ``/v1/batch`` requests as the limits allow.

        ``deadline`` is a ``time.monotonic()`` value after which nothing new is attempted.
        """
        result = SendResult()
        if callable(self._api_key):
            self.session.auth = (self._api_key(), "")
        packs: list[list[_Packed]] = [[]]
        size = 0
        for event in events:
            try:
                raw = json.dumps(event, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
            except (TypeError, ValueError) as error:
                result.rejected.append(Rejected(event, f"event is not valid JSON ({error.__class__.__name__})"))
                continue
            length = len(raw.encode("utf-8"))
            if length > MAX_EVENT_BYTES:
                result.rejected.append(Rejected(event, f"event is {length} bytes; Customer.io takes at most {MAX_EVENT_BYTES}"))
                continue
            if packs[-1] and size + length + 1 > MAX_BATCH_BYTES:
                packs.append([])
                size = 0
            packs[-1].append(_Packed(event, raw))
            size += length + 1
        for pack in packs:
            if pack:
                self._send_pack(pack, deadline, result)
        return result

    # -- internals -----------------------------------------------------------------------------

    def _send_pack(self, pack: list[_Packed], deadline: float | None, result: SendResult, named_rounds: int = 0) -> None:
        if result.unsent and result.last_error and result.last_error.startswith("blameless"):
            # The key or URL is wrong: every further request would fail the same way.
            result.unsent.extend(p.event for p in pack)
            return
        status, reason, errors = self._post_with_retries(pack, deadline, result)
        if status is not None and 200 <= status < 300:
            result.delivered.extend(p.event for p in pack)
        elif status is not None and 400 <= status < 500 and status not in BLAMELESS_STATUS and status not in RETRYABLE_STATUS:
            named = _named_failures(errors, pack)
            if len(pack) == 1:
                result.rejected.append(Rejected(pack[0].event, f"Customer.io answered {status}: {reason}"))
            elif named and named_rounds < MAX_NAMED_ROUNDS:
                for index, why in sorted(named.items()):
                    result.rejected.append(Rejected(pack[index].event, f"Customer.io answered {status}: {why}"))
                rest = [p for i, p in enumerate(pack) if i not in named]
                if rest:
                    self._send_pack(rest, deadline, result, named_rounds + 1)
            else:
                middle = len(pack) // 2
                self._send_pack(pack[:middle], deadline, result, named_rounds)
                self._send_pack(pack[middle:], deadline, result, named_rounds)
        else:
            if status in BLAMELESS_STATUS:
                result.last_error = f"blameless: Customer.io answered {status}: {reason}"
                logger.error("Customer.io refused the request (%s): check the API key and region", status)
            else:
                result.last_error = reason
            result.unsent.extend(p.event for p in pack)

    def _post_with_retries(self, pack: list[_Packed], deadline: float | None, result: SendResult) -> tuple[int | None, str, list[Any]]:
        """(status, safe reason, the ``meta.errors`` list of a final answer); status None: gave up."""
        body = ('{"batch":[' + ",".join(p.raw for p in pack) + "]}").encode("utf-8")
        reason = "not attempted: no time left"
        for attempt in range(1, self.max_attempts + 1):
            remaining = None if deadline is None else deadline - self._clock()
            if remaining is not None and remaining <= 0.5:
                return None, reason, []
            read_timeout = self.timeout if remaining is None else max(0.5, min(self.timeout, remaining - 0.25))
            connect_timeout = self.connect_timeout if remaining is None else max(0.25, min(self.connect_timeout, remaining - 0.25))
            retry_after: float | None = None
            try:
                result.requests += 1
                response = self.session.post(f"{self.base_url}/v1/batch", data=body, timeout=(connect_timeout, read_timeout))
            except requests.Timeout:
                reason = "timed out waiting for Customer.io"
            except requests.ConnectionError as error:
                reason = f"connection to Customer.io failed ({error.__class__.__name__})"
            except requests.RequestException as error:  # e.g. ChunkedEncodingError: the answer broke off
                reason = f"the exchange with Customer.io failed ({error.__class__.__name__})"
            else:
                if response.status_code not in RETRYABLE_STATUS:
                    return response.status_code, _error_text(response), _errors_of(response)
                reason = f"Customer.io answered {response.status_code}: {_error_text(response)}"
                retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
                if retry_after is not None:
                    result.retry_after = max(result.retry_after or 0.0, retry_after)
            if attempt == self.max_attempts:
                break
            delay = random.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1)))
            if retry_after is not None:
                delay = max(delay, retry_after)
            if deadline is not None and self._clock() + delay >= deadline - 0.5:
                logger.warning("giving up before the deadline: %s", reason)
                return None, reason, []
            logger.info("retrying Customer.io in %.2fs (attempt %d): %s", delay, attempt, reason)
            self._sleep(delay)
        return None, reason, []


def _errors_of(response: requests.Response) -> list[Any]:
    try:
        data = response.json()
    except ValueError:
        return []
    errors = _meta_errors(data)
    if errors is None and isinstance(data, dict):
        errors = data.get("errors")
    return errors if isinstance(errors, list) else []


def _meta_errors(data: Any) -> Any:
    """``meta.errors`` of a JSON answer, whatever shape the answer has (None when there is none)."""
    meta = data.get("meta") if isinstance(data, dict) else None
    return meta.get("errors") if isinstance(meta, dict) else None


def _named_failures(errors: list[Any], pack: list[_Packed]) -> dict[int, str]:
    """Index in the batch -> safe reason, for every error that names its event: by position
    (``batch[i]``, ``batch_index``/``index``) or by quoting the event's ``messageId``. {} if any error
    names none (then it could be about any event, and only bisection can tell)."""
    positions = {p.event.get("messageId"): i for i, p in enumerate(pack) if isinstance(p.event.get("messageId"), str)}
    named: dict[int, list[str]] = {}
    for error in errors:
        if isinstance(error, dict):
            index = error.get("batch_index", error.get("index"))
            text = str(error.get("message") or error.get("reason") or error.get("field") or "refused")
            if (not isinstance(index, int) or isinstance(index, bool)) and isinstance(error.get("messageId"), str):
                index = positions.get(error["messageId"])
        else:
            text = str(error)
            found = _BATCH_INDEX.search(text)
            index = int(found.group(1) or found.group(2)) if found else next((i for m, i in positions.items() if m in text), None)
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(pack):
            return {}
        named.setdefault(index, []).append(redact(_BATCH_INDEX.sub("event", text, count=1))[:300])
    return {index: "; ".join(texts) for index, texts in named.items()}


def _error_text(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return redact(response.text[:300] or response.reason or "")
    errors = _meta_errors(data)
    text = "; ".join(str(e) for e in errors) if isinstance(errors, list) and errors else json.dumps(data)[:300]
    return redact(text)


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        from datetime import UTC, datetime

        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


class DryRunSink:
    """Prints each Customer.io call it would make (one JSON object per line) and delivers nothing."""

    def __init__(self, write: Callable[[str], Any] = print, base_url: str = REGIONS["us"]) -> None:
        self._write, self.base_url = write, base_url

    def send(self, events: Sequence[dict[str, Any]], deadline: float | None = None) -> SendResult:
        for event in events:
            self._write(json.dumps({"method": "POST", "url": f"{self.base_url}/v1/track", "body": event}, ensure_ascii=False))
        return SendResult(delivered=list(events), requests=len(events))
