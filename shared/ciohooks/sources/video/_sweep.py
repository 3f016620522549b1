"""The scheduled sweep: close the gaps no beacon comes to close.

A beacon that arrived early waits for the seqs before it (``_sequencing.py``). When the next beacon
of the session arrives after the gap timeout, it closes the gap itself; when none comes (the page
died, the final beacon overtook the one that went missing), someone else must, or the waiting
beacons would sit in the session until its TTL. That is this sweep:

- In AWS, an EventBridge schedule (template.yaml ``VideoSweepFunction``, every minute) runs
  ``Sweep.from_environment().run()``: it queries the sessions table's sparse ``SweepDue`` index for
  sessions whose oldest early beacon has waited ``VIDEO_GAP_TIMEOUT_SECONDS`` (only sessions with
  early beacons are in the index: no table scan), runs their due beacons through the machine and
  queues the events on the DeliveryQueue, one envelope per beacon (the beacon itself as its raw
  request, so a dead letter replays it), before saving the session.
- ``ciohooks serve`` runs the same ``Sweep`` from its delivery worker every few seconds.

A gap is closed at most a minute (the schedule's period) after it is due.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from ... import sources, video_sessions
from ...config import Settings
from ...queue import Queue

logger = logging.getLogger(__name__)

MAX_SESSIONS_PER_RUN = 500  # a run handles this many due sessions; the next run takes the rest


@dataclass
class SweepReport:
    sessions: int = 0  # due sessions visited
    events: int = 0  # events queued
    failed: int = 0  # sessions that could not be swept (store or queue trouble: next run retries)


class Sweep:
    def __init__(self, settings: Settings, delivery_queue: Queue, every_seconds: float = 0.0) -> None:
        self.settings, self.delivery_queue = settings, delivery_queue
        self.store = video_sessions.store_from_settings(settings)
        self.every_seconds = every_seconds
        self._sources: dict[str, Any] = {}
        self._last_run = 0.0

    @classmethod
    def from_environment(cls, settings: Settings | None = None) -> Sweep:
        from ...queue import SqsQueue

        settings = settings or Settings()
        return cls(settings, SqsQueue(settings.require("DELIVERY_QUEUE_URL")))

    def run(self, now_ms: int | None = None, stop_at: float | None = None) -> SweepReport:
        """Sweep the due sessions; ``stop_at`` (``time.monotonic()``) leaves the rest to the next run
        before the function's own timeout."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        report = SweepReport()
        for key in self.store.due(now_ms, MAX_SESSIONS_PER_RUN):
            if stop_at is not None and time.monotonic() >= stop_at:
                break
            report.sessions += 1
            try:
                report.events += self._source(key).sweep_session(key, now_ms, self.delivery_queue.put)
            except Exception as error:  # one session's trouble must not stop the others; next run retries
                report.failed += 1
                # The class only: an error's text (a pydantic one above all) may quote the session's values.
                logger.error("video sweep: a session could not be swept (%s)", error.__class__.__name__)
        if report.sessions:
            logger.info("video sweep", extra={"sessions": report.sessions, "events": report.events, "failed": report.failed})
        return report

    def run_if_due(self) -> SweepReport | None:
        """``run`` at most every ``every_seconds`` (for a loop that turns faster, e.g. serve's worker)."""
        if time.monotonic() - self._last_run < self.every_seconds:
            return None
        self._last_run = time.monotonic()
        return self.run()

    def _source(self, key: str) -> Any:
        full_name = key.split("#", 1)[0]  # VideoSource.session_key: "<family>/<route>#<session_id>"
        if full_name not in self._sources:
            self._sources[full_name] = sources.load(full_name)(self.settings)
        return self._sources[full_name]
