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
from ``Source.mapped_types``, an ignored type and its reason (word for word) from
``Source.ignored_types``; an "unknown, kept" row names a type the provider documents that is
deliberately neither (it stays unknown and goes to the DLQ). Notes are free text. The table must
list every mapped and ignored type, no more; on a mismatch the failure shows the rows the code
calls for.

Every built-in source is in the catalogue parameter but the video players (see ``VIDEO_PLAYERS``).
A custom source has no guide: its definition's ``mapping`` is its table (``mapped_types``/
``ignored_types`` are derived from it).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ciohooks import semantic, sources
from tests.support.sources import declared

GUIDES = Path(__file__).resolve().parents[2] / "docs" / "sources"
TABLE = re.compile(r"<!-- event-table: (?P<name>[\w/-]+) -->\n(?P<body>.*?)<!-- /event-table -->", re.S)
ROW = re.compile(r"^\|\s*`(?P<type>[^`]+)`\s*\|(?P<becomes>[^|]*)\|")
IGNORED, UNKNOWN = "ignored: ", "unknown, kept: "
FAMILY_SPEC = {"email": "email-events", "mobile": "mobile-app-events", "video": "video-events"}

# The video players are not in this table format: a player's native types feed its playback state
# machine (its ``mapped_types`` is the set of native types it reads, not type -> event), so
# docs/sources/video.md lists them per player, held to the code by test_video_translation.py.
VIDEO_PLAYERS = frozenset(name for name in sources.builtin_catalog() if name.startswith("video/"))
BUILT_INS = [name for name in sorted(sources.builtin_catalog()) if name not in VIDEO_PLAYERS]


def tables() -> dict[str, str]:
    """Every event table in the guides, by source full name."""
    found: dict[str, str] = {}
    for guide in sorted(GUIDES.glob("*.md")):
        for match in TABLE.finditer(guide.read_text()):
            assert match["name"] not in found, f"two event tables for {match['name']}"
            found[match["name"]] = match["body"]
    return found


def expected_rows(source: type[sources.Source]) -> dict[str, str]:
    """Provider type -> the "Becomes" cell the code calls for."""
    rows = dict(source.mapped_types)
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


@pytest.mark.parametrize("full_name", BUILT_INS)
def test_the_guide_table_is_what_the_code_does(full_name: str) -> None:
    source = sources.load(full_name)
    body = tables().get(full_name)
    assert body is not None, f"no event table for {full_name} in docs/sources/*.md; the code calls for:\n{render(source)}"
    rows = guide_rows(body)
    unknown = {kind: becomes for kind, becomes in rows.items() if becomes.startswith(UNKNOWN)}
    checked = {kind: becomes for kind, becomes in rows.items() if kind not in unknown}
    assert checked == expected_rows(source), f"the event table of {full_name} drifted from the code, which calls for:\n{render(source)}"
    for kind, becomes in unknown.items():
        assert len(becomes) > len(UNKNOWN), f"`{kind}`: say why it stays unknown"


@pytest.mark.parametrize("full_name", BUILT_INS)
def test_mapped_and_ignored_are_disjoint_and_name_the_familys_semantic_events(full_name: str) -> None:
    source = sources.load(full_name)
    names = {name for name, spec in semantic.SPEC_OF.items() if spec in (FAMILY_SPEC[source.family], "customerio-actions")}
    assert source.mapped_types, f"{full_name} maps no event type"
    assert not set(source.mapped_types) & set(source.ignored_types)
    assert set(source.mapped_types.values()) <= names, set(source.mapped_types.values()) - names
    assert all(reason.strip() for reason in source.ignored_types.values())


@pytest.mark.parametrize("full_name", [name for name in BUILT_INS if name.startswith("email/")])
def test_everything_an_email_source_ignores_in_its_samples_is_declared(full_name: str) -> None:
    # The golden files list what each sample left out; ingest moves an undeclared ignored key to unknown.
    source = sources.load(full_name)
    for golden in sorted((GUIDES.parents[1] / "events" / "samples" / full_name).glob("*.golden.jsonl")):
        for line in golden.read_text().splitlines():
            for key in json.loads(line).get("not_sent", {}).get("ignored", {}):
                assert declared(key, dict(source.ignored_types)), f"{golden.name}: ignored {key!r} is not in {source.__name__}.ignored_types"


def test_markers_name_real_sources_and_only_video_players_are_left_out() -> None:
    assert set(tables()) <= set(sources.catalog())  # modules and shipped definitions
    assert not VIDEO_PLAYERS & set(tables())
