"""Mobile app semantic events (spec: ``specs/mobile-app-events.openapi.json``).

https://docs.customer.io/integrations/data-in/semantic-events/mobile-app/

In this spec ``properties`` is optional for every event and ``context`` is a free object (no typed
fields, not even ``traits``), so both stay open here.
"""

from __future__ import annotations

from typing import ClassVar

from .base import Open, SemanticEvent


class AppVersionProperties(Open):
    """The app build the event happened in."""

    version: str | None = None
    build: str | None = None


class ApplicationOpenedProperties(AppVersionProperties):
    from_background: bool | None = None
    url: str | None = None


class ApplicationUpdatedProperties(AppVersionProperties):
    previous_version: str | None = None
    previous_build: str | None = None


class MobileEvent(SemanticEvent):
    """A mobile app lifecycle event; events without typed properties take any properties object."""

    properties: Open | None = None
    context: Open | None = None  # the spec types nothing in it (not even traits)


class ApplicationInstalled(MobileEvent):
    name: ClassVar[str] = "Application Installed"
    properties: AppVersionProperties | None = None


class ApplicationOpened(MobileEvent):
    name: ClassVar[str] = "Application Opened"
    properties: ApplicationOpenedProperties | None = None


class ApplicationBackgrounded(MobileEvent):
    name: ClassVar[str] = "Application Backgrounded"


class ApplicationForegrounded(MobileEvent):
    name: ClassVar[str] = "Application Foregrounded"


class ApplicationUpdated(MobileEvent):
    name: ClassVar[str] = "Application Updated"
    properties: ApplicationUpdatedProperties | None = None


class ApplicationUninstalled(MobileEvent):
    name: ClassVar[str] = "Application Uninstalled"


class ApplicationCrashed(MobileEvent):
    name: ClassVar[str] = "Application Crashed"


MOBILE_EVENTS: tuple[type[MobileEvent], ...] = (
    ApplicationInstalled,
    ApplicationOpened,
    ApplicationBackgrounded,
    ApplicationForegrounded,
    ApplicationUpdated,
    ApplicationUninstalled,
    ApplicationCrashed,
)
