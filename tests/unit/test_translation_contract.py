"""The contract every source's translation meets: only declared types are dropped, one bad item does
not hold back the others, reasons stay short and safe, and no JSON parser runs unbounded."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ciohooks import sources
from ciohooks.ingest import settle
from ciohooks.request import MAX_JSON_DEPTH, UnreadableJson, _shallow, _structure, json_depth, loads_json, too_deep
from ciohooks.semantic.email import EmailDelivered
from ciohooks.sources.base import InvalidPayload, Translation, is_declared

DECLARED = {"processed": "accepted, not yet delivered", "contact.*": "contact management", "*:no_email": "names nobody"}


@pytest.mark.parametrize("key,declared", [
    ("processed", True),
    ("contact.created", True),
    ("contact.", True),
    ("open:no_email", True),
    ("contact", False),
    ("processed:x", False),
    ("complaint", False),
    ("xcontact.created", False),
])
def test_a_key_is_declared_by_name_or_by_a_star(key, declared):
    assert is_declared(key, DECLARED) is declared


def test_undeclared_ignored_keys_become_unknown_and_declared_ones_stay():
    translation = Translation(ignored=Counter({"processed": 2, "complaint": 1, "contact.deleted": 3}))
    translation.unknown_unless_declared(DECLARED)
    assert translation.ignored == Counter({"processed": 2, "contact.deleted": 3})
    assert translation.unknown == Counter({"complaint": 1})
    assert translation.incomplete
    assert translation.reasons() == "unknown event type 'complaint' (x1)"


@pytest.mark.parametrize("error,reason", [
    (InvalidPayload("event 2 (open): no message-id"), "event 2 (open): no message-id"),
    (InvalidPayload("no message-id"), "event 2 (open): no message-id"),
    (KeyError("jane@example.com"), "event 2 (open): unexpected payload shape (KeyError)"),
    (TypeError("'NoneType' object is not subscriptable"), "event 2 (open): unexpected payload shape (TypeError)"),
    (RecursionError(), "event 2 (open): unexpected payload shape (RecursionError)"),
])
def test_one_failing_item_is_recorded_and_the_loop_goes_on(error, reason):
    translation = Translation()
    for index in range(3):
        with translation.item(f"event {index} (open)"):
            if index == 2:
                raise error
            translation.ignored["open"] += 1
    assert translation.failed == [reason]
    assert translation.ignored["open"] == 2


def test_reasons_of_a_thousand_bad_items_stay_short():
    translation = Translation(failed=[f"event {i} (open): no message-id" for i in range(1000)], unknown=Counter({"complaint": 3}))
    reasons = translation.reasons()
    assert reasons.startswith("unknown event type 'complaint' (x3); event 0 (open): no message-id; ")
    assert reasons.endswith("event 18 (open): no message-id; and 981 more")


def delivered(message_id: str) -> EmailDelivered:
    return EmailDelivered.model_validate({"userId": "42", "messageId": message_id, "timestamp": "2026-12-01T00:00:00Z", "properties": {"email_id": "m1"}})


def test_settle_sends_what_was_not_sent_and_keeps_the_request_naming_everything_sent():
    translation = Translation(events=[delivered("a"), delivered("b"), delivered("c")], unknown=Counter({"complaint": 1}))
    request = {"method": "POST", "path": "/brevo", "headers": {}, "query": "", "body": "[]", "base64": False, "received_at": "2026-12-01T00:00:00+00:00"}
    settled = settle(translation, "email/brevo", datetime(2026, 12, 1, tzinfo=UTC), request, exclude_ids=["a"])
    assert [e["messageId"] for e in settled.events] == ["b", "c"]
    assert settled.kept.exclude_ids == ["a", "b", "c"]
    assert (settled.kept.kind, settled.kept.failure.stage, settled.kept.failure.error) == ("request", "translate", "unknown event type 'complaint' (x1)")
    assert settle(Translation(events=[delivered("a")]), "email/brevo", datetime(2026, 12, 1, tzinfo=UTC), request).kept is None


def test_every_source_declares_its_ignored_types_with_a_reason():
    for name in sources.names():
        declared = sources.load(name).ignored_types
        assert all(isinstance(reason, str) and reason.strip() for reason in declared.values()), name


@pytest.mark.parametrize("text,depth", [
    (b"", 0),
    (b"[]", 1),
    (b'{"a": [1, {"b": []}]}', 4),
    (b'["[[[[", "\\"[[["]', 1),  # brackets inside strings, escaped quotes included, do not count
    (b"[[[", 3),  # unterminated: measured all the same
    (b'"' + b"[" * 300, 0),  # an unterminated string swallows the rest
    (b"[" * 5000 + b"]" * 5000, 5000),
])
def test_json_depth_is_measured_without_parsing(text, depth):
    assert json_depth(text) == depth


@pytest.mark.parametrize("body", [
    b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1),
    b'{"a":' * 5000 + b"1" + b"}" * 5000,
    b"[" + b"9" * 20_000 + b"]",
])
def test_bounded_json_refuses_what_would_exhaust_the_stack_or_the_cpu(body):
    with pytest.raises(UnreadableJson) as raised:
        loads_json(body)
    assert isinstance(raised.value, json.JSONDecodeError)  # so every `except JSONDecodeError` handles it
    assert body[:20].decode() not in str(raised.value)


def _nested(depth: int, kinds: bytes = b"[{") -> bytes:
    """``depth`` levels, alternating the bracket kinds (``_shallow`` takes off up to two per round)."""
    openers = bytes(kinds[i % len(kinds)] for i in range(depth))
    closers = bytes({ord("["): ord("]"), ord("{"): ord("}")}[b] for b in reversed(openers))
    return b"".join(b'{"k":' if b == ord("{") else b"[" for b in openers) + b"1" + closers


def test_the_quick_depth_bound_never_passes_a_body_deeper_than_its_limit():
    rng = random.Random(1717)  # fixed seed: deterministic in CI
    alphabet = b'[]{}""\\ab:,'
    bodies = [bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 120))) for _ in range(3000)]
    bodies += [json.dumps(_random_document(rng, rng.randrange(1, 14))).encode() for _ in range(3000)]
    bodies += [_nested(n, kinds) for n in range(0, 14) for kinds in (b"[", b"{", b"[{", b"{[", b"[[{")]
    # Brackets inside strings that hide the real depth from a count that ignores strings:
    bodies += [b'["]",' * n + b"1" + b"]" * n for n in range(1, 14)] + [b'{"a":"}",' * n + b"1" + b"}" * n for n in range(1, 14)]
    answered = 0
    for body in bodies:
        for limit in range(1, 13):
            if _shallow(_structure(body), limit):
                answered += 1
                assert json_depth(body) <= limit, (body[:80], limit)
    assert answered > 5_000  # it does answer (9,767 of 72,000 here): a bound that never says yes would pass too


def _random_document(rng: random.Random, depth: int) -> object:
    """A JSON value up to ``depth`` deep whose strings hold a bracket now and then (and quotes,
    backslashes: escaped by the dump)."""
    if depth <= 1 or rng.random() < 0.2:
        return rng.choice([1, None, "", "ab", '"[', "}\\", "]", "x" * rng.randrange(3)])
    children = [_random_document(rng, depth - 1) for _ in range(rng.randrange(1, 4))]
    return children if rng.random() < 0.5 else {f"k{i}": child for i, child in enumerate(children)}


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1, 2 * MAX_JSON_DEPTH])
@pytest.mark.parametrize("kinds", [b"[", b"[{", b"{[[", b"{"])
def test_too_deep_draws_the_line_exactly_at_the_limit(depth, kinds):
    body = _nested(depth, kinds)
    hidden = b'["]",' * depth + b"1" + b"]" * depth  # every opener but the first behind a string's "]"
    assert too_deep(body) is (depth > MAX_JSON_DEPTH)
    assert too_deep(hidden) is (depth > MAX_JSON_DEPTH)
    assert too_deep(b'[{"a": "[[[", "b": ' + body + b"}]") is (depth + 2 > MAX_JSON_DEPTH)


def test_the_quick_depth_bound_answers_for_every_sample_body():
    samples = sorted((Path(__file__).resolve().parents[2] / "events" / "samples").rglob("*.json"))
    answered = 0
    for path in samples:
        structure = _structure(path.read_bytes())
        if b"".join(structure.split(b'"')[::2]) == structure.translate(None, b'"'):  # no string holds a bracket
            assert _shallow(structure), path.name
            answered += 1
    assert answered > len(samples) // 2


def test_bounded_json_reads_what_webhooks_send():
    nested = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert loads_json(nested) is not None
    assert loads_json(b'{"id": 457624031399716729}', parse_int=str) == {"id": "457624031399716729"}


def test_an_unknown_type_named_with_an_address_is_reported_without_it():
    translation = Translation(unknown=Counter({"jane@example.com signed up": 1}))
    assert translation.reasons() == "unknown event type '<email> signed up' (x1)"
