"""What a source is: authenticate a provider's request, then translate it into semantic events.

One module per provider under ``ciohooks.sources`` holds its whole story: the payload model, the
authentication scheme and the mapping. A source never talks to queues or Customer.io; ingest and
deliver do that around it, so the same translation runs at ingest, on replay and in the CLI.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..config import Settings
from ..request import WebhookRequest
from ..semantic import SemanticEvent


class Unauthorized(Exception):
    """The request is not authentic (answered 401). The message says why, never with the payload."""


class NotConfigured(Exception):
    """The source has no key to check requests with, so it refuses them all (fail closed, 503)."""


class InvalidPayload(ValueError):
    """The payload is not what this source sends. Authentic requests like this go to the DLQ."""


@dataclass(frozen=True)
class Reply:
    """A response a source gives itself (a provider's probe or handshake) instead of the usual ack."""

    status: int = 200
    body: str = ""
    content_type: str = "text/plain"


@dataclass
class Translation:
    """The semantic events one request becomes, and what was deliberately not translated."""

    events: list[SemanticEvent] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)  # provider event type -> count


class Source:
    """Base class. Subclasses set the class attributes and implement ``authenticate``/``translate``."""

    family: ClassVar[str]  # "email", "video" or "mobile": which ingest function serves it
    name: ClassVar[str]  # the route, e.g. "sendgrid" for POST /sendgrid
    docs_url: ClassVar[str] = ""
    methods: ClassVar[tuple[str, ...]] = ("POST",)
    # Header names and query keys that carry credentials: never stored in a queue message. A source
    # whose credential names are configurable overrides them per instance (ingest reads the instance).
    secret_headers: ClassVar[frozenset[str]] = frozenset()
    secret_query_keys: ClassVar[frozenset[str]] = frozenset()
    # The setting holding the secret that authenticates requests (see config.Settings.secret).
    secret_name: ClassVar[str | None] = None
    # The status a provider treats as "accepted"; a source may choose another (e.g. 204).
    ack_status: ClassVar[int] = 200
    # The status that makes this provider retry later (queue down, source not configured). Most
    # retry any 5xx; some retry only one code (Brevo: 429) and discard the rest.
    retry_status: ClassVar[int] = 503

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()

    @classmethod
    def full_name(cls) -> str:
        return f"{cls.family}/{cls.name}"

    def reply_before_auth(self, request: WebhookRequest) -> Reply | None:
        """Answer a provider's probe (a HEAD/GET check, an empty ping) without authentication."""
        return None

    def authenticate(self, request: WebhookRequest) -> None:
        """Raise ``Unauthorized`` unless the raw request is authentic; ``NotConfigured`` without a key."""
        raise NotImplementedError

    def translate(self, request: WebhookRequest) -> Translation:
        """Parse and map the request. Raise ``InvalidPayload`` when it is not this provider's payload."""
        raise NotImplementedError

    def reply_after_accept(self, request: WebhookRequest) -> Reply | None:
        """A handshake to answer once the request is authentic (e.g. SNS subscription confirmation)."""
        return None

    @classmethod
    def sign(cls, request: WebhookRequest, key: str) -> WebhookRequest:
        """``request`` as the provider would send it authenticated with ``key`` (headers, or a
        signature inside the body, as the scheme has it). ``key`` is the secret named by
        ``secret_name``; for asymmetric schemes, the private half of a key pair you hold.

        For ``ciohooks send``, the events generator and tests: lets you post authentic samples.
        """
        raise NotImplementedError(f"{cls.full_name()} has no signing scheme to reproduce")

    def describe(self) -> dict[str, Any]:
        return {"source": self.full_name(), "docs": self.docs_url}
