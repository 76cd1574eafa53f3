"""Property tests with hypothesis (skipped where hypothesis is not installed)."""

from __future__ import annotations

import pytest

from callvault.errors import BadInput
from callvault.policy.decide import decide
from callvault.policy.model import Policy
from callvault.policy.numbers import normalise_number

pytest.importorskip("hypothesis")

# Imported after the skip (so a missing hypothesis skips) and by name (so mypy sees its types).
import hypothesis
from hypothesis import strategies as st


@hypothesis.given(text=st.text(max_size=40))
def test_decide_returns_a_decision_or_bad_input(example: Policy, text: str) -> None:
    try:
        decision = decide(example, text)
    except BadInput as error:
        assert error.field == "dialled"
    else:
        assert decision.record is decision.rule.startswith("line:")
        assert normalise_number(decision.number).value == decision.number


@hypothesis.given(
    first=st.sampled_from(["2", "3", "7"]),
    rest=st.text(alphabet="0123456789", min_size=9, max_size=9),
    prefix=st.sampled_from(["0", "+44", "0044", "+44 (0)", "tel:+44", "sip:+44"]),
    sep=st.sampled_from([" ", "-", ".", ""]),
)
def test_uk_numbers_in_any_spelling(first: str, rest: str, prefix: str, sep: str) -> None:
    nsn = first + rest
    body = sep.join([nsn[:3], nsn[3:6], nsn[6:]])
    raw = f"{prefix}{body}" + ("@sbc" if prefix.startswith("sip:") else "")
    assert normalise_number(raw).value == "+44" + nsn
