"""Customer.io action events (spec: ``specs/customerio-actions.openapi.json``).

https://docs.customer.io/integrations/data-in/semantic-events/cio-journeys/

These events act on the workspace: they manage device tokens, delete or (un)suppress people, delete
objects and relationships, and report in-app message metrics. Unlike the other families they are
not a Known/Anonymous ``oneOf``: each names the identity it needs (see ``base.IdentityRule``).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from .base import IdentityRule, NonEmptyStr, Open, SemanticEvent

DeviceType = Literal["ios", "android"]
DeliveryMetric = Literal["delivered", "clicked", "converted", "opened"]


class Device(Open):
    token: NonEmptyStr
    type: DeviceType | None = None


class DeviceContext(Open):
    """The spec puts the device, and its required token, in ``context.device``."""

    device: Device


class ObjectReference(Open):
    """The object a deletion is about; the spec's ``objectTypeId`` default (1) is left to Customer.io."""

    objectId: NonEmptyStr
    objectTypeId: int | None = None


class DeliveryReport(Open):
    """A metric of an in-app (or other) message delivery."""

    deliveryId: NonEmptyStr
    metric: DeliveryMetric
    recipient: str | None = None
    reason: str | None = None
    actionValue: str | None = None
    href: str | None = None


class ActionEvent(SemanticEvent):
    identity: ClassVar[IdentityRule] = "user"
    context: Open | None = None  # the spec types nothing in it (not even traits)


class DeviceEvent(ActionEvent):
    """No ``properties`` here: the spec defines none for device events."""

    context: DeviceContext


class DeviceCreatedOrUpdated(DeviceEvent):
    name: ClassVar[str] = "Device Created or Updated"


class DeviceDeleted(DeviceEvent):
    name: ClassVar[str] = "Device Deleted"


class PersonEvent(ActionEvent):
    properties: Open | None = None


class UserDeleted(PersonEvent):
    name: ClassVar[str] = "User Deleted"


class UserSuppressed(PersonEvent):
    name: ClassVar[str] = "User Suppressed"


class UserUnsuppressed(PersonEvent):
    name: ClassVar[str] = "User Unsuppressed"


class RelationshipDeleted(ActionEvent):
    """Removes the relationship between the person (``userId``) and the object."""

    name: ClassVar[str] = "Relationship Deleted"
    properties: ObjectReference


class ObjectDeleted(ActionEvent):
    """Deletes an object; the spec identifies the call by ``anonymousId`` only."""

    name: ClassVar[str] = "Object Deleted"
    identity: ClassVar[IdentityRule] = "anonymous"
    properties: ObjectReference


class ReportDeliveryEvent(ActionEvent):
    name: ClassVar[str] = "Report Delivery Event"
    identity: ClassVar[IdentityRule] = "none"
    properties: DeliveryReport


ACTION_EVENTS: tuple[type[ActionEvent], ...] = (
    DeviceCreatedOrUpdated,
    DeviceDeleted,
    UserDeleted,
    UserSuppressed,
    UserUnsuppressed,
    RelationshipDeleted,
    ObjectDeleted,
    ReportDeliveryEvent,
)
