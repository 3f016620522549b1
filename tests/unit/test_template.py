"""template.yaml, the Makefile's sam build targets and samconfig.toml.example, read as plain files.

Pure: no SAM CLI, no AWS, no network. The template is parsed with PyYAML; CloudFormation's short
tags (!Ref, !GetAtt, !Sub, !If ...) become their long JSON forms ({"Ref": ...}, {"Fn::If": ...}).
`sam validate --lint` and `sam build` themselves run in tests/integration/test_sam.py.
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"

# Every CIOHOOKS_* variable the code reads and the template may set (ciohooks.config reads them).
CIOHOOKS_ENV = {
    "CIOHOOKS_DELIVERY_QUEUE_URL",
    "CIOHOOKS_DEAD_LETTER_QUEUE_URL",
    "CIOHOOKS_CUSTOMERIO_REGION",
    "CIOHOOKS_CUSTOMERIO_API_KEY_SECRET",
    "CIOHOOKS_CUSTOMERIO_API_KEY_PARAMETER",
    "CIOHOOKS_SENDGRID_VERIFICATION_KEY_SECRET",
    "CIOHOOKS_SENDGRID_VERIFICATION_KEY_PARAMETER",
    "CIOHOOKS_SENDGRID_TOLERANCE_SECONDS",
    "CIOHOOKS_SENDGRID_USER_ID_KEYS",
    "CIOHOOKS_SENDGRID_EMAIL_AS",
    "CIOHOOKS_MAX_BODY_BYTES",
    "CIOHOOKS_FAMILY",
}
POWERTOOLS_ENV = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}

# The only actions allowed on Resource "*", each because AWS offers no narrower resource.
STAR_RESOURCE_EXCEPTIONS = {
    "xray:PutTraceSegments": "X-Ray has no resource-level permissions (Tracing: Active)",
    "xray:PutTelemetryRecords": "X-Ray has no resource-level permissions (Tracing: Active)",
}

# Which secret parameter each function's role may read: one key per function, nothing else.
SECRET_OF_ROLE = {
    "EmailIngestFunction": "SendGridVerificationKeyName",
    "DeliverFunction": "CustomerIoApiKeyName",
}


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
    assert "EmailIngestFunction" in url_functions()
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
    # Every accepted body must fit in one message (ingest dead-letters raw requests).
    assert parameter("MaxBodyBytes")["MaxValue"] < queue("DeadLetterQueue")["MaximumMessageSize"]


def test_visibility_timeout_is_at_least_six_times_the_deliver_timeout() -> None:
    deliver = function_settings("DeliverFunction")
    (event,) = [e["Properties"] for e in deliver["Events"].values() if e["Type"] == "SQS"]
    needed = 6 * deliver["Timeout"] + event.get("MaximumBatchingWindowInSeconds", 0)
    assert queue("DeliveryQueue")["VisibilityTimeout"] >= needed


def test_dead_letters_outlive_the_delivery_queue() -> None:
    assert queue("DeadLetterQueue")["MessageRetentionPeriod"] == 1_209_600  # 14 days, the SQS maximum
    assert queue("DeliveryQueue")["MessageRetentionPeriod"] < queue("DeadLetterQueue")["MessageRetentionPeriod"]


# ---- outputs ---------------------------------------------------------------------------------------


def test_outputs_name_every_function_url_and_queue() -> None:
    outputs = {name: o["Value"] for name, o in template()["Outputs"].items()}
    values = list(outputs.values())
    for name in url_functions():
        assert getatt(f"{name}Url", "FunctionUrl") in values, f"no output for {name}'s Function URL"
    assert outputs["SendGridWebhookUrl"] == {"Fn::Sub": "${EmailIngestFunctionUrl.FunctionUrl}sendgrid"}
    assert outputs["DeliveryQueueUrl"] == ref("DeliveryQueue")
    assert outputs["DeadLetterQueueUrl"] == ref("DeadLetterQueue")
    assert outputs["DeliveryQueueArn"] == getatt("DeliveryQueue", "Arn")
    assert outputs["DeadLetterQueueArn"] == getatt("DeadLetterQueue", "Arn")


# ---- least privilege -------------------------------------------------------------------------------


def test_functions_use_their_own_roles_with_inline_policies_only() -> None:
    # A SAM-generated role would attach AWS managed policies with Resource "*"
    # (AWSLambdaBasicExecutionRole, AWSXrayWriteOnlyAccess, AWSLambdaSQSQueueExecutionRole).
    assert "Role" not in template().get("Globals", {}).get("Function", {})
    roles = resources("AWS::IAM::Role")
    used = [role_of(name) for name in functions()]
    assert len(set(used)) == len(used), "each function gets a role of its own"
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
            else:
                assert "*" not in text_of(resource), f"{owner}: wildcard in resource {resource!r}"


def test_each_role_reads_only_its_own_secret() -> None:
    for function_name, secret_parameter in SECRET_OF_ROLE.items():
        role = role_of(function_name)
        reads = [s for s in role_statements(role) if {"secretsmanager:GetSecretValue", "ssm:GetParameter"} & set(as_list(s["Action"]))]
        # one statement per store (the two arms of the SecretStore condition)
        assert {a for s in reads for a in as_list(s["Action"])} == {"secretsmanager:GetSecretValue", "ssm:GetParameter"}
        for statement in reads:
            assert len(as_list(statement["Action"])) == 1
            (resource,) = as_list(statement["Resource"])
            arn = text_of(resource)
            assert f"${{{secret_parameter}}}" in arn, f"{role} reads {arn}, not {secret_parameter}"
            others = set(SECRET_OF_ROLE.values()) - {secret_parameter}
            assert not any(f"${{{o}}}" in arn for o in others)
            if "secretsmanager" in arn:
                assert arn.endswith(f"secret:${{{secret_parameter}}}-??????")  # the 6-character suffix, no more
            else:
                assert ":parameter/" in arn
        decrypt = [s for s in role_statements(role) if "kms:Decrypt" in as_list(s["Action"])]
        for statement in decrypt:  # only for a customer managed key, and only through the secret store
            assert statement["Resource"] == ref("SecretsKmsKeyArn")
            assert "kms:ViaService" in statement["Condition"]["StringEquals"]


def test_sqs_permissions_name_the_queues() -> None:
    queue_key = {str(getatt("DeliveryQueue", "Arn")), str(getatt("DeadLetterQueue", "Arn"))}
    for owner, statement in all_policy_statements():
        if any(a.startswith("sqs:") for a in as_list(statement["Action"])):
            assert {str(r) for r in as_list(statement["Resource"])} <= queue_key, owner
    ingest = role_statements(role_of("EmailIngestFunction"))
    deliver = role_statements(role_of("DeliverFunction"))
    sends = [s for s in ingest if "sqs:SendMessage" in as_list(s["Action"])]
    assert {str(r) for s in sends for r in as_list(s["Resource"])} == queue_key
    polls = [s for s in deliver if "sqs:ReceiveMessage" in as_list(s["Action"])]
    assert [s["Resource"] for s in polls] == [getatt("DeliveryQueue", "Arn")]
    dead_letters = [s for s in deliver if "sqs:SendMessage" in as_list(s["Action"])]
    assert [s["Resource"] for s in dead_letters] == [getatt("DeadLetterQueue", "Arn")]


def test_logs_go_to_each_functions_own_log_group() -> None:
    groups = resources("AWS::Logs::LogGroup")
    for name in functions():
        group = function_settings(name)["LoggingConfig"]["LogGroup"]["Ref"]
        assert "RetentionInDays" in groups[group]["Properties"]
        writes = [s for s in role_statements(role_of(name)) if any(a.startswith("logs:") for a in as_list(s["Action"]))]
        assert [s["Resource"] for s in writes] == [getatt(group, "Arn")], name


# ---- environment and parameters ----------------------------------------------------------------------


def test_environment_variables_are_ones_the_code_reads() -> None:
    for name in functions():
        variables = function_settings(name)["Environment"]["Variables"]
        ciohooks = {v for v in variables if v.startswith("CIOHOOKS_")}
        assert ciohooks <= CIOHOOKS_ENV, f"{name} sets unknown {sorted(ciohooks - CIOHOOKS_ENV)}"
        assert POWERTOOLS_ENV <= set(variables), name
        assert {v for v in variables if v.startswith("POWERTOOLS_")} <= POWERTOOLS_ENV


def test_each_secret_is_named_for_exactly_one_store() -> None:
    wanted = {"EmailIngestFunction": "SENDGRID_VERIFICATION_KEY", "DeliverFunction": "CUSTOMERIO_API_KEY"}
    for name, secret in wanted.items():
        variables = function_settings(name)["Environment"]["Variables"]
        in_secrets_manager = variables[f"CIOHOOKS_{secret}_SECRET"]["Fn::If"]
        in_ssm = variables[f"CIOHOOKS_{secret}_PARAMETER"]["Fn::If"]
        assert in_secrets_manager[0] == in_ssm[0] == "UseSecretsManager"
        assert in_secrets_manager[2] == in_ssm[1] == ref("AWS::NoValue")
        assert in_secrets_manager[1] == in_ssm[2]
        assert f"CIOHOOKS_{secret}" not in variables, "the key itself never goes in the template"


def test_functions_get_the_settings_they_need() -> None:
    ingest = function_settings("EmailIngestFunction")["Environment"]["Variables"]
    deliver = function_settings("DeliverFunction")["Environment"]["Variables"]
    for variable in ("CIOHOOKS_DELIVERY_QUEUE_URL", "CIOHOOKS_DEAD_LETTER_QUEUE_URL", "CIOHOOKS_SENDGRID_TOLERANCE_SECONDS", "CIOHOOKS_MAX_BODY_BYTES"):
        assert variable in ingest
    # deliver translates raw requests again on replay, so it needs the translation rules too
    for variable in ("CIOHOOKS_DEAD_LETTER_QUEUE_URL", "CIOHOOKS_CUSTOMERIO_REGION", "CIOHOOKS_SENDGRID_USER_ID_KEYS", "CIOHOOKS_SENDGRID_EMAIL_AS"):
        assert variable in deliver
    assert not {v for v in deliver if v.startswith("CIOHOOKS_SENDGRID_VERIFICATION_KEY")}
    assert not {v for v in ingest if v.startswith("CIOHOOKS_CUSTOMERIO_API_KEY")}


def test_customerio_region_maps_us_and_eu() -> None:
    region = parameter("CustomerIoRegion")
    assert region["AllowedValues"] == ["US", "EU"] and region["Default"] == "US"
    mapping = template()["Mappings"]["CustomerIo"]
    assert {k: v["Region"] for k, v in mapping.items()} == {"US": "us", "EU": "eu"}
    variables = function_settings("DeliverFunction")["Environment"]["Variables"]
    assert variables["CIOHOOKS_CUSTOMERIO_REGION"] == {"Fn::FindInMap": ["CustomerIo", ref("CustomerIoRegion"), "Region"]}


@pytest.mark.parametrize(
    "name",
    [
        "CustomerIoRegion", "SecretStore", "CustomerIoApiKeyName", "SendGridVerificationKeyName",
        "SendGridToleranceSeconds", "SendGridUserIdKeys", "SendGridEmailAs", "MaxReceiveCount",
        "DeliverMaxConcurrency", "LogLevel",
    ],
)
def test_parameter_is_described_with_a_valid_default(name: str) -> None:
    p = parameter(name)
    assert len(p.get("Description", "")) > 20
    assert "Default" in p
    if "AllowedValues" in p:
        assert p["Default"] in p["AllowedValues"]
    if "AllowedPattern" in p:
        assert re.fullmatch(p["AllowedPattern"], str(p["Default"]))
    if "MinValue" in p:
        assert p["MinValue"] <= p["Default"] <= p["MaxValue"]


def test_no_parameter_carries_a_key_itself() -> None:
    for name, p in template()["Parameters"].items():
        assert not re.search(r"(ApiKey|VerificationKey|Secret|Token|Password)$", name), f"{name} looks like a key"
    for name in ("CustomerIoApiKeyName", "SendGridVerificationKeyName"):
        assert not re.fullmatch(parameter(name)["AllowedPattern"], "arn:aws:secretsmanager:us-east-1:123456789012:secret:x")
    assert parameter("SecretStore")["AllowedValues"] == ["SecretsManager", "SSM"]
    assert parameter("SendGridEmailAs")["AllowedValues"] == ["anonymousId", "userId"]


# ---- samconfig.toml.example --------------------------------------------------------------------------


def test_samconfig_example_overrides_existing_parameters() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml.example").read_text(encoding="utf-8"))
    assert config["default"]["deploy"]["parameters"]["resolve_s3"] is True
    for env, sections in config.items():
        if not isinstance(sections, dict) or "deploy" not in sections:
            continue
        deploy = sections["deploy"]["parameters"]
        assert "CAPABILITY_IAM" in deploy["capabilities"], env
        for override in deploy["parameter_overrides"]:
            key, _, value = override.partition("=")
            assert key in template()["Parameters"], f"[{env}] unknown parameter {key}"
            allowed = parameter(key).get("AllowedValues")
            if allowed and "<" not in value:
                assert value in [str(a) for a in allowed], f"[{env}] {key}={value}"
