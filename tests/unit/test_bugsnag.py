"""BugSnag webhook: an event of severity error fired by an event trigger -> Application Crashed for its userId.

Samples: events/samples/mobile/bugsnag (BugSnag's documented JSON payload example; credited in its
README.md).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from ciohooks.sources import InvalidPayload, NotConfigured, Unauthorized
from ciohooks.sources.mobile.bugsnag import EVENT_TRIGGERS, IGNORED
from tests.support.sources import Harness

harness = Harness("mobile/bugsnag")
source, post, translate, one, sample = harness.source, harness.post, harness.translate, harness.one, harness.sample
TOKEN = "test-bugsnag-webhook-token-6e01"
USER = "5642494942656e7eac000004"


def doc(name: str) -> dict[str, Any]:
    return json.loads(sample(name))


def with_trigger(name: str, trigger: str, **error: Any) -> dict[str, Any]:
    body = doc(name)
    body["trigger"]["type"] = trigger
    body["error"].update(error)
    return body


# ---- translation ---------------------------------------------------------------------------------


def test_the_documented_exception_notification_is_the_users_crash() -> None:
    assert one(sample("exception.json")) == {
        "type": "track",
        "event": "Application Crashed",
        "userId": USER,
        "messageId": "1a1301da-82e5-59ab-9e83-e3f0686116b6",
        "timestamp": "2015-11-27T15:26:11Z",
        "properties": {"version": "0.1.0", "exception_type": "NoMethodError", "error_id": "56b9ca7f17025f8756f69054", "release_stage": "development"},
        "context": {"app": {"version": "0.1.0"}},
    }


@pytest.mark.parametrize("trigger", EVENT_TRIGGERS)
def test_every_event_trigger_is_one_crash_per_event(trigger: str) -> None:
    # exception and firstException (or any two) fire for the same event: one messageId, one crash.
    assert one(with_trigger("exception.json", trigger))["messageId"] == "1a1301da-82e5-59ab-9e83-e3f0686116b6"


@pytest.mark.parametrize("severity", ["warning", "info", None])
def test_an_error_the_app_survived_is_not_a_crash(severity: str | None) -> None:
    body = with_trigger("exception.json", "firstException", severity=severity)
    assert translate(body) == ([], {"firstException:not_crash": 1})


def test_the_documented_warning_sample_is_not_a_crash() -> None:
    assert translate(sample("first-exception-warning.json")) == ([], {"firstException:not_crash": 1})


@pytest.mark.parametrize("name,trigger", [("comment.json", "comment"), ("project-spiking.json", "projectSpiking")])
def test_project_and_collaborator_triggers_are_counted(name: str, trigger: str) -> None:
    assert translate(sample(name)) == ([], {trigger: 1})


@pytest.mark.parametrize("trigger", ["release", "projectSamplingStarted", "projectApproachingRateLimit", "errorStateManualChange"])
def test_every_other_documented_trigger_is_ignored(trigger: str) -> None:
    assert trigger in IGNORED
    assert translate({"trigger": {"type": trigger, "message": "x"}}) == ([], {trigger: 1})


def test_an_undocumented_trigger_is_unknown_and_kept() -> None:
    translation = harness.translation({"trigger": {"type": "sessionStabilityDrop"}})
    assert (translation.events, dict(translation.unknown)) == ([], {"sessionStabilityDrop": 1})


def test_a_crash_without_a_user_is_kept_with_the_reason() -> None:
    translation = harness.translation(sample("exception-without-user.json"))
    assert translation.events == [] and translation.failed == ["error (exception): the crash names no user (error.userId) and BugSnag sends no device id"]


def test_user_id_keys_are_configurable() -> None:
    body = doc("exception-without-user.json")
    body["error"]["customerId"] = "cio-42"
    assert one(body, BUGSNAG_USER_ID_KEYS="userId,customerId")["userId"] == "cio-42"


@pytest.mark.parametrize(
    "change,reason",
    [({"id": None}, "error (exception): no error.id (the event's id)"), ({"receivedAt": "yesterday"}, "error (exception): error.receivedAt: ")],
)
def test_an_event_that_cannot_be_read_is_kept_with_the_reason(change: dict[str, Any], reason: str) -> None:
    body = with_trigger("exception.json", "exception", **change)
    translation = harness.translation(body)
    assert len(translation.failed) == 1 and translation.failed[0].startswith(reason)


@pytest.mark.parametrize(
    "body,reason",
    [
        (b"not json", None),
        ({"account": {}}, "body is not a BugSnag webhook (no trigger.type)"),
        ([], "body is not a BugSnag webhook (no trigger.type)"),
        ({"trigger": {"type": "exception"}}, "a exception trigger without its error (the event that fired it)"),
    ],
)
def test_bodies_that_are_not_notifications_are_refused(body: Any, reason: str | None) -> None:
    with pytest.raises(InvalidPayload) as refused:
        source().translate(post(body))
    if reason:
        assert str(refused.value) == reason


# ---- authentication ------------------------------------------------------------------------------


def test_the_token_in_the_url_is_accepted_and_never_stored() -> None:
    request = post(sample("exception.json"), query=f"token={TOKEN}")
    source(BUGSNAG_WEBHOOK_TOKEN=TOKEN).authenticate(request)
    assert TOKEN not in json.dumps(request.to_dict(harness.source_class.secret_headers, harness.source_class.secret_query_keys))


@pytest.mark.parametrize("query", ["", "token=wrong", f"token={TOKEN}&token=forged", f"other={TOKEN}"])
def test_forged_missing_or_doubled_tokens_are_refused(query: str) -> None:
    with pytest.raises(Unauthorized):
        source(BUGSNAG_WEBHOOK_TOKEN=TOKEN).authenticate(post(sample("exception.json"), query=query))


def test_without_a_configured_token_every_request_is_refused() -> None:
    with pytest.raises(NotConfigured):
        source().authenticate(post(sample("exception.json"), query=f"token={TOKEN}"))


def test_sign_produces_what_authenticate_accepts() -> None:
    signed = harness.source_class.sign(post(sample("exception.json"), query="a=1"), TOKEN)
    source(BUGSNAG_WEBHOOK_TOKEN=TOKEN).authenticate(signed)


def test_user_ids_never_reach_the_reasons(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        translation = harness.translation(with_trigger("exception.json", "exception", receivedAt="bad"))
    assert USER not in " ".join(translation.reasons()) + caplog.text
