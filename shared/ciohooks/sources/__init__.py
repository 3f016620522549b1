"""The catalogue of sources: ``family/name`` -> module. Modules are imported only when used,
so an ingest function pays at cold start only for the sources it serves."""

from __future__ import annotations

import importlib

from .base import InvalidPayload, NotConfigured, Reply, Source, Translation, Unauthorized

# family/name -> module under ciohooks.sources holding a ``SOURCE`` class.
CATALOG: dict[str, str] = {
    "email/sendgrid": "sendgrid",
}

FAMILIES = ("email", "video", "mobile")


def names(family: str | None = None) -> list[str]:
    return sorted(n for n in CATALOG if family is None or n.startswith(family + "/"))


def load(full_name: str) -> type[Source]:
    """The source class for ``family/name`` (or a bare ``name`` when it is unambiguous)."""
    if full_name not in CATALOG:
        matches = [n for n in CATALOG if n.split("/", 1)[1] == full_name]
        if len(matches) != 1:
            raise KeyError(f"unknown source {full_name!r}; known: {', '.join(names())}")
        full_name = matches[0]
    module = importlib.import_module(f"{__name__}.{CATALOG[full_name]}")
    return module.SOURCE


__all__ = ["CATALOG", "FAMILIES", "InvalidPayload", "NotConfigured", "Reply", "Source", "Translation", "Unauthorized", "load", "names"]
