"""Every endpoint refuses to run open: without its secret it answers 503, without valid credentials 401.

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


@pytest.mark.parametrize("full_name,sample", CASES, ids=[n for n, _ in CASES])
def test_without_its_secret_a_source_refuses_everything(full_name, sample):
    source = sources.load(full_name)
    request = sample_request(source, sample)
    if (key := signing_key(source, EVENTS / "keys")) is not None:
        request = source.sign(request, key)
    ingest = ingest_for(full_name, {})
    outcome = ingest.handle(source.name, request)
    assert outcome.status == source.retry_status, f"{full_name} answered {outcome.status} with no secret configured"
    assert ingest.delivery_queue.approximate_depth() == 0 and ingest.dead_letter_queue.approximate_depth() == 0


@pytest.mark.parametrize("full_name,sample", CASES, ids=[n for n, _ in CASES])
def test_an_unauthenticated_request_is_refused_and_nothing_is_kept(full_name, sample):
    source = sources.load(full_name)
    if source.secret_name is None:
        pytest.skip(f"{full_name} declares no secret")
    unsigned = sample_request(source, sample)  # the sample exactly, minus the credentials
    ingest = ingest_for(full_name, LOCAL_KEYS)
    outcome = ingest.handle(source.name, unsigned)
    assert outcome.status in (401, 403), f"{full_name} answered {outcome.status} to an unsigned request"
    assert ingest.delivery_queue.approximate_depth() == 0 and ingest.dead_letter_queue.approximate_depth() == 0


@pytest.mark.parametrize("full_name,sample", CASES, ids=[n for n, _ in CASES])
def test_the_signed_sample_is_accepted(full_name, sample):
    """The other half of the two tests above: the same request, authenticated, goes through."""
    source = sources.load(full_name)
    request = sample_request(source, sample)
    if (key := signing_key(source, EVENTS / "keys")) is not None:
        request = source.sign(request, key)
    outcome = ingest_for(full_name, LOCAL_KEYS).handle(source.name, request)
    assert 200 <= outcome.status < 300, (full_name, outcome.status, outcome.body)
