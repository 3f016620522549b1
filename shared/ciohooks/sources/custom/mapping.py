"""JSONata mapping of a custom source: compiled once per cold start, run per request.

Every expression of a definition is compiled when the source class is built (a syntax error is a
``DefinitionError`` naming the field's JSON pointer). Expressions that are plain paths
(``data.email.message.id``, ``$``) or literals (``"signup"``) -- most of a mapping -- are read
straight from the item instead of through the JSONata evaluator, with the same result: a path
that meets an array, or ends on one, is handed to JSONata, whose array semantics apply
(tests/unit/test_custom_sources.py compares both on the same documents). That keeps a custom
source within 3x of a hand-written one (``make bench``).

Evaluation: ``$`` is one provider item; ``$payload`` is the whole parsed request (a batch's
envelope), ``$headers`` the request's headers (lower-case names, credentials removed) and
``$query`` its query parameters (credentials removed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from pydantic import ValidationError

from ... import ids
from ...identity import IdentityRules, NoIdentity
from ...semantic import SemanticEvent
from .._translation import EventBatch, not_mapped, timestamp_of
from ..base import InvalidPayload, Translation
from . import definition as d

PATH = re.compile(r"^(?:\$\.)?([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))*$")
STEP = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
RESERVED = frozenset({"and", "or", "in", "true", "false", "null"})
STRING = re.compile(r"""^(?:"([^"\\]*)"|'([^'\\]*)')$""")
OPERAND = r"""(?:'[^'\\?:]*'|"[^"\\?:]*"|[$A-Za-z_][A-Za-z0-9_.$]*)"""
TERNARY = re.compile(rf"^\s*({OPERAND})\s*\?\s*({OPERAND})\s*:\s*({OPERAND})\s*$")
CALL = re.compile(r"""^\$(string|lowercase|uppercase|substringBefore|substringAfter)\(\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(?:,\s*('[^'\\]*'|"[^"\\]*")\s*)?\)$""")
MISSING = object()


class Expression:
    """One JSONata expression, with a direct reader when it has one of the common shapes.

    ``eager``: compile with JSONata now (``check-source`` and tests: every syntax error is found
    before deploy). At cold start (``eager=False``) an expression the direct reader covers is
    compiled only if an input ever needs JSONata's own semantics, so a mapping of plain shapes
    never imports the JSONata library (about 0.1 s of cold start)."""

    def __init__(self, text: str, pointer: str, origin: str, *, eager: bool = True) -> None:
        self.text, self.pointer, self.origin = text.strip(), pointer, origin
        self._compiled: Any = None
        self._error: type[Exception] = Exception
        self._fast = _fast_reader(self.text)
        if eager or self._fast is None:
            self._compile()

    def _compile(self) -> None:
        import jsonata
        from jsonata.jexception import JException

        try:
            compiled = jsonata.Jsonata(self.text)
        except JException as error:
            raise d.DefinitionError(f"{self.origin}: {self.pointer}: JSONata does not compile ({error.error}: {error.get_message() if hasattr(error, 'get_message') else error})") from None
        except Exception as error:  # the parser raises plain errors on some inputs
            raise d.DefinitionError(f"{self.origin}: {self.pointer}: JSONata does not compile ({error.__class__.__name__})") from None
        compiled.set_validate_input(False)  # the input is parsed JSON: nothing to validate
        self._compiled, self._error = compiled, JException

    def __call__(self, item: Any, bindings: dict[str, Any]) -> Any:
        if self._fast is not None:
            value = self._fast(item)
            if value is not MISSING:
                return value
        return self.evaluate(item, bindings)

    def evaluate(self, item: Any, bindings: dict[str, Any]) -> Any:
        """Through the JSONata evaluator, always (the reference the direct reader is tested against)."""
        if self._compiled is None:
            try:
                self._compile()
            except d.DefinitionError:
                raise InvalidPayload(f"{self.pointer}: JSONata does not compile") from None
        try:
            return _plain(self._compiled.evaluate(item, bindings))
        except self._error as error:  # the code only: JSONata's messages quote values
            raise InvalidPayload(f"{self.pointer}: JSONata error {getattr(error, 'error', '')}") from None
        except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as error:
            raise InvalidPayload(f"{self.pointer}: JSONata error ({error.__class__.__name__})") from None


def _fast_reader(text: str) -> Callable[[Any], Any] | None:
    """A direct reader for the common shapes, or None (JSONata runs):

    - ``$``, a literal string, a path of plain names (``data.email.message.id``);
    - ``$string(p)``, ``$lowercase(p)``, ``$uppercase(p)``, ``$substringBefore(p, 'x')``,
      ``$substringAfter(p, 'x')`` of such a path, when the path gives a string;
    - ``a ? b : c`` of such operands, when the condition is a string, a boolean or absent.

    A reader returns ``MISSING`` wherever JSONata's own rules would differ from the plain reading
    (an array on the way, a number to format, an object to cast): then JSONata runs."""
    if (ternary := TERNARY.match(text)) is not None:
        parts = [_fast_reader(part.strip()) for part in ternary.groups()]
        if any(part is None for part in parts):
            return None
        condition, then, otherwise = parts  # type: ignore[misc]

        def choose(item: Any) -> Any:
            test = condition(item)
            if test is None or test is False or test == "":
                return otherwise(item)
            if test is True or isinstance(test, str):
                return then(item)
            return MISSING

        return choose
    if (call := CALL.match(text)) is not None:
        function, argument, literal = call.group(1), call.group(2), call.group(3)
        read_argument = _fast_path(argument)
        apply = _STRING_FUNCTIONS.get((function, literal is not None))
        if read_argument is None or apply is None:
            return None
        chars = literal[1:-1] if literal is not None else ""

        def call_(item: Any) -> Any:
            value = read_argument(item)
            if value is None:
                return None  # undefined in, undefined out
            return apply(value, chars) if isinstance(value, str) else MISSING

        return call_
    if text == "$":
        return lambda item: item
    if literal := STRING.match(text):
        value = literal.group(1) if literal.group(1) is not None else literal.group(2)
        return lambda item: value
    return _fast_path(text)


def _fast_path(text: str) -> Callable[[Any], Any] | None:
    if not PATH.match(text):
        return None
    steps = tuple(STEP.findall(text.removeprefix("$.")))
    if steps[0] in RESERVED:
        return None

    def read(item: Any) -> Any:
        node = item
        for step in steps:
            if isinstance(node, dict):
                node = node.get(step)
                if node is None:
                    return None
            elif isinstance(node, list):
                return MISSING
            else:
                return None
        return MISSING if isinstance(node, list) else node

    return read


def _before(value: str, chars: str) -> str:
    return value.split(chars, 1)[0] if chars else ""


def _after(value: str, chars: str) -> str:
    return value.split(chars, 1)[1] if chars in value else value


# (function, has a second literal argument) -> what it does to a string
_STRING_FUNCTIONS: dict[tuple[str, bool], Callable[[str, str], str]] = {
    ("string", False): lambda value, _: value,
    ("lowercase", False): lambda value, _: value.lower(),
    ("uppercase", False): lambda value, _: value.upper(),
    ("substringBefore", True): _before,
    ("substringAfter", True): _after,
}


def _plain(value: Any) -> Any:
    """JSONata's result as plain JSON values (its sequences are list subclasses; functions are not data)."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if callable(value):
        return None
    return value


@dataclass(frozen=True)
class MappedEvent:
    model: type[SemanticEvent]
    timestamp: Expression | None
    properties: tuple[tuple[str, Expression], ...]
    context: Any  # nested dict whose leaves are Expressions


class Mapping:
    """A definition's mapping, compiled: ``translate`` turns one request's document into events."""

    def __init__(self, definition: d.Definition, full_name: str, origin: str, *, eager: bool = True) -> None:
        from ...semantic import ALL_EVENTS

        self.definition, self.full_name = definition, full_name

        def compile_(pointer: str, text: str | None) -> Expression | None:
            return None if text is None else Expression(text, pointer, origin, eager=eager)

        self.events = compile_("/events", definition.events)
        self.type = compile_("/type", definition.type)
        self.id = compile_("/id", definition.id)
        self.timestamp = compile_("/timestamp", definition.timestamp)
        self.metadata = compile_("/identity/metadata", definition.identity.metadata)
        self.fallback = compile_("/identity/fallback", definition.identity.fallback)
        self.mapped: dict[str, MappedEvent] = {}
        self.ignored: dict[str, str] = {}
        for kind, rule in definition.mapping.items():
            base = f"/mapping/{d.escape(kind)}"
            if isinstance(rule, d.IgnoredType):
                self.ignored[kind] = rule.ignore
                continue
            self.mapped[kind] = MappedEvent(
                model=ALL_EVENTS[rule.event],
                timestamp=compile_(f"{base}/timestamp", rule.timestamp),
                properties=tuple((name, compile_(f"{base}/properties/{d.escape(name)}", text)) for name, text in rule.properties.items()),  # type: ignore[misc]
                context=_compile_tree(rule.context, f"{base}/context", compile_),
            )

    def expressions(self) -> int:
        return len(self.definition.expressions())

    def translate(self, document: Any, bindings: dict[str, Any], rules: IdentityRules) -> Translation:
        translation = Translation()
        assert self.events is not None and self.type is not None
        items = self.events(document, bindings)
        if items is None:
            return translation
        # Validated per event type at the end (the plain mirrors), the model's verdict as pointers.
        with EventBatch(translation, describe_error=_pointers) as batch:
            for index, item in enumerate(items if isinstance(items, list) else [items]):
                with translation.item(f"event {index}"):
                    if not isinstance(item, dict):
                        raise InvalidPayload(f"event {index} is a JSON {type(item).__name__}, not an object")
                    kind = self.type(item, bindings)
                    if isinstance(kind, (int, float)) and not isinstance(kind, bool):
                        kind = str(kind)
                    if not isinstance(kind, str) or not kind:
                        raise InvalidPayload(f"event {index} has no event type (/type gives none)")
                    if kind not in self.mapped:
                        not_mapped(translation, kind, self.ignored)
                    else:
                        rule, where = self.mapped[kind], f"event {index} ({kind[:64]})"
                        batch.add(rule.model, self._fields(rule, item, bindings, rules, where), where)
        return translation

    def _fields(self, rule: MappedEvent, item: dict[str, Any], bindings: dict[str, Any], rules: IdentityRules, where: str) -> dict[str, Any]:
        """What ``rule.model`` validates for ``item`` (``EventBatch``); ``InvalidPayload`` naming ``where``."""
        try:
            fields: dict[str, Any] = {**self._identity(item, bindings, rules), "messageId": self._message_id(item, bindings)}
            when = (rule.timestamp or self.timestamp)
            if when is not None and (stamp := when(item, bindings)) is not None:
                fields["timestamp"] = timestamp_of(stamp, when.pointer)
            properties = {name: value for name, expression in rule.properties if (value := expression(item, bindings)) is not None}
            if properties or "properties" in rule.model.model_fields and rule.model.model_fields["properties"].is_required():
                fields["properties"] = properties
            if context := _evaluate_tree(rule.context, item, bindings):
                fields["context"] = context
        except (InvalidPayload, NoIdentity) as error:
            raise InvalidPayload(f"{where}: {error}") from None
        return fields

    def _identity(self, item: dict[str, Any], bindings: dict[str, Any], rules: IdentityRules) -> dict[str, str]:
        metadata = self.metadata(item, bindings) if self.metadata is not None else None
        assert self.fallback is not None
        fallback = self.fallback(item, bindings)
        if isinstance(fallback, (int, float)) and not isinstance(fallback, bool):
            fallback = str(fallback)
        return rules.resolve(metadata if isinstance(metadata, dict) else {}, fallback if isinstance(fallback, str) and fallback.strip() else None)

    def _message_id(self, item: dict[str, Any], bindings: dict[str, Any]) -> str:
        """UUIDv5 of the source and the provider's event id, or of the item's canonical content."""
        if self.id is not None:
            value = self.id(item, bindings)
            if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
                return ids.message_id(self.full_name, str(value))
        return ids.message_id_of_content(self.full_name, item)


def _pointers(error: ValidationError) -> str:
    """A model's verdict as JSON pointers and error kinds (pydantic's own messages quote values)."""
    found = dict.fromkeys(f"/{'/'.join(d.escape(str(p)) for p in e['loc'])}: {e['type']}" for e in error.errors(include_input=False, include_url=False))
    return "invalid " + ", ".join(found)


def _compile_tree(tree: Any, base: str, compile_: Callable[[str, str], Any]) -> Any:
    return {key: _compile_tree(value, f"{base}/{d.escape(key)}", compile_) if isinstance(value, dict) else compile_(f"{base}/{d.escape(key)}", value) for key, value in tree.items()}


def _evaluate_tree(tree: dict[str, Any], item: Any, bindings: dict[str, Any]) -> dict[str, Any]:
    """The tree's values, without what was not sent and without objects left empty."""
    out = {}
    for key, node in tree.items():
        value = _evaluate_tree(node, item, bindings) if isinstance(node, dict) else node(item, bindings)
        if value is not None and value != {}:
            out[key] = value
    return out

