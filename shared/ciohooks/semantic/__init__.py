"""Pydantic models of Customer.io's 38 semantic events, grouped like the seed specs.

``ALL_EVENTS`` maps each event name to its model; ``SPEC_OF`` maps it to the stem of the spec in
``ciohooks/specs`` that defines it (``specs/<stem>.openapi.json``).

The families load on first use (PEP 562): building a pydantic model costs milliseconds, so an
ingest function that serves email sources never pays for the 32 video, mobile and action models.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .base import Context, Open, SemanticEvent, Traits

# name -> the submodule defining it
_LAZY: dict[str, str] = {
    "EMAIL_EVENTS": "email",
    "EmailBounced": "email",
    "EmailDelivered": "email",
    "EmailEvent": "email",
    "EmailLinkClicked": "email",
    "EmailLinkClickedProperties": "email",
    "EmailMarkedAsSpam": "email",
    "EmailOpened": "email",
    "EmailProperties": "email",
    "EmailUnsubscribed": "email",
    "EmailUnsubscribedProperties": "email",
    "MOBILE_EVENTS": "mobile",
    "ApplicationBackgrounded": "mobile",
    "ApplicationCrashed": "mobile",
    "ApplicationForegrounded": "mobile",
    "ApplicationInstalled": "mobile",
    "ApplicationOpened": "mobile",
    "ApplicationOpenedProperties": "mobile",
    "ApplicationUninstalled": "mobile",
    "ApplicationUpdated": "mobile",
    "ApplicationUpdatedProperties": "mobile",
    "AppVersionProperties": "mobile",
    "MobileEvent": "mobile",
    "VIDEO_EVENTS": "video",
    "VideoAdCompleted": "video",
    "VideoAdEvent": "video",
    "VideoAdPlaying": "video",
    "VideoAdProperties": "video",
    "VideoAdStarted": "video",
    "VideoContentCompleted": "video",
    "VideoContentEvent": "video",
    "VideoContentPlaying": "video",
    "VideoContentProperties": "video",
    "VideoContentStarted": "video",
    "VideoEvent": "video",
    "VideoPlaybackBufferCompleted": "video",
    "VideoPlaybackBufferStarted": "video",
    "VideoPlaybackCompleted": "video",
    "VideoPlaybackEvent": "video",
    "VideoPlaybackExited": "video",
    "VideoPlaybackInterrupted": "video",
    "VideoPlaybackInterruptedProperties": "video",
    "VideoPlaybackPaused": "video",
    "VideoPlaybackProperties": "video",
    "VideoPlaybackResumed": "video",
    "VideoPlaybackSeekCompleted": "video",
    "VideoPlaybackSeekStarted": "video",
    "VideoPlaybackStarted": "video",
    "VideoPlaybackStartedProperties": "video",
    "VideoQualityProperties": "video",
    "VideoQualityUpdated": "video",
    "ACTION_EVENTS": "actions",
    "ActionEvent": "actions",
    "DeliveryReport": "actions",
    "Device": "actions",
    "DeviceContext": "actions",
    "DeviceCreatedOrUpdated": "actions",
    "DeviceDeleted": "actions",
    "DeviceEvent": "actions",
    "ObjectDeleted": "actions",
    "ObjectReference": "actions",
    "PersonEvent": "actions",
    "RelationshipDeleted": "actions",
    "ReportDeliveryEvent": "actions",
    "UserDeleted": "actions",
    "UserSuppressed": "actions",
    "UserUnsuppressed": "actions",
}
_FAMILY_MODULES = {"email-events": ("email", "EMAIL_EVENTS"), "mobile-app-events": ("mobile", "MOBILE_EVENTS"), "video-events": ("video", "VIDEO_EVENTS"), "customerio-actions": ("actions", "ACTION_EVENTS")}


def _families() -> dict[str, tuple[type[SemanticEvent], ...]]:
    return {stem: getattr(importlib.import_module(f"{__name__}.{module}"), name) for stem, (module, name) in _FAMILY_MODULES.items()}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    elif name == "ALL_EVENTS":
        # Event name ("Video Playback Started") -> its model.
        value = {model.name: model for family in _families().values() for model in family}
    elif name == "SPEC_OF":
        # Event name -> stem of the spec file that defines it ("video-events").
        value = {model.name: stem for stem, family in _families().items() for model in family}
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from .actions import (
        ACTION_EVENTS,
        ActionEvent,
        DeliveryReport,
        Device,
        DeviceContext,
        DeviceCreatedOrUpdated,
        DeviceDeleted,
        DeviceEvent,
        ObjectDeleted,
        ObjectReference,
        PersonEvent,
        RelationshipDeleted,
        ReportDeliveryEvent,
        UserDeleted,
        UserSuppressed,
        UserUnsuppressed,
    )
    from .email import (
        EMAIL_EVENTS,
        EmailBounced,
        EmailDelivered,
        EmailEvent,
        EmailLinkClicked,
        EmailLinkClickedProperties,
        EmailMarkedAsSpam,
        EmailOpened,
        EmailProperties,
        EmailUnsubscribed,
        EmailUnsubscribedProperties,
    )
    from .mobile import (
        MOBILE_EVENTS,
        ApplicationBackgrounded,
        ApplicationCrashed,
        ApplicationForegrounded,
        ApplicationInstalled,
        ApplicationOpened,
        ApplicationOpenedProperties,
        ApplicationUninstalled,
        ApplicationUpdated,
        ApplicationUpdatedProperties,
        AppVersionProperties,
        MobileEvent,
    )
    from .video import (
        VIDEO_EVENTS,
        VideoAdCompleted,
        VideoAdEvent,
        VideoAdPlaying,
        VideoAdProperties,
        VideoAdStarted,
        VideoContentCompleted,
        VideoContentEvent,
        VideoContentPlaying,
        VideoContentProperties,
        VideoContentStarted,
        VideoEvent,
        VideoPlaybackBufferCompleted,
        VideoPlaybackBufferStarted,
        VideoPlaybackCompleted,
        VideoPlaybackEvent,
        VideoPlaybackExited,
        VideoPlaybackInterrupted,
        VideoPlaybackInterruptedProperties,
        VideoPlaybackPaused,
        VideoPlaybackProperties,
        VideoPlaybackResumed,
        VideoPlaybackSeekCompleted,
        VideoPlaybackSeekStarted,
        VideoPlaybackStarted,
        VideoPlaybackStartedProperties,
        VideoQualityProperties,
        VideoQualityUpdated,
    )

    ALL_EVENTS: dict[str, type[SemanticEvent]]
    SPEC_OF: dict[str, str]

__all__ = [
    "ACTION_EVENTS",
    "ALL_EVENTS",
    "EMAIL_EVENTS",
    "MOBILE_EVENTS",
    "SPEC_OF",
    "VIDEO_EVENTS",
    "ActionEvent",
    "AppVersionProperties",
    "ApplicationBackgrounded",
    "ApplicationCrashed",
    "ApplicationForegrounded",
    "ApplicationInstalled",
    "ApplicationOpened",
    "ApplicationOpenedProperties",
    "ApplicationUninstalled",
    "ApplicationUpdated",
    "ApplicationUpdatedProperties",
    "Context",
    "DeliveryReport",
    "Device",
    "DeviceContext",
    "DeviceCreatedOrUpdated",
    "DeviceDeleted",
    "DeviceEvent",
    "EmailBounced",
    "EmailDelivered",
    "EmailEvent",
    "EmailLinkClicked",
    "EmailLinkClickedProperties",
    "EmailMarkedAsSpam",
    "EmailOpened",
    "EmailProperties",
    "EmailUnsubscribed",
    "EmailUnsubscribedProperties",
    "MobileEvent",
    "ObjectDeleted",
    "ObjectReference",
    "Open",
    "PersonEvent",
    "RelationshipDeleted",
    "ReportDeliveryEvent",
    "SemanticEvent",
    "Traits",
    "UserDeleted",
    "UserSuppressed",
    "UserUnsuppressed",
    "VideoAdCompleted",
    "VideoAdEvent",
    "VideoAdPlaying",
    "VideoAdProperties",
    "VideoAdStarted",
    "VideoContentCompleted",
    "VideoContentEvent",
    "VideoContentPlaying",
    "VideoContentProperties",
    "VideoContentStarted",
    "VideoEvent",
    "VideoPlaybackBufferCompleted",
    "VideoPlaybackBufferStarted",
    "VideoPlaybackCompleted",
    "VideoPlaybackEvent",
    "VideoPlaybackExited",
    "VideoPlaybackInterrupted",
    "VideoPlaybackInterruptedProperties",
    "VideoPlaybackPaused",
    "VideoPlaybackProperties",
    "VideoPlaybackResumed",
    "VideoPlaybackSeekCompleted",
    "VideoPlaybackSeekStarted",
    "VideoPlaybackStarted",
    "VideoPlaybackStartedProperties",
    "VideoQualityProperties",
    "VideoQualityUpdated",
]
