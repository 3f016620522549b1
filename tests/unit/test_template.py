"""template.yaml, the Makefile's sam build targets and samconfig.toml.example, read as plain files.

Pure: no SAM CLI, no AWS, no network. The template is parsed with PyYAML; CloudFormation's short
tags (!Ref, !GetAtt, !Sub, !If ...) become their long JSON forms ({"Ref": ...}, {"Fn::If": ...}).
`sam validate --lint` and `sam build` themselves run in tests/integration/test_sam.py.
"""

from __future__ import annotations

import importlib.util
import json
from collections import defaultdict
import re
import sys
import time
import tomllib
from functools import cache
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from ciohooks import sources
from ciohooks.config import Settings
from ciohooks.doctor import convention_name, secret_settings_of

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"

INGEST_FUNCTIONS = {"email": "EmailIngestFunction", "video": "VideoIngestFunction", "mobile": "MobileIngestFunction"}
ROLES_READING_SOURCE_SECRETS = {f"{name}Role" for name in INGEST_FUNCTIONS.values()}
POWERTOOLS_ENV = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}

# The only actions allowed on Resource "*", each because AWS offers no narrower resource.
STAR_RESOURCE_EXCEPTIONS = {
    "xray:PutTraceSegments": "X-Ray has no resource-level permissions (Tracing: Active)",
    "xray:PutTelemetryRecords": "X-Ray has no resource-level permissions (Tracing: Active)",
}
SECRETS_MANAGER_ARN = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
SSM_ARN = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter"
# The only wildcards allowed in a Resource: Secrets Manager's 6-character suffix of a named secret
# (``-??????``), the Customer.io key under the prefix in both stores (ingest roles, Deny), and the
# claim-checked bodies under the bucket's one prefix.
LARGE_BODIES = "${BodiesBucket.Arn}/bodies/*"  # claim-checked queue messages (the only S3 objects)
CUSTOMERIO_KEY_DENIED = {SECRETS_MANAGER_ARN + "${SecretsPrefix}customerio-api-key*", SSM_ARN + "${SecretsPrefix}customerio-api-key*"}
CUSTOMERIO_KEY_READ = {SECRETS_MANAGER_ARN + "${SecretsPrefix}customerio-api-key-??????", SSM_ARN + "${SecretsPrefix}customerio-api-key"}
SECRET_READS = {"secretsmanager:GetSecretValue", "ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"}


# ---- reading the template ------------------------------------------------------------------------


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns CloudFormation's short-form tags into their long JSON forms."""


def _construct_tag(loader: CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_tag)


@cache
def template() -> dict[str, Any]:
    return yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=CfnLoader)  # noqa: S506 (SafeLoader subclass)


def resources(type_: str | None = None) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template()["Resources"].items() if type_ is None or v["Type"] == type_}


def functions() -> dict[str, dict[str, Any]]:
    return resources("AWS::Serverless::Function")


def function_settings(name: str) -> dict[str, Any]:
    """A function's properties with Globals.Function applied (environment variables merged)."""
    globals_ = dict(template().get("Globals", {}).get("Function", {}))
    props = functions()[name]["Properties"]
    merged = {**globals_, **props}
    merged["Environment"] = {
        "Variables": {
            **globals_.get("Environment", {}).get("Variables", {}),
            **props.get("Environment", {}).get("Variables", {}),
        }
    }
    return merged


def parameter(name: str) -> dict[str, Any]:
    return template()["Parameters"][name]


def ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def getatt(resource: str, attribute: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [resource, attribute]}


def branches(value: Any) -> Iterator[Any]:
    """Every concrete value a node can take: both arms of each Fn::If, without AWS::NoValue."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        _, when_true, when_false = value["Fn::If"]
        yield from branches(when_true)
        yield from branches(when_false)
    elif value == {"Ref": "AWS::NoValue"}:
        return
    else:
        yield value


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(policy_document: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for item in as_list(policy_document["Statement"]) for s in branches(item)]


def role_of(function_name: str) -> str:
    role = functions()[function_name]["Properties"].get("Role")
    assert isinstance(role, dict) and "Fn::GetAtt" in role, f"{function_name} must use a role of this template"
    return role["Fn::GetAtt"][0]


def role_statements(role_name: str) -> list[dict[str, Any]]:
    role = resources("AWS::IAM::Role")[role_name]["Properties"]
    return [s for policy in role.get("Policies", []) for s in statements(policy["PolicyDocument"])]


def all_policy_statements() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every identity-policy statement in the template, with the resource it belongs to."""
    for name, resource in resources().items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                for statement in statements(policy["PolicyDocument"]):
                    yield name, statement
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for statement in statements(props["PolicyDocument"]):
                yield name, statement
        elif resource["Type"] == "AWS::Serverless::Function":
            for policy in as_list(props.get("Policies", [])):
                if isinstance(policy, dict) and "Statement" in policy:
                    for statement in statements(policy):
                        yield name, statement


def text_of(value: Any) -> str:
    """A Resource value as text: a plain string, a !Sub format, or a !Join of a !Split (the SSM ARN)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0]
    if isinstance(value, dict) and "Fn::Join" in value:
        _, parts = value["Fn::Join"]
        if isinstance(parts, dict) and "Fn::Split" in parts:
            return text_of(parts["Fn::Split"][1])
        return "".join(text_of(p) for p in as_list(parts))
    return ""


# ---- runtime, architecture, build ------------------------------------------------------------------


def test_transform_and_description() -> None:
    assert template()["Transform"] == "AWS::Serverless-2016-10-31"
    assert "Customer.io" in template()["Description"]


def test_every_function_runs_python313_on_arm64_with_tracing() -> None:
    assert functions(), "the template has no functions"
    for name in functions():
        settings = function_settings(name)
        assert settings["Runtime"] == "python3.13", name
        assert settings["Architectures"] == ["arm64"], name
        assert settings["Tracing"] == "Active", name
        assert settings["Handler"] == "app.lambda_handler", name
        assert ref("CioHooksLayer") in settings["Layers"], f"{name} must use the ciohooks layer"
        assert 3 <= settings["Timeout"] <= 900 and 128 <= settings["MemorySize"] <= 10240, name


def test_layer_is_built_for_arm64_python313() -> None:
    layer = resources("AWS::Serverless::LayerVersion")["CioHooksLayer"]
    props, metadata = layer["Properties"], layer["Metadata"]
    assert props["CompatibleArchitectures"] == ["arm64"]
    assert props["CompatibleRuntimes"] == ["python3.13"]
    # Without BuildArchitecture a makefile layer is built as x86_64 (SAM only warns).
    assert metadata["BuildMethod"] == "makefile"
    assert metadata["BuildArchitecture"] == "arm64"
    # The Makefile puts the code under python/ itself; a content folder named python would nest it.
    assert not str(props["ContentUri"]).rstrip("/").endswith("python")


def test_every_makefile_resource_has_its_build_target_and_code() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    built = {n: r for n, r in resources().items() if r.get("Metadata", {}).get("BuildMethod") == "makefile"}
    assert set(functions()) | {"CioHooksLayer"} <= set(built)
    for name, resource in built.items():
        assert re.search(rf"^build-{name}\s*:", makefile, re.M), f"Makefile has no build-{name} target"
        assert resource["Metadata"].get("ContextPath") == ".", f"{name}: the Makefile is at the repo root"
        code = resource["Properties"].get("CodeUri") or resource["Properties"].get("ContentUri")
        assert (ROOT / code).is_dir(), f"{name}: {code} does not exist"
        assert code not in (".", "./"), f"{name}: a CodeUri of . makes SAM copy the virtualenvs"


def test_makefile_has_one_cross_platform_pip_line() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    section = makefile.split("# ---- sam build (BuildMethod: makefile)", 1)[1]
    assert section.count("--platform manylinux2014_aarch64") == 1
    for flag in ("--only-binary=:all:", "--python-version 3.13", "--implementation cp"):
        assert flag in section


def test_no_function_level_dead_letter_queue() -> None:
    # DeadLetterQueue/DeadLetterConfig act on asynchronous invokes only: Function URLs and SQS never use them.
    globals_ = template().get("Globals", {}).get("Function", {})
    assert "DeadLetterQueue" not in globals_
    for name, function in functions().items():
        assert "DeadLetterQueue" not in function["Properties"], name
        assert "DeadLetterConfig" not in function["Properties"], name


# ---- Function URLs and the SQS event source ----------------------------------------------------------


def url_functions() -> list[str]:
    return [n for n, f in functions().items() if "FunctionUrlConfig" in f["Properties"]]


def test_ingest_function_url_is_public_and_authenticated_by_the_provider() -> None:
    assert sorted(url_functions()) == sorted(INGEST_FUNCTIONS.values())
    for name in url_functions():
        assert functions()[name]["Properties"]["FunctionUrlConfig"]["AuthType"] == "NONE", name


def test_deliver_consumes_the_delivery_queue_with_partial_batch_failures() -> None:
    events = functions()["DeliverFunction"]["Properties"]["Events"]
    (event,) = [e["Properties"] for e in events.values() if e["Type"] == "SQS"]
    assert event["Queue"] == getatt("DeliveryQueue", "Arn")
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert event["BatchSize"] == 100
    assert 1 <= event["MaximumBatchingWindowInSeconds"] <= 300  # a batch over 10 needs a window
    assert event["ScalingConfig"]["MaximumConcurrency"] == ref("DeliverMaxConcurrency")
    assert parameter("DeliverMaxConcurrency")["MinValue"] >= 2  # the SQS event source minimum
    assert parameter("DeliverMaxConcurrency")["MaxValue"] <= 1000


# ---- queues ----------------------------------------------------------------------------------------


def queue(name: str) -> dict[str, Any]:
    return resources("AWS::SQS::Queue")[name]["Properties"]


def test_delivery_queue_redrives_to_the_dead_letter_queue() -> None:
    redrive = queue("DeliveryQueue")["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == getatt("DeadLetterQueue", "Arn")
    assert redrive["maxReceiveCount"] == ref("MaxReceiveCount")
    max_receive = parameter("MaxReceiveCount")
    assert max_receive["Type"] == "Number" and 1 <= max_receive["MinValue"] <= max_receive["Default"] <= 1000


def test_the_retry_horizon_fits_the_queue_and_the_redrive_is_only_a_backstop() -> None:
    from ciohooks.deliver import DEFAULT_BACKOFF_BASE_SECONDS, DEFAULT_BACKOFF_CAP_SECONDS, DEFAULT_HORIZON_HOURS

    horizon = parameter("RetryHorizonHours")
    assert horizon["Default"] == DEFAULT_HORIZON_HOURS == 72
    assert function_settings("DeliverFunction")["Environment"]["Variables"]["CIOHOOKS_DELIVERY_RETRY_HORIZON_HOURS"] == ref("RetryHorizonHours")
    # A message is settled (delivered or dead-lettered) before SQS could drop it: the longest horizon
    # plus one backoff stays inside the delivery queue's retention.
    assert horizon["MaxValue"] * 3600 + DEFAULT_BACKOFF_CAP_SECONDS < queue("DeliveryQueue")["MessageRetentionPeriod"]
    # Backing off uniformly up to the cap, a message is received about horizon / (cap / 2) times:
    # the redrive backstop must stay well above that, so only deliver decides, by age.
    expected_receives = horizon["MaxValue"] * 3600 / ((DEFAULT_BACKOFF_BASE_SECONDS + DEFAULT_BACKOFF_CAP_SECONDS) / 2)
    assert expected_receives * 1.5 < parameter("MaxReceiveCount")["MinValue"]
    stalled = alarms()["DeliveryStalledAlarm"]
    assert stalled["MetricName"] == "ApproximateAgeOfOldestMessage" and stalled["Threshold"] <= horizon["MinValue"] * 3600 / 2
    retried = alarms()["DeliveryRetriedAgeAlarm"]
    assert (retried["Namespace"], retried["MetricName"]) == ("CioHooks", "OldestMessageAge") and retried["Threshold"] <= horizon["MinValue"] * 3600 / 2


def bucket() -> dict[str, Any]:
    return resources("AWS::S3::Bucket")["BodiesBucket"]


def test_large_bodies_bucket_is_private_encrypted_tls_only_and_outlives_every_pointer() -> None:
    props = bucket()["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == {"Fn::If": ["HasDataKmsKey", "aws:kms", "AES256"]}
    assert all(props["PublicAccessBlockConfiguration"][k] is True for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"))
    (rule,) = props["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled" and rule["Prefix"] == "bodies/"
    assert rule["ExpirationInDays"] * 86400 > queue("DeadLetterQueue")["MessageRetentionPeriod"] > parameter("RetryHorizonHours")["MaxValue"] * 3600
    (policy,) = resources("AWS::S3::BucketPolicy").values()
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    from ciohooks.queue import ClaimCheck

    assert ClaimCheck("b").prefix == rule["Prefix"]
    assert template()["Globals"]["Function"]["Environment"]["Variables"]["CIOHOOKS_CLAIM_CHECK_BUCKET"] == ref("BodiesBucket")


def test_s3_permissions_are_least_privilege() -> None:
    objects = {"Fn::Sub": "${BodiesBucket.Arn}/bodies/*"}
    for owner, statement in all_policy_statements():
        if any(a.startswith("s3:") for a in as_list(statement["Action"])):
            assert statement["Resource"] == objects, owner
    for name in INGEST_FUNCTIONS.values():
        actions = {a for s in role_statements(role_of(name)) for a in as_list(s["Action"]) if a.startswith("s3:")}
        assert actions == {"s3:PutObject"}, name
    deliver = {a for s in role_statements(role_of("DeliverFunction")) for a in as_list(s["Action"]) if a.startswith("s3:")}
    # GetObject: claim-checked messages; PutObject: a dead letter or remainder over 1 MiB. No
    # DeleteObject: a duplicate SQS delivery must still find its body; the lifecycle rule deletes.
    assert deliver == {"s3:GetObject", "s3:PutObject"}


def test_dead_letter_queue_allows_redrive_from_the_delivery_queue_only() -> None:
    allow = queue("DeadLetterQueue")["RedriveAllowPolicy"]
    assert allow["redrivePermission"] == "byQueue"
    delivery_name = text_of(queue("DeliveryQueue")["QueueName"])
    (source_arn,) = [text_of(a) for a in allow["sourceQueueArns"]]
    assert source_arn.endswith(f":{delivery_name}")


def test_both_queues_are_encrypted() -> None:
    for name, props in resources("AWS::SQS::Queue").items():
        assert props["Properties"].get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props["Properties"], name


def test_queues_take_1_mib_messages() -> None:
    assert queue("DeliveryQueue")["MaximumMessageSize"] == queue("DeadLetterQueue")["MaximumMessageSize"] == 1_048_576
    # Every body a Function URL carries (6 MB) is accepted: what does not fit one message goes to S3.
    from ciohooks.ingest import DEFAULT_MAX_BODY_BYTES

    for name in INGEST_FUNCTIONS.values():
        max_body = int(function_settings(name)["Environment"]["Variables"]["CIOHOOKS_MAX_BODY_BYTES"])
        assert max_body == DEFAULT_MAX_BODY_BYTES == 6 * 1024 * 1024, name


def test_visibility_timeout_is_at_least_six_times_the_deliver_timeout() -> None:
    deliver = function_settings("DeliverFunction")
    (event,) = [e["Properties"] for e in deliver["Events"].values() if e["Type"] == "SQS"]
    needed = 6 * deliver["Timeout"] + event.get("MaximumBatchingWindowInSeconds", 0)
    assert queue("DeliveryQueue")["VisibilityTimeout"] >= needed


def test_dead_letters_outlive_the_delivery_queue() -> None:
    assert queue("DeadLetterQueue")["MessageRetentionPeriod"] == 1_209_600  # 14 days, the SQS maximum
    assert queue("DeliveryQueue")["MessageRetentionPeriod"] < queue("DeadLetterQueue")["MessageRetentionPeriod"]


# ---- the three ingest functions and the video extras ---------------------------------------------


def test_three_ingest_functions_share_one_code_folder_and_differ_by_family() -> None:
    for family, name in INGEST_FUNCTIONS.items():
        settings = function_settings(name)
        assert settings["CodeUri"] == "functions/ingest", name
        variables = settings["Environment"]["Variables"]
        assert variables["CIOHOOKS_FAMILY"] == family
        assert variables["CIOHOOKS_SOURCES"] == ref("EnabledSources"), f"{name}: EnabledSources must reach ingest"
    assert "CIOHOOKS_SOURCES" not in function_settings("DeliverFunction")["Environment"]["Variables"], (
        "deliver must translate whatever was queued, whichever sources are enabled today")
    # the families the template serves are the families of the source catalogue
    assert set(INGEST_FUNCTIONS) == set(sources.FAMILIES)


def test_video_function_url_has_the_cors_of_its_parameter() -> None:
    cors = functions()["VideoIngestFunction"]["Properties"]["FunctionUrlConfig"]["Cors"]
    # one definition with ciohooks serve: the constants of the video sources (tests/unit/test_video_endpoint.py)
    from ciohooks.sources.video._source import CORS_ALLOW_HEADERS, CORS_ALLOW_METHODS, CORS_MAX_AGE_SECONDS

    assert cors == {"AllowOrigins": ref("VideoAllowedOrigins"), "AllowMethods": list(CORS_ALLOW_METHODS), "AllowHeaders": list(CORS_ALLOW_HEADERS), "MaxAge": CORS_MAX_AGE_SECONDS}
    assert parameter("VideoAllowedOrigins")["Type"] == "CommaDelimitedList"
    variables = function_settings("VideoIngestFunction")["Environment"]["Variables"]
    # the same list reaches the code, which checks Origin itself (ciohooks serve mimics the URL's CORS)
    assert variables["CIOHOOKS_VIDEO_ALLOWED_ORIGINS"] == {"Fn::Join": [",", ref("VideoAllowedOrigins")]}
    for name in ("EmailIngestFunction", "MobileIngestFunction"):
        assert "Cors" not in functions()[name]["Properties"]["FunctionUrlConfig"], f"{name}: providers call server to server"


def test_video_sessions_table_matches_the_store_that_writes_it() -> None:
    from ciohooks import video_sessions

    table = resources("AWS::DynamoDB::Table")["VideoSessionsTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSESpecification"]["SSEEnabled"] is True  # the key: test_the_data_key_encrypts_queues_logs_and_tables_when_given
    (key,) = table["KeySchema"]
    assert key == {"AttributeName": video_sessions.DynamoDBSessionStore.KEY, "KeyType": "HASH"}
    store = video_sessions.DynamoDBSessionStore
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == store.DUE_INDEX and index["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert index["KeySchema"] == [{"AttributeName": store.DUE_PARTITION, "KeyType": "HASH"}, {"AttributeName": store.DUE_AT, "KeyType": "RANGE"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": key["AttributeName"], "AttributeType": "S"}, {"AttributeName": store.DUE_PARTITION, "AttributeType": "S"}, {"AttributeName": store.DUE_AT, "AttributeType": "N"}]

    # What the store really writes: its key as a string, and the TTL attribute as epoch seconds.
    written: dict[str, Any] = {}

    class Client:
        def put_item(self, **kwargs: Any) -> None:
            written.update(kwargs)

    before = int(time.time())
    store("t", ttl_seconds=3600, client=Client()).save(video_sessions.SessionRecord(key="k"), 0)
    ttl = table["TimeToLiveSpecification"]
    assert ttl["Enabled"] is True
    (kind, value), = written["Item"][ttl["AttributeName"]].items()
    assert kind == "N" and before + 3600 <= int(value) <= int(time.time()) + 3600, "DynamoDB TTL wants epoch seconds"
    assert written["Item"][key["AttributeName"]] == {"S": "k"}


def test_video_sessions_are_reached_by_single_item_calls_and_the_sweep_index_only() -> None:
    table = getatt("VideoSessionsTable", "Arn")
    index = {"Fn::Sub": "${VideoSessionsTable.Arn}/index/SweepDue"}
    users: dict[str, set[str]] = defaultdict(set)
    for owner, statement in all_policy_statements():
        if any(a.startswith("dynamodb:") for a in as_list(statement["Action"])) and statement["Resource"] != getatt("ReplayTable", "Arn"):
            actions = set(as_list(statement["Action"]))
            assert statement["Effect"] == "Allow", owner
            assert (statement["Resource"], actions) in ((table, {"dynamodb:GetItem", "dynamodb:PutItem"}), (index, {"dynamodb:Query"})), owner
            users[owner] |= actions
    # ingest runs the sessions; deliver continues them when it translates a raw beacon again; the
    # sweep closes their gaps, finding them through the sparse index (never a Scan)
    assert users == {
        "VideoIngestFunctionRole": {"dynamodb:GetItem", "dynamodb:PutItem"},
        "DeliverFunctionRole": {"dynamodb:GetItem", "dynamodb:PutItem"},
        "VideoSweepFunctionRole": {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"},
    }
    for name in ("VideoIngestFunction", "DeliverFunction", "VideoSweepFunction"):
        assert function_settings(name)["Environment"]["Variables"]["CIOHOOKS_VIDEO_SESSIONS_TABLE"] == ref("VideoSessionsTable")


def test_the_video_sweep_runs_every_minute_and_queues_on_the_delivery_queue_only() -> None:
    sweep = functions()["VideoSweepFunction"]["Properties"]
    (event,) = sweep["Events"].values()
    assert event == {"Type": "Schedule", "Properties": {"Schedule": "rate(1 minute)", "Description": event["Properties"]["Description"]}}
    sends = [s for s in role_statements(role_of("VideoSweepFunction")) if "sqs:SendMessage" in as_list(s["Action"])]
    assert [s["Resource"] for s in sends] == [getatt("DeliveryQueue", "Arn")]
    assert not secret_reads(role_of("VideoSweepFunction")), "the sweep authenticates nothing: no secret"


# ---- outputs ---------------------------------------------------------------------------------------


def outputs() -> dict[str, Any]:
    return {name: o["Value"] for name, o in template()["Outputs"].items()}


def test_outputs_name_every_function_url_and_queue() -> None:
    values = list(outputs().values())
    for name in url_functions():
        assert getatt(f"{name}Url", "FunctionUrl") in values, f"no output for {name}'s Function URL"
    assert outputs()["SendGridWebhookUrl"] == {"Fn::Sub": "${EmailIngestFunctionUrl.FunctionUrl}sendgrid"}
    assert outputs()["DeliveryQueueUrl"] == ref("DeliveryQueue")
    assert outputs()["DeadLetterQueueUrl"] == ref("DeadLetterQueue")
    assert outputs()["DeliveryQueueArn"] == getatt("DeliveryQueue", "Arn")
    assert outputs()["DeadLetterQueueArn"] == getatt("DeadLetterQueue", "Arn")
    assert outputs()["VideoSessionsTableName"] == ref("VideoSessionsTable")


def test_every_source_has_its_webhook_url_output() -> None:
    subs = {v["Fn::Sub"] for v in outputs().values() if isinstance(v, dict) and isinstance(v.get("Fn::Sub"), str)}
    with_url = [n for n in sources.names() if sources.load(n).transport == "https"]  # EventBridge sources have none
    for full_name in with_url:
        family, route = full_name.split("/", 1)
        assert f"${{{INGEST_FUNCTIONS[family]}Url.FunctionUrl}}{route}" in subs, f"no webhook URL output for {full_name}"
    generated = [n for n in template()["Outputs"] if n.endswith("WebhookUrl")]
    assert len(generated) == len(with_url), "an output for a source that no longer exists"
    assert not any(v["Fn::Sub"].endswith("ses-eventbridge") for v in outputs().values() if isinstance(v, dict) and isinstance(v.get("Fn::Sub"), str))


def load_generator():
    spec = importlib.util.spec_from_file_location("template_outputs", ROOT / "scripts" / "template_outputs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_generated_blocks_match_the_source_catalog() -> None:
    """template.yaml's per-source outputs and docs/DEPLOY.md's secret table are what the catalogue
    gives; after adding a source run `make template-outputs` (scripts/template_outputs.py)."""
    generator = load_generator()
    stale = [str(path.relative_to(ROOT)) for path, text in generator.generated().items() if path.read_text(encoding="utf-8") != text]
    assert not stale, f"stale: {stale}; run .venv/bin/python scripts/template_outputs.py"
    assert (ROOT / "docs" / "DEPLOY.md") in generator.generated(), "docs/DEPLOY.md lost its generated secret table"


def test_a_custom_sources_secret_is_granted_to_its_familys_ingest_role_only(monkeypatch) -> None:
    """`make template-outputs` after adding a definition: its URL output, and its secret in its own
    family's ingest role (the examples stand in for a user's custom-sources/)."""
    monkeypatch.setenv("CIOHOOKS_CUSTOM_SOURCES_DIR", str(ROOT / "examples" / "custom-sources"))
    sources.refresh()
    try:
        generator = load_generator()
        found = generator.entries()
        email, mobile = generator.render_family_secrets(found, "email"), generator.render_family_secrets(found, "mobile")
        outputs = generator.render_outputs(found)
    finally:
        monkeypatch.delenv("CIOHOOKS_CUSTOM_SOURCES_DIR")
        sources.refresh()
    assert "secret:${SecretsPrefix}mailersend-signing-secret-??????" in email and "parameter${SecretsPrefix}mailersend-signing-secret" in email
    assert "mailersend-signing-secret" not in mobile
    assert "parameter${SecretsPrefix}singular-postback-token" in mobile and "singular-postback-token" not in email
    assert "  MailersendWebhookUrl:\n" in outputs and "!Sub ${EmailIngestFunctionUrl.FunctionUrl}mailersend\n" in outputs


def test_doctor_and_dashboard_outputs() -> None:
    assert outputs()["DoctorCommand"] == {"Fn::Sub": "ciohooks doctor --stack ${AWS::StackName} --region ${AWS::Region}"}
    assert "${Dashboard}" in outputs()["DashboardUrl"]["Fn::Sub"]
    # doctor --stack reads these outputs and parameters by name
    from ciohooks import doctor

    for key in [*doctor.STACK_OUTPUTS, *doctor.FUNCTION_URL_OUTPUTS.values()]:
        assert key in template()["Outputs"], f"doctor reads output {key}"
    for key in doctor.STACK_PARAMETERS:
        assert key in template()["Parameters"], f"doctor reads parameter {key}"
    assert set(doctor.STORE_OF_PARAMETER) == set(parameter("SecretStore")["AllowedValues"])


# ---- least privilege -------------------------------------------------------------------------------


def test_functions_use_their_own_roles_with_inline_policies_only() -> None:
    # A SAM-generated role would attach AWS managed policies with Resource "*"
    # (AWSLambdaBasicExecutionRole, AWSXrayWriteOnlyAccess, AWSLambdaSQSQueueExecutionRole).
    assert "Role" not in template().get("Globals", {}).get("Function", {})
    roles = resources("AWS::IAM::Role")
    used = [role_of(name) for name in functions()]
    assert len(set(used)) == len(used), "each function gets a role of its own"
    assert set(used) == set(roles), "a role no function uses"
    for name in functions():
        assert "Policies" not in functions()[name]["Properties"], name
    for name in used:
        role = roles[name]["Properties"]
        assert "ManagedPolicyArns" not in role, f"{name}: AWS managed policies are not least privilege"
        (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert trust == {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}


def test_no_wildcard_actions_and_no_star_resource_beyond_the_documented_exceptions() -> None:
    found = list(all_policy_statements())
    assert found
    for owner, statement in found:
        assert statement["Effect"] in ("Allow", "Deny"), owner
        assert "NotAction" not in statement and "NotResource" not in statement, owner
        actions = as_list(statement["Action"])
        for action in actions:
            assert isinstance(action, str) and "*" not in action, f"{owner}: wildcard action {action!r}"
        for resource in as_list(statement["Resource"]):
            if resource == "*":
                unexplained = [a for a in actions if a not in STAR_RESOURCE_EXCEPTIONS]
                assert not unexplained, f"{owner}: {unexplained} on Resource '*'"
                assert statement["Effect"] == "Allow"
            elif "*" in text_of(resource):
                arn = text_of(resource)
                if statement["Effect"] == "Allow" and set(actions) <= {"s3:GetObject", "s3:PutObject"}:
                    assert arn == LARGE_BODIES, f"{owner}: wildcard in {arn!r}"  # objects under the bucket's one prefix
                else:
                    assert statement["Effect"] == "Deny" and arn in CUSTOMERIO_KEY_DENIED, f"{owner}: wildcard in {arn!r}"
            elif "?" in text_of(resource):
                arn = text_of(resource)
                assert arn.startswith(SECRETS_MANAGER_ARN) and arn.endswith("-??????") and arn.count("?") == 6, f"{owner}: {arn!r}"
                assert set(actions) == {"secretsmanager:GetSecretValue"}


def secret_reads(role: str, effect: str = "Allow") -> list[dict[str, Any]]:
    """The statements reading secrets (the custom source definitions' parameter is no secret)."""
    return [s for s in role_statements(role) if s["Effect"] == effect and SECRET_READS & set(as_list(s["Action"])) and s.get("Sid") != DEFINITIONS_SID]


DEFINITIONS_SID = "ReadCustomSourceDefinitions"
DEFINITIONS_ARN = {"Fn::Sub": SSM_ARN + "${CustomSourcesParameter}"}


def test_the_custom_sources_parameter_is_read_by_every_function_only_when_it_is_set() -> None:
    assert parameter("CustomSourcesParameter")["Default"] == ""
    assert template()["Conditions"]["HasCustomSourcesParameter"] == {"Fn::Not": [{"Fn::Equals": [ref("CustomSourcesParameter"), ""]}]}
    assert {"DeliverFunction", "VideoSweepFunction", *INGEST_FUNCTIONS.values()} <= set(functions())
    for name in functions():  # every function loads the catalogue, custom sources included
        variables = function_settings(name)["Environment"]["Variables"]
        assert variables["CIOHOOKS_CUSTOM_SOURCES_PARAMETER"] == {"Fn::If": ["HasCustomSourcesParameter", ref("CustomSourcesParameter"), ref("AWS::NoValue")]}
        policy = resources("AWS::IAM::Role")[role_of(name)]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        (grant,) = [s for s in policy if isinstance(s, dict) and "Fn::If" in s and s["Fn::If"][1].get("Sid") == DEFINITIONS_SID]
        condition, statement, otherwise = grant["Fn::If"]
        # least privilege: one action on that one parameter, whichever store holds the secrets
        assert (condition, otherwise) == ("HasCustomSourcesParameter", ref("AWS::NoValue")), name
        assert statement == {"Sid": DEFINITIONS_SID, "Effect": "Allow", "Action": "ssm:GetParameter", "Resource": DEFINITIONS_ARN}, name


def family_secret_arns(family: str) -> set[str]:
    """What the catalogue says the family's ingest role may read: each declared secret, both stores."""
    names = {convention_name("${SecretsPrefix}", s) for n in sources.names(family) for s in sources.load(n).secret_names}
    return {SECRETS_MANAGER_ARN + f"{name}-??????" for name in names} | {SSM_ARN + name for name in names}


def test_each_ingest_role_reads_exactly_its_familys_secrets_and_never_the_customerio_key() -> None:
    for family, name in INGEST_FUNCTIONS.items():
        role = role_of(name)
        allows = secret_reads(role)
        # one statement per store (the two arms of the SecretStore condition), one action each
        assert sorted(a for s in allows for a in as_list(s["Action"])) == ["secretsmanager:GetSecretValue", "ssm:GetParameter"], role
        assert {text_of(r) for s in allows for r in as_list(s["Resource"])} == family_secret_arns(family), role
        (deny,) = secret_reads(role, "Deny")
        assert {"secretsmanager:GetSecretValue", "ssm:GetParameter", "ssm:GetParameters"} <= set(as_list(deny["Action"]))
        # denied in both stores whatever SecretStore says: an explicit Deny beats any Allow
        assert {text_of(r) for r in as_list(deny["Resource"])} == CUSTOMERIO_KEY_DENIED, role
        assert "Condition" not in deny


def test_no_ingest_role_can_read_another_familys_secret() -> None:
    for family, name in INGEST_FUNCTIONS.items():
        readable = {text_of(r) for s in secret_reads(role_of(name)) for r in as_list(s["Resource"])}
        for other in INGEST_FUNCTIONS:
            if other != family:
                assert not readable & (family_secret_arns(other) - family_secret_arns(family)), (family, other)
        # no prefix-wide grant: every readable ARN names one secret
        assert all("*" not in arn for arn in readable), name


def test_deliver_reads_the_customerio_key_and_nothing_else() -> None:
    role = role_of("DeliverFunction")
    reads = secret_reads(role)
    assert sorted(a for s in reads for a in as_list(s["Action"])) == ["secretsmanager:GetSecretValue", "ssm:GetParameter"]
    assert {text_of(r) for s in reads for r in as_list(s["Resource"])} == CUSTOMERIO_KEY_READ
    assert not secret_reads(role, "Deny")


def test_the_customerio_key_is_the_one_the_code_looks_up() -> None:
    prefix = "/cio-hooks/"
    name = convention_name(prefix, "CUSTOMERIO_API_KEY")
    assert name == "/cio-hooks/customerio-api-key"
    for arn in CUSTOMERIO_KEY_READ:
        assert arn.replace("${SecretsPrefix}", prefix).split(":secret:")[-1].split("parameter")[-1].startswith(name)


def test_no_source_secret_falls_under_the_customerio_deny() -> None:
    """A source whose secret name began with customerio-api-key would be refused its own secret."""
    for full_name in sources.names():
        for secret in secret_settings_of(sources.load(full_name)):
            assert not convention_name("", secret).startswith("customerio-api-key"), f"{full_name}: {secret}"


def test_sources_read_secrets_only_when_authenticating() -> None:
    """Deliver translates raw requests again without any source secret (its role reads only the
    Customer.io key): a source that needed a secret to translate would fail every replay."""
    import ast
    import inspect
    import textwrap

    for full_name in sources.names():
        for klass in sources.load(full_name).__mro__:
            if klass is sources.Source or not issubclass(klass, sources.Source):
                continue
            for name, member in vars(klass).items():
                if name == "authenticate" or not callable(member):
                    continue
                try:
                    tree = ast.parse(textwrap.dedent(inspect.getsource(member)))
                except (OSError, TypeError):
                    continue
                calls = [n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]
                assert not {"secret", "require_secret"} & set(calls), f"{full_name}: {klass.__name__}.{name} reads a secret"


def test_secrets_are_found_by_convention_and_never_set_in_the_template() -> None:
    store = template()["Mappings"]["SecretStore"]
    assert {k: v["Setting"] for k, v in store.items()} == {"SecretsManager": "secretsmanager", "SSM": "ssm"}
    for name in functions():
        variables = function_settings(name)["Environment"]["Variables"]
        assert variables["CIOHOOKS_SECRETS_PREFIX"] == ref("SecretsPrefix"), name
        assert variables["CIOHOOKS_SECRETS_STORE"] == {"Fn::FindInMap": ["SecretStore", ref("SecretStore"), "Setting"]}, name
        for variable in set(variables) - {"CIOHOOKS_CUSTOM_SOURCES_PARAMETER"}:  # definitions, not a secret
            assert not variable.endswith(("_SECRET", "_PARAMETER")), f"{name}: {variable} names one secret; the prefix finds them all"
    for full_name in sources.names():
        for secret in secret_settings_of(sources.load(full_name)):
            for name in functions():
                assert f"CIOHOOKS_{secret}" not in function_settings(name)["Environment"]["Variables"], "a key in the template"


@pytest.mark.parametrize("prefix", ["/cio-hooks/", "/cio-hooks/prod/", "/a/", "/team_x/cio-hooks.v2/"])
def test_secrets_prefix_accepts(prefix: str) -> None:
    p = parameter("SecretsPrefix")
    assert re.fullmatch(p["AllowedPattern"], prefix)


@pytest.mark.parametrize("prefix", ["", "/", "cio-hooks/", "/cio-hooks", "/cio hooks/", "/cio-hooks/*", "arn:aws:secretsmanager:us-east-1:123456789012:secret:x"])
def test_secrets_prefix_refuses(prefix: str) -> None:
    # a prefix that does not start and end with "/" would make SSM ARNs and the IAM wildcards wrong
    assert not re.fullmatch(parameter("SecretsPrefix")["AllowedPattern"], prefix)


def test_sqs_permissions_name_the_queues() -> None:
    queue_key = {str(getatt("DeliveryQueue", "Arn")), str(getatt("DeadLetterQueue", "Arn"))}
    failed_ses_events = {str(getatt("SesEventBridgeFailedQueue", "Arn"))}  # the email ingest's async on-failure destination
    for owner, statement in all_policy_statements():
        if any(a.startswith("sqs:") for a in as_list(statement["Action"])):
            allowed = queue_key | (failed_ses_events if owner == "EmailIngestFunctionRole" else set())
            assert {str(r) for r in as_list(statement["Resource"])} <= allowed, owner
    for name in INGEST_FUNCTIONS.values():
        sends = [s for s in role_statements(role_of(name)) if "sqs:SendMessage" in as_list(s["Action"])]
        expected = queue_key | (failed_ses_events if name == "EmailIngestFunction" else set())
        assert {str(r) for s in sends for r in as_list(s["Resource"])} == expected, name
        assert not [s for s in role_statements(role_of(name)) if "sqs:ReceiveMessage" in as_list(s["Action"])], name
    deliver = role_statements(role_of("DeliverFunction"))
    polls = [s for s in deliver if "sqs:ReceiveMessage" in as_list(s["Action"])]
    assert [s["Resource"] for s in polls] == [getatt("DeliveryQueue", "Arn")]
    sends = [s for s in deliver if "sqs:SendMessage" in as_list(s["Action"])]
    # Dead letters, and the unsent remainder of a message with refused events put back as a new one.
    assert [s["Resource"] for s in sends] == [[getatt("DeadLetterQueue", "Arn"), getatt("DeliveryQueue", "Arn")]]


def test_every_function_that_queues_for_delivery_is_updated_after_deliver() -> None:
    # A stack update replaces the functions one by one; the writers of DeliveryQueue messages wait
    # for the reader, so an envelope of a new version is never read by the previous deliver code
    # (which would dead-letter it until a replay).
    delivery_queue = str(getatt("DeliveryQueue", "Arn"))
    writers = [
        name
        for name in functions()
        if name != "DeliverFunction"
        and any(delivery_queue in {str(r) for r in as_list(s["Resource"])} for s in role_statements(role_of(name)) if "sqs:SendMessage" in as_list(s["Action"]))
    ]
    assert sorted(writers) == ["EmailIngestFunction", "MobileIngestFunction", "VideoIngestFunction", "VideoSweepFunction"]
    for name in writers:
        assert "DeliverFunction" in as_list(functions()[name].get("DependsOn", [])), name


def test_customer_managed_keys_are_used_only_through_their_services() -> None:
    for name in functions():
        decrypt = [s for s in role_statements(role_of(name)) if "kms:Decrypt" in as_list(s["Action"])]
        expected = ["DataKmsKeyArn", "SecretsKmsKeyArn"] if secret_reads(role_of(name)) else ["DataKmsKeyArn"]
        assert sorted(s["Resource"]["Ref"] for s in decrypt) == expected, name
        for statement in decrypt:
            assert "kms:ViaService" in statement["Condition"]["StringEquals"], name
        (data,) = [s for s in decrypt if s["Resource"] == ref("DataKmsKeyArn")]
        assert sorted(as_list(data["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey"]
        services = [text_of(v) for v in as_list(data["Condition"]["StringEquals"]["kms:ViaService"])]
        # Through S3 too only for the roles that store or read bodies (BodiesBucket is SSE-KMS then).
        touches_bodies = any(a.startswith("s3:") for s in role_statements(role_of(name)) for a in as_list(s["Action"]))
        through_s3 = ["s3.${AWS::Region}.amazonaws.com"] if touches_bodies else []
        assert services == ["sqs.${AWS::Region}.amazonaws.com", "dynamodb.${AWS::Region}.amazonaws.com", *through_s3], name
    assert {name for name in functions() if any(a.startswith("s3:") for s in role_statements(role_of(name)) for a in as_list(s["Action"]))} == {
        "EmailIngestFunction", "VideoIngestFunction", "MobileIngestFunction", "DeliverFunction"}


def test_the_data_key_encrypts_queues_logs_tables_and_bodies_when_given() -> None:
    when_given = {"Fn::If": ["HasDataKmsKey", ref("DataKmsKeyArn"), ref("AWS::NoValue")]}
    for name in ("DeliveryQueue", "DeadLetterQueue"):
        props = resources()[name]["Properties"]
        assert props["KmsMasterKeyId"] == when_given
        assert props["SqsManagedSseEnabled"] == {"Fn::If": ["HasDataKmsKey", ref("AWS::NoValue"), True]}, "always encrypted"
    for name, group in resources("AWS::Logs::LogGroup").items():
        assert group["Properties"]["KmsKeyId"] == when_given, name
    for name, table in resources("AWS::DynamoDB::Table").items():
        sse = table["Properties"]["SSESpecification"]
        assert sse["SSEEnabled"] is True and sse["KMSMasterKeyId"] == when_given, name
        assert sse["SSEType"] == {"Fn::If": ["HasDataKmsKey", "KMS", ref("AWS::NoValue")]}, name
    (bodies,) = bucket()["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert bodies["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": {"Fn::If": ["HasDataKmsKey", "aws:kms", "AES256"]}, "KMSMasterKeyID": when_given}
    assert bodies["BucketKeyEnabled"] == {"Fn::If": ["HasDataKmsKey", True, ref("AWS::NoValue")]}, "one data key per bucket, not per object"


# ---- replay store, concurrency -------------------------------------------------------------------------


def test_replay_table_matches_the_store_that_writes_it() -> None:
    from ciohooks import replay_store

    table = resources()["ReplayTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": replay_store.KEY, "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    for family in ("email", "mobile"):  # the families with nonce-carrying schemes (Mailgun, SNS, Standard Webhooks)
        name = INGEST_FUNCTIONS[family]
        assert function_settings(name)["Environment"]["Variables"][f"CIOHOOKS_{replay_store.TABLE_SETTING}"] == ref("ReplayTable")
        puts = [s for s in role_statements(role_of(name)) if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))]
        assert puts == [{"Sid": "ReplayStore", "Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": getatt("ReplayTable", "Arn")}], name


def test_every_nonce_checking_source_runs_on_a_function_with_the_replay_table() -> None:
    from tests.security.test_replays import NONCE_SOURCES

    for full_name in NONCE_SOURCES:
        variables = function_settings(INGEST_FUNCTIONS[full_name.split("/")[0]])["Environment"]["Variables"]
        assert "CIOHOOKS_REPLAY_TABLE" in variables, full_name


def test_public_ingest_functions_have_reserved_concurrency_and_deliver_keeps_its_own() -> None:
    for family, name in INGEST_FUNCTIONS.items():
        setting = f"{family.capitalize()}IngestReservedConcurrency"
        condition = f"Caps{family.capitalize()}Ingest"
        assert functions()[name]["Properties"]["ReservedConcurrentExecutions"] == {"Fn::If": [condition, ref(setting), ref("AWS::NoValue")]}
        assert template()["Conditions"][condition] == {"Fn::Not": [{"Fn::Equals": [ref(setting), 0]}]}
        assert parameter(setting)["MinValue"] == 0 and parameter(setting)["Default"] > 0
    deliver = functions()["DeliverFunction"]["Properties"]
    assert deliver["ReservedConcurrentExecutions"] == ref("DeliverMaxConcurrency")
    assert deliver["Events"]["DeliveryQueue"]["Properties"]["ScalingConfig"]["MaximumConcurrency"] == ref("DeliverMaxConcurrency")
    # The defaults leave Lambda's 100 unreserved executions of a 1,000 account: 25 + 50 + 25 + 5.
    reserved = sum(parameter(f"{f.capitalize()}IngestReservedConcurrency")["Default"] for f in INGEST_FUNCTIONS) + parameter("DeliverMaxConcurrency")["Default"]
    assert reserved == 105


# ---- local-only switches never reach a function ---------------------------------------------------------


def lambda_environment(function: str, **parameters: str) -> dict[str, str]:
    """The environment CloudFormation would give ``function``, parameters resolved, plus what the
    Lambda runtime itself sets: the setting values under test, nothing mocked in the code."""
    values = {name: str(p.get("Default", "")) for name, p in template()["Parameters"].items()} | parameters
    env = {"AWS_LAMBDA_FUNCTION_NAME": f"cio-hooks-{function}"}
    for variable, value in function_settings(function)["Environment"]["Variables"].items():
        if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in values:
            env[variable] = values[value["Ref"]]
        elif isinstance(value, str):
            env[variable] = value
    return env


@pytest.mark.parametrize("function", list(INGEST_FUNCTIONS.values()) + ["DeliverFunction"])
def test_no_stack_parameter_can_turn_on_a_local_only_switch(function: str) -> None:
    from ciohooks.config import LOCAL_ONLY

    attempt = "ALLOW_UNSIGNED=1;SES_CERTIFICATE_PEM=MIIB-pinned;SENDGRID_EMAIL_AS=userId"
    env = lambda_environment(function, SourceSettings=attempt)
    assert env["CIOHOOKS_SOURCE_SETTINGS"] == attempt, "the parameter reaches the function"
    assert not {f"CIOHOOKS_{name}" for name in LOCAL_ONLY} & set(env), "the template sets no local-only switch"
    settings = Settings(env)
    assert settings.get_bool("ALLOW_UNSIGNED") is False and settings.get("SES_CERTIFICATE_PEM") is None
    assert settings.get("SENDGRID_EMAIL_AS") == "userId"
    # and even a variable set on the function by hand is ignored inside Lambda
    by_hand = Settings({**env, "CIOHOOKS_ALLOW_UNSIGNED": "1", "CIOHOOKS_SES_CERTIFICATE_PEM": "MIIB-pinned"})
    assert by_hand.get_bool("ALLOW_UNSIGNED") is False and by_hand.get("SES_CERTIFICATE_PEM") is None


def test_ses_topic_arns_parameter_reaches_the_ses_source() -> None:
    from ciohooks.sources.email import ses

    topic = "arn:aws:sns:us-east-1:123456789012:ses-events"
    env = lambda_environment("EmailIngestFunction", SesTopicArns=f"{topic},arn:aws:sns:eu-west-1:123456789012:other")
    assert Settings(env).get_list(ses.TOPICS_SETTING) == [topic, "arn:aws:sns:eu-west-1:123456789012:other"]
    assert ses.TOPICS_SETTING in sources.load("email/ses").required_settings
    pattern = parameter("SesTopicArns")["AllowedPattern"]
    assert re.fullmatch(pattern, "") and re.fullmatch(pattern, topic) and re.fullmatch(pattern, f"{topic}, {topic}")
    assert not re.fullmatch(pattern, "ses-events") and not re.fullmatch(pattern, "arn:aws:sqs:us-east-1:123456789012:q")


def test_logs_go_to_each_functions_own_log_group() -> None:
    groups = resources("AWS::Logs::LogGroup")
    used = []
    for name in functions():
        group = function_settings(name)["LoggingConfig"]["LogGroup"]["Ref"]
        used.append(group)
        assert "RetentionInDays" in groups[group]["Properties"]
        writes = [s for s in role_statements(role_of(name)) if any(a.startswith("logs:") for a in as_list(s["Action"]))]
        assert [s["Resource"] for s in writes] == [getatt(group, "Arn")], name
    assert len(set(used)) == len(used) == len(groups)


# ---- alarms, topic, dashboard ----------------------------------------------------------------------


def alarms() -> dict[str, dict[str, Any]]:
    return {n: r["Properties"] for n, r in resources("AWS::CloudWatch::Alarm").items()}


def alarm_metric(props: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]]]:
    return props.get("Namespace", ""), props.get("MetricName", ""), props.get("Dimensions", [])


def test_the_alarms_issue_8_asks_for_exist() -> None:
    by_metric = {alarm_metric(p)[:2] + (json.dumps(alarm_metric(p)[2], sort_keys=True),): n for n, p in alarms().items() if "MetricName" in p}

    def find(namespace: str, metric: str, dimension: str, value: Any) -> str:
        key = (namespace, metric, json.dumps([{"Name": dimension, "Value": value}], sort_keys=True))
        assert key in by_metric, f"no alarm on {namespace} {metric} {value}"
        return by_metric[key]

    dlq_depth = alarms()[find("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", getatt("DeadLetterQueue", "QueueName"))]
    assert dlq_depth["Threshold"] == 0 and dlq_depth["ComparisonOperator"] == "GreaterThanThreshold"
    dlq_age = alarms()[find("AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", getatt("DeadLetterQueue", "QueueName"))]
    assert dlq_age["Threshold"] < queue("DeadLetterQueue")["MessageRetentionPeriod"]
    find("AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", getatt("DeliveryQueue", "QueueName"))
    find("AWS/Lambda", "Errors", "FunctionName", ref("DeliverFunction"))
    find("AWS/Lambda", "Throttles", "FunctionName", ref("DeliverFunction"))
    find("CioHooks", "MessagesRetried", "service", ref("AWS::StackName"))


def test_every_function_url_has_a_5xx_rate_alarm() -> None:
    rated = {}
    for name, props in alarms().items():
        metrics = {m["Id"]: m for m in props.get("Metrics", [])}
        if "rate" not in metrics:
            continue
        stats = {m["MetricStat"]["Metric"]["MetricName"]: m["MetricStat"]["Metric"]["Dimensions"] for m in metrics.values() if "MetricStat" in m}
        assert set(stats) == {"UrlRequestCount", "Url5xxCount"}, name
        (dims,) = {json.dumps(d) for d in stats.values()}
        (dimension,) = json.loads(dims)
        assert dimension["Name"] == "FunctionName"
        rated[dimension["Value"]["Ref"]] = name
        expression = metrics["rate"]["Expression"]
        assert "errors" in expression and "requests" in expression and metrics["rate"]["ReturnData"] is True
        assert [m["Id"] for m in metrics.values() if m.get("ReturnData")] == ["rate"]
    assert set(rated) == set(url_functions())


def test_unauthorized_alarm_sums_every_source_of_this_stack() -> None:
    (props,) = [p for p in alarms().values() if "Unauthorized" in json.dumps(p.get("Metrics", ""))]
    (query,) = props["Metrics"]
    expression = query["Expression"]["Fn::Sub"]
    assert expression.startswith('SELECT SUM(Unauthorized) FROM SCHEMA("CioHooks", service, source)')
    assert "service = '${AWS::StackName}'" in expression


def test_every_alarm_notifies_the_email_topic_and_the_given_topic() -> None:
    wanted = [
        {"Fn::If": ["HasAlarmEmail", ref("AlarmTopic"), ref("AWS::NoValue")]},
        {"Fn::If": ["HasAlarmTopic", ref("AlarmTopicArn"), ref("AWS::NoValue")]},
    ]
    assert len(alarms()) >= 10
    for name, props in alarms().items():
        assert props["AlarmActions"] == wanted and props["OKActions"] == wanted, name
        assert props["TreatMissingData"] == "notBreaching", name
        assert "docs/OPERATIONS.md" in props["AlarmDescription"], f"{name}: say where the runbook is"
        assert props["AlarmName"]["Fn::Sub"].startswith("${AWS::StackName}-"), name
    assert "## " in (ROOT / "docs" / "OPERATIONS.md").read_text(encoding="utf-8")


def test_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use() -> None:
    conditioned = {n for n, r in resources().items() if r.get("Condition") == "HasAlarmEmail"}
    assert {"AlarmTopic", "AlarmTopicKey", "AlarmTopicPolicy"} <= conditioned
    topic = resources("AWS::SNS::Topic")["AlarmTopic"]["Properties"]
    # alias/aws/sns cannot be used: CloudWatch may not use the AWS managed key (its policy is fixed)
    assert topic["KmsMasterKeyId"] == ref("AlarmTopicKey")
    assert topic["Subscription"] == [{"Protocol": "email", "Endpoint": ref("AlarmEmail")}]
    key = resources("AWS::KMS::Key")["AlarmTopicKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    (cloudwatch,) = [s for s in key["KeyPolicy"]["Statement"] if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert cloudwatch["Condition"] == {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}}
    policy = resources("AWS::SNS::TopicPolicy")["AlarmTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    (publish,) = [s for s in policy if s["Effect"] == "Allow"]
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and publish["Action"] == "sns:Publish"
    assert parameter("AlarmEmail")["Default"] == "" and re.fullmatch(parameter("AlarmEmail")["AllowedPattern"], "ops@example.com")
    assert not re.fullmatch(parameter("AlarmEmail")["AllowedPattern"], "not an address")


def dashboard() -> dict[str, Any]:
    """The dashboard body as JSON, with every ${...} of its !Sub replaced by a placeholder."""
    body, variables = resources("AWS::CloudWatch::Dashboard")["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    assert set(variables) == {"AlarmArns"}
    text = body.replace("${AlarmArns}", '"arn:alarm"')
    text = re.sub(r"\$\{([A-Za-z0-9:.]+)\}", lambda m: "SUB_" + m.group(1).replace("::", "_").replace(".", "_"), text)
    return json.loads(text)


def code_text() -> str:
    package = ROOT / "shared" / "ciohooks"
    return "\n".join(p.read_text(encoding="utf-8") for p in [*package.rglob("*.py"), *(ROOT / "functions").rglob("*.py")])


def ingest_metric_names() -> set[str]:
    from ciohooks import handlers

    return set(handlers.INGEST_RESULT_METRICS.values()) | {"Received", "Unauthorized", "EventsQueued", "EventsIgnored", "UnknownEventTypes"}


DELIVER_METRICS = {"Delivered", "DeadLettered", "MessagesRetried", "CustomerIoRequests"}


def test_the_metrics_the_alarms_and_dashboard_read_are_emitted_by_the_code() -> None:
    code = code_text()
    for metric in ingest_metric_names() | DELIVER_METRICS:
        assert f'"{metric}"' in code, f"no code emits {metric}"
    assert '"source"' in code  # the per-source dimension


def test_dashboard_shows_every_ingest_metric_per_source_and_the_delivery_side() -> None:
    body = dashboard()
    widgets = body["widgets"]
    expressions = [m[0]["expression"] for w in widgets if w["type"] == "metric" for m in w["properties"]["metrics"] if isinstance(m[0], dict)]
    for metric in ingest_metric_names():
        wanted = f"SEARCH('{{CioHooks,service,source}} service=\"SUB_AWS_StackName\" MetricName=\"{metric}\"', 'Sum', 300)"
        assert wanted in expressions, f"no per-source widget for {metric}"
    plain = [m for w in widgets if w["type"] == "metric" for m in w["properties"]["metrics"] if isinstance(m[0], str)]
    deliver = {m[1] for m in plain if m[0] in ("CioHooks", ".") and len(m) > 3 and m[3] in ("SUB_AWS_StackName", ".")}
    assert DELIVER_METRICS <= deliver
    named = json.dumps(plain)
    for metric in ("ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage", "Errors", "Throttles", "Duration", "Url5xxCount", "UrlRequestCount"):
        assert metric in named, metric
    for name in functions():
        assert f"SUB_{name}" in named, f"{name} is not on the dashboard"
    (alarm_widget,) = [w for w in widgets if w["type"] == "alarm"]
    assert alarm_widget["properties"]["alarms"] == ["arn:alarm"]
    arns = resources("AWS::CloudWatch::Dashboard")["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][1]["AlarmArns"]["Fn::Join"][1]
    assert sorted(a["Fn::Sub"].split("${")[1].split(".")[0] for a in arns) == sorted(alarms())
    for widget in widgets:
        assert widget["type"] in ("text", "alarm") or widget["properties"]["region"] == "SUB_AWS_Region"
    (logs,) = [w for w in widgets if w["type"] == "log"]
    for group in resources("AWS::Logs::LogGroup"):
        assert f"SOURCE 'SUB_{group}'" in logs["properties"]["query"]


def test_dashboard_name_is_unique_per_region() -> None:
    # dashboards are global to an account: the same stack name in two regions must not collide
    name = resources("AWS::CloudWatch::Dashboard")["Dashboard"]["Properties"]["DashboardName"]
    assert name == {"Fn::Sub": "${AWS::StackName}-${AWS::Region}"}


def test_metrics_of_two_stacks_stay_apart() -> None:
    assert template()["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == ref("AWS::StackName")
    assert template()["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"] == "CioHooks"


# ---- environment and parameters ----------------------------------------------------------------------


def test_environment_variables_are_ones_the_code_reads() -> None:
    code = code_text()
    for name in functions():
        variables = function_settings(name)["Environment"]["Variables"]
        assert POWERTOOLS_ENV <= set(variables), name
        assert {v for v in variables if v.startswith("POWERTOOLS_")} <= POWERTOOLS_ENV
        for variable in (v for v in variables if v.startswith("CIOHOOKS_")):
            setting = variable.removeprefix("CIOHOOKS_")
            if setting == "SOURCE_SETTINGS":
                continue  # read by config.Settings itself (test_source_settings_reach_the_sources)
            assert f'"{setting}"' in code or f'"{variable}"' in code, f"{name} sets {variable}, which no code reads"


def test_source_settings_reach_the_sources() -> None:
    settings = Settings({"CIOHOOKS_SOURCE_SETTINGS": "SENDGRID_USER_ID_KEYS=user_id,customer_id; SENDGRID_EMAIL_AS=userId", "CIOHOOKS_SENDGRID_EMAIL_AS": "anonymousId"})
    assert settings.get_list("SENDGRID_USER_ID_KEYS") == ["user_id", "customer_id"]
    assert settings.get("SENDGRID_EMAIL_AS") == "anonymousId"  # a real environment variable wins
    # never a way to give or redirect a secret
    assert Settings({"CIOHOOKS_SOURCE_SETTINGS": "SENDGRID_VERIFICATION_KEY=x"}).secret("SENDGRID_VERIFICATION_KEY") is None


@pytest.mark.parametrize("value", ["", "SENDGRID_EMAIL_AS=userId", "SENDGRID_USER_ID_KEYS=user_id,customer_id;SENDGRID_EMAIL_AS=userId",
                                   "A=1; B=two words;", "MANDRILL_WEBHOOK_URL=https://x.example/mandrill?a=b"])
def test_source_settings_pattern_accepts(value: str) -> None:
    assert re.fullmatch(parameter("SourceSettings")["AllowedPattern"], value)


@pytest.mark.parametrize("value", ["sendgrid_email_as=userId", "SENDGRID_EMAIL_AS", "=x", "A=1;;B=2", "A=1;b=2"])
def test_source_settings_pattern_refuses(value: str) -> None:
    assert not re.fullmatch(parameter("SourceSettings")["AllowedPattern"], value)


def test_enabled_sources_pattern_takes_every_catalog_name() -> None:
    pattern = parameter("EnabledSources")["AllowedPattern"]
    assert re.fullmatch(pattern, ",".join(sources.names()))
    assert re.fullmatch(pattern, ",".join(n.split("/", 1)[1] for n in sources.names()))
    assert re.fullmatch(pattern, "sendgrid, mailgun")
    assert not re.fullmatch(pattern, "SendGrid;Mailgun")


def test_deliver_gets_what_translating_again_needs() -> None:
    deliver = function_settings("DeliverFunction")["Environment"]["Variables"]
    for variable in ("CIOHOOKS_DEAD_LETTER_QUEUE_URL", "CIOHOOKS_CUSTOMERIO_REGION", "CIOHOOKS_SOURCE_SETTINGS", "CIOHOOKS_SECRETS_PREFIX"):
        assert variable in deliver
    for name in INGEST_FUNCTIONS.values():
        ingest = function_settings(name)["Environment"]["Variables"]
        for variable in ("CIOHOOKS_DELIVERY_QUEUE_URL", "CIOHOOKS_DEAD_LETTER_QUEUE_URL", "CIOHOOKS_MAX_BODY_BYTES", "CIOHOOKS_SOURCE_SETTINGS"):
            assert variable in ingest, f"{name}: {variable}"
        assert "CIOHOOKS_CUSTOMERIO_REGION" not in ingest


def test_customerio_region_maps_us_and_eu() -> None:
    region = parameter("CustomerIoRegion")
    assert region["AllowedValues"] == ["US", "EU"] and region["Default"] == "US"
    mapping = template()["Mappings"]["CustomerIo"]
    assert {k: v["Region"] for k, v in mapping.items()} == {"US": "us", "EU": "eu"}
    variables = function_settings("DeliverFunction")["Environment"]["Variables"]
    assert variables["CIOHOOKS_CUSTOMERIO_REGION"] == {"Fn::FindInMap": ["CustomerIo", ref("CustomerIoRegion"), "Region"]}


@pytest.mark.parametrize("name", list(yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=CfnLoader)["Parameters"]))  # noqa: S506
def test_parameter_is_described_with_a_valid_default(name: str) -> None:
    p = parameter(name)
    assert len(p.get("Description", "")) > 20
    assert "Default" in p, f"{name}: a guided deploy must be able to take the default"
    if "AllowedValues" in p:
        assert p["Default"] in p["AllowedValues"]
    if "AllowedPattern" in p:
        assert re.fullmatch(p["AllowedPattern"], str(p["Default"]))
    if "MinValue" in p:
        assert p["MinValue"] <= p["Default"] <= p["MaxValue"]


def test_guided_deploy_groups_and_labels_every_parameter() -> None:
    interface = template()["Metadata"]["AWS::CloudFormation::Interface"]
    grouped = [p for group in interface["ParameterGroups"] for p in group["Parameters"]]
    assert sorted(grouped) == sorted(template()["Parameters"]), "each parameter in exactly one group"
    assert set(interface["ParameterLabels"]) == set(template()["Parameters"])
    # sam deploy --guided asks in template order: keep it the order of the groups
    assert grouped == list(template()["Parameters"])


def test_no_parameter_carries_a_key_itself() -> None:
    for name, p in template()["Parameters"].items():
        assert not re.search(r"(ApiKey|VerificationKey|Secret|Token|Password|KeyName)$", name), f"{name} looks like a key"
        assert p.get("NoEcho") is None, f"{name}: nothing secret is a parameter"
    assert parameter("SecretStore")["AllowedValues"] == ["SecretsManager", "SSM"]


def test_stack_name_length_rule_is_documented() -> None:
    # Queue names are <stack>-dead-letter (12 more characters) and SQS allows 80.
    for path in (TEMPLATE, ROOT / "samconfig.toml.example", ROOT / "docs" / "DEPLOY.md"):
        assert "68 characters" in path.read_text(encoding="utf-8"), path.name
    longest = max((text_of(queue(n)["QueueName"]).replace("${AWS::StackName}", "") for n in ("DeliveryQueue", "DeadLetterQueue")), key=len)
    assert 68 + len(longest) == 80


# ---- samconfig.toml.example --------------------------------------------------------------------------


def test_samconfig_example_overrides_existing_parameters() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml.example").read_text(encoding="utf-8"))
    assert config["default"]["deploy"]["parameters"]["resolve_s3"] is True
    envs = 0
    for env, sections in config.items():
        if not isinstance(sections, dict) or "deploy" not in sections:
            continue
        envs += 1
        deploy = sections["deploy"]["parameters"]
        assert "CAPABILITY_IAM" in deploy["capabilities"], env
        for override in deploy["parameter_overrides"]:
            key, _, value = override.partition("=")
            assert key in template()["Parameters"], f"[{env}] unknown parameter {key}"
            p = parameter(key)
            if "<" in value:
                continue
            if p.get("AllowedValues"):
                assert value in [str(a) for a in p["AllowedValues"]], f"[{env}] {key}={value}"
            if p.get("AllowedPattern"):
                assert re.fullmatch(p["AllowedPattern"], value), f"[{env}] {key}={value}"
    assert envs >= 2
