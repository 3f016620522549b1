"""Every endpoint refuses to run open: without its configuration it answers 503 when the stack lists
it (EnabledSources) and 404 when it does not; without valid credentials 401; and no stack setting
can open it.

Runs over the whole catalogue, so a new source is covered the day it lands. The samples are the
providers' own (events/samples/, credited there); the keys are the local-only ones (events/keys/).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ciohooks import sources
from ciohooks.config import Settings
from ciohooks.ingest import Ingest
from ciohooks.local import local_keys, signing_key
from ciohooks.queue import MemoryQueue
from ciohooks.samples import sample_files, sample_request

EVENTS = Path(__file__).parents[2] / "events"
LOCAL_KEYS = local_keys(EVENTS / "keys")


def first_sample(full_name: str):
    files = sample_files(EVENTS / "samples" / full_name)
    return files[0] if files else None


CASES = [(name, sample) for name in sources.names() if (sample := first_sample(name)) is not None]


def ingest_for(full_name: str, settings: dict[str, str]) -> Ingest:
    return Ingest(full_name.split("/")[0], MemoryQueue(), MemoryQueue(), Settings(settings))


def test_every_source_has_samples():
    assert {name for name, _ in CASES} == set(sources.names())


def signed_sample(full_name: str, sample):
    source = sources.load(full_name)
    request = sample_request(source, sample)
    if (key := signing_key(source, EVENTS / "keys")) is not None:
        request = source.sign(request, key)
    return source, request


# Without its configuration: LOCAL_KEYS minus the source's secrets and required settings.
def unconfigured(source) -> dict[str, str]:
    left_out = {f"CIOHOOKS_{name}" for name in (*source.secret_names, *source.required_settings)}
    return {name: value for name, value in LOCAL_KEYS.items() if name not in left_out}


@pytest.mark.parametrize("full_name,sample", CASES, ids=[n for n, _ in CASES])
def test_a_listed_source_without_its_configuration_refuses_everything_with_its_retry_status(full_name, sample):
    source, request = signed_sample(full_name, sample)
    ingest = ingest_for(full_name, {**unconfigured(source), "CIOHOOKS_SOURCES": source.name})
    outcome = ingest.handle(source.name, request)
    assert outcome.status == source.retry_status, f"{full_name} answered {outcome.status} with no secret configured"
    assert ingest.delivery_queue.approximate_depth() == 0 and ingest.dead_letter_queue.approximate_depth() == 0


@pytest.mark.parametrize("full_name,sample", CASES, ids=[n for n, _ in CASES])
def test_an_unlisted_source_without_its_configuration_is_not_there(full_name, sample):
    """EnabledSources empty: a source nobody set up answers 404 (no 5xx alarm, nothing kept)."""
    source, request = signed_sample(full_name, sample)
    ingest = ingest_for(full_name, unconfigured(source))
    outcome = ingest.handle(source.name, request)
    assert (outcome.status, outcome.result) == (404, "not_found"), full_name
    assert ingest.delivery_queue.approximate_depth() == 0 and ingest.dead_letter_queue.approximate_depth() == 0


@pytest.mark.parametrize("full_name,sample", CASES, ids=[n for n, _ in CASES])
def test_source_settings_cannot_open_an_unconfigured_source_on_lambda(full_name, sample):
    """SourceSettings="ALLOW_UNSIGNED=1" (a stack parameter), or the variable itself inside Lambda,
    opens nothing: the local-only switch is not read there."""
    source, request = signed_sample(full_name, sample)
    for attempt in ({"CIOHOOKS_SOURCE_SETTINGS": "ALLOW_UNSIGNED=1"},
                    {"CIOHOOKS_ALLOW_UNSIGNED": "1", "AWS_LAMBDA_FUNCTION_NAME": "stack-IngestFunction"}):
        ingest = ingest_for(full_name, {**unconfigured(source), **attempt, "CIOHOOKS_SOURCES": source.name})
        outcome = ingest.handle(source.name, request)
        assert outcome.status == source.retry_status, (full_name, attempt, outcome.status)
        assert ingest.delivery_queue.approximate_depth() == 0 and ingest.dead_letter_queue.approximate_depth() == 0


@pytest.mark.parametrize("full_name,sample", CASES, ids=[n for n, _ in CASES])
def test_an_unauthenticated_request_is_refused_and_nothing_is_kept(full_name, sample):
    source = sources.load(full_name)
    unsigned = sample_request(source, sample)  # the sample exactly, minus the credentials
    ingest = ingest_for(full_name, LOCAL_KEYS)
    outcome = ingest.handle(source.name, unsigned)
    assert outcome.status in (401, 403), f"{full_name} answered {outcome.status} to an unsigned request"
    assert ingest.delivery_queue.approximate_depth() == 0 and ingest.dead_letter_queue.approximate_depth() == 0


@pytest.mark.parametrize("full_name,sample", CASES, ids=[n for n, _ in CASES])
def test_the_signed_sample_is_accepted(full_name, sample):
    """The other half of the tests above: the same request, authenticated, goes through."""
    source, request = signed_sample(full_name, sample)
    outcome = ingest_for(full_name, LOCAL_KEYS).handle(source.name, request)
    assert 200 <= outcome.status < 300, (full_name, outcome.status, outcome.body)
