"""The catalogue of sources: ``ciohooks/sources/<family>/<module>.py``, each holding a ``SOURCE`` class.

Sources are found by file name without importing them (``pkgutil``), so an ingest function pays at
cold start only for the source a request names. The route is the module name with ``_`` spelled
``-`` (``customerio_push.py`` serves ``POST /customerio-push``).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from pathlib import Path

from .base import InvalidPayload, NotConfigured, Refused, Reply, Source, Translation, Unauthorized, Unavailable

FAMILIES = ("email", "video", "mobile")


@functools.cache
def catalog() -> dict[str, str]:
    """``family/route`` -> module path, e.g. ``email/sendgrid`` -> ``ciohooks.sources.email.sendgrid``."""
    found = {}
    for family in FAMILIES:
        for module in pkgutil.iter_modules([str(Path(__file__).parent / family)]):
            if not module.name.startswith("_"):
                found[f"{family}/{module.name.replace('_', '-')}"] = f"{__name__}.{family}.{module.name}"
    return found


def names(family: str | None = None) -> list[str]:
    return sorted(n for n in catalog() if family is None or n.startswith(family + "/"))


def load(full_name: str) -> type[Source]:
    """The source class for ``family/name`` (or a bare ``name`` when it is unambiguous)."""
    table = catalog()
    if full_name not in table:
        matches = [n for n in table if n.split("/", 1)[1] == full_name]
        if len(matches) != 1:
            raise KeyError(f"unknown source {full_name!r}; known: {', '.join(names())}")
        full_name = matches[0]
    return importlib.import_module(table[full_name]).SOURCE


__all__ = ["FAMILIES", "InvalidPayload", "NotConfigured", "Refused", "Reply", "Source", "Translation", "Unauthorized", "Unavailable", "catalog", "load", "names"]
