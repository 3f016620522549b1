"""Mobile sources read and check their plain settings when they are built (style item 1): a bad
value is a ``ConfigurationError`` naming the setting, never its value, before any request."""

from __future__ import annotations

import pytest

from ciohooks.config import ConfigurationError
from ciohooks.sources import load
from tests.support.mobile import settings


@pytest.mark.parametrize(
    ("name", "setting", "value"),
    [
        ("adjust", "ADJUST_KEY_MAP", "colour=blue-7"),
        ("adjust", "ADJUST_ID_AS", "email-7"),
        ("adjust", "ADJUST_SECRET_PARAM", "two words-7"),
        ("appsflyer", "APPSFLYER_TOKEN_HEADER", "X Token-7"),
        ("appsflyer", "APPSFLYER_ID_AS", "device-7"),
        ("branch", "BRANCH_SECRET_HEADER", "a b-7"),
        ("branch", "BRANCH_DEVICE_ID_KEYS", " , "),
        ("branch", "BRANCH_ID_AS", "nobody-7"),
        ("sentry", "SENTRY_MOBILE_SDKS", " , "),
        ("sentry", "SENTRY_ID_AS", "crash-7"),
        ("auth0", "AUTH0_ID_AS", "admin-7"),
        ("clerk", "CLERK_TOLERANCE_SECONDS", "-5"),
        ("clerk", "CLERK_ID_AS", "svix-7"),
        ("expo", "EXPO_ID_AS", "token-7"),
        ("onesignal", "ONESIGNAL_ID_AS", "subscription-7"),
        ("bugsnag", "BUGSNAG_ID_AS", "crash-7"),
        ("backend", "BACKEND_TOLERANCE_SECONDS", "-5"),
    ],
)
def test_a_bad_setting_fails_when_the_source_is_built(name: str, setting: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(f"mobile/{name}")(settings(**{setting: value}))
    assert setting.rsplit("_", 2)[0] in str(caught.value) and value not in str(caught.value)


@pytest.mark.parametrize("name", ["adjust", "appsflyer", "branch", "sentry", "auth0", "clerk", "firebase-auth", "customerio-push", "expo", "onesignal", "bugsnag", "backend"])
def test_every_mobile_source_builds_with_defaults(name: str) -> None:
    source = load(f"mobile/{name}")(settings())
    assert source.secret_names == (source.secret_name,)
