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

And the mobile policy (docs/sources/mobile-policy.md) where every mobile source applies it:

- ``device_id`` / ``usable_device_id``: which device id wins, in a documented order per source;
  an all-zero advertising id (tracking not authorised) counts as not sent.
- ``key_list``, ``name_setting``: settings read once when a source is built,
  a bad value raising ``ConfigurationError`` naming the setting.
"""

from __future__ import annotations

from typing import Any, Mapping

from ...config import ConfigurationError


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


# ---- the mobile policy, in code (docs/sources/mobile-policy.md states it once) ------------------


def usable_device_id(value: str | None) -> str | None:
    """``value`` unless it is blank or all zeros.

    iOS sends the IDFA as ``00000000-0000-0000-0000-000000000000`` when tracking is not authorised
    (App Tracking Transparency), and Android zeroes the advertising id once the user opts out:
    such a value names every device that opted out, never one device."""
    if value is None or not value.strip() or not value.strip("0-"):
        return None
    return value


def device_id(data: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    """The first usable device id among ``keys``, in the order given (mobile policy, "Which device
    id wins": the provider's own per-install id, then vendor ids, then advertising ids)."""
    for key in keys:
        if (found := usable_device_id(text(data, key))) is not None:
            return found
    return None


def key_list(settings: Any, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated list setting (e.g. BRANCH_DEVICE_ID_KEYS), else ``default``; a list that
    names nothing is a ``ConfigurationError``."""
    configured = settings.get_list(name)
    if configured is None:
        return default
    keys = tuple(key.strip() for key in configured if key.strip())
    if not keys:
        raise ConfigurationError(f"{name} names no key")
    return keys


def name_setting(settings: Any, name: str, default: str) -> str:
    """A header or parameter name setting, stripped (lower-cased by the caller for headers)."""
    value = settings.get(name)
    if value is None:
        return default
    if not value.strip() or any(c.isspace() for c in value.strip()):
        raise ConfigurationError(f"{name} must be one header or parameter name")
    return value.strip()
