from datetime import UTC, datetime

import pytest

from ciohooks.timestamps import BadTimestamp, parse_timestamp

EXPECTED = datetime(2017, 12, 15, 0, 59, 29, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        1513299569,  # SendGrid: int seconds
        1513299569.0,
        "1513299569",  # Mailgun/Mandrill: seconds as a string
        1513299569000,  # Branch: milliseconds
        "1513299569000",
        "2017-12-15T00:59:29Z",
        "2017-12-15T00:59:29.0000000Z",  # 7 fractional digits
        "2017-12-15T01:59:29+01:00",
        "2017-12-14T19:59:29-0500",
        "2017-12-15 00:59:29",  # AppsFlyer: UTC without a zone
        "2017-12-15 00:59:29.000",
        "2017-12-15T00:59:29 UTC",
    ],
)
def test_spellings_of_one_instant(value):
    assert parse_timestamp(value) == EXPECTED


def test_fractions_are_kept():
    assert parse_timestamp(1513299569.25).microsecond == 250000
    assert parse_timestamp("2017-12-15T00:59:29.1234567Z").microsecond == 123456


@pytest.mark.parametrize("value", [None, True, "", "yesterday", "2017-13-45T00:00:00Z", -5, float("nan"), {"t": 1}])
def test_refused_without_echoing_the_value(value):
    with pytest.raises(BadTimestamp) as error:
        parse_timestamp(value)
    assert "yesterday" not in str(error.value)


def test_zone_required_when_asked():
    with pytest.raises(BadTimestamp):
        parse_timestamp("2017-12-15 00:59:29", naive_is_utc=False)
