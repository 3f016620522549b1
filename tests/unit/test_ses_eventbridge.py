"""Amazon SES through EventBridge (email/ses-eventbridge): IAM-authenticated, no URL, SES's mapping.

The samples are AWS's published SES event records in EventBridge events (credited in
events/samples/email/ses-eventbridge/README.md); the same records are the ``Message`` of the SNS
samples in events/samples/email/ses/, which is how "one mapping, two transports" is tested.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest

from ciohooks.config import Settings
from ciohooks.handlers import StorageFailed, handle_eventbridge_event, ingest_resolver, is_eventbridge_event
from ciohooks.ingest import Ingest
from ciohooks.queue import MemoryQueue, QueueUnavailable
from ciohooks.request import EVENTBRIDGE, WebhookRequest
from ciohooks.sources import NotConfigured, Unauthorized
from ciohooks.sources.email import ses_eventbridge
from ciohooks.sources.email.ses import Ses
from ciohooks.sources.email.ses_eventbridge import SesEventbridge
from tests.support.sources import Harness

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "events" / "samples" / "email" / "ses-eventbridge"
SNS_SAMPLES = ROOT / "events" / "samples" / "email" / "ses"
ACCOUNT = "123456789012"
ENV = {"SES_EVENTBRIDGE_ACCOUNTS": ACCOUNT}

harness = Harness("email/ses-eventbridge", env=ENV)


def event(name: str) -> dict:
    return json.loads((SAMPLES / f"{name}.json").read_text())


def delivered(body: dict) -> WebhookRequest:
    """``body`` as the ingest function's EventBridge entry makes it."""
    return WebhookRequest("POST", "/ses-eventbridge", json.dumps(body).encode(), {"content-type": "application/json"}, transport=EVENTBRIDGE)


def translate(body: dict, **env: str):
    """Authenticated as the EventBridge entry delivers it, then translated (events checked against the specs)."""
    harness.source(**env).authenticate(delivered(body))
    return harness.translation(body, **env)


# ---- the mapping is SES's, whatever the transport ---------------------------------------------------


def test_a_delivery_becomes_email_delivered_with_the_event_id_in_its_message_id():
    (one,) = [e.to_cio() for e in translate(event("email-delivery")).events]
    assert one["event"] == "Email Delivered"
    assert one["anonymousId"] == "recipient@example.com"
    assert one["properties"]["email_id"] == "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"
    assert one["timestamp"] == "2016-10-19T23:21:04.133000Z"
    # UUIDv5 of (email/ses-eventbridge, the event id, the recipient): the same on every retry.
    assert one["messageId"] == "59423119-9a5e-54b4-b629-0f6d9d387944"


def test_the_bounce_message_id_is_stable():
    (one,) = [e.to_cio() for e in translate(event("email-bounce")).events]
    assert (one["event"], one["messageId"]) == ("Email Bounced", "d02c646a-9619-577c-90ec-d9031d2a3c16")
    assert one["properties"]["bounce_type"] == "Permanent" and one["properties"]["diagnostic_code"] == "smtp; 550 5.1.1 user unknown"


@pytest.mark.parametrize("name", ["bounce", "click", "complaint", "delivery", "open", "subscription", "send", "reject", "rendering-failure", "delivery-delay"])
def test_each_record_maps_exactly_as_through_sns(name):
    """Everything but the messageId (each transport has its own delivery id) is the SNS source's output."""
    eb = translate(event(f"email-{name}"))
    sns_body = (SNS_SAMPLES / f"event-{name}.txt").read_bytes()
    sns = Ses(Settings({"CIOHOOKS_SES_TOPIC_ARNS": "arn:aws:sns:us-west-2:123456789012:MyTopic"})).translate(WebhookRequest("POST", "/ses", sns_body))

    def without_ids(translation):
        return [{k: v for k, v in e.to_cio().items() if k != "messageId"} for e in translation.events]

    assert without_ids(eb) == without_ids(sns)
    assert eb.ignored == sns.ignored and not eb.unknown and not eb.failed


def test_identity_and_policy_read_the_ses_settings():
    body = event("email-open")
    body["detail"]["mail"]["tags"]["user_id"] = ["u-42"]
    (one,) = translate(body).events
    assert one.to_cio()["userId"] == "u-42"
    bounce = event("email-bounce")
    bounce["detail"]["bounce"]["bounceType"] = "Transient"
    assert dict(translate(bounce).ignored) == {"Bounce:Transient": 1}
    (soft,) = translate(bounce, SES_SOFT_BOUNCES="bounce").events
    assert soft.to_cio()["properties"]["bounce_type"] == "Transient"


def test_other_ses_detail_types_are_ignored_and_a_new_one_is_kept_as_unknown():
    advisor = {**event("email-send"), "detail-type": "Advisor Recommendation Status Open", "detail": {"type": "DKIM"}}
    assert dict(translate(advisor).ignored) == {"Advisor Recommendation Status Open": 1}
    future = {**event("email-send"), "detail-type": "Email Archived"}
    assert dict(harness.source().translate(delivered(future)).unknown) == {"Email Archived": 1}


def test_every_email_detail_type_is_in_the_rule_of_the_template():
    template = (ROOT / "template.yaml").read_text()
    rule = template[template.index("  SesEventsRule:"):template.index("  SesEventsRulePermission:")]
    assert [line.strip()[2:] for line in rule.splitlines() if line.strip().startswith("- Email ")] == list(ses_eventbridge.EMAIL_DETAIL_TYPES)


# ---- authentication: IAM, no URL -------------------------------------------------------------------


def test_the_same_event_over_https_is_refused():
    request = dataclasses.replace(delivered(event("email-delivery")), transport="https")
    with pytest.raises(Unauthorized, match="no URL"):
        harness.source().authenticate(request)


def test_a_function_url_request_to_the_route_is_401_and_keeps_nothing():
    ingest = Ingest("email", MemoryQueue(), MemoryQueue(), Settings({"CIOHOOKS_SES_EVENTBRIDGE_ACCOUNTS": ACCOUNT}))
    http = WebhookRequest("POST", "/ses-eventbridge", (SAMPLES / "email-delivery.json").read_bytes(), {"content-type": "application/json"})
    response = ingest_resolver(ingest).resolve(http.to_function_url_event(), None)
    assert response["statusCode"] == 401
    assert ingest.delivery_queue.approximate_depth() == ingest.dead_letter_queue.approximate_depth() == 0


@pytest.mark.parametrize(("field", "value", "reason"), [("source", "my.app", "source is not aws.ses"), ("account", "999999999999", "account is not in")])
def test_an_event_from_another_source_or_account_is_refused(field, value, reason):
    body = {**event("email-delivery"), field: value}
    with pytest.raises(Unauthorized, match=reason):
        harness.source().authenticate(delivered(body))


def test_without_accounts_every_event_is_refused_as_not_configured():
    with pytest.raises(NotConfigured, match="SES_EVENTBRIDGE_ACCOUNTS"):
        SesEventbridge(Settings({})).authenticate(delivered(event("email-delivery")))


def test_several_accounts_may_be_allowed():
    body = {**event("email-delivery"), "account": "210987654321"}
    harness.source(SES_EVENTBRIDGE_ACCOUNTS=f"{ACCOUNT}, 210987654321").authenticate(delivered(body))


# ---- the function's EventBridge entry: store first, retry on failure -------------------------------


class DownQueue:
    def put(self, envelope):
        raise QueueUnavailable("SQS did not take the message (EndpointConnectionError)")


def ingest_with(delivery=None, dead=None) -> Ingest:
    return Ingest("email", delivery or MemoryQueue(), dead or MemoryQueue(), Settings({"CIOHOOKS_SES_EVENTBRIDGE_ACCOUNTS": ACCOUNT}))


def test_the_entry_stores_the_events_and_says_so():
    ingest = ingest_with()
    assert handle_eventbridge_event(ingest, event("email-delivery")) == {"status": 200, "result": "queued"}
    (stored,) = ingest.delivery_queue.receive()
    assert [e["event"] for e in json.loads(stored.body)["events"]] == ["Email Delivered"]


def test_storage_down_raises_so_that_lambda_retries():
    with pytest.raises(StorageFailed, match="Lambda retries"):
        handle_eventbridge_event(ingest_with(delivery=DownQueue(), dead=DownQueue()), event("email-delivery"))


def test_an_untranslatable_event_is_kept_whole_in_the_dlq():
    body = copy.deepcopy(event("email-delivery"))
    del body["detail"]["delivery"]["recipients"]
    ingest = ingest_with()
    assert handle_eventbridge_event(ingest, body)["result"] == "dead_lettered"
    (kept,) = ingest.dead_letter_queue.receive()
    assert json.loads(json.loads(kept.body)["request"]["body"])["id"] == body["id"]


def test_an_event_of_another_source_is_refused_without_a_retry():
    ingest = ingest_with()
    assert handle_eventbridge_event(ingest, {**event("email-delivery"), "source": "aws.s3"}) == {"status": 404, "result": "not_found"}
    assert ingest.delivery_queue.approximate_depth() == 0


def test_eventbridge_events_and_function_url_events_are_told_apart():
    assert is_eventbridge_event(event("email-open"))
    url_event = WebhookRequest("POST", "/ses-eventbridge", json.dumps(event("email-open")).encode()).to_function_url_event()
    assert not is_eventbridge_event(url_event)


# ---- the template: off by default, no URL, the rule alone may invoke ---------------------------------


def template() -> dict:
    from ciohooks.invoke import load_template

    return load_template(ROOT / "template.yaml")


def test_the_rule_is_off_by_default_and_everything_it_needs_goes_with_it():
    t = template()
    assert t["Parameters"]["SesEventBridge"]["Default"] == "Disabled"
    assert t["Conditions"]["SesEventBridgeOn"] == {"Fn::Equals": [{"Ref": "SesEventBridge"}, "Enabled"]}
    for name in ("SesEventsRule", "SesEventsRulePermission", "EmailIngestAsyncConfig", "SesEventBridgeFailedQueuePolicy"):
        assert t["Resources"][name]["Condition"] == "SesEventBridgeOn", name
    accounts = t["Resources"]["EmailIngestFunction"]["Properties"]["Environment"]["Variables"]["CIOHOOKS_SES_EVENTBRIDGE_ACCOUNTS"]
    assert accounts == {"Fn::If": ["SesEventBridgeOn", {"Ref": "AWS::AccountId"}, ""]}


def test_only_this_rule_may_invoke_and_failures_are_kept():
    resources = template()["Resources"]
    permission = resources["SesEventsRulePermission"]["Properties"]
    assert (permission["Principal"], permission["SourceArn"], permission["SourceAccount"]) == ("events.amazonaws.com", {"Fn::GetAtt": ["SesEventsRule", "Arn"]}, {"Ref": "AWS::AccountId"})
    rule = resources["SesEventsRule"]["Properties"]
    assert (rule["EventBusName"], rule["EventPattern"]["source"]) == ("default", ["aws.ses"])
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["EmailIngestFunction", "Arn"]}
    failed = {"Fn::GetAtt": ["SesEventBridgeFailedQueue", "Arn"]}
    assert target["DeadLetterConfig"]["Arn"] == failed
    assert resources["EmailIngestAsyncConfig"]["Properties"]["DestinationConfig"]["OnFailure"]["Destination"] == failed
    policy = resources["SesEventBridgeFailedQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert policy["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["SesEventsRule", "Arn"]}}}
