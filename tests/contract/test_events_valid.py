"""Every event, built through its model with realistic values, is what the spec accepts."""

from __future__ import annotations

from typing import Any

import pytest

from ciohooks.semantic import ALL_EVENTS
from event_samples import FULL, MINIMAL, identities
from spec_contract import contracts, errors, get_path, matching_identity_branches, matching_request_body_branches

CASES = [
    pytest.param(name, size, identity, id=f"{name}-{size}-{'+'.join(identity) or 'no id'}")
    for name in sorted(ALL_EVENTS)
    for size in ("full", "minimal")
    for identity in identities(ALL_EVENTS[name])
]


def build(name: str, size: str, identity: dict[str, str]) -> dict[str, Any]:
    sample = FULL[name] if size == "full" else MINIMAL[name]
    return ALL_EVENTS[name](**identity, **sample).to_cio()


@pytest.mark.parametrize(("name", "size", "identity"), CASES)
def test_event_validates_against_its_component_and_the_operation(name: str, size: str, identity: dict[str, str]) -> None:
    contract = contracts()[name]
    body = build(name, size, identity)

    assert body["type"] == "track" and body["event"] == name
    for key, value in identity.items():
        assert body[key] == value
    assert not {"userId", "anonymousId"} - set(identity) & set(body), "an identity that was not given"
    assert errors(contract.validator, body) == []
    assert errors(contract.emitted, body) == []  # and integers are JSON integers
    assert errors(contract.request_body, body) == []
    assert matching_request_body_branches(contract, body) == [contract.component]
    if contract.identity == "either":
        expected = "Known User" if "userId" in identity else "Anonymous User"
        assert matching_identity_branches(contract, body) == [expected]


@pytest.mark.parametrize("name", sorted(ALL_EVENTS))
def test_full_event_keeps_every_value_it_was_given(name: str) -> None:
    """Typed values come out as given (or as their JSON form); custom properties are passed on."""
    identity = identities(ALL_EVENTS[name])[0]
    body = build(name, "full", identity)
    sample = FULL[name]
    for key in ("properties", "context", "integrations", "messageId"):
        if key in sample:
            assert body[key] == sample[key], key
    assert body["timestamp"].startswith("2024-01-15T10:30:00")


@pytest.mark.parametrize("name", sorted(ALL_EVENTS))
def test_minimal_event_emits_only_what_was_given(name: str) -> None:
    identity = identities(ALL_EVENTS[name])[0]
    body = build(name, "minimal", identity)
    assert body == {"type": "track", "event": name, **identity, **MINIMAL[name]}


def test_player_floats_that_are_whole_numbers_become_integers() -> None:
    from ciohooks.semantic import VideoContentPlaying, VideoPlaybackPaused, VideoQualityUpdated

    paused = VideoPlaybackPaused(userId="u", properties={"position": 312.0, "total_length": 2640.0, "sound": 80.0}).to_cio()
    content = VideoContentPlaying(anonymousId="a", properties={"position": 12.0, "bitrate": 4500.0}).to_cio()
    quality = VideoQualityUpdated(userId="u", properties={"startupTime": 850.0, "droppedFrames": 0.0}).to_cio()
    for body, path in [
        (paused, ("properties", "position")),
        (paused, ("properties", "total_length")),
        (paused, ("properties", "sound")),
        (content, ("properties", "position")),
        (content, ("properties", "bitrate")),
        (quality, ("properties", "startupTime")),
        (quality, ("properties", "droppedFrames")),
    ]:
        value = get_path(body, path)
        assert type(value) is int, path
    assert paused["properties"]["position"] == 312
    for body in (paused, content, quality):
        assert errors(contracts()[body["event"]].emitted, body) == []


def test_one_or_many_ad_ids_are_both_accepted() -> None:
    from ciohooks.semantic import VideoPlaybackStarted

    for value in ("ad_1", ["ad_1", "ad_2"], []):
        body = VideoPlaybackStarted(userId="u", properties={"ad_asset_id": value, "ad_pod_id": value}).to_cio()
        assert body["properties"]["ad_asset_id"] == value
        assert errors(contracts()["Video Playback Started"].validator, body) == []


def test_report_delivery_event_is_valid_with_no_identity_at_all() -> None:
    from ciohooks.semantic import ReportDeliveryEvent

    body = ReportDeliveryEvent(properties={"deliveryId": "d1", "metric": "opened"}).to_cio()
    assert "userId" not in body and "anonymousId" not in body
    assert errors(contracts()["Report Delivery Event"].request_body, body) == []
