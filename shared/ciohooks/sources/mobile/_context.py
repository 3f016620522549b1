"""Reading mobile attribution and crash payloads into Segment-style ``context`` trees.

AppsFlyer, Branch, Sentry and Adjust each name device, app and network fields their own way (the
mapping stays in each module's ``context_of``/translate, next to its docstring table). What they
share is how a value is read and how the tree is cleaned:

- ``text``: the first of several keys with a value, as text. Numbers are kept exactly as sent
  (``str(12)``: attribution payloads carry versions and ids as JSON numbers or as text).
- ``flag``: a boolean sent as JSON ``true``/``false`` or as the text ``"true"``/``"false"`` (GET
  callbacks and Branch's mixed spellings).
- ``compact``: the tree without None values and without objects left empty, so a field the
  provider did not send stays absent.
"""

from __future__ import annotations

from typing import Any, Mapping


def text(data: Mapping[str, Any], *keys: str) -> str | None:
    """The first of ``keys`` with a non-blank string or a number (not a bool), as text."""
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
    return None


def flag(value: Any) -> bool | None:
    """JSON true/false, or the text "true"/"false" (any case, surrounding blanks ignored)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def compact(tree: dict[str, Any]) -> dict[str, Any]:
    """``tree`` without None values and without objects left empty."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            value = compact(value)
            if not value:
                continue
        if value is not None:
            out[key] = value
    return out
