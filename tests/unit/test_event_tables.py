"""Every source guide's event table is what the code does: one table, derived from the code, per source.

A guide (docs/sources/*.md) holds, for a source, a table between markers::

    <!-- event-table: email/sendgrid -->
    | Provider event | Becomes | Notes |
    |---|---|---|
    | `delivered` | Email Delivered | |
    | `processed` | ignored: <the reason in ignored_types> | |
    | `some_type` | unknown, kept: <why it is deliberately not mapped yet> | |
    <!-- /event-table -->

The first two columns are checked against the code: a mapped type and its Customer.io event come
from the source module's ``EVENTS`` (provider type -> semantic event class, or its name), an ignored
type and its reason from ``Source.ignored_types``; an "unknown, kept" row names a type the provider
documents that is deliberately neither (it stays unknown and goes to the DLQ). Notes are free text.
The table must list every mapped and ignored type, no more; on a mismatch the failure shows the
rows the code calls for.

Every source is in the catalogue parameter: a source whose guide has no table yet is listed in
``NO_TABLE_YET`` (it must then have none; add the table and remove the name, in the same change).
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest

from ciohooks import sources
from tests.support.sources import declared

GUIDES = Path(__file__).resolve().parents[2] / "docs" / "sources"
TABLE = re.compile(r"<!-- event-table: (?P<name>[\w/-]+) -->\n(?P<body>.*?)<!-- /event-table -->", re.S)
ROW = re.compile(r"^\|\s*`(?P<type>[^`]+)`\s*\|(?P<becomes>[^|]*)\|")
IGNORED, UNKNOWN = "ignored: ", "unknown, kept: "

# Sources whose guides do not have the table yet (the mobile and video helpers add theirs).
NO_TABLE_YET = frozenset(
    {
        "mobile/adjust", "mobile/appsflyer", "mobile/auth0", "mobile/backend", "mobile/branch", "mobile/clerk",
        "mobile/customerio-push", "mobile/expo", "mobile/firebase-auth", "mobile/sentry",
        "video/bitmovin", "video/brightcove", "video/html5", "video/jwplayer", "video/mux", "video/plyr", "video/shaka",
        "video/videojs", "video/vimeo", "video/wistia", "video/youtube",
    }
)  # fmt: skip


def tables() -> dict[str, str]:
    """Every event table in the guides, by source full name."""
    found: dict[str, str] = {}
    for guide in sorted(GUIDES.glob("*.md")):
        for match in TABLE.finditer(guide.read_text()):
            assert match["name"] not in found, f"two event tables for {match['name']}"
            found[match["name"]] = match["body"]
    return found


def mapped_types(source: type[sources.Source]) -> dict[str, str]:
    """Provider type -> Customer.io event name, from the source module's ``EVENTS``."""
    events = getattr(importlib.import_module(source.__module__), "EVENTS", {})
    return {kind: getattr(event, "name", event) for kind, event in events.items()}


def expected_rows(source: type[sources.Source]) -> dict[str, str]:
    """Provider type -> the "Becomes" cell the code calls for."""
    rows = {kind: name for kind, name in mapped_types(source).items()}
    rows.update({kind: IGNORED + reason for kind, reason in source.ignored_types.items()})
    return rows


def render(source: type[sources.Source]) -> str:
    """The table rows the code calls for (what to paste into the guide, then add notes)."""
    lines = ["| Provider event | Becomes | Notes |", "|---|---|---|"]
    lines += [f"| `{kind}` | {becomes} | |" for kind, becomes in expected_rows(source).items()]
    return "\n".join(lines)


def guide_rows(body: str) -> dict[str, str]:
    rows: dict[str, str] = {}
    for line in body.splitlines():
        if (match := ROW.match(line)) is not None:
            assert match["type"] not in rows, f"`{match['type']}` has two rows"
            rows[match["type"]] = match["becomes"].strip()
    return rows


@pytest.mark.parametrize("full_name", sources.names())
def test_the_guide_table_is_what_the_code_does(full_name: str) -> None:
    source = sources.load(full_name)
    body = tables().get(full_name)
    if full_name in NO_TABLE_YET:
        assert body is None, f"{full_name} has an event table now: remove it from NO_TABLE_YET"
        return
    assert body is not None, f"no event table for {full_name} in docs/sources/*.md; the code calls for:\n{render(source)}"
    rows = guide_rows(body)
    unknown = {kind: becomes for kind, becomes in rows.items() if becomes.startswith(UNKNOWN)}
    checked = {kind: becomes for kind, becomes in rows.items() if kind not in unknown}
    assert checked == expected_rows(source), f"the event table of {full_name} drifted from the code, which calls for:\n{render(source)}"
    for kind, becomes in unknown.items():
        assert len(becomes) > len(UNKNOWN), f"`{kind}`: say why it stays unknown"


def test_every_email_source_has_a_table() -> None:
    assert not {name for name in sources.names() if name.startswith("email/")} & NO_TABLE_YET


@pytest.mark.parametrize("full_name", [name for name in sources.names() if name.startswith("email/")])
def test_everything_an_email_source_ignores_in_its_samples_is_declared(full_name: str) -> None:
    # The golden files list what each sample left out; ingest moves an undeclared ignored key to unknown.
    source = sources.load(full_name)
    for golden in sorted((GUIDES.parents[1] / "events" / "samples" / full_name).glob("*.golden.jsonl")):
        for line in golden.read_text().splitlines():
            for key in json.loads(line).get("not_sent", {}).get("ignored", {}):
                assert declared(key, dict(source.ignored_types)), f"{golden.name}: ignored {key!r} is not in {source.__name__}.ignored_types"


def test_markers_name_real_sources() -> None:
    assert set(tables()) <= set(sources.names())
