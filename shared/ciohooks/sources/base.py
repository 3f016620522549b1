"""What a source is: authenticate a provider's request, then translate it into semantic events.

One module per provider under ``ciohooks.sources`` holds its whole story: the payload model, the
authentication scheme and the mapping. A source never talks to queues or Customer.io; ingest and
deliver do that around it, so the same translation runs at ingest, on replay and in the CLI.
"""

from __future__ import annotations

import functools
import logging
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import ValidationError

from ..config import ConfigurationError, Settings
from ..identity import NoIdentity  # light: identity imports only config at module level
from ..redact import describe_validation_error, redact
from ..request import WebhookRequest
from ..semantic import SemanticEvent


class Unauthorized(Exception):
    """The request is not authentic (answered 401). The message says why, never with the payload."""


class NotConfigured(ConfigurationError):
    """The source has no key to check requests with, so it refuses them all (fail closed, 503)."""


class Unavailable(Exception):
    """Something authentication depends on cannot be reached now (the replay store, SNS's certificate
    host): nothing is accepted unchecked; the answer is the source's ``retry_status``."""


class InvalidPayload(ValueError):
    """The payload is not what this source sends. Authentic requests like this go to the DLQ."""


class Refused(InvalidPayload):
    """An authentic request its sender can fix, answered at once with ``status`` and ``body()``
    (e.g. our own backend breaking its contract) instead of a 2xx and a silent DLQ entry.

    Raised by ``translate``: ingest answers it; on replay (deliver) it is an ``InvalidPayload``
    like any other, so the request stays in the DLQ with the reason."""

    status: int = 400

    def body(self) -> dict[str, Any]:
        """The answer's JSON body: what is wrong, never a value from the request."""
        return {"error": "invalid_request", "message": str(self)}


@dataclass(frozen=True)
class Reply:
    """A response a source gives itself (a provider's probe or handshake) instead of the usual ack."""

    status: int = 200
    body: str = ""
    content_type: str = "text/plain"


@dataclass
class Translation:
    """The semantic events one request becomes, and what of it did not become events.

    Three outcomes per provider item (docs/RELIABILITY.md, "The guarantees": nothing authentic is dropped silently):

    - ``events``: translated;
    - ``ignored``: a type the source declares in ``Source.ignored_types`` (deliberately not sent,
      with a reason), counted by type;
    - ``unknown`` (types this version does not know) and ``failed`` (items that could not be
      translated, one safe reason each): ingest queues the events and keeps the whole raw request
      in the DLQ (stage ``translate``), so a replay with a later mapping turns them into events.
    """

    events: list[SemanticEvent] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)  # provider event type -> count
    unknown: Counter[str] = field(default_factory=Counter)  # provider event type -> count
    failed: list[str] = field(default_factory=list)  # why each bad item was not translated

    def item(self, where: str) -> _Item:
        """Translate one provider item of a batch: if it fails, record why (``failed``) and go on,
        so one bad item never holds back the valid items of the same request.

        ``where`` names the item (e.g. ``"event 3 (open)"``), never its values. Used as
        ``with translation.item(where):``; it runs once per event, so entering and leaving cost
        nothing beyond two method calls (a class, not a generator-based context manager)."""
        return _Item(self, where)

    def _record_failure(self, where: str, error: BaseException) -> bool:
        """Record why the item ``where`` failed; False when ``error`` is not an item's fault."""
        if isinstance(error, (InvalidPayload, NoIdentity)):
            self.failed.append(redact(str(error)) if str(error).startswith(where) else redact(f"{where}: {error}"))
        elif isinstance(error, ValidationError):
            self.failed.append(f"{where}: {describe_validation_error(error)}")
        elif isinstance(error, UNEXPECTED_SHAPE):  # a shape the mapping did not foresee: the class says enough
            self.failed.append(f"{where}: unexpected payload shape ({error.__class__.__name__})")
        else:
            return False
        return True

    def unknown_unless_declared(self, ignored_types: Mapping[str, str]) -> None:
        """Move every ``ignored`` key that ``ignored_types`` (the source's declaration) does not list
        to ``unknown``: only a declared type may be dropped, so a source that counts a type it does
        not know as ignored cannot lose it. Ingest and deliver call this after every translation."""
        for key in [key for key in self.ignored if not is_declared(key, ignored_types)]:
            self.unknown[key] += self.ignored.pop(key)

    @property
    def incomplete(self) -> bool:
        """Something authentic in the request did not become events and must be kept."""
        return bool(self.unknown or self.failed)

    def reasons(self) -> str:
        """Why the request is kept: safe to log and to store (type names and field paths only).
        At most ``MAX_REASONS`` are spelled out; a batch of a thousand bad items says how many more
        (a type name is the provider's text: it could hold an address, so it is redacted)."""
        parts = [redact(f"unknown event type {name[:64]!r} (x{count})") for name, count in sorted(self.unknown.items())]
        parts += self.failed
        if len(parts) > MAX_REASONS:
            parts = parts[:MAX_REASONS] + [f"and {len(parts) - MAX_REASONS} more"]
        return "; ".join(parts)


class _Item:
    """``Translation.item``'s context manager."""

    __slots__ = ("translation", "where")

    def __init__(self, translation: Translation, where: str) -> None:
        self.translation = translation
        self.where = where

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: object) -> bool:
        return error is not None and self.translation._record_failure(self.where, error)


# What a mapping raises when a payload has a shape it did not foresee (a list where it read a dict,
# a missing key...). Kept per item, like InvalidPayload; the class name is the whole reason, since
# these messages may quote the payload.
UNEXPECTED_SHAPE = (ValueError, TypeError, KeyError, IndexError, AttributeError, ArithmeticError, RecursionError)
MAX_REASONS = 20


def is_declared(key: str, ignored_types: Mapping[str, str]) -> bool:
    """``key`` (a ``Translation.ignored`` key) is in ``ignored_types``, where ``*`` matches any text."""
    return key in ignored_types or any("*" in glob and _glob(glob).fullmatch(key) is not None for glob in ignored_types)


@functools.lru_cache(maxsize=512)
def _glob(glob: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in glob.split("*")), re.DOTALL)


class Source:
    """Base class. Subclasses set the class attributes and implement ``authenticate``/``translate``."""

    family: ClassVar[str]  # "email", "video" or "mobile": which ingest function serves it
    name: ClassVar[str]  # the route, e.g. "sendgrid" for POST /sendgrid
    docs_url: ClassVar[str] = ""
    methods: ClassVar[tuple[str, ...]] = ("POST",)
    # "https" (a provider calls the route), or "eventbridge" (AWS invokes the function; no URL).
    transport: ClassVar[str] = "https"
    # Header names and query keys that carry credentials: never stored in a queue message. A source
    # whose credential names are configurable overrides them per instance (ingest reads the instance).
    secret_headers: ClassVar[frozenset[str]] = frozenset()
    secret_query_keys: ClassVar[frozenset[str]] = frozenset()
    # The setting holding the secret that authenticates requests (see config.Settings.secret).
    secret_name: ClassVar[str | None] = None
    # Every secret the source reads (``secret()`` refuses any other name, so this cannot drift);
    # defaults to ``(secret_name,)``. ``ciohooks doctor`` and the template's least-privilege
    # policies read it.
    secret_names: ClassVar[tuple[str, ...]] = ()
    # Plain settings without which the source refuses every request (``NotConfigured``), e.g.
    # SES_TOPIC_ARNS; ``ciohooks doctor`` lists the missing ones. Secrets go in ``secret_names``.
    required_settings: ClassVar[tuple[str, ...]] = ()
    # Whether the source exists only because the deployment asked for it (a custom source's
    # definition file): then it is always "set up here", and a missing secret fails closed (503)
    # instead of answering 404 like an unconfigured built-in.
    installed_by_definition: ClassVar[bool] = False
    # Provider event type -> the Customer.io event it becomes (the guide's event table shows them;
    # tests/unit/test_event_tables.py keeps the two equal).
    mapped_types: ClassVar[Mapping[str, str]] = {}
    # Provider event types deliberately not translated, each with the reason (the guide's event
    # table shows them). A type that is neither mapped nor listed here is unknown: it is kept.
    # Keys are the ``Translation.ignored`` keys the source counts; a ``*`` matches any text
    # (``"contact.*"``), for families of types the provider documents as open-ended.
    ignored_types: ClassVar[Mapping[str, str]] = {}
    # The status a provider treats as "accepted"; a source may choose another (e.g. 204).
    ack_status: ClassVar[int] = 200
    # The status that makes this provider retry later (queue down, source not configured). Most
    # retry any 5xx; some retry only one code (Brevo: 429) and discard the rest.
    retry_status: ClassVar[int] = 503

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A class naming its secret reads it; what a parent declared it reads too (inherited code).
        if "secret_names" not in cls.__dict__ and cls.secret_name and cls.secret_name not in cls.secret_names:
            cls.secret_names = (*cls.secret_names, cls.secret_name)

    def __init__(self, settings: Settings | None = None) -> None:
        """Build the source once per container: read and validate every plain setting here (a bad
        value raises ``ConfigurationError`` naming the setting), so a request never meets a
        configuration fault half-way through. Secrets are read per request (rotation)."""
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

    def attested(self, request: WebhookRequest) -> WebhookRequest:
        """``request`` with what ``authenticate`` verified beyond its credentials recorded on it
        (``WebhookRequest.verified_user_id``), so a translation elsewhere, without the secrets,
        keeps it. Ingest calls it right after ``authenticate``; most sources have nothing to add."""
        return request

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

    # ---- fail closed, in one place -------------------------------------------------------------

    def secret(self, name: str) -> str | None:
        """The secret ``name`` (``config.Settings.secret``); a blank value counts as not configured.

        Sources that take any of several credentials read each with this, naming it by a constant,
        then call ``refuse_or_open`` when none is set (``ciohooks doctor`` lists the secrets a source
        reads from those calls)."""
        if name not in self.secret_names:
            raise ConfigurationError(f"{self.full_name()} reads secret {name} without declaring it in secret_names")
        value = self.settings.secret(name)
        return value if value is not None and value.strip() else None

    def secret_or_open(self, name: str) -> str | None:
        """The secret ``name``, or ``None`` when it is not configured and ``ALLOW_UNSIGNED`` is on.

        ``None`` means "open on purpose": a loud SECURITY warning has been logged and the caller
        accepts the request unchecked. Without the secret and without ``ALLOW_UNSIGNED`` this raises
        ``NotConfigured`` (503: the endpoint fails closed). A blank value counts as not configured.
        """
        value = self.secret(name)
        if value is None:
            self.refuse_or_open(name)
        return value

    def refuse_or_open(self, *names: str) -> None:
        """None of the secrets ``names`` is configured: raise ``NotConfigured`` (fail closed), or,
        with ``ALLOW_UNSIGNED``, log a loud SECURITY warning and return (the request goes in
        unchecked). For sources that take any of several credentials (Basic or a token...)."""
        missing = f"neither {' nor '.join(names)} is configured" if len(names) > 1 else f"{names[0]} is not configured"
        if self.settings.get_bool("ALLOW_UNSIGNED"):
            # The source module's own logger, so the warning is filed under the source it opens.
            logging.getLogger(type(self).__module__).warning(
                "SECURITY: accepting an UNAUTHENTICATED %s request: %s and CIOHOOKS_ALLOW_UNSIGNED is on. "
                "Anyone can post events to this endpoint.",
                self.full_name(), missing,
            )  # fmt: skip
            return
        raise NotConfigured(f"{'' if len(names) > 1 else 'secret '}{missing}, so every request is refused")

    def tolerance_seconds(self, setting: str, default: int) -> int:
        """A time window setting in seconds (``<NAME>_TOLERANCE_SECONDS``); negative is ``NotConfigured``."""
        seconds = self.settings.get_int(setting, default)
        if seconds < 0:
            raise NotConfigured(f"{setting} must not be negative")
        return seconds
