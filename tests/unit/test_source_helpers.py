"""What the source modules share: fail-closed secrets (base.Source), static credentials
(_credentials), Standard Webhooks (_standard_webhooks), translation helpers (_translation) and the
mobile context readers (mobile/_context).

Each source's own tests exercise these through its scheme and samples; these pin the shared rules
themselves, so a change to a helper shows here first.
"""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime
from typing import ClassVar
from urllib.parse import parse_qsl

import pytest

from ciohooks.config import Settings
from ciohooks.request import WebhookRequest
from ciohooks.semantic.email import EmailOpened
from ciohooks.sources import InvalidPayload, NotConfigured, Source, Unauthorized
from ciohooks.sources import _credentials as credentials
from ciohooks.sources import _standard_webhooks as standard_webhooks
from ciohooks.sources._translation import email_event, event_objects, load_json, optional_timestamp, query_dict, timestamp_of
from ciohooks.sources.mobile._context import compact, flag, text

# The Standard Webhooks test vector (standard-webhooks/standard-webhooks libraries/python/tests/test_webhooks.py)
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


class Probe(Source):
    family: ClassVar[str] = "email"
    name: ClassVar[str] = "probe"
    secret_names: ClassVar[tuple[str, ...]] = ("PROBE_KEY",)


def probe(**env: str) -> Probe:
    return Probe(Settings({f"CIOHOOKS_{k}": v for k, v in env.items()}))


def request(headers: dict[str, str] | None = None, body: bytes = b"{}", query: str = "", received: float = VECTOR_TIMESTAMP) -> WebhookRequest:
    return WebhookRequest("POST", "/probe", body, headers or {}, raw_query=query, received_at=datetime.fromtimestamp(received, UTC))


# ---- base.Source: fail closed -------------------------------------------------------------------------


def test_a_configured_secret_is_returned() -> None:
    assert probe(PROBE_KEY="k3y").secret_or_open("PROBE_KEY") == "k3y"


@pytest.mark.parametrize("value", [None, "", "   "])
def test_a_missing_or_blank_secret_fails_closed(value: str | None) -> None:
    env = {} if value is None else {"PROBE_KEY": value}
    with pytest.raises(NotConfigured, match="^secret PROBE_KEY is not configured, so every request is refused$"):
        probe(**env).secret_or_open("PROBE_KEY")


def test_allow_unsigned_opens_loudly_under_the_sources_own_logger(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert probe(ALLOW_UNSIGNED="true").secret_or_open("PROBE_KEY") is None
    (record,) = caplog.records
    assert record.name == __name__ and record.levelno == logging.WARNING
    assert record.getMessage() == (
        "SECURITY: accepting an UNAUTHENTICATED email/probe request: PROBE_KEY is not configured and "
        "CIOHOOKS_ALLOW_UNSIGNED is on. Anyone can post events to this endpoint."
    )


def test_allow_unsigned_changes_nothing_once_the_secret_is_set(caplog: pytest.LogCaptureFixture) -> None:
    assert probe(ALLOW_UNSIGNED="true", PROBE_KEY="k3y").secret_or_open("PROBE_KEY") == "k3y"
    assert not caplog.records


def test_several_credentials_any_of_which_may_be_configured(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(NotConfigured, match="^neither PROBE_BASIC nor PROBE_TOKEN is configured, so every request is refused$"):
        probe().refuse_or_open("PROBE_BASIC", "PROBE_TOKEN")
    with caplog.at_level(logging.WARNING):
        probe(ALLOW_UNSIGNED="1").refuse_or_open("PROBE_BASIC", "PROBE_TOKEN")
    assert "neither PROBE_BASIC nor PROBE_TOKEN is not configured" not in caplog.text
    assert "UNAUTHENTICATED email/probe request: neither PROBE_BASIC nor PROBE_TOKEN is configured" in caplog.text


def test_tolerance_seconds() -> None:
    assert probe().tolerance_seconds("PROBE_TOLERANCE_SECONDS", 300) == 300
    assert probe(PROBE_TOLERANCE_SECONDS="0").tolerance_seconds("PROBE_TOLERANCE_SECONDS", 300) == 0
    with pytest.raises(NotConfigured, match="PROBE_TOLERANCE_SECONDS must not be negative"):
        probe(PROBE_TOLERANCE_SECONDS="-1").tolerance_seconds("PROBE_TOLERANCE_SECONDS", 300)


# ---- _credentials -------------------------------------------------------------------------------------


def basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc", "abc"), ("bearer abc ", "abc"), ("  BEARER   abc", "abc"), ("Bearer", None), ("Basic abc", None), ("abc", None), (None, None), ("", None)],
)
def test_bearer(header: str | None, token: str | None) -> None:
    assert credentials.bearer(header) == token


@pytest.mark.parametrize(
    ("header", "pair"),
    [
        (basic("user:pa:ss"), "user:pa:ss"),
        (basic("user:").replace("Basic", "basic"), "user:"),
        (basic("nocolon"), None),  # RFC 7617 user-pass always has a colon
        ("Basic !!!", None),
        ("Basic " + base64.b64encode(b"\xff:\xfe").decode(), None),  # not UTF-8
        ("Bearer " + base64.b64encode(b"a:b").decode(), None),
        ("Basic", None),
        (None, None),
    ],
)
def test_basic(header: str | None, pair: str | None) -> None:
    assert credentials.basic(header) == pair


def test_matches_one_value_or_any_of_several() -> None:
    assert credentials.matches("s3cret", "s3cret")
    assert not credentials.matches("s3cret ", "s3cret")  # exact: callers strip when they mean to
    assert not credentials.matches("s3cre", "s3cret") and not credentials.matches(None, "s3cret")
    assert credentials.matches("new", ["old", "new"]) and not credentials.matches("other", ["old", "new"])
    assert not credentials.matches("anything", [])


def test_require_names_what_failed_never_a_value() -> None:
    credentials.require("s3cret", "s3cret", "probe token")
    with pytest.raises(Unauthorized, match="^missing or malformed probe token$"):
        credentials.require(None, "s3cret", "probe token")
    with pytest.raises(Unauthorized, match="^missing or malformed probe token$"):
        credentials.require("", "s3cret", "probe token")
    with pytest.raises(Unauthorized, match="^probe token does not match$"):
        credentials.require("guess", "s3cret", "probe token")


def test_require_every_copy() -> None:
    credentials.require_every(["s3cret", "s3cret"], "s3cret", "probe secret")
    with pytest.raises(Unauthorized, match="does not match"):
        credentials.require_every(["s3cret", "forged"], "s3cret", "probe secret")
    with pytest.raises(Unauthorized, match="missing"):
        credentials.require_every([], "s3cret", "probe secret")


def test_query_values_keeps_every_copy() -> None:
    assert credentials.query_values(request(query="a=1&secret=x%20y&secret=&b=2"), "secret") == ["x y", ""]
    assert credentials.query_values(request(), "secret") == []


def test_several_and_basic_secret() -> None:
    assert credentials.several("PROBE_KEYS", " a, b ,,c ") == ["a", "b", "c"]
    with pytest.raises(NotConfigured, match="^PROBE_KEYS is empty$"):
        credentials.several("PROBE_KEYS", " , ")
    assert credentials.basic_secret("PROBE_BASIC", "u:p") == "u:p"
    with pytest.raises(NotConfigured, match="^PROBE_BASIC must be user:password$") as caught:
        credentials.basic_secret("PROBE_BASIC", "s3cret")
    assert "s3cret" not in str(caught.value)


def test_signing_helpers_produce_what_the_readers_accept() -> None:
    signed = credentials.with_header(request({"content-type": "application/json"}), "authorization", credentials.basic_header("u:p"))
    assert signed.headers == {"content-type": "application/json", "authorization": "Basic dTpw"}
    assert credentials.basic(signed.header("authorization")) == "u:p"
    assert credentials.bearer(credentials.bearer_header("t0k")) == "t0k"


# ---- _standard_webhooks ------------------------------------------------------------------------------


def vector(prefix: str = "webhook") -> dict[str, str]:
    return {f"{prefix}-id": VECTOR_ID, f"{prefix}-timestamp": str(VECTOR_TIMESTAMP), f"{prefix}-signature": VECTOR_SIGNATURE}


def test_the_vector_verifies_under_each_prefix_a_source_reads() -> None:
    assert standard_webhooks.verify(request(vector(), VECTOR_BODY), VECTOR_SECRET, secret_name="X", tolerance_seconds=0) == VECTOR_ID
    assert standard_webhooks.verify(request(vector("svix"), VECTOR_BODY), VECTOR_SECRET, secret_name="X", tolerance_seconds=0, prefixes=standard_webhooks.SVIX) == VECTOR_ID
    assert standard_webhooks.verify(request(vector(), VECTOR_BODY), VECTOR_SECRET, secret_name="X", tolerance_seconds=0, prefixes=standard_webhooks.SVIX) == VECTOR_ID
    with pytest.raises(Unauthorized, match="^missing Standard Webhooks header\\(s\\): webhook-id, webhook-timestamp, webhook-signature$"):
        standard_webhooks.verify(request(vector("svix"), VECTOR_BODY), VECTOR_SECRET, secret_name="X", tolerance_seconds=0)


def test_the_window_is_measured_from_receipt() -> None:
    late = request(vector(), VECTOR_BODY, received=VECTOR_TIMESTAMP + 301)
    with pytest.raises(Unauthorized, match="^webhook-timestamp is more than 300 s from the time of receipt$"):
        standard_webhooks.verify(late, VECTOR_SECRET, secret_name="X", tolerance_seconds=300)
    standard_webhooks.verify(late, VECTOR_SECRET, secret_name="X", tolerance_seconds=301)


def test_rotation_any_configured_secret() -> None:
    other = "whsec_" + base64.b64encode(bytes(range(32))).decode()
    standard_webhooks.verify(request(vector(), VECTOR_BODY), f"{other}, {VECTOR_SECRET}", secret_name="X", tolerance_seconds=0)
    with pytest.raises(Unauthorized, match="^webhook-signature does not match$"):
        standard_webhooks.verify(request(vector(), VECTOR_BODY), other, secret_name="X", tolerance_seconds=0)


@pytest.mark.parametrize(
    ("secret", "reason"),
    [("whsec_%%%", "PROBE_SECRET is not a Standard Webhooks secret"), ("whsec_" + base64.b64encode(b"x" * 23).decode(), "shorter than 24 bytes"), (",", "PROBE_SECRET is empty")],
)
def test_a_bad_secret_is_a_configuration_error_naming_the_setting(secret: str, reason: str) -> None:
    with pytest.raises(NotConfigured, match=reason) as caught:
        standard_webhooks.verify(request(vector(), VECTOR_BODY), secret, secret_name="PROBE_SECRET", tolerance_seconds=0)
    assert secret.removeprefix("whsec_") not in str(caught.value)


def test_sign_keeps_a_given_id_replaces_old_signatures_and_verifies() -> None:
    stale = {"content-type": "application/json", "svix-id": VECTOR_ID, "svix-signature": "v1,old", "webhook-signature": "v1,old"}
    signed = standard_webhooks.sign(request(stale, VECTOR_BODY), VECTOR_SECRET, prefixes=standard_webhooks.SVIX)
    assert signed.headers == {"content-type": "application/json", **vector("svix")}
    derived = standard_webhooks.sign(request({}, VECTOR_BODY), VECTOR_SECRET, id_length=27)
    assert derived.headers["webhook-id"].startswith("msg_") and len(derived.headers["webhook-id"]) == 4 + 27
    standard_webhooks.verify(derived, VECTOR_SECRET, secret_name="X", tolerance_seconds=0)


# ---- _translation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["", "a=1&b=2", "a=1&a=2", "a&b=&=c&&", "k=x+y%20z%2B", "%6B%65y=%E2%9C%93", "bad=%zz%4", "e=%ff%fe", "x=a=b", "+=+", "a=%", "utf=caf%C3%A9+%C3"],
)
def test_query_dict_reads_a_query_as_parse_qsl_does(query: str) -> None:
    assert query_dict(query) == dict(parse_qsl(query, keep_blank_values=True))


def test_load_json_and_event_objects() -> None:
    assert load_json(b'{"id": 19421777835146490}', parse_int=str) == {"id": "19421777835146490"}
    with pytest.raises(InvalidPayload, match=r"^body is not JSON \(JSONDecodeError\)$"):
        load_json(b"{not json")
    with pytest.raises(InvalidPayload, match=r"^body is not JSON \(UnicodeDecodeError\)$"):
        load_json(b"\xff\xfe\xfd")
    assert event_objects(b'{"event": "open"}', single=True) == [{"event": "open"}]
    with pytest.raises(InvalidPayload, match="^body is a JSON dict, not an array of events$"):
        event_objects(b'{"event": "open"}', single=False)
    with pytest.raises(InvalidPayload, match="^event 0 is a JSON str, not an object$"):
        event_objects(b'"open"', single=True)
    with pytest.raises(InvalidPayload, match="^event 1 has no event type$"):
        event_objects(b'[{"event": "open"}, {"event": ""}]', single=False)


def test_timestamps_name_the_field() -> None:
    assert timestamp_of(1513299569, "event 0") == datetime(2017, 12, 15, 0, 59, 29, tzinfo=UTC)
    assert optional_timestamp(None, "event 0: ts") is None
    with pytest.raises(InvalidPayload, match="^event 0: ts: "):
        optional_timestamp("soon", "event 0: ts")


def test_email_event_leaves_out_what_was_not_sent() -> None:
    when = datetime(2017, 12, 15, tzinfo=UTC)
    event = email_event(EmailOpened, {"anonymousId": "a@b.c"}, "m1", when, {"email_id": "e1", "campaign_id": None}, {"email": "a@b.c", "ip": None}, "event 0")
    assert event.to_cio()["properties"] == {"email_id": "e1"} and event.to_cio()["context"] == {"traits": {"email": "a@b.c"}}
    anonymous = email_event(EmailOpened, {"userId": "u1"}, "m1", when, {"email_id": "e1"}, {"email": None}, "event 0")
    assert "context" not in anonymous.to_cio()
    with pytest.raises(InvalidPayload, match=r"^event 3: invalid properties.email_id \(missing\)$"):
        email_event(EmailOpened, {"userId": "u1"}, "m1", when, {}, {}, "event 3")


# ---- mobile/_context ---------------------------------------------------------------------------------


def test_context_readers() -> None:
    data = {"blank": "  ", "n": 12, "f": 1.5, "yes": True, "s": "x"}
    assert text(data, "missing", "blank", "n") == "12" and text(data, "f") == "1.5" and text(data, "yes") is None and text(data, "s") == "x"
    assert [flag(v) for v in (True, " TRUE ", "false", "1", None)] == [True, True, False, None, None]
    assert compact({"a": None, "b": {"c": None}, "d": {"e": 0, "f": {}}, "g": False}) == {"d": {"e": 0}, "g": False}


# ---- parses before authentication are bounded (request.loads_json) ------------------------------

DEEP = b"[" * 100_000 + b"]" * 100_000  # deeper than any webhook: json.loads raises RecursionError on it


def deep_request(body: bytes = DEEP) -> WebhookRequest:
    return WebhookRequest("POST", "/x", body, {"content-type": "application/json"}, received_at=datetime(2026, 12, 2, tzinfo=UTC))


def test_pre_authentication_parses_treat_a_hostile_body_as_not_json():
    from ciohooks.sources import InvalidPayload, Unauthorized
    from ciohooks.sources._customerio_loop import customerio_webhook
    from ciohooks.sources.email import mailgun, ses, sparkpost
    from ciohooks.sources.mobile import auth0

    assert mailgun.signature_block(deep_request()) is None
    assert mailgun.SOURCE(Settings({})).reply_after_accept(deep_request()) is None
    assert sparkpost.SOURCE(Settings({})).reply_before_auth(deep_request()) is None
    assert customerio_webhook(deep_request()) is None
    with pytest.raises(Unauthorized, match="not JSON"):
        ses.parse_envelope(DEEP)
    with pytest.raises(InvalidPayload):
        auth0.parse_records(DEEP)


def test_nested_json_strings_inside_items_are_bounded_too():
    from ciohooks.sources.email import brevo, mailjet

    deep = DEEP.decode()
    assert brevo.tags({"tag": deep}) == [deep]
    assert brevo.custom_header({"X-Mailin-custom": "{" + deep}) == {}
    assert mailjet.metadata({"Payload": "{" + deep}) == {}
