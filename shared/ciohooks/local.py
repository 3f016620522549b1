"""Run the whole pipeline on one machine: ``ciohooks serve``.

The same handler objects as the Lambda functions, with what is outside swapped for an embedded
default unless configured:

- queues: durable on local disk (``SqliteQueue``: ``serve`` keeps them in ``.ciohooks/queues.sqlite3``
  of the working directory, or under ``CIOHOOKS_LOCAL_STATE_DIR``), so what serve acknowledged
  survives ``kill -9`` and is delivered after a restart (a ``LocalPipeline`` built without a state
  folder, as tests do, uses a temporary one); or real SQS queues when ``CIOHOOKS_DELIVERY_QUEUE_URL`` and
  ``CIOHOOKS_DEAD_LETTER_QUEUE_URL`` are set (an emulator via ``AWS_ENDPOINT_URL_SQS``; large bodies
  go to ``CIOHOOKS_CLAIM_CHECK_BUCKET`` as in AWS);
- Customer.io: a dry-run sink that prints each call, or the real API (or ``CIOHOOKS_CUSTOMERIO_BASE_URL``)
  when ``CIOHOOKS_CUSTOMERIO_API_KEY`` is set.

Each HTTP request becomes a Function URL (payload 2.0) event for the resolver of the source's family
(``POST /sendgrid`` goes to the email function, as on its Function URL); a worker thread drains the
delivery queue into SQS-shaped batches for the deliver handler, which backs failed messages off
and dead-letters them past the retry horizon exactly as in AWS (the local queue has SQS's
visibility semantics, and its redrive backstop after ``MAX_RECEIVE_COUNT`` receives).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

from . import sources
from .config import Settings
from .customerio import CustomerIO, DryRunSink
from .deliver import DeliverApp, Deliverer
from .envelope import Envelope
from .handlers import ingest_resolver
from .ingest import Ingest
from .queue import ClaimCheck, SqliteQueue, SqsQueue
from .request import WebhookRequest
from .samples import local_keys, signing_key
from .sources.video._source import CORS_ALLOW_HEADERS, CORS_ALLOW_METHODS, CORS_MAX_AGE_SECONDS
from .sources.video._sweep import Sweep

# local_keys and signing_key live in samples.py; they are re-exported where callers have always found them.
__all__ = ["LocalContext", "LocalPipeline", "local_keys", "make_http_handler", "serve", "signing_key"]

logger = logging.getLogger(__name__)


@dataclass
class LocalContext:
    """Enough of a Lambda context for Powertools and the deadline arithmetic."""

    function_name: str = "local"
    timeout_seconds: float = 30.0
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:local:000000000000:function:local"

    def __post_init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self._started = time.monotonic()

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


class LocalPipeline:
    def __init__(self, settings: Settings | None = None, write: Callable[[str], Any] | None = None, state_dir: str | Path | None = None) -> None:
        self.settings = settings or Settings()
        self.write = write or (lambda line: print(line, flush=True))
        delivery_url, dead_letter_url = self.settings.get("DELIVERY_QUEUE_URL"), self.settings.get("DEAD_LETTER_QUEUE_URL")
        self.claim_check = ClaimCheck.from_settings(self.settings)
        if delivery_url and dead_letter_url:
            self.delivery_queue: Any = SqsQueue(delivery_url, claim_check=self.claim_check)
            self.dead_letter_queue: Any = SqsQueue(dead_letter_url, claim_check=self.claim_check)
            self.queue_description = f"SQS {delivery_url}"
        else:
            state_dir = state_dir or self.settings.get("LOCAL_STATE_DIR")
            if not state_dir:
                self._temporary = tempfile.TemporaryDirectory(prefix="ciohooks-state-")
                state_dir = self._temporary.name
            path = Path(state_dir) / "queues.sqlite3"
            dead = SqliteQueue(path, "dead-letter")
            self.delivery_queue = SqliteQueue(path, "delivery", visibility_timeout=self.settings.get_float("LOCAL_VISIBILITY_SECONDS", 90.0),
                                              max_receive_count=self.settings.get_int("MAX_RECEIVE_COUNT", 1000), dead_letter=dead)
            self.dead_letter_queue = _PrintingDeadLetters(dead, self.write)
            self.queue_description = f"durable on disk ({path})"
        api_key = self.settings.secret("CUSTOMERIO_API_KEY")
        if api_key:
            sink: Any = CustomerIO.from_settings(self.settings, api_key)
        else:
            sink = DryRunSink(self.write)
        self.sink_description = f"Customer.io at {sink.base_url}" if api_key else "dry run (prints each Customer.io call)"
        self.deliver_app = DeliverApp(Deliverer(sink, self.dead_letter_queue, self.settings, delivery_queue=self.delivery_queue, claim_check=self.claim_check))
        self.ingests = {family: Ingest(family, self.delivery_queue, self.dead_letter_queue, self.settings) for family in sources.FAMILIES}
        self.resolvers = {family: ingest_resolver(ingest) for family, ingest in self.ingests.items()}
        # A Lambda instance handles one request at a time, and Powertools keeps the current event on
        # its router class (BaseRouter.current_event), shared by every resolver in the process:
        # concurrent HTTP requests take turns, one resolve at a time.
        self._resolve_lock = threading.Lock()
        self._stop = threading.Event()
        # Closes video sessions' gaps no beacon comes to close, as the VideoSweepFunction schedule does.
        self.video_sweep = Sweep(self.settings, self.delivery_queue, every_seconds=5.0)

    # -- ingest ----------------------------------------------------------------------------------

    def family_of(self, path: str) -> tuple[str, str] | None:
        """``/sendgrid`` -> (email, /sendgrid); ``/email/sendgrid`` is accepted too."""
        parts = [p for p in path.split("?")[0].split("/") if p]
        if len(parts) == 2 and parts[0] in sources.FAMILIES:
            return parts[0], "/" + parts[1]
        if len(parts) == 1:
            for full in sources.names():
                family, name = full.split("/", 1)
                if name == parts[0]:
                    return family, "/" + name
        return None

    def handle(self, request: WebhookRequest) -> dict[str, Any]:
        """Run one HTTP request through the ingest function of its family; returns the Lambda result."""
        routed = self.family_of(request.path)
        if routed is None:
            return {"statusCode": 404, "headers": {"Content-Type": "application/json"}, "body": json.dumps({"error": "no such source", "sources": sources.names()})}
        family, path = routed
        event = WebhookRequest(request.method, path, request.body, request.headers, request.raw_query, request.received_at, request.domain).to_function_url_event()
        with self._resolve_lock:
            return self.resolvers[family].resolve(event, LocalContext(function_name=f"{family}-ingest"))

    # -- delivery --------------------------------------------------------------------------------

    def drain_once(self, wait_seconds: float = 1.0) -> int:
        """Deliver one batch from the delivery queue; returns how many messages it held."""
        received = self.delivery_queue.receive(max_messages=10, wait_seconds=wait_seconds)
        if not received:
            return 0
        event = {
            "Records": [
                {"messageId": m.message_id, "receiptHandle": m.receipt, "body": m.body, "eventSource": "aws:sqs", "messageAttributes": {}, "md5OfBody": "", "eventSourceARN": "arn:aws:sqs:local:000000000000:delivery", "awsRegion": "local",
                 "attributes": {"ApproximateReceiveCount": str(m.receive_count), **({"SentTimestamp": str(int(m.sent_at * 1000))} if m.sent_at else {})}}
                for m in received
            ]
        }
        result = self.deliver_app.handle(event, LocalContext(function_name="deliver", timeout_seconds=60))
        failed = {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
        for message in received:  # a failed message stays, hidden for the backoff deliver gave it
            if message.message_id not in failed:
                self.delivery_queue.delete(message.receipt)
        return len(received)

    def run_worker(self) -> threading.Thread:
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.drain_once(wait_seconds=1.0)
                    self.video_sweep.run_if_due()
                except Exception:  # the worker must outlive one bad batch; the log says what broke
                    logger.exception("delivery worker: batch failed")
                    time.sleep(1)

        thread = threading.Thread(target=loop, name="ciohooks-deliver", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()


class _PrintingDeadLetters:
    """The embedded dead-letter queue: keeps messages on disk and says so on the console."""

    def __init__(self, queue: SqliteQueue, write: Callable[[str], Any]) -> None:
        self.queue, self._write = queue, write

    def put(self, envelope: Envelope) -> str:
        message_id = self.queue.put(envelope)
        self._write(json.dumps({"dead_letter": envelope.summary()}))
        return message_id

    def put_raw(self, body: str) -> str:
        message_id = self.queue.put_raw(body)
        self._write(json.dumps({"dead_letter": {"kind": "foreign", "bytes": len(body)}}))
        return message_id

    def __getattr__(self, name: str) -> Any:  # receive, delete, approximate_depth, bodies: the queue's
        return getattr(self.queue, name)


def make_http_handler(pipeline: LocalPipeline, inspector: Any = None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "ciohooks-local"
        protocol_version = "HTTP/1.1"
        # TCP_NODELAY: a small reply must not wait for the client's delayed ACK (Nagle's algorithm
        # held each acknowledgement ~40 ms on loopback).
        disable_nagle_algorithm = True

        def _cors_headers(self, path: str) -> dict[str, str]:
            """What the video Function URL's CORS configuration answers in AWS (template.yaml)."""
            origin = self.headers.get("Origin")
            routed = pipeline.family_of(path)
            if not origin or routed is None or routed[0] != "video":
                return {}
            allowed = pipeline.settings.get_list("VIDEO_ALLOWED_ORIGINS") or ["*"]
            if "*" not in allowed and origin not in allowed:
                return {}
            return {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": ", ".join(CORS_ALLOW_METHODS),
                "Access-Control-Allow-Headers": ", ".join(CORS_ALLOW_HEADERS),
                "Access-Control-Max-Age": str(CORS_MAX_AGE_SECONDS),
                "Vary": "Origin",
            }

        def _serve(self) -> None:
            path = self.path.partition("?")[0]
            if inspector is not None and path.startswith("/_inspect"):
                return inspector.serve(self)
            cors = self._cors_headers(path)
            if self.command == "OPTIONS" and self.headers.get("Access-Control-Request-Method"):
                # A preflight never reaches the function: the Function URL answers it.
                self.send_response(204 if cors else 403)
                for name, value in cors.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path, _, query = self.path.partition("?")
            headers = {k.lower(): v for k, v in self.headers.items()}
            request = WebhookRequest(self.command, path, body, headers, query, domain=headers.get("host"))
            result = pipeline.handle(request)
            payload = (result.get("body") or "").encode("utf-8")
            if result.get("isBase64Encoded"):
                import base64

                payload = base64.b64decode(payload)
            self.send_response(result.get("statusCode", 500))
            for name, value in {**(result.get("headers") or {}), **cors}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            # Method and path only: query strings can carry secrets (URL-embedded keys) and personal data.
            sys.stderr.write(f"{self.command} {self.path.partition('?')[0]} {code}\n")

        def log_message(self, format: str, *args: Any) -> None:
            sys.stderr.write("%s\n" % (format % args))

    return Handler


def route_list() -> str:
    """What serve answers, as a provider would call it: each source's methods and route; a source
    that AWS invokes rather than calls over HTTPS (``Source.transport``) is named apart, since
    posting to it answers 401 here as on the stack (``make invoke`` feeds it)."""
    routes, invoked = [], []
    for name in sources.names():
        source = sources.load(name)
        route = "/" + name.split("/", 1)[1]
        if source.transport == "https":
            routes.append(f"{'|'.join(source.methods)} {route}")
        else:
            invoked.append(f"{route} ({source.transport}: make invoke)")
    return ", ".join(routes) + ("; not over HTTP: " + ", ".join(invoked) if invoked else "")


def serve(host: str = "127.0.0.1", port: int = 3000, settings: Settings | None = None, inspect: bool | None = None, keys: str | Path | None = None) -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    # CloudWatch's EMF lines are for Lambda; on a console they would only clutter the printed calls.
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    settings = settings or Settings()
    pipeline = LocalPipeline(settings, state_dir=settings.get("LOCAL_STATE_DIR") or ".ciohooks")
    from .inspector import inspector_for

    inspector = inspector_for(pipeline, host, inspect, keys)
    server = ThreadingHTTPServer((host, port), make_http_handler(pipeline, inspector))
    pipeline.run_worker()
    print(f"ciohooks serving on http://{host}:{server.server_address[1]}", file=sys.stderr)
    if inspector is not None:
        print(f"  inspector: http://{host}:{server.server_address[1]}/_inspect", file=sys.stderr)
    print(f"  delivery: {pipeline.sink_description}", file=sys.stderr)
    print(f"  queues: {pipeline.queue_description}", file=sys.stderr)
    print(f"  routes: {route_list()}", file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        pipeline.stop()
        server.server_close()
