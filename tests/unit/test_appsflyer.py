"""AppsFlyer Push API source: mapping of the published messages, and the authentication token header.

Samples: events/samples/mobile/appsflyer (credited in its README.md).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any
from urllib.parse import urlencode

import pytest

from ciohooks.request import WebhookRequest
from ciohooks.sources import InvalidPayload, NotConfigured, Unauthorized, load
from ciohooks.sources.mobile.appsflyer import SOURCE, AppsFlyer
from tests.support.mobile import SAMPLES, run_ingest, settings
from tests.support.spec import assert_valid_event

FOLDER = SAMPLES / "appsflyer"
NAME = "mobile/appsflyer"
TOKEN = "local test token_1.x"
DOCS_TIME = "2020-01-15T14:57:24.898000Z"  # event_time "2020-01-15 14:57:24.898", UTC by AppsFlyer's docs
DOCS_USER = "hi.from@appsflyer.example.com"  # customer_user_id of the published message
DOCS_AF_ID = "1547985076649-5309999"


def sample_bytes(name: str) -> bytes:
    return (FOLDER / name).read_bytes()


def message(name: str = "install.json", **fields: Any) -> dict[str, Any]:
    data = json.loads(sample_bytes(name))
    data.update(fields)
    return data


def post(body: bytes | dict[str, Any], headers: dict[str, str] | None = None) -> WebhookRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return WebhookRequest("POST", "/appsflyer", raw, {"content-type": "application/json", **(headers or {})})


def get(query: str, headers: dict[str, str] | None = None) -> WebhookRequest:
    return WebhookRequest("GET", "/appsflyer", b"", headers or {}, query)


def source(**env: str) -> AppsFlyer:
    return AppsFlyer(settings(**env))


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


# ---- the published messages, translated --------------------------------------------------------------

IOS_CONTEXT = {
    "app": {"name": "AppsFlyer", "version": "1.4.1", "namespace": "com.appsflyer.AppsFlyer"},
    "device": {
        "id": "868049A3-4B2F-4A11-9B00-CFFC362XXXXX",
        "advertisingId": "A7071198-3848-40A5-B3D0-94578D9BZZZZ",
        "model": "iPhoneXR",
        "type": "ios",
    },
    "os": {"name": "ios", "version": "12.3.1"},
    "ip": "1.1.1.1",
    "userAgent": "AppsFlyer/1 CFNetwork/978.0.7 Darwin/18.6.0",
    "locale": "en-US",
    "network": {"wifi": True},
    "location": {"city": "Khu Pho Binh Hoa", "country": "VN"},
}


def test_install_message_becomes_application_installed_exactly() -> None:
    raw = sample_bytes("install.json")
    assert one(post(raw)) == {
        "type": "track",
        "event": "Application Installed",
        "userId": DOCS_USER,
        "messageId": "f77dd850-3281-59c7-a584-c0d359b39e0c",  # UUIDv5 of the message's canonical content
        "timestamp": DOCS_TIME,
        "properties": {"version": "1.4.1"},
        "context": IOS_CONTEXT,
    }


def test_nothing_is_invented() -> None:
    body = one(post(sample_bytes("install.json")))
    # AppsFlyer sends no build number; null and empty fields (carrier, is_lat, advertising_id...) stay out.
    assert "build" not in body["properties"] and "build" not in body["context"]["app"]
    assert "adTrackingEnabled" not in body["context"]["device"]
    assert "carrier" not in body["context"]["network"]
    assert "from_background" not in json.dumps(body)


def test_get_message_with_text_booleans_translates_like_the_post() -> None:
    query = sample_bytes("install-android.query").decode().strip()
    body = one(get(query))
    assert body["event"] == "Application Installed"
    assert body["userId"] == DOCS_USER and body["timestamp"] == DOCS_TIME
    assert body["messageId"] == "33bc9779-2f43-57bb-be46-f42dcbe7090e"  # UUIDv5 of the query's canonical content
    assert body["context"]["network"] == {"wifi": True}  # sent as the text "true"
    assert body["context"]["device"] == {"id": "868049A3-4B2F-4A11-9B00-CFFC362XXXXX", "model": "Nokia 5.3", "type": "android"}
    assert body["context"]["os"] == {"name": "android", "version": "12.3.1"}


def test_in_app_event_is_counted_without_its_name() -> None:
    assert translate(post(sample_bytes("in-app-event.json"))) == ([], Counter({"in-app-event": 1}))


@pytest.mark.parametrize("kind", ["reinstall", "re-attribution"])
def test_reinstalls_are_application_installed(kind: str) -> None:
    body = one(post(message(event_name=kind, is_retargeting=kind == "re-attribution")))
    assert body["event"] == "Application Installed" and body["properties"] == {"version": "1.4.1"}


def test_re_engagement_is_counted_not_translated() -> None:
    assert translate(post(message(event_name="re-engagement"))) == ([], Counter({"re-engagement": 1}))


def test_message_id_is_deterministic_and_changes_with_content() -> None:
    first = one(post(message()))["messageId"]
    assert one(post(message()))["messageId"] == first
    assert one(post(message(event_time="2020-01-15 14:57:25.000")))["messageId"] != first


# ---- identity -------------------------------------------------------------------------------------------


def test_without_customer_user_id_the_appsflyer_id_is_the_anonymous_id() -> None:
    body = one(post(message(customer_user_id=None)))
    assert body["anonymousId"] == DOCS_AF_ID and "userId" not in body


def test_appsflyer_id_as_user_id_when_configured() -> None:
    body = one(post(message(customer_user_id=None)), APPSFLYER_ID_AS="userId")
    assert body["userId"] == DOCS_AF_ID and "anonymousId" not in body


def test_user_id_keys_are_configurable() -> None:
    body = one(post(message(custom_data="c-1")), APPSFLYER_USER_ID_KEYS="custom_data")
    assert body["userId"] == "c-1"


def test_is_lat_gives_ad_tracking_enabled() -> None:
    assert one(post(message(is_lat=True)))["context"]["device"]["adTrackingEnabled"] is False
    # In GET messages every value is text.
    query = urlencode({k: v for k, v in message(is_lat="false").items() if isinstance(v, str) and v})
    assert one(get(query))["context"]["device"]["adTrackingEnabled"] is True


# ---- payloads that cannot be translated ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (post(b"not json"), "body is not JSON"),
        (post(b"[1, 2]"), "not an object"),
        (post({"appsflyer_id": DOCS_AF_ID}), "no event_name"),
    ],
)
def test_untranslatable_messages(request_: WebhookRequest, reason: str) -> None:
    with pytest.raises(InvalidPayload, match=reason) as caught:
        source().translate(request_)
    assert "@" not in str(caught.value) and "yesterday" not in str(caught.value)


NO_DEVICE = {"customer_user_id": None, "appsflyer_id": None, "idfv": None, "idfa": None}


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (post(message(**NO_DEVICE)), "install message has no customer_user_id and no device id (appsflyer_id, idfv, android_id, advertising_id, idfa)"),
        (post(message(event_time="yesterday")), "install message: event_time"),
    ],
)
def test_a_message_that_cannot_be_translated_is_failed_and_kept(request_: WebhookRequest, reason: str) -> None:
    translation = source().translate(request_)
    assert not translation.events and len(translation.failed) == 1 and translation.failed[0].startswith(reason)
    assert "@" not in translation.failed[0] and "yesterday" not in translation.failed[0]


# ---- the message type comes from AppsFlyer's type fields (issue 13) ----------------------------------------
#
# AppsFlyer's "Available message types" table (Push API article) names each type by conversion_type,
# campaign_type, event_name and event_type; event_name of an in-app event is the advertiser's own text.
# The messages below are the published in-app-event.json with the type fields that table gives.


def test_an_in_app_event_the_advertiser_named_reinstall_is_not_an_install() -> None:
    organic_in_app = message("in-app-event.json", event_name="reinstall", conversion_type="install", campaign_type="organic")
    assert translate(post(organic_in_app)) == ([], Counter({"install-in-app-event": 1}))


def test_a_retargeting_in_app_event_named_install_is_not_an_install() -> None:
    fields = {"event_name": "install", "conversion_type": "re-engagement", "campaign_type": "retargeting", "event_type": "re-engagement-in-app-event"}
    assert translate(post(message("in-app-event.json", **fields))) == ([], Counter({"re-engagement-in-app-event": 1}))


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ({"conversion_type": "install", "campaign_type": "organic", "event_name": "install"}, "install"),
        ({"conversion_type": "reinstall", "campaign_type": "UA", "event_name": "reinstall"}, "reinstall"),
        ({"conversion_type": "reinstall", "campaign_type": "retargeting", "event_name": "re-attribution", "event_type": "re-attribution"}, "re-attribution"),
        ({"conversion_type": "re-engagement", "campaign_type": "retargeting", "event_name": "re-engagement", "event_type": "re-engagement"}, "re-engagement"),
        ({"conversion_type": "reinstall", "campaign_type": "retargeting", "event_name": "af_purchase", "event_type": "re-attribution-in-app-event"}, "re-attribution-in-app-event"),
        ({"conversion_type": "reinstall", "campaign_type": "retargeting", "event_name": "reinstall"}, "re-attribution-in-app-event"),
    ],
)
def test_every_message_type_of_appsflyers_table(fields: dict[str, str], kind: str) -> None:
    from ciohooks.sources.mobile.appsflyer import message_type

    assert message_type(message(**fields)) == kind


def test_an_undocumented_conversion_type_is_unknown_and_kept() -> None:
    translation = source().translate(post(message(conversion_type="re-download", event_name="install")))
    assert not translation.events and translation.unknown == Counter({"conversion_type re-download": 1})


# ---- authentication ------------------------------------------------------------------------------------


def test_valid_token_in_the_default_authorization_header() -> None:
    source(APPSFLYER_TOKEN=TOKEN).authenticate(post(message(), {"authorization": TOKEN}))


def test_sign_adds_the_header_authenticate_checks() -> None:
    signed = SOURCE.sign(post(message()), TOKEN)
    source(APPSFLYER_TOKEN=TOKEN).authenticate(signed)
    assert signed.body == post(message()).body


def test_custom_token_header_name() -> None:
    env = {"APPSFLYER_TOKEN": TOKEN, "APPSFLYER_TOKEN_HEADER": "X-AF-Token"}
    source(**env).authenticate(post(message(), {"x-af-token": TOKEN}))
    with pytest.raises(Unauthorized, match="missing"):
        source(**env).authenticate(post(message(), {"authorization": TOKEN}))


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"authorization": TOKEN + "x"}, id="longer"),
        pytest.param({"authorization": TOKEN[:-1]}, id="shorter"),
        pytest.param({"authorization": "Bearer " + TOKEN}, id="other scheme"),
        pytest.param({"authorization": ""}, id="empty"),
        pytest.param({"authorization": "tökén"}, id="non-ascii"),
    ],
)
def test_forged_token_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(Unauthorized) as caught:
        source(APPSFLYER_TOKEN=TOKEN).authenticate(post(message(), headers))
    assert TOKEN not in str(caught.value)


def test_missing_token_is_refused() -> None:
    with pytest.raises(Unauthorized, match="missing"):
        source(APPSFLYER_TOKEN=TOKEN).authenticate(post(message()))


def test_without_a_configured_token_every_request_is_refused() -> None:
    with pytest.raises(NotConfigured):
        source().authenticate(post(message(), {"authorization": TOKEN}))


def test_allow_unsigned_lets_requests_in_loudly(caplog: pytest.LogCaptureFixture) -> None:
    source(ALLOW_UNSIGNED="true").authenticate(post(message()))
    assert "UNAUTHENTICATED mobile/appsflyer" in caplog.text


def test_the_token_is_never_stored() -> None:
    # An authentic but untranslatable message is kept whole in the DLQ: without its token header.
    request = post({"appsflyer_id": DOCS_AF_ID}, {"x-af-token": TOKEN})
    outcome, delivered, dead = run_ingest(request, "appsflyer", APPSFLYER_TOKEN=TOKEN, APPSFLYER_TOKEN_HEADER="X-AF-Token")
    assert outcome.status == 200 and not delivered and len(dead) == 1
    assert TOKEN not in json.dumps(dead) and "x-af-token" not in dead[0]["request"]["headers"]
    assert dead[0]["failure"]["error"] == "message has no event_name, event_type or conversion_type"


def test_through_ingest_a_signed_sample_is_queued() -> None:
    outcome, delivered, dead = run_ingest(SOURCE.sign(post(sample_bytes("install.json")), TOKEN), "appsflyer", APPSFLYER_TOKEN=TOKEN)
    assert outcome.status == 200 and not dead
    assert [e["event"] for e in delivered[0]["events"]] == ["Application Installed"]
    forged = run_ingest(post(sample_bytes("install.json"), {"authorization": "nope"}), "appsflyer", APPSFLYER_TOKEN=TOKEN)
    assert forged[0].status == 401 and forged[1] == forged[2] == []


def test_catalog_and_methods() -> None:
    assert load(NAME) is AppsFlyer
    assert AppsFlyer.methods == ("GET", "POST")
