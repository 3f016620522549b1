"""Provider timestamps, whatever their spelling, as aware UTC datetimes.

Seen in the wild: unix seconds as int, float or string ("1513299569", "1513299569.123"), unix
milliseconds (13 digits), ISO-8601 with "Z" or an offset, with up to 7 fractional digits
(.NET/Mailjet style), or with no zone at all (AppsFlyer's "2024-01-15 10:30:00.123", UTC by its docs).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

# Epoch values above this are milliseconds (in seconds it would be the year 2286).
_MS_THRESHOLD = 10_000_000_000
_ISO = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}(?::\d{2})?)(?:\.(?P<frac>\d+))?\s*(?P<zone>Z|z|UTC|[+-]\d{2}:?\d{2})?$"
)


class BadTimestamp(ValueError):
    """Not a timestamp this module can read (the message never repeats the value)."""


def parse_timestamp(value: object, *, naive_is_utc: bool = True) -> datetime:
    """An aware UTC datetime from any of the spellings above."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, bool) or value is None:
        raise BadTimestamp("timestamp missing or not a time")
    if isinstance(value, int | float):
        return _from_epoch(float(value))
    if not isinstance(value, str) or not value.strip():
        raise BadTimestamp("timestamp is not a number or a string")
    text = value.strip()
    try:
        return _from_epoch(float(text))
    except ValueError:
        pass
    match = _ISO.match(text)
    if not match:
        raise BadTimestamp("timestamp is neither epoch time nor ISO-8601")
    frac = (match["frac"] or "")[:6].ljust(6, "0")  # 7-digit .NET ticks lose only the last digit
    time_part = match["time"] if match["time"].count(":") == 2 else match["time"] + ":00"
    try:
        parsed = datetime.fromisoformat(f"{match['date']}T{time_part}.{frac}")
    except ValueError:
        raise BadTimestamp("timestamp has an impossible date or time") from None
    zone = match["zone"]
    if zone in (None, ""):
        if not naive_is_utc:
            raise BadTimestamp("timestamp has no time zone")
        return parsed.replace(tzinfo=UTC)
    if zone in ("Z", "z", "UTC"):
        return parsed.replace(tzinfo=UTC)
    sign = 1 if zone[0] == "+" else -1
    digits = zone[1:].replace(":", "")
    offset = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    return parsed.replace(tzinfo=offset).astimezone(UTC)


def _from_epoch(number: float) -> datetime:
    if number != number or number in (float("inf"), float("-inf")) or number < 0:
        raise BadTimestamp("timestamp is not a valid epoch time")
    if number > _MS_THRESHOLD:
        number /= 1000.0
    try:
        return datetime.fromtimestamp(number, UTC)
    except (OverflowError, OSError, ValueError):
        raise BadTimestamp("timestamp is out of range") from None
