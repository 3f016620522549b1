"""The webhook request as the provider sent it: raw bytes and all.

Signatures are computed over the exact bytes the provider sent, so the body is kept as ``bytes``
(Function URL bodies arrive base64-encoded for binary and form posts: they are decoded here, once).
The same object is what a dead-letter message keeps, so a replay sees the request unchanged.
"""

from __future__ import annotations

import base64
import binascii
import json
import operator
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import accumulate, count
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl

import msgspec

# Headers that carry credentials. They are dropped before a request is stored anywhere.
CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "x-api-key"})

# Deepest JSON nesting any parser here accepts. Real webhooks nest 10 levels at most (Sentry's
# events; the samples in events/ show it); ``json.loads`` and the code that walks its result
# recurse once per level, and about 1,000 levels (10 KB of ``[``) exhaust Python's stack.
MAX_JSON_DEPTH = 100


class UnreadableJson(json.JSONDecodeError):
    """JSON that the parsers refuse to read (too deep, an integer of too many digits). A
    ``JSONDecodeError``, so every ``except json.JSONDecodeError`` handles it; the message names the
    problem, never the text."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem, "", 0)


_ESCAPE = re.compile(rb"\\.", re.DOTALL)  # a backslash and the byte it escapes
_NOT_A_BRACKET = bytes(sorted(set(range(256)) - set(b"[]{}")))
_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(b'[]{}"')))
_DEPTH_STEP = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")  # opener +1, closer -1, both shifted by one


def json_depth(data: bytes | str) -> int:
    """How deep ``data`` nests JSON arrays and objects (brackets inside strings do not count),
    without parsing it: a few C-speed passes, whatever the depth. Malformed text is measured too
    (``[[[`` is 3 deep; an unterminated string runs to the end), so the limit holds before any
    parser runs."""
    return _depth_of(_structure(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data))


def _structure(raw: bytes) -> bytes:
    """Only the quotes and brackets of ``raw``, escaped characters left out first (so every quote
    left opens or closes a string)."""
    if b"\\" in raw:
        raw = _ESCAPE.sub(b"", raw)
    return raw.translate(None, _NOT_STRUCTURE)


def _depth_of(structure: bytes) -> int:
    # Two quotes with nothing between them (an empty string here: a string without brackets, or
    # the end of one and the start of the next) change no bracket's side of a string, so they go
    # before the split: 30x fewer pieces on a SendGrid batch.
    outside_strings = b"".join(structure.replace(b'""', b"").split(b'"')[::2])
    brackets = outside_strings.translate(None, _NOT_A_BRACKET)
    if not brackets:
        return 0
    # Each step is 2 for an opener and 0 for a closer: the running sum minus the step count is the depth.
    return max(0, max(map(operator.sub, accumulate(brackets.translate(_DEPTH_STEP)), count(1))))


def too_deep(data: bytes | str) -> bool:
    """``json_depth(data) > MAX_JSON_DEPTH``, counting brackets first (most bodies stop there)."""
    if isinstance(data, bytes):  # one pass keeps the quotes and brackets; the rest works on those
        structure = _structure(data)
        return structure.count(b"[") + structure.count(b"{") > MAX_JSON_DEPTH and not _shallow(structure) and _depth_of(structure) > MAX_JSON_DEPTH
    return data.count("[") + data.count("{") > MAX_JSON_DEPTH and json_depth(data) > MAX_JSON_DEPTH


def _shallow(structure: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when the structure is surely no deeper than ``limit``, in a few C-speed
    passes (False: not known, ``_depth_of`` measures it).

    It answers only for bodies whose strings hold no bracket (nearly all webhooks): then every
    string is a ``""`` pair in the structure, counted from the left without overlap
    (``bytes.count`` pairs them as ``_depth_of``'s ``replace`` does), and every bracket is outside
    the strings. Those brackets are then emptied pair by pair: a round removes every innermost
    ``{}`` and then every innermost ``[]``, so it takes at most two levels off, and a sequence
    emptied within ``limit // 2`` rounds was no deeper than ``limit``. A sequence that stops
    shrinking (unbalanced) or needs more rounds is left to the exact count. On a 1,000-event
    SendGrid POST this is 0.03 ms where the exact count takes 0.2 ms."""
    quotes = structure.count(b'"')
    if structure.count(b'""') * 2 != quotes:  # some string holds a bracket: which side is which needs the split
        return False
    brackets = structure.translate(None, b'"') if quotes else structure
    for _ in range(limit // 2):
        if not brackets:
            return True
        inner_removed = brackets.replace(b"{}", b"").replace(b"[]", b"")
        if len(inner_removed) == len(brackets):
            return False
        brackets = inner_removed
    return not brackets


_decode = msgspec.json.Decoder().decode


def loads_json(data: bytes | str, parse_int: Callable[[str], Any] | None = None) -> Any:
    """``json.loads`` that cannot exhaust the stack or the CPU: deeper than ``MAX_JSON_DEPTH``, or
    an integer too long to convert, raises ``UnreadableJson`` (a ``JSONDecodeError``). Invalid UTF-8
    raises ``UnicodeDecodeError`` as ``json.loads`` does.

    Parsed by msgspec first (twice as fast as ``json.loads`` on a webhook batch): on everything it
    reads it gives what ``json.loads`` gives (integers of any size exact, the last of repeated keys,
    tests/unit/test_json_parsing.py compares the two on every sample and on seeded random bodies), and
    whatever it refuses goes to ``json.loads``, whose answer, value or error, stands."""
    if too_deep(data):
        raise UnreadableJson(f"nested deeper than {MAX_JSON_DEPTH} levels")
    if parse_int is None:
        try:
            return _decode(data)
        except (msgspec.MsgspecError, ValueError):  # ValueError: text holding a lone surrogate
            pass  # what msgspec refuses, json.loads may read (NaN, 1e400, a BOM, UTF-16, a lone surrogate) or says why not
    try:
        return json.loads(data, parse_int=parse_int)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise
    except (ValueError, RecursionError) as error:  # e.g. an integer over sys.get_int_max_str_digits()
        raise UnreadableJson(f"unreadable ({error.__class__.__name__})") from None


HTTPS, EVENTBRIDGE = "https", "eventbridge"  # WebhookRequest.transport


class MalformedEvent(ValueError):
    """The Lambda event is not a Function URL (payload 2.0) request."""


@dataclass(frozen=True)
class WebhookRequest:
    method: str
    path: str
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)  # names lower-cased
    raw_query: str = ""
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    domain: str | None = None  # the host the provider called, for schemes that sign the URL
    # How the request reached ingest: HTTPS (a Function URL, serve) or an AWS service invoking the
    # function itself (EVENTBRIDGE). Set only by the code that builds the request from the Lambda
    # event, never from anything the sender controls; not stored (replay re-translates only).
    transport: str = "https"
    # The userId a source's authentication verified beyond the request's credentials (a video
    # beacon's user_hash: sources/video/_identity.py). Authentication reads secrets that the
    # functions translating stored requests again (deliver, the CLI) do not hold, so ingest records
    # its verdict here (``Source.attested``) and ``to_dict`` stores it with the request: a replay
    # keeps the person. Never read from the sender: ingest clears it before authenticating, and it
    # is not a header or a body field, so nothing from the internet can set it.
    verified_user_id: str | None = None

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    @property
    def query(self) -> dict[str, str]:
        """Query parameters; a repeated key keeps its last value."""
        return dict(parse_qsl(self.raw_query, keep_blank_values=True))

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    @property
    def url(self) -> str:
        host = self.domain or self.header("host") or "localhost"
        query = f"?{self.raw_query}" if self.raw_query else ""
        return f"https://{host}{self.path}{query}"

    def json(self) -> Any:
        """The body parsed as JSON; raises ``ValueError`` (with no payload text) if it is not JSON."""
        try:
            return loads_json(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"body is not valid JSON ({error.__class__.__name__} at byte {getattr(error, 'pos', '?')})") from None

    @classmethod
    def from_function_url_event(cls, event: Mapping[str, Any]) -> WebhookRequest:
        """Build from a Lambda Function URL event (payload format 2.0)."""
        try:
            http = event["requestContext"]["http"]
            method, path = http["method"].upper(), event.get("rawPath") or http["path"]
        except (KeyError, TypeError, AttributeError):
            raise MalformedEvent("not a Function URL event: requestContext.http is missing") from None
        body = event.get("body") or ""
        if event.get("isBase64Encoded"):
            try:
                raw = base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError):
                raise MalformedEvent("isBase64Encoded is set but the body is not base64") from None
        else:
            raw = body.encode("utf-8")
        headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
        epoch_ms = event["requestContext"].get("timeEpoch")
        received = datetime.fromtimestamp(epoch_ms / 1000, UTC) if isinstance(epoch_ms, int | float) else datetime.now(UTC)
        return cls(
            method=method,
            path=path,
            body=raw,
            headers=headers,
            raw_query=event.get("rawQueryString") or "",
            received_at=received,
            domain=event["requestContext"].get("domainName"),
        )

    def to_function_url_event(self) -> dict[str, Any]:
        """The Function URL (payload 2.0) event Lambda would hand to the function for this request."""
        body, encoded = _body_for_json(self.body)
        return {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": self.path,
            "rawQueryString": self.raw_query,
            "headers": dict(self.headers),
            "queryStringParameters": self.query or None,
            "requestContext": {
                "accountId": "anonymous",
                "apiId": "local",
                "domainName": self.domain or self.header("host") or "localhost",
                "domainPrefix": "local",
                "http": {
                    "method": self.method,
                    "path": self.path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "127.0.0.1",
                    "userAgent": self.header("user-agent", ""),
                },
                "requestId": "local",
                "routeKey": "$default",
                "stage": "$default",
                "time": self.received_at.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "timeEpoch": int(self.received_at.timestamp() * 1000),
            },
            "body": body,
            "isBase64Encoded": encoded,
        }

    def to_dict(self, drop_headers: frozenset[str] = frozenset(), drop_query: frozenset[str] = frozenset()) -> dict[str, Any]:
        """A JSON-safe copy for a queue message, without credentials (headers and query keys named)."""
        dropped = CREDENTIAL_HEADERS | {h.lower() for h in drop_headers}
        body, encoded = _body_for_json(self.body)
        query = self.raw_query
        if drop_query:
            from urllib.parse import urlencode

            query = urlencode([(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k not in drop_query])
        return {
            "method": self.method,
            "path": self.path,
            "headers": {k: v for k, v in self.headers.items() if k not in dropped},
            "query": query,
            "body": body,
            "base64": encoded,
            "received_at": self.received_at.isoformat(),
            "domain": self.domain,
        } | ({"verified_user_id": self.verified_user_id} if self.verified_user_id is not None else {})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WebhookRequest:
        body = data.get("body") or ""
        raw = base64.b64decode(body) if data.get("base64") else body.encode("utf-8")
        return cls(
            method=data["method"],
            path=data["path"],
            body=raw,
            headers=dict(data.get("headers") or {}),
            raw_query=data.get("query") or "",
            received_at=datetime.fromisoformat(data["received_at"]),
            domain=data.get("domain"),
            verified_user_id=data.get("verified_user_id"),
        )


def _body_for_json(body: bytes) -> tuple[str, bool]:
    """Text bodies stay readable; anything that is not UTF-8 is base64."""
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True
