"""Golden outputs: for every sample in events/samples, the exact Customer.io calls it becomes.

    events/samples/<family>/<source>/<name>.golden.jsonl   beside <name>.<ext>

Each line is what ``ciohooks translate`` prints for the sample (one call per semantic event,
messageIds included), in the order the source emits them. When part of the request does not
become events, one more line says what and why, so moving a type from mapped to ignored (or a
request into the DLQ) shows in the diff too:

    {"not_sent": {"ignored": {"<type>": n}, "unknown": {"<type>": n}, "failed": ["<reason>"]}}
    {"untranslatable": "<reason>"}      the whole request would go to the DLQ

The request is the one events/generate.py builds (fixed received time, the sample's .meta.json),
translated by a source built with empty settings (the defaults; video sources use the embedded
session store, a fresh one per sample). tests/unit/test_golden.py compares every file byte for
byte. After an intended change of mapping or id recipe, rewrite them and say why in the commit:

    make golden        (= python -m events.golden)
    python -m events.golden --check    exit 1 when a file is missing, stale or orphaned
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ciohooks import sources
from ciohooks.config import Settings
from ciohooks.ingest import UntranslatableError, translate
from ciohooks.samples import call_line, not_sent_line
from events.generate import SAMPLES, sample_files, sample_request

SUFFIX = ".golden.jsonl"


def golden_path(sample: Path) -> Path:
    return sample.with_name(sample.stem + SUFFIX)


def golden_text(source: type[sources.Source], sample: Path) -> str:
    """The golden file's content for ``sample``: the calls, then what was not sent (if anything)."""
    try:
        translation = translate(source(Settings({})), sample_request(source, sample))
    except UntranslatableError as error:
        return _line({"untranslatable": error.reason})
    lines = [call_line(event) for event in translation.events]
    if (not_sent := not_sent_line(translation)) is not None:
        lines.append(not_sent)
    return "".join(line + "\n" for line in lines)


def _line(value: object) -> str:
    return json.dumps(value, ensure_ascii=False) + "\n"


def planned() -> dict[Path, str]:
    """Every golden file the samples call for, with its content."""
    out: dict[Path, str] = {}
    for full_name in sources.names():
        source = sources.load(full_name)
        for sample in sample_files(SAMPLES / full_name):
            out[golden_path(sample)] = golden_text(source, sample)
    return out


def orphans(planned_paths: set[Path]) -> list[Path]:
    """Golden files whose sample is gone."""
    return sorted(p for p in SAMPLES.rglob("*" + SUFFIX) if p not in planned_paths)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a golden file is missing, differs or has no sample")
    args = parser.parse_args(argv)
    plan = planned()
    stale = [p for p, text in plan.items() if not p.exists() or p.read_text() != text]
    if args.check:
        bad = stale + orphans(set(plan))
        for path in bad:
            print(f"stale golden file (run `make golden`): {path.relative_to(SAMPLES)}", file=sys.stderr)
        return 1 if bad else 0
    for path in stale:
        path.write_text(plan[path])
        print(f"wrote {path.relative_to(SAMPLES)}")
    for path in orphans(set(plan)):
        path.unlink()
        print(f"removed {path.relative_to(SAMPLES)} (its sample is gone)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
