"""``ciohooks check-source FILE [SAMPLES...]``: everything that can be wrong with a definition,
found before it is deployed (``sam build`` runs it on every file of ``custom-sources/``).

1. the file is YAML or JSON and fits the definition schema (the typed model of ``definition.py``,
   which ``schemas/custom-source.schema.json`` is generated from);
2. every JSONata expression compiles;
3. every sample given translates: a ``.query`` file is the query string of a GET postback, any
   other file a request body, byte for byte; an item that fails is an error, a type neither
   mapped nor ignored is reported (it would be kept in the DLQ);
4. every event the samples produce is valid against the seed specs (``ciohooks/specs``), with
   the JSON pointer of the offending field.

Each problem is one line: ``<file>: <JSON pointer>: <why>``. No value from a sample is printed
(samples may hold real addresses), only pointers and what the spec expects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from ...config import Settings
from ...request import WebhookRequest
from . import definition as d

SPEC_STEMS = ("email-events", "mobile-app-events", "video-events", "customerio-actions")


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    expressions: int = 0
    samples: int = 0
    events: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def check(path: Path, samples: list[Path]) -> tuple[Report, Any]:
    """The report on ``path`` and its plain document (for the layer build), samples run."""
    from . import build

    report = Report()
    try:
        definition, document = d.read(path)
        source_class = build(definition, str(path))
    except d.DefinitionError as error:
        report.problems.append(str(error))
        return report, None
    report.expressions = len(definition.expressions())
    source = source_class(Settings({}))
    for sample in samples:
        report.samples += 1
        _run_sample(source, sample, report)
    return report, document


def _run_sample(source: Any, sample: Path, report: Report) -> None:
    from ...ingest import UntranslatableError, translate

    try:
        raw = sample.read_bytes()
    except OSError as error:
        report.problems.append(f"{sample}: cannot be read ({error.__class__.__name__})")
        return
    if sample.suffix == ".query":
        request = WebhookRequest("GET", f"/{source.name}", b"", {}, raw.decode("utf-8").strip())
    else:
        request = WebhookRequest("POST", f"/{source.name}", raw, {"content-type": "application/json"})
    try:
        translation = translate(source, request)
    except UntranslatableError as error:
        report.problems.append(f"{sample}: not translated: {error.reason}")
        return
    report.problems += [f"{sample}: {reason}" for reason in translation.failed]
    report.notes += [f"{sample}: type {kind!r} is neither mapped nor ignored: kept in the DLQ as unknown" for kind in sorted(translation.unknown)]
    for index, event in enumerate(translation.events):
        report.events += 1
        body = event.to_cio()
        report.problems += [f"{sample}: event {index} ({body.get('event')}): {problem}" for problem in spec_problems(body)]


@cache
def _spec(stem: str) -> dict[str, Any]:
    from importlib.resources import files

    return json.loads(files("ciohooks").joinpath("specs", f"{stem}.openapi.json").read_text("utf-8"))


@cache
def _components() -> dict[str, tuple[str, str]]:
    """Event name -> (spec stem, component name), read from the specs' ``event`` enums."""
    found = {}
    for stem in SPEC_STEMS:
        for component, schema in _spec(stem)["components"]["schemas"].items():
            for branch in schema.get("oneOf", [schema]):
                for name in branch.get("properties", {}).get("event", {}).get("enum", []):
                    found[name] = (stem, component)
    return found


@cache
def _validator(stem: str, component: str) -> Any:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    registry = Registry().with_resources((f"urn:ciohooks:spec:{s}", Resource(contents=_spec(s), specification=DRAFT202012)) for s in SPEC_STEMS)
    return Draft202012Validator({"$ref": f"urn:ciohooks:spec:{stem}#/components/schemas/{component}"}, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)


def spec_problems(body: dict[str, Any]) -> list[str]:
    """Why ``body`` is not a valid event of the seed specs: ``<pointer>: <expectation>`` lines."""
    try:  # a dev dependency: check-source runs where the project is built, not in Lambda
        from jsonschema.exceptions import best_match
    except ImportError:  # pragma: no cover
        return ["the spec check needs jsonschema (pip install -r requirements-dev.txt)"]

    found = _components().get(body.get("event"))  # type: ignore[arg-type]
    if found is None:
        return ["/event: not one of the semantic events of the seed specs"]
    errors = list(_validator(*found).iter_errors(body))
    if not errors:
        return []
    error = best_match(errors)
    # In a oneOf (known or anonymous user), the deepest error of the branch that fits best.
    # A branch missing its identity member (userId in the anonymous case) is the wrong branch: its
    # "required" error at the root says nothing about the event; the other branch's errors do.
    while error.context:
        telling = [e for e in error.context if not (e.validator == "required" and not e.absolute_path and {"userId", "anonymousId"} & set(e.validator_value) - set(body))]
        error = best_match(telling or error.context)
    pointer = "/" + "/".join(d.escape(str(p)) for p in error.absolute_path)
    return [f"{pointer}: does not satisfy {error.validator} {json.dumps(error.validator_value)[:120]}"]


def main(file: str, samples: list[str], emit_json: str | None = None) -> int:
    """The command: print the report, write the plain JSON definition for the layer, exit 0 or 1."""
    import sys

    path = Path(file)
    report, document = check(path, [Path(s) for s in samples])
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    if not report.ok:
        for problem in report.problems:
            print(problem, file=sys.stderr)
        return 1
    if emit_json:
        target = Path(emit_json) / f"{path.stem}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{path}: ok ({report.expressions} expressions compiled; {report.samples} sample(s) -> {report.events} event(s), valid against the seed specs)")
    return 0
