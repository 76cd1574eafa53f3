"""The recording policy as data: lines, exclusions, purposes, roles, retention; pure decisions.

Other packages go through ``callvault.policy.service.PolicyService``; the names re-exported
here are the data types and pure functions that service hands back.
"""

from callvault.policy.decide import decide
from callvault.policy.loader import load_policy, parse_policy
from callvault.policy.model import (
    Announcement,
    Decision,
    Exclusion,
    Line,
    NumberRange,
    Policy,
    Purpose,
    Recipient,
    Retention,
    Role,
)
from callvault.policy.numbers import DialledNumber, normalise_number

__all__ = [
    "Announcement",
    "Decision",
    "DialledNumber",
    "Exclusion",
    "Line",
    "NumberRange",
    "Policy",
    "Purpose",
    "Recipient",
    "Retention",
    "Role",
    "decide",
    "load_policy",
    "normalise_number",
    "parse_policy",
]
