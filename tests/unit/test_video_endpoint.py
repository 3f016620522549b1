"""The browser-facing video endpoint: write keys, Origin allow-list, limits, 4xx for malformed
beacons, and the store-first story through ingest (a failed enqueue must not lose a beacon)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ciohooks import sources
from ciohooks.config import Settings
from ciohooks.deliver import Deliverer, InboundMessage
from ciohooks.envelope import Envelope
from ciohooks.ingest import Ingest
from ciohooks.local import local_keys, signing_key
from ciohooks.queue import MemoryQueue, MessageTooLarge, QueueUnavailable
from ciohooks.request import WebhookRequest
from ciohooks.sources import NotConfigured, Unauthorized
from ciohooks.sources.video._beacon import MalformedBeacon, parse_beacon
from ciohooks.sources.video._source import WRITE_KEY_HEADER
from ciohooks.video_sessions import SessionStoreUnavailable
from tests.support.spec import assert_valid_event
from tests.unit.test_deliver import RecordingSink

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "events" / "samples" / "video" / "html5" / "paused-seek-exit.json"
KEYS = "wk_site_a_123,wk_site_b_456"
SETTINGS = {"CIOHOOKS_VIDEO_WRITE_KEYS": KEYS}
NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)


def request(body: bytes = SAMPLE.read_bytes(), headers: dict[str, str] | None = None, query: str = "", method: str = "POST", path: str = "/html5") -> WebhookRequest:
    return WebhookRequest(method, path, body, {"content-type": "text/plain;charset=UTF-8", **(headers or {})}, query, received_at=NOW)


def html5(environ: dict[str, str] | None = None):
    return sources.load("video/html5")(Settings(SETTINGS if environ is None else environ))


# ---- write keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["header", "query", "body"])
def test_the_write_key_is_accepted_in_header_query_or_body(where):
    body = SAMPLE.read_bytes()
    if where == "body":
        body = json.dumps({**json.loads(body), "write_key": "wk_site_b_456"}).encode()
    req = request(body, {WRITE_KEY_HEADER: "wk_site_b_456"} if where == "header" else None, "write_key=wk_site_b_456" if where == "query" else "")
    html5().authenticate(req)  # no exception: accepted


@pytest.mark.parametrize("presented", ["", "wk_site_a_12", "wk_site_a_1234", "WK_SITE_A_123", KEYS])
def test_a_wrong_or_missing_write_key_is_refused(presented):
    headers = {WRITE_KEY_HEADER: presented} if presented else {}
    with pytest.raises(Unauthorized) as caught:
        html5().authenticate(request(headers=headers))
    assert "wk_" not in str(caught.value)  # the key is never repeated back


def test_no_configured_key_fails_closed_unless_unsigned_is_allowed(caplog):
    with pytest.raises(NotConfigured):
        html5({}).authenticate(request())
    with caplog.at_level(logging.WARNING):
        html5({"CIOHOOKS_ALLOW_UNSIGNED": "true"}).authenticate(request())
    assert "SECURITY" in caplog.text


def test_sign_adds_the_first_write_key_as_the_tracker_would():
    signed = sources.load("video/html5").sign(request(), KEYS)
    assert signed.header(WRITE_KEY_HEADER) == "wk_site_a_123"
    html5().authenticate(signed)
    # the local key the events generator and the end-to-end test use is configured for every video route
    local = local_keys(REPO / "events" / "keys")
    for name in sources.names("video"):
        source = sources.load(name)
        key = signing_key(source, REPO / "events" / "keys")
        source(Settings(local)).authenticate(source.sign(request(path=f"/{source.name}"), key))


def test_the_write_key_header_and_query_never_reach_a_queue():
    stored = request(headers={WRITE_KEY_HEADER: "wk_site_a_123"}, query="write_key=wk_site_a_123&x=1").to_dict(
        html5().secret_headers, html5().secret_query_keys)
    assert WRITE_KEY_HEADER not in stored["headers"] and stored["query"] == "x=1"


# ---- origins -------------------------------------------------------------------------------------


def test_origin_allow_list():
    source = html5({**SETTINGS, "CIOHOOKS_VIDEO_ALLOWED_ORIGINS": "https://www.example.com, https://shop.example.com/"})
    key = {WRITE_KEY_HEADER: "wk_site_a_123"}
    source.authenticate(request(headers={**key, "origin": "https://shop.example.com"}))
    source.authenticate(request(headers={**key, "origin": "HTTPS://WWW.EXAMPLE.COM"}))
    for origin in ("https://evil.example.net", "https://www.example.com.evil.net", "null", ""):
        with pytest.raises(Unauthorized):
            source.authenticate(request(headers={**key, "origin": origin} if origin else key))
    # unset or "*": any origin (the write key still applies)
    html5({**SETTINGS, "CIOHOOKS_VIDEO_ALLOWED_ORIGINS": "*"}).authenticate(request(headers={**key, "origin": "https://any.test"}))
    with pytest.raises(Unauthorized):
        html5({**SETTINGS, "CIOHOOKS_VIDEO_ALLOWED_ORIGINS": "*"}).authenticate(request(headers={"origin": "https://any.test"}))


# ---- through ingest: statuses the tracker sees ---------------------------------------------------


def ingest(environ: dict[str, str] | None = None, delivery=None, dlq=None) -> Ingest:
    return Ingest("video", delivery or MemoryQueue(), dlq or MemoryQueue(), Settings({**SETTINGS, **(environ or {})}))


def outcome(ing: Ingest, req: WebhookRequest, name: str = "html5"):
    return ing.handle(name, req)


KEYED = {WRITE_KEY_HEADER: "wk_site_a_123"}


def test_an_authentic_beacon_is_queued_with_202():
    ing = ingest()
    result = outcome(ing, request(headers=KEYED))
    assert (result.status, result.result, result.events) == (202, "queued", 7)
    (message,) = ing.delivery_queue.receive()
    events = Envelope.from_json(message.body).events
    for event in events:
        assert_valid_event(event)
    assert events[-1]["event"] == "Video Playback Exited"


@pytest.mark.parametrize("body,problem", [
    (b"not json", "body is not JSON"),
    (b"[1, 2]", "not an object"),
    (json.dumps({"session_id": "s", "seq": 0, "events": []}).encode(), "userId or anonymousId is required"),
    (json.dumps({"anonymousId": "a", "seq": 0, "events": []}).encode(), "session_id (missing)"),
    (json.dumps({"session_id": "s", "anonymousId": "a", "seq": -1, "events": []}).encode(), "seq (greater_than_equal)"),
    (json.dumps({"session_id": "s", "anonymousId": "a", "seq": 0, "events": [{"t": 0}]}).encode(), "events.0.type (missing)"),
    (json.dumps({"session_id": "s", "anonymousId": "a", "seq": 0, "events": [{"t": "soon", "type": "play"}]}).encode(), "events.0.t (float_parsing)"),
    (json.dumps({"session_id": "s", "anonymousId": "a", "seq": 0, "video": {"airdate": "2025-01-01T00:00:00"}, "events": []}).encode(), "video.airdate"),
    (b'{"session_id": "s", "anonymousId": "a", "seq": 0, "events": [{"t": NaN, "type": "play"}]}', "events.0.t"),
])
def test_malformed_beacons_get_a_400_naming_the_field_and_nothing_is_queued(body, problem):
    ing = ingest()
    result = outcome(ing, request(body, KEYED))
    assert result.status == 400 and result.result == "replied"
    answer = json.loads(result.response_body())
    assert answer["error"] == "malformed beacon" and any(problem in p for p in answer["problems"]), answer
    assert ing.delivery_queue.approximate_depth() == 0 and ing.dead_letter_queue.approximate_depth() == 0


def test_a_malformed_beacon_without_a_key_is_a_401_not_a_400():
    assert outcome(ingest(), request(b"not json")).status == 401


def test_limits_on_body_size_and_events_per_beacon():
    big = json.dumps({"session_id": "s", "anonymousId": "a", "seq": 0, "events": [{"t": i, "type": "timeupdate", "data": None, "player": {"currentTime": i}} for i in range(30)]}).encode()
    result = outcome(ingest({"CIOHOOKS_VIDEO_MAX_BODY_BYTES": "1000"}), request(big, KEYED))
    assert result.status == 413  # refused before anything else, key or not
    assert outcome(ingest({"CIOHOOKS_VIDEO_MAX_BODY_BYTES": "1000"}), request(big)).status == 413
    result = outcome(ingest({"CIOHOOKS_VIDEO_MAX_EVENTS_PER_BEACON": "20"}), request(big, KEYED))
    assert result.status == 413 and "more than 20" in result.response_body()
    assert outcome(ingest({"CIOHOOKS_VIDEO_MAX_EVENTS_PER_BEACON": "30"}), request(big, KEYED)).status == 202


def test_other_methods_are_refused():
    assert outcome(ingest(), request(b"", KEYED, method="GET")).status == 405


class FailingOnce(MemoryQueue):
    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    def put(self, envelope):
        if self.failures:
            self.failures -= 1
            raise QueueUnavailable("SQS is down")
        return super().put(envelope)


def test_a_beacon_retried_after_a_failed_enqueue_is_not_lost():
    queue = FailingOnce()
    ing = ingest(delivery=queue)
    assert outcome(ing, request(headers=KEYED)).status == 503  # the session moved on, the queue did not
    retried = outcome(ing, request(headers=KEYED))
    assert retried.status == 202 and retried.events == 7  # the same events again, with the same ids
    assert outcome(ing, request(headers=KEYED)).events == 7  # a third time: still the same, deduplicated downstream
    ids = [{e["messageId"] for e in Envelope.from_json(m.body).events} for m in queue.receive()]
    assert len(ids) == 2 and ids[0] == ids[1]


def test_a_store_failure_keeps_the_beacon_in_the_dlq_and_a_replay_heals_it():
    ing = ingest()
    source = ing.source("html5")

    class Down:
        ttl_seconds = 60

        def load(self, key):
            raise SessionStoreUnavailable("could not read the session store (ProvisionedThroughputExceededException)")

    working, source.sessions = source.sessions, Down()
    result = outcome(ing, request(headers=KEYED))
    assert 200 <= result.status < 300 and result.result == "dead_lettered"
    (dead,) = ing.dead_letter_queue.receive()
    envelope = Envelope.from_json(dead.body)
    assert "session store" in envelope.failure.error and WRITE_KEY_HEADER not in envelope.request["headers"]
    # replay: deliver translates the stored request again, with the store back
    source.sessions = working
    sink = RecordingSink()
    deliverer = Deliverer(sink, MemoryQueue(), Settings(SETTINGS))
    deliverer._sources["video/html5"] = source
    report = deliverer.deliver([InboundMessage("m1", envelope.for_replay().to_json())])
    assert report.delivered == 7 and report.retry == set()


def test_a_raw_request_queued_because_too_large_is_translated_to_the_same_events():
    class Small(MemoryQueue):
        def put(self, envelope):
            if envelope.kind == "events":
                raise MessageTooLarge("too big")
            return super().put(envelope)

    ing = ingest(delivery=Small())
    assert outcome(ing, request(headers=KEYED)).status == 202
    (message,) = ing.delivery_queue.receive()
    assert Envelope.from_json(message.body).kind == "request"
    sink = RecordingSink()
    # In AWS deliver shares the session table with ingest, so it sees the beacon as one it already
    # translated and yields the same events; here the two share the source (and its store).
    deliverer = Deliverer(sink, MemoryQueue(), Settings(SETTINGS))
    deliverer._sources["video/html5"] = ing.source("html5")
    assert deliverer.deliver([InboundMessage(message.message_id, message.body)]).delivered == 7
    direct = sources.load("video/html5")(Settings({})).translate(request())
    assert [e["messageId"] for e in sink.calls[0]] == [e.messageId for e in direct.events]


# ---- parsing -------------------------------------------------------------------------------------


def test_parse_beacon_never_repeats_values_in_its_problems():
    secret = "person@example.com"
    with pytest.raises(MalformedBeacon) as caught:
        parse_beacon(json.dumps({"session_id": secret * 20, "anonymousId": secret, "seq": "x", "events": []}).encode())
    assert secret not in str(caught.value) and caught.value.problems == ["session_id (string_too_long)", "seq (int_parsing)"]


def test_translate_cli_prints_the_customerio_calls(tmp_path):
    result = subprocess.run([sys.executable, "-m", "ciohooks.cli", "translate", "video/html5", str(SAMPLE)], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stderr
    calls = [json.loads(line) for line in result.stdout.splitlines()]
    assert [c["body"]["event"] for c in calls][0] == "Video Playback Started" and len(calls) == 7
    for call in calls:
        assert call["url"] == "https://cdp.customer.io/v1/track"
        assert_valid_event(call["body"])
    assert result.stderr.splitlines()[-1] == '{"not_sent": {"ignored": {"canplay": 1, "loadedmetadata": 1}}}'  # the golden files' line


# ---- identity: userId only with the site backend's HMAC -------------------------------------------

IDENTITY_SECRET = "site-a-identity-secret"
# user_hash = hex(HMAC-SHA256("site-a-identity-secret", "user-42")), as the docs' snippets compute it
VERIFIED_HASH = "5450b0d420be8e4c62f599eab80ff42bcbb7398cd0359e151fee6c1dd6e3dcdd"


def beacon_of(**identity: str) -> bytes:
    base = {"session_id": "s-identity", "seq": 0, "sent_t": 20, "events": [{"t": 0, "type": "play", "data": None, "player": {"currentTime": 0}}]}
    return json.dumps({**base, **identity}).encode()


def ingested(body: bytes, environ: dict[str, str] | None = None):
    ing = ingest({"CIOHOOKS_VIDEO_IDENTITY_SECRETS": f"old-secret, {IDENTITY_SECRET}", **(environ or {})})
    result = outcome(ing, request(body, KEYED))
    events = [e for m in ing.delivery_queue.receive() for e in Envelope.from_json(m.body).events or []]
    return result, events


def test_the_pinned_user_hash_is_the_hmac_the_docs_describe():
    import hashlib
    import hmac

    from ciohooks.sources.video._identity import user_hash

    assert user_hash(IDENTITY_SECRET, "user-42") == hmac.new(IDENTITY_SECRET.encode(), b"user-42", hashlib.sha256).hexdigest()
    assert user_hash(IDENTITY_SECRET, "user-42") == VERIFIED_HASH


def test_a_user_id_with_its_valid_hash_is_accepted(caplog):
    result, events = ingested(beacon_of(userId="user-42", user_hash=VERIFIED_HASH, anonymousId="anon-1"))
    assert result.status == 202 and [e["userId"] for e in events] == ["user-42"] and "anonymousId" not in events[0]
    assert "userId not used" not in caplog.text


@pytest.mark.parametrize("identity,reason", [
    ({"user_hash": "00" * 32}, "user_hash does not match userId"),
    ({"user_hash": VERIFIED_HASH.upper()[:-1] + "0"}, "user_hash does not match userId"),
    ({}, "userId sent without user_hash"),
])
def test_a_user_id_without_a_valid_hash_falls_back_to_the_anonymous_id(identity, reason, caplog):
    with caplog.at_level(logging.WARNING):
        result, events = ingested(beacon_of(userId="user-42", anonymousId="anon-1", **identity))
    assert result.status == 202 and [e.get("userId") for e in events] == [None] and events[0]["anonymousId"] == "anon-1"
    assert reason in caplog.text and "user-42" not in caplog.text  # what happened, never the id


def test_the_hash_is_compared_case_insensitively_as_hex():
    _, events = ingested(beacon_of(userId="user-42", user_hash=VERIFIED_HASH.upper(), anonymousId="anon-1"))
    assert events[0]["userId"] == "user-42"


def test_without_the_identity_secret_no_user_id_is_accepted(caplog):
    ing = ingest()  # VIDEO_IDENTITY_SECRETS not configured: fail closed for userId
    with caplog.at_level(logging.WARNING):
        outcome(ing, request(beacon_of(userId="user-42", user_hash=VERIFIED_HASH, anonymousId="anon-1"), KEYED))
    (message,) = ing.delivery_queue.receive()
    assert Envelope.from_json(message.body).events[0]["anonymousId"] == "anon-1"
    assert "VIDEO_IDENTITY_SECRETS is not configured" in caplog.text


def test_an_unverified_user_id_without_an_anonymous_id_is_refused_with_a_400():
    result, events = ingested(beacon_of(userId="user-42", user_hash="00" * 32))
    assert result.status == 400 and events == []
    answer = json.loads(result.response_body())
    assert answer["error"] == "no identity" and "user-42" not in result.response_body()


class StoreDown:
    ttl_seconds = 60

    def load(self, key):
        raise SessionStoreUnavailable("could not read the session store (ProvisionedThroughputExceededException)")


def dead_lettered(body: bytes, req: WebhookRequest | None = None) -> Envelope:
    """``body`` through ingest (identity secret configured) with the session store down: its dead letter."""
    ing = ingest({"CIOHOOKS_VIDEO_IDENTITY_SECRETS": IDENTITY_SECRET})
    ing.source("html5").sessions = StoreDown()
    assert outcome(ing, req or request(body, KEYED)).result == "dead_lettered"
    (dead,) = ing.dead_letter_queue.receive()
    return Envelope.from_json(dead.body)


def replayed(envelope: Envelope) -> list[dict]:
    """The dead letter replayed through a deliver of its own, as in AWS: no identity secret, no
    verdict kept in memory, only the stored request."""
    sink = RecordingSink()
    report = Deliverer(sink, MemoryQueue(), Settings(SETTINGS)).deliver([InboundMessage("m1", envelope.for_replay().to_json())])
    assert report.retry == set()
    return [event for call in sink.calls for event in call]


def test_a_verified_user_id_survives_a_dead_letter_and_its_replay():
    envelope = dead_lettered(beacon_of(userId="user-42", user_hash=VERIFIED_HASH, anonymousId="anon-1"))
    assert envelope.request["verified_user_id"] == "user-42"  # ingest's verdict, stored with the request
    (event,) = replayed(envelope)
    assert (event["event"], event["userId"]) == ("Video Playback Started", "user-42") and "anonymousId" not in event


def test_an_unverified_user_id_is_not_recorded_and_replays_under_the_anonymous_id():
    envelope = dead_lettered(beacon_of(userId="user-42", user_hash="00" * 32, anonymousId="anon-1"))
    assert "verified_user_id" not in envelope.request
    (event,) = replayed(envelope)
    assert event["anonymousId"] == "anon-1" and "userId" not in event


def test_a_forged_verdict_from_the_internet_is_not_trusted():
    # The marker's name as a header, a query key and a body field, with a userId and no user_hash.
    body = json.loads(beacon_of(userId="user-42", anonymousId="anon-1"))
    body["verified_user_id"] = "user-42"
    event = request(json.dumps(body).encode(), {**KEYED, "verified_user_id": "user-42", "verified-user-id": "user-42"}, query="verified_user_id=user-42").to_function_url_event()
    envelope = dead_lettered(b"", WebhookRequest.from_function_url_event(event))
    assert "verified_user_id" not in envelope.request
    (replayed_event,) = replayed(envelope)
    assert replayed_event["anonymousId"] == "anon-1" and "userId" not in replayed_event


def test_ingest_clears_a_verdict_it_did_not_reach_itself():
    forged = replace(request(beacon_of(userId="user-42", anonymousId="anon-1"), KEYED), verified_user_id="user-42")
    envelope = dead_lettered(b"", forged)
    assert "verified_user_id" not in envelope.request
    result, events = ingested(forged.body)  # and the events queued at ingest
    assert result.status == 202 and events[0]["anonymousId"] == "anon-1" and "userId" not in events[0]


def test_a_recorded_verdict_vouches_only_for_the_user_id_it_names():
    envelope = dead_lettered(beacon_of(userId="user-42", user_hash=VERIFIED_HASH, anonymousId="anon-1"))
    edited = envelope.model_copy(update={"request": {**envelope.request, "verified_user_id": "user-43"}})
    (event,) = replayed(edited)
    assert event["anonymousId"] == "anon-1" and "userId" not in event


def test_identity_secrets_are_declared_and_read_only_when_authenticating():
    for name in sources.names("video"):
        assert sources.load(name).secret_names == ("VIDEO_WRITE_KEYS", "VIDEO_IDENTITY_SECRETS"), name


# ---- settings: validated when the source is built ------------------------------------------------


@pytest.mark.parametrize("setting,value", [
    ("VIDEO_SESSION_TTL_SECONDS", "0"), ("VIDEO_SESSION_TTL_SECONDS", "-5"), ("VIDEO_GAP_TIMEOUT_SECONDS", "abc"),
    ("VIDEO_HEARTBEAT_SECONDS", "0"), ("VIDEO_MAX_BUFFERED_BEACONS", "-1"), ("VIDEO_REPLAY_RESULTS", "0"),
    ("VIDEO_MAX_BODY_BYTES", "1.5"), ("VIDEO_MAX_EVENTS_PER_BEACON", "0"),
])
def test_a_bad_setting_is_a_configuration_error_naming_it_when_the_source_is_built(setting, value):
    from ciohooks.config import ConfigurationError

    with pytest.raises(ConfigurationError) as caught:
        html5({**SETTINGS, f"CIOHOOKS_{setting}": value})
    assert setting in str(caught.value) and value not in str(caught.value).replace(setting, "")


# ---- CORS: one definition for the Function URL and serve -----------------------------------------


def test_serve_answers_a_preflight_exactly_as_the_template_configures_the_function_url():
    import http.client

    from ciohooks.sources.video._source import CORS_ALLOW_HEADERS, CORS_ALLOW_METHODS, CORS_MAX_AGE_SECONDS
    from tests.support.pipeline import served
    from tests.unit.test_template import functions

    cors = functions()["VideoIngestFunction"]["Properties"]["FunctionUrlConfig"]["Cors"]
    assert (cors["AllowMethods"], cors["AllowHeaders"], cors["MaxAge"]) == (list(CORS_ALLOW_METHODS), list(CORS_ALLOW_HEADERS), CORS_MAX_AGE_SECONDS)
    assert "x-cio-write-key" in cors["AllowHeaders"]  # the docs let a page send the key as a header

    with served(Settings({**SETTINGS, "CIOHOOKS_VIDEO_ALLOWED_ORIGINS": "https://www.example.com"})) as pipeline:
        connection = http.client.HTTPConnection(pipeline.url.removeprefix("http://"), timeout=10)
        connection.request("OPTIONS", "/html5", headers={"Origin": "https://www.example.com", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type, x-cio-write-key"})
        answer = connection.getresponse()
        answer.read()
        assert answer.status == 204
        assert answer.getheader("Access-Control-Allow-Origin") == "https://www.example.com"
        assert [m.strip() for m in answer.getheader("Access-Control-Allow-Methods").split(",")] == cors["AllowMethods"]
        assert [h.strip() for h in answer.getheader("Access-Control-Allow-Headers").split(",")] == cors["AllowHeaders"]
        assert answer.getheader("Access-Control-Max-Age") == str(cors["MaxAge"])
        connection.request("OPTIONS", "/html5", headers={"Origin": "https://evil.example.net", "Access-Control-Request-Method": "POST"})
        refused = connection.getresponse()
        refused.read()
        assert refused.status == 403 and refused.getheader("Access-Control-Allow-Origin") is None


def test_a_beacon_posted_twice_is_ignored_the_second_time_never_kept_as_unknown():
    """Sequencing counts a repeated beacon as ``beacon:duplicate``: declared as ignored on every
    player, so the central rule (an undeclared ignore is unknown, and kept) leaves it alone."""
    ingest = Ingest("video", MemoryQueue(), MemoryQueue(), Settings({**SETTINGS, "CIOHOOKS_VIDEO_ALLOWED_ORIGINS": "*"}))
    beacon = request(headers={WRITE_KEY_HEADER: "wk_site_a_123"})
    first, again = ingest.handle("html5", beacon), ingest.handle("html5", beacon)
    assert (first.result, again.result) == ("queued", "queued")  # the same events again, under the same messageIds
    assert ingest.dead_letter_queue.approximate_depth() == 0
    for player in ("html5", "videojs", "jwplayer", "vimeo", "youtube", "mux"):
        assert "beacon:duplicate" in sources.load(f"video/{player}").ignored_types, player
