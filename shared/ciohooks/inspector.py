"""The inspector of ``ciohooks serve``: a page at ``/_inspect`` that shows the traffic.

For each request: its route and source, the verdict (401, ignored, queued, dead-lettered and why),
the events it became and what delivery did with each; the dead letters, each with a replay button;
and a form that posts a sample to a route, signed with the local-only keys as ``ciohooks send``
does. Plain HTML and a little JavaScript, served by serve itself: nothing leaves the machine, and
what the page shows is masked as the logs are (``redact``: no email address, no token).

It is on when serve listens on a loopback address (or with ``--inspect``), never otherwise: the page
can replay dead letters and post signed requests.

How it sees: :meth:`Inspector.attach` wraps, on the pipeline's own objects, ``handle`` (one record
per request), the queues' ``put`` (what ingest queued or dead-lettered, and for which request),
the deliverer's ``deliver`` (which queue messages a batch holds) and the sink's ``send`` (what
Customer.io took or refused). The pipeline itself does not know about it.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from typing import Any, Callable

from . import sources
from .envelope import Envelope
from .redact import redact
from .request import WebhookRequest

PREFIX = "/_inspect"
KEEP = 200  # requests and dead letters remembered (the newest)
EVENTS_SHOWN = 100  # events listed per request (the rest counted)
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
logger = logging.getLogger(__name__)


def _quietly(record: Callable[..., None], *args: Any) -> None:
    """Run a recording step; a fault in it is logged, never passed on to the pipeline (the webhook's
    answer and its delivery must not depend on what the inspector shows)."""
    try:
        record(*args)
    except Exception:  # noqa: BLE001
        logger.warning("inspector: could not record (%s)", record.__name__, exc_info=True)


@dataclass
class SeenEvent:
    name: str
    message_id: str
    who: str  # userId or anonymousId, masked
    delivery: str = "queued"  # queued | delivered | rejected: why | retrying


@dataclass
class Seen:
    """One request as the inspector shows it."""

    id: int
    at: str
    method: str
    path: str
    source: str = ""
    status: int = 0
    verdict: str = ""
    reason: str = ""
    replay_of: int | None = None
    events: list[SeenEvent] = field(default_factory=list)
    more_events: int = 0  # beyond EVENTS_SHOWN


@dataclass
class DeadLetter:
    message_id: str
    request_id: int | None
    source: str
    stage: str
    reason: str
    at: str
    envelope: Envelope
    replayed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "request_id": self.request_id, "source": self.source, "stage": self.stage,
                "reason": redact(self.reason), "at": self.at, "replayed": self.replayed}


class Inspector:
    def __init__(self, pipeline: Any, keys: Path | None = None, samples: Path | None = None, host: str = "127.0.0.1") -> None:
        self.pipeline = pipeline
        self.host = host
        self.keys = keys
        self.samples = samples
        self._lock = threading.Lock()
        self._ids = count(1)
        self._seen: deque[Seen] = deque(maxlen=KEEP)
        self._by_message: dict[str, Seen] = {}  # queue message id -> the request it came from
        self._by_event: dict[str, tuple[Seen, SeenEvent]] = {}  # event messageId -> the request it came from, its line
        self._dead: dict[str, DeadLetter] = {}
        self._current = threading.local()  # .seen: the request being handled; .batch: the requests being delivered

    # ---- hooks --------------------------------------------------------------------------------

    def attach(self) -> Inspector:
        pipeline = self.pipeline
        pipeline.handle = self._wrap_handle(pipeline.handle)
        pipeline.delivery_queue.put = self._wrap_put(pipeline.delivery_queue.put, dead=False)
        pipeline.dead_letter_queue.put = self._wrap_put(pipeline.dead_letter_queue.put, dead=True)
        deliverer = pipeline.deliver_app.deliverer
        deliverer.deliver = self._wrap_deliver(deliverer.deliver)
        deliverer.sink.send = self._wrap_send(deliverer.sink.send)
        _quietly(self._load_dead_letters)
        return self

    def _load_dead_letters(self) -> None:
        """The dead letters already waiting when serve starts (a durable or SQS queue keeps them)."""
        queue = self.pipeline.dead_letter_queue
        held: dict[str, Any] = {}
        try:
            while len(held) < KEEP:
                fresh = [m for m in queue.receive(max_messages=10, wait_seconds=0, visibility_timeout=30) if m.message_id not in held]
                if not fresh:
                    break
                held.update((m.message_id, m) for m in fresh)
        finally:
            for message in held.values():
                _give_back(queue, message)
        for message in held.values():
            try:
                envelope = Envelope.from_json(message.body)
            except ValueError:
                continue
            failure = envelope.failure
            self._dead[message.message_id] = DeadLetter(message.message_id, None, envelope.source, failure.stage if failure else "?",
                                                        failure.error if failure else "", "before start", envelope)

    def _wrap_handle(self, handle: Callable[[WebhookRequest], dict[str, Any]]) -> Callable[[WebhookRequest], dict[str, Any]]:
        def wrapped(request: WebhookRequest) -> dict[str, Any]:
            seen = Seen(next(self._ids), _now(), request.method, request.path)
            self._current.seen = seen
            try:
                result = handle(request)
            finally:
                self._current.seen = None
            _quietly(self._keep, seen, request, result)
            return result

        return wrapped

    def _keep(self, seen: Seen, request: WebhookRequest, result: dict[str, Any]) -> None:
        self._judge(seen, request, result)
        with self._lock:
            self._seen.appendleft(seen)

    def _wrap_put(self, put: Callable[[Envelope], str], dead: bool) -> Callable[[Envelope], str]:
        def wrapped(envelope: Envelope) -> str:
            message_id = put(envelope)
            _quietly(self._record_put, envelope, message_id, dead)
            return message_id

        return wrapped

    def _record_put(self, envelope: Envelope, message_id: str, dead: bool) -> None:
        seen = getattr(self._current, "seen", None)
        batch = getattr(self._current, "batch", None) or []
        owner = seen or (batch[0] if len(batch) == 1 else None) or self._owner_of(envelope)
        with self._lock:
            if dead:
                failure = envelope.failure
                self._dead[message_id] = DeadLetter(message_id, owner.id if owner else None, envelope.source,
                                                    failure.stage if failure else "?", failure.error if failure else "", _now(), envelope)
                if owner is not None:
                    owner.verdict, owner.reason = "dead-lettered", redact(failure.error if failure else "")
                    for event in owner.events:
                        event.delivery = "dead-lettered" if event.delivery in ("queued", "retrying") else event.delivery
            elif owner is not None:
                self._by_message[message_id] = owner
                for event in envelope.events or []:
                    self._add_event(owner, event)

    def _wrap_deliver(self, deliver: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(messages: Any, *args: Any, **kwargs: Any) -> Any:
            messages = list(messages)
            self._current.batch = self._batch_of(messages)
            try:
                return deliver(messages, *args, **kwargs)
            finally:
                self._current.batch = None

        return wrapped

    def _batch_of(self, messages: list[Any]) -> list[Seen]:
        try:
            with self._lock:
                return [s for m in messages if (s := self._by_message.get(m.message_id)) is not None]
        except Exception:  # noqa: BLE001 - see _quietly
            logger.warning("inspector: could not read a delivery batch", exc_info=True)
            return []

    def _wrap_send(self, send: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(events: Any, *args: Any, **kwargs: Any) -> Any:
            result = send(events, *args, **kwargs)
            _quietly(self._record_send, result)
            return result

        return wrapped

    def _record_send(self, result: Any) -> None:
        batch = getattr(self._current, "batch", None) or []
        outcomes = [(e, "delivered") for e in result.delivered] + [(r.event, f"rejected: {redact(r.reason)}") for r in result.rejected] + [(e, "retrying") for e in result.unsent]
        with self._lock:
            for event, delivery in outcomes:
                owner = (batch[0] if len(batch) == 1 else None) or self._owner_by_event(event)
                if owner is None:
                    continue
                seen_event = self._add_event(owner, event)
                seen_event.delivery = delivery

    def _owner_of(self, envelope: Envelope) -> Seen | None:
        for event in envelope.events or []:
            if (owner := self._owner_by_event(event)) is not None:
                return owner
        return None

    def _owner_by_event(self, event: dict[str, Any]) -> Seen | None:
        known = self._by_event.get(str(event.get("messageId", "")))
        return known[0] if known else None

    def _add_event(self, owner: Seen, event: dict[str, Any]) -> SeenEvent:
        message_id = str(event.get("messageId", ""))
        known = self._by_event.get(message_id)
        if known is not None and known[0] is owner:
            return known[1]
        seen_event = SeenEvent(str(event.get("event") or event.get("type", "?")), message_id, redact(str(event.get("userId") or event.get("anonymousId") or "")))
        if len(owner.events) < EVENTS_SHOWN:
            owner.events.append(seen_event)
        else:
            owner.more_events += 1
        self._by_event[message_id] = (owner, seen_event)
        self._forget_old()
        return seen_event

    def _forget_old(self) -> None:
        """Bounded memory however long serve runs: the oldest lookups and dead letters go first."""
        for index, most in ((self._by_event, KEEP * EVENTS_SHOWN), (self._by_message, KEEP * 10), (self._dead, KEEP)):
            while len(index) > most:
                del index[next(iter(index))]

    def _judge(self, seen: Seen, request: WebhookRequest, result: dict[str, Any]) -> None:
        seen.status = int(result.get("statusCode", 500))
        routed = self.pipeline.family_of(request.path)
        if routed is not None:
            seen.source = f"{routed[0]}/{routed[1].lstrip('/')}"
        try:
            body = json.loads(result.get("body") or "{}")
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        if seen.verdict:  # dead-lettered while handled
            return
        if seen.status == 401:
            seen.verdict = "unauthorized"
        elif seen.status == 404:
            seen.verdict, seen.reason = "no such route", redact(str(body.get("error", "")))
        elif seen.status >= 400:
            seen.verdict, seen.reason = ("failed" if seen.status >= 500 else "rejected"), redact(str(body.get("error", "")))
        elif seen.events:
            seen.verdict = "queued"
        elif body.get("accepted") == 0:
            seen.verdict, seen.reason = "ignored", f"{body.get('ignored', 0)} event(s) ignored on purpose"
        else:
            seen.verdict = "answered"

    # ---- what the page asks for ----------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        with self._lock:
            requests = [asdict(s) for s in self._seen]
            dead = [d.to_json() for d in self._dead.values()]
        return {"requests": requests, "dead_letters": dead[::-1], "routes": self.routes()}

    def routes(self) -> list[dict[str, Any]]:
        from .samples import sample_files

        out = []
        for full in sources.names():
            folder = self.samples / full if self.samples else None
            files = [p.name for p in sample_files(folder)] if folder and folder.is_dir() else []
            out.append({"source": full, "path": "/" + full.split("/", 1)[1], "samples": files})
        return out

    def sample_text(self, source: str, name: str) -> str:
        path = self._sample_path(source, name)
        return path.read_text(errors="replace")

    def _sample_path(self, source: str, name: str) -> Path:
        if self.samples is None or source not in sources.names() or "/" in name or name.startswith("."):
            raise LookupError("no such sample")
        path = self.samples / source / name
        if not path.is_file():
            raise LookupError("no such sample")
        return path

    def send(self, source_name: str, sample: str, body: str | None, sign: bool) -> dict[str, Any]:
        """Post a sample (or the edited body) to its route through the pipeline, as ``ciohooks send`` would."""
        import dataclasses

        from .samples import sample_request, signing_key

        source = sources.load(source_name)
        path = self._sample_path(source_name, sample)
        request = sample_request(source, path, received_at=datetime.now(UTC), domain="127.0.0.1", path="/" + source_name.split("/", 1)[1])
        if body is not None and path.suffix != ".query":
            request = dataclasses.replace(request, body=body.encode("utf-8"))
        if sign and self.keys is not None and (key := signing_key(source, self.keys)) is not None:
            try:
                request = source.sign(request, key)
            except NotImplementedError:
                pass
        result = self.pipeline.handle(request)
        return {"status": result.get("statusCode"), "body": result.get("body")}

    def replay(self, message_id: str) -> dict[str, Any]:
        """Take the dead letter off the dead-letter queue and put it back for delivery, to translate again."""
        with self._lock:
            dead = self._dead.get(message_id)
        if dead is None or dead.replayed:
            raise LookupError("no such dead letter (or already replayed)")
        take(self.pipeline.dead_letter_queue, message_id)
        owner = None
        with self._lock:
            if dead.request_id is not None:
                original = next((s for s in self._seen if s.id == dead.request_id), None)
                owner = Seen(next(self._ids), _now(), "REPLAY", original.path if original else "", dead.source, 0, "queued", "replay of a dead letter", dead.request_id)
                self._seen.appendleft(owner)
            dead.replayed = True
        self._current.seen = owner
        try:
            self.pipeline.delivery_queue.put(dead.envelope.for_replay())
        finally:
            self._current.seen = None
        return {"replayed": message_id, "request_id": owner.id if owner else None}

    # ---- HTTP ----------------------------------------------------------------------------------

    def _host_allowed(self, host_header: str) -> bool:
        return _hostname(host_header) in LOOPBACK_NAMES | {self.host.strip("[]").lower()}

    def serve(self, handler: Any) -> None:
        """Answer a request to ``/_inspect...`` on serve's HTTP handler."""
        path = handler.path.partition("?")[0]
        if not self._host_allowed(handler.headers.get("Host", "")):
            # A page of another site whose name resolves to 127.0.0.1 (DNS rebinding) must not read it.
            return _json(handler, 403, {"error": "the inspector answers requests for this machine's own address only"})
        try:
            if handler.command == "GET" and path in (PREFIX, PREFIX + "/"):
                return _reply(handler, 200, PAGE.encode("utf-8"), "text/html; charset=utf-8")
            if handler.command == "GET" and path == PREFIX + "/api/state":
                return _json(handler, 200, self.state())
            if handler.command == "GET" and path == PREFIX + "/api/sample":
                from urllib.parse import parse_qs

                query = {k: v[0] for k, v in parse_qs(handler.path.partition("?")[2]).items()}
                return _reply(handler, 200, self.sample_text(query.get("source", ""), query.get("name", "")).encode("utf-8"), "text/plain; charset=utf-8")
            if handler.command == "POST" and path in (PREFIX + "/api/send", PREFIX + "/api/replay"):
                if handler.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
                    return _json(handler, 403, {"error": "the inspector answers its own page only"})
                length = int(handler.headers.get("Content-Length") or 0)
                form = json.loads(handler.rfile.read(length) or b"{}")
                if path.endswith("/send"):
                    return _json(handler, 200, self.send(str(form.get("source", "")), str(form.get("sample", "")), form.get("body"), bool(form.get("sign", True))))
                return _json(handler, 200, self.replay(str(form.get("message_id", ""))))
            return _json(handler, 404, {"error": "no such inspector page"})
        except LookupError as error:
            return _json(handler, 404, {"error": str(error).strip("'")})
        except (ValueError, KeyError) as error:
            return _json(handler, 400, {"error": redact(str(error))})
        except Exception as error:  # noqa: BLE001 - the page says what failed; serve goes on
            logger.warning("inspector: %s failed", path, exc_info=True)
            return _json(handler, 500, {"error": f"{error.__class__.__name__}: {redact(str(error))}"})


def inspector_for(pipeline: Any, host: str, inspect: bool | None, keys: str | Path | None) -> Inspector | None:
    """The inspector serve runs: on for a loopback host unless ``inspect`` is False, else only if True."""
    if inspect is None:
        inspect = is_loopback(host)
    if not inspect:
        return None
    keys_dir = Path(keys) if keys else None
    samples = (keys_dir.parent if keys_dir else Path("events")) / "samples"
    return Inspector(pipeline, keys_dir, samples if samples.is_dir() else None, host).attach()


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _hostname(host_header: str) -> str:
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def take(queue: Any, message_id: str) -> None:
    """Remove one message from a queue that can only be received from: receive until it shows up,
    delete it, give the others back at once."""
    others = []
    try:
        while True:
            fresh = [m for m in queue.receive(max_messages=10, wait_seconds=0, visibility_timeout=30) if m.message_id not in {o.message_id for o in others}]
            if not fresh:
                return
            for message in fresh:
                if message.message_id == message_id:
                    queue.delete(message.receipt)
                    return
                others.append(message)
    finally:
        for message in others:
            _give_back(queue, message)


def _give_back(queue: Any, message: Any) -> None:
    """Visible again at once, whichever queue it is (in-process, on disk, SQS)."""
    if hasattr(queue, "requeue"):
        queue.requeue(message)
    elif hasattr(queue, "change_visibility"):
        queue.change_visibility(message.receipt, 0)
    else:
        queue.client.change_message_visibility(QueueUrl=queue.url, ReceiptHandle=message.receipt, VisibilityTimeout=0)


def _now() -> str:
    return datetime.now(UTC).strftime("%H:%M:%S")


def _json(handler: Any, status: int, payload: Any) -> None:
    _reply(handler, status, json.dumps(payload).encode("utf-8"), "application/json")


def _reply(handler: Any, status: int, body: bytes, content_type: str) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.send_header("Cache-Control", "no-store")
    handler.send_header("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:")
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cio-hooks inspector</title><link rel="icon" href="data:,">
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.5em}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}
.v-queued,.v-delivered{color:#0a6b2d}.v-unauthorized,.v-rejected,.v-failed{color:#b00020}.v-dead-lettered{color:#a35200}.v-ignored{color:#666}
code{font-size:.9em}ul{margin:0;padding-left:1.2em}textarea{width:100%;height:10em;font:12px monospace}form{display:grid;gap:.5em;max-width:60em}
.muted{color:#777}
</style></head><body>
<h1>cio-hooks inspector <span class="muted">(local only; emails and tokens masked)</span></h1>
<h2>Post a sample</h2>
<form id="send">
 <label>Route <select id="source" name="source"></select></label>
 <label>Sample <select id="sample" name="sample"></select></label>
 <textarea id="body" name="body" spellcheck="false"></textarea>
 <label><input type="checkbox" id="sign" checked> sign with the local-only key (as <code>ciohooks send</code>)</label>
 <div><button type="submit" id="post">Post</button> <span id="answer" class="muted"></span></div>
</form>
<h2>Requests</h2>
<table id="requests"><thead><tr><th>#</th><th>at</th><th>request</th><th>source</th><th>status</th><th>verdict</th><th>events and delivery</th></tr></thead><tbody></tbody></table>
<h2>Dead letters</h2>
<table id="dead"><thead><tr><th>message</th><th>request</th><th>source</th><th>stage</th><th>why</th><th></th></tr></thead><tbody></tbody></table>
<script>
"use strict";
const api = (path, body) => fetch("/_inspect/api/" + path, body === undefined ? {} : {method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify(body)});
const text = (tag, value, cls) => { const el = document.createElement(tag); el.textContent = value; if (cls) el.className = cls; return el; };
let routes = [];
async function loadSample() {
  const source = document.getElementById("source").value, sample = document.getElementById("sample").value;
  document.getElementById("body").value = sample ? await (await api("sample?source=" + encodeURIComponent(source) + "&name=" + encodeURIComponent(sample))).text() : "";
}
function fillSamples() {
  const route = routes.find(r => r.source === document.getElementById("source").value), select = document.getElementById("sample");
  select.replaceChildren(...(route ? route.samples : []).map(name => text("option", name)));
  return loadSample();
}
function row(cells) { const tr = document.createElement("tr"); cells.forEach(c => { const td = document.createElement("td"); td.append(c); tr.append(td); }); return tr; }
function events(list) {
  const ul = document.createElement("ul");
  list.forEach(e => { const li = text("li", e.name + " "); li.append(text("code", e.who || ""), " ", text("span", e.delivery, "v-" + e.delivery.split(":")[0])); ul.append(li); });
  return ul;
}
async function refresh() {
  const state = await (await api("state")).json();
  document.querySelector("#requests tbody").replaceChildren(...state.requests.map(r => {
    const list = events(r.events); if (r.more_events) list.append(text("li", "and " + r.more_events + " more", "muted"));
    const tr = row([String(r.id), r.at, r.method + " " + r.path, r.source, String(r.status || ""), text("span", r.verdict + (r.reason ? ": " + r.reason : ""), "v-" + r.verdict), list]);
    tr.dataset.id = r.id; tr.dataset.verdict = r.verdict; if (r.replay_of) tr.dataset.replayOf = r.replay_of; return tr;
  }));
  document.querySelector("#dead tbody").replaceChildren(...state.dead_letters.map(d => {
    const button = text("button", d.replayed ? "replayed" : "Replay"); button.disabled = d.replayed;
    button.onclick = async () => { button.disabled = true; await api("replay", {message_id: d.message_id}); refresh(); };
    const tr = row([text("code", d.message_id.slice(0, 8)), d.request_id ? "#" + d.request_id : "", d.source, d.stage, d.reason, button]);
    tr.dataset.messageId = d.message_id; return tr;
  }));
  return state;
}
document.getElementById("send").onsubmit = async event => {
  event.preventDefault();
  const answer = await (await api("send", {source: document.getElementById("source").value, sample: document.getElementById("sample").value,
    body: document.getElementById("body").value, sign: document.getElementById("sign").checked})).json();
  document.getElementById("answer").textContent = answer.error ? answer.error : answer.status + " " + answer.body;
  refresh();
};
document.getElementById("source").onchange = fillSamples;
document.getElementById("sample").onchange = loadSample;
refresh().then(state => {
  routes = state.routes;
  document.getElementById("source").replaceChildren(...routes.map(r => text("option", r.source)));
  document.getElementById("source").value = (routes.find(r => r.samples.length) || routes[0] || {}).source;
  return fillSamples();
});
setInterval(refresh, 1000);
</script></body></html>
"""
