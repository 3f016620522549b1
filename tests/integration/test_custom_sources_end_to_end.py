"""The two worked custom sources, exactly like the built-ins (test_sources_end_to_end.py): each real
sample signed, posted over HTTP to serve's handler, queued in the SQS emulator, delivered to the
Customer.io stand-in (which enforces the seed specs), once each; an unknown type is kept in the
DLQ and a replay re-translates it with the definition loaded by deliver. And the layer build step
(`make build-custom-sources`, what `sam build` runs) refuses an invalid definition with one line.
"""

from __future__ import annotations

import dataclasses
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from ciohooks import sources
from ciohooks.config import Settings
from ciohooks.envelope import Envelope
from ciohooks.request import WebhookRequest
from tests.support.pipeline import pipeline_settings, served

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples" / "custom-sources"
SHIPPED = ROOT / "shared" / "ciohooks" / "sources" / "definitions"  # definitions shipped with the product
MAILERSEND_SAMPLES = ROOT / "events" / "samples" / "email" / "mailersend"
SECRETS = {"CIOHOOKS_MAILERSEND_SIGNING_SECRET": "TEST_WEBHOOK_SIGNING_SECRET", "CIOHOOKS_SINGULAR_POSTBACK_TOKEN": "postback-token-1"}
CASES = [
    ("email/mailersend", "v2-opened.json", ["e1765fdf-bfca-5c32-8572-be85dcbd9f24"]),
    ("email/mailersend", "v1-clicked.json", ["82c2f7f8-9f64-5864-b1fe-396191682a3d"]),
    ("mobile/singular", "install-known-user.query", ["ca0ead5f-5d30-5744-b041-14a79e33792a"]),
]


@pytest.fixture
def pipeline(sqs_queues, cio_standin, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", sqs_queues.endpoint_url)
    monkeypatch.setenv("CIOHOOKS_CUSTOM_SOURCES_DIR", str(EXAMPLES))
    sources.refresh()
    with served(pipeline_settings(sqs_queues, cio_standin, **SECRETS, CIOHOOKS_CUSTOM_SOURCES_DIR=str(EXAMPLES))) as local:
        yield local
    monkeypatch.delenv("CIOHOOKS_CUSTOM_SOURCES_DIR")
    sources.refresh()


def sample_request(full_name: str, sample: str) -> WebhookRequest:
    family, name = full_name.split("/")
    path = MAILERSEND_SAMPLES / sample if name == "mailersend" else EXAMPLES / f"{name}.samples" / sample
    if path.suffix == ".query":
        request = WebhookRequest("GET", f"/{name}", b"", {}, path.read_text().strip(), received_at=datetime.now(UTC))
    else:
        request = WebhookRequest("POST", f"/{name}", path.read_bytes(), {"content-type": "application/json"}, received_at=datetime.now(UTC))
    key = SECRETS["CIOHOOKS_MAILERSEND_SIGNING_SECRET" if name == "mailersend" else "CIOHOOKS_SINGULAR_POSTBACK_TOKEN"]
    return example_source(name).sign(request, key)


def example_source(name: str):
    """The example's source class, built from its file (whatever the catalogue holds now)."""
    from ciohooks.sources.custom import build
    from ciohooks.sources.custom.definition import read

    path = SHIPPED / f"{name}.yaml" if name == "mailersend" else EXAMPLES / f"{name}.yaml"
    return build(read(path)[0], str(path))


def send(pipeline, request: WebhookRequest) -> requests.Response:
    url = f"{pipeline.url}{request.path}" + (f"?{request.raw_query}" if request.raw_query else "")
    return requests.request(request.method, url, data=request.body or None, headers=dict(request.headers), timeout=10)


def drain_until(pipeline, cio_standin, count: int) -> None:
    stop = time.monotonic() + 15
    while len(cio_standin.events) < count and time.monotonic() < stop:
        if not pipeline.drain_once(wait_seconds=0):
            time.sleep(0.1)


@pytest.mark.parametrize("full_name,sample,expected", CASES, ids=[f"{n}:{s}" for n, s, _ in CASES])
def test_sample_reaches_customerio(full_name, sample, expected, pipeline, sqs_queues, cio_standin):
    response = send(pipeline, sample_request(full_name, sample))
    assert response.status_code == 200, response.text
    drain_until(pipeline, cio_standin, len(expected))
    assert sorted(e["messageId"] for e in cio_standin.events) == expected
    assert cio_standin.duplicates() == {} and sqs_queues.count("dlq") == 0


def test_wrong_signature_is_refused_and_nothing_is_queued(pipeline, sqs_queues, cio_standin):
    request = sample_request("email/mailersend", "v2-delivered.json")
    forged = dataclasses.replace(request, headers={**request.headers, "signature": "00" * 32})
    assert send(pipeline, forged).status_code == 401
    assert sqs_queues.count("delivery") == 0 and sqs_queues.count("dlq") == 0


def test_unknown_type_is_kept_in_the_dlq(pipeline, sqs_queues, cio_standin):
    path = MAILERSEND_SAMPLES / "v2-delivered.json"
    body = path.read_bytes().replace(b"activity.delivered", b"activity.brand_new")
    request = sources.load("email/mailersend").sign(WebhookRequest("POST", "/mailersend", body, {"content-type": "application/json"}, received_at=datetime.now(UTC)), SECRETS["CIOHOOKS_MAILERSEND_SIGNING_SECRET"])
    assert send(pipeline, request).status_code == 200
    kept = sqs_queues.receive_all("dlq", delete=True)
    assert len(kept) == 1 and "activity.brand_new" in kept[0]["Body"]


def test_a_replayed_request_is_translated_by_deliver_with_the_definition(pipeline, sqs_queues, cio_standin):
    """A replayed dead letter is a request envelope: deliver loads the definition and translates it."""
    from ciohooks.queue import SqsQueue

    request = sample_request("email/mailersend", "v2-delivered.json")
    source = sources.load("email/mailersend")
    stored = request.to_dict(source.secret_headers, source.secret_query_keys)
    SqsQueue(sqs_queues.delivery_url).put(Envelope(kind="request", source="email/mailersend", received_at=request.received_at, request=stored))
    drain_until(pipeline, cio_standin, 1)
    assert [e["messageId"] for e in cio_standin.events] == ["6caa706f-fe25-5359-bdf1-add34c4fb378"]
    assert sqs_queues.count("dlq") == 0


NO_AUTH = "authentication:\n  preset: none\n\n"
INVALID = {
    "none without the flag": (
        lambda text: text[:text.index("authentication:")] + NO_AUTH + text[text.index("# One activity"):],
        "/authentication: preset none is refused unless accept_unauthenticated_requests_from_anyone: true (anyone who knows the URL could post events)",
    ),
    "bad JSONata": (
        lambda text: text.replace('link_url: "data.meta.url ? data.meta.url : data.morph.url"', 'link_url: "data.meta.url ? : data.morph.url"'),
        "/mapping/activity.clicked/properties/link_url: JSONata does not compile (S0211: The symbol : cannot be used as a unary operator)",
    ),
    "a field the spec forbids": (
        lambda text: text.replace("    event: Email Delivered\n", "    event: Email Delivered\n    anonymousId: data.recipient\n", 1),
        "/mapping/activity.delivered/anonymousId: unknown field (the schema forbids it)",
    ),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_layer_build_refuses_an_invalid_definition(case, tmp_path):
    """What `sam build` runs (build-CioHooksLayer depends on build-custom-sources) stops at the
    first invalid definition, with its one-line reason, and ships nothing for it."""
    change, reason = INVALID[case]
    definition = tmp_path / "mailersend.yaml"
    definition.write_text(change((SHIPPED / "mailersend.yaml").read_text()))
    result = subprocess.run(["make", "-s", "build-custom-sources", f"CUSTOM_SOURCES_DIR={tmp_path}", f"ARTIFACTS_DIR={tmp_path / 'out'}"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert result.stderr.splitlines()[0] == f"{definition}: {reason}"
    assert not (tmp_path / "out" / "custom-sources" / "mailersend.json").exists()


def test_layer_build_runs_the_samples_beside_a_definition(tmp_path):
    """<name>.samples/ is run too: a sample whose event the seed specs reject fails the build."""
    definition = tmp_path / "mailersend.yaml"
    definition.write_text((SHIPPED / "mailersend.yaml").read_text().replace('link_url: "data.meta.url ? data.meta.url : data.morph.url"', 'link_url: "$count(data.meta)"'))
    (tmp_path / "mailersend.samples").mkdir()
    sample = tmp_path / "mailersend.samples" / "v2-clicked.json"
    sample.write_bytes((MAILERSEND_SAMPLES / "v2-clicked.json").read_bytes())
    result = subprocess.run(["make", "-s", "build-custom-sources", f"CUSTOM_SOURCES_DIR={tmp_path}", f"ARTIFACTS_DIR={tmp_path / 'out'}"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert result.stderr.splitlines()[0] == f"{sample}: event 0 (activity.clicked): invalid /properties/link_url: string_type"


def test_layer_build_ships_checked_definitions_as_json(tmp_path):
    result = subprocess.run(["make", "-s", "build-custom-sources", f"CUSTOM_SOURCES_DIR={EXAMPLES}", f"ARTIFACTS_DIR={tmp_path}"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "custom-sources").iterdir()) == ["singular.json"]
    from ciohooks.sources.custom import load_all

    loaded = load_all(Settings({"CIOHOOKS_CUSTOM_SOURCES_DIR": str(tmp_path / "custom-sources")}))
    assert sorted(loaded) == ["mobile/singular"]


def test_definitions_from_an_ssm_parameter(sqs_emulator, monkeypatch):
    """CUSTOM_SOURCES_PARAMETER: a JSON array of definitions in SSM (moto's server, over HTTP)."""
    import json

    import boto3
    from aws_lambda_powertools.utilities.parameters import base as parameters_base

    from ciohooks.sources.custom import load_all
    from ciohooks.sources.custom.definition import read
    from tests.support.sqs_emulator import SANDBOX_ENV

    for name, value in SANDBOX_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", sqs_emulator.url)
    monkeypatch.setattr(parameters_base, "DEFAULT_PROVIDERS", {})  # a fresh client for this endpoint
    documents = [read(EXAMPLES / "singular.yaml")[1], {**read(SHIPPED / "mailersend.yaml")[1], "authentication": {"preset": "none"}}]
    boto3.client("ssm", endpoint_url=sqs_emulator.url).put_parameter(Name="/cio-hooks/custom-sources", Value=json.dumps(documents), Type="String", Overwrite=True)

    found = load_all(Settings({"CIOHOOKS_CUSTOM_SOURCES_DIR": str(ROOT / "no-such-folder"), "CIOHOOKS_CUSTOM_SOURCES_PARAMETER": "/cio-hooks/custom-sources"}))
    assert sorted(found) == ["email/mailersend", "mobile/singular"]
    assert found["mobile/singular"].origin == "ssm:/cio-hooks/custom-sources#0"
    broken = found["email/mailersend"]  # refused (none without the flag): it would replace the shipped one; it fails closed
    assert broken.reason == "ssm:/cio-hooks/custom-sources#1: /authentication: preset none is refused unless accept_unauthenticated_requests_from_anyone: true (anyone who knows the URL could post events)"


def test_a_custom_source_in_the_lambda_runtime(lambda_rie, sqs_queues, cio_standin, tmp_path):
    """The real handlers under the Runtime Interface Emulator, with only the layer on their path
    (so jsonata-python must be in requirements.txt) and the definitions as the layer build ships them."""
    import json

    from tests.support.layer import build_layer_dir

    built = subprocess.run(["make", "-s", "build-custom-sources", f"CUSTOM_SOURCES_DIR={EXAMPLES}", f"ARTIFACTS_DIR={tmp_path}"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    layer = build_layer_dir()
    env = {
        **sqs_queues.env(),
        "CIOHOOKS_DELIVERY_QUEUE_URL": sqs_queues.delivery_url,
        "CIOHOOKS_DEAD_LETTER_QUEUE_URL": sqs_queues.dlq_url,
        "CIOHOOKS_CUSTOM_SOURCES_DIR": str(tmp_path / "custom-sources"),
        "POWERTOOLS_SERVICE_NAME": "cio-hooks",
        "POWERTOOLS_METRICS_NAMESPACE": "CioHooks",
    }
    ingest = lambda_rie("app.lambda_handler", ROOT / "functions" / "ingest", [layer], {**env, "CIOHOOKS_FAMILY": "mobile", **SECRETS}, isolated=True, function_name="MobileIngestFunction")
    postback = sample_request("mobile/singular", "install-known-user.query")
    response, _ = ingest.invoke(postback.to_function_url_event())
    assert (response["statusCode"], json.loads(response["body"])) == (200, {"accepted": 1, "ignored": 0})

    (message,) = sqs_queues.receive("delivery")
    deliver = lambda_rie(
        "app.lambda_handler", ROOT / "functions" / "deliver", [layer],
        {**env, "CIOHOOKS_CUSTOMERIO_API_KEY": cio_standin.api_key, "CIOHOOKS_CUSTOMERIO_BASE_URL": cio_standin.base_url},
        isolated=True, function_name="DeliverFunction", timeout=30,
    )
    records = {"Records": [{
        "messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"],
        "attributes": message.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs", "eventSourceARN": sqs_queues.delivery_arn, "awsRegion": "us-east-1",
    }]}
    result, _ = deliver.invoke(records)
    assert result == {"batchItemFailures": []}, result
    assert [e["messageId"] for e in cio_standin.events] == ["ca0ead5f-5d30-5744-b041-14a79e33792a"]
