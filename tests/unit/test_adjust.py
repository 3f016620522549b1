"""Adjust server callbacks source: Adjust's own callback templates filled with its example values.

Samples: events/samples/mobile/adjust (credited in its README.md).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest

from ciohooks.config import ConfigurationError
from ciohooks.request import WebhookRequest
from ciohooks.sources import InvalidPayload, NotConfigured, Unauthorized, load
from ciohooks.sources.mobile.adjust import SOURCE, Adjust, parse_key_map
from tests.support.mobile import SAMPLES, run_ingest, settings
from tests.support.spec import assert_valid_event

FOLDER = SAMPLES / "adjust"
NAME = "mobile/adjust"
SECRET = "local-adjust-secret-1"
ADID = "18546f6171f67e29d1cb983322ad1329"  # Adjust's example {adid}
GPS_ADID = "38400000-8cf0-11bd-b23e-10b96e40000d"
IDFA = "8C6CBCOD-5F43-4765-A6E6-84DFF3D24707"  # as published (an O where a hex digit belongs)
IDFV = "CCB300A0-DE1B-4D48-BC7E-599E453B8DD4"
CREATED = "2014-07-01T11:37:45Z"  # {created_at} example 1404214665


def sample_query(name: str) -> str:
    return (FOLDER / name).read_text().strip()


def params(name: str) -> dict[str, str]:
    return dict(parse_qsl(sample_query(name), keep_blank_values=True))


def with_params(name: str, **extra: str) -> str:
    return urlencode({**params(name), **extra})


def get(query: str) -> WebhookRequest:
    return WebhookRequest("GET", "/adjust", b"", {}, query)


def source(**env: str) -> Adjust:
    return Adjust(settings(**env))


def translate(query: str, **env: str) -> tuple[list[dict[str, Any]], Counter[str]]:
    translation = source(**env).translate(get(query))
    bodies = [event.to_cio() for event in translation.events]
    for body in bodies:
        assert_valid_event(body)
    return bodies, translation.ignored


def one(query: str, **env: str) -> dict[str, Any]:
    bodies, ignored = translate(query, **env)
    assert len(bodies) == 1 and not ignored, (bodies, ignored)
    return bodies[0]


# ---- Adjust's templates, translated ---------------------------------------------------------------------

EXPECTED = {  # the event, its context, and its messageId: the UUIDv5 of the callback's canonical content
    "install.query": ("Application Installed", {"app": {"name": "MyApp"}, "device": {"advertisingId": GPS_ADID}}, "e6e54640-29c9-5ced-91ff-011d26b2380f"),
    "reinstall.query": ("Application Installed", {"app": {"name": "MyApp"}, "device": {"advertisingId": GPS_ADID}}, "9860ecd8-599c-5ffb-9b2e-abee0b11fc14"),
    "session.query": ("Application Opened", {"app": {"name": "MyApp"}, "device": {"id": IDFV, "advertisingId": IDFA}}, "82faf2cf-6744-572b-9f8c-be9229d7684d"),
    "uninstall.query": ("Application Uninstalled", {"app": {"name": "MyApp"}}, "8ff9ba5c-6205-5413-943d-b47e83b342c7"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_translates_to_exactly_this(name: str) -> None:
    event, context, message_id = EXPECTED[name]
    assert one(sample_query(name)) == {
        "type": "track",
        "event": event,
        "anonymousId": ADID,
        "messageId": message_id,
        "timestamp": CREATED,
        "context": context,
    }


def test_in_app_event_is_counted_not_translated() -> None:
    assert translate(sample_query("event.query")) == ([], Counter({"event": 1}))


def test_adjusts_own_session_callback_example_without_adid_is_attributed_to_its_advertising_id() -> None:
    """Issue 13: Adjust's "Session callback example" (Session callbacks article, credited in the
    samples README) has gps_adid and idfa but no adid. It used to be refused ("no adid")."""
    translation = source().translate(get(sample_query("session-callback-example.query")))
    assert not translation.failed and not translation.unknown
    assert [event.to_cio() for event in translation.events] == [{
        "type": "track",
        "event": "Application Opened",
        "anonymousId": "38400000-8cf0-11bd-b23e-10b96e40000d",
        "messageId": "f2b0886a-941f-54db-b104-1e162baebf75",
        "timestamp": "2014-07-01T11:37:45Z",
        "context": {"app": {"name": "MyApp"}, "device": {"advertisingId": "38400000-8cf0-11bd-b23e-10b96e40000d"}},
    }]


def test_device_id_order_and_all_zero_advertising_ids() -> None:
    """Mobile policy: adid, then idfv, android_id, then gps_adid, idfa; a zeroed IDFA (ATT not
    authorised) names every opted-out device, so it counts as not sent."""
    ios = urlencode({"activity_kind": "session", "idfa": "00000000-0000-0000-0000-000000000000", "idfv": IDFV})
    assert one(ios)["anonymousId"] == IDFV and "advertisingId" not in one(ios)["context"]["device"]
    zeroed = urlencode({"activity_kind": "session", "idfa": "00000000-0000-0000-0000-000000000000"})
    assert source().translate(get(zeroed)).failed == ["session callback has no user id and no device id (adid, idfv, android_id, gps_adid, idfa)"]
    assert one(urlencode({"activity_kind": "session", "gps_adid": GPS_ADID, "idfv": IDFV, "adid": ADID}))["anonymousId"] == ADID


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("reattribution_reinstall", "Application Installed"), ("reattribution", None), ("click", None), ("rejected_install", None)],
)
def test_other_activity_kinds(kind: str, expected: str | None) -> None:
    bodies, ignored = translate(with_params("install.query", activity_kind=kind))
    if expected:
        assert [b["event"] for b in bodies] == [expected] and not ignored
    else:
        assert bodies == [] and ignored == Counter({kind: 1})


def test_an_undocumented_activity_kind_is_unknown_and_kept() -> None:
    translation = source().translate(get(with_params("install.query", activity_kind="sk_install")))
    assert not translation.events and not translation.ignored and translation.unknown == Counter({"sk_install": 1})
    assert translation.incomplete


def test_version_os_and_device_placeholders_go_to_properties_and_context() -> None:
    query = with_params(
        "session.query",
        app_version_short="2.1.0", os_name="ios", os_version="17.2", device_name="iPhone15,2",
        device_type="phone", device_manufacturer="Apple", country="de", ip_address="192.0.2.7",
    )  # fmt: skip
    body = one(query)
    assert body["properties"] == {"version": "2.1.0"}
    assert body["context"] == {
        "app": {"name": "MyApp", "version": "2.1.0"},
        "device": {"id": IDFV, "advertisingId": IDFA, "manufacturer": "Apple", "model": "iPhone15,2", "type": "phone"},
        "os": {"name": "ios", "version": "17.2"},
        "ip": "192.0.2.7",
        "location": {"country": "de"},
    }


def test_nothing_is_invented_for_build_or_from_background() -> None:
    body = one(with_params("session.query", app_version="421", app_version_short="2.1.0"))
    assert body["properties"] == {"version": "2.1.0"}  # {app_version} is not a build on every platform
    assert "from_background" not in json.dumps(body)
    mapped = one(with_params("session.query", app_version="421"), ADJUST_KEY_MAP="build=app_version")
    assert mapped["properties"] == {"build": "421"} and mapped["context"]["app"]["build"] == "421"


def test_uninstall_carries_no_version_properties() -> None:
    assert "properties" not in one(with_params("uninstall.query", app_version_short="2.1.0"))


# ---- absent placeholders ----------------------------------------------------------------------------------


def test_unreplaced_and_empty_placeholders_are_absent() -> None:
    query = with_params("install.query", idfa="{idfa}", idfv="", os_name="{os_name}", app_version_short="{app_version_short}")
    body = one(query)
    assert body["context"] == {"app": {"name": "MyApp"}, "device": {"advertisingId": GPS_ADID}}
    assert "properties" not in body


def test_unreplaced_adid_names_nobody() -> None:
    translation = source().translate(get(with_params("uninstall.query", adid="{adid}")))
    assert not translation.events and translation.failed == [
        "uninstall callback has no user id and no device id (adid, idfv, android_id, gps_adid, idfa)"
    ]


def test_keys_missing_entirely_are_absent_too() -> None:
    query = urlencode({"activity_kind": "session", "adid": ADID})
    assert one(query) == {
        "type": "track",
        "event": "Application Opened",
        "anonymousId": ADID,
        "messageId": "74caef8c-d152-5133-b165-db2cfc310eee",  # UUIDv5 of the canonical callback content
    }


# ---- key map and identity -------------------------------------------------------------------------------


def test_key_map_reads_the_customers_own_keys() -> None:
    query = urlencode({"kind": "install", "device": ADID, "ts": "1404214665", "v": "3.0"})
    body = one(query, ADJUST_KEY_MAP="activity_kind=kind, adid=device,created_at=ts,version=v")
    assert body["event"] == "Application Installed" and body["anonymousId"] == ADID
    assert body["timestamp"] == CREATED and body["properties"] == {"version": "3.0"}


def test_a_broken_setting_is_a_configuration_error_when_the_source_is_built() -> None:
    with pytest.raises(ConfigurationError, match="not one of"):
        parse_key_map("colour=blue")
    for env in ({"ADJUST_KEY_MAP": "nonsense"}, {"ADJUST_ID_AS": "email"}, {"ADJUST_SECRET_PARAM": "a b"}):
        with pytest.raises(ConfigurationError, match=next(iter(env)).split("_ID_AS")[0]) as caught:
            source(**env)
        assert next(iter(env.values())) not in str(caught.value)


def test_session_callback_parameter_user_id_wins() -> None:
    body = one(with_params("session.query", user_id="u-42"))
    assert body["userId"] == "u-42" and "anonymousId" not in body


def test_user_id_keys_and_id_as_are_configurable() -> None:
    assert one(with_params("session.query", customer="c-7"), ADJUST_USER_ID_KEYS="customer")["userId"] == "c-7"
    body = one(sample_query("session.query"), ADJUST_ID_AS="userId")
    assert body["userId"] == ADID and "anonymousId" not in body


def test_message_id_ignores_the_secret_and_is_deterministic() -> None:
    plain = one(sample_query("install.query"))["messageId"]
    assert one(with_params("install.query", secret=SECRET))["messageId"] == plain
    assert one(with_params("install.query", created_at="1404214666"))["messageId"] != plain


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        (urlencode({"adid": ADID}), "no activity kind"),
        (with_params("install.query", created_at="yesterday"), "created_at"),
    ],
)
def test_untranslatable_callbacks(query: str, reason: str) -> None:
    translation = source().translate(get(query)) if "activity_kind" in query else None
    if translation is None:
        with pytest.raises(InvalidPayload, match=reason):
            source().translate(get(query))
    else:
        assert not translation.events and len(translation.failed) == 1 and reason in translation.failed[0]
        assert "yesterday" not in translation.failed[0]


# ---- authentication -------------------------------------------------------------------------------------


def test_valid_secret_parameter() -> None:
    source(ADJUST_SECRET=SECRET).authenticate(get(with_params("install.query", secret=SECRET)))


def test_sign_appends_the_secret_authenticate_checks() -> None:
    signed = SOURCE.sign(get(sample_query("install.query")), SECRET)
    assert signed.raw_query.startswith(sample_query("install.query") + "&")
    source(ADJUST_SECRET=SECRET).authenticate(signed)
    assert SOURCE.sign(get(""), SECRET).raw_query == urlencode({"secret": SECRET})


def test_custom_secret_parameter_name() -> None:
    env = {"ADJUST_SECRET": SECRET, "ADJUST_SECRET_PARAM": "k"}
    source(**env).authenticate(get(with_params("install.query", k=SECRET)))
    with pytest.raises(Unauthorized, match="missing"):
        source(**env).authenticate(get(with_params("install.query", secret=SECRET)))


@pytest.mark.parametrize(
    "query",
    [
        pytest.param(with_params("install.query", secret=SECRET + "0"), id="longer"),
        pytest.param(with_params("install.query", secret=SECRET.upper()), id="case"),
        pytest.param(with_params("install.query", secret=""), id="empty"),
        pytest.param(sample_query("install.query") + f"&secret={SECRET}&secret=guess", id="second copy forged"),
        pytest.param(with_params("install.query", secret="{secret}"), id="placeholder"),
    ],
)
def test_forged_secret_is_refused(query: str) -> None:
    with pytest.raises(Unauthorized) as caught:
        source(ADJUST_SECRET=SECRET).authenticate(get(query))
    assert SECRET not in str(caught.value)


def test_missing_secret_is_refused() -> None:
    with pytest.raises(Unauthorized, match="missing"):
        source(ADJUST_SECRET=SECRET).authenticate(get(sample_query("install.query")))


def test_without_a_configured_secret_every_request_is_refused() -> None:
    with pytest.raises(NotConfigured):
        source().authenticate(get(with_params("install.query", secret=SECRET)))


def test_allow_unsigned_lets_requests_in_loudly(caplog: pytest.LogCaptureFixture) -> None:
    source(ALLOW_UNSIGNED="1").authenticate(get(sample_query("install.query")))
    assert "UNAUTHENTICATED mobile/adjust" in caplog.text


def test_the_secret_is_never_stored() -> None:
    request = get(urlencode({"adid": ADID, "k": SECRET}))
    outcome, delivered, dead = run_ingest(request, "adjust", ADJUST_SECRET=SECRET, ADJUST_SECRET_PARAM="k")
    assert outcome.status == 200 and not delivered and len(dead) == 1
    assert SECRET not in json.dumps(dead) and "k" not in dict(parse_qsl(dead[0]["request"]["query"]))
    assert dead[0]["failure"]["error"] == "callback has no activity kind (query key 'activity_kind')"


def test_through_ingest_only_get_is_taken() -> None:
    signed = SOURCE.sign(get(sample_query("session.query")), SECRET)
    outcome, delivered, _ = run_ingest(signed, "adjust", ADJUST_SECRET=SECRET)
    assert outcome.status == 200 and [e["event"] for e in delivered[0]["events"]] == ["Application Opened"]
    post = WebhookRequest("POST", "/adjust", b"{}", {}, signed.raw_query)
    assert run_ingest(post, "adjust", ADJUST_SECRET=SECRET)[0].status == 405


def test_catalog() -> None:
    assert load(NAME) is Adjust
