"""`make invoke` on a fresh checkout: a function of template.yaml, its real handler, in the Lambda
runtime emulator, without Docker and without AWS (ciohooks.invoke).

The checkout is a copy of the project's files at a new path (no .pytest_cache, no generated layer);
its .venv and .venv-sam are this repository's (setting them up is `make setup`'s business, tested by
using them here), linked in, with the requirement files dated before them so make does not rebuild.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import REPO_ROOT, require
from tests.support.rie import rie_available

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    available, why = rie_available()
    require("the Lambda runtime emulator", not available, why)
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    target = tmp_path_factory.mktemp("fresh") / "cio-hooks"
    for name in listed.splitlines():
        source = REPO_ROOT / name
        if source.is_file() and not source.is_symlink():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    for venv in (".venv", ".venv-sam"):
        (target / venv).symlink_to((REPO_ROOT / venv).resolve())
    for requirements in target.glob("requirements*.txt"):
        os.utime(requirements, (0, 0))
    os.utime(target / "pyproject.toml", (0, 0))
    return target


def make_invoke(checkout: Path, function: str, event: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "--no-print-directory", "invoke", f"FN={function}", f"EVENT={event}", *extra], cwd=checkout,
                          capture_output=True, text=True, timeout=600)


def test_make_invoke_runs_the_email_ingest_function_on_a_fresh_checkout(checkout: Path) -> None:
    run = make_invoke(checkout, "EmailIngestFunction", "events/email/sendgrid/batch.json")
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["statusCode"] == 200 and json.loads(result["body"]) == {"accepted": 7, "ignored": 4}
    queued = [line for line in run.stderr.splitlines() if line.startswith("DeliveryQueue: ")]
    assert [json.loads(line.split(": ", 1)[1]) for line in queued] == [{
        "kind": "events", "source": "email/sendgrid", "received_at": "2026-11-23T12:00:00+00:00", "events": 7,
        "names": ["Email Bounced", "Email Delivered", "Email Link Clicked", "Email Marked as Spam", "Email Opened", "Email Unsubscribed"],
    }]
    assert "REPORT RequestId" in run.stderr  # the emulator's own line: a real Lambda runtime ran it


def test_make_invoke_runs_the_deliver_function_against_the_dry_run_endpoint(checkout: Path) -> None:
    run = make_invoke(checkout, "DeliverFunction", "events/deliver/sendgrid-open.json")
    assert run.returncode == 0, run.stderr[-3000:]
    call, result = (json.loads(line) for line in run.stdout.strip().splitlines()[-2:])
    assert result == {"batchItemFailures": []}
    assert call["body"]["event"] == "Email Opened" and call["body"]["messageId"] == "7128e3a3-53f1-5065-9169-9f456b6a7b9e"


def test_make_invoke_with_only_the_layer_on_the_path(checkout: Path) -> None:
    """LAYER=1: requirements.txt + shared/ciohooks installed apart, the interpreter without site-packages."""
    run = make_invoke(checkout, "MobileIngestFunction", "events/mobile/adjust/install.json", "LAYER=1")
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(json.loads(run.stdout.strip().splitlines()[-1])["body"]) == {"accepted": 1, "ignored": 0}
    assert (checkout / ".ciohooks-cache").is_dir()


def test_make_invoke_without_its_arguments_says_what_to_give(checkout: Path) -> None:
    run = subprocess.run(["make", "--no-print-directory", "invoke"], cwd=checkout, capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    assert "give FN and EVENT, e.g. make invoke FN=EmailIngestFunction EVENT=events/email/sendgrid/batch.json" in run.stderr


def test_sam_env_vars_points_the_functions_at_a_stack(sqs_queues, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`ciohooks sam-env-vars --stack`: only variables template.yaml declares (SAM passes no other),
    read from the stack's outputs and parameters (CloudFormation on moto)."""
    import boto3

    from ciohooks.cli import main

    template = {
        "Parameters": {"SecretsPrefix": {"Type": "String"}, "SecretStore": {"Type": "String"}, "SourceSettings": {"Type": "String"}},
        "Resources": {"Nothing": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {"DeliveryQueueUrl": {"Value": sqs_queues.delivery_url}, "DeadLetterQueueUrl": {"Value": sqs_queues.dlq_url}},
    }
    parameters = {"SecretsPrefix": "/cio-hooks-dev/", "SecretStore": "SSM", "SourceSettings": "SENDGRID_EMAIL_AS=userId"}
    boto3.client("cloudformation", endpoint_url=sqs_queues.endpoint_url, region_name=sqs_queues.region).create_stack(
        StackName="cio-hooks-dev", TemplateBody=json.dumps(template), Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()])
    monkeypatch.setenv("AWS_ENDPOINT_URL", sqs_queues.endpoint_url)
    assert main(["sam-env-vars", "--stack", "cio-hooks-dev", "--region", sqs_queues.region]) == 0
    assert json.loads(capsys.readouterr().out) == {"Parameters": {
        "CIOHOOKS_DELIVERY_QUEUE_URL": sqs_queues.delivery_url,
        "CIOHOOKS_DEAD_LETTER_QUEUE_URL": sqs_queues.dlq_url,
        "CIOHOOKS_SECRETS_PREFIX": "/cio-hooks-dev/",
        "CIOHOOKS_SECRETS_STORE": "ssm",
        "CIOHOOKS_SOURCE_SETTINGS": "SENDGRID_EMAIL_AS=userId",
    }}
    from ciohooks.invoke import declared_variables, load_template

    assert {"CIOHOOKS_DELIVERY_QUEUE_URL", "CIOHOOKS_SOURCES", "CIOHOOKS_CUSTOMERIO_REGION"} <= declared_variables(load_template(REPO_ROOT / "template.yaml"))
    assert "CIOHOOKS_SENDGRID_VERIFICATION_KEY" not in declared_variables(load_template(REPO_ROOT / "template.yaml"))
