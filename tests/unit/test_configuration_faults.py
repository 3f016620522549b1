"""A bad setting is one kind of fault: answered with the provider's retry status, logged with the
setting's name (never its value), never dead-lettered as a payload problem, and never a 500.

The requests are the providers' samples signed with the local-only keys (events/keys/), so the
only thing wrong in each case is the setting.
"""

from __future__ import annotations

import logging

import pytest

from ciohooks.config import Settings
from ciohooks.ingest import Ingest
from ciohooks.queue import MemoryQueue
from tests.security.test_fail_closed import LOCAL_KEYS, first_sample, signed_sample

SENDGRID = "email/sendgrid"


def handle(full_name: str, caplog: pytest.LogCaptureFixture, **env: str):
    source, request = signed_sample(full_name, first_sample(full_name))
    settings = Settings({**LOCAL_KEYS, **{f"CIOHOOKS_{k}": v for k, v in env.items()}})
    ingest = Ingest(full_name.split("/")[0], MemoryQueue(), MemoryQueue(), settings)
    with caplog.at_level(logging.INFO, logger="ciohooks"):
        outcome = ingest.handle(source.name, request)
    assert ingest.delivery_queue.approximate_depth() == 0 and ingest.dead_letter_queue.approximate_depth() == 0
    return source, outcome


def test_the_signed_sample_goes_through_when_the_settings_are_good():
    source, request = signed_sample(SENDGRID, first_sample(SENDGRID))
    ingest = Ingest("email", MemoryQueue(), MemoryQueue(), Settings(LOCAL_KEYS))
    assert ingest.handle(source.name, request).result == "queued"


@pytest.mark.parametrize("setting,value,read_in", [
    ("SENDGRID_TOLERANCE_SECONDS", "abc-value", "authenticate"),
    ("SENDGRID_CATEGORY_AS_CAMPAIGN_NAME", "maybe-value", "translate"),
])
def test_a_bad_setting_is_answered_with_the_retry_status_and_named_in_the_log(caplog, setting, value, read_in):
    source, outcome = handle(SENDGRID, caplog, **{setting: value})
    assert (outcome.status, outcome.result, outcome.body) == (source.retry_status, "failed", {"error": "source not configured"}), read_in
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and f"CIOHOOKS_{setting}" in errors[0] and "configuration error" in errors[0]
    assert value not in caplog.text


def test_a_bad_setting_read_when_the_source_is_built_is_answered_the_same_way(caplog):
    source, outcome = handle("video/html5", caplog, VIDEO_HEARTBEAT_SECONDS="ten-value")
    assert (outcome.status, outcome.result) == (source.retry_status, "failed")
    assert "CIOHOOKS_VIDEO_HEARTBEAT_SECONDS must be a whole number" in caplog.text and "ten-value" not in caplog.text


def test_a_bad_setting_is_not_hidden_as_404_when_the_source_is_not_listed(caplog):
    """Only a MISSING configuration makes an unlisted source absent; a wrong value is a fault to fix."""
    _, outcome = handle(SENDGRID, caplog, SENDGRID_TOLERANCE_SECONDS="abc")
    assert outcome.status == 503


@pytest.mark.parametrize("full_name,setting,value", [
    ("email/sendgrid", "SENDGRID_TOLERANCE_SECONDS", "-1"),  # NotConfigured("must not be negative")
    ("email/resend", "RESEND_WEBHOOK_SECRET", "whsec_not!base64"),  # NotConfigured: not a Standard Webhooks secret
])
def test_a_wrong_value_of_a_source_that_is_set_up_is_an_error_even_unlisted(caplog, full_name, setting, value):
    source, outcome = handle(full_name, caplog, **{setting: value})
    assert (outcome.status, outcome.result) == (source.retry_status, "failed")
    assert value not in caplog.text


def test_a_missing_key_of_a_listed_source_is_an_error_and_of_an_unlisted_one_a_404(caplog):
    keys = {k: v for k, v in LOCAL_KEYS.items() if k != "CIOHOOKS_SENDGRID_VERIFICATION_KEY"}
    source, request = signed_sample(SENDGRID, first_sample(SENDGRID))
    with caplog.at_level(logging.INFO, logger="ciohooks"):
        listed = Ingest("email", MemoryQueue(), MemoryQueue(), Settings({**keys, "CIOHOOKS_SOURCES": "sendgrid,mailgun"})).handle("sendgrid", request)
        unlisted = Ingest("email", MemoryQueue(), MemoryQueue(), Settings(keys)).handle("sendgrid", request)
    assert (listed.status, unlisted.status) == (503, 404)
    levels = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "ciohooks.ingest"]
    assert levels == [
        ("ERROR", "refusing email/sendgrid requests, configuration error: secret SENDGRID_VERIFICATION_KEY is not configured, so every request is refused"),
        ("INFO", "email/sendgrid is not configured here, answering 404: secret SENDGRID_VERIFICATION_KEY is not configured, so every request is refused"),
    ]
