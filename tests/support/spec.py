"""One call for source tests: is this emitted body a valid Customer.io semantic event?

It asks the contract suite's reading of the seed specs (tests/contract/spec_contract.py): the
event's own component (with JSON integers for integer members) and the ``/track`` request body
``oneOf`` of its spec, which must match exactly one event.
"""

from __future__ import annotations

from typing import Any

from tests.contract.spec_contract import contracts, errors


def spec_errors(body: dict[str, Any]) -> list[str]:
    contract = contracts().get(body.get("event"))  # type: ignore[arg-type]
    if contract is None:
        return [f"{body.get('event')!r} is not one of the 38 semantic events"]
    return errors(contract.emitted, body) + errors(contract.request_body, body)


def assert_valid_event(body: dict[str, Any]) -> None:
    problems = spec_errors(body)
    assert not problems, f"{body.get('event')}: {problems}"
