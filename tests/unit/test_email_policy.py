import pytest

from ciohooks.config import Settings
from ciohooks.sources.email._policy import EmailPolicy


def test_defaults():
    policy = EmailPolicy.from_settings(Settings({}), "MAILGUN")
    assert (policy.soft_bounces_are_bounces, policy.blocks_are_bounces, policy.group_unsubscribes_count, policy.first_opens_only, policy.drop_machine_opens) == (False, True, True, False, False)


def test_provider_setting_wins_over_the_family_setting():
    settings = Settings({"CIOHOOKS_EMAIL_OPENS": "first", "CIOHOOKS_BREVO_OPENS": "all", "CIOHOOKS_EMAIL_SOFT_BOUNCES": "bounce"})
    assert EmailPolicy.from_settings(settings, "BREVO").first_opens_only is False
    assert EmailPolicy.from_settings(settings, "MAILGUN").first_opens_only is True
    assert EmailPolicy.from_settings(settings, "MAILGUN").soft_bounces_are_bounces is True


def test_unknown_value_is_refused():
    with pytest.raises(ValueError):
        EmailPolicy.from_settings(Settings({"CIOHOOKS_POSTMARK_OPENS": "most"}), "POSTMARK")
