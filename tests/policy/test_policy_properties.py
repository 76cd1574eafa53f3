"""Properties over many generated numbers (seeded, so failures reproduce)."""

from __future__ import annotations

import random
import string

from callvault.errors import BadInput
from callvault.policy.decide import decide
from callvault.policy.model import Policy
from callvault.policy.numbers import normalise_number

SEPARATORS = [" ", "-", ".", ""]


def spell(nsn: str, rng: random.Random) -> str:
    """A random spelling of a UK national significant number."""
    prefix = rng.choice(["0", "+44", "0044", "+44 (0)", "+44 ", "tel:+44", "sip:0"])
    sep = rng.choice(SEPARATORS)
    body = sep.join([nsn[:2], nsn[2:6], nsn[6:]])
    suffix = "@sbc.example" if prefix.startswith("sip:") else ""
    return f"{prefix}{body}{suffix}"


def test_staff_blocks_record_only_line_numbers(example: Policy) -> None:
    rng = random.Random(2026)
    for _ in range(3000):
        nsn = rng.choice(["208753", "208748", "208741"]) + f"{rng.randrange(10_000):04d}"
        raw = spell(nsn, rng)
        decision = decide(example, raw)
        line = example.line_for_number("+44" + nsn)
        assert decision.number == "+44" + nsn, raw
        assert decision.record is (line is not None), raw
        if line is not None:
            assert decision.rule == f"line:{line.id}"
        elif nsn.startswith("208741"):
            assert decision.rule == "not-listed"
        else:
            assert decision.rule == "exclusion:staff_extensions"


def test_normalisation_is_idempotent_and_arbitrary_text_is_bad_input(example: Policy) -> None:
    rng = random.Random(7)
    alphabet = string.digits * 4 + " +-().:@;abcxyz%"
    for _ in range(5000):
        raw = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 20)))
        try:
            number = normalise_number(raw, field="dialled")
        except BadInput as error:
            assert error.field == "dialled"
            continue
        assert normalise_number(number.value) == number
        decision = decide(example, raw)
        assert decision.record is decision.rule.startswith("line:")
