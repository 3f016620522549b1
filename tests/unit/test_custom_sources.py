"""Custom sources (sources/custom/): definitions, presets, JSONata mapping, check-source.

The payloads are the providers' own, credited in examples/custom-sources/*.samples/README.md and events/samples/email/<name>/README.md.
Expected events are literals: messageIds are UUIDv5 values computed once and pinned here.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ciohooks import sources
from ciohooks.cli import main as cli
from ciohooks.config import Settings
from ciohooks.ingest import Ingest, translate
from ciohooks.queue import MemoryQueue
from ciohooks.request import WebhookRequest
from ciohooks.sources import InvalidPayload, NotConfigured, Unauthorized
from ciohooks.sources.custom import BrokenSource, build, load_all
from ciohooks.sources.custom.definition import SCHEMA_PATH, Definition, DefinitionError, read, schema_text, validate
from ciohooks.sources.custom.mapping import Expression
from tests.support.spec import assert_valid_event
from tests.support.sources import Harness

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples" / "custom-sources"
SHIPPED = ROOT / "shared" / "ciohooks" / "sources" / "definitions"  # definitions shipped with the product
MAILERSEND_SAMPLES = ROOT / "events" / "samples" / "email" / "mailersend"
SINGULAR_SAMPLES = EXAMPLES / "singular.samples"
NOW = datetime(2026, 9, 12, 18, 45, 10, tzinfo=UTC)


def source_class(path: Path):
    definition, _ = read(path)
    return build(definition, str(path))


MAILERSEND = source_class(SHIPPED / "mailersend.yaml")
SINGULAR = source_class(EXAMPLES / "singular.yaml")


def mailersend(environ=None):
    return MAILERSEND(Settings({"CIOHOOKS_MAILERSEND_SIGNING_SECRET": "TEST_WEBHOOK_SIGNING_SECRET", **(environ or {})}))


def post(sample: str) -> WebhookRequest:
    return WebhookRequest("POST", "/mailersend", (MAILERSEND_SAMPLES / sample).read_bytes(), {"content-type": "application/json"}, received_at=NOW)


def get(sample: str) -> WebhookRequest:
    return WebhookRequest("GET", "/singular", b"", {}, (SINGULAR_SAMPLES / sample).read_text().strip(), received_at=NOW)


# ---- the worked examples ---------------------------------------------------------------------


# The shared harness: every event checked against the seed specs, every ignored key declared.
HARNESS = Harness("email/mailersend", env={"MAILERSEND_SIGNING_SECRET": "TEST_WEBHOOK_SIGNING_SECRET"}, received=NOW)


def test_mailersend_clicked_v2_becomes_email_link_clicked() -> None:
    assert HARNESS.one(HARNESS.sample("v2-clicked.json")) == {
        "type": "track",
        "event": "Email Link Clicked",
        "anonymousId": "recipient@example.com",
        "messageId": "ab8931f7-2b5d-53fd-8a33-6761ef8d1bb2",
        "timestamp": "2026-09-12T18:45:05Z",
        "context": {"traits": {"email": "recipient@example.com", "ip": "333.1.2.3", "user_agent": "Mozilla/5.0 (Macintosh) AppleWebKit/537.36"}},
        "properties": {"email_id": "6aa59d2fbf35297925087058", "link_url": "https://example.com/test"},
    }


def test_mailersend_legacy_v1_hard_bounce_reads_the_nested_fields() -> None:
    assert HARNESS.one(HARNESS.sample("v1-hard-bounced.json")) == {
        "type": "track",
        "event": "Email Bounced",
        "anonymousId": "invalid@example.com",
        "messageId": "1695df2a-322a-54e4-ab9f-985ca99a8120",
        "timestamp": "2023-02-27T21:48:13.593000Z",
        "context": {"traits": {"email": "invalid@example.com"}},
        "properties": {"email_id": "63fd25194d5edba3da09e044", "bounce_type": "hard", "reason": "Host or domain name not found"},
    }


def test_mailersend_every_sample_is_mapped_or_ignored_and_valid() -> None:
    outcomes = {}
    for sample in sorted(MAILERSEND_SAMPLES.glob("*.json")):
        translation = mailersend().translate(post(sample.name))
        assert not translation.unknown and not translation.failed, sample.name
        for event in translation.events:
            assert_valid_event(event.to_cio())
        outcomes[sample.name] = [e.name for e in translation.events] or sorted(translation.ignored)
    assert outcomes == {
        "docs-maintenance-end.json": ["maintenance.end"],
        "docs-survey-submitted.json": ["activity.survey_submitted"],
        "v1-clicked.json": ["Email Link Clicked"],
        "v1-delivered.json": ["Email Delivered"],
        "v1-hard-bounced.json": ["Email Bounced"],
        "v1-opened.json": ["Email Opened"],
        "v1-unsubscribed.json": ["Email Unsubscribed"],
        "v2-clicked.json": ["Email Link Clicked"],
        "v2-deferred.json": ["activity.deferred"],
        "v2-delivered.json": ["Email Delivered"],
        "v2-hard-bounced.json": ["Email Bounced"],
        "v2-opened.json": ["Email Opened"],
        "v2-sent.json": ["activity.sent"],
        "v2-soft-bounced.json": ["activity.soft_bounced"],
        "v2-spam-complaint.json": ["Email Marked as Spam"],
        "v2-suppressed.json": ["activity.suppressed"],
        "v2-unsubscribed.json": ["Email Unsubscribed"],
        "v2-webhook-test.json": ["webhook.test"],
    }


def test_mailersend_ignored_types_carry_their_reasons_on_the_class() -> None:
    assert MAILERSEND.ignored_types["activity.soft_bounced"].startswith("a soft bounce: MailerSend retries it")
    assert "activity.delivered" not in MAILERSEND.ignored_types


def test_a_definitions_mapping_is_its_event_table() -> None:
    # The same two attributes the built-ins' guide tables are checked against (test_event_tables.py).
    assert SINGULAR.mapped_types == {"install": "Application Installed"}
    assert set(SINGULAR.ignored_types) == {"event", "reengagement"}


def test_mailersend_identity_rules_are_configurable_like_built_ins() -> None:
    (event,) = mailersend({"CIOHOOKS_MAILERSEND_EMAIL_AS": "userId"}).translate(post("v2-delivered.json")).events
    assert event.userId == "recipient@example.com" and event.anonymousId is None


def test_mailersend_signature_over_the_raw_bytes() -> None:
    request = post("v2-delivered.json")
    digest = hmac.new(b"TEST_WEBHOOK_SIGNING_SECRET", request.body, hashlib.sha256).hexdigest()
    mailersend().authenticate(dataclasses.replace(request, headers={**request.headers, "signature": digest}))
    with pytest.raises(Unauthorized, match="Signature signature does not match"):
        mailersend().authenticate(dataclasses.replace(request, body=request.body + b" ", headers={**request.headers, "signature": digest}))
    with pytest.raises(Unauthorized, match="missing or malformed Signature header"):
        mailersend().authenticate(request)
    with pytest.raises(NotConfigured):
        MAILERSEND(Settings({})).authenticate(request)


def test_singular_install_with_and_without_a_user_id() -> None:
    (known,) = SINGULAR(Settings({})).translate(get("install-known-user.query")).events
    assert known.to_cio() == {
        "type": "track",
        "event": "Application Installed",
        "userId": "user-8812",
        "messageId": "ca0ead5f-5d30-5744-b041-14a79e33792a",
        "timestamp": "2024-12-02T10:00:21Z",
        "context": {
            "app": {"name": "Acme Shop", "namespace": "com.example.acmeshop"},
            "os": {"version": "17.5.1"},
            "device": {"id": "5D4C3B2A-1F0E-4D8C-9B7A-6E5D4C3B2A10"},
            "ip": "203.0.113.7",
            "campaign": {"re_engagement": False},
        },
    }
    (device,) = SINGULAR(Settings({})).translate(get("install-device-only.query")).events
    assert device.anonymousId == "8f3c2a10-94be-4d51-a7e2-0c6b5d4e3f21" and device.context.campaign == {"re_engagement": True}
    for event in (known, device):
        assert_valid_event(event.to_cio())
    assert dict(SINGULAR(Settings({})).translate(get("event-purchase.query")).ignored) == {"event": 1}


def test_singular_token_is_checked_and_never_part_of_the_event() -> None:
    settings = Settings({"CIOHOOKS_SINGULAR_POSTBACK_TOKEN": "s3cret-token"})
    signed = SINGULAR.sign(get("install-known-user.query"), "s3cret-token")
    assert signed.raw_query.endswith("&token=s3cret-token")
    source = SINGULAR(settings)
    source.authenticate(signed)
    (event,) = source.translate(signed).events
    assert event.messageId == "ca0ead5f-5d30-5744-b041-14a79e33792a"  # the token is not content
    assert "token" not in json.dumps(signed.to_dict(source.secret_headers, source.secret_query_keys)["query"])
    with pytest.raises(Unauthorized):
        source.authenticate(SINGULAR.sign(get("install-known-user.query"), "wrong"))


# ---- presets ----------------------------------------------------------------------------------

BASE = {
    "name": "acme",
    "family": "email",
    "title": "Acme",
    "type": "kind",
    "id": "id",
    "timestamp": "at",
    "identity": {"fallback": "to"},
    "mapping": {"delivered": {"event": "Email Delivered", "properties": {"email_id": "message"}}, "sent": {"ignore": "not yet delivered"}},
}
BODY = b'[{"kind":"delivered","id":"e1","at":"2026-09-12T18:45:00Z","to":"a@example.com","message":"m1"}]'


def custom(authentication: dict, **extra):
    definition = validate({**BASE, "authentication": authentication, **extra}, "test")
    return build(definition, "test")


def request(headers=None, query="", body=BODY, when=NOW) -> WebhookRequest:
    return WebhookRequest("POST", "/acme", body, {"content-type": "application/json", **(headers or {})}, query, received_at=when, domain="hooks.example.com")


def test_hmac_stripe_style_header_with_timestamp_and_tolerance() -> None:
    klass = custom({"preset": "hmac", "secret": "ACME_SECRET", "header": "Acme-Signature", "signature_key": "v1", "timestamp_key": "t", "signed_content": "{timestamp}.{body}"})
    source = klass(Settings({"CIOHOOKS_ACME_SECRET": "old,new"}))
    stamp = str(int(NOW.timestamp()))
    good = hmac.new(b"new", f"{stamp}.".encode() + BODY, hashlib.sha256).hexdigest()
    source.authenticate(request({"acme-signature": f"t={stamp},v1=deadbeef,v1={good}"}))  # a rotated second signature
    with pytest.raises(Unauthorized, match="more than 300 s"):
        source.authenticate(request({"acme-signature": f"t={stamp},v1={good}"}, when=NOW + timedelta(seconds=301)))
    with pytest.raises(Unauthorized, match="does not match"):
        source.authenticate(request({"acme-signature": f"t={int(stamp) + 1},v1={good}"}))
    assert klass.sign(request(), "new").headers["acme-signature"] == f"t={stamp},v1={good}"


def test_hmac_base64_with_prefix_and_url_sorted_params_template() -> None:
    klass = custom({"preset": "hmac", "secret": "ACME_SECRET", "algorithm": "sha1", "header": "X-Acme-Signature", "encoding": "base64", "prefix": "sha1=", "signed_content": "{url}{sorted_params}"}, body="form", methods=["POST"])
    form = b"b=2&a=1"
    content = b"https://hooks.example.com/acmea1b2"
    good = "sha1=" + base64.b64encode(hmac.new(b"k", content, hashlib.sha1).digest()).decode()
    klass(Settings({"CIOHOOKS_ACME_SECRET": "k"})).authenticate(request({"x-acme-signature": good}, body=form))
    with pytest.raises(Unauthorized, match="missing or malformed"):
        klass(Settings({"CIOHOOKS_ACME_SECRET": "k"})).authenticate(request({"x-acme-signature": good.removeprefix("sha1=")}, body=form))


def test_standard_webhooks_preset_uses_the_shared_module() -> None:
    secret = "whsec_" + base64.b64encode(b"0123456789abcdef01234567").decode()
    klass = custom({"preset": "standard-webhooks", "secret": "ACME_SECRET"})
    signed = klass.sign(request(), secret)
    assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= set(signed.headers)
    klass(Settings({"CIOHOOKS_ACME_SECRET": secret})).authenticate(signed)
    with pytest.raises(Unauthorized):
        klass(Settings({"CIOHOOKS_ACME_SECRET": secret})).authenticate(dataclasses.replace(signed, body=BODY + b" "))


def test_basic_and_token_presets() -> None:
    basic = custom({"preset": "basic", "secret": "ACME_AUTH"})
    basic(Settings({"CIOHOOKS_ACME_AUTH": "u:p"})).authenticate(basic.sign(request(), "u:p"))
    with pytest.raises(Unauthorized):
        basic(Settings({"CIOHOOKS_ACME_AUTH": "u:p"})).authenticate(basic.sign(request(), "u:x"))
    assert basic.secret_headers == frozenset({"authorization"})
    bearer = custom({"preset": "token", "secret": "ACME_TOKEN", "location": "header", "name": "Authorization", "bearer": True})
    bearer(Settings({"CIOHOOKS_ACME_TOKEN": "t0k"})).authenticate(request({"authorization": "Bearer t0k"}))
    with pytest.raises(Unauthorized):
        bearer(Settings({"CIOHOOKS_ACME_TOKEN": "t0k"})).authenticate(request({"authorization": "t0k"}))
    query = custom({"preset": "token", "secret": "ACME_TOKEN", "location": "query", "name": "key"})
    with pytest.raises(Unauthorized, match="does not match"):  # a forged copy next to the right one
        query(Settings({"CIOHOOKS_ACME_TOKEN": "t0k"})).authenticate(request(query="key=t0k&key=forged"))
    assert query.secret_query_keys == frozenset({"key"})


@pytest.mark.parametrize("algorithm", ["ecdsa-sha256", "rsa-sha256", "rsa-pss-sha256"])
def test_public_key_preset(algorithm: str) -> None:
    private = ec.generate_private_key(ec.SECP256R1()) if algorithm.startswith("ecdsa") else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    public = base64.b64encode(private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    klass = custom({"preset": "public-key", "secret": "ACME_PUBLIC_KEY", "algorithm": algorithm, "header": "X-Signature", "timestamp_header": "X-Timestamp", "signed_content": "{timestamp}{body}"})
    source = klass(Settings({"CIOHOOKS_ACME_PUBLIC_KEY": public}))
    signed = klass.sign(request(), pem)
    source.authenticate(signed)
    with pytest.raises(Unauthorized, match="does not match"):
        source.authenticate(dataclasses.replace(signed, body=BODY.replace(b"m1", b"m2")))


def test_none_needs_the_flag_and_logs_every_request(caplog) -> None:
    with pytest.raises(DefinitionError, match=r"^test: /authentication: preset none is refused unless accept_unauthenticated_requests_from_anyone: true"):
        custom({"preset": "none"})
    klass = custom({"preset": "none", "accept_unauthenticated_requests_from_anyone": True})
    klass(Settings({})).authenticate(request())
    assert "SECURITY" in caplog.text and "UNAUTHENTICATED" in caplog.text


# ---- mapping ----------------------------------------------------------------------------------


def test_batches_are_split_and_each_item_isolated() -> None:
    klass = custom({"preset": "none", "accept_unauthenticated_requests_from_anyone": True}, events="events")
    body = json.dumps({"events": [
        {"kind": "delivered", "id": "e1", "at": "2026-09-12T18:45:00Z", "to": "a@example.com", "message": "m1"},
        {"kind": "delivered", "id": "e2", "at": "not a time", "to": "b@example.com", "message": "m2"},
        {"kind": "sent", "id": "e3"},
        {"kind": "bounced", "id": "e4"},
        "not an object",
    ]}).encode()
    translation = klass(Settings({})).translate(request(body=body))
    assert [e.messageId for e in translation.events] == ["2b643537-482e-599b-bf03-5c8008d12847"]
    assert dict(translation.ignored) == {"sent": 1} and dict(translation.unknown) == {"bounced": 1}
    assert translation.failed == ["event 1 (delivered): /timestamp: timestamp is neither epoch time nor ISO-8601", "event 4 is a JSON str, not an object"]



def test_an_ignored_type_of_any_length_stays_ignored() -> None:
    # Declared names are matched whole (only unknown names are cut to 64 characters for the count).
    long_name = "subscriber.preferences.updated.for.every.list.of.the.account.and.more"
    klass = custom({"preset": "none", "accept_unauthenticated_requests_from_anyone": True},
                   mapping={**BASE["mapping"], long_name: {"ignore": "a preference change, not an email event"}})
    translation = translate(klass(Settings({})), request(body=json.dumps([{"kind": long_name, "id": "e9"}]).encode()))
    assert dict(translation.ignored) == {long_name: 1} and not translation.unknown and not translation.incomplete

DIRECT = [
    "$", "data", "data.email", "$.data.email.message.id", "data.items", "data.list.name", "'literal'", '"double"',
    "data.missing.deeper", "data.flag", "data.id", "data.text",
    "$string(data.id)", "$string(data.text)", "$lowercase(data.text)", "$uppercase(data.text)",
    "$substringBefore(data.text, '.filter')", "$substringAfter(data.text, '.')", "$substringBefore(data.missing, 'x')",
    "data.text ? data.text : data.id", "data.missing ? data.text : 'none'", "data.flag ? 'yes' : 'no'",
    "data.empty ? data.empty : data.id", "data.id ? 'number' : 'other'", "data.items ? 'list' : 'none'",
]
DOCUMENTS = [
    {"data": {"email": {"message": {"id": "m"}}, "items": [1, 2], "list": [{"name": "a"}, {"name": "b"}], "flag": False, "id": 12, "text": "Ab.filter0001.c", "empty": ""}},
    {"data": {"id": 2.5, "text": "no dots", "flag": True, "items": [], "empty": None}},
    {"data": None},
    {"data": "scalar"},
    {"data": {"list": {"name": "one"}, "items": [], "text": ["a", "b"]}},
    [{"data": {"email": "x"}}],
]


@pytest.mark.parametrize("text", DIRECT)
def test_direct_reader_gives_what_jsonata_gives(text: str) -> None:
    expression = Expression(text, "/test", "test")
    assert expression._fast is not None, "this shape should be read directly"
    def outcome(run, document):
        try:
            return run(document, {})
        except InvalidPayload as error:  # e.g. $lowercase of a number: the same error either way
            return str(error)

    for document in DOCUMENTS:
        assert outcome(expression, document) == outcome(expression.evaluate, document), (text, document)


def test_expressions_see_payload_headers_and_query() -> None:
    klass = custom({"preset": "token", "secret": "ACME_TOKEN", "location": "query", "name": "key"}, events="events", mapping={"delivered": {"event": "Email Delivered", "properties": {"email_id": "message", "batch": "$payload.batch", "agent": "$headers.`user-agent`", "region": "$query.region", "leak": "$query.key"}}})
    body = json.dumps({"batch": "b7", "events": [{"kind": "delivered", "id": "e1", "to": "a@example.com", "message": "m1"}]}).encode()
    (event,) = klass(Settings({})).translate(request({"user-agent": "Acme/1"}, query="region=eu&key=secret", body=body)).events
    assert event.properties.model_dump(exclude_none=True) == {"email_id": "m1", "batch": "b7", "agent": "Acme/1", "region": "eu"}


# ---- definitions and check-source --------------------------------------------------------------


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def mailersend_variant(tmp_path: Path, old: str, new: str) -> Path:
    text = (SHIPPED / "mailersend.yaml").read_text()
    assert old in text
    return write(tmp_path, "mailersend.yaml", text.replace(old, new, 1))


def run_check(capsys, *args: str) -> tuple[int, str, str]:
    code = cli(["check-source", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_check_source_accepts_the_examples(capsys) -> None:
    code, out, _ = run_check(capsys, SHIPPED / "mailersend.yaml", *sorted(MAILERSEND_SAMPLES.glob("*.json")))
    assert code == 0 and out.endswith("ok (32 expressions compiled; 18 sample(s) -> 11 event(s), valid against the seed specs)\n")


def test_check_source_refuses_bad_jsonata_with_its_pointer(tmp_path, capsys) -> None:
    path = mailersend_variant(tmp_path, 'link_url: "data.meta.url ? data.meta.url : data.morph.url"', 'link_url: "data.meta.url ? : data.morph.url"')
    code, _, err = run_check(capsys, path)
    assert code == 1
    assert err == f"{path}: /mapping/activity.clicked/properties/link_url: JSONata does not compile (S0211: The symbol : cannot be used as a unary operator)\n"


def test_check_source_refuses_a_field_the_spec_forbids(tmp_path, capsys) -> None:
    path = mailersend_variant(tmp_path, "  activity.delivered:\n    event: Email Delivered\n", "  activity.delivered:\n    event: Email Delivered\n    userId: data.recipient\n")
    code, _, err = run_check(capsys, path)
    assert (code, err) == (1, f"{path}: /mapping/activity.delivered/userId: unknown field (the schema forbids it)\n")


def test_check_source_refuses_a_value_the_spec_forbids(tmp_path, capsys) -> None:
    path = mailersend_variant(tmp_path, 'link_url: "data.meta.url ? data.meta.url : data.morph.url"', 'link_url: "$count(data.meta)"')
    sample = MAILERSEND_SAMPLES / "v2-clicked.json"
    code, _, err = run_check(capsys, path, sample)
    assert (code, err) == (1, f"{sample}: event 0 (activity.clicked): invalid /properties/link_url: string_type\n")


def test_check_source_checks_events_against_the_seed_specs() -> None:
    from ciohooks.sources.custom.check import spec_problems

    assert spec_problems({"type": "track", "event": "Email Delivered", "anonymousId": "a", "properties": {"email_id": 7}}) == ["/properties/email_id: does not satisfy type \"string\""]
    assert spec_problems({"type": "track", "event": "Email Delivered", "anonymousId": "a", "properties": {"email_id": "m"}}) == []


def test_check_source_refuses_none_without_the_flag(tmp_path, capsys) -> None:
    text = (SHIPPED / "mailersend.yaml").read_text()
    start, end = text.index("authentication:"), text.index("# One activity")
    path = write(tmp_path, "open.yaml", text[:start] + "authentication:\n  preset: none\n\n" + text[end:])
    code, _, err = run_check(capsys, path)
    assert (code, err) == (1, f"{path}: /authentication: preset none is refused unless accept_unauthenticated_requests_from_anyone: true (anyone who knows the URL could post events)\n")


def test_check_source_refuses_an_event_of_another_family(tmp_path, capsys) -> None:
    path = mailersend_variant(tmp_path, "event: Email Delivered", "event: Application Installed")
    code, _, err = run_check(capsys, path)
    assert (code, err) == (1, f"{path}: /mapping/activity.delivered/event: 'Application Installed' is not an event of the email family (email-events)\n")


def test_the_shipped_schema_is_the_model_and_accepts_the_examples() -> None:
    from jsonschema import Draft202012Validator

    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), "run: python -m ciohooks.sources.custom.definition"
    validator = Draft202012Validator(json.loads(schema_text()))
    for example in (SHIPPED / "mailersend.yaml", SHIPPED / "mailtrap.yaml", EXAMPLES / "singular.yaml"):
        _, document = read(example)
        assert list(validator.iter_errors(document)) == []
    assert list(validator.iter_errors({**BASE, "authentication": {"preset": "hmac", "secret": "lower"}}))


# ---- the catalogue ---------------------------------------------------------------------------


@pytest.fixture
def catalogue(monkeypatch, tmp_path):
    """The catalogue with the examples (and whatever a test writes to tmp_path) as custom sources."""
    monkeypatch.setenv("CIOHOOKS_CUSTOM_SOURCES_DIR", f"{EXAMPLES}:{tmp_path}")
    sources.refresh()
    yield tmp_path
    monkeypatch.delenv("CIOHOOKS_CUSTOM_SOURCES_DIR")
    sources.refresh()


def test_custom_sources_join_the_catalogue(catalogue) -> None:
    assert {"email/mailersend", "mobile/singular"} <= set(sources.names())
    assert "email/sendgrid" in sources.names()
    assert sources.load("mailersend").full_name() == "email/mailersend"
    assert sources.catalog()["email/mailersend"] == f"ciohooks.sources.custom:{SHIPPED / 'mailersend.json'}"  # shipped with the product


def test_a_definition_cannot_take_a_built_in_name(catalogue, caplog) -> None:
    document = {**BASE, "name": "sendgrid", "authentication": {"preset": "basic", "secret": "X_AUTH"}}
    (catalogue / "sendgrid.json").write_text(json.dumps(document))
    (catalogue / "adjust.json").write_text(json.dumps({**document, "name": "adjust"}))  # mobile/adjust's route, in email
    sources.refresh()
    assert sources.load("email/sendgrid").__module__ == "ciohooks.sources.email.sendgrid"
    assert "email/adjust" not in sources.names() and sources.load("adjust").full_name() == "mobile/adjust"
    assert "the route adjust already names a source" in caplog.text


def test_a_broken_definition_fails_closed_on_its_own_route(catalogue) -> None:
    (catalogue / "acme.json").write_text(json.dumps({**BASE, "authentication": {"preset": "none"}}))
    sources.refresh()
    broken = sources.load("email/acme")
    assert issubclass(broken, BrokenSource)
    ingest = Ingest("email", MemoryQueue(), MemoryQueue(), Settings({}))
    assert ingest.handle("acme", request()).status == 503
    # MailerSend ships with the product: without its secret it is simply not set up here, like a
    # built-in module (404); a definition the deployment installed fails closed instead (503).
    assert ingest.handle("mailersend", post("v2-delivered.json")).status == 404


def test_a_type_neither_mapped_nor_ignored_is_unknown_not_ignored(catalogue) -> None:
    body = (MAILERSEND_SAMPLES / "v2-delivered.json").read_bytes().replace(b"activity.delivered", b"activity.brand_new")
    signed = MAILERSEND.sign(dataclasses.replace(post("v2-delivered.json"), body=body), "k")
    source = sources.load("email/mailersend")(Settings({"CIOHOOKS_MAILERSEND_SIGNING_SECRET": "k"}))
    source.authenticate(signed)
    translation = source.translate(signed)
    assert (translation.events, dict(translation.ignored), dict(translation.unknown)) == ([], {}, {"activity.brand_new": 1})
    assert translation.incomplete and translation.reasons() == "unknown event type 'activity.brand_new' (x1)"


def test_load_all_reads_a_folder_of_json_as_the_layer_ships_it(tmp_path) -> None:
    _, document = read(EXAMPLES / "singular.yaml")
    (tmp_path / "singular.json").write_text(json.dumps(document))
    found = load_all(Settings({"CIOHOOKS_CUSTOM_SOURCES_DIR": str(tmp_path)}))
    assert list(found) == ["mobile/singular"] and found["mobile/singular"].methods == ("GET",)
    assert found["mobile/singular"].installed_by_definition  # the deployment's: unconfigured, it fails closed


def test_definition_model_rejects_unknown_top_level_fields() -> None:
    with pytest.raises(DefinitionError, match=r"^x: /colour: unknown field"):
        validate({**BASE, "authentication": {"preset": "basic", "secret": "A"}, "colour": "red"}, "x")
    assert Definition.model_fields["mapping"].is_required()


# ---- the command line and the template ----------------------------------------------------------


def test_translate_and_sources_commands_know_custom_sources(catalogue, capsys) -> None:
    assert cli(["sources"]) == 0
    assert {"email/mailersend", "mobile/singular"} <= set(capsys.readouterr().out.split())
    assert cli(["translate", "email/mailersend", str(MAILERSEND_SAMPLES / "v2-opened.json")]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["body"]["messageId"] == "e1765fdf-bfca-5c32-8572-be85dcbd9f24"


def test_template_outputs_list_custom_sources(catalogue) -> None:
    import runpy

    generator = runpy.run_path(str(ROOT / "scripts" / "template_outputs.py"))
    (entry,) = [e for e in generator["entries"]() if e.full_name == "mobile/singular"]
    assert (entry.output, entry.module_path, entry.secrets) == ("SingularWebhookUrl", "examples/custom-sources/singular.yaml", ["SINGULAR_POSTBACK_TOKEN"])
    assert generator["render_outputs"]([entry]) == (
        "  SingularWebhookUrl:\n"
        '    Description: "mobile/singular (Singular postbacks): the webhook URL of this source; secret <SecretsPrefix>singular-postback-token"\n'
        "    Value: !Sub ${MobileIngestFunctionUrl.FunctionUrl}singular\n"
    )


def test_fuzzed_requests_never_break_a_custom_route(catalogue) -> None:
    """Deterministic (seeded): mutated bodies, queries and signatures get 2xx/4xx/503, never a 500."""
    import random

    rng = random.Random(14)
    settings = Settings({"CIOHOOKS_MAILERSEND_SIGNING_SECRET": "k", "CIOHOOKS_SINGULAR_POSTBACK_TOKEN": "t"})
    email, mobile = Ingest("email", MemoryQueue(), MemoryQueue(), settings), Ingest("mobile", MemoryQueue(), MemoryQueue(), settings)
    bodies = [p.read_bytes() for p in sorted(MAILERSEND_SAMPLES.glob("*.json"))]
    queries = [p.read_text().strip() for p in sorted(SINGULAR_SAMPLES.glob("*.query"))]
    statuses = set()
    for _ in range(300):
        body = bytearray(rng.choice(bodies))
        for _ in range(rng.randint(0, 4)):
            body[rng.randrange(len(body))] = rng.randrange(256)
        signed = MAILERSEND.sign(WebhookRequest("POST", "/mailersend", bytes(body), {}, received_at=NOW), "k")
        statuses.add(email.handle("mailersend", signed).status)
        query = rng.choice(queries)
        cut = rng.randrange(len(query))
        mutated = query[:cut] + rng.choice(["", "%", "&&", "=", "kind=", "timestamp=x", "%ff", "\u00e9"]) + query[cut:]
        statuses.add(mobile.handle("singular", SINGULAR.sign(WebhookRequest("GET", "/singular", b"", {}, mutated, received_at=NOW), "t")).status)
    assert statuses <= {200, 400, 401} and 200 in statuses


def test_every_preset_snippet_in_the_guide_is_valid() -> None:
    """docs/CUSTOM-SOURCES.md restates the presets' fields: each snippet must fit the model."""
    import re

    import yaml

    guide = (ROOT / "docs" / "CUSTOM-SOURCES.md").read_text(encoding="utf-8")
    snippets = [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", guide, re.S)]
    presets = [s["authentication"] for s in snippets if isinstance(s, dict) and isinstance(s.get("authentication"), dict) and "preset" in s["authentication"]]
    assert sorted(p["preset"] for p in presets) == ["basic", "hmac", "none", "public-key", "standard-webhooks", "token"]
    for authentication in presets:
        custom(authentication)  # raises DefinitionError naming the field if the guide drifted
