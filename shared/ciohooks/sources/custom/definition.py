"""The custom source definition file: its typed model, and reading it from YAML or JSON.

The model is the one statement of the format: ``schemas/custom-source.schema.json`` (the JSON
Schema editors use) is generated from it (``python -m ciohooks.sources.custom.definition``, and
tests/unit/test_custom_sources.py fails while the shipped copy differs), and every definition is
validated by it at cold start and by ``ciohooks check-source``. docs/CUSTOM-SOURCES.md explains
each field.

A definition that does not fit raises ``DefinitionError``: one line, the file, the JSON pointer of
the offending field and why, never a secret (definitions hold none: only secret *names*).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from typing_extensions import TypeAliasType

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator

from ...config import ConfigurationError

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "custom-source.schema.json"
SCHEMA_ID = "urn:ciohooks:schema:custom-source"

# The seed spec a family's events come from (ciohooks/specs/<stem>.openapi.json: the contract).
FAMILY_SPEC = {"email": "email-events", "mobile": "mobile-app-events", "video": "video-events"}
# The one field whose name says what `none` means: nobody is checked.
NONE_FLAG = "accept_unauthenticated_requests_from_anyone"

SecretName = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$", description="A secret's name (config.Settings.secret): CIOHOOKS_<NAME> locally, <SecretsPrefix><name-in-kebab-case> in AWS. Never the value.")]
Expression = Annotated[str, Field(min_length=1, description="A JSONata expression, evaluated with $ = one provider item (see docs/CUSTOM-SOURCES.md).")]
Template = Annotated[str, Field(min_length=1, description="The signed content: literal text with {body}, {timestamp}, {url}, {sorted_params}, {method}, {path} or {header:Name}.")]
Tolerance = Annotated[int, Field(ge=1, le=86_400, description="How far (seconds) a signed timestamp may be from the time of receipt.")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HmacAuth(Strict):
    """A shared-secret HMAC over the raw request (generic: GitHub, Shopify, Stripe-like, Twilio-like)."""

    preset: Literal["hmac"]
    secret: SecretName
    algorithm: Literal["sha1", "sha256", "sha512"] = "sha256"
    header: str = Field(min_length=1, description="The header carrying the signature.")
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str = Field("", description="Text before the signature in the header (or in its entry), e.g. 'sha256='.")
    signature_key: str | None = Field(None, description="For a 't=...,v1=...' header: the key of the signature entries (e.g. 'v1').")
    timestamp_key: str | None = Field(None, description="For a 't=...,v1=...' header: the key of the timestamp (e.g. 't').")
    timestamp_header: str | None = Field(None, description="A header of its own carrying the unix timestamp.")
    signed_content: Template = "{body}"
    secret_encoding: Literal["utf8", "base64", "hex"] = Field("utf8", description="How the secret's text becomes the HMAC key.")
    tolerance_seconds: Tolerance = 300

    @model_validator(mode="after")
    def _timestamp_is_read_somewhere(self) -> HmacAuth:
        has_timestamp = self.timestamp_key is not None or self.timestamp_header is not None
        if "{timestamp}" in self.signed_content and not has_timestamp:
            raise ValueError("signed_content uses {timestamp}: set timestamp_key or timestamp_header")
        if self.timestamp_key is not None and self.signature_key is None:
            raise ValueError("timestamp_key reads a 't=...,v1=...' header: set signature_key too")
        return self


class StandardWebhooksAuth(Strict):
    """Standard Webhooks (and Svix's headers): ``webhook-id``/``-timestamp``/``-signature``, secret ``whsec_...``."""

    preset: Literal["standard-webhooks"]
    secret: SecretName
    header_prefix: Literal["webhook", "svix"] = "webhook"
    tolerance_seconds: Tolerance = 300


class BasicAuth(Strict):
    """HTTP Basic credentials written into the webhook URL; the secret holds ``user:password``."""

    preset: Literal["basic"]
    secret: SecretName


class TokenAuth(Strict):
    """A static token the provider sends as is, in a header or a query parameter (constant-time compare)."""

    preset: Literal["token"]
    secret: SecretName
    location: Literal["header", "query"]
    name: str = Field(min_length=1, description="The header name or query parameter carrying the token.")
    bearer: bool = Field(False, description="The header's value is 'Bearer <token>' (only with location: header).")


class PublicKeyAuth(Strict):
    """An asymmetric signature (ECDSA P-256 or RSA, SHA-256) checked with the provider's public key."""

    preset: Literal["public-key"]
    secret: SecretName = Field(description="The setting holding the provider's public key (PEM, or base64 DER).")
    algorithm: Literal["ecdsa-sha256", "rsa-sha256", "rsa-pss-sha256"]
    header: str = Field(min_length=1)
    encoding: Literal["base64", "hex"] = "base64"
    timestamp_header: str | None = None
    signed_content: Template = "{body}"
    tolerance_seconds: Tolerance = 300

    @model_validator(mode="after")
    def _timestamp_is_read_somewhere(self) -> PublicKeyAuth:
        if "{timestamp}" in self.signed_content and self.timestamp_header is None:
            raise ValueError("signed_content uses {timestamp}: set timestamp_header")
        return self


class NoAuth(Strict):
    """No authentication at all. Refused unless the definition says, in so many words, that anyone may post."""

    preset: Literal["none"]
    accept_unauthenticated_requests_from_anyone: bool = Field(False, description="Must be true for `none`: anyone who knows the URL can post events.")

    @model_validator(mode="after")
    def _said_in_so_many_words(self) -> NoAuth:
        if self.accept_unauthenticated_requests_from_anyone is not True:
            raise ValueError(f"preset none is refused unless {NONE_FLAG}: true (anyone who knows the URL could post events)")
        return self


Authentication = Annotated[
    Union[HmacAuth, StandardWebhooksAuth, BasicAuth, TokenAuth, PublicKeyAuth, NoAuth],
    Field(discriminator="preset"),
]


class Identity(Strict):
    """Who an event is about, like the built-in sources (identity.IdentityRules): the first of
    ``user_id_keys`` found in the ``metadata`` object becomes ``userId``; else ``fallback`` (the
    address or device id) becomes ``fallback_as``. ``<PREFIX>_USER_ID_KEYS`` and
    ``<PREFIX>_EMAIL_AS`` (or ``_ID_AS``) override the keys and the choice per deployment."""

    metadata: Expression | None = Field(None, description="JSONata: an object of custom metadata (e.g. tags or custom args).")
    user_id_keys: list[str] = Field(default_factory=lambda: ["user_id"])
    fallback: Expression = Field(description="JSONata: the recipient's address or the device id.")
    fallback_as: Literal["userId", "anonymousId"] = "anonymousId"


ContextTree = TypeAliasType("ContextTree", "dict[str, Union[Expression, ContextTree]]")  # type: ignore[misc]


class MappedType(Strict):
    """A provider event type that becomes one semantic event."""

    event: str = Field(description="The semantic event's name (one of the family's spec), e.g. 'Email Opened'.")
    timestamp: Expression | None = Field(None, description="JSONata for the event time; default: the definition's timestamp.")
    properties: dict[str, Expression] = Field(default_factory=dict)
    context: ContextTree = Field(default_factory=dict, description="Nested objects whose leaves are JSONata expressions.")


class IgnoredType(Strict):
    """A provider event type deliberately not translated; the reason shows wherever ignored types do."""

    ignore: str = Field(min_length=1, description="Why this type is not sent to Customer.io.")


def _mapping_kind(value: Any) -> str:
    return "ignore" if isinstance(value, dict) and "ignore" in value else "event"


TypeMapping = Annotated[Union[Annotated[MappedType, Tag("event")], Annotated[IgnoredType, Tag("ignore")]], Discriminator(_mapping_kind)]


class Definition(Strict):
    """One custom source: a route of a family, how its requests are authenticated, and how its
    items become semantic events."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"$id": SCHEMA_ID})

    schema_: str | None = Field(None, alias="$schema", description="The JSON Schema this file follows (for editors).")
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,62}$", description="The route: POST <family function URL>/<name>.")
    family: Literal["email", "video", "mobile"]
    title: str = Field(min_length=1)
    docs_url: str = ""
    methods: list[Literal["GET", "POST", "PUT"]] = Field(default_factory=lambda: ["POST"], min_length=1)
    body: Literal["json", "form", "query"] = Field("json", description="What the mapping reads: the JSON body, a form-encoded body, or the query string (GET postbacks).")
    settings_prefix: str | None = Field(None, pattern=r"^[A-Z][A-Z0-9_]*$", description="Prefix of this source's settings (default: the name in upper case, - as _).")
    authentication: Authentication
    events: Expression = Field("$", description="JSONata: the provider items of one request (an array, or one object).")
    type: Expression = Field(description="JSONata: an item's event type.")
    id: Expression | None = Field(None, description="JSONata: the provider's event id, the dedup key of the messageId; without it, the item's canonical content.")
    timestamp: Expression | None = Field(None, description="JSONata: the event time (ISO 8601, or unix seconds or milliseconds).")
    identity: Identity
    mapping: dict[str, TypeMapping] = Field(min_length=1, description="Provider event type -> a semantic event, or `ignore` with the reason.")

    @property
    def prefix(self) -> str:
        return self.settings_prefix or self.name.upper().replace("-", "_")

    def expressions(self) -> dict[str, str]:
        """Every JSONata expression, by the JSON pointer of its field."""
        found = {"/events": self.events, "/type": self.type, "/identity/fallback": self.identity.fallback}
        for pointer, value in (("/id", self.id), ("/timestamp", self.timestamp), ("/identity/metadata", self.identity.metadata)):
            if value is not None:
                found[pointer] = value
        for kind, rule in self.mapping.items():
            if not isinstance(rule, MappedType):
                continue
            base = f"/mapping/{escape(kind)}"
            if rule.timestamp is not None:
                found[f"{base}/timestamp"] = rule.timestamp
            for name, expression in rule.properties.items():
                found[f"{base}/properties/{escape(name)}"] = expression
            for pointer, expression in _leaves(rule.context, f"{base}/context"):
                found[pointer] = expression
        return found


class DefinitionError(ConfigurationError):
    """A definition that cannot be used. One line: where (file and JSON pointer) and why."""


def escape(key: str) -> str:
    """A JSON pointer token (RFC 6901)."""
    return key.replace("~", "~0").replace("/", "~1")


def _leaves(tree: ContextTree, base: str) -> list[tuple[str, str]]:
    found = []
    for key, value in tree.items():
        pointer = f"{base}/{escape(key)}"
        found.extend(_leaves(value, pointer) if isinstance(value, dict) else [(pointer, value)])
    return found


def pointer_of(loc: tuple[Any, ...], document: Any) -> str:
    """A pydantic error location as a JSON pointer into ``document``. Pydantic puts the tag of a
    union member into a location (``hmac``, ``event``, ``str``...); such a step is not a key of the
    document and something follows it, so it is left out. A last step the document lacks is a
    missing member, and stays."""
    steps = list(loc)
    # The discriminated unions' tags sit at known places: after "authentication" (the preset)
    # and after "mapping", <type> ("event" or "ignore").
    if len(steps) > 1 and steps[0] == "authentication":
        del steps[1]
    if len(steps) > 2 and steps[0] == "mapping":
        del steps[2]
    loc = tuple(steps)
    parts: list[Any] = []
    node = document
    for index, step in enumerate(loc):
        found = (isinstance(node, dict) and step in node) or (isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node))
        if found:
            node = node[step]
            parts.append(step)
        elif index == len(loc) - 1:
            parts.append(step)
    return "/" + "/".join(escape(str(p)) for p in parts) if parts else "/"


def describe(error: ValidationError, document: Any, origin: str) -> str:
    """The first problem of a validation error as one line: ``<origin>: <pointer>: <why>``."""
    first = error.errors(include_url=False, include_input=False)[0]
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "missing":
        message = "required field is missing"
    elif first["type"] == "extra_forbidden":
        message = "unknown field (the schema forbids it)"
    elif first["type"] == "union_tag_invalid":
        message = "unknown preset" if "preset" in str(first.get("loc")) else message
    return f"{origin}: {pointer_of(tuple(first['loc']), document)}: {message}"


def parse_text(text: str, origin: str) -> Any:
    """A definition's text as data: JSON, or YAML when PyYAML is installed (the layer build turns
    YAML into JSON, so a deployed function needs no YAML parser)."""
    stripped = text.lstrip()
    if stripped.startswith("{") or origin.endswith(".json"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise DefinitionError(f"{origin}: not JSON (line {error.lineno}, column {error.colno}: {error.msg})") from None
    try:
        import yaml
    except ImportError:  # pragma: no cover - the layer carries JSON only
        raise DefinitionError(f"{origin}: a YAML definition needs PyYAML (the layer build converts YAML to JSON)") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise DefinitionError(f"{origin}: not YAML{where}: {getattr(error, 'problem', None) or error.__class__.__name__}") from None


def validate(document: Any, origin: str) -> Definition:
    if not isinstance(document, dict):
        raise DefinitionError(f"{origin}: /: a definition is an object, not {type(document).__name__}")
    try:
        definition = Definition.model_validate(document)
    except ValidationError as error:
        raise DefinitionError(describe(error, document, origin)) from None
    if (problem := _across_fields(definition)) is not None:
        raise DefinitionError(f"{origin}: {problem}")
    return definition


def _across_fields(definition: Definition) -> str | None:
    """What the schema alone cannot say: ``<pointer>: <why>``, or None."""
    from ...semantic import SPEC_OF

    for kind, rule in definition.mapping.items():
        if isinstance(rule, MappedType):
            pointer = f"/mapping/{escape(kind)}/event"
            if rule.event not in SPEC_OF:
                return f"{pointer}: {rule.event!r} is not a semantic event of the seed specs"
            if SPEC_OF[rule.event] != FAMILY_SPEC[definition.family]:
                return f"{pointer}: {rule.event!r} is not an event of the {definition.family} family ({FAMILY_SPEC[definition.family]})"
    auth = definition.authentication
    if isinstance(auth, TokenAuth) and auth.bearer and auth.location != "header":
        return "/authentication/bearer: bearer applies to location: header only"
    return None


def read(path: Path) -> tuple[Definition, Any]:
    """The definition in ``path`` and the plain document it came from."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DefinitionError(f"{path}: cannot be read ({error.__class__.__name__})") from None
    document = parse_text(text, str(path))
    return validate(document, str(path)), document


def schema_document() -> dict[str, Any]:
    """The JSON Schema of the format, as shipped in ``schemas/custom-source.schema.json``."""
    schema = Definition.model_json_schema(by_alias=True)
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    return schema


def schema_text() -> str:
    return json.dumps(schema_document(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # python -m ciohooks.sources.custom.definition: rewrite the shipped schema
    SCHEMA_PATH.write_text(schema_text(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
