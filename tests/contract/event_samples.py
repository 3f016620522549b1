"""Realistic inputs for every semantic event model: a full one (every typed field set, plus
custom properties and the optional top-level members) and a minimal one (what the spec requires).

Identity is not part of a sample: ``identities(model)`` gives the ones each event's rule allows.
"""

from __future__ import annotations

from typing import Any

from ciohooks.semantic import ALL_EVENTS, SemanticEvent

KNOWN_USER = {"userId": "user_12345"}
ANONYMOUS_USER = {"anonymousId": "anon_9f8e7d6c5b"}

OPTIONAL_TOP_LEVEL = {
    "messageId": "0b7f3c9e-5d1a-5c2e-9a61-4f0f6b2d8e11",
    "timestamp": "2024-01-15T10:30:00.000Z",
    "integrations": {"All": True, "Mixpanel": False},
}

EMAIL = {
    "email_id": "msg_abc123",
    "email_subject": "Your weekly newsletter",
    "campaign_id": "camp_456",
    "campaign_name": "Weekly Newsletter Campaign",
    "sg_event_id": "ZGVsaXZlcmVkLTAtMjQ0NzI0Nzk",  # a custom (untyped) property
}
EMAIL_CONTEXT = {
    "traits": {"email": "ada@example.com", "ip": "203.0.113.7", "user_agent": "Mozilla/5.0 (X11; Linux x86_64)"},
    "library": {"name": "ciohooks", "version": "0.1.0"},
}

APP_VERSION = {"version": "3.4.1", "build": "3401"}
MOBILE_CONTEXT = {
    "app": {"name": "Acme", "version": "3.4.1", "build": "3401", "namespace": "com.acme.app"},
    "device": {"id": "B5372DB0-C21E-11E4-8DFC-AA07A5B093DB", "manufacturer": "Google", "model": "Pixel 8", "type": "android"},
    "os": {"name": "Android", "version": "14"},
    "network": {"wifi": True},
}

PLAYBACK = {
    "session_id": "sess_7f3a1c",
    "ad_asset_id": ["ad_301", "ad_302"],
    "ad_pod_id": "pod_mid_2",
    "ad_type": "mid-roll",
    "position": 312,
    "total_length": 2640,
    "bitrate": 4500,
    "framerate": 30,
    "video_player": "jwplayer",
    "sound": 80,
    "full_screen": True,
    "ad_enabled": True,
    "quality": "hd1080",
    "livestream": False,
    "player_version": "8.33.0",  # custom
}
CONTENT_ASSETS = {"content_asset_ids": ["ep_0101", "ep_0102"], "content_pod_ids": ["seg_a", "seg_b"]}
CONTENT = {
    "session_id": "sess_7f3a1c",
    "asset_id": "ep_0101",
    "pod_id": "seg_a",
    "program": "The Big Bake",
    "title": "Sourdough Secrets",
    "description": "Why the starter matters, and how to keep one alive.",
    "season": "2",
    "position": 312,
    "total_length": 2640,
    "genre": "cooking",
    "publisher": "Acme Studios",
    "channel": "Food",
    "full_episode": True,
    "livestream": False,
    "airdate": "2024-01-12T20:00:00+01:00",
    "bitrate": 4500,
    "framerate": 30,
    "keywords": ["baking", "bread"],
    "episode": "4",  # custom
}
AD = {
    "session_id": "sess_7f3a1c",
    "asset_id": "ad_301",
    "pod_id": "pod_mid_2",
    "pod_position": 1,
    "pod_length": 2,
    "type": "mid-roll",
    "title": "Winter Sale",
    "position": 5,
    "total_length": 15,
    "publisher": "Acme Ads",
    "load_type": "dynamic",
    "content": {"asset_id": "ep_0101", "title": "Sourdough Secrets"},
    "quartile": 1,
    "advertiser": "Acme Retail",  # custom
}
QUALITY = {"bitrate": 2500, "framerate": 25, "startupTime": 850, "droppedFrames": 3, "resolution": "1280x720"}
VIDEO_CONTEXT = {"ip": "203.0.113.7", "userAgent": "Roku/DVP-12.5 (12.5.0.4174)", "locale": "en-US"}

DEVICE_CONTEXT = {
    "device": {"token": "fcm:dXNlci1kZXZpY2UtdG9rZW4", "type": "android", "model": "Pixel 8"},
    "app": {"version": "3.4.1"},
}
ACTION_CONTEXT = {"ip": "203.0.113.7"}
OBJECT_REFERENCE = {"objectId": "acme_corp", "objectTypeId": 1}
DELIVERY_REPORT = {
    "deliveryId": "dlv_RPILAgABcRhIBqSp7kiPekGBIeVh",
    "metric": "clicked",
    "recipient": "ada@example.com",
    "reason": "",
    "actionValue": "Get started",
    "href": "https://example.com/start",
}


def _full(name: str) -> dict[str, Any]:
    email = {
        "Email Link Clicked": {**EMAIL, "link_id": "link_789", "link_url": "https://example.com/promo"},
        "Email Unsubscribed": {**EMAIL, "list_id": "list_12", "list_name": "Newsletter"},
    }
    mobile = {
        "Application Installed": APP_VERSION,
        "Application Opened": {**APP_VERSION, "from_background": False, "url": "acme://home"},
        "Application Backgrounded": {"screen": "Checkout"},
        "Application Foregrounded": {"screen": "Checkout"},
        "Application Updated": {**APP_VERSION, "previous_version": "3.3.0", "previous_build": "3300"},
        "Application Uninstalled": {"days_installed": 42},
        "Application Crashed": {"exception": "java.lang.NullPointerException", "screen": "Player"},
    }
    if name.startswith("Email "):
        return {"properties": email.get(name, EMAIL), "context": EMAIL_CONTEXT}
    if name in mobile:
        return {"properties": mobile[name], "context": MOBILE_CONTEXT}
    if name == "Video Playback Started":
        return {"properties": {**PLAYBACK, **CONTENT_ASSETS}, "context": VIDEO_CONTEXT}
    if name == "Video Playback Interrupted":
        return {"properties": {**PLAYBACK, "method": "network_error"}, "context": VIDEO_CONTEXT}
    if name.startswith("Video Playback "):
        return {"properties": PLAYBACK, "context": VIDEO_CONTEXT}
    if name.startswith("Video Content "):
        return {"properties": CONTENT, "context": VIDEO_CONTEXT}
    if name.startswith("Video Ad "):
        return {"properties": AD, "context": VIDEO_CONTEXT}
    if name == "Video Quality Updated":
        return {"properties": QUALITY, "context": VIDEO_CONTEXT}
    if name.startswith("Device "):
        return {"context": DEVICE_CONTEXT}
    if name in ("User Deleted", "User Suppressed", "User Unsuppressed"):
        return {"properties": {"reason": "gdpr_request"}, "context": ACTION_CONTEXT}
    if name in ("Relationship Deleted", "Object Deleted"):
        return {"properties": OBJECT_REFERENCE, "context": ACTION_CONTEXT}
    if name == "Report Delivery Event":
        return {"properties": DELIVERY_REPORT, "context": ACTION_CONTEXT}
    raise KeyError(name)


def _minimal(name: str) -> dict[str, Any]:
    if name.startswith("Email "):
        return {"properties": {"email_id": "msg_abc123"}}
    if name.startswith("Video "):
        return {"properties": {}}
    if name.startswith("Device "):
        return {"context": {"device": {"token": "apns:7c1e4b9a0f"}}}
    if name in ("Relationship Deleted", "Object Deleted"):
        return {"properties": {"objectId": "acme_corp"}}
    if name == "Report Delivery Event":
        return {"properties": {"deliveryId": "dlv_RPILAgABcRhIBqSp7kiPekGBIeVh", "metric": "delivered"}}
    return {}  # mobile app events and User Deleted / Suppressed / Unsuppressed


FULL: dict[str, dict[str, Any]] = {name: {**_full(name), **OPTIONAL_TOP_LEVEL} for name in ALL_EVENTS}
MINIMAL: dict[str, dict[str, Any]] = {name: _minimal(name) for name in ALL_EVENTS}


def identities(model: type[SemanticEvent]) -> list[dict[str, str]]:
    """The identities an event of this model may carry, each on its own."""
    return {
        "either": [KNOWN_USER, ANONYMOUS_USER],
        "user": [KNOWN_USER],
        "anonymous": [ANONYMOUS_USER],
        "none": [{}, KNOWN_USER, ANONYMOUS_USER],
    }[model.identity]
