"""The plain validators (semantic/plain.py) and EventBatch against the semantic models they are
generated from: the same bodies, key order included, for every sample of every source, and never a
looser verdict on events broken on purpose."""

from __future__ import annotations

import gc
import json
import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from ciohooks import sources
from ciohooks.config import Settings
from ciohooks.gcpause import collector_paused
from ciohooks.ingest import UntranslatableError, translate
from ciohooks.semantic import ALL_EVENTS
from ciohooks.semantic.email import EmailLinkClicked, EmailOpened
from ciohooks.semantic.plain import ValidatedEvent, bodies, plain_adapter
from ciohooks.sources import _translation
from ciohooks.sources._translation import EventBatch
from ciohooks.sources.base import Translation
from events.generate import sample_files, sample_request

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "samples"


def _translations():
    for name in sources.names():
        source = sources.load(name)
        for sample in sample_files(SAMPLES / name):
            try:
                yield name, sample, translate(source(Settings({})), sample_request(source, sample))
            except UntranslatableError:
                continue


def test_every_model_but_those_with_a_second_datetime_has_a_plain_mirror():
    # A new model the generator cannot mirror still works (through the model); this names the ones
    # that do not get the fast path, so losing it is a visible change.
    assert sorted(name for name, model in ALL_EVENTS.items() if plain_adapter(model) is None) == [
        "Video Content Completed",
        "Video Content Playing",
        "Video Content Started",
    ]


def test_plain_bodies_equal_the_models_for_every_event_of_every_sample():
    checked = from_batches = 0
    for name, sample, translation in _translations():
        for event in translation.events:
            model = event.model if isinstance(event, ValidatedEvent) else type(event)
            adapter = plain_adapter(model)
            if adapter is None:
                continue
            instance = event.event() if isinstance(event, ValidatedEvent) else event
            fields = instance.model_dump(exclude_none=True)  # the model's own input, datetime included
            plain = bodies(model, adapter.validate_python([fields]))[0]
            assert json.dumps(plain) == json.dumps(instance.to_cio()), f"{name} {sample.name}"
            checked += 1
            if isinstance(event, ValidatedEvent):  # the batch's own body against the model's
                assert json.dumps(event.to_cio()) == json.dumps(instance.to_cio()), f"{name} {sample.name}"
                from_batches += 1
    assert checked > 200  # every family's samples took part (311 events when this was last counted)
    assert from_batches > 40  # the sources on EventBatch (55 events when this was last counted)


# The sources that validate through EventBatch: the hand-written batch providers and the custom
# source engine (MailerSend and Mailtrap are shipped definitions).
ON_EVENT_BATCH = ("email/sendgrid", "email/mailjet", "email/sparkpost", "email/mandrill", "email/mailersend", "email/mailtrap")


def test_event_batch_gives_the_bodies_the_models_give(monkeypatch):
    """The sources on EventBatch with the plain adapters turned off: every sample translates to
    the same bodies and the same reasons."""
    with_plain = {(name, sample.name): _summary(t) for name, sample, t in _translations() if name in ON_EVENT_BATCH}
    monkeypatch.setattr(_translation, "plain_adapter", lambda model: None)
    models_only = {(name, sample.name): _summary(t) for name, sample, t in _translations() if name in ON_EVENT_BATCH}
    assert {name for name, _ in with_plain} == set(ON_EVENT_BATCH)
    assert len(with_plain) > 40
    assert with_plain == models_only


def _summary(translation: Translation) -> tuple:
    return json.dumps([e.to_cio() for e in translation.events]), translation.failed, dict(translation.ignored), dict(translation.unknown)


GOOD = {
    "anonymousId": "a@example.com",
    "messageId": "6f0b7c4e-1111-5222-8333-944445555666",
    "timestamp": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    "context": {"traits": {"email": "a@example.com", "ip": "192.0.2.1"}},
    "properties": {"email_id": "m-1", "url_offset": {"index": 0, "type": "html"}},
}


def _with(path: str, value: object) -> dict:
    """GOOD with ``path`` (dotted) set to ``value`` (``...`` removes it)."""
    out = json.loads(json.dumps(GOOD, default=str))
    out["timestamp"] = GOOD["timestamp"]
    *parents, last = path.split(".")
    node = out
    for part in parents:
        node = node[part]
    if value is ...:
        node.pop(last)
    else:
        node[last] = value
    return out


BROKEN = [
    _with("userId", "u-1"),  # both identities
    _with("anonymousId", ...),  # none
    _with("anonymousId", ""),
    _with("properties.email_id", ""),
    _with("properties", ...),
    _with("surprise", 1),  # extra field on the event
    _with("type", "track"),  # the body's head is the mirror's to fill in, never the input's
    _with("event", "Email Opened"),
    _with("timestamp", datetime(2026, 1, 2, 3, 4, 5)),  # naive
    _with("timestamp", "2026-01-02T03:04:05Z"),  # text: the model parses it, the plain mirror wants the datetime
    _with("properties.campaign_id", 7),
    _with("properties.extra_none", None),  # the model's dump would leave it out
    _with("properties.nan", math.nan),
    _with("properties.when", datetime(2026, 1, 1, tzinfo=UTC)),
    _with("properties.pair", (1, 2)),
    _with("context.traits.email", None),
    _with("integrations", {"All": None}),
    _with("messageId", None),
]


@pytest.mark.parametrize("fields", BROKEN, ids=range(len(BROKEN)))
def test_the_plain_mirror_is_never_looser_than_the_model(fields):
    adapter = plain_adapter(EmailOpened)
    try:
        accepted = bodies(EmailOpened, adapter.validate_python([fields]))[0]
    except ValidationError:
        return  # refused: the model decides (EventBatch falls back to it)
    assert json.dumps(accepted) == json.dumps(EmailOpened.model_validate(fields).to_cio())


@pytest.mark.parametrize("broken, problem", [
    (_with("userId", "u-1"), "send exactly one of userId and anonymousId, not both"),
    (_with("anonymousId", ...), "Email Opened needs a userId or an anonymousId"),
])
def test_the_identity_rule_is_asked_of_the_whole_list(broken, problem):
    # Asked after the TypedDict check, for the list at once: one bad event refuses the list (the
    # batch then lets the model decide event by event), in the model's own words, at its index.
    with pytest.raises(ValidationError) as refused:
        plain_adapter(EmailOpened).validate_python([GOOD, GOOD, broken])
    [error] = refused.value.errors()
    assert error["loc"] == (2,) and error["msg"] == f"Value error, {problem}"
    with pytest.raises(ValidationError, match=problem):
        EmailOpened.model_validate(broken)


def test_timestamps_keep_pydantics_format():
    offset = timezone(timedelta(hours=-5))
    for stamp in (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=offset)):
        fields = _with("timestamp", stamp)
        assert bodies(EmailOpened, plain_adapter(EmailOpened).validate_python([fields]))[0]["timestamp"] == EmailOpened.model_validate(fields).to_cio()["timestamp"]
    assert bodies(EmailOpened, [_with("timestamp", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))])[0]["timestamp"] == "2026-01-02T03:04:05Z"


def test_a_bad_event_is_recorded_by_name_and_the_rest_keep_their_order():
    translation = Translation()
    with EventBatch(translation) as batch:
        batch.add(EmailOpened, _with("messageId", "m-first"), "event 0 (open)")
        batch.add(EmailLinkClicked, _with("messageId", "m-click"), "event 1 (click)")
        batch.add(EmailOpened, _with("properties.email_id", ""), "event 2 (open)")
        batch.add(EmailOpened, _with("messageId", "m-last"), "event 3 (open)")
    assert [e.to_cio()["messageId"] for e in translation.events] == ["m-first", "m-click", "m-last"]
    assert translation.failed == ["event 2 (open): invalid properties.email_id (string_too_short)"]
    # The good ones of the refused type were built by the model itself; the clicked one by the plain path.
    assert [type(e).__name__ for e in translation.events] == ["EmailOpened", "ValidatedEmailLinkClicked", "EmailOpened"]


def test_add_from_records_what_item_records():
    def broken(where: str) -> dict:
        raise KeyError("sg_event_id")

    translation = Translation()
    with EventBatch(translation) as batch:
        batch.add_from(EmailOpened, "event 4 (open)", broken, "event 4 (open)")
        batch.add_from(EmailOpened, "event 5 (open)", lambda where: _with("messageId", "m-5"), "event 5 (open)")
    assert translation.failed == ["event 4 (open): unexpected payload shape (KeyError)"]
    assert [e.messageId for e in translation.events] == ["m-5"]  # attributes read through the model


def test_a_validated_event_reads_like_the_model():
    [validated] = bodies(EmailOpened, plain_adapter(EmailOpened).validate_python([GOOD]))
    assert isinstance(validated, ValidatedEvent) and validated.model is EmailOpened
    assert validated.name == "Email Opened"
    assert validated.properties.email_id == "m-1"
    assert validated.to_cio() is not validated.to_cio()  # a fresh dict each time, like the model's
    assert type(validated.to_cio()) is dict
    assert validated.to_cio() == {
        "type": "track",
        "event": "Email Opened",
        "anonymousId": "a@example.com",
        "messageId": "6f0b7c4e-1111-5222-8333-944445555666",
        "timestamp": "2026-01-02T03:04:05Z",
        "context": {"traits": {"email": "a@example.com", "ip": "192.0.2.1"}},
        "properties": {"email_id": "m-1", "url_offset": {"index": 0, "type": "html"}},
    }


def test_the_collector_is_paused_only_inside_and_only_if_it_ran():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
