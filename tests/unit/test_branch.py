"""Branch webhook source: Branch's documented attributed open and a received Android open.

Samples: events/samples/mobile/branch (credited in its README.md).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any
from urllib.parse import urlencode

import pytest

from ciohooks.request import WebhookRequest
from ciohooks.sources import InvalidPayload, NotConfigured, Unauthorized, load
from ciohooks.sources.mobile.branch import SOURCE, Branch, parse_event
from tests.support.mobile import SAMPLES, run_ingest, settings
from tests.support.spec import assert_valid_event

FOLDER = SAMPLES / "branch"
NAME = "mobile/branch"
SECRET = "local-branch-secret-9"
BIG_ID = "635390319521351354"  # > 2**53: a double would make it 635390319521351400


def sample(name: str) -> bytes:
    return (FOLDER / name).read_bytes()


def renamed(name: str, event_name: str) -> bytes:
    """A sample with its event renamed, byte for byte otherwise (its big numbers stay as written)."""
    raw = sample(name).decode()
    old = '"name": "open"' if '"name": "open"' in raw else '"name": "OPEN"'
    assert raw.count(old) == 1
    return raw.replace(old, f'"name": "{event_name}"').encode()


def post(body: bytes, headers: dict[str, str] | None = None, query: str = "") -> WebhookRequest:
    return WebhookRequest("POST", "/branch", body, {"content-type": "application/json", **(headers or {})}, query)


def source(**env: str) -> Branch:
    return Branch(settings(**env))


def translate(body: bytes, **env: str) -> tuple[list[dict[str, Any]], Counter[str]]:
    translation = source(**env).translate(post(body))
    bodies = [event.to_cio() for event in translation.events]
    for cio in bodies:
        assert_valid_event(cio)
    return bodies, translation.ignored


def one(body: bytes, **env: str) -> dict[str, Any]:
    bodies, ignored = translate(body, **env)
    assert len(bodies) == 1 and not ignored, (bodies, ignored)
    return bodies[0]


# ---- the samples, translated ------------------------------------------------------------------------------


def test_documented_attributed_open_translates_to_exactly_this() -> None:
    assert one(sample("open.json")) == {
        "type": "track",
        "event": "Application Opened",
        "userId": "DB8C86A6-8B7C-4192-BD29-8107A5B788A1",
        # No event id in the documented body: the id of its content, big link ids kept as digits.
        "messageId": "453de55c-ade3-5b17-a77f-6041602544fa",  # UUIDv5 of the canonical content, big ids as text
        "timestamp": "2017-12-07T21:10:05.807000Z",  # 1512681005807 ms
        "context": {
            "device": {
                "id": "C6B869E7-7B0A-4A93-1C3D-960E8859DP5D",
                "advertisingId": "F520B35A-4165-4426-98F6-64F12F47E9BZ",
                "adTrackingEnabled": True,
                "manufacturer": "Apple",
            },
            "os": {"name": "IOS", "version": "11.1.2"},
            "ip": "50.200.105.218",
            "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 11_1_2 like Mac OS X) AppleWebKit/604.3.5 (KHTML, like Gecko) Mobile/15B202",
            "location": {"country": "US"},
        },
    }


def test_received_android_open_translates_to_exactly_this() -> None:
    assert one(sample("open-android.json")) == {
        "type": "track",
        "event": "Application Opened",
        "anonymousId": "99c5b45c-40ab-1e63c24a4853",  # no developer_identity, no idfv/android_id: the aaid
        "messageId": "5ec93105-ae30-574d-be19-b32c9842ae5d",  # UUIDv5 of the event id, kept exact as text
        "timestamp": "2019-03-16T09:04:43.843000Z",
        "properties": {"version": "5.2.10"},
        "context": {
            "app": {"version": "5.2.10"},
            "device": {
                "advertisingId": "99c5b45c-40ab-1e63c24a4853",
                "adTrackingEnabled": True,  # "limit_ad_tracking": "false", a text boolean
                "manufacturer": "vivo",
                "model": "vivo 1804",
            },
            "os": {"name": "ANDROID", "version": "27"},
            "ip": "2405:204:93fb:954c:797c:ea7b",
            "userAgent": "Dalvik/2.1.0 (Linux; U; Android 8.1.0; vivo 1804 Build/OPM1.171019.011)",
            "location": {"country": "IN"},
        },
    }


@pytest.mark.parametrize("event_name", ["INSTALL", "install", "REINSTALL", "reinstall"])
def test_install_and_reinstall_are_application_installed(event_name: str) -> None:
    body = one(renamed("open-android.json", event_name))
    assert body["event"] == "Application Installed" and body["properties"] == {"version": "5.2.10"}


@pytest.mark.parametrize("event_name", ["CLICK", "WEB_SESSION_START", "PURCHASE", "my_custom_event"])
def test_other_events_are_counted_by_name(event_name: str) -> None:
    expected = "custom event" if event_name == "my_custom_event" else event_name  # the app's own text is not a type
    assert translate(renamed("open.json", event_name)) == ([], Counter({expected: 1}))


def test_an_all_zero_advertising_id_is_not_a_device_id() -> None:
    """Mobile policy: iOS sends a zeroed IDFA when tracking is not authorised."""
    body = b'{"name": "OPEN", "user_data": {"idfa": "00000000-0000-0000-0000-000000000000"}}'
    assert source().translate(post(body)).failed == ["OPEN: no developer_identity and no device id"]


def test_nothing_is_invented() -> None:
    body = one(sample("open.json"))
    assert "from_background" not in json.dumps(body) and "build" not in json.dumps(body)
    assert "properties" not in body and "app" not in body["context"]  # no app_version sent


# ---- big ids and text booleans ----------------------------------------------------------------------------


def test_a_big_numeric_event_id_stays_exact() -> None:
    raw = sample("open-android.json").replace(f'"id": "{BIG_ID}"'.encode(), f'"id": {BIG_ID}'.encode())
    assert f'"id": {BIG_ID}}}'.encode() in raw  # now a bare JSON number
    assert float(BIG_ID) != int(BIG_ID)  # what a double would lose
    assert one(raw)["messageId"] == "5ec93105-ae30-574d-be19-b32c9842ae5d"
    assert parse_event(sample("open.json"))["last_cta_view_data"]["~id"] == "457624031399716729"


@pytest.mark.parametrize(("value", "enabled"), [('"true"', False), ("true", False), ('"false"', True), ("false", True), ('"null"', None)])
def test_limit_ad_tracking_in_either_spelling(value: str, enabled: bool | None) -> None:
    raw = sample("open-android.json").replace(b'"limit_ad_tracking": "false"', f'"limit_ad_tracking": {value}'.encode())
    device = one(raw)["context"]["device"]
    assert device.get("adTrackingEnabled") is enabled


# ---- identity -------------------------------------------------------------------------------------------


def test_device_id_order_and_id_as() -> None:
    android = json.loads(sample("open-android.json"))
    android["user_data"]["android_id"] = "a9c8f44443e9ed93"
    body = one(json.dumps(android).encode())
    assert body["anonymousId"] == "a9c8f44443e9ed93" and body["context"]["device"]["id"] == "a9c8f44443e9ed93"
    assert one(json.dumps(android).encode(), BRANCH_DEVICE_ID_KEYS="aaid")["anonymousId"] == "99c5b45c-40ab-1e63c24a4853"
    assert one(sample("open-android.json"), BRANCH_ID_AS="userId")["userId"] == "99c5b45c-40ab-1e63c24a4853"


def test_user_id_keys_are_configurable() -> None:
    body = one(sample("open.json"), BRANCH_USER_ID_KEYS="brand")
    assert body["userId"] == "Apple"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "body is not JSON"),
        (b"[]", "not an event object"),
        (b'{"user_data": {}}', "event has no name"),
    ],
)
def test_untranslatable_bodies(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidPayload, match=reason):
        source().translate(post(body))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"name": "OPEN", "user_data": "x"}', "OPEN: user_data is a JSON str"),
        (b'{"name": "OPEN", "user_data": {"os": "IOS"}}', "OPEN: no developer_identity and no device id"),
        (b'{"name": "OPEN", "user_data": {"idfv": "x"}, "timestamp": "soon"}', "OPEN: timestamp"),
    ],
)
def test_an_event_that_cannot_be_translated_is_failed_and_kept(body: bytes, reason: str) -> None:
    translation = source().translate(post(body))
    assert not translation.events and len(translation.failed) == 1 and translation.failed[0].startswith(reason)


# ---- authentication -------------------------------------------------------------------------------------


def test_secret_in_the_default_header() -> None:
    source(BRANCH_SECRET=SECRET).authenticate(post(sample("open.json"), {"authorization": SECRET}))


def test_secret_in_the_url_query() -> None:
    source(BRANCH_SECRET=SECRET).authenticate(post(sample("open.json"), query=urlencode({"secret": SECRET})))


def test_custom_header_and_parameter_names() -> None:
    env = {"BRANCH_SECRET": SECRET, "BRANCH_SECRET_HEADER": "X-Webhook-Key", "BRANCH_SECRET_PARAM": "key"}
    source(**env).authenticate(post(sample("open.json"), {"x-webhook-key": SECRET}))
    source(**env).authenticate(post(sample("open.json"), query=f"key={SECRET}"))
    with pytest.raises(Unauthorized, match="missing"):
        source(**env).authenticate(post(sample("open.json"), {"authorization": SECRET}, query=f"secret={SECRET}"))


def test_sign_adds_the_header_authenticate_checks() -> None:
    signed = SOURCE.sign(post(sample("open.json")), SECRET)
    source(BRANCH_SECRET=SECRET).authenticate(signed)
    assert signed.body == sample("open.json")


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        pytest.param({"authorization": SECRET + "x"}, "", id="wrong header"),
        pytest.param({}, "secret=nope", id="wrong parameter"),
        pytest.param({"authorization": SECRET}, "secret=nope", id="good header, forged parameter"),
        pytest.param({"authorization": "nope"}, f"secret={SECRET}", id="leaked URL, forged header"),
        pytest.param({"authorization": ""}, "", id="empty header"),
    ],
)
def test_forged_secret_is_refused(headers: dict[str, str], query: str) -> None:
    with pytest.raises(Unauthorized) as caught:
        source(BRANCH_SECRET=SECRET).authenticate(post(sample("open.json"), headers, query))
    assert SECRET not in str(caught.value)


def test_missing_secret_is_refused() -> None:
    with pytest.raises(Unauthorized, match="missing"):
        source(BRANCH_SECRET=SECRET).authenticate(post(sample("open.json")))


def test_without_a_configured_secret_every_request_is_refused() -> None:
    with pytest.raises(NotConfigured):
        source().authenticate(post(sample("open.json"), {"authorization": SECRET}))


def test_allow_unsigned_lets_requests_in_loudly(caplog: pytest.LogCaptureFixture) -> None:
    source(ALLOW_UNSIGNED="yes").authenticate(post(sample("open.json")))
    assert "UNAUTHENTICATED mobile/branch" in caplog.text


def test_the_secret_is_never_stored() -> None:
    request = post(b'{"user_data": {"os": "IOS"}}', {"x-webhook-key": SECRET}, f"key={SECRET}")
    env = {"BRANCH_SECRET": SECRET, "BRANCH_SECRET_HEADER": "X-Webhook-Key", "BRANCH_SECRET_PARAM": "key"}
    outcome, delivered, dead = run_ingest(request, "branch", **env)
    assert outcome.status == 200 and not delivered and len(dead) == 1
    assert SECRET not in json.dumps(dead)
    assert dead[0]["failure"]["error"] == "event has no name"


def test_through_ingest_a_signed_sample_is_queued_and_get_is_refused() -> None:
    outcome, delivered, dead = run_ingest(SOURCE.sign(post(sample("open-android.json")), SECRET), "branch", BRANCH_SECRET=SECRET)
    assert outcome.status == 200 and not dead and delivered[0]["events"][0]["messageId"] == "5ec93105-ae30-574d-be19-b32c9842ae5d"
    get = WebhookRequest("GET", "/branch", b"", {"authorization": SECRET}, "campaign=x")
    assert run_ingest(get, "branch", BRANCH_SECRET=SECRET)[0].status == 405


def test_catalog() -> None:
    assert load(NAME) is Branch
