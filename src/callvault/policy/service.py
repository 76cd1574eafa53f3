"""The one entry point other packages use for the recording policy.

Capture asks ``decide`` for every call; the CLI's ``policy check`` and ``policy show`` and the
fair processing notice read through here, so all of them see the same loaded version.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from callvault.policy.decide import INBOUND, decide
from callvault.policy.loader import load_policy, policy_as_data
from callvault.policy.model import Decision, Policy


class PolicyService:
    """Holds one loaded, validated ``Policy`` and answers questions about it."""

    def __init__(self, policy: Policy) -> None:
        """Wrap an already validated policy (see ``from_path`` to load one from a file)."""
        self._policy = policy

    @classmethod
    def from_path(cls, path: Path) -> PolicyService:
        """Load and validate the policy file at ``path``; raises ConfigError naming the field."""
        return cls(load_policy(path))

    @property
    def policy(self) -> Policy:
        """The loaded policy (immutable)."""
        return self._policy

    @property
    def version(self) -> str:
        """The policy version stamped on every decision (``<effective date>+<hash>``)."""
        return self._policy.version

    def check(self, number: str) -> Decision:
        """The decision for an inbound call to ``number``; BadInput (field ``dialled``) if bad."""
        return decide(self._policy, number, direction=INBOUND)

    def decide(
        self, dialled: str, *, direction: str = INBOUND, caller: str | None = None
    ) -> Decision:
        """The decision for one call, as capture asks it (see ``policy.decide.decide``)."""
        return decide(self._policy, dialled, direction=direction, caller=caller)

    def show(self) -> dict[str, Any]:
        """The policy as plain JSON-able data, for ``callvault policy show --json``."""
        return policy_as_data(self._policy)
