"""Sentry integration platform source: Sentry's documented webhooks and an Android crash, HMAC signature.

Samples: events/samples/mobile/sentry (credited in its README.md).
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.hmac import HMAC

from ciohooks.request import WebhookRequest
from ciohooks.sources import InvalidPayload, NotConfigured, Unauthorized, load
from ciohooks.sources.mobile.sentry import SOURCE, Sentry, release_version, signature, verify
from tests.support.mobile import SAMPLES, run_ingest, settings
from tests.support.spec import assert_valid_event

FOLDER = SAMPLES / "sentry"
NAME = "mobile/sentry"
SECRET = "f3c71b491e3949b6b033ae45312a4fcb0d8e9a7c6b5a4f3e2d1c0b9a8f7e6d5c"
CRASH_EVENT_ID = "bb78c1407cea4519aa397afc059c793d"


def sample(name: str) -> bytes:
    return (FOLDER / name).read_bytes()


def crash(**error_fields: Any) -> dict[str, Any]:
    """The Android crash webhook with fields of ``data.error`` replaced (None deletes one)."""
    payload = json.loads(sample("error-android-crash.json"))
    for key, value in error_fields.items():
        if value is None:
            payload["data"]["error"].pop(key, None)
        else:
            payload["data"]["error"][key] = value
    return payload


def as_event_alert(payload: dict[str, Any]) -> dict[str, Any]:
    """The same event as an issue alert delivers it (issue-alerts.mdx: data.event, data.triggered_rule)."""
    event = payload["data"]["error"]
    return {**payload, "action": "triggered", "data": {"event": event, "triggered_rule": "Very Important Alert Rule!"}}


def post(body: bytes | dict[str, Any], resource: str | None = "error", headers: dict[str, str] | None = None) -> WebhookRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    base = {"content-type": "application/json", **({"sentry-hook-resource": resource} if resource else {})}
    return WebhookRequest("POST", "/sentry", raw, {**base, **(headers or {})})


def source(**env: str) -> Sentry:
    return Sentry(settings(**env))


def translate(request: WebhookRequest, **env: str) -> tuple[list[dict[str, Any]], Counter[str]]:
    translation = source(**env).translate(request)
    bodies = [event.to_cio() for event in translation.events]
    for body in bodies:
        assert_valid_event(body)
    return bodies, translation.ignored


def one(request: WebhookRequest, **env: str) -> dict[str, Any]:
    bodies, ignored = translate(request, **env)
    assert len(bodies) == 1 and not ignored, (bodies, ignored)
    return bodies[0]


# ---- the samples, translated ------------------------------------------------------------------------------

CRASH = {
    "type": "track",
    "event": "Application Crashed",
    "userId": "1761a9fcb6836d4c",
    "messageId": "b9fdc707-947c-5c5a-ba23-07bdd87a476a",  # UUIDv5 of the crash event id
    "timestamp": "2019-08-19T20:58:37.391000Z",  # "timestamp": 1566248317.391
    "properties": {"version": "1.0", "build": "1", "issue_id": "1170820242", "exception_type": "Exception"},
    "context": {
        "app": {"name": "Sentry sample", "version": "1.0", "build": "1", "namespace": "io.sentry.sample"},
        "device": {"manufacturer": "Xiaomi", "model": "Redmi 7"},
        "os": {"name": "Android", "version": "9"},
    },
}


def test_android_crash_becomes_application_crashed_exactly() -> None:
    assert one(post(sample("error-android-crash.json"))) == CRASH


def test_the_same_crash_as_an_issue_alert_is_the_same_event() -> None:
    assert one(post(as_event_alert(crash()), "event_alert")) == CRASH


def test_documented_browser_error_is_not_an_app_crash() -> None:
    # Sentry's own error webhook sample: an unhandled error, but from sentry.javascript.browser.
    assert translate(post(sample("error.json"))) == ([], Counter({"error:not_mobile": 1}))
    browser = as_event_alert(json.loads(sample("error.json")))
    assert translate(post(browser, "event_alert")) == ([], Counter({"event_alert:not_mobile": 1}))


@pytest.mark.parametrize("resource", ["installation", "issue", "metric_alert", "comment", "seer"])
def test_other_resources_are_answered_and_counted(resource: str) -> None:
    body = sample("installation.json") if resource == "installation" else b'{"action": "created", "data": {}}'
    assert translate(post(body, resource)) == ([], Counter({resource: 1}))


def test_an_undocumented_resource_is_unknown_and_kept() -> None:
    translation = source().translate(post(b'{"action": "created", "data": {}}', "uptime_monitor"))
    assert not translation.ignored and translation.unknown == Counter({"uptime_monitor": 1})


def test_installation_webhook_through_ingest_is_answered_200() -> None:
    request = SOURCE.sign(post(sample("installation.json"), "installation"), SECRET)
    outcome, delivered, dead = run_ingest(request, "sentry", SENTRY_CLIENT_SECRET=SECRET)
    assert outcome.status == 200 and outcome.result == "ignored" and delivered == dead == []


# ---- what a crash is ---------------------------------------------------------------------------------


def handled_exception(handled: bool | None) -> dict[str, Any]:
    exception = copy.deepcopy(crash()["data"]["error"]["exception"])
    if handled is None:
        del exception["values"][0]["mechanism"]
    else:
        exception["values"][0]["mechanism"]["handled"] = handled
    return exception


def test_handled_error_is_not_a_crash() -> None:
    payload = crash(level="error", exception=handled_exception(True))
    assert translate(post(payload)) == ([], Counter({"error:not_crash": 1}))


def test_unhandled_mechanism_alone_makes_a_crash() -> None:
    assert one(post(crash(level="error")))["event"] == "Application Crashed"


def test_fatal_level_alone_makes_a_crash() -> None:
    # sentry-cocoa reports signal and Mach crashes with level fatal and a mechanism without "handled".
    assert one(post(crash(exception=handled_exception(None))))["event"] == "Application Crashed"
    assert translate(post(crash(level="error", exception=handled_exception(None))))[1] == Counter({"error:not_crash": 1})


@pytest.mark.parametrize(
    ("fields", "mobile"),
    [
        ({"sdk": {"name": "sentry.cocoa", "version": "8.0.0"}, "contexts": {"os": {"name": "iOS"}}}, True),
        ({"sdk": {"name": "sentry.javascript.react-native"}, "platform": "javascript"}, True),
        ({"sdk": {"name": "sentry.java"}}, False),  # a JVM server, not Android
        ({"contexts": {"os": {"name": "iOS"}}, "platform": "cocoa"}, True),
        ({"contexts": {"os": {"name": "Android"}, "browser": {"name": "Chrome"}}, "platform": "javascript"}, False),
        ({"contexts": {"os": {"name": "Linux"}}, "platform": "python"}, False),
    ],
)
def test_which_events_are_mobile(fields: dict[str, Any], mobile: bool) -> None:
    payload = crash(**fields, user={"id": "u-1"})
    bodies, ignored = translate(post(payload))
    assert (bodies != []) is mobile and (ignored == Counter({"error:not_mobile": 1})) is not mobile


def test_mobile_sdks_are_configurable() -> None:
    payload = crash(sdk={"name": "sentry.dotnet.maui"}, user={"id": "u-1"})
    assert translate(post(payload))[1] == Counter({"error:not_mobile": 1})
    assert one(post(payload), SENTRY_MOBILE_SDKS="sentry.dotnet.maui")["event"] == "Application Crashed"


# ---- version, build, identity ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("release", "expected"),
    [
        ("com.example.app@1.2.3+45", ("1.2.3", "45")),
        ("com.example.app@1.2.3", ("1.2.3", None)),
        ("my@org.app@2.0+7", ("2.0", "7")),
        ("io.sentry.sample-1.0", (None, None)),  # the Android sample's release: not package@version
        ("", (None, None)),
        (None, (None, None)),
    ],
)
def test_release_version(release: str | None, expected: tuple[str | None, str | None]) -> None:
    assert release_version(release) == expected


def test_version_and_build_from_the_release_when_the_app_context_has_none() -> None:
    contexts = crash()["data"]["error"]["contexts"]
    del contexts["app"]["app_version"], contexts["app"]["app_build"]
    body = one(post(crash(contexts=contexts, release="com.example.app@1.2.3+45")))
    assert body["properties"]["version"] == "1.2.3" and body["properties"]["build"] == "45"
    assert body["context"]["app"] == {"name": "Sentry sample", "version": "1.2.3", "build": "45", "namespace": "io.sentry.sample"}


def test_app_context_wins_over_the_release() -> None:
    body = one(post(crash(release="com.example.app@9.9.9+99")))
    assert (body["properties"]["version"], body["properties"]["build"]) == ("1.0", "1")


def test_without_a_user_id_a_device_id_is_the_anonymous_id() -> None:
    contexts = crash()["data"]["error"]["contexts"]
    contexts["device"]["device_unique_identifier"] = "c2FtcGxlLWRldmljZS1pZA"
    body = one(post(crash(contexts=contexts, user={"ip_address": "192.0.2.1"})))
    assert body["anonymousId"] == "c2FtcGxlLWRldmljZS1pZA" and "userId" not in body
    assert body["context"]["device"]["id"] == "c2FtcGxlLWRldmljZS1pZA" and body["context"]["ip"] == "192.0.2.1"


def test_device_app_hash_is_the_last_device_id() -> None:
    contexts = crash()["data"]["error"]["contexts"]
    contexts["app"]["device_app_hash"] = "feea8dd605918d9f230f8d285de62a611fe8f2af"  # react-native.json sample
    body = one(post(crash(contexts=contexts, user=None)))
    assert body["anonymousId"] == "feea8dd605918d9f230f8d285de62a611fe8f2af"


def test_user_id_keys_are_configurable() -> None:
    payload = crash(user={"id": "1761a9fcb6836d4c", "username": "jane"})
    assert one(post(payload), SENTRY_USER_ID_KEYS="username")["userId"] == "jane"


def test_a_crash_that_names_nobody_is_kept() -> None:
    translation = source().translate(post(crash(user=None)))
    assert not translation.events and translation.incomplete
    assert translation.failed == ["error: the crash names no user id and no device id"]


# ---- the crash rule by SDK layer (issue 13) ----------------------------------------------------------------
#
# The client-side fields of getsentry/sentry fixtures/sdk_crash_detection/crash_event_react_native.py
# (commit 0ffe326733b6b2ab7e5a19b0b08fbf7827dcaf8d, get_crash_event_with_frames): a React Native 5.15.2
# event from Android, level fatal, exception mechanism {"type": "onerror", "handled": false}. Its
# user (an email address and a geo block) is left out; the device context keeps its "id".

RN_DEVICE_ID = "64b13018-2922-4938-92b1-3135861a69c8"
RN_FATAL = {
    "event_id": "150d5b0b4f3a4797a3cd1345374ac484",
    "release": "com.samplenewarchitecture@1.0+1",
    "dist": "1",
    "platform": "javascript",
    "level": "fatal",
    "timestamp": 1704969029.281,
    "exception": {"values": [{"type": "Error", "value": "Uncaught Thrown Error", "mechanism": {"type": "onerror", "handled": False}}]},
    "contexts": {
        "app": {"app_identifier": "com.samplenewarchitecture", "app_name": "sampleNewArchitecture", "app_version": "1.0", "app_build": "1", "type": "app"},
        "device": {"family": "sdk_gphone64_arm64", "model": "sdk_gphone64_arm64", "manufacturer": "Google", "brand": "google", "id": RN_DEVICE_ID, "type": "device"},
        "os": {"name": "Android", "version": "13", "type": "os"},
    },
    "sdk": {"name": "sentry.javascript.react-native", "version": "5.15.2"},
    "type": "error",
}


def rn_event(**fields: Any) -> dict[str, Any]:
    """The fixture's event inside Sentry's error webhook envelope (error-android-crash.json)."""
    payload = crash()
    payload["data"]["error"] = {**copy.deepcopy(RN_FATAL), **fields}
    return payload


def test_a_fatal_react_native_error_is_a_crash_exactly() -> None:
    assert one(post(rn_event())) == {
        "type": "track",
        "event": "Application Crashed",
        "anonymousId": RN_DEVICE_ID,
        "messageId": "5ac98d47-406d-52c5-8297-03cdf8c3a0b9",
        "timestamp": "2024-01-11T10:30:29.281000Z",
        "properties": {"version": "1.0", "build": "1", "exception_type": "Error"},
        "context": {
            "app": {"name": "sampleNewArchitecture", "version": "1.0", "build": "1", "namespace": "com.samplenewarchitecture"},
            "device": {"manufacturer": "Google", "model": "sdk_gphone64_arm64"},
            "os": {"name": "Android", "version": "13"},
        },
    }


def test_a_user_id_the_sdk_filled_with_the_installation_id_is_not_a_person() -> None:
    """sentry-java sets ``user.id`` to its installation id when the app sets no user
    (DefaultAndroidEventProcessor.mergeUser), the same value as ``contexts.device.id``
    (DeviceInfoUtil.getDeviceId): a device, which used to become the userId."""
    crashed = one(post(rn_event(user={"id": RN_DEVICE_ID})))
    assert crashed["anonymousId"] == RN_DEVICE_ID and "userId" not in crashed
    assert crashed["messageId"] == "5ac98d47-406d-52c5-8297-03cdf8c3a0b9"
    assert one(post(rn_event(user={"id": "user-42"})))["userId"] == "user-42"  # an id the app set


def test_an_unhandled_promise_rejection_in_react_native_is_not_a_crash() -> None:
    """@sentry/react-native reports an unhandled promise rejection with mechanism
    onunhandledrejection, handled false, at level error: the app goes on. It used to count as a
    crash because of ``handled: false``."""
    rejection = {"values": [{"type": "Error", "value": "Uncaught Thrown Error", "mechanism": {"type": "onunhandledrejection", "handled": False}}]}
    assert translate(post(rn_event(level="error", exception=rejection))) == ([], Counter({"error:not_crash": 1}))


@pytest.mark.parametrize(
    ("sdk", "mechanism"),
    [
        # sentry-dart flutter_error_integration.dart: "FlutterError doesn't crash the App", level fatal
        ("sentry.dart.flutter", {"type": "FlutterError", "handled": True}),
        # sentry-dart run_zoned_guarded_integration.dart: "runZonedGuarded doesn't crash the App", level fatal
        ("sentry.dart.flutter", {"type": "runZonedGuarded", "handled": False}),
        # a script error in a Capacitor/Cordova WebView: the browser SDK's global handler
        ("sentry.javascript.capacitor", {"type": "onerror", "handled": False}),
        ("sentry.javascript.cordova", {"type": "onerror", "handled": False}),
    ],
)
def test_dart_and_webview_errors_are_never_crashes(sdk: str, mechanism: dict[str, Any]) -> None:
    exception = {"values": [{"type": "StateError", "value": "Bad state", "mechanism": mechanism}]}
    payload = rn_event(sdk={"name": sdk, "version": "1"}, platform="other", level="fatal", exception=exception)
    assert translate(post(payload)) == ([], Counter({"error:not_crash": 1}))


def test_native_crashes_under_react_native_and_flutter_are_crashes() -> None:
    for sdk in ("sentry.java.android.react-native", "sentry.cocoa.flutter"):
        payload = rn_event(sdk={"name": sdk, "version": "1"}, platform="java", level="error")
        assert one(post(payload), SENTRY_MOBILE_SDKS="sentry.java.android,sentry.cocoa")["event"] == "Application Crashed"


def test_no_exception_message_is_passed_on() -> None:
    payload = crash(exception={"values": [{"type": "IllegalStateException", "value": "user jane@example.com", "mechanism": {"handled": False}}]})
    body = one(post(payload))
    assert body["properties"]["exception_type"] == "IllegalStateException" and "jane" not in json.dumps(body)


def test_timestamp_falls_back_to_datetime_and_event_id_to_content() -> None:
    payload = crash(timestamp=None, event_id=None)
    body = one(post(payload))
    assert body["timestamp"] == "2019-08-19T20:58:37.391000Z"
    assert body["messageId"] == "2c75f9f0-0de9-5b64-be8e-ceb64f3bd7f0"  # UUIDv5 of the error's canonical content


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (post(sample("error-android-crash.json"), resource=None), "no Sentry-Hook-Resource header"),
        (post(b"not json"), "body is not JSON"),
        (post(b'{"data": {}}'), "no data.error object"),
        (post({"data": {"error": []}}), "no data.error object"),
        (post(as_event_alert(crash()), "error"), "no data.error object"),
    ],
)
def test_untranslatable_webhooks(request_: WebhookRequest, reason: str) -> None:
    with pytest.raises(InvalidPayload, match=reason):
        source().translate(request_)


# ---- the signature ------------------------------------------------------------------------------------


def independent_hmac(body: bytes, secret: str) -> str:
    mac = HMAC(secret.encode(), hashes.SHA256())
    mac.update(body)
    return mac.finalize().hex()


def test_signature_is_hex_hmac_sha256_of_the_raw_body() -> None:
    body = sample("error-android-crash.json")
    assert signature(body, SECRET) == independent_hmac(body, SECRET)
    verify(body, {"Sentry-Hook-Signature": independent_hmac(body, SECRET)}, SECRET)
    verify(body, {"sentry-hook-signature": independent_hmac(body, SECRET).upper()}, SECRET)


def test_sign_adds_what_authenticate_checks() -> None:
    signed = SOURCE.sign(post(sample("error-android-crash.json")), SECRET)
    source(SENTRY_CLIENT_SECRET=SECRET).authenticate(signed)
    assert signed.header("sentry-hook-timestamp") == str(int(signed.received_at.timestamp()))
    assert signed.header("sentry-hook-resource") == "error"


def flip(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


@pytest.mark.parametrize(
    ("body", "presented"),
    [
        pytest.param(flip(sample("error-android-crash.json")), None, id="tampered body"),
        pytest.param(json.dumps(json.loads(sample("error-android-crash.json")), indent=1).encode(), None, id="re-serialised JSON"),
        pytest.param(sample("error-android-crash.json"), independent_hmac(sample("error-android-crash.json"), SECRET + "x"), id="other secret"),
        pytest.param(sample("error-android-crash.json"), "not hex at all é", id="garbage"),
        pytest.param(sample("error-android-crash.json"), "", id="empty"),
    ],
)
def test_forged_signature_is_refused(body: bytes, presented: str | None) -> None:
    good = independent_hmac(sample("error-android-crash.json"), SECRET)
    request = post(body, headers={"sentry-hook-signature": good if presented is None else presented})
    with pytest.raises(Unauthorized) as caught:
        source(SENTRY_CLIENT_SECRET=SECRET).authenticate(request)
    assert SECRET not in str(caught.value)


def test_missing_signature_is_refused() -> None:
    with pytest.raises(Unauthorized, match="missing"):
        source(SENTRY_CLIENT_SECRET=SECRET).authenticate(post(sample("error-android-crash.json")))


def test_the_unsigned_timestamp_is_not_checked() -> None:
    # Sentry signs the body only; an old Sentry-Hook-Timestamp proves nothing either way (module docstring).
    old = WebhookRequest("POST", "/sentry", sample("error-android-crash.json"), {"sentry-hook-resource": "error"}, received_at=datetime(2019, 8, 19, tzinfo=UTC))
    signed = SOURCE.sign(old, SECRET)
    late = WebhookRequest(signed.method, signed.path, signed.body, signed.headers)  # received now
    source(SENTRY_CLIENT_SECRET=SECRET).authenticate(late)


def test_without_a_configured_secret_every_request_is_refused() -> None:
    with pytest.raises(NotConfigured):
        source().authenticate(SOURCE.sign(post(sample("error.json")), SECRET))


def test_allow_unsigned_lets_requests_in_loudly(caplog: pytest.LogCaptureFixture) -> None:
    source(ALLOW_UNSIGNED="on").authenticate(post(sample("error.json")))
    assert "UNAUTHENTICATED mobile/sentry" in caplog.text


def test_through_ingest() -> None:
    signed = SOURCE.sign(post(sample("error-android-crash.json")), SECRET)
    outcome, delivered, dead = run_ingest(signed, "sentry", SENTRY_CLIENT_SECRET=SECRET)
    assert outcome.status == 200 and not dead and delivered[0]["events"] == [CRASH]
    forged = post(sample("error-android-crash.json"), headers={"sentry-hook-signature": "0" * 64})
    assert run_ingest(forged, "sentry", SENTRY_CLIENT_SECRET=SECRET)[0].status == 401


def test_catalog() -> None:
    assert load(NAME) is Sentry


def test_the_react_native_fatal_sample_is_the_fixture_crash() -> None:
    (crashed,) = translate(post(sample("error-react-native-fatal.json")))[0]
    assert crashed["messageId"] == "5ac98d47-406d-52c5-8297-03cdf8c3a0b9" and crashed["anonymousId"] == RN_DEVICE_ID
    assert crashed["properties"] == {"version": "1.0", "build": "1", "issue_id": "1170820242", "exception_type": "Error"}
