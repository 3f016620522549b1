"""Settings: strict values, local-only switches that no stack can turn on, cached absent secrets."""

from __future__ import annotations

import logging

import pytest
from aws_lambda_powertools.utilities import parameters

from ciohooks import config
from ciohooks.config import ConfigurationError, Settings

PEM = "MIIC-not-a-real-certificate"


@pytest.fixture(autouse=True)
def fresh_caches():
    config.clear_secret_caches()
    yield
    config.clear_secret_caches()


# ---- strict values --------------------------------------------------------------------------------


@pytest.mark.parametrize("value,expected", [("1", True), ("TRUE", True), (" yes ", True), ("on", True), ("0", False), ("False", False), ("no", False), ("off", False)])
def test_bool_settings_take_the_usual_words(value: str, expected: bool) -> None:
    assert Settings({"CIOHOOKS_SENDGRID_CATEGORY_AS_CAMPAIGN_NAME": value}).get_bool("SENDGRID_CATEGORY_AS_CAMPAIGN_NAME") is expected


def test_a_bool_setting_that_is_no_known_word_is_a_configuration_error_naming_the_setting_only() -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings({"CIOHOOKS_SENDGRID_CATEGORY_AS_CAMPAIGN_NAME": "maybe-secretish"}).get_bool("SENDGRID_CATEGORY_AS_CAMPAIGN_NAME")
    assert "CIOHOOKS_SENDGRID_CATEGORY_AS_CAMPAIGN_NAME" in str(raised.value) and "maybe-secretish" not in str(raised.value)


def test_an_unset_bool_setting_is_its_default() -> None:
    assert Settings({}).get_bool("X") is False and Settings({}).get_bool("X", True) is True


def test_a_whole_number_setting_that_is_not_one_is_a_configuration_error_naming_the_setting_only() -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings({"CIOHOOKS_SENDGRID_TOLERANCE_SECONDS": "abc"}).get_int("SENDGRID_TOLERANCE_SECONDS", 300)
    assert str(raised.value) == "CIOHOOKS_SENDGRID_TOLERANCE_SECONDS must be a whole number"



@pytest.mark.parametrize("value, problem", [("ten", "must be a number"), ("nan", "must be a finite number"), ("inf", "must be a finite number")])
def test_a_number_setting_that_is_not_one_is_a_configuration_error_naming_the_setting_only(value, problem) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings({"CIOHOOKS_CUSTOMERIO_TIMEOUT_SECONDS": value}).get_float("CUSTOMERIO_TIMEOUT_SECONDS", 10.0)
    assert str(raised.value) == f"CIOHOOKS_CUSTOMERIO_TIMEOUT_SECONDS {problem}"
    assert Settings({"CIOHOOKS_CUSTOMERIO_TIMEOUT_SECONDS": "2.5"}).get_float("CUSTOMERIO_TIMEOUT_SECONDS", 10.0) == 2.5
    assert Settings({}).get_float("CUSTOMERIO_TIMEOUT_SECONDS", 10.0) == 10.0


# ---- local-only switches ----------------------------------------------------------------------------


def test_source_settings_cannot_turn_on_a_local_only_switch() -> None:
    settings = Settings({"CIOHOOKS_SOURCE_SETTINGS": f"ALLOW_UNSIGNED=1;SES_CERTIFICATE_PEM={PEM};SENDGRID_EMAIL_AS=userId"})
    assert settings.get_bool("ALLOW_UNSIGNED") is False
    assert settings.get("SES_CERTIFICATE_PEM") is None
    assert settings.get("SENDGRID_EMAIL_AS") == "userId"  # plain settings still come from it


def test_local_only_switches_work_from_real_variables_outside_lambda() -> None:
    settings = Settings({"CIOHOOKS_ALLOW_UNSIGNED": "1", "CIOHOOKS_SES_CERTIFICATE_PEM": PEM})
    assert settings.get_bool("ALLOW_UNSIGNED") is True and settings.get("SES_CERTIFICATE_PEM") == PEM


def test_inside_lambda_local_only_switches_are_ignored_with_one_error_log(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings({"AWS_LAMBDA_FUNCTION_NAME": "stack-EmailIngestFunction", "CIOHOOKS_ALLOW_UNSIGNED": "1", "CIOHOOKS_SES_CERTIFICATE_PEM": PEM})
    with caplog.at_level(logging.ERROR, logger="ciohooks.config"):
        for _ in range(3):
            assert settings.get_bool("ALLOW_UNSIGNED") is False
            assert settings.get("SES_CERTIFICATE_PEM") is None
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [
        "SECURITY: CIOHOOKS_ALLOW_UNSIGNED is a local-only switch and is ignored in AWS Lambda; remove it from the function's environment",
        "SECURITY: CIOHOOKS_SES_CERTIFICATE_PEM is a local-only switch and is ignored in AWS Lambda; remove it from the function's environment",
    ]
    assert PEM not in caplog.text


# ---- secrets that do not exist are remembered ---------------------------------------------------------


class SecretsManagerStandIn:
    """Powertools' get_secret as Secrets Manager answers it: found, or ResourceNotFoundException."""

    def __init__(self, existing: dict[str, str]) -> None:
        self.existing, self.calls = existing, []

    def __call__(self, name: str, max_age: int) -> str:
        self.calls.append(name)
        if name in self.existing:
            return self.existing[name]
        try:
            raise LookupError("An error occurred (ResourceNotFoundException) when calling the GetSecretValue operation")
        except LookupError as cause:
            raise parameters.exceptions.GetParameterError("not found") from cause


def test_a_secret_that_does_not_exist_is_looked_up_once_per_five_minutes(monkeypatch: pytest.MonkeyPatch) -> None:
    store = SecretsManagerStandIn({})
    monkeypatch.setattr(parameters, "get_secret", store)
    settings = Settings({"CIOHOOKS_SECRETS_PREFIX": "/cio-hooks/"})
    assert [settings.secret("SENDGRID_VERIFICATION_KEY") for _ in range(5)] == [None] * 5
    assert store.calls == ["/cio-hooks/sendgrid-verification-key"]

    clock = [config.time.monotonic()]
    monkeypatch.setattr(config.time, "monotonic", lambda: clock[0])
    clock[0] += config.SECRET_CACHE_SECONDS + 1
    store.existing["/cio-hooks/sendgrid-verification-key"] = "created-since"
    assert settings.secret("SENDGRID_VERIFICATION_KEY") == "created-since"
    assert len(store.calls) == 2


def test_other_store_errors_are_not_mistaken_for_absence(monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(name: str, max_age: int) -> str:
        raise parameters.exceptions.GetParameterError("AccessDeniedException")

    monkeypatch.setattr(parameters, "get_secret", denied)
    with pytest.raises(parameters.exceptions.GetParameterError):
        Settings({"CIOHOOKS_SECRETS_PREFIX": "/cio-hooks/"}).secret("SENDGRID_VERIFICATION_KEY")


def test_a_configuration_error_is_described_with_its_setting_names_whole_and_anything_else_scrubbed() -> None:
    error = ConfigurationError("CIOHOOKS_SENDGRID_CATEGORY_AS_CAMPAIGN_NAME must be one of 0, 1 (not ada@example.com or MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O)")
    assert config.describe(error) == "CIOHOOKS_SENDGRID_CATEGORY_AS_CAMPAIGN_NAME must be one of 0, 1 (not <email> or <token>)"
