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
picked up without a redeploy; a secret the store does not have is remembered as missing for the same
five minutes, so a POST to an unconfigured source costs no Secrets Manager call. Secret values are
never logged or put in error messages.

Local-only switches (``LOCAL_ONLY``: ``ALLOW_UNSIGNED``, ``SES_CERTIFICATE_PEM``) open or weaken
authentication for ``make run`` and tests. They are read only from real environment variables (never
from ``CIOHOOKS_SOURCE_SETTINGS``, which a stack parameter sets), and inside AWS Lambda (when
``AWS_LAMBDA_FUNCTION_NAME`` is set) they are ignored with an error log: no stack setting can turn
them on. The local key folder (``ciohooks serve --local-keys events/keys``) is read only by
``ciohooks serve``, never by a Lambda function.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from typing import Any, Mapping

log = logging.getLogger(__name__)

PREFIX = "CIOHOOKS_"
# Switches that open or weaken authentication, for local runs only (see the module docstring).
LOCAL_ONLY = frozenset({"ALLOW_UNSIGNED", "SES_CERTIFICATE_PEM"})
LAMBDA_MARKER = "AWS_LAMBDA_FUNCTION_NAME"  # set by the Lambda runtime in every function
SECRET_CACHE_SECONDS = 300
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})



def in_lambda() -> bool:
    """Running in a Lambda function (the runtime sets ``AWS_LAMBDA_FUNCTION_NAME``), not in serve,
    the CLI or the tests."""
    return bool(os.environ.get(LAMBDA_MARKER))

class ConfigurationError(RuntimeError):
    """A setting is missing or has a value the code cannot use: one kind of fault, whichever setting.

    The message names the setting, never its value. Ingest answers it with the source's
    ``retry_status`` (the provider retries once the operator fixes it), and ``ciohooks doctor``
    raises the same error by building every enabled source before any webhook arrives.
    """


# A setting's name: upper case, digits and "_" (a key never looks like this: it has lower case).
_SETTING_NAME = re.compile(r"\b[A-Z][A-Z0-9_]{2,}\b")


def describe(error: ConfigurationError) -> str:
    """The error's message for a log line: setting names kept whole (however long), anything else
    scrubbed as ``redact`` does, in case a message ever carried a value."""
    from .redact import redact

    text, parts, last = str(error), [], 0
    for name in _SETTING_NAME.finditer(text):
        parts += [redact(text[last : name.start()]), name.group()]
        last = name.end()
    return "".join([*parts, redact(text[last:])])


class MissingSetting(ConfigurationError):
    """A required setting or secret is not configured. The message names it, never its value."""


class Settings:
    """Settings of one deployment. Plain settings may also come from ``CIOHOOKS_SOURCE_SETTINGS``
    (``NAME=value;NAME=value``, the template's SourceSettings parameter), below real variables;
    secrets and local-only switches never do (``secret`` and ``LOCAL_ONLY`` names read only real
    variables, so the parameter cannot give, redirect or open one)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._env = os.environ if environ is None else environ
        self._fallback = _parse_source_settings(self._env.get(PREFIX + "SOURCE_SETTINGS") or "")
        self._refused_local: set[str] = set()

    def local_only_in_source_settings(self) -> list[str]:
        """Local-only switches someone put in SourceSettings (never read from there; doctor warns)."""
        return sorted(LOCAL_ONLY & self._fallback.keys())

    @property
    def in_lambda(self) -> bool:
        return bool(self._env.get(LAMBDA_MARKER))

    def get(self, name: str, default: str | None = None) -> str | None:
        if name in LOCAL_ONLY:
            value = self._local_only(name)
            return default if value is None else value
        value = self._env.get(PREFIX + name)
        if value in (None, ""):
            value = self._fallback.get(name)
        return default if value in (None, "") else value

    def _local_only(self, name: str) -> str | None:
        """A local-only switch: a real variable only, and never inside Lambda (logged once)."""
        value = self._real(name)
        if value is None or not self.in_lambda:
            return value
        if name not in self._refused_local:
            self._refused_local.add(name)
            log.error("SECURITY: %s%s is a local-only switch and is ignored in AWS Lambda; remove it from the function's environment", PREFIX, name)
        return None

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
            raise ConfigurationError(f"{PREFIX}{name} must be a whole number") from None

    def get_float(self, name: str, default: float) -> float:
        value = self.get(name)
        try:
            number = default if value is None else float(value)
        except ValueError:
            raise ConfigurationError(f"{PREFIX}{name} must be a number") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ConfigurationError(f"{PREFIX}{name} must be a finite number")
        return number

    def get_bool(self, name: str, default: bool = False) -> bool:
        """``1/true/yes/on`` or ``0/false/no/off`` (any case); anything else is a ``ConfigurationError``
        (a typo must not silently mean "off")."""
        value = self.get(name)
        if value is None:
            return default
        word = value.strip().lower()
        if word not in TRUE_WORDS | FALSE_WORDS:
            raise ConfigurationError(f"{PREFIX}{name} must be one of {', '.join(sorted(TRUE_WORDS | FALSE_WORDS))}")
        return word in TRUE_WORDS

    def get_list(self, name: str) -> list[str] | None:
        value = self.get(name)
        return None if value is None else [item.strip() for item in value.split(",") if item.strip()]

    def secret(self, name: str) -> str | None:
        """The secret's value, or ``None`` when it is not configured anywhere."""
        if (value := self._real(name)) is not None:
            return value
        if (secret_id := self._real(f"{name}_SECRET")) is not None:
            return bounded_parameters("secrets").get_secret(secret_id, max_age=SECRET_CACHE_SECONDS)
        if (parameter := self._real(f"{name}_PARAMETER")) is not None:
            return bounded_parameters("ssm").get_parameter(parameter, decrypt=True, max_age=SECRET_CACHE_SECONDS)
        if (prefix := self._real("SECRETS_PREFIX")) is not None:
            return _by_convention(prefix + name.lower().replace("_", "-"), (self._real("SECRETS_STORE") or "secretsmanager").lower())
        return None

    def require_secret(self, name: str) -> str:
        value = self.secret(name)
        if value is None:
            raise MissingSetting(f"secret {name} is not configured (set {PREFIX}{name}, {PREFIX}{name}_SECRET or {PREFIX}{name}_PARAMETER)")
        return value


# (store, name) -> until when the store is known not to have it. Powertools caches values only.
_not_found: dict[tuple[str, str], float] = {}
_not_found_lock = threading.Lock()


def _by_convention(name: str, store: str) -> str | None:
    """The secret ``name`` in ``store``, or ``None`` when it does not exist (remembered as long as a
    found value is cached, so an unconfigured source costs one lookup per five minutes)."""
    parameters = bounded_parameters("ssm" if store == "ssm" else "secrets")

    with _not_found_lock:
        if _not_found.get((store, name), 0.0) > time.monotonic():
            return None
    try:
        if store == "ssm":
            return parameters.get_parameter(name, decrypt=True, max_age=SECRET_CACHE_SECONDS)
        return parameters.get_secret(name, max_age=SECRET_CACHE_SECONDS)
    except parameters.exceptions.GetParameterError as error:
        if "NotFound" in repr(error.__cause__) or "ParameterNotFound" in str(error):
            with _not_found_lock:
                _not_found[(store, name)] = time.monotonic() + SECRET_CACHE_SECONDS
            return None
        raise


def bounded_parameters(store: str) -> Any:
    """Powertools Parameters, its ``store`` client ("secrets" or "ssm") bounded by
    ``budgets.SECRET_READ``: Powertools' own default client has botocore's 60 s timeouts and retries,
    longer than the ingest functions' Timeout."""
    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

    if store not in DEFAULT_PROVIDERS:
        from .budgets import SECRET_READ

        provider = parameters.SSMProvider if store == "ssm" else parameters.SecretsProvider
        DEFAULT_PROVIDERS[store] = provider(boto_config=SECRET_READ.boto_config())
    return parameters


def clear_secret_caches() -> None:
    """Forget every cached secret and every remembered absence (tests; ``ciohooks doctor``)."""
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
    with _not_found_lock:
        _not_found.clear()


def _parse_source_settings(text: str) -> dict[str, str]:
    pairs = {}
    for item in text.split(";"):
        name, sep, value = item.strip().partition("=")
        if sep and name.strip():
            pairs[name.strip()] = value.strip()
    return pairs
