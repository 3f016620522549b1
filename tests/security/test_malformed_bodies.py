"""Malformed bodies on every route, signed and unsigned: never a 5xx, and nothing authentic is lost.

For each source of the catalogue, its first real sample (events/samples/, credited there) is turned
into the bodies attackers and broken providers send: nested 5,000 deep (about 10 KB: it used to
raise RecursionError before authentication on /ses, /mailgun and the video routes), a number of
20,000 digits, invalid UTF-8, a key given twice, and the sample cut in half. Each goes in unsigned,
and signed with the source's own scheme and the local keys (events/keys/), as the provider would.

- No answer is a 5xx: every source is configured here, so a 503 would be a bug, not fail-closed.
- Unsigned, nothing is kept: a 2xx is only a probe's reply.
- Signed and answered 2xx, nothing is lost: the request is queued, dead-lettered whole, a probe's
  reply, or made only of types the source ignores on purpose.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from urllib.parse import quote

import pytest

from ciohooks import sources
from ciohooks.config import Settings
from ciohooks.ingest import Ingest
from ciohooks.local import local_keys, signing_key
from ciohooks.queue import MemoryQueue
from ciohooks.request import WebhookRequest
from ciohooks.samples import sample_files, sample_request

EVENTS = Path(__file__).parents[2] / "events"
LOCAL = local_keys(EVENTS / "keys")
DEEP = b"[" * 5000 + b"]" * 5000


def splice(sample: bytes, value: bytes) -> bytes:
    """``value`` as the first member of the sample's top-level JSON object or array (the sample
    stays otherwise real), or alone when the sample is not JSON."""
    text = sample.lstrip()
    if text[:1] == b"{":
        return b'{"cio_hooks_test": ' + value + b", " + text[1:]
    if text[:1] == b"[":
        return b"[" + value + b", " + text[1:]
    return value


def duplicate_first_key(sample: bytes) -> bytes:
    """The sample with its first key given twice: first as null, then with its real value."""
    try:
        document = json.loads(sample)
    except ValueError:
        return sample + b"&" + sample  # a form or query body: every parameter twice
    item = document[0] if isinstance(document, list) and document else document
    if not isinstance(item, dict) or not item:
        return sample
    key = json.dumps(next(iter(item))).encode()
    text = json.dumps(document).encode()
    at = text.index(b"{") + 1
    return text[:at] + key + b": null, " + text[at:]


MALFORMED = {
    "nested 5000 deep": lambda sample: DEEP,
    "nested 5000 deep inside the sample": lambda sample: splice(sample, DEEP),
    "a 20000-digit number": lambda sample: splice(sample, b"9" * 20_000),
    "invalid UTF-8": lambda sample: sample[: len(sample) // 2] + b"\xff\xfe\xc3\x28" + sample[len(sample) // 2:],
    "a duplicate key": duplicate_first_key,
    "truncated": lambda sample: sample[: len(sample) // 2],
}


def first_sample(full_name: str) -> Path:
    return sample_files(EVENTS / "samples" / full_name)[0]


CASES = [(name, kind, signed) for name in sources.names() for kind in MALFORMED for signed in (False, True)]


def request_for(full_name: str, kind: str, signed: bool) -> tuple[WebhookRequest, bool]:
    """The malformed request, and whether it carries valid credentials."""
    source = sources.load(full_name)
    sample = first_sample(full_name)
    original = sample_request(source, sample)
    if original.body:
        body, query = MALFORMED[kind](original.body), original.raw_query
    else:  # a GET callback (Adjust): the query string is what the provider sends, %-encoded
        body, query = b"", quote(MALFORMED[kind](original.raw_query.encode()), safe="=&%+")
    request = WebhookRequest(original.method, original.path, body, original.headers, query, original.received_at, original.domain)
    if not signed or (key := signing_key(source, EVENTS / "keys")) is None:
        return request, False
    try:
        authentic = source.sign(request, key)
    except Exception:  # noqa: BLE001 - only the pairs of UNSIGNABLE may fail; any other is a signer bug
        assert (full_name, kind) in UNSIGNABLE, f"{full_name} could not sign a body with {kind}"
        return request, False
    return authentic, True


# What a provider's scheme may be unable to sign, so those "signed" cases run unsigned: Mailgun and
# SES (SNS) sign inside a JSON body, so a body that does not parse has no signature to carry (the
# nested ones parse or not with the interpreter's recursion limit); the Standard Webhooks library
# (Resend, the backend contract, Clerk) signs text, not invalid UTF-8.
NOT_JSON = ("nested 5000 deep", "nested 5000 deep inside the sample", "a 20000-digit number", "invalid UTF-8", "truncated")
UNSIGNABLE = frozenset(
    {(name, kind) for name in ("email/mailgun", "email/ses") for kind in NOT_JSON}
    | {(name, "invalid UTF-8") for name in ("email/resend", "mobile/backend", "mobile/clerk")}
)


@pytest.mark.parametrize("full_name,kind,signed", CASES, ids=[f"{n}-{k}-{'signed' if s else 'unsigned'}" for n, k, s in CASES])
def test_a_malformed_body_gets_a_clean_answer_and_an_authentic_one_is_kept(full_name, kind, signed, caplog):
    family, route = full_name.split("/")
    request, authentic = request_for(full_name, kind, signed)
    ingest = Ingest(family, MemoryQueue(), MemoryQueue(), Settings(dict(LOCAL)))
    with caplog.at_level(logging.INFO):
        outcome = ingest.handle(route, request)  # an exception here would be the Function URL's 500
    assert outcome.status < 500, (outcome.status, outcome.body)
    queued, dead = ingest.delivery_queue.approximate_depth(), ingest.dead_letter_queue.approximate_depth()
    if not 200 <= outcome.status < 300:
        assert (queued, dead) == (0, 0), "refused, yet something was kept"
    elif not authentic:
        assert outcome.result in ("replied", "queued", "dead_lettered", "ignored")
        if outcome.result in ("queued", "dead_lettered"):  # only a source open by design stores it
            assert sources.load(full_name).secret_name is None or "ALLOW_UNSIGNED" in caplog.text
    else:
        assert outcome.result in ("replied", "queued", "dead_lettered", "ignored"), outcome.result
        assert queued == (1 if outcome.result == "queued" else 0)
        assert dead == (1 if outcome.kept else 0)
        if outcome.result == "ignored":
            assert outcome.ignored > 0 and outcome.unknown == 0


def test_the_deep_body_that_crashed_ses_mailgun_and_video_before_authentication_is_refused():
    """The crash the fuzz suite found once: ~10 KB of nesting on the routes that parse to authenticate."""
    for full_name in ("email/ses", "email/mailgun", *sources.names("video")):
        family, route = full_name.split("/")
        ingest = Ingest(family, MemoryQueue(), MemoryQueue(), Settings(dict(LOCAL)))
        outcome = ingest.handle(route, WebhookRequest("POST", f"/{route}", DEEP, {"content-type": "application/json"}))
        assert (full_name, outcome.status) == (full_name, 401)
