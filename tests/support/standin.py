"""A Customer.io Pipelines API stand-in: a real HTTP server that is stricter than the real thing.

It serves ``POST /v1/batch`` (``{"batch": [...], "sentAt"?, "context"?}``) and ``POST /v1/track`` (one
event) on 127.0.0.1 and checks, in this order:

1. Basic auth: user = the API key, empty password; otherwise **401**.
2. ``X-Strict-Mode: 1``; without it **400** ("the stand-in requires strict mode"). The real API
   answers 200 and silently drops invalid events in that case; here it is loud.
3. ``Content-Type: application/json`` and a JSON body of the right shape; otherwise 400.
4. Limits: request body <= 500 KB (512000 bytes), each event <= 32 KB (32768 bytes, compact JSON),
   at most 2500 events per batch; over -> **400** (Segment's and Customer.io's documented answer:
   "400 Bad Request if these limits are exceeded").
5. Every event validates against its component in the seed specs (``shared/ciohooks/specs``),
   chosen by the event's ``event`` name, with JSON Schema Draft 2020-12 and the date-time format
   checker. An event name that is not one of the 38 semantic events is invalid.
6. Per-event rejection rules set by the test (:meth:`CioStandin.reject_message_ids`,
   :meth:`CioStandin.reject_rate`, :meth:`CioStandin.reject_if`).

Any invalid event rejects the whole request: **400** with the documented shape
``{"meta": {"errors": ["batch[3] (Email Opened) /properties: missing required property 'email_id'", ...]}}``,
one string per failing event, naming its index (``batch[i]``; ``event`` for ``/v1/track``), the JSON
pointer inside the event and what failed -- never the offending value, so no email address or token
is echoed. The body's shape (``meta.errors``, an array of strings) is what Customer.io's OpenAPI
specs document for a 400 (``shared/ciohooks/specs``); how a string names the event it is about is
*not* documented anywhere we found, so ``batch[i]`` is this stand-in's reading (the index is the
position in the request, as Segment-compatible batch APIs count it). ``name_events=False`` answers
the same errors without any index, for the client's bisection fallback. A batch-level ``context`` is merged under each event's own ``context`` (as Segment does)
before validation and recording.

Before any of that, a scripted fault is taken from the queue if one is pending
(:meth:`CioStandin.fail_next`, :meth:`CioStandin.hang_next`, :meth:`CioStandin.reset_next`,
:meth:`CioStandin.close_next`): one fault is consumed per incoming request, in order.

Everything is recorded (thread-safe): :attr:`CioStandin.requests` (every request, with headers,
status and outcome), :attr:`CioStandin.events` (accepted events, in order, duplicates included),
:meth:`CioStandin.events_per_request`, :meth:`CioStandin.message_id_counts`,
:meth:`CioStandin.duplicates`, :meth:`CioStandin.wait_for_events`.
"""

from __future__ import annotations

import base64
import binascii
import collections
import gzip
import hashlib
import json
import logging
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from . import REPO_ROOT

logger = logging.getLogger(__name__)

DEFAULT_API_KEY = "test-cio-api-key"
MAX_EVENT_BYTES = 32 * 1024  # 32768: "32KB per call in the request"
MAX_REQUEST_BYTES = 500 * 1024  # 512000: "A batch request is limited to 500KB total"
MAX_BATCH_EVENTS = 2500  # Segment's documented per-batch event limit
SPEC_DIR = REPO_ROOT / "shared" / "ciohooks" / "specs"
_HARD_BODY_CAP = 64 * 1024 * 1024  # never buffer more than this, whatever Content-Length says


# ---------------------------------------------------------------------------------------------
# Spec index and validation
# ---------------------------------------------------------------------------------------------


class SpecIndex:
    """Event name -> a Draft 2020-12 validator for its component in the seed OpenAPI specs."""

    def __init__(self, spec_dir: Path | str = SPEC_DIR) -> None:
        self.spec_dir = Path(spec_dir)
        self._validators: dict[str, Draft202012Validator] = {}
        self.components: dict[str, tuple[str, str]] = {}  # event name -> (spec file, component)
        format_checker = Draft202012Validator.FORMAT_CHECKER
        if "date-time" not in format_checker.checkers:  # pragma: no cover - environment problem
            raise RuntimeError("jsonschema has no date-time format checker: install rfc3339-validator")
        files = sorted(self.spec_dir.glob("*.openapi.json"))
        if not files:
            raise FileNotFoundError(f"no *.openapi.json specs in {self.spec_dir}")
        for path in files:
            spec = json.loads(path.read_text(encoding="utf-8"))
            uri = f"urn:ciohooks-spec:{path.name}"
            registry = Registry().with_resource(uri, Resource(contents=spec, specification=DRAFT202012))
            for component, schema in spec.get("components", {}).get("schemas", {}).items():
                for name in _event_names(schema):
                    if name in self.components:
                        raise ValueError(f"event {name!r} is defined twice: {self.components[name]} and {(path.name, component)}")
                    self.components[name] = (path.name, component)
                    self._validators[name] = Draft202012Validator(
                        {"$ref": f"{uri}#/components/schemas/{component}"},
                        registry=registry,
                        format_checker=format_checker,
                    )

    @property
    def event_names(self) -> frozenset[str]:
        return frozenset(self._validators)

    def validator(self, name: str) -> Draft202012Validator | None:
        return self._validators.get(name)

    def errors(self, event: Any, limit: int = 5) -> list[str]:
        """Sanitised descriptions of what is wrong with ``event`` (empty when it is valid)."""
        if not isinstance(event, dict):
            return [f"/: expected an object, got {_json_type(event)}"]
        name = event.get("event")
        if not isinstance(name, str):
            return ["/event: missing or not a string (every event must name one of the semantic events)"]
        validator = self._validators.get(name)
        if validator is None:
            return ["/event: unknown event name (not one of the semantic events in the seed specs)"]
        found = sorted(validator.iter_errors(event), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
        return [f"{_pointer(e.absolute_path)}: {describe_error(e)}" for e in found[:limit]]


def _event_names(schema: Mapping[str, Any]) -> set[str]:
    names: set[str] = set()
    for branch in schema.get("oneOf", [schema]):
        prop = branch.get("properties", {}).get("event", {}) if isinstance(branch, dict) else {}
        names.update(v for v in prop.get("enum", []) if isinstance(v, str))
        if isinstance(prop.get("const"), str):
            names.add(prop["const"])
    return names


_SPEC_INDEX: SpecIndex | None = None
_SPEC_INDEX_LOCK = threading.Lock()


def spec_index() -> SpecIndex:
    """The shared index of the project's seed specs (built once per process)."""
    global _SPEC_INDEX
    with _SPEC_INDEX_LOCK:
        if _SPEC_INDEX is None:
            _SPEC_INDEX = SpecIndex()
        return _SPEC_INDEX


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _pointer(parts: Iterable[Any]) -> str:
    """A JSON pointer to the failing place; a key that looks like personal data is masked."""
    out = []
    for part in parts:
        text = str(part)
        if "@" in text or len(text) > 64:
            text = "<redacted>"
        out.append(text.replace("~", "~0").replace("/", "~1"))
    return "/" + "/".join(out) if out else "/"


def describe_error(error: ValidationError) -> str:
    """What failed, from the schema side only: property names, types, enum values; never the value."""
    v, vv, instance = error.validator, error.validator_value, error.instance
    if v == "required":
        missing = [p for p in vv if isinstance(instance, dict) and p not in instance] or list(vv)
        return "missing required property " + ", ".join(repr(p) for p in missing)
    if v == "type":
        return f"expected {vv if isinstance(vv, str) else ' or '.join(vv)}, got {_json_type(instance)}"
    if v == "enum":
        return f"value not allowed (expected one of {list(vv)!r})"
    if v == "const":
        return f"value must be {vv!r}"
    if v == "format":
        return f"not a valid {vv}"
    if v == "additionalProperties":
        return "additional properties are not allowed here"
    if v in ("oneOf", "anyOf"):
        branches = list(vv)
        titles = [b.get("title", f"#{i}") if isinstance(b, dict) else f"#{i}" for i, b in enumerate(branches)]
        by_branch: dict[int, list[ValidationError]] = collections.defaultdict(list)
        for sub in error.context or []:
            by_branch[sub.relative_schema_path[0]].append(sub)
        if v == "oneOf" and len(by_branch) < len(branches):
            valid = [t for i, t in enumerate(titles) if i not in by_branch]
            hint = ""
            if isinstance(instance, dict) and "userId" in instance and "anonymousId" in instance:
                hint = " (an event must carry exactly one of userId / anonymousId, not both)"
            return f"matches more than one of the oneOf branches {valid}{hint}"
        parts = []
        for i, title in enumerate(titles):
            sub = best_match(by_branch.get(i, []))
            if sub is not None:
                parts.append(f"{title}: {_pointer(sub.relative_path)}: {describe_error(sub)}")
        return f"matches none of the {v} branches [" + "; ".join(parts) + "]"
    if v in ("minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minItems",
             "maxItems", "minProperties", "maxProperties", "multipleOf", "pattern", "uniqueItems"):
        return f"fails {v} {vv!r}"
    return f"fails {v!r}"


# ---------------------------------------------------------------------------------------------
# Faults and records
# ---------------------------------------------------------------------------------------------


@dataclass
class Fault:
    """One scripted answer to the next request, instead of processing it.

    kind: ``"status"`` (answer ``status`` with ``body``/``headers``), ``"reset"`` (RST the connection
    without a response), ``"close"`` (close it cleanly without a response), ``"hang"`` (wait
    ``seconds``, then do ``then``: ``"close"``, ``"reset"``, ``"process"`` -- handle the request
    normally, so a client that timed out may deliver twice -- or an int status).
    """

    kind: str
    status: int = 503
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    then: str | int = "close"

    def describe(self) -> str:
        if self.kind == "status":
            return f"fault:{self.status}"
        if self.kind == "hang":
            return f"fault:hang:{self.then}"
        return f"fault:{self.kind}"


@dataclass
class RecordedRequest:
    """One request as the stand-in saw it. ``outcome``: accepted | rejected | unauthorized | fault:..."""

    index: int
    method: str
    path: str
    headers: Any  # http.client.HTTPMessage: case-insensitive .get()
    body: bytes
    received_at: float
    status: int | None = None
    outcome: str = "pending"
    errors: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # accepted events only

    def json(self) -> Any:
        body = self.body
        if (self.headers.get("Content-Encoding") or "").strip().lower() == "gzip":
            body = gzip.decompress(body)
        return json.loads(body)


class _Reject(Exception):
    def __init__(self, status: int, errors: list[str], outcome: str = "rejected", headers: dict[str, str] | None = None):
        super().__init__("; ".join(errors))
        self.status, self.errors, self.outcome, self.headers = status, errors, outcome, headers or {}


EventRule = Callable[[dict[str, Any]], "str | None"]


# ---------------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address, handler, standin: "CioStandin") -> None:
        self.standin = standin
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        with self.sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):  # a client that hung up is not an error here
        logger.debug("stand-in: connection error from %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cio-standin/1"
    server: _Server

    def do_POST(self) -> None:  # noqa: N802
        self.server.standin._handle(self)

    def _not_allowed(self) -> None:
        self.server.standin._send(self, 405, {"meta": {"errors": [f"method {self.command} not allowed"]}}, {"Allow": "POST"})

    do_GET = do_PUT = do_DELETE = do_PATCH = _not_allowed  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        logger.debug("stand-in: " + format, *args)


class CioStandin:
    """The stand-in. Use as a context manager, or ``start()`` / ``stop()``."""

    def __init__(
        self,
        api_key: str = DEFAULT_API_KEY,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        require_strict: bool = True,
        require_message_id: bool = False,
        max_event_bytes: int = MAX_EVENT_BYTES,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        max_batch_events: int = MAX_BATCH_EVENTS,
        specs: SpecIndex | None = None,
        name_events: bool = True,
    ) -> None:
        self.api_key = api_key
        self.name_events = name_events
        self.host, self._port = host, port
        self.require_strict = require_strict
        self.require_message_id = require_message_id
        self.max_event_bytes = max_event_bytes
        self.max_request_bytes = max_request_bytes
        self.max_batch_events = max_batch_events
        self.specs = specs or spec_index()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._faults: collections.deque[Fault] = collections.deque()
        self._rules: list[EventRule] = []
        self._requests: list[RecordedRequest] = []
        self._events: list[dict[str, Any]] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> "CioStandin":
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server((self.host, self._port), _Handler, self)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01},
                                        name=f"cio-standin:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes hanging handlers
        server.shutdown()
        with server.sockets_lock:
            open_sockets = list(server.open_sockets)
        for sock in open_sockets:  # unblock handler threads waiting on idle keep-alive connections
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    def __enter__(self) -> "CioStandin":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the stand-in is not running")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def batch_url(self) -> str:
        return self.base_url + "/v1/batch"

    @property
    def track_url(self) -> str:
        return self.base_url + "/v1/track"

    def client_headers(self, api_key: str | None = None) -> dict[str, str]:
        """The headers a well-behaved client sends (Basic auth with the key + strict mode + JSON)."""
        token = base64.b64encode(f"{self.api_key if api_key is None else api_key}:".encode()).decode()
        return {"Authorization": f"Basic {token}", "X-Strict-Mode": "1", "Content-Type": "application/json"}

    # -- fault injection ------------------------------------------------------------------------

    def fail_next(self, n: int = 1, status: int = 503, *, retry_after: float | str | None = None,
                  body: Any = None, headers: Mapping[str, str] | None = None) -> None:
        """Answer the next ``n`` requests with ``status`` (e.g. 429 with ``retry_after=1``, 500, 503)."""
        hdrs = dict(headers or {})
        if retry_after is not None:
            hdrs["Retry-After"] = _format_retry_after(retry_after)
        if body is None:
            body = {"meta": {"errors": [f"stand-in injected fault: HTTP {status}"]}}
        self.script(*(Fault("status", status=status, body=body, headers=hdrs) for _ in range(n)))

    def hang_next(self, n: int = 1, seconds: float = 2.0, then: str | int = "close") -> None:
        """Hold the next ``n`` requests for ``seconds`` (past the client's timeout), then ``then``:
        ``"close"`` (no response), ``"reset"``, ``"process"`` (answer normally, recording the events:
        the client timed out, so a retry delivers them twice), or an int status."""
        if not (then in ("close", "reset", "process") or isinstance(then, int)):
            raise ValueError(f"then must be close, reset, process or an int status, not {then!r}")
        self.script(*(Fault("hang", seconds=seconds, then=then) for _ in range(n)))

    def pass_next(self, n: int = 1) -> None:
        """Handle the next ``n`` requests normally: scripts a fault later in a sequence."""
        self.script(*(Fault("hang", seconds=0.0, then="process") for _ in range(n)))

    def reset_next(self, n: int = 1) -> None:
        """Abort the next ``n`` connections with a TCP RST and no response."""
        self.script(*(Fault("reset") for _ in range(n)))

    def close_next(self, n: int = 1) -> None:
        """Close the next ``n`` connections cleanly (FIN) without a response."""
        self.script(*(Fault("close") for _ in range(n)))

    def script(self, *faults: Fault) -> None:
        """Queue arbitrary faults; each incoming request consumes one, in order."""
        with self._lock:
            self._faults.extend(faults)

    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    # -- per-event rejection rules ---------------------------------------------------------------

    def reject_if(self, rule: EventRule) -> None:
        """``rule(event)`` returns a reason (str) to reject that event with a 400, or None."""
        with self._lock:
            self._rules.append(rule)

    def reject_message_ids(self, message_ids: Iterable[str], reason: str = "rejected by the stand-in (messageId rule)") -> None:
        ids = frozenset(message_ids)
        self.reject_if(lambda e: reason if e.get("messageId") in ids else None)

    def reject_rate(self, rate: float, *, salt: str = "", reason: str = "rejected by the stand-in (rate rule)") -> None:
        """Reject a deterministic fraction of events, chosen by a hash of their messageId."""
        def rule(event: dict[str, Any]) -> str | None:
            return reason if would_reject(event.get("messageId"), rate, salt) else None
        self.reject_if(rule)

    def clear_rules(self) -> None:
        with self._lock:
            self._rules.clear()

    def reset(self) -> None:
        """Forget records, faults and rules (the server keeps running)."""
        with self._lock:
            self._faults.clear()
            self._rules.clear()
            self._requests.clear()
            self._events.clear()

    # -- records --------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def accepted_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.outcome == "accepted"]

    @property
    def events(self) -> list[dict[str, Any]]:
        """Accepted events, in arrival order, duplicates included."""
        with self._lock:
            return list(self._events)

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self._requests)

    def events_per_request(self) -> list[int]:
        return [len(r.events) for r in self.accepted_requests]

    def message_ids(self) -> list[str | None]:
        return [e.get("messageId") for e in self.events]

    def message_id_counts(self) -> collections.Counter:
        return collections.Counter(self.message_ids())

    def duplicates(self) -> dict[str | None, int]:
        return {k: n for k, n in self.message_id_counts().items() if n > 1}

    def wait_for_events(self, n: int, timeout: float = 5.0) -> bool:
        """Block until at least ``n`` events were accepted; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._events) >= n, timeout)

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> bool:
        """Block until at least ``n`` requests were answered (or faulted); False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: sum(r.outcome != "pending" for r in self._requests) >= n, timeout)

    # -- request handling -----------------------------------------------------------------------

    def _handle(self, h: _Handler) -> None:
        try:
            body = _read_body(h)
        except (ValueError, OSError) as exc:
            h.close_connection = True
            try:
                self._send(h, 400, {"meta": {"errors": [f"unreadable request body: {exc}"]}})
            except OSError:
                pass
            return
        with self._changed:
            rec = RecordedRequest(len(self._requests), h.command, h.path, h.headers, body, time.time())
            self._requests.append(rec)
            fault = self._faults.popleft() if self._faults else None
            rules = list(self._rules)
        if fault is not None:
            self._apply_fault(h, rec, fault, rules)
        else:
            self._process(h, rec, rules)

    def _apply_fault(self, h: _Handler, rec: RecordedRequest, fault: Fault, rules: list[EventRule]) -> None:
        action: str | int = fault.kind
        if fault.kind == "hang":
            self._stopping.wait(fault.seconds)
            action = "close" if self._stopping.is_set() else fault.then
        if action == "process":
            self._process(h, rec, rules, outcome_prefix=fault.describe() + "+")
            return
        if action == "status" or isinstance(action, int):
            status = fault.status if action == "status" else int(action)
            body = fault.body if fault.body is not None else {"meta": {"errors": [f"stand-in injected fault: HTTP {status}"]}}
            self._finish(rec, status, fault.describe())
            self._send_quietly(h, status, body, fault.headers)
        elif action == "reset":
            self._finish(rec, None, fault.describe())
            _abort(h)
        else:  # close
            self._finish(rec, None, fault.describe())
            h.close_connection = True

    def _process(self, h: _Handler, rec: RecordedRequest, rules: list[EventRule], outcome_prefix: str = "") -> None:
        try:
            events = self._check(h, rec.body, rules)
        except _Reject as rej:
            rec.errors = rej.errors
            self._finish(rec, rej.status, outcome_prefix + rej.outcome)
            self._send_quietly(h, rej.status, {"meta": {"errors": rej.errors}}, rej.headers)
            return
        with self._changed:
            rec.events = events
            self._events.extend(events)
        self._finish(rec, 200, outcome_prefix + "accepted")
        self._send_quietly(h, 200, {})

    def _finish(self, rec: RecordedRequest, status: int | None, outcome: str) -> None:
        with self._changed:
            rec.status, rec.outcome = status, outcome
            self._changed.notify_all()

    def _check(self, h: _Handler, body: bytes, rules: list[EventRule]) -> list[dict[str, Any]]:
        path = h.path.split("?", 1)[0].rstrip("/")
        if path not in ("/v1/batch", "/v1/track"):
            raise _Reject(404, [f"no such endpoint: POST {path} (the stand-in serves /v1/batch and /v1/track)"], "not-found")
        if not self._authorized(h.headers.get("Authorization")):
            raise _Reject(401, ["unauthorized: Basic auth with the API key as username and an empty password required"],
                          "unauthorized", {"WWW-Authenticate": 'Basic realm="cio-standin"'})
        if self.require_strict and h.headers.get("X-Strict-Mode") != "1":
            raise _Reject(400, ["the stand-in requires strict mode: send the header X-Strict-Mode: 1 "
                                "(without it the real API answers 200 and silently drops invalid events)"], "not-strict")
        ctype = (h.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        if ctype != "application/json":
            raise _Reject(400, ["Content-Type must be application/json"], "bad-request")
        if h.headers.get("Content-Encoding", "").strip().lower() == "gzip":
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError):
                raise _Reject(400, ["Content-Encoding gzip but the body is not valid gzip"], "bad-request") from None
        limit = self.max_request_bytes if path == "/v1/batch" else self.max_event_bytes
        if len(body) > limit:
            raise _Reject(400, [f"request body is {len(body)} bytes, over the {limit}-byte limit of {path}"], "too-large")
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _Reject(400, [f"invalid JSON: {exc.__class__.__name__} at position {getattr(exc, 'pos', '?')}"], "bad-request") from None
        if not isinstance(data, dict):
            raise _Reject(400, [f"the body must be a JSON object, got {_json_type(data)}"], "bad-request")

        if path == "/v1/track":
            items, label = [data], (lambda i: "event")
        else:
            items = data.get("batch")
            if not isinstance(items, list):
                raise _Reject(400, ["/v1/batch needs a 'batch' array"], "bad-request")
            if not items:
                raise _Reject(400, ["'batch' is empty"], "bad-request")
            if len(items) > self.max_batch_events:
                raise _Reject(400, [f"'batch' has {len(items)} events, over the limit of {self.max_batch_events}"], "too-large")
            label = (lambda i: f"batch[{i}]") if self.name_events else (lambda i: "an event")  # noqa: E731
            sent_at = data.get("sentAt")
            if sent_at is not None and not (isinstance(sent_at, str) and Draft202012Validator.FORMAT_CHECKER.conforms(sent_at, "date-time")):
                raise _Reject(400, ["/sentAt: not a valid date-time"], "bad-request")
            shared_context = data.get("context")
            if shared_context is not None:
                if not isinstance(shared_context, dict):
                    raise _Reject(400, ["'context' must be an object"], "bad-request")
                items = [_merge_context(e, shared_context) for e in items]

        errors: list[str] = []
        for i, event in enumerate(items):
            name = event.get("event") if isinstance(event, dict) else None
            where = f"{label(i)} ({name})" if isinstance(name, str) and name in self.specs.event_names else label(i)
            size = len(json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
            if size > self.max_event_bytes:
                errors.append(f"{where}: event is {size} bytes, over the {self.max_event_bytes}-byte limit per event")
                continue
            problems = self.specs.errors(event)
            if not problems and self.require_message_id and not (isinstance(event.get("messageId"), str) and event["messageId"]):
                problems = ["/messageId: missing (this stand-in was told to require one)"]
            if not problems:
                for rule in rules:
                    reason = rule(event)
                    if reason:
                        problems = [f"/: {reason}"]
                        break
            errors.extend(f"{where} {p}" for p in problems)
        if errors:
            raise _Reject(400, errors, "rejected")
        return items

    def _authorized(self, header: str | None) -> bool:
        if not header:
            return False
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        return bool(sep) and user == self.api_key and password == ""

    @classmethod
    def _send_quietly(cls, h: BaseHTTPRequestHandler, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        try:
            cls._send(h, status, payload, headers)
        except OSError:  # the client gave up (timed out, reset): nothing to answer
            h.close_connection = True

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)
        h.wfile.flush()

    def __repr__(self) -> str:
        where = self.base_url if self._server else "stopped"
        return f"<CioStandin {where} requests={self.request_count} events={len(self._events)}>"


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def would_reject(message_id: Any, rate: float, salt: str = "") -> bool:
    """The deterministic choice behind :meth:`CioStandin.reject_rate` (tests can predict it)."""
    if rate <= 0 or not isinstance(message_id, str):
        return False
    digest = hashlib.sha256((salt + message_id).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def _merge_context(event: Any, shared: dict[str, Any]) -> Any:
    if not isinstance(event, dict):
        return event
    own = event.get("context")
    merged = dict(event)
    merged["context"] = {**shared, **own} if isinstance(own, dict) else (dict(shared) if own is None else own)
    return merged


def _format_retry_after(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else str(value)


def _read_body(h: BaseHTTPRequestHandler) -> bytes:
    if "chunked" in (h.headers.get("Transfer-Encoding") or "").lower():
        chunks, total = [], 0
        while True:
            line = h.rfile.readline(1024)
            if not line:
                raise ValueError("connection closed inside a chunked body")
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while h.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > _HARD_BODY_CAP:
                raise ValueError("body too large to buffer")
            chunks.append(h.rfile.read(size))
            h.rfile.readline(1024)
    length = h.headers.get("Content-Length")
    if length is None:
        return b""
    n = int(length)
    if n < 0 or n > _HARD_BODY_CAP:
        raise ValueError(f"unacceptable Content-Length {n}")
    data = h.rfile.read(n)
    if len(data) != n:
        raise ValueError("connection closed before the whole body arrived")
    return data


def _abort(h: BaseHTTPRequestHandler) -> None:
    """Close the connection with a TCP RST (SO_LINGER 0) and no response."""
    h.close_connection = True
    sock = h.connection
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # Close the file objects first: the fd only closes (and the RST only goes out) once every
        # makefile() reference is gone. socketserver's later shutdown()/close() then fail quietly.
        h.wfile.close()
        h.rfile.close()
        sock.close()
    except OSError:
        pass


def parse_error_indexes(errors: Iterable[str]) -> list[int]:
    """The ``batch[i]`` indexes named in a 400's ``meta.errors`` (what a splitting client reads)."""
    out = []
    for text in errors:
        m = re.match(r"batch\[(\d+)\]", text)
        if m:
            out.append(int(m.group(1)))
    return sorted(set(out))


def iter_events(requests: Iterable[RecordedRequest]) -> Iterator[dict[str, Any]]:
    for r in requests:
        yield from r.events
