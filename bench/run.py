"""cio-hooks benchmarks: one run, one machine, ratios against baselines measured in the same run.

    make bench                      # everything, printed
    .venv/bin/python -m bench.run --only cold,throughput --quick
    .venv/bin/python -m bench.run --json /tmp/bench.json        # also the raw figures, as JSON

1. Cold start: import of each function's handler module in a fresh interpreter, in interleaved
   rounds, median of the rounds' ratios to ``import boto3, pydantic`` (goal: ingest <= 1.2x); and
   the Lambda Runtime Interface Emulator's cold and warm invoke of each function (the real runtime,
   a layer-only path).
2a. The price of the guarantee: the validated SendGrid and Mailjet 1,000-event translations against
   the floor (bench/floor.py: plain dict-to-dict code, no validation, identical output, checked
   first) and ``json.loads``, interleaved CPU-time rounds (goal: real >= 0.7x the floor's speed);
   and the same ratio with each side's parse taken out (real: ``loads_json``, floor: ``json.loads``).
2b. Single-event ingest latency in-process (``Ingest.handle`` on a signed SendGrid open).
2. Translation throughput per source on realistic requests, events/s on one core, against plain
   ``json.loads`` of the same bytes (goal: >= 100k events/s and >= 0.25x json.loads).
3. Delivery efficiency: events per Customer.io request and events/s through the deliver path to
   the stand-in at rising load, against one request per event (goal: >= 100 events per request).
4. Cost per million webhooks from the measured durations (see docs/PERFORMANCE.md for the model).
5. Custom sources: a definition-only source (JSONata mapping, docs/CUSTOM-SOURCES.md) against the
   hand-written SendGrid module on the same 1,000-event POST, mapping the same types to the same
   events (goal: custom <= 3x the hand-written time).
6. Single-event ack latency of ``ciohooks serve`` on loopback (keep-alive client, signed SendGrid
   open), p50/p90/p99, against the same server with Nagle's algorithm left on (goal: p50 < 5 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PY = sys.executable
FUNCTION_ENV = {
    "CIOHOOKS_FAMILY": "email",
    "CIOHOOKS_DELIVERY_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-delivery",
    "CIOHOOKS_DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-dead-letter",
    "CIOHOOKS_CUSTOMERIO_API_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "cio-hooks",
}


def wall(code: str, cwd: Path, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run([PY, "-c", code], cwd=cwd, env={**os.environ, **(env or {})}, check=True)
    return time.perf_counter() - start


# ---- 1. cold start ----------------------------------------------------------------------------------

COLD_TARGETS: dict[str, tuple[str, Path, dict[str, str]]] = {
    "bare python": ("pass", REPO, {}),
    "boto3+pydantic": ("import boto3, pydantic", REPO, {}),
    **{f"{family}-ingest": ("import app", REPO / "functions" / "ingest", {**FUNCTION_ENV, "CIOHOOKS_FAMILY": family}) for family in ("email", "video", "mobile")},
    "deliver": ("import app", REPO / "functions" / "deliver", FUNCTION_ENV),
}


def cold_start(runs: int) -> dict:
    """Each function's handler module imported in a fresh interpreter, in interleaved rounds (one of
    each target per round, so a busy moment of the machine weighs on all alike); the median per
    target, and the median of each round's ratio to ``import boto3, pydantic``."""
    times: dict[str, list[float]] = {name: [] for name in COLD_TARGETS}
    for _ in range(runs):
        for name, (code, cwd, env) in COLD_TARGETS.items():
            times[name].append(wall(code, cwd, env))
    bare, baseline = statistics.median(times["bare python"]), statistics.median(times["boto3+pydantic"])
    out = {"runs": runs, "bare_python_s": bare, "baseline_import_s": baseline, "functions": {}}
    for name in ("email-ingest", "video-ingest", "mobile-ingest", "deliver"):
        took = statistics.median(times[name])
        ratios = [t / b for t, b in zip(times[name], times["boto3+pydantic"])]
        out["functions"][name] = {"import_s": took, "ratio": statistics.median(ratios), "ratio_net": (took - bare) / (baseline - bare)}
    return out


def runtime_emulator(warm_runs: int) -> dict:
    """Cold and warm invokes of the real handlers under the RIE (moto's SQS, the Customer.io stand-in)."""
    from tests.integration.test_lambda_runtime import BATCH
    from tests.support.rie import LambdaRie, RieUnavailable, find_rie_binary
    from tests.support.signers import new_sendgrid_keypair, sign_sendgrid
    from tests.support.sqs_emulator import MotoServer, SqsQueues, sqs_client
    from tests.support.standin import CioStandin

    from ciohooks.request import WebhookRequest

    try:
        find_rie_binary()
    except RieUnavailable as error:
        return {"skipped": str(error)}
    from tests.support.layer import build_layer_dir

    layer = build_layer_dir()
    private_key, public_key = new_sendgrid_keypair()
    results: dict = {}
    with MotoServer() as moto, CioStandin() as standin:
        queues = SqsQueues.create(moto.url, client=sqs_client(moto.url), max_receive_count=5, visibility_timeout=30)
        env = {**queues.env(), "CIOHOOKS_DELIVERY_QUEUE_URL": queues.delivery_url, "CIOHOOKS_DEAD_LETTER_QUEUE_URL": queues.dlq_url, "POWERTOOLS_SERVICE_NAME": "cio-hooks", "POWERTOOLS_METRICS_NAMESPACE": "CioHooks"}
        ingest = LambdaRie("app.lambda_handler", REPO / "functions" / "ingest", [layer], {**env, "CIOHOOKS_FAMILY": "email", "CIOHOOKS_SENDGRID_VERIFICATION_KEY": public_key}, isolated=True, memory_size=512).start()
        try:
            def event():
                return WebhookRequest("POST", "/sendgrid", BATCH, {"content-type": "application/json", **sign_sendgrid(private_key, BATCH)}).to_function_url_event()

            _, cold = ingest.invoke(event())
            warm = statistics.median(ingest.invoke(event())[1] for _ in range(warm_runs))
            results["email-ingest"] = {"cold_ms": cold * 1000, "warm_ms": warm * 1000, "events_per_request": 7}
        finally:
            ingest.stop()
        messages = queues.receive_all("delivery", delete=True)
        deliver = LambdaRie("app.lambda_handler", REPO / "functions" / "deliver", [layer], {**env, "CIOHOOKS_CUSTOMERIO_API_KEY": standin.api_key, "CIOHOOKS_CUSTOMERIO_BASE_URL": standin.base_url}, isolated=True, memory_size=512, timeout=60).start()
        try:
            records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"], "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs", "eventSourceARN": queues.delivery_arn, "awsRegion": "us-east-1"} for m in messages]
            batch = {"Records": records[:1]}
            _, cold = deliver.invoke(batch)
            warm = statistics.median(deliver.invoke({"Records": records[:10]})[1] for _ in range(min(warm_runs, 10)))
            results["deliver"] = {"cold_ms": cold * 1000, "warm_ms_10_messages": warm * 1000}
        finally:
            deliver.stop()
    return results


# ---- 2. translation throughput ---------------------------------------------------------------------


def sendgrid_batch(size: int = 1000) -> bytes:
    """A realistic SendGrid POST: SendGrid's documented samples, repeated with unique event ids."""
    samples = json.loads((REPO / "events/samples/email/sendgrid/batch.json").read_text())
    return json.dumps([dict(samples[i % len(samples)], sg_event_id=f"bench-{i}") for i in range(size)]).encode()


def mailjet_batch(size: int = 1000) -> bytes:
    """A realistic grouped Mailjet POST: Mailjet's documented samples, each event sent one second later
    than the one before (Mailjet sends no event id: the messageId is the hash of the content)."""
    samples = []
    for path in sorted((REPO / "events/samples/email/mailjet").glob("*.json")):
        if not path.name.endswith(".meta.json"):
            parsed = json.loads(path.read_text())
            samples.extend(parsed if isinstance(parsed, list) else [parsed])
    return json.dumps([dict(samples[i % len(samples)], time=samples[i % len(samples)]["time"] + i) for i in range(size)]).encode()


def _cpu_per_call(call, loops: int) -> float:
    start = time.process_time()
    for _ in range(loops):
        call()
    return (time.process_time() - start) / loops


def floor_ratio(rounds: int) -> dict:
    """The price of the guarantee: the real path (``ingest.translate`` + ``to_cio``: every event
    validated by the semantic models) against the floor (bench/floor.py: plain dict-to-dict code,
    no validation, the same output) and ``json.loads`` of the same 1,000-event bodies.

    One run, interleaved rounds (each round times all three), CPU time, the collector paused as
    the handlers pause it during a request (``ciohooks.gcpause``); the median of the rounds. The
    outputs are compared first: the ratio means nothing unless both sides produce the same bodies."""
    import gc

    from bench import floor
    from ciohooks.config import Settings
    from ciohooks.ingest import translate
    from ciohooks.request import WebhookRequest, loads_json
    from ciohooks.sources.email.mailjet import Mailjet
    from ciohooks.sources.email.sendgrid import SendGrid

    out = {}
    for name, source, body, plain in (("sendgrid", SendGrid(Settings({})), sendgrid_batch(), floor.sendgrid), ("mailjet", Mailjet(Settings({})), mailjet_batch(), floor.mailjet)):
        request = WebhookRequest("POST", f"/{name}", body, {"content-type": "application/json"})

        def real(source=source, request=request) -> list:
            return [event.to_cio() for event in translate(source, request).events]

        produced = real()
        same = json.dumps(produced) == json.dumps(plain(body))
        per: dict[str, list[float]] = {"real": [], "floor": [], "json.loads": [], "loads_json": []}
        gc.collect()
        gc.disable()
        try:
            for _ in range(rounds):
                per["real"].append(_cpu_per_call(real, 10))
                per["floor"].append(_cpu_per_call(lambda plain=plain, body=body: plain(body), 10))
                per["json.loads"].append(_cpu_per_call(lambda body=body: json.loads(body), 20))
                per["loads_json"].append(_cpu_per_call(lambda body=body: loads_json(body), 20))
                gc.collect()
        finally:
            gc.enable()
        out[f"email/{name} (1,000-event POST)"] = {
            "events": len(produced),
            "identical_output": same,
            "real_ms": statistics.median(per["real"]) * 1000,
            "floor_ms": statistics.median(per["floor"]) * 1000,
            "json_loads_ms": statistics.median(per["json.loads"]) * 1000,
            "real_vs_floor": statistics.median(f / r for f, r in zip(per["floor"], per["real"])),
            "real_vs_json_loads": statistics.median(j / r for j, r in zip(per["json.loads"], per["real"])),
            "floor_vs_json_loads": statistics.median(j / f for j, f in zip(per["json.loads"], per["floor"])),
            # The real path parses with request.loads_json (depth guard + msgspec), the floor with
            # json.loads: the parse taken out of both sides, what is left is mapping + validation.
            "loads_json_ms": statistics.median(per["loads_json"]) * 1000,
            "real_vs_floor_after_parse": statistics.median((f - j) / (r - p) for f, j, r, p in zip(per["floor"], per["json.loads"], per["real"], per["loads_json"])),
        }
    return out


def single_event_latency(requests: int) -> dict:
    """One signed single-event SendGrid POST through ``Ingest.handle`` in-process (authenticate,
    translate, settle, the envelope queued to an in-memory queue), p50/p90/p99 after warm-up."""
    from datetime import UTC, datetime

    from ciohooks import sources
    from ciohooks.config import Settings
    from ciohooks.gcpause import collector_paused
    from ciohooks.ingest import Ingest
    from ciohooks.queue import MemoryQueue
    from ciohooks.samples import local_keys, sample_request, signing_key

    keys = REPO / "events" / "keys"
    source = sources.load("email/sendgrid")
    ingest = Ingest("email", MemoryQueue(), MemoryQueue(), Settings(local_keys(keys)))
    request = source.sign(sample_request(source, REPO / "events/samples/email/sendgrid/open.json", received_at=datetime.now(UTC)), signing_key(source, keys))
    took = []
    for i in range(requests + 20):
        start = time.perf_counter()
        with collector_paused():
            outcome = ingest.handle("sendgrid", request)
        if i >= 20:
            took.append(time.perf_counter() - start)
        assert outcome.status == 200, outcome.status
    took.sort()
    return {"requests": requests, "p50_ms": took[len(took) // 2] * 1000, "p90_ms": took[int(len(took) * 0.9)] * 1000, "p99_ms": took[int(len(took) * 0.99)] * 1000}


def sparkpost_batch(size: int = 1000) -> bytes:
    """A large SparkPost POST: the events of SparkPost's documented samples, repeated with unique
    event ids (SparkPost batches up to a thousand events per POST)."""
    samples = []
    for path in sorted((REPO / "events/samples/email/sparkpost").glob("*.json")):
        if not path.name.endswith(".meta.json"):
            samples.extend(json.loads(path.read_text()))
    batch = []
    for i in range(size):
        item = json.loads(json.dumps(samples[i % len(samples)]))
        for event in item.get("msys", {}).values():
            if isinstance(event, dict) and "event_id" in event:
                event["event_id"] = f"bench-{i}"
        batch.append(item)
    return json.dumps(batch).encode()


def mandrill_batch(size: int = 1000) -> bytes:
    """A large Mandrill POST (form-encoded ``mandrill_events``): the events of django-anymail's
    Mandrill samples, each one second later than the one before (Mandrill's messageId counts ``ts``)."""
    from urllib.parse import parse_qs, urlencode

    samples = []
    for path in sorted((REPO / "events/samples/email/mandrill").glob("*.form")):
        samples.extend(json.loads(parse_qs(path.read_text())["mandrill_events"][0]))
    events = [dict(event, ts=event["ts"] + i) if "ts" in event else event for i, event in ((i, samples[i % len(samples)]) for i in range(size))]
    return urlencode({"mandrill_events": json.dumps(events)}).encode()


def throughput(seconds: float) -> dict:
    from ciohooks import sources
    from ciohooks.config import Settings
    from ciohooks.ingest import translate
    from ciohooks.request import WebhookRequest
    from ciohooks.samples import local_keys, sample_files, sample_request

    settings = Settings(local_keys(REPO / "events" / "keys"))
    cases: list[tuple[str, WebhookRequest]] = [
        ("email/sendgrid (1,000-event POST)", WebhookRequest("POST", "/sendgrid", sendgrid_batch(), {"content-type": "application/json"})),
        ("email/sparkpost (1,000-event POST)", WebhookRequest("POST", "/sparkpost", sparkpost_batch(), {"content-type": "application/json"})),
        ("email/mandrill (1,000-event POST)", WebhookRequest("POST", "/mandrill", mandrill_batch(), {"content-type": "application/x-www-form-urlencoded"})),
    ]
    for name in sources.names():
        source = sources.load(name)
        samples = sample_files(REPO / "events" / "samples" / name)
        best = None
        for sample in samples:  # the sample with the most events speaks for the source
            request = sample_request(source, sample)
            try:
                count = len(translate(source(settings), request).events)
            except Exception:
                continue
            if count and (best is None or count > best[0]):
                best = (count, request)
        if best:
            cases.append((name, best[1]))
    out = {}
    for label, request in cases:
        source = sources.load(label.split(" ")[0])(settings)
        events = len(translate(source, request).events)
        # The source module's caches are emptied before each loop: a source that keeps what it
        # decoded of a body for the rest of the request (Mandrill's form) decodes it once per loop.
        caches = [value.cache_clear for value in vars(sys.modules[type(source).__module__]).values() if hasattr(value, "cache_clear")]
        loops, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            for clear in caches:
                clear()
            [e.to_cio() for e in translate(source, request).events]
            loops += 1
        per_request = (time.perf_counter() - start) / loops
        is_json = request.body[:1] in (b"[", b"{")
        json_per = None
        if is_json:  # the baseline: plain json.loads of the very same bytes
            json_loops, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds / 4:
                json.loads(request.body)
                json_loops += 1
            json_per = (time.perf_counter() - start) / json_loops
        out[label] = {"events": events, "events_per_s": events / per_request, "ratio_to_json_loads": json_per / per_request if json_per else None}
    return out


# ---- 3. delivery efficiency ------------------------------------------------------------------------


def delivery(quick: bool) -> dict:
    from datetime import UTC, datetime

    from tests.support.standin import CioStandin

    from ciohooks.customerio import CustomerIO
    from ciohooks.deliver import Deliverer, InboundMessage
    from ciohooks.envelope import Envelope
    from ciohooks.queue import MemoryQueue
    from ciohooks.sources.email.sendgrid import SendGrid
    from ciohooks.config import Settings
    from ciohooks.request import WebhookRequest

    events = [e.to_cio() for e in SendGrid(Settings({})).translate(WebhookRequest("POST", "/sendgrid", sendgrid_batch(2000), {})).events]
    out = {}
    with CioStandin() as standin:
        client = CustomerIO(standin.api_key, base_url=standin.base_url)
        loads = [(1, 1), (10, 10), (100, 10), (100, 100)] if quick else [(1, 1), (10, 10), (100, 10), (100, 100), (1000, 100)]
        for messages, per_message in loads:
            standin.reset()
            batch = []
            for m in range(messages):
                chunk = events[(m * per_message) % len(events):][:per_message] or events[:per_message]
                batch.append(InboundMessage(f"m{m}", Envelope(kind="events", source="email/sendgrid", received_at=datetime.now(UTC), events=chunk).to_json()))
            total = sum(len(Envelope.from_json(b.body).events) for b in batch)
            start = time.perf_counter()
            # The deliver function gets up to 100 messages per invocation (template: BatchSize 100).
            for i in range(0, len(batch), 100):
                Deliverer(client, MemoryQueue()).deliver(batch[i:i + 100])
            took = time.perf_counter() - start
            out[f"{messages} msgs x {per_message} events"] = {"events": total, "requests": standin.request_count, "events_per_request": total / max(1, standin.request_count), "events_per_s": total / took}
        standin.reset()
        single = events[:200]
        start = time.perf_counter()
        for event in single:
            client.send([event])
        took = time.perf_counter() - start
        out["one request per event (200 events)"] = {"events": len(single), "requests": standin.request_count, "events_per_request": 1.0, "events_per_s": len(single) / took}
    return out


# ---- 5. custom sources -----------------------------------------------------------------------------

# SendGrid's event webhook written as a custom source definition: the same types, events and fields
# as ciohooks/sources/email/sendgrid.py gives for the batch (its policy defaults), so both sides do
# comparable work. Plain paths take the direct reader; $substringBefore and the conditionals run
# through JSONata.
CUSTOM_SENDGRID = {
    "name": "sendgrid-declarative",
    "family": "email",
    "title": "SendGrid as a custom source (bench)",
    "authentication": {"preset": "none", "accept_unauthenticated_requests_from_anyone": True},
    "type": "event",
    "id": "sg_event_id",
    "timestamp": "timestamp",
    "identity": {"fallback": "email"},
    "mapping": {
        "delivered": {"event": "Email Delivered", "properties": {"email_id": "$substringBefore(sg_message_id, '.filter')"}, "context": {"traits": {"email": "email"}}},
        "bounce": {"event": "Email Bounced", "properties": {"email_id": "$substringBefore(sg_message_id, '.filter')", "reason": "reason", "status": "status", "type": "type"}, "context": {"traits": {"email": "email"}}},
        "open": {"event": "Email Opened", "properties": {"email_id": "$substringBefore(sg_message_id, '.filter')"}, "context": {"traits": {"email": "email", "ip": "ip", "user_agent": "useragent"}}},
        "click": {"event": "Email Link Clicked", "properties": {"email_id": "$substringBefore(sg_message_id, '.filter')", "link_url": "url"}, "context": {"traits": {"email": "email", "ip": "ip", "user_agent": "useragent"}}},
        "spamreport": {"event": "Email Marked as Spam", "properties": {"email_id": "$substringBefore(sg_message_id, '.filter')"}, "context": {"traits": {"email": "email"}}},
        "unsubscribe": {"event": "Email Unsubscribed", "properties": {"email_id": "$substringBefore(sg_message_id, '.filter')"}, "context": {"traits": {"email": "email"}}},
        "group_unsubscribe": {"event": "Email Unsubscribed", "properties": {"email_id": "$substringBefore(sg_message_id, '.filter')", "list_id": "$string(asm_group_id)"}, "context": {"traits": {"email": "email", "ip": "ip", "user_agent": "useragent"}}},
        "processed": {"ignore": "accepted, not yet delivered"},
        "dropped": {"ignore": "as the built-in source's default policy"},
        "deferred": {"ignore": "a transient delay"},
        "group_resubscribe": {"ignore": "a resubscription"},
    },
}


def custom_ratio(rounds: int) -> dict:
    """Seconds per 1,000-event request, built-in SendGrid vs the same mapping as a definition:
    interleaved CPU-time rounds (each times both), the collector paused as in a handler, medians."""
    import gc

    from ciohooks.config import Settings
    from ciohooks.ingest import translate
    from ciohooks.request import WebhookRequest
    from ciohooks.sources.custom import build
    from ciohooks.sources.custom.definition import validate
    from ciohooks.sources.email.sendgrid import SendGrid

    request = WebhookRequest("POST", "/sendgrid", sendgrid_batch(1000), {"content-type": "application/json"})
    custom = build(validate(CUSTOM_SENDGRID, "bench"), "bench")(Settings({}))
    builtin = SendGrid(Settings({}))

    def call(source=builtin) -> list:
        return [e.to_cio() for e in translate(source, request).events]

    builtin_events, custom_events = len(call(builtin)), len(call(custom))
    times: dict[str, list[float]] = {"builtin": [], "custom": []}
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            times["builtin"].append(_cpu_per_call(lambda: call(builtin), 3))
            times["custom"].append(_cpu_per_call(lambda: call(custom), 3))
            gc.collect()
    finally:
        gc.enable()
    return {
        "builtin_s": statistics.median(times["builtin"]),
        "custom_s": statistics.median(times["custom"]),
        "builtin_events": builtin_events,
        "custom_events": custom_events,
        "ratio": statistics.median(c / b for c, b in zip(times["custom"], times["builtin"])),
    }


# ---- 4. cost model ---------------------------------------------------------------------------------

PRICES = {  # us-east-1, list prices, 2026-11 (see docs/PERFORMANCE.md for sources and assumptions)
    "lambda_arm64_gb_s": 0.0000133334,
    "lambda_request": 0.20 / 1_000_000,
    "sqs_request": 0.40 / 1_000_000,
    "s3_put": 0.005 / 1_000,
    "s3_get": 0.0004 / 1_000,
    "s3_gb_month": 0.023,
}
CLAIM_CHECK_DAYS = 15  # BodiesBucket's lifecycle expiry (template.yaml)


def cost_model(ingest_ms: float, deliver_ms_per_batch: float, memory_mb: int = 512, events_per_webhook: float = 1.0, messages_per_deliver_batch: float = 100,
               claim_checked_mb: float = 0.0) -> dict:
    """``claim_checked_mb``: the size of each message when it is over 1 MiB and goes to S3 (0: none does)."""
    gb = memory_mb / 1024
    webhooks = 1_000_000
    ingest = webhooks * (max(1.0, ingest_ms) / 1000 * gb * PRICES["lambda_arm64_gb_s"] + PRICES["lambda_request"])
    batches = webhooks / messages_per_deliver_batch
    deliver = batches * (deliver_ms_per_batch / 1000 * gb * PRICES["lambda_arm64_gb_s"] + PRICES["lambda_request"])
    # SQS: one SendMessage per webhook; the event source mapping receives and deletes in batches
    # (a receive returns up to 10 messages; deletes go in DeleteMessageBatch of up to 10).
    sqs = (webhooks + 2 * webhooks / 10) * PRICES["sqs_request"]
    # S3 (claim check): one PutObject at ingest, one GetObject per delivery, kept until the lifecycle
    # expiry. The longer DeliveryQueue retention costs nothing: SQS charges requests, not storage.
    s3 = 0.0
    if claim_checked_mb:
        stored_gb_months = webhooks * claim_checked_mb / 1024 * CLAIM_CHECK_DAYS / 30
        s3 = webhooks * (PRICES["s3_put"] + PRICES["s3_get"]) + stored_gb_months * PRICES["s3_gb_month"]
    total = ingest + deliver + sqs + s3
    return {"ingest": ingest, "deliver": deliver, "sqs": sqs, "s3": s3, "total_per_million_webhooks": total, "per_million_events": total / events_per_webhook}


# ---- 5. serve's ack latency ------------------------------------------------------------------------


def ack_latency(requests: int) -> dict:
    """Median and tail of one signed single-event POST answered by serve (what `make run` runs,
    inspector included), with TCP_NODELAY as serve sets it and without, on one keep-alive connection."""
    import http.client
    import threading
    from datetime import UTC, datetime
    from http.server import ThreadingHTTPServer

    from ciohooks import sources
    from ciohooks.config import Settings
    from ciohooks.inspector import inspector_for
    from ciohooks.local import LocalPipeline, make_http_handler
    from ciohooks.samples import local_keys, sample_request, signing_key

    keys = REPO / "events" / "keys"
    source = sources.load("email/sendgrid")

    def measure(nodelay: bool) -> dict:
        pipeline = LocalPipeline(Settings(local_keys(keys)), write=lambda line: None)
        handler = make_http_handler(pipeline, inspector_for(pipeline, "127.0.0.1", None, keys))
        handler.disable_nagle_algorithm = nodelay
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        pipeline.run_worker()
        connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
        request = source.sign(sample_request(source, REPO / "events/samples/email/sendgrid/open.json", received_at=datetime.now(UTC)), signing_key(source, keys))
        took = []
        try:
            for i in range(requests + 10):
                start = time.perf_counter()
                connection.request("POST", "/sendgrid", body=request.body, headers=dict(request.headers))
                response = connection.getresponse()
                response.read()
                if i >= 10:  # the first requests build the source and warm the caches
                    took.append(time.perf_counter() - start)
                assert response.status == 200, response.status
        finally:
            connection.close()
            pipeline.stop()
            server.shutdown()
            server.server_close()
        took.sort()
        return {"p50_ms": took[len(took) // 2] * 1000, "p90_ms": took[int(len(took) * 0.9)] * 1000, "p99_ms": took[int(len(took) * 0.99)] * 1000,
                "acks_per_s": len(took) / sum(took)}

    import contextlib
    import io

    with contextlib.redirect_stderr(io.StringIO()):  # serve's one access-log line per request
        with_nodelay = measure(True)
        without = measure(False)
    return {"requests": requests, "serve": with_nodelay, "nagle_on": without, "speedup_p50": without["p50_ms"] / with_nodelay["p50_ms"]}


# ---- report ------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="cold,floor,single,rie,throughput,delivery,cost,custom,latency")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    parser.add_argument("--json", help="also write the raw figures to this file")
    args = parser.parse_args(argv)
    parts = set(args.only.split(","))
    runs = 3 if args.quick else 9
    report: dict = {"machine": {"python": sys.version.split()[0], "cpus": os.cpu_count()}}
    if "cold" in parts:
        report["cold_start"] = cold_start(runs)
        c = report["cold_start"]
        print(f"\n1. Cold start (median of {runs} interleaved rounds of fresh interpreters; baseline `import boto3, pydantic` = {c['baseline_import_s'] * 1000:.0f} ms, bare python {c['bare_python_s'] * 1000:.0f} ms)")
        for name, f in c["functions"].items():
            goal = "  (goal <= 1.2x)" if "ingest" in name else ""
            print(f"   {name:14} import {f['import_s'] * 1000:5.0f} ms  ratio {f['ratio']:.2f}x  net of interpreter start {f['ratio_net']:.2f}x{goal}")
    if "floor" in parts:
        report["floor"] = report_floor = floor_ratio(7 if args.quick else 31)
        print("\n2a. Validated translation vs the floor (bench/floor.py: no validation, identical output), CPU time, median of interleaved rounds, collector paused (goal: real >= 0.7x the floor)")
        for name, f in report_floor.items():
            print(f"   {name:36} {f['events']:4} events  identical output: {f['identical_output']}  real {f['real_ms']:6.2f} ms  floor {f['floor_ms']:6.2f} ms  json.loads {f['json_loads_ms']:5.2f} ms"
                  f"  real = {f['real_vs_floor']:.2f}x the floor's speed, {f['real_vs_json_loads']:.3f}x json.loads (floor {f['floor_vs_json_loads']:.3f}x)")
            print(f"   {'':36} parse: real {f['loads_json_ms']:5.2f} ms (loads_json), floor {f['json_loads_ms']:5.2f} ms (json.loads); after the parse, real = {f['real_vs_floor_after_parse']:.2f}x the floor's speed")
    if "single" in parts:
        report["single_event"] = one = single_event_latency(200 if args.quick else 2000)
        print(f"\n2b. Single-event ingest in-process (signed SendGrid open: authenticate, translate, settle, queue to memory), {one['requests']} requests")
        print(f"   p50 {one['p50_ms']:.3f} ms  p90 {one['p90_ms']:.3f} ms  p99 {one['p99_ms']:.3f} ms")
    if "rie" in parts:
        report["runtime_emulator"] = runtime_emulator(5 if args.quick else 20)
        print("\n   Lambda Runtime Interface Emulator (layer-only path, 512 MB setting):")
        for name, r in report["runtime_emulator"].items():
            print(f"   {name:14} {r}")
    if "throughput" in parts:
        report["throughput"] = throughput(0.3 if args.quick else 1.5)
        print("\n2. Translation throughput (one core; translate + to_cio; goal >= 100k events/s and >= 0.25x json.loads)")
        for name, t in report["throughput"].items():
            ratio = f"{t['ratio_to_json_loads']:.3f}x json.loads" if t["ratio_to_json_loads"] else "(not a JSON body)"
            print(f"   {name:38} {t['events']:5} ev/request  {t['events_per_s']:>10,.0f} events/s  {ratio}")
    if "delivery" in parts:
        report["delivery"] = delivery(args.quick)
        print("\n3. Delivery to the Customer.io stand-in (goal >= 100 events per request under load)")
        for name, d in report["delivery"].items():
            print(f"   {name:36} {d['events']:6} events  {d['requests']:5} requests  {d['events_per_request']:7.1f} ev/request  {d['events_per_s']:>9,.0f} events/s")
    if "cost" in parts:
        ingest_ms = report.get("runtime_emulator", {}).get("email-ingest", {}).get("warm_ms", 10.0)
        deliver_ms = report.get("runtime_emulator", {}).get("deliver", {}).get("warm_ms_10_messages", 100.0) * 10
        report["cost"] = {
            "single_event_webhooks": cost_model(ingest_ms, deliver_ms),
            "batched_webhooks_100_events": cost_model(ingest_ms * 3, deliver_ms * 10, events_per_webhook=100, messages_per_deliver_batch=10),
            "mandrill_1000_events_1_6_mb": cost_model(ingest_ms * 30, deliver_ms * 10, events_per_webhook=1000, messages_per_deliver_batch=1, claim_checked_mb=1.6),
        }
        print(f"\n4. Cost per million webhooks, arm64 512 MB (ingest {ingest_ms:.0f} ms warm, deliver {deliver_ms:.0f} ms per 100-message batch; goal <= $1 for single-event webhooks)")
        for name, c in report["cost"].items():
            print(f"   {name:30} ${c['total_per_million_webhooks']:.3f} per million webhooks (ingest ${c['ingest']:.3f}, deliver ${c['deliver']:.3f}, SQS ${c['sqs']:.3f}, S3 ${c['s3']:.3f}); ${c['per_million_events']:.3f} per million events")
    if "custom" in parts:
        report["custom_sources"] = c = custom_ratio(5 if args.quick else 21)
        print("\n5. Custom source vs hand-written, one 1,000-event SendGrid POST, CPU time, median of interleaved rounds, collector paused (goal: custom <= 3x)")
        print(f"   email/sendgrid (module)      {c['builtin_s'] * 1000:7.1f} ms  {c['builtin_events']} events")
        print(f"   same mapping as a definition {c['custom_s'] * 1000:7.1f} ms  {c['custom_events']} events  ratio {c['ratio']:.2f}x")
    if "latency" in parts:
        report["ack_latency"] = latency = ack_latency(100 if args.quick else 500)
        served, nagle = latency["serve"], latency["nagle_on"]
        print(f"\n6. Single-event ack latency of serve on loopback ({latency['requests']} signed SendGrid POSTs, one keep-alive connection; goal p50 < 5 ms)")
        print(f"   serve (TCP_NODELAY)   p50 {served['p50_ms']:6.2f} ms  p90 {served['p90_ms']:6.2f} ms  p99 {served['p99_ms']:6.2f} ms  {served['acks_per_s']:7.0f} acks/s")
        print(f"   Nagle's algorithm on  p50 {nagle['p50_ms']:6.2f} ms  p90 {nagle['p90_ms']:6.2f} ms  p99 {nagle['p99_ms']:6.2f} ms  {nagle['acks_per_s']:7.0f} acks/s  ({latency['speedup_p50']:.1f}x slower p50)")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
