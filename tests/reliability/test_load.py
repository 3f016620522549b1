"""Load on loopback: a bounded generator (a few thousand webhooks across every source) against
``ciohooks serve`` (embedded queue, drained by its worker as it fills) delivering to the stand-in.

Reports throughput, p50/p99 acknowledgement latency and the ledger (accepted, delivered, lost);
asserts only the ledger (lost = 0, nothing but 2xx): timings are figures, not pass/fail.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from ciohooks import sources
from ciohooks.config import Settings
from ciohooks.ingest import UntranslatableError, translate
from ciohooks.local import LocalPipeline, local_keys, make_http_handler, signing_key
from ciohooks.request import WebhookRequest
from ciohooks.samples import sample_files, sample_request

pytestmark = pytest.mark.integration

REPO = Path(__file__).parents[2]
EVENTS = REPO / "events"
WEBHOOKS = int(__import__("os").environ.get("CIOHOOKS_LOAD_WEBHOOKS", "1500"))
CLIENTS = 8
FIGURES = REPO / ".pytest_cache" / "load-figures.json"


def catalogue_requests(settings: Settings) -> list[tuple[str, WebhookRequest, set[str]]]:
    """Every source's deliverable samples with the messageIds each must produce."""
    out = []
    for name in sources.names():
        source = sources.load(name)
        if source.transport == "eventbridge":  # no URL: handed to the function by an EventBridge rule
            continue
        for sample in sample_files(EVENTS / "samples" / name):
            request = sample_request(source, sample)
            try:
                ids = {e.to_cio()["messageId"] for e in translate(source(settings), request).events}
            except UntranslatableError:  # a sample that is meant not to translate (an empty batch...)
                continue
            if ids:
                out.append((name, request, ids))
    return out


def test_load_on_loopback(cio_standin, capsys):
    settings = Settings({**local_keys(EVENTS / "keys"), "CIOHOOKS_CUSTOMERIO_API_KEY": cio_standin.api_key, "CIOHOOKS_CUSTOMERIO_BASE_URL": cio_standin.base_url})
    pipeline = LocalPipeline(settings, write=lambda line: None)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_http_handler(pipeline))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pipeline.run_worker()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    catalogue = catalogue_requests(settings)
    keys = {name: signing_key(sources.load(name), EVENTS / "keys") for name, _, _ in catalogue}
    local_sessions = threading.local()  # requests.Session is not safe to share across threads
    latencies: list[float] = []
    statuses: list[int] = []
    refused: list[tuple[str, str, int]] = []
    lock = threading.Lock()

    # Signed once, then sent again and again, as a provider's retries are: a nonce signed anew with
    # other content (SNS's MessageId with a new Timestamp) is a replay, refused by the replay store.
    signed = []
    for name, request, _ in catalogue:
        request = replace(request, received_at=datetime.now(UTC))
        signed.append((name, sources.load(name).sign(request, keys[name]) if keys[name] is not None else request))

    def one(i: int) -> None:
        name, request = signed[i % len(signed)]
        target = f"{url}{request.path}" + (f"?{request.raw_query}" if request.raw_query else "")
        start = time.perf_counter()
        if not hasattr(local_sessions, "session"):
            local_sessions.session = requests.Session()
        status = local_sessions.session.request(request.method, target, data=request.body, headers=dict(request.headers), timeout=30).status_code
        took = time.perf_counter() - start
        with lock:
            latencies.append(took)
            statuses.append(status)
            if not 200 <= status < 300:
                refused.append((name, request.method, status))

    try:
        start = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(one, range(WEBHOOKS)))
        ingest_seconds = time.perf_counter() - start
        expected = set().union(*(ids for _, _, ids in catalogue))
        stop = time.monotonic() + 120
        while time.monotonic() < stop and not expected <= {e["messageId"] for e in cio_standin.events}:
            time.sleep(0.2)
        total_seconds = time.perf_counter() - start
    finally:
        pipeline.stop()
        server.shutdown()
        server.server_close()

    delivered = {e["messageId"] for e in cio_standin.events}
    events_sent = sum(len(catalogue[i % len(catalogue)][2]) for i in range(WEBHOOKS))
    quantiles = statistics.quantiles(latencies, n=100)
    figures = {
        "webhooks": WEBHOOKS,
        "sources": len({n for n, _, _ in catalogue}),
        "clients": CLIENTS,
        "answered_2xx": sum(200 <= s < 300 for s in statuses),
        "acks_per_second": round(WEBHOOKS / ingest_seconds, 1),
        "ack_latency_ms": {"p50": round(quantiles[49] * 1000, 1), "p99": round(quantiles[98] * 1000, 1)},
        "events_delivered_copies": len(cio_standin.events),
        "customerio_requests": cio_standin.request_count,
        "end_to_end_seconds": round(total_seconds, 1),
        "lost": len(expected - delivered),
    }
    FIGURES.parent.mkdir(exist_ok=True)
    FIGURES.write_text(json.dumps(figures, indent=2))
    with capsys.disabled():
        print("\n  load: " + json.dumps(figures))
    assert figures["answered_2xx"] == WEBHOOKS, Counter_of(refused)
    assert figures["lost"] == 0 and events_sent >= len(expected)


def Counter_of(statuses):
    from collections import Counter

    return dict(Counter(statuses))
