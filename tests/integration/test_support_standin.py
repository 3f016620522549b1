"""The Customer.io stand-in itself: auth, strict mode, limits, spec validation, faults, records."""

from __future__ import annotations

import base64
import gzip
import json
import threading
import time

import pytest
import requests

from tests.support.standin import CioStandin, parse_error_indexes, spec_index, would_reject

pytestmark = pytest.mark.integration

EMAIL = "jane.doe@example.com"


def opened(i: int = 0, **overrides) -> dict:
    event = {
        "type": "track",
        "event": "Email Opened",
        "userId": f"user-{i}",
        "messageId": f"00000000-0000-5000-8000-{i:012d}",
        "timestamp": "2026-11-23T10:30:00.000Z",
        "properties": {"email_id": f"msg-{i}", "email_subject": "Hello"},
        "context": {"traits": {"email": EMAIL}},
    }
    event.update(overrides)
    return event


def post(standin: CioStandin, events, *, path: str = "/v1/batch", headers=None, timeout: float = 5.0,
         raw: bytes | None = None) -> requests.Response:
    hdrs = standin.client_headers()
    if headers is not None:
        hdrs.update(headers)
        hdrs = {k: v for k, v in hdrs.items() if v is not None}
    body = raw if raw is not None else json.dumps({"batch": events} if path == "/v1/batch" else events).encode()
    return requests.post(standin.base_url + path, data=body, headers=hdrs, timeout=timeout)


def errors_of(resp: requests.Response) -> list[str]:
    data = resp.json()
    assert set(data) == {"meta"} and isinstance(data["meta"]["errors"], list), data
    return data["meta"]["errors"]


def test_index_has_the_38_semantic_events():
    names = spec_index().event_names
    assert len(names) == 38
    assert {"Email Opened", "Video Quality Updated", "Application Crashed", "Object Deleted", "Report Delivery Event"} <= names


def test_accepts_a_valid_email_opened_batch_and_records_it(cio_standin):
    events = [opened(0), opened(1, userId=None, anonymousId="anon-1")]
    del events[1]["userId"]
    resp = post(cio_standin, events)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {}
    assert cio_standin.events == events
    assert cio_standin.events_per_request() == [2]
    (req,) = cio_standin.requests
    assert req.outcome == "accepted" and req.status == 200 and req.path == "/v1/batch"
    assert req.headers.get("x-strict-mode") == "1"
    assert req.json() == {"batch": events}
    assert cio_standin.message_id_counts()[events[0]["messageId"]] == 1
    assert cio_standin.duplicates() == {}


def test_track_endpoint_takes_one_event(cio_standin):
    resp = post(cio_standin, opened(7), path="/v1/track")
    assert resp.status_code == 200, resp.text
    assert [e["messageId"] for e in cio_standin.events] == [opened(7)["messageId"]]


def test_duplicates_are_recorded_and_counted(cio_standin):
    assert post(cio_standin, [opened(1), opened(2)]).status_code == 200
    assert post(cio_standin, [opened(2)]).status_code == 200
    assert cio_standin.duplicates() == {opened(2)["messageId"]: 2}
    assert cio_standin.events_per_request() == [2, 1]


@pytest.mark.parametrize("authorization", [
    None,
    "Basic " + base64.b64encode(b"wrong-key:").decode(),
    "Basic " + base64.b64encode(b"test-cio-api-key:not-empty").decode(),
    "Basic " + base64.b64encode(b"test-cio-api-key").decode(),  # no colon
    "Bearer test-cio-api-key",
    "Basic !!!notbase64",
])
def test_bad_auth_is_401(cio_standin, authorization):
    resp = post(cio_standin, [opened()], headers={"Authorization": authorization})
    assert resp.status_code == 401
    assert cio_standin.events == []
    assert cio_standin.requests[0].outcome == "unauthorized"


def test_custom_api_key(make_cio_standin):
    standin = make_cio_standin(api_key="other-key")
    assert post(standin, [opened()]).status_code == 200
    assert standin.api_key == "other-key"


def test_missing_strict_header_is_a_loud_400(cio_standin):
    resp = post(cio_standin, [opened()], headers={"X-Strict-Mode": None})
    assert resp.status_code == 400
    (error,) = errors_of(resp)
    assert "requires strict mode" in error
    resp = post(cio_standin, [opened()], headers={"X-Strict-Mode": "true"})
    assert resp.status_code == 400
    assert cio_standin.events == []


def test_both_user_id_and_anonymous_id_rejects_the_whole_request(cio_standin):
    bad = opened(1, anonymousId=EMAIL)
    resp = post(cio_standin, [opened(0), bad, opened(2)])
    assert resp.status_code == 400
    errors = errors_of(resp)
    assert parse_error_indexes(errors) == [1]
    assert "batch[1] (Email Opened)" in errors[0] and "exactly one of userId / anonymousId" in errors[0]
    assert not any("@" in e for e in errors), errors  # personal data is never echoed
    assert cio_standin.events == []
    assert cio_standin.requests[0].outcome == "rejected"


@pytest.mark.parametrize("mutate, expect", [
    (lambda e: e.pop("userId"), "missing required property 'anonymousId'"),
    (lambda e: e.update(timestamp=EMAIL), "/timestamp: not a valid date-time"),
    (lambda e: e["properties"].pop("email_id"), "missing required property 'email_id'"),
    (lambda e: e.update(event="Email Read"), "unknown event name"),
    (lambda e: e.update(type="identify"), "/type: value not allowed"),
    (lambda e: e.update(userId=42), "/userId: expected string, got integer"),
])
def test_spec_violations_are_400_naming_the_index_and_path(cio_standin, mutate, expect):
    bad = opened(3)
    mutate(bad)
    resp = post(cio_standin, [opened(0), opened(1), bad])
    assert resp.status_code == 400
    errors = errors_of(resp)
    assert parse_error_indexes(errors) == [2]
    assert any(expect in e for e in errors), errors
    assert not any("@" in e for e in errors), errors


def test_video_floats_where_the_spec_says_integer(cio_standin):
    event = {"type": "track", "event": "Video Playback Paused", "anonymousId": "a1",
             "properties": {"session_id": "s1", "position": 12.5}}
    resp = post(cio_standin, [event])
    assert resp.status_code == 400
    assert "/properties/position: expected integer, got number" in errors_of(resp)[0]
    event["properties"]["position"] = 12
    assert post(cio_standin, [event]).status_code == 200


def test_batch_context_is_merged_before_validation(cio_standin):
    device = {"type": "track", "event": "Device Created or Updated", "userId": "u1",
              "context": {"device": {"token": "tok"}}}
    no_context = {k: v for k, v in device.items() if k != "context"}
    assert post(cio_standin, [no_context]).status_code == 400  # the spec requires context
    body = json.dumps({"batch": [no_context], "context": {"device": {"token": "tok"}}}).encode()
    resp = post(cio_standin, None, raw=body)
    assert resp.status_code == 200, resp.text
    assert cio_standin.events[0]["context"] == {"device": {"token": "tok"}}


def test_oversize_event_is_400(cio_standin):
    big = opened(1)
    big["properties"]["blob"] = "x" * 33_000
    resp = post(cio_standin, [opened(0), big])
    assert resp.status_code == 400
    errors = errors_of(resp)
    assert parse_error_indexes(errors) == [1]
    assert "over the 32768-byte limit per event" in errors[0]
    # just under the limit passes
    ok = opened(2)
    size = len(json.dumps(ok, separators=(",", ":")).encode())
    ok["properties"]["blob"] = "y" * (32768 - size - len(',"blob":""'))
    assert len(json.dumps(ok, separators=(",", ":")).encode()) == 32768
    assert post(cio_standin, [ok]).status_code == 200


def test_oversize_request_is_400(cio_standin):
    events = []
    for i in range(17):  # 17 x ~30 KB > 500 KB, each event under 32 KB
        e = opened(i)
        e["properties"]["blob"] = "z" * 30_000
        events.append(e)
    resp = post(cio_standin, events)
    assert resp.status_code == 400
    assert "over the 512000-byte limit of /v1/batch" in errors_of(resp)[0]
    assert cio_standin.requests[0].outcome == "too-large"
    big_track = opened(1)
    big_track["properties"]["blob"] = "t" * 33_000
    assert post(cio_standin, big_track, path="/v1/track").status_code == 400


def test_malformed_requests_are_400(cio_standin):
    assert post(cio_standin, None, raw=b"{not json").status_code == 400
    assert post(cio_standin, None, raw=b'{"batch": {}}').status_code == 400
    assert post(cio_standin, None, raw=b'{"batch": []}').status_code == 400
    assert post(cio_standin, [opened()], headers={"Content-Type": "text/plain"}).status_code == 400
    assert requests.post(cio_standin.base_url + "/v1/identify", json={}, headers=cio_standin.client_headers(), timeout=5).status_code == 404
    assert requests.get(cio_standin.batch_url, timeout=5).status_code == 405
    assert cio_standin.events == []


def test_sent_at_is_checked(cio_standin):
    ok = json.dumps({"batch": [opened()], "sentAt": "2026-11-23T10:30:01Z"}).encode()
    assert post(cio_standin, None, raw=ok).status_code == 200
    bad = json.dumps({"batch": [opened()], "sentAt": "yesterday"}).encode()
    assert errors_of(post(cio_standin, None, raw=bad)) == ["/sentAt: not a valid date-time"]


def test_options_strict_off_and_message_id_required(make_cio_standin):
    lax = make_cio_standin(require_strict=False)
    assert post(lax, [opened()], headers={"X-Strict-Mode": None}).status_code == 200
    strict_ids = make_cio_standin(require_message_id=True, max_event_bytes=1000)
    no_id = opened(1)
    del no_id["messageId"]
    resp = post(strict_ids, [opened(0), no_id])
    assert resp.status_code == 400 and parse_error_indexes(errors_of(resp)) == [1]
    big = opened(2)
    big["properties"]["blob"] = "b" * 1000
    assert "over the 1000-byte limit" in errors_of(post(strict_ids, [big]))[0]


def test_gzip_body_is_accepted(cio_standin):
    body = gzip.compress(json.dumps({"batch": [opened(1)]}).encode())
    resp = post(cio_standin, None, raw=body, headers={"Content-Encoding": "gzip"})
    assert resp.status_code == 200, resp.text
    assert len(cio_standin.events) == 1


def test_reject_message_ids_names_the_failing_index(cio_standin):
    cio_standin.reject_message_ids({opened(2)["messageId"], opened(4)["messageId"]})
    events = [opened(i) for i in range(5)]
    resp = post(cio_standin, events)
    assert resp.status_code == 400
    assert parse_error_indexes(errors_of(resp)) == [2, 4]
    # a client that splits the batch gets the good ones through and the bad ones still rejected
    assert post(cio_standin, events[:2] + events[3:4]).status_code == 200
    assert post(cio_standin, [events[2]]).status_code == 400
    assert sorted(e["messageId"] for e in cio_standin.events) == sorted(events[i]["messageId"] for i in (0, 1, 3))


def test_reject_rate_is_deterministic(cio_standin):
    cio_standin.reject_rate(0.3, salt="s")
    events = [opened(i) for i in range(40)]
    expected = [i for i, e in enumerate(events) if would_reject(e["messageId"], 0.3, "s")]
    assert 0 < len(expected) < 40
    resp = post(cio_standin, events)
    assert resp.status_code == 400
    assert parse_error_indexes(errors_of(resp)) == expected
    assert parse_error_indexes(errors_of(post(cio_standin, events))) == expected  # same answer again


def test_reject_if_custom_rule(cio_standin):
    cio_standin.reject_if(lambda e: "no subject" if "email_subject" not in e.get("properties", {}) else None)
    e = opened(1)
    del e["properties"]["email_subject"]
    resp = post(cio_standin, [opened(0), e])
    assert errors_of(resp) == ["batch[1] (Email Opened) /: no subject"]
    cio_standin.clear_rules()
    assert post(cio_standin, [opened(0), e]).status_code == 200


def test_fail_next_429_with_retry_after_then_recovers(cio_standin):
    cio_standin.fail_next(2, status=429, retry_after=1)
    for _ in range(2):
        resp = post(cio_standin, [opened()])
        assert resp.status_code == 429
        assert resp.headers["Retry-After"] == "1"
        assert errors_of(resp)
    assert cio_standin.pending_faults() == 0
    assert post(cio_standin, [opened()]).status_code == 200
    assert [r.outcome for r in cio_standin.requests] == ["fault:429", "fault:429", "accepted"]
    assert len(cio_standin.events) == 1


@pytest.mark.parametrize("status", [500, 503])
def test_fail_next_5xx(cio_standin, status):
    cio_standin.fail_next(status=status)
    assert post(cio_standin, [opened()]).status_code == status
    assert post(cio_standin, [opened()]).status_code == 200


def test_faults_are_consumed_in_order(cio_standin):
    cio_standin.fail_next(status=503)
    cio_standin.reset_next()
    cio_standin.fail_next(status=429, retry_after="Wed, 21 Oct 2015 07:28:00 GMT")
    assert post(cio_standin, [opened()]).status_code == 503
    with pytest.raises(requests.ConnectionError):
        post(cio_standin, [opened()])
    resp = post(cio_standin, [opened()])
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "Wed, 21 Oct 2015 07:28:00 GMT"
    assert post(cio_standin, [opened()]).status_code == 200


def test_reset_aborts_the_connection(cio_standin):
    cio_standin.reset_next()
    with pytest.raises(requests.ConnectionError) as exc:
        post(cio_standin, [opened()])
    assert "reset" in repr(exc.value).lower() or "aborted" in repr(exc.value).lower()
    assert cio_standin.requests[0].outcome == "fault:reset"
    assert cio_standin.events == []
    assert post(cio_standin, [opened()]).status_code == 200


def test_close_without_response(cio_standin):
    cio_standin.close_next()
    with pytest.raises(requests.ConnectionError):
        post(cio_standin, [opened()])
    assert post(cio_standin, [opened()]).status_code == 200


def test_hang_past_the_client_timeout(cio_standin):
    cio_standin.hang_next(seconds=5)
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        post(cio_standin, [opened()], timeout=0.2)
    assert time.monotonic() - started < 2
    assert post(cio_standin, [opened()]).status_code == 200  # the next request is served meanwhile
    assert len(cio_standin.events) == 1
    assert [r.outcome for r in cio_standin.requests] == ["pending", "accepted"]  # still hanging
    # stopping the stand-in (fixture teardown) wakes the hanging handler at once


def test_hang_then_process_delivers_although_the_client_timed_out(cio_standin):
    cio_standin.hang_next(seconds=0.4, then="process")
    with pytest.raises(requests.Timeout):
        post(cio_standin, [opened(1)], timeout=0.1)
    assert cio_standin.wait_for_events(1, timeout=3)
    assert cio_standin.requests[0].outcome == "fault:hang:process+accepted"
    assert post(cio_standin, [opened(1)]).status_code == 200  # the client's retry
    assert cio_standin.duplicates() == {opened(1)["messageId"]: 2}


def test_hang_then_status(cio_standin):
    cio_standin.hang_next(seconds=0.2, then=503)
    started = time.monotonic()
    assert post(cio_standin, [opened()], timeout=3).status_code == 503
    assert time.monotonic() - started >= 0.2


def test_concurrent_requests_are_all_recorded(cio_standin):
    results: list[int] = []

    def worker(k: int) -> None:
        with requests.Session() as s:
            for j in range(5):
                i = k * 100 + j
                r = s.post(cio_standin.batch_url, data=json.dumps({"batch": [opened(i)]}),
                           headers=cio_standin.client_headers(), timeout=5)
                results.append(r.status_code)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 40
    assert len(cio_standin.events) == 40 and cio_standin.duplicates() == {}
    assert cio_standin.request_count == 40


def test_stop_is_prompt_with_a_hanging_request_and_idle_keepalive():
    standin = CioStandin().start()
    idle = requests.Session()
    assert idle.post(standin.batch_url, data=json.dumps({"batch": [opened()]}), headers=standin.client_headers(), timeout=5).ok
    standin.hang_next(seconds=30)
    t = threading.Thread(target=lambda: pytest.raises(requests.RequestException, post, standin, [opened()], timeout=10))
    t.start()
    deadline = time.monotonic() + 5
    while standin.request_count < 2 and time.monotonic() < deadline:  # the second one is hanging
        time.sleep(0.01)
    assert standin.request_count == 2
    started = time.monotonic()
    standin.stop()
    assert time.monotonic() - started < 2
    t.join(timeout=5)
    assert not t.is_alive()
    idle.close()
