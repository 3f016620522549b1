"""ciohooks.doctor: settings-level checks with fake AWS clients and a fake Customer.io.

One test runs the same checks against moto's in-process AWS (real boto3 requests and responses);
the CLI against moto's server is in tests/integration/test_cli_dlq.py.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from ciohooks import doctor, sources
from ciohooks.config import Settings
from ciohooks.doctor import AwsClients, Doctor, DoctorOptions, locate_secret, report, run_doctor, secret_settings_of, settings_from_stack

KEY_VALUE = "cio-key-VALUE-that-must-never-be-printed"
SOURCE_SECRET_VALUE = "source-secret-VALUE-that-must-never-be-printed"
DELIVERY_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/cio-hooks-delivery"
DLQ_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/cio-hooks-dead-letter"


class ClientError(Exception):
    """Shaped like botocore's: ``response["Error"]["Code"]``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.response = {"Error": {"Code": code}}


class FakeSqs:
    def __init__(self, depths: dict[str, tuple[int, int]] | None = None) -> None:
        self.depths = depths if depths is not None else {DELIVERY_URL: (0, 0), DLQ_URL: (0, 0)}

    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> dict[str, Any]:
        if QueueUrl not in self.depths:
            raise ClientError("AWS.SimpleQueueService.NonExistentQueue")
        waiting, in_flight = self.depths[QueueUrl]
        return {"Attributes": {"ApproximateNumberOfMessages": str(waiting), "ApproximateNumberOfMessagesNotVisible": str(in_flight)}}


class FakeSecretsManager:
    def __init__(self, secrets: dict[str, str], deleted: set[str] = frozenset(), no_value: set[str] = frozenset()) -> None:
        self.secrets, self.deleted, self.no_value = secrets, deleted, no_value
        self.read: list[str] = []

    def describe_secret(self, SecretId: str) -> dict[str, Any]:
        if SecretId not in self.secrets:
            raise ClientError("ResourceNotFoundException")
        described: dict[str, Any] = {"Name": SecretId, "VersionIdsToStages": {"v1": ["AWSPREVIOUS"] if SecretId in self.no_value else ["AWSCURRENT"]}}
        if SecretId in self.deleted:
            described["DeletedDate"] = "2026-01-01T00:00:00Z"
        return described

    def get_secret_value(self, SecretId: str) -> dict[str, Any]:
        self.read.append(SecretId)
        return {"SecretString": self.secrets[SecretId]}


class FakeSsm:
    def __init__(self, parameters: dict[str, tuple[str, str]]) -> None:
        self.parameters = parameters  # name -> (type, value)
        self.read: list[str] = []

    def describe_parameters(self, ParameterFilters: list[dict[str, Any]]) -> dict[str, Any]:
        (name,) = ParameterFilters[0]["Values"]
        assert ParameterFilters[0]["Key"] == "Name" and ParameterFilters[0]["Option"] == "Equals"
        return {"Parameters": [{"Name": name, "Type": self.parameters[name][0]}] if name in self.parameters else []}

    def get_parameter(self, Name: str, WithDecryption: bool) -> dict[str, Any]:
        assert WithDecryption
        self.read.append(Name)
        return {"Parameter": {"Value": self.parameters[Name][1]}}


class FakeDynamoDb:
    def __init__(self, tables: dict[str, str]) -> None:
        self.tables = tables  # name -> TTL status

    def describe_table(self, TableName: str) -> dict[str, Any]:
        if TableName not in self.tables:
            raise ClientError("ResourceNotFoundException")
        return {"Table": {"TableStatus": "ACTIVE"}}

    def describe_time_to_live(self, TableName: str) -> dict[str, Any]:
        return {"TimeToLiveDescription": {"TimeToLiveStatus": self.tables[TableName]}}


class FakeAws:
    def __init__(self, **clients: Any) -> None:
        self.sqs = clients.get("sqs", FakeSqs())
        self.secretsmanager = clients.get("secretsmanager", FakeSecretsManager({}))
        self.ssm = clients.get("ssm", FakeSsm({}))
        self.dynamodb = clients.get("dynamodb", FakeDynamoDb({}))


class FakeCustomerIo:
    """Answers the probe; records what it was sent."""

    def __init__(self, status: int = 200, valid_key: str = KEY_VALUE) -> None:
        self.status, self.valid_key = status, valid_key
        self.calls: list[dict[str, Any]] = []

    def __call__(self, url: str, **kwargs: Any) -> int:
        self.calls.append({"url": url, **kwargs})
        if kwargs["auth"] != (self.valid_key, ""):
            return 401
        return self.status


def aws_settings(**extra: str) -> Settings:
    return Settings({
        "CIOHOOKS_DELIVERY_QUEUE_URL": DELIVERY_URL,
        "CIOHOOKS_DEAD_LETTER_QUEUE_URL": DLQ_URL,
        "CIOHOOKS_SECRETS_PREFIX": "/cio-hooks/",
        "CIOHOOKS_SECRETS_STORE": "secretsmanager",
        "CIOHOOKS_SOURCES": "sendgrid",
        **extra,
    })


def run(d: Doctor) -> tuple[int, str]:
    out = io.StringIO()
    status = report(d.run(), out)
    return status, out.getvalue()


def healthy_secrets(**more: str) -> FakeSecretsManager:
    return FakeSecretsManager({"/cio-hooks/customerio-api-key": KEY_VALUE, "/cio-hooks/sendgrid-verification-key": SOURCE_SECRET_VALUE, **more})


def assert_no_secret_values(text: str) -> None:
    assert KEY_VALUE not in text and SOURCE_SECRET_VALUE not in text


# ---- the whole report -------------------------------------------------------------------------------


def test_everything_in_place_exits_0_and_verifies_the_key_with_an_empty_strict_batch() -> None:
    cio = FakeCustomerIo(200)
    status, text = run(Doctor(aws_settings(), FakeAws(secretsmanager=healthy_secrets()), http_post=cio))
    assert status == 0, text
    assert "[MISSING]" not in text and "[ERROR]" not in text
    assert "accepted by https://cdp.customer.io" in text
    (call,) = cio.calls
    assert call["url"] == "https://cdp.customer.io/v1/batch"
    assert call["json"] == {"batch": []}, "the probe must send no data"
    assert call["headers"] == {"X-Strict-Mode": "1"}
    assert "email/sendgrid" in text and "/cio-hooks/sendgrid-verification-key" in text
    assert_no_secret_values(text)


def test_eu_region_probes_the_eu_endpoint() -> None:
    cio = FakeCustomerIo(200)
    run(Doctor(aws_settings(CIOHOOKS_CUSTOMERIO_REGION="eu"), FakeAws(secretsmanager=healthy_secrets()), http_post=cio))
    assert cio.calls[0]["url"] == "https://cdp-eu.customer.io/v1/batch"


def test_missing_source_secret_exits_1_and_prints_the_command_that_creates_it() -> None:
    secrets = FakeSecretsManager({"/cio-hooks/customerio-api-key": KEY_VALUE})
    status, text = run(Doctor(aws_settings(CIOHOOKS_SOURCES="sendgrid,mailgun"), FakeAws(secretsmanager=secrets), http_post=FakeCustomerIo(), region="eu-west-1"))
    assert status == 1
    lines = text.splitlines()
    sendgrid = next(i for i, line in enumerate(lines) if "email/sendgrid" in line)
    assert lines[sendgrid].startswith("[MISSING]") and "every request gets 503" in lines[sendgrid]
    assert "aws secretsmanager create-secret --region eu-west-1 --name /cio-hooks/sendgrid-verification-key --secret-string '<value>'" in lines[sendgrid + 1]
    assert any("email/mailgun" in line and "/cio-hooks/mailgun-signing-key" in line for line in lines)
    assert "2 missing or failing" in text
    assert secrets.read == ["/cio-hooks/customerio-api-key"], "only the Customer.io key is ever read"
    assert_no_secret_values(text)


def test_only_enabled_sources_are_checked_and_unknown_names_are_missing() -> None:
    status, text = run(Doctor(aws_settings(CIOHOOKS_SOURCES="sendgrid,sendgird"), FakeAws(secretsmanager=healthy_secrets()), http_post=FakeCustomerIo()))
    assert status == 1
    assert "[MISSING]  source sendgird" in text
    assert "mailgun" not in text


def test_no_enabled_list_checks_every_source_of_the_build_and_reports_the_unconfigured_ones_as_404() -> None:
    d = Doctor(aws_settings(CIOHOOKS_SOURCES=""), FakeAws(secretsmanager=healthy_secrets()), http_post=FakeCustomerIo())
    checks = d.check_sources()
    assert {c.subject for c in checks} == {"EnabledSources"} | {f"source {n}" for n in sources.names()}
    by_subject = {c.subject: c for c in checks}
    assert by_subject["source email/sendgrid"].status == "ok"
    assert (by_subject["source email/mailgun"].status, by_subject["source email/mailgun"].detail) == (
        "info", "not configured (no secret: Secrets Manager secret /cio-hooks/mailgun-signing-key): answers 404")
    assert by_subject["EnabledSources"].status == "warn"
    assert report(checks, io.StringIO()) == 0, "an unlisted, unconfigured source is not a failure"


def test_a_source_with_two_possible_credentials_needs_one_of_them() -> None:
    (name,) = [n for n in sources.names() if n == "email/postmark"]
    assert secret_settings_of(sources.load(name)) == ["POSTMARK_BASIC_AUTH", "POSTMARK_SECRET"]
    only_header = healthy_secrets(**{"/cio-hooks/postmark-secret": SOURCE_SECRET_VALUE})
    (check,) = Doctor(aws_settings(CIOHOOKS_SOURCES="postmark"), FakeAws(secretsmanager=only_header)).check_sources()
    assert check.status == "ok" and "/cio-hooks/postmark-secret" in check.detail
    (check,) = Doctor(aws_settings(CIOHOOKS_SOURCES="postmark"), FakeAws(secretsmanager=healthy_secrets())).check_sources()
    assert check.status == "MISSING"
    assert "/cio-hooks/postmark-basic-auth" in check.detail and "postmark-secret" in check.detail


def test_ses_needs_its_topic_arns_and_says_which_parameter_sets_them() -> None:
    assert sources.load("email/ses").secret_names == ()
    (check,) = Doctor(aws_settings(CIOHOOKS_SOURCES="ses"), FakeAws()).check_sources()
    assert (check.status, check.detail, check.fix) == (
        "MISSING", "CIOHOOKS_SES_TOPIC_ARNS is not set; every request gets 503", "set the stack parameter SesTopicArns (docs/DEPLOY.md)")
    topic = "arn:aws:sns:us-east-1:123456789012:ses-events"
    (check,) = Doctor(aws_settings(CIOHOOKS_SOURCES="ses", CIOHOOKS_SES_TOPIC_ARNS=topic), FakeAws()).check_sources()
    assert (check.status, check.detail) == ("ok", "needs no secret")


def test_ses_through_eventbridge_says_which_parameter_turns_it_on() -> None:
    (check,) = Doctor(aws_settings(CIOHOOKS_SOURCES="ses-eventbridge"), FakeAws()).check_sources()
    assert (check.status, check.fix) == ("MISSING", "deploy with the stack parameter SesEventBridge=Enabled (docs/sources/ses-eventbridge.md)")
    assert check.detail == "CIOHOOKS_SES_EVENTBRIDGE_ACCOUNTS is not set; every request gets 503"
    stack = {"Stacks": [{"StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/cio-hooks/6a1b", "Outputs": [], "Parameters": [{"ParameterKey": "SesEventBridge", "ParameterValue": "Enabled"}]}]}

    class Cfn:
        def describe_stacks(self, StackName: str) -> dict[str, Any]:
            return stack

    env, _ = settings_from_stack(Cfn(), "cio-hooks")
    assert env["CIOHOOKS_SES_EVENTBRIDGE_ACCOUNTS"] == "123456789012"
    (check,) = Doctor(aws_settings(CIOHOOKS_SOURCES="ses-eventbridge", **env), FakeAws()).check_sources()
    assert (check.status, check.detail) == ("ok", "needs no secret")


def test_the_ses_topic_arns_parameter_of_a_stack_reaches_the_check() -> None:
    topic = "arn:aws:sns:us-east-1:123456789012:ses-events"
    stack = {"Stacks": [{"Outputs": [], "Parameters": [{"ParameterKey": "SesTopicArns", "ParameterValue": topic}]}]}

    class Cfn:
        def describe_stacks(self, StackName: str) -> dict[str, Any]:
            return stack

    env, _ = settings_from_stack(Cfn(), "cio-hooks")
    assert env["CIOHOOKS_SES_TOPIC_ARNS"] == topic


def test_a_bad_setting_is_reported_before_any_webhook_arrives() -> None:
    """Doctor builds every enabled source as ingest does, so it meets the same ConfigurationError."""
    settings = aws_settings(CIOHOOKS_SOURCES="html5", CIOHOOKS_SOURCE_SETTINGS="VIDEO_HEARTBEAT_SECONDS=ten-value")
    checks = Doctor(settings, FakeAws(secretsmanager=healthy_secrets())).check_sources()
    (check,) = [c for c in checks if c.subject == "source video/html5"]
    assert (check.status, check.detail) == ("ERROR", "configuration error: CIOHOOKS_VIDEO_HEARTBEAT_SECONDS must be a whole number; every request gets 503")
    assert report(checks, io.StringIO()) == 1


def test_a_local_only_switch_in_source_settings_is_reported_as_ignored() -> None:
    checks = Doctor(aws_settings(CIOHOOKS_SOURCE_SETTINGS="ALLOW_UNSIGNED=1;SES_CERTIFICATE_PEM=x"), FakeAws(secretsmanager=healthy_secrets())).check_sources()
    ignored = [(c.status, c.subject) for c in checks if c.subject.startswith("SourceSettings")]
    assert ignored == [("warn", "SourceSettings ALLOW_UNSIGNED"), ("warn", "SourceSettings SES_CERTIFICATE_PEM")]
    assert not any(c.subject == "ALLOW_UNSIGNED" for c in checks), "the switch is not on"


def test_secrets_come_from_the_declaration_not_from_reading_source_code() -> None:
    assert not hasattr(doctor, "_secret_names_in") and "import ast" not in Path(doctor.__file__).read_text()
    for name in sources.names():
        assert secret_settings_of(sources.load(name)) == list(sources.load(name).secret_names)


# ---- the Customer.io key ----------------------------------------------------------------------------


def test_a_refused_key_is_a_failure_with_the_likely_causes() -> None:
    cio = FakeCustomerIo(valid_key="another key")
    status, text = run(Doctor(aws_settings(), FakeAws(secretsmanager=healthy_secrets()), http_post=cio))
    assert status == 1
    line = next(line for line in text.splitlines() if "Customer.io API key" in line)
    assert line.startswith("[ERROR]") and "REFUSED" in line and "(401)" in line
    assert "CustomerIoRegion should be EU" in text
    assert_no_secret_values(text)


def test_a_400_to_the_empty_batch_leaves_the_key_present_but_unverified() -> None:
    (check,) = Doctor(aws_settings(), FakeAws(secretsmanager=healthy_secrets()), http_post=FakeCustomerIo(400)).check_customerio_key()
    assert check.status == "warn" and "not verified" in check.detail and "400" in check.detail


def test_customerio_unreachable_is_a_failure() -> None:
    def post(url: str, **kwargs: Any) -> int:
        raise ConnectionError(f"cannot reach {url}")

    (check,) = Doctor(aws_settings(), FakeAws(secretsmanager=healthy_secrets()), http_post=post).check_customerio_key()
    assert check.status == "ERROR" and "unreachable" in check.detail


def test_no_probe_reads_no_secret_at_all() -> None:
    secrets = healthy_secrets()
    cio = FakeCustomerIo()
    (check,) = Doctor(aws_settings(), FakeAws(secretsmanager=secrets), http_post=cio, probe_customerio=False).check_customerio_key()
    assert check.status == "warn" and "not verified (--no-probe)" in check.detail
    assert secrets.read == [] and cio.calls == []


@pytest.mark.parametrize(
    ("secrets", "expected"),
    [
        (FakeSecretsManager({}), "does not exist"),
        (FakeSecretsManager({"/cio-hooks/customerio-api-key": KEY_VALUE}, deleted={"/cio-hooks/customerio-api-key"}), "scheduled for deletion"),
        (FakeSecretsManager({"/cio-hooks/customerio-api-key": KEY_VALUE}, no_value={"/cio-hooks/customerio-api-key"}), "has no current value"),
    ],
)
def test_customerio_key_missing_deleted_or_empty(secrets: FakeSecretsManager, expected: str) -> None:
    cio = FakeCustomerIo()
    (check,) = Doctor(aws_settings(), FakeAws(secretsmanager=secrets), http_post=cio).check_customerio_key()
    assert check.status == "MISSING" and expected in check.detail
    assert cio.calls == [], "no probe without a key"


def test_ssm_store_uses_secure_string_parameters_under_the_prefix() -> None:
    ssm = FakeSsm({"/cio-hooks/customerio-api-key": ("SecureString", KEY_VALUE), "/cio-hooks/sendgrid-verification-key": ("String", SOURCE_SECRET_VALUE)})
    cio = FakeCustomerIo()
    status, text = run(Doctor(aws_settings(CIOHOOKS_SECRETS_STORE="ssm"), FakeAws(ssm=ssm), http_post=cio))
    assert status == 0, text
    assert ssm.read == ["/cio-hooks/customerio-api-key"]
    line = next(line for line in text.splitlines() if "email/sendgrid" in line)
    assert line.startswith("[warn]") and "SSM parameter /cio-hooks/sendgrid-verification-key, but stored as String, not SecureString" in line
    assert "put-parameter --overwrite --type SecureString --name /cio-hooks/sendgrid-verification-key" in text
    assert_no_secret_values(text)
    ssm.parameters.pop("/cio-hooks/sendgrid-verification-key")
    status, text = run(Doctor(aws_settings(CIOHOOKS_SECRETS_STORE="ssm"), FakeAws(ssm=ssm), http_post=cio))
    assert status == 1
    assert "aws ssm put-parameter --type SecureString --name /cio-hooks/sendgrid-verification-key --value '<value>'" in text


def test_access_denied_is_reported_as_unchecked_not_as_missing() -> None:
    class Denied(FakeSecretsManager):
        def describe_secret(self, SecretId: str) -> dict[str, Any]:
            raise ClientError("AccessDeniedException")

    (check,) = Doctor(aws_settings(), FakeAws(secretsmanager=Denied({}))).check_customerio_key()
    assert check.status == "ERROR" and "could not be checked (AccessDeniedException)" in check.detail


# ---- where secrets are looked for -----------------------------------------------------------------


def test_locate_secret_follows_the_order_of_settings_secret() -> None:
    both = Settings({"CIOHOOKS_X": "v", "CIOHOOKS_X_SECRET": "s", "CIOHOOKS_SECRETS_PREFIX": "/p/"})
    assert locate_secret(both, "X").store == "env"
    assert locate_secret(Settings({"CIOHOOKS_X_SECRET": "arn:s", "CIOHOOKS_SECRETS_PREFIX": "/p/"}), "X").name == "arn:s"
    assert locate_secret(Settings({"CIOHOOKS_X_PARAMETER": "/q/x"}), "X").store == "ssm"
    located = locate_secret(Settings({"CIOHOOKS_SECRETS_PREFIX": "/p/", "CIOHOOKS_SECRETS_STORE": "ssm"}), "SENDGRID_VERIFICATION_KEY")
    assert (located.store, located.name) == ("ssm", "/p/sendgrid-verification-key")
    assert locate_secret(Settings({}), "X").store is None


def test_local_run_with_values_in_the_environment_never_prints_them() -> None:
    settings = Settings({
        "CIOHOOKS_DELIVERY_QUEUE_URL": DELIVERY_URL, "CIOHOOKS_DEAD_LETTER_QUEUE_URL": DLQ_URL, "CIOHOOKS_SOURCES": "sendgrid",
        "CIOHOOKS_CUSTOMERIO_API_KEY": KEY_VALUE, "CIOHOOKS_SENDGRID_VERIFICATION_KEY": SOURCE_SECRET_VALUE,
        "CIOHOOKS_CUSTOMERIO_BASE_URL": "http://127.0.0.1:9/",
    })
    cio = FakeCustomerIo()
    status, text = run(Doctor(settings, FakeAws(), http_post=cio))
    assert status == 0, text
    assert "environment variable CIOHOOKS_SENDGRID_VERIFICATION_KEY" in text
    assert cio.calls[0]["url"] == "http://127.0.0.1:9/v1/batch"
    assert_no_secret_values(text)


def test_allow_unsigned_is_a_warning() -> None:
    checks = Doctor(aws_settings(CIOHOOKS_ALLOW_UNSIGNED="1"), FakeAws(secretsmanager=healthy_secrets())).check_sources()
    assert any(c.status == "warn" and c.subject == "ALLOW_UNSIGNED" for c in checks)


# ---- queues, table, URLs -------------------------------------------------------------------------------


def test_queues_not_set_unreachable_or_holding_dead_letters() -> None:
    (delivery, dlq) = Doctor(Settings({}), FakeAws()).check_queues()
    assert delivery.status == dlq.status == "MISSING" and "--stack" in delivery.fix
    sqs = FakeSqs({DELIVERY_URL: (3, 2)})
    (delivery, dlq) = Doctor(aws_settings(), FakeAws(sqs=sqs)).check_queues()
    assert delivery.status == "ok" and delivery.detail == "reachable; 3 waiting, 2 in flight"
    assert dlq.status == "ERROR" and "AWS.SimpleQueueService.NonExistentQueue" in dlq.detail
    sqs = FakeSqs({DELIVERY_URL: (0, 0), DLQ_URL: (4, 0)})
    (_, dlq) = Doctor(aws_settings(), FakeAws(sqs=sqs)).check_queues()
    assert dlq.status == "warn" and "4 dead letter(s)" in dlq.detail and "ciohooks dlq list" in dlq.fix


def test_video_sessions_table_and_its_ttl() -> None:
    assert Doctor(aws_settings(), FakeAws()).check_video_sessions() == []
    settings = aws_settings(CIOHOOKS_VIDEO_SESSIONS_TABLE="sessions")
    assert Doctor(settings, FakeAws(dynamodb=FakeDynamoDb({"sessions": "ENABLED"}))).check_video_sessions()[0].status == "ok"
    (check,) = Doctor(settings, FakeAws(dynamodb=FakeDynamoDb({"sessions": "DISABLED"}))).check_video_sessions()
    assert check.status == "warn" and "TTL is DISABLED" in check.detail
    assert Doctor(settings, FakeAws()).check_video_sessions()[0].status == "ERROR"


def test_replay_table_and_its_ttl() -> None:
    assert Doctor(aws_settings(), FakeAws()).check_replay_table() == []
    settings = aws_settings(CIOHOOKS_REPLAY_TABLE="nonces")
    assert Doctor(settings, FakeAws(dynamodb=FakeDynamoDb({"nonces": "ENABLED"}))).check_replay_table()[0].status == "ok"
    (check,) = Doctor(settings, FakeAws(dynamodb=FakeDynamoDb({"nonces": "DISABLED"}))).check_replay_table()
    assert (check.status, check.detail) == ("warn", "nonces is ACTIVE but its TTL is DISABLED: old nonces are never removed")
    assert Doctor(settings, FakeAws()).check_replay_table()[0].status == "ERROR"


def test_function_urls_answer_with_the_resolvers_404() -> None:
    answers = {"https://a.lambda-url.us-east-1.on.aws/": 404, "https://b.lambda-url.us-east-1.on.aws/": 502}
    d = Doctor(aws_settings(), FakeAws(), function_urls={"email": "https://a.lambda-url.us-east-1.on.aws/", "video": "https://b.lambda-url.us-east-1.on.aws/"},
               http_get=lambda url, **kw: answers[url])
    email, video = d.check_function_urls()
    assert email.status == "ok" and "POST https://a.lambda-url.us-east-1.on.aws/<source>" in email.detail
    assert video.status == "ERROR" and "502" in video.detail


# ---- --stack ------------------------------------------------------------------------------------------


class FakeCloudFormation:
    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        assert StackName == "cio-hooks"
        return {"Stacks": [{
            "Outputs": [
                {"OutputKey": "DeliveryQueueUrl", "OutputValue": DELIVERY_URL},
                {"OutputKey": "DeadLetterQueueUrl", "OutputValue": DLQ_URL},
                {"OutputKey": "EmailIngestFunctionUrl", "OutputValue": "https://e.lambda-url.eu-west-1.on.aws/"},
                {"OutputKey": "VideoSessionsTableName", "OutputValue": "cio-hooks-VideoSessionsTable-1"},
            ],
            "Parameters": [
                {"ParameterKey": "SecretsPrefix", "ParameterValue": "/cio-hooks-eu/"},
                {"ParameterKey": "SecretStore", "ParameterValue": "SSM"},
                {"ParameterKey": "EnabledSources", "ParameterValue": "sendgrid"},
                {"ParameterKey": "CustomerIoRegion", "ParameterValue": "EU"},
                {"ParameterKey": "AlarmEmail", "ParameterValue": ""},
            ],
        }]}


def test_settings_from_stack_map_outputs_and_parameters_to_what_the_functions_get() -> None:
    env, urls = settings_from_stack(FakeCloudFormation(), "cio-hooks")
    assert env == {
        "CIOHOOKS_DELIVERY_QUEUE_URL": DELIVERY_URL,
        "CIOHOOKS_DEAD_LETTER_QUEUE_URL": DLQ_URL,
        "CIOHOOKS_VIDEO_SESSIONS_TABLE": "cio-hooks-VideoSessionsTable-1",
        "CIOHOOKS_SECRETS_PREFIX": "/cio-hooks-eu/",
        "CIOHOOKS_SECRETS_STORE": "ssm",
        "CIOHOOKS_SOURCES": "sendgrid",
        "CIOHOOKS_CUSTOMERIO_REGION": "eu",
    }
    assert urls == {"email": "https://e.lambda-url.eu-west-1.on.aws/"}


def test_run_doctor_with_stack_overrides_the_environment() -> None:
    ssm = FakeSsm({"/cio-hooks-eu/customerio-api-key": ("SecureString", KEY_VALUE), "/cio-hooks-eu/sendgrid-verification-key": ("SecureString", SOURCE_SECRET_VALUE)})
    aws = FakeAws(ssm=ssm, dynamodb=FakeDynamoDb({"cio-hooks-VideoSessionsTable-1": "ENABLED"}))
    aws.cloudformation = FakeCloudFormation()
    cio = FakeCustomerIo()
    out = io.StringIO()
    options = DoctorOptions(stack="cio-hooks", environ={"CIOHOOKS_SECRETS_PREFIX": "/stale/"}, as_json=True,
                            extra={"http_post": cio, "http_get": lambda url, **kw: 404})
    assert run_doctor(options, out, aws=aws) == 0, out.getvalue()
    checks = [json.loads(line) for line in out.getvalue().splitlines()]
    assert {c["status"] for c in checks} == {"ok"}
    assert cio.calls[0]["url"] == "https://cdp-eu.customer.io/v1/batch"
    assert_no_secret_values(out.getvalue())


def test_unreadable_stack_is_one_failure() -> None:
    class Missing:
        def describe_stacks(self, StackName: str) -> dict[str, Any]:
            raise ClientError("ValidationError")

    aws = FakeAws()
    aws.cloudformation = Missing()
    out = io.StringIO()
    assert run_doctor(DoctorOptions(stack="nope", environ={}), out, aws=aws) == 1
    assert "stack nope" in out.getvalue() and "ValidationError" in out.getvalue()


def test_aws_clients_point_every_service_at_the_endpoint() -> None:
    made = []
    clients = AwsClients("eu-west-1", "http://127.0.0.1:5000", factory=lambda name, **kw: made.append((name, kw)) or object())
    assert clients.sqs is clients.sqs
    clients.secretsmanager  # noqa: B018
    assert made == [("sqs", {"region_name": "eu-west-1", "endpoint_url": "http://127.0.0.1:5000"}),
                    ("secretsmanager", {"region_name": "eu-west-1", "endpoint_url": "http://127.0.0.1:5000"})]


# ---- real boto3 against moto's in-process AWS --------------------------------------------------------------


def test_against_moto_with_real_boto3_calls() -> None:
    moto = pytest.importorskip("moto")
    import boto3

    with moto.mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        delivery = sqs.create_queue(QueueName="d")["QueueUrl"]
        dead = sqs.create_queue(QueueName="dl")["QueueUrl"]
        sqs.send_message(QueueUrl=dead, MessageBody="{}")
        boto3.client("secretsmanager", region_name="us-east-1").create_secret(Name="/t/customerio-api-key", SecretString=KEY_VALUE)
        boto3.client("ssm", region_name="us-east-1").put_parameter(Name="/t/sendgrid-verification-key", Type="SecureString", Value=SOURCE_SECRET_VALUE)
        env = {"CIOHOOKS_DELIVERY_QUEUE_URL": delivery, "CIOHOOKS_DEAD_LETTER_QUEUE_URL": dead, "CIOHOOKS_SECRETS_PREFIX": "/t/", "CIOHOOKS_SOURCES": "sendgrid"}
        cio = FakeCustomerIo()

        out = io.StringIO()
        assert run_doctor(DoctorOptions(region="us-east-1", environ=env, extra={"http_post": cio}), out) == 1
        text = out.getvalue()
        assert "[warn]     dead-letter queue" in text and "1 dead letter(s)" in text
        assert "[ok]       Customer.io API key" in text, text
        # SendGrid's key is in SSM, but this deployment looks in Secrets Manager
        assert "[MISSING]  source email/sendgrid" in text and "Secrets Manager secret /t/sendgrid-verification-key" in text

        out = io.StringIO()
        env["CIOHOOKS_SECRETS_STORE"] = "ssm"
        boto3.client("ssm", region_name="us-east-1").put_parameter(Name="/t/customerio-api-key", Type="SecureString", Value=KEY_VALUE)
        assert run_doctor(DoctorOptions(region="us-east-1", environ=env, extra={"http_post": cio}), out) == 0, out.getvalue()
        assert_no_secret_values(out.getvalue())
    assert all(call["auth"] == (KEY_VALUE, "") for call in cio.calls)


def test_module_documents_the_checks() -> None:
    assert "Exit status 1" in (doctor.__doc__ or "")
