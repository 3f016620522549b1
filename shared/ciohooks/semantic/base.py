"""What every Customer.io semantic event has in common.

The seed specs (``ciohooks/specs/*.openapi.json``) are the contract. Each event there is a
``track`` call whose identity is one of four shapes:

- ``either``: a ``oneOf`` of Known User (``userId``) and Anonymous User (``anonymousId``). Sending
  both matches both branches and fails the ``oneOf``, so exactly one is allowed.
- ``user``: ``userId`` required (device and person actions).
- ``anonymous``: ``anonymousId`` required (Object Deleted).
- ``none``: neither is required (Report Delivery Event); at most one is sent.

The models are at least as strict as the specs: whatever validates here validates there.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

NonEmptyStr = Annotated[str, Field(min_length=1)]
IdentityRule = Literal["either", "user", "anonymous", "none"]


class Open(BaseModel):
    """An object the spec leaves open (``additionalProperties``): typed fields plus anything else."""

    # defer_build: the validator is built on first use, not at import (cold starts pay only for
    # the models a request really touches).
    # validate_assignment: a value set after construction is checked like one given to it, so
    # what to_cio() dumps is always what the model accepted.
    model_config = ConfigDict(extra="allow", defer_build=True, validate_assignment=True)


class Traits(Open):
    email: str | None = None
    ip: str | None = None
    user_agent: str | None = None


class Context(Open):
    traits: Traits | None = None


def identity_problem(rule: IdentityRule, name: str, has_user: bool, has_anon: bool) -> str | None:
    """What is wrong with an event's identity under ``rule`` (None: nothing). The model's
    validator and its plain mirror (``plain.py``) both ask here."""
    if has_user and has_anon:
        return "send exactly one of userId and anonymousId, not both"
    if rule == "either" and not (has_user or has_anon):
        return f"{name} needs a userId or an anonymousId"
    if rule == "user" and not has_user:
        return f"{name} needs a userId"
    if rule == "anonymous" and not has_anon:
        return f"{name} needs an anonymousId"
    return None


class SemanticEvent(BaseModel):
    """A ``track`` call of one semantic event. Subclasses set ``name`` and narrow ``properties``."""

    model_config = ConfigDict(extra="forbid", defer_build=True, validate_assignment=True)

    name: ClassVar[str]
    identity: ClassVar[IdentityRule] = "either"

    # Who the event is about is fixed at construction: the identity rule spans both fields, and an
    # assignment failing that rule would otherwise leave the new value in place.
    userId: NonEmptyStr | None = Field(default=None, frozen=True)
    anonymousId: NonEmptyStr | None = Field(default=None, frozen=True)
    messageId: NonEmptyStr | None = None
    timestamp: AwareDatetime | None = None
    context: Context | None = None
    integrations: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_identity(self) -> SemanticEvent:
        if (problem := identity_problem(self.identity, self.name, self.userId is not None, self.anonymousId is not None)) is not None:
            raise ValueError(problem)
        return self

    def to_cio(self) -> dict[str, Any]:
        """The JSON body of this event as Customer.io's ``/v1/track`` (or a ``/v1/batch`` item) takes it.

        Every field was validated on construction or assignment (``validate_assignment``), so the
        dump needs no second validation.
        """
        return {"type": "track", "event": self.name, **self.model_dump(mode="json", exclude_none=True)}
