"""The browser tracker (web/cio-video-tracker.js) in a real headless Chromium.

- HTML5: a real ``<video>`` plays a clip that ffmpeg makes for the test (VP8/WebM test pattern), is
  paused, resumed, seeked and played to the end; the tracker's beacons go over HTTP to ``ciohooks
  serve``'s handler (the same code as the video Function URL), through SQS (the emulator) and the
  deliver handler to the Customer.io stand-in.
- JW Player, Vimeo, YouTube, Mux and video.js, and (with their adapter files, web/adapters/)
  Brightcove, Plyr, Shaka Player, Bitmovin and Wistia: in-page doubles (web/test/doubles/*.js) fire the
  callback shapes each player documents; the beacons the tracker posts are asserted exactly, and so
  is what serve (embedded queue) delivers to the stand-in: the subtle cases (a skipped ad is not
  completed, the pause before an ad break or the end is not Paused, YouTube seeks inferred from
  ticks, bits/s to kbps, an error then leaving is Interrupted then Exited).
- Delivery: text/plain bodies (no CORS preflight), retry with the same seq and bytes (5xx, 429, an
  unreadable answer) but not after a 400, sendBeacon on page hide, size-bounded beacons, session
  boundaries, detaching.

Chromium is the one tests/support/browser.py finds (Debian's, an installed Chrome, or Playwright's
download), driven by Playwright for Python through ``executable_path``. Without Chromium,
Playwright or ffmpeg the tests skip locally and fail in CI (CI=true).

Cross-origin: the page (one port) posts to the endpoint (another port), as a site posts to the
Function URL; serve answers CORS as the Function URL's Cors configuration does, and Chromium sends
its real Origin, which the video sources check against VIDEO_ALLOWED_ORIGINS.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

import pytest

from ciohooks.config import Settings
from ciohooks.local import LocalPipeline, make_http_handler
from tests.support import REPO_ROOT, require
from tests.support.browser import chromium_or_skip
from tests.support.spec import assert_valid_event
from tests.support.sqs_emulator import SqsQueues
from tests.support.standin import CioStandin

pytestmark = pytest.mark.integration

WEB = REPO_ROOT / "web"
TRACKER = WEB / "cio-video-tracker.js"
WRITE_KEY = "site-public-write-key"
IDENTITY_SECRET = "browser-test-identity-secret"
# hex(HMAC-SHA256(IDENTITY_SECRET, "viewer-1")): what the site's backend renders into the page
VIEWER_1_HASH = "3aaa794c4609cfed32befd0972aea2213f4af7dc22ae6d084536e0202e653016"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required", "--mute-audio",
]
STEP_TIMEOUT_MS = 15_000  # any one page.evaluate; the whole module stays well under a minute


# ---- the browser ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module (a fresh profile), a new page per test."""
    chromium = chromium_or_skip()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require("Playwright for Python", True, "pip install playwright (never `playwright install`: the browser is Debian's)")
    profile = tempfile.mkdtemp(prefix="cio-chromium-")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS, timeout=30_000)
        context.set_default_timeout(STEP_TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser, site):
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    page.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


# ---- the site: test pages, the tracker, the doubles and the clip -----------------------------------


class _Site:
    """Serves web/ at / and the generated media at /media/, with byte ranges (what <video> asks for)."""

    TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".webm": "video/webm"}

    def __init__(self, media: Path) -> None:
        self.media = media
        roots = {"/media/": media, "/": WEB}

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                path = urllib.parse.urlparse(self.path).path
                prefix = next(p for p in roots if path.startswith(p))
                root = roots[prefix].resolve()
                file = (root / path[len(prefix):]).resolve()
                if root not in file.parents or not file.is_file():
                    self.send_error(404)
                    return
                data = file.read_bytes()
                start, end, status = 0, len(data) - 1, 200
                match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
                if match:
                    start, status = int(match[1]), 206
                    end = min(int(match[2]), end) if match[2] else end
                body = data[start:end + 1]
                self.send_response(status)
                self.send_header("Content-Type", _Site.TYPES.get(file.suffix, "application/octet-stream"))
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Cache-Control", "no-store")
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def site():
    media = Path(tempfile.mkdtemp(prefix="cio-media-"))
    served = _Site(media)
    yield served
    served.stop()
    shutil.rmtree(media, ignore_errors=True)


@pytest.fixture(scope="module")
def clip(site) -> float:
    """A 6 s, 160x120, 10 fps VP8 test pattern at /media/clip.webm; returns its duration. VP8/WebM
    plays in every Chromium build (H.264 only where proprietary codecs are compiled in: Debian's has
    them, but the test need not depend on it)."""
    ffmpeg = shutil.which("ffmpeg")
    require("ffmpeg", ffmpeg is None, "run scripts/install-browser.sh (apt-get install ffmpeg)")
    out = site.media / "clip.webm"
    subprocess.run(
        [ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=duration=6:size=160x120:rate=10",
         "-c:v", "libvpx", "-b:v", "200k", "-pix_fmt", "yuv420p", str(out)],
        check=True, timeout=60)
    return 6.0


# ---- where the beacons go ----------------------------------------------------------------------------


@dataclass
class Receipt:
    """One request as the endpoint received it, and what it answered."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int | None = None

    @property
    def beacon(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class BeaconGateway:
    """The endpoint the tracker posts to, recording every request.

    With ``pipeline`` it is ``ciohooks serve``'s own request handler (``make_http_handler``), CORS
    included (serve answers it as the video Function URL's Cors setting does). Without, it answers
    200 ``{}`` and, with ``cors``, the same CORS: a preflight (OPTIONS) gets 204 with
    Access-Control-Allow-Origin (the request's Origin), -Allow-Methods: POST, -Allow-Headers:
    content-type, -Max-Age: 86400; every other response carries Access-Control-Allow-Origin and
    Vary: Origin. ``fail_next`` injects 5xx answers (readable by the page: with the CORS headers).
    """

    pipeline: Any = None  # a LocalPipeline (or a Serve holding one)
    cors: bool = True
    receipts: list[Receipt] = field(default_factory=list)
    _faults: list[int] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> "BeaconGateway":
        gateway = self
        if isinstance(self.pipeline, Serve):
            self.pipeline = self.pipeline.pipeline
        base: type[BaseHTTPRequestHandler] = make_http_handler(self.pipeline) if self.pipeline else _Ok

        class Handler(base):  # type: ignore[valid-type, misc]
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path, _, query = self.path.partition("?")
                receipt = Receipt("POST", path, urllib.parse.parse_qs(query), {k.lower(): v for k, v in self.headers.items()}, body)
                with gateway._lock:
                    gateway.receipts.append(receipt)
                    fault = gateway._faults.pop(0) if gateway._faults else None
                self._receipt = receipt  # its status is set as the answer starts (send_response)
                if fault:
                    self._answer(fault, b'{"error":"injected by the test"}')
                    return
                original, self.rfile = self.rfile, io.BytesIO(body)  # serve's handler reads the body itself
                try:
                    base.do_POST(self)
                finally:
                    self.rfile, self._receipt = original, None

            def do_OPTIONS(self) -> None:  # noqa: N802
                with gateway._lock:
                    gateway.receipts.append(Receipt("OPTIONS", self.path, {}, {k.lower(): v for k, v in self.headers.items()}, b""))
                if gateway.pipeline:
                    base.do_OPTIONS(self)
                    return
                if not gateway.cors:
                    self._answer(405, b"")
                    return
                self.send_response(204)
                self.send_header("Access-Control-Allow-Methods", "POST")
                self.send_header("Access-Control-Allow-Headers", "content-type")
                self.send_header("Access-Control-Max-Age", "86400")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def send_response(self, code: int, message: str | None = None) -> None:
                if getattr(self, "_receipt", None) is not None:
                    self._receipt.status = code
                super().send_response(code, message)

            def end_headers(self) -> None:
                origin = self.headers.get("Origin")
                if gateway.cors and origin and not gateway.pipeline:
                    self.send_header("Access-Control-Allow-Origin", origin)
                    self.send_header("Vary", "Origin")
                super().end_headers()

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                origin = self.headers.get("Origin")
                if gateway.cors and origin and gateway.pipeline:  # the Function URL's CORS covers errors too
                    self.send_header("Access-Control-Allow-Origin", origin)
                    self.send_header("Vary", "Origin")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, count: int, status: int = 503) -> None:
        with self._lock:
            self._faults.extend([status] * count)

    @property
    def posts(self) -> list[Receipt]:
        with self._lock:
            return [r for r in self.receipts if r.method == "POST"]

    def wait_for(self, condition: Callable[[list[Receipt]], bool], timeout: float = 10.0) -> list[Receipt]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            posts = self.posts
            if condition(posts):
                return posts
            time.sleep(0.05)
        raise AssertionError(f"beacons not as expected after {timeout}s: {[r.body[:200] for r in self.posts]}")


class _Ok(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


@dataclass
class Serve:
    pipeline: LocalPipeline
    standin: CioStandin

    def customerio_events(self) -> list[dict[str, Any]]:
        """Run the deliver step until the queue is empty; what reached the stand-in, each validated."""
        for _ in range(100):
            if not self.pipeline.drain_once(wait_seconds=0):
                break
        for event in self.standin.events:
            assert_valid_event(event)
        assert self.standin.duplicates() == {}
        return self.standin.events


@pytest.fixture(scope="module")
def serve(site):
    """``ciohooks serve`` with its embedded queue, delivering to a Customer.io stand-in; the video
    sources check the write key and the page's Origin (Chromium sends the real one)."""
    standin = CioStandin().start()
    settings = Settings({
        "CIOHOOKS_CUSTOMERIO_API_KEY": standin.api_key,
        "CIOHOOKS_CUSTOMERIO_BASE_URL": standin.base_url,
        "CIOHOOKS_VIDEO_WRITE_KEYS": WRITE_KEY,
        "CIOHOOKS_VIDEO_IDENTITY_SECRETS": IDENTITY_SECRET,
        "CIOHOOKS_VIDEO_ALLOWED_ORIGINS": site.url,
    })
    pipeline = LocalPipeline(settings, write=lambda line: None)
    yield Serve(pipeline, standin)
    pipeline.stop()
    standin.stop()


@pytest.fixture
def gateway(serve):
    serve.standin.reset()
    while serve.pipeline.drain_once(wait_seconds=0):  # nothing left over from an earlier test
        pass
    serve.standin.reset()
    started = BeaconGateway(pipeline=serve).start()
    yield started
    started.stop()


def _answered(receipt: Receipt) -> bool:
    """Answered with anything but a 5xx (a 5xx, injected or not, means the tracker sends it again)."""
    return receipt.status is not None and receipt.status < 500


def final_received(posts: list[Receipt], sessions: int = 1) -> bool:
    """``sessions`` sessions ended, each with all its beacons (seq 0..final) answered: sends are
    concurrent, so a final beacon can be answered before an earlier one arrived."""
    answered: dict[str, set[int]] = {}
    finals: dict[str, int] = {}
    for receipt in posts:
        if _answered(receipt):
            beacon = receipt.beacon
            answered.setdefault(beacon["session_id"], set()).add(beacon["seq"])
            if beacon.get("final"):
                finals[beacon["session_id"]] = beacon["seq"]
    done = [sid for sid, last in finals.items() if answered[sid] >= set(range(last + 1))]
    return len(done) >= sessions


def delivered(posts: list[Receipt]) -> list[dict[str, Any]]:
    """The beacons that got through to the endpoint, once each: sessions in order of first arrival,
    each in seq order (concurrent sends may arrive out of order; the server orders them by seq)."""
    seen, out, sessions = set(), [], []
    for receipt in posts:
        beacon = receipt.beacon
        key = (beacon["session_id"], beacon["seq"])
        if _answered(receipt) and key not in seen:
            seen.add(key)
            out.append(beacon)
            if beacon["session_id"] not in sessions:
                sessions.append(beacon["session_id"])
    return sorted(out, key=lambda b: (sessions.index(b["session_id"]), b["seq"]))


def recorded(beacons: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    return [(e["type"], e["data"]) for b in beacons for e in b["events"]]


def track_options(endpoint: str, **extra: Any) -> dict[str, Any]:
    return {"endpoint": endpoint, "writeKey": WRITE_KEY, "userId": "viewer-1", "userHash": VIEWER_1_HASH, "anonymousId": "anon-viewer-1", "timeThrottle": 0,
            "video": {"asset_id": "asset-1", "title": "Test pattern", "program": "Tests"}, **extra}


def assert_well_formed(posts: list[Receipt], route: str) -> list[dict[str, Any]]:
    """Every beacon: POST /<route>?write_key=<write key>, a text/plain JSON body of the documented
    shape, seq 0, 1, 2... per session, and the identity the page gave (the server keeps one)."""
    assert posts, "no beacon arrived"
    for receipt in posts:
        assert receipt.path == f"/{route}" and receipt.query == {"write_key": [WRITE_KEY]}
        assert receipt.headers["content-type"].startswith("text/plain")  # a simple request: no preflight
        beacon = receipt.beacon
        assert set(beacon) <= {"session_id", "userId", "user_hash", "anonymousId", "seq", "sent_t", "video", "player_metadata", "events", "final"}
        assert all(beacon["sent_t"] >= e["t"] for e in beacon["events"])
        assert "userId" in beacon or "anonymousId" in beacon
        assert "user_hash" not in beacon or "userId" in beacon
        for event in beacon["events"]:
            assert set(event) == {"t", "type", "data", "player"} and isinstance(event["t"], int)
    beacons = delivered(posts)
    by_session: dict[str, list[int]] = {}
    for beacon in beacons:
        by_session.setdefault(beacon["session_id"], []).append(beacon["seq"])
    for seqs in by_session.values():
        assert sorted(seqs) == list(range(len(seqs)))
    return beacons


# ---- HTML5: a real <video>, through serve and SQS to the Customer.io stand-in --------------------------

HTML5_SCRIPT = """
async (options) => {
  const v = document.getElementById('video');
  const once = (type) => new Promise((resolve) => v.addEventListener(type, resolve, {once: true}));
  const until = (test) => new Promise((resolve, reject) => {
    const started = performance.now();
    (function poll() {
      if (test()) resolve(); else if (performance.now() - started > 10000) reject(new Error('timed out'));
      else setTimeout(poll, 20);
    })();
  });
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const handle = CioVideoTracker.track(v, options);
  const sessionId = handle.sessionId();
  if (v.readyState < 1) await once('loadedmetadata');
  await v.play();                              // Playback Started, Content Started
  await until(() => v.currentTime >= 1.0);
  v.pause();                                   // Paused
  await sleep(300);
  await v.play();                              // Resumed
  await until(() => v.currentTime >= 1.6);
  const seeked = once('seeked');
  v.currentTime = 4.0;                         // Seek Started / Completed
  await seeked;
  if (!v.ended) await once('ended');           // Completed (after HTML5's own pause)
  await sleep(50);
  await handle.stop();
  return {sessionId, duration: v.duration};
}
"""

SEMANTIC_HTML5 = [
    "Video Playback Started", "Video Content Started", "Video Playback Paused", "Video Playback Resumed",
    "Video Playback Seek Started", "Video Playback Seek Completed", "Video Content Completed", "Video Playback Completed",
]


@pytest.fixture(scope="module")
def html5_run(browser, site, clip, sqs_emulator, sqs_client):
    """Plays the clip once, with the beacons going through serve into SQS; what every HTML5 test reads."""
    env = pytest.MonkeyPatch()
    env.setenv("AWS_ENDPOINT_URL_SQS", sqs_emulator.url)  # the pipeline's boto3 talks to the emulator
    queues = SqsQueues.create(sqs_emulator.url, client=sqs_client, prefix="browser")
    standin = CioStandin().start()
    settings = Settings({
        "CIOHOOKS_DELIVERY_QUEUE_URL": queues.delivery_url,
        "CIOHOOKS_DEAD_LETTER_QUEUE_URL": queues.dlq_url,
        "CIOHOOKS_CUSTOMERIO_API_KEY": standin.api_key,
        "CIOHOOKS_CUSTOMERIO_BASE_URL": standin.base_url,
        "CIOHOOKS_CUSTOMERIO_MAX_ATTEMPTS": "2",
        "CIOHOOKS_CUSTOMERIO_BACKOFF_SECONDS": "0.01",
        "CIOHOOKS_VIDEO_WRITE_KEYS": WRITE_KEY,
        "CIOHOOKS_VIDEO_IDENTITY_SECRETS": IDENTITY_SECRET,
        "CIOHOOKS_VIDEO_ALLOWED_ORIGINS": site.url,
    })
    pipeline = LocalPipeline(settings, write=lambda line: None)
    gateway = BeaconGateway(pipeline=pipeline).start()
    page = browser.new_page()
    try:
        page.goto(f"{site.url}/test/html5.html")
        result = page.evaluate(HTML5_SCRIPT, track_options(gateway.url, player="html5", flushInterval=1000, timeThrottle=1000))
        posts = gateway.wait_for(final_received)
        yield {"result": result, "gateway": gateway, "posts": posts, "pipeline": pipeline, "queues": queues, "standin": standin}
    finally:
        page.close()
        gateway.stop()
        pipeline.stop()
        standin.stop()
        env.undo()


def test_html5_video_beacons_carry_the_native_sequence_in_order(html5_run, clip):
    posts, result = html5_run["posts"], html5_run["result"]
    assert abs(result["duration"] - clip) < 0.2
    beacons = assert_well_formed(posts, "html5")
    assert not [r for r in html5_run["gateway"].receipts if r.method == "OPTIONS"]  # text/plain: never a preflight
    assert {b["session_id"] for b in beacons} == {result["sessionId"]}
    assert beacons[-1].get("final") is True and not any(b.get("final") for b in beacons[:-1])
    assert all(b["userId"] == "viewer-1" and b["video"] == {"asset_id": "asset-1", "title": "Test pattern", "program": "Tests"} for b in beacons)

    events = [e for b in beacons for e in b["events"]]
    types = [e["type"] for e in events]
    assert _is_subsequence(["play", "playing", "pause", "play", "playing", "seeking", "seeked", "pause", "ended"], types), types
    assert [e["t"] for e in events] == sorted(e["t"] for e in events)
    # HTML5 fires `pause` right before `ended` (one task): the server must not call that one Paused.
    assert types[types.index("ended") - 1] == "pause"

    first_pause = events[types.index("pause")]["player"]
    assert first_pause["currentTime"] >= 1.0 and first_pause["paused"] is True
    seeked = events[types.index("seeked")]["player"]
    assert abs(seeked["currentTime"] - 4.0) < 0.25
    ended = events[types.index("ended")]["player"]
    assert abs(ended["currentTime"] - clip) < 0.2 and ended["paused"] is True and ended["ended"] is True
    assert events[types.index("ended") - 1]["player"]["ended"] is True  # what tells that pause from a viewer's
    for event in events:
        player = event["player"]
        assert player["muted"] is True and player["fullscreen"] is False and player["playbackRate"] == 1
        assert abs(player["duration"] - clip) < 0.2 and (player["width"], player["height"]) == (160, 120)
        assert event["data"] is None  # media events carry no argument worth sending; errors do
    # timeupdate fires about four times a second; the tracker keeps one a second
    updates = [e["t"] for e in events if e["type"] == "timeupdate"]
    assert all(b - a >= 1000 for a, b in zip(updates, updates[1:]))


def test_html5_video_reaches_customerio_as_the_semantic_sequence(html5_run):
    pipeline, queues, standin = html5_run["pipeline"], html5_run["queues"], html5_run["standin"]
    rejected = [r for r in html5_run["posts"] if not (r.status and r.status < 300)]
    assert not rejected, [(r.status, r.body[:200]) for r in rejected]
    deadline = time.monotonic() + 20
    while not any(e["event"] == "Video Playback Completed" for e in standin.events):
        assert time.monotonic() < deadline, f"not delivered: {[e['event'] for e in standin.events]}"
        if not pipeline.drain_once(wait_seconds=0):
            time.sleep(0.1)
    names = [e["event"] for e in standin.events]
    assert _is_subsequence(SEMANTIC_HTML5, names), names
    assert names.count("Video Playback Started") == 1 and names.count("Video Playback Paused") == 1, names
    for event in standin.events:
        assert_valid_event(event)
        assert event["userId"] == "viewer-1" and event["properties"]["session_id"] == html5_run["result"]["sessionId"]
    assert standin.duplicates() == {} and queues.count("dlq") == 0


def _is_subsequence(wanted: list[str], seen: list[str]) -> bool:
    it = iter(seen)
    return all(name in it for name in wanted)


# ---- the other players, against doubles that fire the documented callback shapes ----------------------


def run(page, site, script: str, options: dict[str, Any]) -> Any:
    page.goto(f"{site.url}/test/doubles.html")
    return page.evaluate(script, options)


def names(events: list[dict[str, Any]]) -> list[str]:
    return [e["event"] for e in events]


def test_jwplayer_events_are_posted_as_fired_and_translated(page, site, gateway, serve):
    out = run(page, site, """
      async (options) => {
        const p = JwPlayerDouble(120);
        const h = CioVideoTracker.track(p, options);
        p.loadItem('Intro'); p.quality('480p', 800000, 854, 480); p.play(); p.time(5);
        p.quality('720p', 2500000, 1280, 720);                  // an adaptive switch mid-play
        p.ad('mid', 'Mid-roll', 15, true);                       // skipped: no Ad Completed
        p.time(30); p.pause(); p.play(); p.seek(60); p.time(61); p.complete();
        await h.stop();
        return {fired: p.fired, listeners: p.listenerCount()};
      }""", track_options(gateway.url, player="jwplayer"))
    beacons = assert_well_formed(gateway.wait_for(final_received), "jwplayer")
    assert recorded(beacons) == [tuple(f) for f in out["fired"]]
    assert out["listeners"] == 0  # stop() took exactly its own listeners off
    events = {e["type"]: e for b in beacons for e in b["events"]}
    assert events["seek"]["data"] == {"position": 30, "offset": 60, "currentTime": 30, "duration": 120, "type": "seek"}
    assert events["adImpression"]["data"]["adposition"] == "mid" and "adSkipped" in events and "adComplete" not in events
    assert events["complete"]["player"] == {
        "currentTime": 120, "duration": 120, "state": "complete", "volume": 80, "muted": False, "fullscreen": False,
        "playbackRate": 1, "quality": "720p", "bitrate": 2500000, "width": 1280, "height": 720}

    delivered_events = serve.customerio_events()
    assert names(delivered_events) == [
        "Video Playback Started", "Video Content Started", "Video Quality Updated", "Video Ad Started", "Video Ad Playing",
        "Video Playback Paused", "Video Playback Resumed", "Video Playback Seek Started", "Video Playback Seek Completed",
        "Video Content Completed", "Video Playback Completed"]
    by_name = {e["event"]: e["properties"] for e in delivered_events}
    assert by_name["Video Quality Updated"]["bitrate"] == 2500  # JW reports bits/s; the spec wants kbps
    assert by_name["Video Ad Started"]["type"] == "mid-roll"
    assert by_name["Video Playback Started"]["sound"] == 80 and by_name["Video Playback Started"]["total_length"] == 120
    assert all(e["userId"] == "viewer-1" for e in delivered_events)


def test_vimeo_events_carry_seconds_percent_duration_and_are_translated(page, site, gateway, serve):
    out = run(page, site, """
      async (options) => {
        const p = VimeoPlayerDouble(76979871, 60);
        const h = CioVideoTracker.track(p, options);
        await new Promise((r) => setTimeout(r, 0));   // the getters' promises seed the snapshot
        p.loaded(); p.play(); p.timeupdate(3.5); p.buffer(); p.quality('1080p'); p.volume(0.5, false);
        p.pause(); p.play(); p.seek(40); p.timeupdate(41); p.fullscreen(true);
        p.end();                                       // pause, then ended: the pause is not the viewer's
        await h.stop();
        return {fired: p.fired, listeners: p.listenerCount()};
      }""", track_options(gateway.url, player="vimeo"))
    beacons = assert_well_formed(gateway.wait_for(final_received), "vimeo")
    assert recorded(beacons) == [tuple(f) for f in out["fired"]]
    assert out["listeners"] == 0
    events = [e for b in beacons for e in b["events"]]
    assert events[0]["type"] == "loaded" and events[0]["player"]["duration"] == 60 and events[0]["player"]["quality"] == "540p"
    seeked = next(e for e in events if e["type"] == "seeked")
    assert seeked["data"] == {"seconds": 40, "percent": 0.667, "duration": 60} and seeked["player"]["currentTime"] == 40
    assert [e["data"] for e in events if e["type"] in ("bufferstart", "bufferend")] == [None, None]
    assert events[-1]["type"] == "ended" and events[-1]["player"] == {
        "currentTime": 60, "duration": 60, "volume": 0.5, "muted": False, "fullscreen": True, "quality": "1080p", "playbackRate": 1}

    assert names(serve.customerio_events()) == [
        "Video Playback Started", "Video Content Started", "Video Playback Buffer Started", "Video Playback Buffer Completed",
        "Video Quality Updated", "Video Playback Paused", "Video Playback Resumed", "Video Playback Seek Started",
        "Video Playback Seek Completed", "Video Content Completed", "Video Playback Completed"]


def test_youtube_state_changes_are_posted_with_ticks_and_seeks_inferred(page, site, gateway, serve):
    out = run(page, site, """
      async (options) => {
        const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
        const p = YouTubePlayerDouble(101, document.getElementById('youtube-frame'));
        const h = CioVideoTracker.track(p, options);
        p.state(-1); p.state(3); p.state(1); p.advance(1); await sleep(250);
        p.quality('hd720'); p.seekTo(100); await sleep(250);  // no seek event: a playhead jump between ticks
        p.state(2); await sleep(250);                          // paused: no ticks
        p.rate(1.5); p.state(1); p.advance(101); p.state(0);
        await h.stop();
        return {fired: p.fired, listeners: p.listenerCount()};
      }""", track_options(gateway.url, player="youtube", tickInterval=100))
    beacons = assert_well_formed(gateway.wait_for(final_received), "youtube")
    events = [e for b in beacons for e in b["events"]]
    assert [(e["type"], e["data"]) for e in events if e["type"] != "tick"] == [tuple(f) for f in out["fired"]]
    assert out["listeners"] == 0
    ticks = [e for e in events if e["type"] == "tick"]
    assert len(ticks) >= 3 and all(e["data"] is None and e["player"]["state"] == 1 for e in ticks)
    assert {e["player"]["currentTime"] for e in ticks} >= {1, 100}
    states = [(e["data"], e["player"]["state"]) for e in events if e["type"] == "onStateChange"]
    assert states == [(-1, -1), (3, 3), (1, 1), (3, 3), (1, 1), (2, 2), (1, 1), (0, 0)]
    paused_at = next(e["t"] for e in events if e["type"] == "onStateChange" and e["data"] == 2)
    resumed_at = next(e["t"] for e in events if e["type"] == "onStateChange" and e["data"] == 1 and e["t"] > paused_at)
    assert not [e for e in ticks if paused_at < e["t"] < resumed_at]
    quality = next(e for e in events if e["type"] == "onPlaybackQualityChange")
    assert quality["data"] == "hd720" and quality["player"]["volume"] == 100 and quality["player"]["duration"] == 101

    delivered_events = serve.customerio_events()
    assert names(delivered_events) == [
        "Video Playback Started", "Video Content Started", "Video Quality Updated", "Video Playback Seek Started",
        "Video Playback Seek Completed", "Video Playback Paused", "Video Playback Resumed", "Video Content Completed",
        "Video Playback Completed"]
    seek = next(e["properties"] for e in delivered_events if e["event"] == "Video Playback Seek Started")
    assert (seek["position"], seek["seek_position"]) == (1, 100)


def test_mux_integration_events_are_recorded_still_reach_mux_and_are_translated(page, site, gateway, serve):
    out = run(page, site, """
      async (options) => {
        const p = MuxIntegrationDouble(), original = p.mux.emit;
        const h = CioVideoTracker.track(p, options);
        p.drive.ready(); p.drive.rendition(800000, 640, 360); p.drive.play(); p.drive.time(2000);
        p.drive.rendition(1800000, 960, 540);
        p.drive.midroll();                             // pause, then the ad break: not the viewer's pause
        p.drive.seek(30000); p.drive.rebuffer(); p.drive.time(31000);
        p.drive.ended();                               // pause, then ended
        await h.stop();
        const restored = p.mux.emit === original;
        p.drive.pause();                              // after stop: Mux still told, the tracker not
        return {told: p.told, restored};
      }""", track_options(gateway.url, player="mux"))
    beacons = assert_well_formed(gateway.wait_for(final_received), "mux")
    assert out["restored"] is True
    assert recorded(beacons) == [tuple(t) for t in out["told"][:-1]]  # everything Mux Data was told, in order
    assert out["told"][-1] == ["pause", None]
    events = [e for b in beacons for e in b["events"]]
    rendition = [e for e in events if e["type"] == "renditionchange"][-1]
    assert rendition["player"] == {"currentTime": 2, "bitrate": 1800000, "width": 960, "height": 540}
    assert next(e for e in events if e["type"] == "adbreakstart")["data"]["ad_tag_url"] == "https://ads.example.test/vast.xml"
    assert [e["type"] for e in events][-2:] == ["pause", "ended"]

    delivered_events = serve.customerio_events()
    assert names(delivered_events) == [
        "Video Playback Started", "Video Content Started", "Video Quality Updated", "Video Ad Started",
        "Video Ad Playing", "Video Ad Playing", "Video Ad Playing", "Video Ad Completed", "Video Playback Seek Started",
        "Video Playback Seek Completed", "Video Playback Buffer Started", "Video Playback Buffer Completed",
        "Video Content Completed", "Video Playback Completed"]
    assert [e["properties"]["quartile"] for e in delivered_events if e["event"] == "Video Ad Playing"] == [1, 2, 3]
    assert next(e for e in delivered_events if e["event"] == "Video Quality Updated")["properties"]["bitrate"] == 1800


def test_mux_core_emit_is_filtered_by_player_id(page, site, gateway):
    out = run(page, site, """
      async (options) => {
        const mux = MuxCoreDouble();
        const h = CioVideoTracker.track(mux, options);
        mux.emit('#other', 'play'); mux.emit('#main', 'play'); mux.emit('#main', 'timeupdate', {player_playhead_time: 1500});
        mux.emit('#other', 'pause'); mux.emit('#main', 'ended');
        await h.stop();
        return mux.told.length;
      }""", track_options(gateway.url, player="mux", muxPlayerId="#main"))
    beacons = assert_well_formed(gateway.wait_for(final_received), "mux")
    assert out == 5
    assert recorded(beacons) == [("play", None), ("timeupdate", {"player_playhead_time": 1500}), ("ended", None)]


def test_videojs_player_is_read_through_its_methods_and_an_error_interrupts(page, site, gateway, serve):
    out = run(page, site, """
      async (options) => {
        const p = VideoJsPlayerDouble(30);
        const h = CioVideoTracker.track(p, options);
        p.play(); p.time(1.5); p.fullscreen(true); p.fail();
        await h.stop();                                // the viewer leaves: the final beacon
        return {fired: p.fired, listeners: p.listenerCount()};
      }""", track_options(gateway.url, player="videojs"))
    beacons = assert_well_formed(gateway.wait_for(final_received), "videojs")
    events = [e for b in beacons for e in b["events"]]
    assert [e["type"] for e in events] == [t for t, _ in out["fired"]] and out["listeners"] == 0
    assert events[-1]["type"] == "error" and events[-1]["data"] == {"code": 2, "message": "network error"}
    assert events[-1]["player"] == {
        "currentTime": 1.5, "duration": 30, "paused": False, "ended": False, "volume": 0.7, "muted": False,
        "playbackRate": 1, "fullscreen": True, "width": 640, "height": 360}
    assert names(serve.customerio_events()) == [
        "Video Playback Started", "Video Content Started", "Video Playback Interrupted", "Video Playback Exited"]


# ---- delivery ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [503, 429])
def test_a_failed_beacon_is_resent_with_the_same_seq_and_bytes(page, site, gateway, serve, status):
    gateway.fail_next(1, status=status)
    run(page, site, """
      async (options) => {
        const p = JwPlayerDouble(60);
        const h = CioVideoTracker.track(p, options);
        p.play(); p.time(1); p.pause();               // pause: sent at once, and refused
        await new Promise((r) => setTimeout(r, 700));  // the timer resends it
        p.play(); p.complete();
        await h.stop();
      }""", track_options(gateway.url, player="jwplayer", flushInterval=300))
    posts = gateway.wait_for(final_received)
    assert [r.status for r in posts[:2]] == [status, 202] and posts[0].body == posts[1].body
    beacons = assert_well_formed(posts, "jwplayer")
    assert [b["seq"] for b in beacons] == [0, 1]
    assert [t for t, _ in recorded(beacons)] == ["buffer", "play", "time", "pause", "play", "time", "complete"]
    assert names(serve.customerio_events()) == [
        "Video Playback Started", "Video Content Started", "Video Playback Paused", "Video Playback Resumed",
        "Video Content Completed", "Video Playback Completed"]


def test_a_refused_beacon_is_not_resent(page, site, gateway):
    """A 4xx (other than 408/429) says the beacon itself is wrong: resending cannot help."""
    gateway.fail_next(1, status=400)
    run(page, site, """
      async (options) => {
        const p = JwPlayerDouble(60);
        const h = CioVideoTracker.track(p, options);
        p.play(); p.pause();
        await new Promise((r) => setTimeout(r, 700));  // two timer ticks: nothing to resend
        p.play();
        await h.stop();
      }""", track_options(gateway.url, player="jwplayer", flushInterval=300))
    posts = gateway.wait_for(final_received)
    assert [(r.status, r.beacon["seq"]) for r in posts] == [(400, 0), (202, 1)]


def test_without_cors_a_fetch_looks_failed_and_is_resent_identically_a_bounded_number_of_times(page, site):
    """What a site sees when the endpoint does not answer CORS for its Origin: the POST arrives, the
    browser hides the answer, and the tracker resends the same bytes (the server dedupes by
    (session_id, seq)), up to ``maxAttempts`` times."""
    bare = BeaconGateway(cors=False).start()
    try:
        run(page, site, """
          async (options) => {
            const p = JwPlayerDouble(60);
            const h = CioVideoTracker.track(p, options);
            p.play(); await h.flush(); await h.flush(); await h.flush(); await h.flush();
          }""", track_options(bare.url, player="jwplayer", maxAttempts=3))
        posts = bare.wait_for(lambda posts: len(posts) >= 3)
        time.sleep(0.3)
        assert len(bare.posts) == 3 and len({r.body for r in bare.posts}) == 1 and posts[0].beacon["seq"] == 0
        assert not [r for r in bare.receipts if r.method == "OPTIONS"]
    finally:
        bare.stop()


def test_send_beacon_needs_no_cors_and_the_final_beacon_goes_on_page_hide(page, site):
    bare = BeaconGateway(cors=False).start()
    try:
        run(page, site, """
          async (options) => {
            const p = VimeoPlayerDouble(1, 30);
            window.handle = CioVideoTracker.track(p, options);
            p.play(); p.timeupdate(2);
            await window.handle.flush();
            p.timeupdate(3);                              // still buffered when the page goes away
          }""", track_options(bare.url, player="vimeo", transport="beacon"))
        page.goto("about:blank")  # pagehide: the rest goes with sendBeacon, marked final
        posts = bare.wait_for(final_received)
        beacons = assert_well_formed(posts, "vimeo")
        assert [len(b["events"]) for b in beacons] == [3, 1] and beacons[-1]["final"] is True
        assert len(posts) == 2 and not [r for r in bare.receipts if r.method == "OPTIONS"]
    finally:
        bare.stop()


def test_beacons_are_split_by_count_and_size_keeping_order(page, site, gateway):
    run(page, site, """
      async (options) => {
        const p = VimeoPlayerDouble(1, 30);
        const h = CioVideoTracker.track(p, options);
        for (let i = 1; i <= 7; i++) p.timeupdate(i);
        p.error();
        await h.stop();
      }""", track_options(gateway.url, player="vimeo", maxEvents=3, maxBytes=700))
    beacons = assert_well_formed(gateway.wait_for(final_received), "vimeo")
    assert [b["seq"] for b in beacons] == list(range(len(beacons)))
    assert all(len(b["events"]) <= 3 for b in beacons) and len(beacons) >= 3
    assert all(len(json.dumps(b, separators=(",", ":"))) <= 700 or len(b["events"]) == 1 for b in beacons)
    assert any(len(b["events"]) < 3 for b in beacons[:-1])  # the size bound split a full chunk
    assert [e["data"]["seconds"] for b in beacons for e in b["events"] if e["type"] == "timeupdate"] == [1, 2, 3, 4, 5, 6, 7]
    assert beacons[-1]["final"] is True


def test_a_replay_after_the_end_and_new_content_start_new_sessions(page, site, gateway):
    out = run(page, site, """
      async (options) => {
        const p = JwPlayerDouble(60);
        const h = CioVideoTracker.track(p, options);
        const ids = [h.sessionId()];
        p.play(); p.complete();
        p.play();                                      // replay: a new playback session
        ids.push(h.sessionId());
        h.setVideo({asset_id: 'asset-2', title: 'Next'}); // the page loads other content
        ids.push(h.sessionId());
        p.play(); p.pause();
        await h.stop();
        return ids;
      }""", track_options(gateway.url, player="jwplayer"))
    beacons = assert_well_formed(gateway.wait_for(lambda posts: final_received(posts, sessions=3)), "jwplayer")
    assert len(set(out)) == 3
    sessions: dict[str, list[dict]] = {}
    for beacon in beacons:
        sessions.setdefault(beacon["session_id"], []).append(beacon)
    assert set(sessions) == set(out)  # sent concurrently: sessions may arrive in any order
    assert [[t for b in sessions[s] for t, _ in recorded([b])] for s in out] == [
        ["buffer", "play", "time", "complete"], ["buffer", "play"], ["play", "pause"]]
    assert all(bs[-1]["final"] is True for bs in sessions.values())
    assert [sessions[s][0]["video"]["asset_id"] for s in out] == ["asset-1", "asset-1", "asset-2"]


def test_frequent_events_are_kept_once_a_second_by_default(page, site, gateway):
    run(page, site, """
      async (options) => {
        const p = JwPlayerDouble(60);
        const h = CioVideoTracker.track(p, options);
        p.play(); for (let i = 0; i < 20; i++) p.time(i / 10); p.pause();
        await h.stop();
      }""", {k: v for k, v in track_options(gateway.url, player="jwplayer").items() if k != "timeThrottle"})
    beacons = assert_well_formed(gateway.wait_for(final_received), "jwplayer")
    assert [t for t, _ in recorded(beacons)] == ["buffer", "play", "time", "pause"]


def test_options_are_checked_and_both_ids_go_with_the_user_hash(page, site, gateway):
    errors = run(page, site, """
      (options) => {
        const p = JwPlayerDouble(60), tries = [
          {...options, writeKey: undefined}, {...options, userId: undefined, anonymousId: undefined}, {...options, player: 'flash'}];
        const errors = tries.map((o) => { try { CioVideoTracker.track(p, o); return null; } catch (e) { return e.name; } });
        const h = CioVideoTracker.track(p, {...options, anonymousId: 'anon-1'});
        p.play(); h.stop();
        return errors;
      }""", track_options(gateway.url, player="jwplayer"))
    assert errors == ["TypeError", "TypeError", "TypeError"]
    beacons = assert_well_formed(gateway.wait_for(final_received), "jwplayer")
    assert all((b["userId"], b["user_hash"], b["anonymousId"]) == ("viewer-1", VIEWER_1_HASH, "anon-1") for b in beacons)


# ---- players whose adapter is its own file (web/adapters/) ---------------------------------------


def test_brightcove_ads_plugin_events_carry_the_ad_and_the_catalog_and_are_translated(page, site, gateway, serve):
    out = run(page, site, """
      async (options) => {
        const p = BrightcovePlayerDouble(60);
        const h = CioVideoTracker.track(p, options);
        p.load({id: '6312345678112', name: 'Episode 4', description: 'Cold-smoking fish.', duration: 60});
        p.play(); p.ad('ad-7731', 15, false); p.playing(); p.time(12);
        p.pause();                                     // the IMA3 plugin pauses content for a mid-roll
        p.ad('ad-7732', 20, true);                      // skipped: no Ad Completed
        p.playing(); p.time(40); p.pause(); p.play(); p.playing();
        p.contentEnded(); p.ad('ad-7733', 10, false); p.end();
        await h.stop();
        return {fired: p.fired, listeners: p.listenerCount()};
      }""", track_options(gateway.url, player="brightcove"))
    beacons = assert_well_formed(gateway.wait_for(final_received), "brightcove")
    events = [e for b in beacons for e in b["events"]]
    assert [e["type"] for e in events] == [t for t, _ in out["fired"]] and out["listeners"] == 0
    assert events[0]["data"] == {"mediainfo": {"id": "6312345678112", "name": "Episode 4", "description": "Cold-smoking fish.", "duration": 60}}
    assert next(e for e in events if e["type"] == "ads-ad-started")["data"] == {"ad": {"type": "LINEAR", "index": 0, "id": "ad-7731", "duration": 15}}
    assert next(e for e in events if e["type"] == "adstart")["data"] is None

    delivered_events = serve.customerio_events()
    # the plugin's pause before the mid-roll is not Paused; the viewer's at 40 s is; the post-roll
    # comes before ended (redispatch). No heartbeat: the double's events take no playing time.
    assert names(delivered_events) == [
        "Video Playback Started", "Video Ad Started", "Video Ad Playing", "Video Ad Playing", "Video Ad Playing",
        "Video Ad Completed", "Video Content Started", "Video Ad Started", "Video Ad Playing",
        "Video Playback Paused", "Video Playback Resumed", "Video Ad Started", "Video Ad Playing", "Video Ad Playing",
        "Video Ad Playing", "Video Ad Completed", "Video Content Completed", "Video Playback Completed"]
    ads = [(e["properties"]["type"], e["properties"]["asset_id"]) for e in delivered_events if e["event"] == "Video Ad Started"]
    assert ads == [("pre-roll", "ad-7731"), ("mid-roll", "ad-7732"), ("post-roll", "ad-7733")]
    started = next(e for e in delivered_events if e["event"] == "Video Content Started")["properties"]
    assert (started["asset_id"], started["title"], started["description"]) == ("asset-1", "Test pattern", "Cold-smoking fish.")  # the site's video wins


def test_plyr_events_and_getters_are_recorded_and_translated(page, site, gateway, serve):
    out = run(page, site, """
      async (options) => {
        const p = PlyrDouble(90);
        const h = CioVideoTracker.track(p, options);
        p.ready(); p.play(); p.time(5); p.setQuality(720); p.fullscreen_(true); p.time(12);
        p.pause(); p.play(); p.seek(70); p.time(71); p.end();
        await h.stop();
        return {fired: p.fired, listeners: p.listenerCount()};
      }""", track_options(gateway.url, player="plyr"))
    beacons = assert_well_formed(gateway.wait_for(final_received), "plyr")
    assert recorded(beacons) == [tuple(f) for f in out["fired"]] and out["listeners"] == 0
    events = [e for b in beacons for e in b["events"]]
    assert next(e for e in events if e["type"] == "enterfullscreen")["player"] == {
        "currentTime": 5, "duration": 90, "paused": False, "ended": False, "volume": 0.9, "muted": False, "playbackRate": 1,
        "fullscreen": True, "quality": "720p"}
    delivered_events = serve.customerio_events()
    assert names(delivered_events) == [
        "Video Playback Started", "Video Content Started", "Video Quality Updated",
        "Video Playback Paused", "Video Playback Resumed", "Video Playback Seek Started", "Video Playback Seek Completed",
        "Video Content Completed", "Video Playback Completed"]
    quality = next(e for e in delivered_events if e["event"] == "Video Quality Updated")["properties"]
    assert quality["quality"] == "720p"


def test_shaka_buffering_adaptation_and_a_critical_error_are_read_from_shaka_and_the_element(page, site, gateway, serve):
    out = run(page, site, """
      async (options) => {
        const p = ShakaPlayerDouble(600);
        const h = CioVideoTracker.track(p, options);
        p.load(); p.buffering(true); p.buffering(false);          // start-up: not a rebuffer
        p.play(); p.time(4); p.adapt(); p.time(11); p.buffering(true); p.buffering(false); p.time(13);
        p.fail(1, 1001);                                          // RECOVERABLE: nothing
        p.fail(2, 3016);                                          // CRITICAL: Interrupted
        await h.stop();
        return {fired: p.fired, listeners: p.listenerCount()};
      }""", track_options(gateway.url, player="shaka"))
    beacons = assert_well_formed(gateway.wait_for(final_received), "shaka")
    assert recorded(beacons) == [tuple(f) for f in out["fired"]] and out["listeners"] == 0
    events = [e for b in beacons for e in b["events"]]
    assert next(e for e in events if e["type"] == "adaptation")["player"] == {
        "currentTime": 4, "duration": 600, "paused": False, "ended": False, "volume": 1, "muted": False, "playbackRate": 1,
        "fullscreen": False, "width": 1920, "height": 1080, "bitrate": 4500000}
    delivered_events = serve.customerio_events()
    assert names(delivered_events) == [
        "Video Playback Started", "Video Content Started", "Video Quality Updated",
        "Video Playback Buffer Started", "Video Playback Buffer Completed", "Video Playback Interrupted", "Video Playback Exited"]
    assert next(e for e in delivered_events if e["event"] == "Video Quality Updated")["properties"]["bitrate"] == 4500


def test_bitmovin_events_with_their_payloads_are_recorded_and_translated(page, site, gateway, serve):
    out = run(page, site, """
      async (options) => {
        const p = BitmovinPlayerDouble(120);
        const h = CioVideoTracker.track(p, options);
        p.play(); p.adBreak('bm-ad-501', 15); p.playing(); p.time(5); p.quality(); p.time(15);
        p.pause(); p.play(); p.playing(); p.seek(60); p.time(61); p.end();
        await h.stop();
        return {fired: p.fired, listeners: p.listenerCount()};
      }""", track_options(gateway.url, player="bitmovin"))
    beacons = assert_well_formed(gateway.wait_for(final_received), "bitmovin")
    assert recorded(beacons) == [tuple(f) for f in out["fired"]] and out["listeners"] == 0
    events = [e for b in beacons for e in b["events"]]
    assert next(e for e in events if e["type"] == "seek")["data"] == {"type": "seek", "timestamp": 1764648000000, "position": 15, "seekTarget": 60}
    assert events[-1]["player"] == {
        "currentTime": 120, "duration": 120, "paused": True, "volume": 80, "muted": False, "playbackRate": 1, "fullscreen": False,
        "bitrate": 5000000, "height": 1080, "width": 1920, "quality": "1080p"}
    delivered_events = serve.customerio_events()
    assert names(delivered_events) == [
        "Video Playback Started", "Video Ad Started", "Video Ad Playing", "Video Ad Playing", "Video Ad Playing",
        "Video Ad Completed", "Video Content Started", "Video Quality Updated",
        "Video Playback Paused", "Video Playback Resumed", "Video Playback Seek Started", "Video Playback Seek Completed",
        "Video Content Completed", "Video Playback Completed"]
    by_name = {e["event"]: e["properties"] for e in delivered_events}
    assert by_name["Video Quality Updated"]["bitrate"] == 5000 and by_name["Video Playback Started"]["sound"] == 80
    assert by_name["Video Playback Seek Started"]["seek_position"] == 60


def test_wistia_element_events_are_recorded_without_the_turnstile_email_and_translated(page, site, gateway, serve):
    out = run(page, site, """
      async (options) => {
        const p = WistiaPlayerDouble(212);
        const h = CioVideoTracker.track(p, options);
        p.ready(); p.play(); p.second(1); p.second(2); p.mute(); p.pause();
        p.convert();                                   // a Turnstile: the viewer types an email
        p.seek(150); p.play(); p.second(151); p.end();
        await h.stop();
        return {fired: p.fired, listeners: p.listenerCount()};
      }""", track_options(gateway.url, player="wistia"))
    posts = gateway.wait_for(final_received)
    beacons = assert_well_formed(posts, "wistia")
    events = [e for b in beacons for e in b["events"]]
    assert [e["type"] for e in events] == out["fired"] and out["listeners"] == 0
    assert next(e for e in events if e["type"] == "conversion")["data"] == {"type": "mid-roll-email"}
    assert not any("viewer@example.com" in json.dumps(r.beacon) for r in posts)  # never sent
    assert next(e for e in events if e["type"] == "seeking")["player"] == {
        "currentTime": 150, "duration": 212, "volume": 1, "muted": True, "playbackRate": 1, "paused": True, "ended": False, "fullscreen": False}
    delivered_events = serve.customerio_events()
    assert names(delivered_events) == [
        "Video Playback Started", "Video Content Started", "Video Playback Paused", "Video Playback Seek Started",
        "Video Playback Seek Completed", "Video Playback Resumed", "Video Content Completed", "Video Playback Completed"]
    assert next(e for e in delivered_events if e["event"] == "Video Playback Paused")["properties"]["sound"] == 0  # muted


def test_an_adapter_file_must_be_loaded_for_its_player(page, site):
    page.goto(f"{site.url}/test/html5.html")  # the core only
    error = page.evaluate("""() => {
      try { CioVideoTracker.track({}, {player: 'plyr', endpoint: 'https://x', writeKey: 'k', anonymousId: 'a'}); }
      catch (e) { return e.message; }
    }""")
    assert "player must be one of html5, videojs, jwplayer, vimeo, youtube, mux" in error and "load its adapter file first" in error


# ---- size: a budget per file (a page loads the core and its player's adapter only) ----------------

ADAPTER_BUDGET_BYTES = 1536


def test_the_tracker_core_stays_small():
    """web/README.md states the size; this keeps it honest (gzip of the unminified source)."""
    source = TRACKER.read_bytes()
    assert len(gzip.compress(source, 9)) < 8 * 1024


@pytest.mark.parametrize("adapter", sorted(p.name for p in (WEB / "adapters").glob("*.js")))
def test_each_adapter_file_stays_small(adapter):
    assert len(gzip.compress((WEB / "adapters" / adapter).read_bytes(), 9)) < ADAPTER_BUDGET_BYTES
