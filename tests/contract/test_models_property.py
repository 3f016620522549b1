"""Property test: whatever a model accepts, the spec accepts once it is emitted.

Inputs are generated from the specs themselves. Each example is an event's model input that is
either clean (one identity the event allows, every typed member of the spec's type, custom members)
or carries exactly one kind of fault: a wrong identity (both, neither, junk), wrong values for a
few typed members (near misses of their schema, or any JSON value), a missing required member,
a non-object where an object goes, an odd timestamp, or a wrong top-level member. One fault at a
time keeps the rest valid, so a model that lets that fault through is accepted and caught.

Whenever ``Model.model_validate`` accepts an input, ``to_cio()`` must validate against the event's
component (integers as JSON integers) and against the ``/track`` operation.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ciohooks.semantic import ALL_EVENTS, SPEC_OF
from spec_contract import SPEC_STEMS, EventContract, contracts, errors, object_shape, resolve

EXAMPLES_PER_FAMILY = 200
MIN_EACH = 25  # accepted and rejected inputs per family: fewer, and the property is close to vacuous

leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
json_values = st.recursive(
    leaves, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=4
)
offsets = st.sampled_from([timezone.utc, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))])
aware_datetimes = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=offsets)
odd_date_times = (
    st.datetimes().map(lambda d: d.isoformat())  # naive: no offset
    | st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1))  # naive datetime objects
    | aware_datetimes.map(lambda d: d.isoformat())
    | st.integers(min_value=0, max_value=4_102_444_800)  # unix seconds
    | st.sampled_from(["2024-01-15", "yesterday", "2024-01-15T10:30:00", "2024-01-15 10:30:00Z", "", "2024-02-30T00:00:00Z"])
)
fractions = st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer())
ids = st.text(min_size=1, max_size=10)
junk_ids = st.text(max_size=10) | json_values


def values_of(stem: str, schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values a spec schema accepts, derived from it (whole floats for integers: players send them)."""
    schema = resolve(stem, schema)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "oneOf" in schema:
        return st.one_of([values_of(stem, s) for s in schema["oneOf"]])
    kind = schema.get("type")
    if kind == "string":
        return aware_datetimes if schema.get("format") == "date-time" else st.text(min_size=1, max_size=16)
    if kind == "integer":
        whole = st.integers(min_value=schema.get("minimum", -(2**31)), max_value=schema.get("maximum", 2**31))
        return whole | whole.map(float)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(values_of(stem, schema["items"]), max_size=3)
    if kind == "object":
        return objects(stem, schema, faulty=False)
    return json_values


def near_misses_of(stem: str, schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values the spec rejects, or almost: what a careless mapping would pass through. The ones
    specific to the schema are drawn twice as often as the generic ones."""
    schema = resolve(stem, schema)
    common = st.sampled_from([None, True, "", "42", ["a", 1], {"k": "v"}]) | json_values
    specific: list[st.SearchStrategy[Any]] = []
    kind = schema.get("type")
    if "enum" in schema:
        specific.append(st.sampled_from([v.upper() for v in schema["enum"]] + [v.replace("-", "_") for v in schema["enum"]]))
    elif "oneOf" in schema:
        specific.append(st.sampled_from([[1], ["a", None], 7, {"id": "a"}]))
    elif kind == "integer":
        bounds = [schema["minimum"] - 1] if "minimum" in schema else []
        bounds += [schema["maximum"] + 1] if "maximum" in schema else []
        if bounds:
            specific.append(st.sampled_from(bounds) | st.integers(min_value=max(bounds) + 1) | st.integers(max_value=min(bounds) - 1))
        specific += [fractions, st.sampled_from(["12", "1e3", 2.5, float("inf"), float("nan"), True])]
    elif kind == "string" and schema.get("format") == "date-time":
        specific.append(odd_date_times)
    elif kind == "string":
        specific += [st.integers() | fractions, st.lists(st.text(max_size=3), max_size=2)]
    elif kind == "boolean":
        specific.append(st.sampled_from(["maybe", 2, 0.5, "yes", 1, "false"]))
    elif kind == "array":
        specific += [st.text(max_size=5), st.lists(st.integers() | st.none(), min_size=1, max_size=2)]
    elif kind == "object":
        specific.append(objects(stem, schema, faulty=True))  # a fault inside (traits, device...)
    return st.one_of(*specific, *specific, common)


_objects: dict[tuple[str, int, bool], st.SearchStrategy[dict[str, Any]]] = {}


def objects(stem: str, schema: dict[str, Any], *, faulty: bool) -> st.SearchStrategy[dict[str, Any]]:
    """An object of a spec schema: its typed members (each maybe absent; required ones present)
    plus custom members. If ``faulty``: one to two typed members get near misses, or a required
    member is missing."""
    key = (stem, id(schema), faulty)  # spec documents are cached for the session: ids are stable
    if key not in _objects:
        _objects[key] = _objects_of(stem, schema, faulty)
    return _objects[key]


def _objects_of(stem: str, schema: dict[str, Any], faulty: bool) -> st.SearchStrategy[dict[str, Any]]:
    shape = object_shape(stem, schema)
    names = sorted(shape.declared)
    good = {n: values_of(stem, s) for n, s in shape.declared.items()}
    bad = {n: near_misses_of(stem, s) for n, s in shape.declared.items()}
    custom = st.dictionaries(st.text(max_size=10).filter(lambda k: k not in shape.declared), json_values, max_size=2)

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        present = (draw(st.sets(st.sampled_from(names))) if names else set()) | set(shape.required)
        wrong: set[str] = set()
        if faulty and names:
            if shape.required and draw(st.integers(0, 3)) == 0:
                present.discard(draw(st.sampled_from(sorted(shape.required))))
            else:
                wrong = {draw(st.sampled_from(names))}
                present |= wrong
        out = {n: draw(bad[n] if n in wrong else good[n]) for n in sorted(present)}
        return {**draw(custom), **out}

    return build()


def member_schema(contract: EventContract, name: str) -> dict[str, Any] | None:
    return next((b["properties"][name] for b in contract.branches if name in b["properties"]), None)


FAULTS = ["identity", "properties", "context", "shape", "timestamp", "top-level"]


@st.composite
def model_inputs(draw: st.DrawFn, contract: EventContract) -> dict[str, Any]:
    """A model input for one event (no ``type``/``event``: those come from the model)."""
    fault = draw(st.sampled_from([None, *FAULTS]))
    out: dict[str, Any] = {}

    allowed = {"either": ["user", "anonymous"], "user": ["user"], "anonymous": ["anonymous"], "none": ["user", "anonymous", "neither"]}
    if fault == "identity":
        junk = draw(st.integers(0, 2)) == 0
        mode = draw(st.sampled_from(allowed[contract.identity] if junk else ["user", "anonymous", "both", "neither"]))
        if not junk and mode in allowed[contract.identity]:
            mode = "both"  # a combination this event does not allow
        id_values = junk_ids if junk else ids
    else:
        mode, id_values = draw(st.sampled_from(allowed[contract.identity])), ids
    if mode in ("user", "both"):
        out["userId"] = draw(id_values)
    if mode in ("anonymous", "both"):
        out["anonymousId"] = draw(id_values)

    required = contract.top_level.required
    broken = draw(st.sampled_from(["properties", "context"])) if fault == "shape" else None
    for name in ("properties", "context"):
        schema = member_schema(contract, name)
        if name == broken:
            if name in required and draw(st.booleans()):
                continue  # missing
            out[name] = draw(json_values | st.sampled_from(["{}", [{}], None]))  # not an object
        elif schema is None:
            if fault == "top-level" and draw(st.booleans()):
                out[name] = draw(st.dictionaries(st.text(max_size=8), json_values, max_size=2))  # undeclared
        elif name in required or draw(st.integers(0, 3)):
            out[name] = draw(objects(contract.stem, schema, faulty=fault == name))

    optional: dict[str, st.SearchStrategy[Any]] = {
        "messageId": ids,
        "timestamp": odd_date_times if fault == "timestamp" else aware_datetimes | aware_datetimes.map(lambda d: d.isoformat()),
        "integrations": st.dictionaries(st.text(max_size=8), json_values, max_size=2),
    }
    for name in sorted(draw(st.sets(st.sampled_from(sorted(optional)), max_size=3))):
        out[name] = draw(optional[name])
    if fault == "timestamp":
        out["timestamp"] = draw(odd_date_times)
    if fault == "top-level":
        wrong = {
            "event": st.sampled_from(["Some Other Event", contract.name]),
            "type": st.sampled_from(["identify", "track"]),
            "extra_member": json_values,
            "messageId": junk_ids,
            "integrations": json_values,
        }
        for name in sorted(draw(st.sets(st.sampled_from(sorted(wrong)), min_size=1, max_size=2))):
            out[name] = draw(wrong[name])
    return out


@pytest.mark.parametrize("stem", SPEC_STEMS)
def test_whatever_a_model_accepts_validates_against_the_spec(stem: str) -> None:
    family = [contracts()[name] for name in sorted(ALL_EVENTS) if SPEC_OF[name] == stem]
    seen = {"accepted": 0, "rejected": 0}

    @settings(max_examples=EXAMPLES_PER_FAMILY, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.sampled_from(family).flatmap(lambda c: st.tuples(st.just(c), model_inputs(c))))
    def check(case: tuple[EventContract, dict[str, Any]]) -> None:
        contract, data = case
        try:
            event = ALL_EVENTS[contract.name].model_validate(data)
        except ValidationError:
            seen["rejected"] += 1
            return
        seen["accepted"] += 1
        body = event.to_cio()
        assert errors(contract.emitted, body) == [], body
        assert contract.request_body.is_valid(body), errors(contract.request_body, body)

    check()
    assert seen["accepted"] >= MIN_EACH, seen
    assert seen["rejected"] >= MIN_EACH, seen
