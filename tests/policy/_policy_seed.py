"""The seed's numbers and the spellings they arrive in (imported by the policy tests)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from callvault.policy.loader import parse_policy
from callvault.policy.model import Policy

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "policies" / "council-example.yaml"
BASE: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
Mutation = Callable[[dict[str, Any]], object]


def load(mutate: Mutation) -> Policy:
    """The shipped example with ``mutate(data)`` applied, parsed as a file would be."""
    data = copy.deepcopy(BASE)
    mutate(data)
    return parse_policy(yaml.safe_dump(data, sort_keys=False), source="test.yaml")


# Every number in shared/seed/call-recording-policy.txt, with the line it belongs to.
SEED_NUMBERS = [
    ("out_of_hours", "020 8748 8588"),
    ("switchboard", "020 8748 3020"),
    ("cleaner_greener", "020 8753 1100"),
    ("electoral_services", "020 8753 4466"),
    ("environmental_services", "020 8753 1081"),
    ("registrars", "020 8753 2140"),
    ("family_information", "020 8753 2450"),
    ("resident_services", "020 8753 6681"),
    ("leaseholders", "020 8753 4500"),
    ("parking", "020 7371 5678"),
    ("rent_income", "020 8753 6032"),
    ("resident_experience", "020 8753 2456"),
    ("adult_social_care", "0800 145 6095"),
    ("housing_advice", "020 8753 4321"),
    ("careline", "020 8741 2403"),
    ("careline", "020 8741 4008"),
    ("homebuy", "020 8753 6164"),
    ("csd_reablement", "020 8753 6613"),
    ("housing_repairs", "0800 023 4499"),
]


def spellings(national: str) -> list[str]:
    """The ways people and telephone systems write one UK national number."""
    digits = national.replace(" ", "")
    nsn = digits[1:]
    groups = national.split(" ")
    return [
        national,
        digits,
        "+44" + nsn,
        "+44 " + " ".join([groups[0][1:], *groups[1:]]),
        "0044" + nsn,
        "00 44 " + nsn,
        "+44 (0)" + " ".join([groups[0][1:], *groups[1:]]),
        "-".join(groups),
        f"({groups[0]}) {' '.join(groups[1:])}",
        ".".join(groups),
        f"  {national}\t",
        f"tel:+44{nsn}",
        f"tel:{'-'.join(groups)}",
        f"sip:+44{nsn}@sbc.example;user=phone",
        f"sips:{digits}@pbx.example.org",
        f"<sip:+44{nsn}@10.0.0.1:5060>",
        f"SIP:%2B44{nsn}@sbc.example",
    ]
