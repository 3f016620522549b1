"""Video beacons in the orders a browser really produces lose nothing, end to end (issue 11 item 10).

Every sample session of every player (events/samples/video, credited in each folder's README) is
cut into four beacons and posted through the local pipeline (the Lambda handlers' very objects)
onto the SQS emulator, then delivered into the Customer.io stand-in, in this order:

    seq 1, seq 0            swapped (the tracker posts every pending beacon at once)
    seq 1                   a network retry
    -- the gap timeout passes, the sweep runs, then the session store is emptied (an expired
       item, a restarted ``serve``: the state is lost) --
    seq 0                   a late retry, now into a fresh session
    seq 3 (final), seq 2    the final beacon overtakes the one before it
    seq 3                   retried
    -- the schedule keeps sweeping --

The ledger (as tests/reliability/test_durability.py prints it) counts events: ``sent`` = the native
events posted, ``acked`` = the distinct messageIds ingest and the sweep queued, ``delivered`` = those
the stand-in has, ``lost`` = acked ones neither delivered nor dead-lettered. Beside it, two checks
the ledger cannot make: every native event of every beacon reached a player's state machine
(nothing dropped as late, duplicate or after the final), and no messageId was ever made for two
different events (another event name, or another native event), neither on the queue nor at
Customer.io.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ciohooks import sources, video_sessions
from ciohooks.config import Settings
from ciohooks.envelope import Envelope
from ciohooks.local import LocalPipeline, local_keys, signing_key
from ciohooks.request import WebhookRequest
from ciohooks.sources.video._machine import Machine
from ciohooks.sources.video._source import VideoSource
from tests.reliability.test_durability import Ledger, dead_letters, delivered_ids, drain

pytestmark = pytest.mark.integration

REPO = Path(__file__).parents[2]
KEYS = REPO / "events" / "keys"
SAMPLE_FILES = sorted((REPO / "events" / "samples" / "video").glob("*/*.json"))
GAP_TIMEOUT_MS = 30_000  # the default VIDEO_GAP_TIMEOUT_SECONDS
LOSE_STATE = "lose state"
SCHEDULE: list[int | str] = [1, 0, 1, LOSE_STATE, 0, 3, 2, 3]


def four_beacons(whole: dict[str, Any]) -> list[dict[str, Any]]:
    """The session as beacons seq 0..3, cut at its quarters; the last is final if the session is."""
    events, head = whole["events"], {k: v for k, v in whole.items() if k not in ("events", "final", "seq", "sent_t")}
    n = len(events)
    bounds = [0, n // 4, n // 2, 3 * n // 4, n]
    beacons = [{**head, "seq": i, "sent_t": events[b - 1]["t"], "events": events[a:b]} for i, (a, b) in enumerate(zip(bounds, bounds[1:]))]
    beacons[-1].update(sent_t=whole["sent_t"], final=bool(whole.get("final")))
    return beacons


@pytest.fixture
def pipeline(sqs_queues, cio_standin, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", sqs_queues.endpoint_url)
    settings = Settings({
        **local_keys(KEYS),
        "CIOHOOKS_DELIVERY_QUEUE_URL": sqs_queues.delivery_url,
        "CIOHOOKS_DEAD_LETTER_QUEUE_URL": sqs_queues.dlq_url,
        "CIOHOOKS_CUSTOMERIO_API_KEY": cio_standin.api_key,
        "CIOHOOKS_CUSTOMERIO_BASE_URL": cio_standin.base_url,
    })
    return LocalPipeline(settings, write=lambda line: None)


class Observed:
    """What went through the pipeline, watched without changing it: the native events fed to the
    state machines, the event each messageId was made for, and the envelopes put on the queue."""

    def __init__(self, pipeline: LocalPipeline, monkeypatch: pytest.MonkeyPatch) -> None:
        self.fed: set[tuple[str, float, str]] = set()
        self.made_for: dict[str, set[tuple[str, float]]] = defaultdict(set)
        self.queued: list[Envelope] = []
        feed, event, put = Machine.feed, VideoSource._event, pipeline.delivery_queue.put

        def watched_feed(machine, native, context):
            self.fed.add((context.session_id, native.t, native.type))
            return feed(machine, native, context)

        def watched_event(source, item, *args):
            built = event(source, item, *args)
            self.made_for[built.messageId].add((item["event"], item["t"]))
            return built

        def watched_put(envelope: Envelope) -> str:
            self.queued.append(envelope)
            return put(envelope)

        monkeypatch.setattr(Machine, "feed", watched_feed)
        monkeypatch.setattr(VideoSource, "_event", watched_event)
        monkeypatch.setattr(pipeline.delivery_queue, "put", watched_put)

    def acked_ids(self) -> set[str]:
        return {e["messageId"] for envelope in self.queued for e in envelope.events}


def post(pipeline: LocalPipeline, player: type[VideoSource], beacon: dict[str, Any], at: datetime) -> int:
    request = WebhookRequest("POST", f"/{player.name}", json.dumps(beacon).encode(), {"content-type": "application/json"}, received_at=at)
    return pipeline.handle(player.sign(request, signing_key(player, KEYS)))["statusCode"]


def test_swapped_duplicated_beacons_with_lost_state_lose_nothing_and_share_no_message_id(pipeline, sqs_queues, cio_standin, monkeypatch, capsys):
    observed, ledger = Observed(pipeline, monkeypatch), Ledger("video-beacons")
    store = video_sessions.store_from_settings(pipeline.settings)
    start = datetime.now(UTC)
    now_ms = 0
    expected_native: set[tuple[str, float, str]] = set()
    for path in SAMPLE_FILES:
        player = sources.load(f"video/{path.parent.name}")
        whole = json.loads(path.read_text())
        beacons = four_beacons(whole)
        expected_native |= {(whole["session_id"], e["t"], e["type"]) for e in whole["events"]}
        ledger.sent += len(whole["events"])
        for step in SCHEDULE:
            now_ms += 1000
            if step == LOSE_STATE:
                now_ms += GAP_TIMEOUT_MS
                pipeline.video_sweep.run(now_ms=int(start.timestamp() * 1000) + now_ms)
                store._items.clear()  # the embedded store of these settings: every session forgotten
                continue
            assert post(pipeline, player, beacons[int(step)], start + timedelta(milliseconds=now_ms)) == 202
        pipeline.video_sweep.run(now_ms=int(start.timestamp() * 1000) + now_ms + 10 * GAP_TIMEOUT_MS)  # the schedule keeps running

    acked = observed.acked_ids()
    drain(pipeline, sqs_queues, lambda: acked <= delivered_ids(cio_standin) and sqs_queues.count("delivery", in_flight=True) == 0)

    # every native event reached a state machine; nothing waits in a session any more
    assert observed.fed == expected_native
    assert not store.due(int(start.timestamp() * 1000) + now_ms + 100 * GAP_TIMEOUT_MS, 100)
    # no messageId was made for two different events, and Customer.io got one name per messageId
    shared = {message_id: made for message_id, made in observed.made_for.items() if len(made) > 1}
    assert not shared, f"messageIds made for two different events: {shared}"
    names: dict[str, set[str]] = defaultdict(set)
    for event in cio_standin.events:
        names[event["messageId"]].add(event["event"])
    assert all(len(n) == 1 for n in names.values())

    dead = dead_letters(sqs_queues)
    dead_ids = [e["messageId"] for envelope in dead for e in envelope.events or []]
    ledger.settle(acked, delivered_ids(cio_standin), dead_ids, len(dead))
    ledger.report(capsys)
    assert ledger.in_dlq == 0 and ledger.delivered == ledger.acked
    assert ledger.sent == 1281 and ledger.acked == 286  # pinned: the seventeen sample sessions under this schedule
