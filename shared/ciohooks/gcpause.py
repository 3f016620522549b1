"""Garbage-collector discipline for the Lambda handlers (and anything else serving requests).

A request allocates many short-lived containers (parsed JSON, event dicts) and frees them all
when it ends; reference counting frees them, so the cyclic collector only re-walks them, and the
long-lived objects of the container (modules, pydantic's validators) on every full pass. Two
measures, measured in docs/PERFORMANCE.md:

- ``freeze_after_init()``, once at the end of a function's init: everything alive then (modules,
  the handler app) moves to the permanent generation, never scanned again.
- ``collector_paused()`` around each request: no collection in the middle of one; the collector
  runs again after it (any cycle a request made is found then).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


def freeze_after_init() -> None:
    # No gc.collect() first: a full collection right after the imports costs tens of milliseconds
    # of the cold start a provider waits on; the few cycles init left behind stay (kilobytes).
    gc.freeze()


@contextmanager
def collector_paused() -> Iterator[None]:
    if not gc.isenabled():  # nested, or paused by the caller: leave it as it is
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
