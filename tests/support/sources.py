"""One harness for per-source unit tests: build the source, post a payload, translate, check.

Each tests/unit/test_<source>.py used to redefine ``source(**env)``, ``post``, ``translate``,
``one`` and ``sample`` almost line for line. Build a :class:`Harness` once per test module and
bind the five names to it (provider-specific builders such as ``signed`` stay in the module)::

    harness = Harness("email/brevo")
    source, post, translate, one, sample = harness.source, harness.post, harness.translate, harness.one, harness.sample

Every emitted event is checked against Customer.io's seed specs (tests/support/spec.py), and every
type a translation counts as ignored must be declared in the source's ``ignored_types`` (ingest
turns an undeclared one into unknown).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ciohooks import sources
from ciohooks.config import Settings
from ciohooks.request import WebhookRequest
from ciohooks.sources import Source, Translation
from tests.support.spec import assert_valid_event

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "samples"
Body = bytes | str | dict[str, Any] | list[Any]


def declared(key: str, ignored_types: Mapping[str, str]) -> bool:
    """``key`` is in ``ignored_types``, where ``*`` in a declared key matches any text (as ingest reads it)."""
    return key in ignored_types or any("*" in glob and re.fullmatch(".*".join(map(re.escape, glob.split("*"))), key) for glob in ignored_types)


@dataclass
class Harness:
    full_name: str  # e.g. "email/brevo"
    content_type: str = "application/json"
    env: dict[str, str] = field(default_factory=dict)  # settings every source() gets (without CIOHOOKS_)
    received: datetime | float | None = None  # received_at of every post() (default: now)
    build: Callable[[Settings], Source] | None = None  # how to build the source (default: its class)
    headers: dict[str, str] = field(default_factory=dict)  # headers every post() sends (e.g. host)
    domain: str | None = None  # the host the request was sent to (signatures over the URL)

    @property
    def source_class(self) -> type[Source]:
        return sources.load(self.full_name)

    @property
    def samples(self) -> Path:
        return SAMPLES / self.full_name

    def sample(self, name: str) -> bytes:
        """A sample file of this source, byte for byte (credited in the folder's README.md)."""
        return (self.samples / name).read_bytes()

    def source(self, **env: str) -> Any:
        """The source built from settings (``CIOHOOKS_`` is added to each name)."""
        settings = Settings({f"CIOHOOKS_{k}": v for k, v in {**self.env, **env}.items()})
        return self.build(settings) if self.build else self.source_class(settings)

    def post(self, body: Body, headers: dict[str, str] | None = None, *, received: datetime | float | None = None, method: str = "POST", query: str = "", content_type: str | None = None) -> WebhookRequest:
        """The request posting ``body`` (bytes as is; anything else as JSON) to this source's route."""
        raw = body if isinstance(body, bytes) else body.encode() if isinstance(body, str) else json.dumps(body).encode()
        at = received if received is not None else self.received
        kwargs: dict[str, Any] = {"received_at": at if isinstance(at, datetime) else datetime.fromtimestamp(at, UTC)} if at is not None else {}
        if self.domain is not None:
            kwargs["domain"] = self.domain
        all_headers = {"content-type": content_type or self.content_type, **self.headers, **(headers or {})}
        return WebhookRequest(method, f"/{self.source_class.name}", raw, all_headers, query, **kwargs)

    def translation(self, body: Body, **env: str) -> Translation:
        """The whole translation of ``body``; every event is checked against the seed specs."""
        source = self.source(**env)
        translation = source.translate(self.post(body))
        for event in translation.events:
            assert_valid_event(event.to_cio())
        undeclared = [key for key in translation.ignored if not declared(key, source.ignored_types)]
        assert not undeclared, f"ignored but not in {type(source).__name__}.ignored_types: {undeclared}"
        return translation

    def translate(self, body: Body, **env: str) -> tuple[list[dict[str, Any]], Counter[str]]:
        """The Customer.io bodies and the ignored counts; fails if anything was unknown or failed."""
        translation = self.translation(body, **env)
        assert not translation.incomplete, translation.reasons()
        return [event.to_cio() for event in translation.events], translation.ignored

    def one(self, body: Body, **env: str) -> dict[str, Any]:
        """The one event ``body`` becomes (nothing ignored, unknown or failed)."""
        bodies, ignored = self.translate(body, **env)
        assert len(bodies) == 1 and not ignored, (bodies, ignored)
        return bodies[0]
