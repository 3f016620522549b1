"""The catalogue of sources: ``ciohooks/sources/<family>/<module>.py``, each holding a ``SOURCE`` class.

Sources are found by file name without importing them (``pkgutil``), so an ingest function pays at
cold start only for the source a request names. The route is the module name with ``_`` spelled
``-`` (``customerio_push.py`` serves ``POST /customerio-push``).

Custom sources (``sources/custom/``: a definition file, no code) join the same catalogue, so they
appear wherever built-ins do; a built-in name wins over a definition that takes it.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from pathlib import Path

from .base import InvalidPayload, NotConfigured, Refused, Reply, Source, Translation, Unauthorized, Unavailable

FAMILIES = ("email", "video", "mobile")


CUSTOM = f"{__name__}.custom"


@functools.cache
def catalog() -> dict[str, str]:
    """``family/route`` -> module path, e.g. ``email/sendgrid`` -> ``ciohooks.sources.email.sendgrid``;
    a custom source maps to ``ciohooks.sources.custom:<its definition file>``."""
    from .custom import registry, shipped_index

    found = dict(builtin_catalog())
    found.update({name: f"{CUSTOM}:{path}" for name, path in shipped_index().items()})  # the product's definitions
    found.update({name: f"{CUSTOM}:{klass.origin}" for name, klass in registry().items()})  # type: ignore[attr-defined]
    return found


@functools.cache
def builtin_catalog() -> dict[str, str]:
    """The modules under ``sources/<family>/``."""
    found = {}
    for family in FAMILIES:
        for module in pkgutil.iter_modules([str(Path(__file__).parent / family)]):
            if not module.name.startswith("_"):
                found[f"{family}/{module.name.replace('_', '-')}"] = f"{__name__}.{family}.{module.name}"
    return found


def refresh() -> None:
    """Read the catalogue again: after the custom source settings changed (tests, ``check-source``)."""
    from .custom import registry

    catalog.cache_clear()
    registry.cache_clear()


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
    if table[full_name].startswith(CUSTOM + ":"):
        from .custom import registry, shipped

        return registry().get(full_name) or shipped(full_name)
    return importlib.import_module(table[full_name]).SOURCE


__all__ = ["FAMILIES", "InvalidPayload", "NotConfigured", "Refused", "Reply", "Source", "Translation", "Unauthorized", "Unavailable", "builtin_catalog", "catalog", "load", "names", "refresh"]
