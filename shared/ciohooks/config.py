"""Configuration: plain settings from environment variables, secrets from wherever they live.

Every name is read with the ``CIOHOOKS_`` prefix, e.g. ``settings.get("SENDGRID_TOLERANCE_SECONDS")``
reads ``CIOHOOKS_SENDGRID_TOLERANCE_SECONDS``. A secret ``X`` is looked up as:

- ``CIOHOOKS_X``: the value itself (local runs and tests);
- ``CIOHOOKS_X_SECRET``: the name or ARN of a Secrets Manager secret (AWS);
- ``CIOHOOKS_X_PARAMETER``: the name of an SSM SecureString parameter (AWS);
- otherwise, when ``CIOHOOKS_SECRETS_PREFIX`` is set (as the template does), the secret named
  ``<prefix><x in lower case, _ as ->`` in ``CIOHOOKS_SECRETS_STORE`` (``secretsmanager``, the
  default, or ``ssm``): ``SENDGRID_VERIFICATION_KEY`` -> ``/cio-hooks/sendgrid-verification-key``.
  A secret that does not exist there is "not configured", so the source fails closed.

Secrets fetched from AWS are cached for five minutes (Powertools Parameters), so a rotated key is
picked up without a redeploy. Secret values are never logged or put in error messages.
"""

from __future__ import annotations

import os
from typing import Mapping

PREFIX = "CIOHOOKS_"


class ConfigurationError(RuntimeError):
    """A setting is missing or has a value the code cannot use: one kind of fault, whichever setting.

    The message names the setting, never its value. Ingest answers it with the source's
    ``retry_status`` (the provider retries once the operator fixes it), and ``ciohooks doctor``
    raises the same error by building every enabled source before any webhook arrives.
    """


class MissingSetting(ConfigurationError):
    """A required setting or secret is not configured. The message names it, never its value."""


class Settings:
    """Settings of one deployment. Plain settings may also come from ``CIOHOOKS_SOURCE_SETTINGS``
    (``NAME=value;NAME=value``, the template's SourceSettings parameter), below real variables;
    secrets never do (``secret`` reads only real variables, so the parameter cannot give or
    redirect one)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._env = os.environ if environ is None else environ
        self._fallback = _parse_source_settings(self._env.get(PREFIX + "SOURCE_SETTINGS") or "")

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self._env.get(PREFIX + name)
        if value in (None, ""):
            value = self._fallback.get(name)
        return default if value in (None, "") else value

    def _real(self, name: str) -> str | None:
        value = self._env.get(PREFIX + name)
        return None if value in (None, "") else value

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise MissingSetting(f"{PREFIX}{name} is not set")
        return value

    def get_int(self, name: str, default: int) -> int:
        value = self.get(name)
        try:
            return default if value is None else int(value)
        except ValueError:
            raise MissingSetting(f"{PREFIX}{name} must be a whole number") from None

    def get_bool(self, name: str, default: bool = False) -> bool:
        value = self.get(name)
        return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")

    def get_list(self, name: str) -> list[str] | None:
        value = self.get(name)
        return None if value is None else [item.strip() for item in value.split(",") if item.strip()]

    def secret(self, name: str) -> str | None:
        """The secret's value, or ``None`` when it is not configured anywhere."""
        if (value := self._real(name)) is not None:
            return value
        if (secret_id := self._real(f"{name}_SECRET")) is not None:
            from aws_lambda_powertools.utilities import parameters

            return parameters.get_secret(secret_id, max_age=300)
        if (parameter := self._real(f"{name}_PARAMETER")) is not None:
            from aws_lambda_powertools.utilities import parameters

            return parameters.get_parameter(parameter, decrypt=True, max_age=300)
        if (prefix := self._real("SECRETS_PREFIX")) is not None:
            return _by_convention(prefix + name.lower().replace("_", "-"), (self._real("SECRETS_STORE") or "secretsmanager").lower())
        return None

    def require_secret(self, name: str) -> str:
        value = self.secret(name)
        if value is None:
            raise MissingSetting(f"secret {name} is not configured (set {PREFIX}{name}, {PREFIX}{name}_SECRET or {PREFIX}{name}_PARAMETER)")
        return value


def _by_convention(name: str, store: str) -> str | None:
    from aws_lambda_powertools.utilities import parameters

    try:
        if store == "ssm":
            return parameters.get_parameter(name, decrypt=True, max_age=300)
        return parameters.get_secret(name, max_age=300)
    except parameters.exceptions.GetParameterError as error:
        if "NotFound" in repr(error.__cause__) or "ParameterNotFound" in str(error):
            return None
        raise


def _parse_source_settings(text: str) -> dict[str, str]:
    pairs = {}
    for item in text.split(";"):
        name, sep, value = item.strip().partition("=")
        if sep and name.strip():
            pairs[name.strip()] = value.strip()
    return pairs
