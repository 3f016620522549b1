"""The email policy (docs/sources/email-policy.md) and the identity rules every email source shares."""

from collections import Counter

import pytest

from ciohooks.config import ConfigurationError, Settings
from hypothesis import given, strategies as st

from ciohooks.identity import IdentityRules, NoIdentity, address, parsed_address
from ciohooks.sources import Translation, load, names
from ciohooks.sources._translation import not_mapped
from ciohooks.sources.email._policy import SUPPRESSED_BOUNCE_SUBTYPES, EmailPolicy

EMAIL_SOURCES = [name for name in names() if name.startswith("email/")]


def test_defaults():
    policy = EmailPolicy.from_settings(Settings({}), "MAILGUN")
    # soft bounces and blocks are not bounces; group unsubscribes count; every open; machine opens kept
    assert (policy.soft_bounces_are_bounces, policy.blocks_are_bounces, policy.group_unsubscribes_count, policy.first_opens_only, policy.drop_machine_opens) == (False, False, True, False, False)


def test_provider_setting_wins_over_the_family_setting():
    settings = Settings({"CIOHOOKS_EMAIL_OPENS": "first", "CIOHOOKS_BREVO_OPENS": "all", "CIOHOOKS_EMAIL_SOFT_BOUNCES": "bounce"})
    assert EmailPolicy.from_settings(settings, "BREVO").first_opens_only is False
    assert EmailPolicy.from_settings(settings, "MAILGUN").first_opens_only is True
    assert EmailPolicy.from_settings(settings, "MAILGUN").soft_bounces_are_bounces is True


def test_unknown_value_is_a_configuration_error_naming_the_setting_not_the_value():
    with pytest.raises(ConfigurationError, match="CIOHOOKS_POSTMARK_OPENS") as caught:
        EmailPolicy.from_settings(Settings({"CIOHOOKS_POSTMARK_OPENS": "most"}), "POSTMARK")
    assert "most" not in str(caught.value)
    with pytest.raises(ConfigurationError, match="CIOHOOKS_EMAIL_BLOCKS"):
        EmailPolicy.from_settings(Settings({"CIOHOOKS_EMAIL_BLOCKS": "maybe"}), "SES")


# Sources whose settings prefix is not their route: SES through EventBridge is the SES mapping on
# another transport and reads the same SES_* settings.
SETTINGS_PREFIX = {"email/ses-eventbridge": "SES"}


@pytest.mark.parametrize("full_name", EMAIL_SOURCES)
def test_every_email_source_refuses_a_bad_policy_value_when_it_is_built(full_name: str) -> None:
    prefix = SETTINGS_PREFIX.get(full_name, full_name.split("/")[1].upper())
    env = {"CIOHOOKS_SES_TOPIC_ARNS": "arn:aws:sns:us-east-1:123456789012:x"}
    if getattr(load(full_name), "definition", None) is None:  # a definition (MailerSend, Mailtrap) has no
        # policy settings: its ignore rules are the policy's defaults, fixed (its guide says so)
        with pytest.raises(ConfigurationError, match=f"{prefix}_BLOCKS"):
            load(full_name)(Settings({**env, f"CIOHOOKS_{prefix}_BLOCKS": "maybe"}))
    with pytest.raises(ConfigurationError, match=f"{prefix}_EMAIL_AS"):
        load(full_name)(Settings({**env, f"CIOHOOKS_{prefix}_EMAIL_AS": "someone"}))


@pytest.mark.parametrize(("full_name", "setting"), [("email/sendgrid", "SENDGRID_EMAIL_ID"), ("email/mailjet", "MAILJET_EMAIL_ID"), ("email/sparkpost", "SPARKPOST_EMAIL_ID")])
def test_an_email_id_choice_that_is_not_one_is_a_configuration_error(full_name: str, setting: str) -> None:
    with pytest.raises(ConfigurationError, match=setting):
        load(full_name)(Settings({f"CIOHOOKS_{setting}": "messageid"}))


def test_never_sent_bounce_sub_types_are_seses():
    # SES notification contents, bounce types: Permanent/Suppressed and Permanent/OnAccountSuppressionList.
    assert SUPPRESSED_BOUNCE_SUBTYPES == {"Suppressed", "OnAccountSuppressionList"}


def test_a_type_not_mapped_is_ignored_only_when_declared():
    translation = Translation()
    not_mapped(translation, "processed", {"processed": "why"})
    not_mapped(translation, "brand_new", {"processed": "why"})
    assert translation.ignored == Counter({"processed": 1}) and translation.unknown == Counter({"brand_new": 1})


# ---- identity ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("addr@x.org", "addr@x.org"),
        ("Name <Addr@X.org>", "addr@x.org"),  # Resend's "Acme <onboarding@resend.dev>" form
        ('"Doe, Jane" <jane@x.org>', "jane@x.org"),
        ("  A@B.C  ", "a@b.c"),
        ("a@x.org, b@x.org", None),  # two addresses are not one
        ("nobody", None),
        ("<>", None),
        ("@x.org", None),
        ("", None),
        (None, None),
        (42, None),
    ],
)
def test_address_parses_and_lower_cases(value, expected):
    assert address(value) == expected


@given(st.from_regex(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+", fullmatch=True))
def test_the_fast_path_for_a_bare_address_agrees_with_the_parser(value):
    assert address(value) == parsed_address(value)


def test_rules_from_settings():
    rules = IdentityRules.from_settings(Settings({"CIOHOOKS_X_USER_ID_KEYS": "a, b", "CIOHOOKS_X_EMAIL_AS": "userId"}), "X")
    assert rules == IdentityRules(user_id_keys=("a", "b"), fallback_as="userId")
    assert rules.resolve({"b": 7}, "e@x.org") == {"userId": "7"}
    assert rules.resolve({}, "e@x.org") == {"userId": "e@x.org"}
    with pytest.raises(NoIdentity):
        rules.resolve({}, None)
    # mobile sources name their own default keys and the _ID_AS setting
    assert IdentityRules.from_settings(Settings({"CIOHOOKS_EXPO_ID_AS": "userId"}), "EXPO", ("userId",)) == IdentityRules(("userId",), "userId")
    with pytest.raises(ConfigurationError, match="CIOHOOKS_EXPO_ID_AS"):
        IdentityRules.from_settings(Settings({"CIOHOOKS_EXPO_ID_AS": "device"}), "EXPO")
