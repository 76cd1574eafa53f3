"""The recording decision: pure, deterministic, and cheap enough to run on every call.

``decide`` reads only its arguments (the policy's prebuilt number index) and returns a
``Decision`` naming the rule that made it, so capture can store the decision with the call and
a scope report can later prove why each call was or was not kept.
"""

from __future__ import annotations

from callvault.errors import BadInput
from callvault.policy.model import Decision, Policy
from callvault.policy.numbers import EXTENSION, normalise_number

INBOUND = "inbound"
OUTBOUND = "outbound"

# Presentation values a telephone system sends instead of a caller's number; never a line.
_NO_NUMBER = frozenset({"", "withheld", "anonymous", "private", "unavailable", "unknown"})


def decide(
    policy: Policy, dialled: str, *, direction: str = INBOUND, caller: str | None = None
) -> Decision:
    """Decide whether a call is recorded.

    Inbound, in order: a line's exact number records (``line:<id>``); an exclusion's number,
    prefix or range does not (``exclusion:<id>``); an extension does not
    (``internal-extension``); anything else does not (``not-listed``). A line number wins over
    a broader exclusion prefix or range because it is checked first.

    Outbound: recorded only when ``caller`` (the service number presented) is a line with
    ``record_outbound`` (``line:<id>:outbound``); otherwise ``outbound-not-covered``.

    Raises BadInput (field ``dialled``, ``caller`` or ``direction``) for malformed input.
    """
    number = normalise_number(dialled, "dialled")
    version = policy.version
    index = policy.index
    if direction == INBOUND:
        line = index.line_by_number.get(number.value)
        if line is not None:
            return Decision(True, line.id, number.value, "line:" + line.id, version)
        exclusion = index.exclusion_for(number.value)
        if exclusion is not None:
            return Decision(False, None, number.value, "exclusion:" + exclusion.id, version)
        rule = "internal-extension" if number.kind == EXTENSION else "not-listed"
        return Decision(False, None, number.value, rule, version)
    if direction == OUTBOUND:
        return _outbound(policy, number.value, caller)
    raise BadInput(
        f"direction: {direction!r} is not a call direction; use 'inbound' or 'outbound'",
        field="direction",
    )


def _outbound(policy: Policy, number: str, caller: str | None) -> Decision:
    if caller is None or caller.strip().lower() in _NO_NUMBER:
        return Decision(False, None, number, "outbound-not-covered", policy.version, OUTBOUND)
    line = policy.index.line_by_number.get(normalise_number(caller, "caller").value)
    if line is not None and line.record_outbound:
        rule = f"line:{line.id}:outbound"
        return Decision(True, line.id, number, rule, policy.version, OUTBOUND)
    return Decision(False, None, number, "outbound-not-covered", policy.version, OUTBOUND)
