"""Every mobile guide's event table says what the code does (issue 13, item 1).

The table between ``<!-- event-table -->`` markers in docs/sources/<name>.md lists every provider
event type the source knows: mapped (with its Customer.io event), ignored on purpose (with the
reason, word for word from ``ignored_types``), and the catch-all row for types this version does not
know (kept). The rows are derived from ``mapped_types`` and ``ignored_types``; this test fails on
drift either way. (To be folded into the catalogue-wide event table test.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ciohooks.semantic import mobile as cio_mobile
from ciohooks.semantic.actions import ACTION_EVENTS
from ciohooks.sources import load
from tests.support.mobile import ANY_OTHER, UNKNOWN, event_table_rows, guide_rows

DOCS = Path(__file__).resolve().parents[2] / "docs" / "sources"
MOBILE = ["adjust", "appsflyer", "branch", "sentry", "auth0", "clerk", "firebase-auth", "customerio-push", "expo", "onesignal", "bugsnag", "backend"]
SEMANTIC_NAMES = {cls.name for cls in ACTION_EVENTS} | {
    cls.name for cls in vars(cio_mobile).values() if isinstance(cls, type) and isinstance(getattr(cls, "name", None), str)
}


@pytest.mark.parametrize("name", MOBILE)
def test_the_guide_table_is_the_code(name: str) -> None:
    source = load(f"mobile/{name}")
    documented = guide_rows((DOCS / f"{name}.md").read_text())
    expected = event_table_rows(source)
    assert [(kind, becomes) for kind, becomes, _ in documented] == [(kind, becomes) for kind, becomes, _ in expected]
    for (kind, _, why), (_, becomes, reason) in zip(documented, expected, strict=True):
        if reason is not None:
            assert why == reason, kind  # an ignored type's reason, word for word
        else:
            assert why, f"{kind}: say why"


@pytest.mark.parametrize("name", MOBILE)
def test_mapped_and_ignored_are_disjoint_and_name_real_semantic_events(name: str) -> None:
    source = load(f"mobile/{name}")
    assert not set(source.mapped_types) & set(source.ignored_types)
    assert set(source.mapped_types.values()) <= SEMANTIC_NAMES
    assert all(reason.strip() for reason in source.ignored_types.values())
    assert ANY_OTHER not in source.mapped_types and UNKNOWN not in source.mapped_types.values()
