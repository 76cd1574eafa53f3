"""Shared fixtures: the shipped example policy, loaded once."""

from __future__ import annotations

import pytest
from _policy_seed import EXAMPLE

from callvault.policy.loader import load_policy
from callvault.policy.model import Policy


@pytest.fixture(scope="session")
def example() -> Policy:
    """The shipped example policy, loaded once."""
    return load_policy(EXAMPLE)


@pytest.fixture(scope="session")
def example_text() -> str:
    """The shipped example policy's YAML text."""
    return EXAMPLE.read_text(encoding="utf-8")
