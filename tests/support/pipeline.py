"""``ciohooks serve``'s pipeline in-process, on the SQS emulator and the Customer.io stand-in.

The integration and reliability tests that post over HTTP and drive deliver themselves share it:
:func:`pipeline_settings` (the queues, the stand-in, plus the test's own settings),
:func:`served` (the pipeline behind serve's HTTP handler on a free port, ``.url`` set) and
:func:`drain` (run deliver on what is visible until a condition holds).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from ciohooks.config import Settings
from ciohooks.local import LocalPipeline, make_http_handler


def pipeline_settings(sqs_queues: Any, cio_standin: Any, **settings: str) -> Settings:
    """The pipeline's settings: the emulator's queues, the stand-in, then ``settings`` (full
    ``CIOHOOKS_*`` names) on top."""
    return Settings({
        "CIOHOOKS_DELIVERY_QUEUE_URL": sqs_queues.delivery_url,
        "CIOHOOKS_DEAD_LETTER_QUEUE_URL": sqs_queues.dlq_url,
        "CIOHOOKS_CUSTOMERIO_API_KEY": cio_standin.api_key,
        "CIOHOOKS_CUSTOMERIO_BASE_URL": cio_standin.base_url,
        **settings,
    })


@contextmanager
def served(settings: Settings) -> Iterator[LocalPipeline]:
    """The pipeline behind serve's HTTP handler on 127.0.0.1 (``pipeline.url``), stopped on exit."""
    local = LocalPipeline(settings, write=lambda line: None)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_http_handler(local))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    local.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield local
    finally:
        server.shutdown()
        server.server_close()


def drain(pipeline: LocalPipeline, sqs_queues: Any, until: Callable[[], bool], timeout: float = 20.0) -> None:
    """Run the deliver handler on whatever is visible until ``until()`` holds (or fail)."""
    stop = time.monotonic() + timeout
    while not until():
        if time.monotonic() > stop:
            pytest.fail(f"not reached in {timeout}s: delivery={sqs_queues.count('delivery', in_flight=True)} dlq={sqs_queues.count('dlq')}")
        if not pipeline.drain_once(wait_seconds=0):
            time.sleep(0.2)
