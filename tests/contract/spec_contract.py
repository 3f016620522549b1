"""The seed specs, read as the contract: validators and what each event declares.

Everything here is derived from the OpenAPI documents shipped in ``ciohooks/specs`` (the copy the
package installs), never from the models, so the tests compare two independent descriptions.

Validation uses JSON Schema Draft 2020-12 (the dialect of OpenAPI 3.1) with ``date-time`` format
checking. ``customerio-actions`` is an OpenAPI 3.0 document; ``test_spec_coverage`` checks it uses
no 3.0-only keyword whose meaning differs in 2020-12, so the same validator is exact for it.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any, Iterator

from jsonschema import Draft202012Validator
from jsonschema.validators import extend
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_STEMS = ("email-events", "mobile-app-events", "video-events", "customerio-actions")
REQUEST_BODY = "#/paths/~1track/post/requestBody/content/application~1json/schema"
FORMAT_CHECKER = Draft202012Validator.FORMAT_CHECKER
if "date-time" not in FORMAT_CHECKER.checkers:  # pragma: no cover - environment guard
    raise RuntimeError("jsonschema has no date-time format checker: install rfc3339-validator")

Path = tuple[str, ...]

# JSON Schema counts 12.0 as an integer; the product standard is stricter for what we emit: an
# integer member is a JSON integer (Python int, never a float, never a bool). Raw payloads are judged
# by the faithful validator (what the spec really rejects), emitted bodies by this one too.
EmittedValidator = extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool)
    ),
)


@cache
def spec_document(stem: str) -> dict[str, Any]:
    return json.loads(files("ciohooks").joinpath("specs", f"{stem}.openapi.json").read_text("utf-8"))


def _uri(stem: str) -> str:
    return f"urn:ciohooks:spec:{stem}"


@cache
def _registry() -> Registry:
    registry: Registry = Registry()
    for stem in SPEC_STEMS:
        registry = registry.with_resource(_uri(stem), Resource(contents=spec_document(stem), specification=DRAFT202012))
    return registry


@cache
def validator(stem: str, pointer: str) -> Draft202012Validator:
    """A validator for the schema at ``pointer`` (a ``#/...`` JSON pointer) of one spec."""
    return Draft202012Validator({"$ref": _uri(stem) + pointer}, registry=_registry(), format_checker=FORMAT_CHECKER)


@cache
def emitted_validator(stem: str, pointer: str) -> Draft202012Validator:
    """Like ``validator``, with integers that must be JSON integers (see ``EmittedValidator``)."""
    return EmittedValidator({"$ref": _uri(stem) + pointer}, registry=_registry(), format_checker=FORMAT_CHECKER)


def resolve(stem: str, schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/"), ref
        node: Any = spec_document(stem)
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        schema = node
    return schema


@dataclass(frozen=True)
class ObjectShape:
    """An object schema flattened through ``$ref`` and ``allOf``: what it types and requires."""

    declared: dict[str, dict[str, Any]]
    required: frozenset[str]


def object_shape(stem: str, schema: dict[str, Any]) -> ObjectShape:
    schema = resolve(stem, schema)
    declared: dict[str, dict[str, Any]] = {}
    required: set[str] = set(schema.get("required", ()))
    for name, sub in schema.get("properties", {}).items():
        declared[name] = resolve(stem, sub)
    for part in schema.get("allOf", ()):
        shape = object_shape(stem, part)
        declared.update(shape.declared)
        required |= shape.required
    return ObjectShape(declared, frozenset(required))


@dataclass(frozen=True)
class EventContract:
    name: str
    stem: str
    component: str
    branches: tuple[dict[str, Any], ...]  # the Known/Anonymous oneOf, or the one schema

    @property
    def pointer(self) -> str:
        return f"#/components/schemas/{self.component}"

    @property
    def validator(self) -> Draft202012Validator:
        return validator(self.stem, self.pointer)

    @property
    def emitted(self) -> Draft202012Validator:
        """The component, judging a body we emit (integers must be JSON integers)."""
        return emitted_validator(self.stem, self.pointer)

    def branch_validator(self, body: dict[str, Any]) -> Draft202012Validator:
        """The validator of the one branch ``body`` can match given its identity: same verdict as
        the component (the other branch lacks its required id), at half the cost."""
        if len(self.branches) == 1:
            return self.validator
        ids = [k for k in ("userId", "anonymousId") if k in body]
        assert len(ids) == 1, "only for bodies carrying exactly one identity"
        index = next(i for i, b in enumerate(self.branches) if ids[0] in b["required"])
        return validator(self.stem, f"{self.pointer}/oneOf/{index}")

    @property
    def request_body(self) -> Draft202012Validator:
        return validator(self.stem, REQUEST_BODY)

    @property
    def identity(self) -> str:
        """The identity rule the spec encodes, in the vocabulary of ``SemanticEvent.identity``."""
        required = [set(b["required"]) & {"userId", "anonymousId"} for b in self.branches]
        if sorted(map(sorted, required)) == [["anonymousId"], ["userId"]]:
            return "either"
        assert len(self.branches) == 1, self.name
        return {("userId",): "user", ("anonymousId",): "anonymous", (): "none"}[tuple(sorted(required[0]))]

    @property
    def top_level(self) -> ObjectShape:
        """The union over branches of the top-level members (identity differs between branches)."""
        declared: dict[str, dict[str, Any]] = {}
        required = set.intersection(*(set(b["required"]) for b in self.branches))
        for b in self.branches:
            declared.update(b["properties"])
        return ObjectShape(declared, frozenset(required))

    def member(self, *path: str) -> ObjectShape | None:
        """The flattened object schema at ``path`` (e.g. ``("context", "device")``), or None."""
        schema: dict[str, Any] | None = self.branches[0]
        for name in path:
            assert schema is not None
            schema = object_shape(self.stem, schema).declared.get(name)
            if schema is None:
                return None
        assert schema is not None
        return object_shape(self.stem, schema)

    def typed_leaves(self) -> Iterator[tuple[Path, dict[str, Any]]]:
        """Every member the spec types inside ``properties`` and ``context`` (one level of nesting)."""
        for root in ("properties", "context"):
            shape = self.member(root)
            if shape is None:
                continue
            for name, schema in shape.declared.items():
                nested = object_shape(self.stem, schema) if schema.get("type") == "object" else None
                if nested is not None and nested.declared:
                    for leaf, leaf_schema in nested.declared.items():
                        yield (root, name, leaf), leaf_schema
                else:
                    yield (root, name), schema

    def required_paths(self) -> Iterator[Path]:
        """Every path the spec requires, identity aside (``properties``, ``properties.email_id``...)."""

        def walk(prefix: Path, shape: ObjectShape) -> Iterator[Path]:
            for name in sorted(shape.required):
                yield (*prefix, name)
                sub = self.member(*prefix, name) if shape.declared.get(name, {}).get("type") == "object" else None
                if sub is not None:
                    yield from walk((*prefix, name), sub)

        top = self.top_level
        for name in sorted(top.required - {"userId", "anonymousId", "type", "event"}):
            yield (name,)
            sub = self.member(name)
            if sub is not None:
                yield from walk((name,), sub)


@cache
def contracts() -> dict[str, EventContract]:
    """Event name -> its contract, found through each spec's ``/track`` requestBody ``oneOf``."""
    found: dict[str, EventContract] = {}
    for stem in SPEC_STEMS:
        body = resolve(stem, {"$ref": REQUEST_BODY})
        for ref in body["oneOf"]:
            component = ref["$ref"].rsplit("/", 1)[1]
            schema = resolve(stem, ref)
            branches = tuple(schema.get("oneOf", [schema]))
            names = {n for b in branches for n in b["properties"]["event"]["enum"]}
            assert len(names) == 1, (stem, component, names)
            (name,) = names
            assert name not in found, f"{name} defined twice"
            found[name] = EventContract(name, stem, component, branches)
    return found


def errors(v: Draft202012Validator, instance: Any) -> list[str]:
    return sorted(f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in v.iter_errors(instance))


def matching_request_body_branches(contract: EventContract, body: dict[str, Any]) -> list[str]:
    """The components of the operation's ``oneOf`` that ``body`` validates against."""
    refs = resolve(contract.stem, {"$ref": REQUEST_BODY})["oneOf"]
    return [r["$ref"].rsplit("/", 1)[1] for r in refs if validator(contract.stem, r["$ref"]).is_valid(body)]


def matching_identity_branches(contract: EventContract, body: dict[str, Any]) -> list[str]:
    return [
        b.get("title", "?")
        for i, b in enumerate(contract.branches)
        if validator(contract.stem, f"{contract.pointer}/oneOf/{i}" if len(contract.branches) > 1 else contract.pointer).is_valid(body)
    ]


def get_path(obj: dict[str, Any], path: Path) -> Any:
    for key in path:
        obj = obj[key]
    return obj


def with_path(obj: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    node = out
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return out


def without_path(obj: dict[str, Any], path: Path) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    node = out
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return out


def model_input(body: dict[str, Any]) -> dict[str, Any]:
    """A track body as a model takes it: ``type`` and ``event`` come from the model class."""
    return {k: copy.deepcopy(v) for k, v in body.items() if k not in ("type", "event")}
