"""Custom sources: a provider added with a definition file instead of a Python module.

A definition (YAML or JSON, format in ``definition.py`` and docs/CUSTOM-SOURCES.md) names a
family and a route, a verification preset (``presets.py``) and a JSONata mapping into semantic
events (``mapping.py``). Each becomes a ``CustomSource`` subclass that the catalogue lists like a
built-in module (``sources.catalog()``), so ingest, deliver (replay re-translates), ``serve``,
``translate``, ``send``, ``doctor`` and the template's outputs treat it alike.

Where definitions come from, read once per container (cold start):

- the definitions shipped with the product, ``sources/definitions/`` in this package (providers
  the project supports without code, e.g. MailerSend, Mailtrap; each with its guide, samples and
  tests like a module). A person edits ``<name>.yaml``; ``make definitions`` checks it against its
  samples and writes ``<name>.json``, which is what is read (the layer has no YAML parser; a test
  keeps the two equal). They behave like built-in modules (an unconfigured one answers 404), and a
  user's definition of the same name replaces one (to adjust a mapping before a release does).
  The catalogue lists them from their JSON alone (``shipped_index``: ~3 ms at cold start); one is
  built, with the definition model, only when a request names it (``shipped``);
- every ``*.json`` / ``*.yaml`` / ``*.yml`` file in the folders of setting ``CUSTOM_SOURCES_DIR``
  (``os.pathsep``-separated); by default ``/opt/custom-sources`` in Lambda (the layer: the
  Makefile ships the project's ``custom-sources/`` folder there, as JSON, after checking it) and
  ``custom-sources`` in the working directory elsewhere (``make run``);
- the SSM parameter named by setting ``CUSTOM_SOURCES_PARAMETER``: one definition, or a JSON
  array of them.

A definition that cannot be used still gets its route when its name and family can be read: a
``BrokenSource`` that refuses every request with the retry status (the provider retries once the
definition is fixed) and keeps anything replayed in the DLQ with the reason. One bad file never
takes the other sources down.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import Any, ClassVar

from ...config import SECRET_CACHE_SECONDS, Settings, bounded_parameters
from ...request import CREDENTIAL_HEADERS, WebhookRequest
from ..base import InvalidPayload, NotConfigured, Source, Translation

logger = logging.getLogger(__name__)

SUFFIXES = (".json", ".yaml", ".yml")
LAMBDA_DIR = "/opt/custom-sources"
LOCAL_DIR = "custom-sources"
SHIPPED_DIR = Path(__file__).resolve().parents[1] / "definitions"


class CustomSource(Source):
    """A source built from a definition. Subclasses are made by ``build``, one per definition."""

    definition: ClassVar[Any]  # definition.Definition
    origin: ClassVar[str] = ""  # the file (or SSM parameter) it came from
    title: ClassVar[str] = ""
    installed_by_definition: ClassVar[bool] = True
    _preset: ClassVar[Any]
    _mapping: ClassVar[Any]

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        from ...identity import IdentityRules

        identity = self.definition.identity
        prefix = self.definition.prefix
        keys = self.settings.get_list(f"{prefix}_USER_ID_KEYS")
        fallback_as = self.settings.get(f"{prefix}_EMAIL_AS") or self.settings.get(f"{prefix}_ID_AS") or identity.fallback_as
        if fallback_as not in ("userId", "anonymousId"):
            raise NotConfigured(f"{prefix}_EMAIL_AS must be userId or anonymousId")
        self.rules = IdentityRules(tuple(identity.user_id_keys if keys is None else keys), fallback_as)

    def authenticate(self, request: WebhookRequest) -> None:
        self._preset.verify(self, request)

    @classmethod
    def sign(cls, request: WebhookRequest, key: str) -> WebhookRequest:
        return cls._preset.sign(request, key)

    def translate(self, request: WebhookRequest) -> Translation:
        document = self.document(request)
        query = {k: v for k, v in _query(request.raw_query).items() if k not in self.secret_query_keys}
        headers = {k: v for k, v in request.headers.items() if k not in self.secret_headers and k not in CREDENTIAL_HEADERS}
        return self._mapping.translate(document, {"payload": document, "headers": headers, "query": query}, self.rules)

    def document(self, request: WebhookRequest) -> Any:
        """The request as the mapping reads it: parsed once, before any expression runs."""
        from .._translation import load_json

        kind = self.definition.body
        if kind == "json":
            return load_json(request.body)
        if kind == "form":
            try:
                return _query(request.body.decode("utf-8"))
            except UnicodeDecodeError:
                raise InvalidPayload("form body is not UTF-8") from None
        return {k: v for k, v in _query(request.raw_query).items() if k not in self.secret_query_keys}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "custom": True, "definition": self.origin, "preset": self.definition.authentication.preset}


class BrokenSource(Source):
    """The route of a definition that cannot be used: every request 503 (retry), replays kept."""

    reason: ClassVar[str] = ""
    origin: ClassVar[str] = ""
    title: ClassVar[str] = ""
    installed_by_definition: ClassVar[bool] = True

    def authenticate(self, request: WebhookRequest) -> None:
        raise NotConfigured(self.reason)

    def translate(self, request: WebhookRequest) -> Translation:
        raise InvalidPayload(self.reason)


def _query(text: str) -> dict[str, str]:
    from .._translation import query_dict

    return query_dict(text)


def build(definition: Any, origin: str, *, eager: bool = True, shipped: bool = False) -> type[CustomSource]:
    """The source class of one validated definition (expressions compiled here, once; with
    ``eager=False``, as at cold start, those the direct reader covers only when first needed).
    ``shipped``: one of the product's own definitions, set up like a built-in module (404 until
    configured) rather than installed by the deployment."""
    from .mapping import Mapping
    from .presets import preset_of

    preset = preset_of(definition.authentication)
    full_name = f"{definition.family}/{definition.name}"
    secret = preset.secret_name
    attributes = {
        "__module__": __name__,
        "__doc__": f"{definition.title} (custom source, {origin})",
        "family": definition.family,
        "name": definition.name,
        "docs_url": definition.docs_url,
        "methods": tuple(dict.fromkeys(definition.methods)),
        "secret_headers": preset.stripped_headers,
        "secret_query_keys": preset.stripped_query_keys,
        "secret_name": secret,
        "secret_names": (secret,) if secret else (),
        "mapped_types": {kind: rule.event for kind, rule in definition.mapping.items() if hasattr(rule, "event")},
        "ignored_types": {kind: rule.ignore for kind, rule in definition.mapping.items() if hasattr(rule, "ignore")},
        "definition": definition,
        "installed_by_definition": not shipped,
        "origin": origin,
        "title": definition.title,
        "_preset": preset,
        "_mapping": Mapping(definition, full_name, origin, eager=eager),
    }
    return type(_class_name(definition.name), (CustomSource,), attributes)


def _class_name(route: str) -> str:
    return "".join(part.capitalize() for part in route.split("-")) or "Custom"


def _broken(document: Any, origin: str, reason: str) -> type[BrokenSource] | None:
    if not isinstance(document, dict):
        return None
    name, family = document.get("name"), document.get("family")
    from .definition import FAMILY_SPEC

    if not isinstance(name, str) or family not in FAMILY_SPEC or not name.replace("-", "").isalnum():
        return None
    return type(_class_name(name), (BrokenSource,), {"__module__": __name__, "family": family, "name": name, "reason": reason, "origin": origin, "title": str(document.get("title") or name)})


def definition_dirs(settings: Settings) -> list[Path]:
    configured = settings.get("CUSTOM_SOURCES_DIR")
    if configured is not None:
        return [Path(p) for p in configured.split(os.pathsep) if p.strip()]
    return [Path(LAMBDA_DIR if "AWS_LAMBDA_FUNCTION_NAME" in os.environ else LOCAL_DIR)]


def definition_files(settings: Settings) -> list[Path]:
    found = []
    for folder in definition_dirs(settings):
        if folder.is_dir():
            found += sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES and p.is_file() and not p.name.startswith("."))
    return found


def shipped_files() -> list[Path]:
    """The product's own definitions: JSON in the layer (the build converts), YAML in the repository."""
    if not SHIPPED_DIR.is_dir():
        return []
    files: dict[str, Path] = {}
    for path in sorted(SHIPPED_DIR.iterdir()):
        if path.suffix in SUFFIXES and path.is_file() and not path.name.startswith(".") and (path.stem not in files or path.suffix == ".json"):
            files[path.stem] = path
    return sorted(files.values())


def _documents(settings: Settings) -> list[tuple[Any, str]]:
    """Every definition document of the deployment with its origin; an unreadable file is logged
    and left out. Without any (the common case) nothing more is imported: cold starts pay nothing."""
    files = definition_files(settings)
    parameter = settings.get("CUSTOM_SOURCES_PARAMETER")
    if not files and parameter is None:
        return []
    from .definition import DefinitionError, parse_text

    documents: list[tuple[Any, str]] = []
    for path in files:
        try:
            documents.append((parse_text(path.read_text(encoding="utf-8"), str(path)), str(path)))
        except (DefinitionError, OSError, UnicodeDecodeError) as error:
            logger.error("custom source %s is not loaded: %s", path, error)
    if parameter is not None:
        origin = f"ssm:{parameter}"
        try:
            parsed = parse_text(bounded_parameters("ssm").get_parameter(parameter, decrypt=True, max_age=SECRET_CACHE_SECONDS), origin)
        except DefinitionError as error:
            logger.error("custom sources of %s are not loaded: %s", origin, error)
        else:
            items = parsed if isinstance(parsed, list) else [parsed]
            documents += [(item, f"{origin}#{index}" if isinstance(parsed, list) else origin) for index, item in enumerate(items)]
    return documents


def load_all(settings: Settings, taken: set[str] = frozenset(), replaceable: set[str] = frozenset()) -> dict[str, type[Source]]:  # type: ignore[assignment]
    """``family/name`` -> source class of every definition of the deployment; ``taken`` holds the
    built-in modules' names, ``replaceable`` the shipped definitions' (a definition of the same
    ``family/name`` replaces one, with a log line)."""
    documents = _documents(settings)
    if not documents:
        return {}
    from .definition import DefinitionError, validate

    found: dict[str, type[Source]] = {}
    for document, origin in documents:
        try:
            klass: type[Source] | None = build(validate(document, origin), origin, eager=False)
        except DefinitionError as error:
            logger.error("custom source %s is refused: %s", origin, error)
            klass = _broken(document, origin, str(error))
        if klass is None:
            continue
        full = klass.full_name()
        if full in replaceable:
            logger.info("custom source %s replaces the shipped definition of %s", origin, full)
        # A route is unique across families too: bare names (`ciohooks send acme`, EnabledSources)
        # must stay unambiguous, and a built-in module keeps its name.
        routes = {name.split("/", 1)[1] for name in (*taken, *(r for r in replaceable if r != full), *found)}
        if klass.name in routes:
            logger.error("custom source %s is not loaded: the route %s already names a source", origin, klass.name)
            continue
        found[full] = klass
    return found


@functools.cache
def registry() -> dict[str, type[Source]]:
    """The deployment's custom sources in this container (``sources.catalog()`` lists them)."""
    from .. import builtin_catalog

    return load_all(Settings(), set(builtin_catalog()), set(shipped_index()))


@functools.cache
def shipped_index() -> dict[str, Path]:
    """``family/name`` -> file of each shipped definition, read as plain JSON: listing them costs a
    file read each, not the definition model (a source is built when a request asks for it)."""
    import json

    index = {}
    for path in shipped_files():
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            index[f"{document['family']}/{document['name']}"] = path
        except (OSError, ValueError, KeyError, TypeError) as error:  # a packaging fault: say which file
            logger.error("shipped definition %s is not listed: %s", path, error.__class__.__name__)
    return index


@functools.cache
def shipped(full_name: str) -> type[Source]:
    """The source class of one shipped definition, built on first use (a broken one fails closed)."""
    from .definition import DefinitionError, parse_text, validate

    path = shipped_index()[full_name]
    document: Any = None
    try:
        document = parse_text(path.read_text(encoding="utf-8"), str(path))
        return build(validate(document, str(path)), str(path), eager=False, shipped=True)
    except DefinitionError as error:
        logger.error("shipped definition %s is refused: %s", path, error)
        broken = _broken(document, str(path), str(error))
        if broken is None:
            raise
        return broken
