"""The models describe the same events, identities, members and requirements as the specs."""

from __future__ import annotations

import types
import typing
from typing import Any

import pytest
from pydantic import BaseModel

from ciohooks.semantic import ALL_EVENTS, SPEC_OF, SemanticEvent
from event_samples import FULL
from spec_contract import SPEC_STEMS, contracts, errors, spec_document, validator

EVENT_NAMES = sorted(ALL_EVENTS)
COMMON_TOP_LEVEL = {"userId", "anonymousId", "messageId"}  # base members every track call may carry

# Members the model types although this event's spec leaves them untyped (so the model is stricter
# than the spec, never looser). Base ``Traits`` types ip and user_agent for every email event; the
# Bounced and Delivered specs type only ``traits.email``. Documented, not silently tolerated.
EXTRA_TYPED = {
    ("Email Bounced", ("context", "traits")): {"ip", "user_agent"},
    ("Email Delivered", ("context", "traits")): {"ip", "user_agent"},
}


def model_class(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``X | None`` (or X), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        found = [c for c in (model_class(a) for a in typing.get_args(annotation)) if c is not None]
        assert len(found) <= 1, annotation
        return found[0] if found else None
    return None


def member_model(model: type[BaseModel], path: tuple[str, ...]) -> type[BaseModel] | None:
    current: type[BaseModel] | None = model
    for name in path:
        if current is None or name not in current.model_fields:
            return None
        current = model_class(current.model_fields[name].annotation)
    return current


def test_the_models_cover_exactly_the_events_of_the_four_specs() -> None:
    spec_names: set[str] = set()
    for stem in SPEC_STEMS:
        for schema in spec_document(stem)["components"]["schemas"].values():
            for branch in schema.get("oneOf", [schema]):
                spec_names.update(branch.get("properties", {}).get("event", {}).get("enum", ()))
    assert len(spec_names) == 38
    assert set(ALL_EVENTS) == spec_names
    assert set(contracts()) == spec_names  # and each is reachable from its spec's /track requestBody


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_event_is_registered_under_its_own_name_and_spec(name: str) -> None:
    model = ALL_EVENTS[name]
    assert issubclass(model, SemanticEvent)
    assert model.name == name
    assert SPEC_OF[name] == contracts()[name].stem


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_identity_rule_is_the_one_the_spec_encodes(name: str) -> None:
    assert ALL_EVENTS[name].identity == contracts()[name].identity


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_top_level_members_and_requirements_match_the_spec(name: str) -> None:
    model, contract = ALL_EVENTS[name], contracts()[name]
    spec = contract.top_level
    spec_members = set(spec.declared) - {"type", "event"}
    assert set(model.model_fields) - COMMON_TOP_LEVEL <= spec_members, "a member the spec does not have"
    assert spec_members <= set(model.model_fields), "a member of the spec the model cannot carry"
    required = {n for n, f in model.model_fields.items() if f.is_required()}
    assert required == set(spec.required) - {"type", "event", "userId", "anonymousId"}


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_typed_members_and_requirements_of_properties_and_context_match_the_spec(name: str) -> None:
    model, contract = ALL_EVENTS[name], contracts()[name]
    paths = [("properties",), ("context",)]
    paths += [("context", n) for n in (contract.member("context").declared if contract.member("context") else ())]
    checked = 0
    for path in paths:
        spec = contract.member(*path)
        sub = member_model(model, path)
        if spec is None:
            assert path[0] not in model.model_fields or len(path) > 1, path
            continue
        assert sub is not None, f"{path}: the spec has an object here, the model nothing"
        assert sub.model_config.get("extra") == "allow", f"{path}: the spec leaves this object open"
        typed = set(sub.model_fields)
        assert typed - set(spec.declared) == EXTRA_TYPED.get((name, path), set()), path
        assert set(spec.declared) <= typed, f"{path}: typed in the spec, untyped in the model"
        assert {n for n, f in sub.model_fields.items() if f.is_required()} == set(spec.required), path
        checked += 1
    assert checked >= 1


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_full_samples_set_every_typed_member(name: str) -> None:
    """The positive contract tests exercise every member a model types (samples stay complete)."""
    contract, sample = contracts()[name], FULL[name]
    for path, _ in contract.typed_leaves():
        node: Any = sample
        for key in path:
            assert isinstance(node, dict) and key in node, f"FULL[{name!r}] lacks {'.'.join(path)}"
            node = node[key]


def _objects(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found += _objects(value)
    elif isinstance(node, list):
        for value in node:
            found += _objects(value)
    return found


def test_the_openapi_30_spec_uses_only_keywords_2020_12_reads_the_same_way() -> None:
    """customerio-actions is OpenAPI 3.0 (a JSON Schema draft-04 variant). Validating it as
    Draft 2020-12 is exact only while it avoids what changed meaning: ``nullable``, boolean
    ``exclusiveMinimum``/``exclusiveMaximum``, and siblings of ``$ref`` (ignored in 3.0)."""
    assert spec_document("customerio-actions")["openapi"].startswith("3.0")
    for stem in SPEC_STEMS:
        nodes = _objects(spec_document(stem)["components"])
        keys = {k for node in nodes for k in node}
        assert not keys & {"nullable", "exclusiveMinimum", "exclusiveMaximum", "discriminator"}, stem
        for node in nodes:
            if "$ref" in node:
                assert set(node) <= {"$ref", "description"}, (stem, node)


def test_validators_check_formats_and_refs() -> None:
    """Guard against a validator that silently accepts: bad date-time, missing refs, wrong events."""
    v = validator("email-events", "#/components/schemas/email_opened_event")
    good = {"type": "track", "event": "Email Opened", "userId": "u", "properties": {"email_id": "m"}}
    assert errors(v, good) == []
    assert errors(v, {**good, "timestamp": "2024-01-15T10:30:00.000Z"}) == []
    assert errors(v, {**good, "timestamp": "yesterday"}) != []
    assert errors(v, {**good, "timestamp": "2024-01-15T10:30:00"}) != []  # RFC 3339 needs an offset
    assert errors(v, {**good, "integrations": []}) != []  # through $ref to components/integrations
    assert errors(v, {**good, "event": "Email Delivered"}) != []
    assert errors(v, {**good, "type": "identify"}) != []
