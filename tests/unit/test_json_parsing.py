"""``request.loads_json`` reads with msgspec first and ``json.loads`` after it: the answer must be
``json.loads``'s, value for value (types, key order and the last of repeated keys included) and
error class for error class, on every body. Compared with the parse the project had before msgspec
(``_json_loads_only`` below, kept here as the reference), on every sample body, on inputs where the
two parsers are known to differ, on fixed-seed mutations of the samples (deterministic in CI) and
on hypothesis's draws (``make fuzz`` draws many more)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, strategies as st

from ciohooks.request import MAX_JSON_DEPTH, UnreadableJson, loads_json, too_deep

SAMPLES = sorted((Path(__file__).resolve().parents[2] / "events" / "samples").rglob("*.json"))


def _json_loads_only(data: bytes | str) -> Any:
    """``loads_json`` as it was before msgspec: the reference."""
    if too_deep(data):
        raise UnreadableJson(f"nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise
    except (ValueError, RecursionError) as error:
        raise UnreadableJson(f"unreadable ({error.__class__.__name__})") from None


def _outcome(parse: Any, data: bytes | str) -> tuple[str, str]:
    try:
        # repr tells 1 from 1.0 and True, keeps key order and shows nan, inf and lone surrogates.
        return "value", repr(parse(data))
    except Exception as error:  # noqa: BLE001 - the class is what is compared
        return "error", type(error).__name__


def assert_same_answer(data: bytes | str) -> None:
    assert _outcome(loads_json, data) == _outcome(_json_loads_only, data), data[:200]


# Where msgspec and json.loads are known to part: json.loads's answer must win every time.
DIFFERENT = [
    b"[NaN, Infinity, -Infinity]",  # json.loads reads these, msgspec refuses them
    b"1e400",  # json.loads: inf; msgspec: out of range
    b"[-1e400, 1e-400]",
    b"\xef\xbb\xbf[1]",  # a UTF-8 byte order mark: json.loads skips it
    "[1]".encode("utf-16"),  # json.loads detects UTF-16 and UTF-32
    "[1]".encode("utf-32-le"),
    b'"\\ud800"',  # a lone surrogate escape
    b'"\xed\xa0\x80"',  # a surrogate's UTF-8 bytes: json.loads decodes them (surrogatepass)
    b"123456789012345678901234567890",  # beyond 64 bits: both exact
    b"-9223372036854775809",
    b"18446744073709551616",
    b"[" + b"9" * 4300 + b"]",  # the longest integer Python converts
    b"[" + b"9" * 4301 + b"]",  # one digit more: UnreadableJson
    b'{"a": 1, "a": 2.0}',  # repeated keys: the last wins
    b"[-0, -0.0, 0.1, 1E5, 1.5e-320, 2.2250738585072011e-308, 1.7976931348623157e308]",
    b'{"a": "\xff"}',  # invalid UTF-8: UnicodeDecodeError
    b'"\\u0000\\t\\/"',
    b'"a\tb"',  # a raw control character in a string
    b"[1,]",
    b"",
    b"  ",
    b"nulll",
    b"[1] x",
    b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH,
    b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1),
    "[\"é\", \"\U0001f600\"]",  # text, not bytes
    "\ud800",
]


@pytest.mark.parametrize("data", DIFFERENT, ids=range(len(DIFFERENT)))
def test_where_the_parsers_differ_the_answer_is_json_loads(data):
    assert_same_answer(data)


def test_every_sample_body_reads_the_same():
    for path in SAMPLES:
        assert_same_answer(path.read_bytes())
    assert len(SAMPLES) > 200


TOKENS = [b"NaN", b"1e400", b"-0", b"18446744073709551616", b"\\ud800", b"\xef\xbb\xbf", b'"', b"\\", b"[", b"]", b"{", b"}", b",", b":", b"\x00", b"\xff", b"1.", b"\t", b"9" * 25, b"\\u00e9"]


def test_fixed_seed_mutations_of_the_samples_read_the_same():
    rng = random.Random(20261202)  # fixed seed: the same bodies on every run
    bodies = [path.read_bytes() for path in SAMPLES]
    for _ in range(4000):
        body = bytearray(rng.choice(bodies))
        for _ in range(rng.randrange(1, 4)):
            at = rng.randrange(len(body) + 1)
            if rng.random() < 0.5:
                body[at:at] = rng.choice(TOKENS)
            else:
                del body[at : at + rng.randrange(1, 4)]
        assert_same_answer(bytes(body))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=20,
)


@given(st.one_of(json_values.map(lambda value: json.dumps(value).encode()), json_values.map(json.dumps), st.binary(max_size=64)))
@example(b'{"n": NaN}')
@example(b"[1e999]")
def test_any_body_reads_the_same(data):
    assert_same_answer(data)
