"""What the spec rejects, the models refuse (or turn into something the spec accepts).

Each negative case is checked on both sides: the raw payload against the spec (proving the spec
really forbids it) and the same payload through the model (``pydantic.ValidationError``).
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from ciohooks.semantic import ALL_EVENTS
from event_samples import ANONYMOUS_USER, FULL, KNOWN_USER, MINIMAL, identities
from spec_contract import (
    Path,
    contracts,
    errors,
    get_path,
    model_input,
    with_path,
    without_path,
)

EVENT_NAMES = sorted(ALL_EVENTS)
EITHER = [n for n in EVENT_NAMES if ALL_EVENTS[n].identity == "either"]
USER_ONLY = [n for n in EVENT_NAMES if ALL_EVENTS[n].identity == "user"]


def valid_body(name: str, size: str = "full") -> dict[str, Any]:
    sample = FULL[name] if size == "full" else MINIMAL[name]
    return ALL_EVENTS[name](**identities(ALL_EVENTS[name])[0], **sample).to_cio()


def spec_rejects(name: str, body: dict[str, Any], *, operation: bool = True) -> bool:
    """Whether the event's component rejects ``body``; with ``operation``, also check that the
    ``/track`` requestBody ``oneOf`` agrees (slower: it evaluates every event of the spec).
    Without it, a body with one identity is checked against that identity's branch only."""
    contract = contracts()[name]
    if operation or ("userId" in body) == ("anonymousId" in body):
        rejected = not contract.validator.is_valid(body)
    else:
        rejected = not contract.branch_validator(body).is_valid(body)
    if operation:
        assert rejected == (not contract.request_body.is_valid(body)), errors(contract.request_body, body)
    return rejected


def model_rejects(name: str, body: dict[str, Any]) -> bool:
    try:
        ALL_EVENTS[name].model_validate(model_input(body))
    except ValidationError:
        return True
    return False


def assert_both_reject(name: str, body: dict[str, Any]) -> None:
    assert spec_rejects(name, body), "the spec accepts this payload: the negative case proves nothing"
    assert model_rejects(name, body), "the model accepts what the spec rejects"


def model_output_or_none(name: str, body: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return ALL_EVENTS[name].model_validate(model_input(body)).to_cio()
    except ValidationError:
        return None


# ---- identity ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", EITHER)
def test_both_user_and_anonymous_id_is_rejected(name: str) -> None:
    body = {**valid_body(name), **KNOWN_USER, **ANONYMOUS_USER}
    assert_both_reject(name, body)


@pytest.mark.parametrize("name", EITHER)
def test_neither_user_nor_anonymous_id_is_rejected(name: str) -> None:
    body = valid_body(name)
    body.pop("userId", None)
    body.pop("anonymousId", None)
    assert_both_reject(name, body)


@pytest.mark.parametrize("name", USER_ONLY)
def test_user_events_need_a_user_id(name: str) -> None:
    body = {**without_path(valid_body(name), ("userId",)), **ANONYMOUS_USER}
    assert_both_reject(name, body)


@pytest.mark.parametrize("name", USER_ONLY)
def test_user_events_refuse_a_second_identity_the_spec_would_tolerate(name: str) -> None:
    """These specs are not a Known/Anonymous oneOf: an extra anonymousId is an unchecked extra
    member there. The model still sends exactly one identity (semantic/base.py: the models are at least as strict as the specs)."""
    body = {**valid_body(name), **ANONYMOUS_USER}
    assert not spec_rejects(name, body)
    assert model_rejects(name, body)


def test_object_deleted_needs_an_anonymous_id() -> None:
    body = {**without_path(valid_body("Object Deleted"), ("anonymousId",)), **KNOWN_USER}
    assert_both_reject("Object Deleted", body)


def test_identity_must_be_a_string() -> None:
    body = {**valid_body("Email Opened"), "userId": 12345}
    assert_both_reject("Email Opened", body)


# ---- required members -------------------------------------------------------------------------

REQUIRED = [
    pytest.param(name, path, id=f"{name}-{'.'.join(path)}")
    for name in EVENT_NAMES
    for path in contracts()[name].required_paths()
]


def test_required_paths_found_in_the_specs_include_the_known_ones() -> None:
    """Sanity check of the derivation the next test relies on."""
    found = {(p.values[0], p.values[1]) for p in REQUIRED}
    for case in [
        ("Email Bounced", ("properties", "email_id")),
        ("Report Delivery Event", ("properties", "deliveryId")),
        ("Report Delivery Event", ("properties", "metric")),
        ("Device Created or Updated", ("context", "device", "token")),
        ("Device Deleted", ("context", "device")),
        ("Relationship Deleted", ("properties", "objectId")),
        ("Object Deleted", ("properties", "objectId")),
        ("Video Ad Playing", ("properties",)),
    ]:
        assert case in found, case
    assert not any(name.startswith("Application ") for name, _ in found), "mobile properties are optional"


@pytest.mark.parametrize(("name", "path"), REQUIRED)
@pytest.mark.parametrize("size", ["full", "minimal"])
def test_missing_required_member_is_rejected(name: str, path: Path, size: str) -> None:
    assert_both_reject(name, without_path(valid_body(name, size), path))


@pytest.mark.parametrize(("name", "path"), REQUIRED)
def test_null_required_member_is_rejected(name: str, path: Path) -> None:
    assert_both_reject(name, with_path(valid_body(name, "minimal"), path, None))


# ---- enums, integers, ranges, formats ---------------------------------------------------------

WRONG = [
    ("Video Playback Started", ("properties", "ad_type"), "preroll"),
    ("Video Playback Paused", ("properties", "ad_type"), "Mid-Roll"),
    ("Video Ad Started", ("properties", "type"), "pre_roll"),
    ("Video Ad Completed", ("properties", "type"), "interstitial"),
    ("Video Ad Playing", ("properties", "load_type"), "vod"),
    ("Report Delivery Event", ("properties", "metric"), "bounced"),
    ("Report Delivery Event", ("properties", "metric"), "Delivered"),
    ("Device Created or Updated", ("context", "device", "type"), "web"),
    ("Device Deleted", ("context", "device", "type"), "iOS"),
    ("Video Playback Paused", ("properties", "position"), 12.5),
    ("Video Content Playing", ("properties", "position"), 0.1),
    ("Video Playback Exited", ("properties", "total_length"), "2640s"),
    ("Video Quality Updated", ("properties", "startupTime"), 850.25),
    ("Video Ad Playing", ("properties", "quartile"), 2.5),
    ("Relationship Deleted", ("properties", "objectTypeId"), 1.5),
    ("Relationship Deleted", ("properties", "objectTypeId"), "one"),
    ("Video Playback Resumed", ("properties", "sound"), 101),
    ("Video Playback Resumed", ("properties", "sound"), -1),
    ("Video Playback Started", ("properties", "ad_asset_id"), ["ad_1", 2]),
    ("Video Playback Started", ("properties", "content_asset_ids"), "ep_0101"),
    ("Video Content Started", ("properties", "keywords"), "baking"),
    ("Video Content Started", ("properties", "airdate"), "2024-01-12"),
    ("Video Content Started", ("properties", "airdate"), "2024-01-12T20:00:00"),  # no offset
    ("Video Content Started", ("properties", "airdate"), "last Friday"),
    ("Video Ad Started", ("properties", "content"), "ep_0101"),
    ("Email Opened", ("timestamp",), "2024-01-15T10:30:00"),
    ("Application Opened", ("properties", "from_background"), "sometimes"),
    ("Email Link Clicked", ("properties", "email_id"), 123),
    ("Email Link Clicked", ("context", "traits", "email"), ["ada@example.com"]),
    ("Device Created or Updated", ("context", "device", "token"), 42),
    ("Application Installed", ("properties",), "3.4.1"),
    ("Video Playback Paused", ("context",), "web"),
    ("Email Delivered", ("integrations",), ["Mixpanel"]),
]


@pytest.mark.parametrize(("name", "path", "value"), WRONG, ids=[f"{n}-{'.'.join(p)}={v!r}" for n, p, v in WRONG])
def test_wrong_value_is_rejected(name: str, path: Path, value: Any) -> None:
    assert_both_reject(name, with_path(valid_body(name), path, value))


@pytest.mark.parametrize("value", [0, 100, 50.0])
def test_sound_range_is_inclusive(value: Any) -> None:
    body = with_path(valid_body("Video Playback Resumed"), ("properties", "sound"), value)
    out = model_output_or_none("Video Playback Resumed", body)
    assert out is not None and out["properties"]["sound"] == int(value)
    assert errors(contracts()["Video Playback Resumed"].emitted, out) == []


def _wrong_candidates() -> list[Any]:
    """One value of each JSON kind, plus the near misses models tend to let through."""
    return [None, True, -1, 101, 1.5, 12.0, "text", "42", ["a"], ["a", 1], {"k": "v"}]


SPEC_TYPED = [
    pytest.param(name, path, id=f"{name}-{'.'.join(path)}")
    for name in EVENT_NAMES
    for path, _ in contracts()[name].typed_leaves()
]


@pytest.mark.parametrize(("name", "path"), SPEC_TYPED)
def test_every_typed_member_refuses_what_the_spec_refuses(name: str, path: Path) -> None:
    """For each member the spec types, try values of the wrong kinds: whenever the spec rejects
    the raw payload, the model must reject it too or emit a payload the spec accepts (a whole
    float to an int, ``None`` dropped). Never may the model pass the wrong value through."""
    base = valid_body(name)
    spec_rejected = model_rejected = 0
    for value in _wrong_candidates():
        raw = with_path(base, path, value)
        if not spec_rejects(name, raw, operation=False):
            continue
        spec_rejected += 1
        out = model_output_or_none(name, raw)
        if out is None:
            model_rejected += 1
            continue
        assert errors(contracts()[name].emitted, out) == [], f"{value!r} at {'.'.join(path)} came out as {get_path(out, path[:-1])}"
    assert spec_rejected >= 3, "the candidates do not exercise this member"
    assert model_rejected >= 1


# ---- assignment after construction ------------------------------------------------------------


def test_values_assigned_after_construction_are_checked_like_the_rest() -> None:
    """validate_assignment: an event can never be changed into one the spec rejects."""
    from ciohooks.semantic import ReportDeliveryEvent, VideoPlaybackPaused

    paused = VideoPlaybackPaused(userId="u", properties={"position": 10})
    with pytest.raises(ValidationError):
        paused.properties.position = 10.5  # type: ignore[assignment]
    assert paused.to_cio()["properties"]["position"] == 10

    both = VideoPlaybackPaused(userId="u", properties={})
    with pytest.raises(ValidationError):
        both.anonymousId = "a"
    assert "anonymousId" not in both.to_cio()

    report = ReportDeliveryEvent(properties={"deliveryId": "d", "metric": "opened"})
    with pytest.raises(ValidationError):
        report.properties.metric = "bounced"  # type: ignore[assignment]
    assert report.to_cio()["properties"]["metric"] == "opened"


def test_event_and_type_come_from_the_model_only() -> None:
    body = valid_body("Email Opened")
    for key, value in (("event", "Email Delivered"), ("type", "identify"), ("name", "Email Delivered")):
        with pytest.raises(ValidationError):
            ALL_EVENTS["Email Opened"].model_validate({**model_input(body), key: value})
