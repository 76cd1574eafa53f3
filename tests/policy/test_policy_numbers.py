"""Number normalisation: every usual spelling in, one canonical form out, or a clear error."""

from __future__ import annotations

import pytest
from _policy_seed import SEED_NUMBERS, spellings

from callvault.errors import BadInput
from callvault.policy.numbers import DialledNumber, normalise_number, normalise_prefix

SEED_CASES = [
    (raw, "+44" + national.replace(" ", "")[1:])
    for _, national in SEED_NUMBERS
    for raw in spellings(national)
]


@pytest.mark.parametrize(("raw", "expected"), SEED_CASES)
def test_seed_numbers_in_every_spelling_become_e164(raw: str, expected: str) -> None:
    assert normalise_number(raw) == DialledNumber(expected, "e164")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+33 1 23 45 67 89", "+33123456789"),
        ("0033 1 23 45 67 89", "+33123456789"),
        ("+1 (212) 555-0100", "+12125550100"),
        ("tel:+353-1-234-5678", "+35312345678"),
        ("07700 900123", "+447700900123"),  # UK mobile
        ("01632 960123", "+441632960123"),  # 01 area code, 10-digit NSN
        ("016977 3456", "+44169773456"),  # 01 area code, 9-digit NSN
    ],
)
def test_other_numbers_become_e164(raw: str, expected: str) -> None:
    assert normalise_number(raw) == DialledNumber(expected, "e164")


@pytest.mark.parametrize("raw", ["12", "77", "4008", "21403", "123456", " 4008 ", "sip:4008@pbx"])
def test_short_internal_numbers_are_extensions(raw: str) -> None:
    result = normalise_number(raw)
    assert result.kind == "extension"
    assert result.value == raw.strip().removeprefix("sip:").removesuffix("@pbx")


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("+", "empty"),
        ("withheld", "only digits"),
        ("anonymous", "only digits"),
        ("020 8748 302O", "only digits"),  # letter O for zero
        ("1", "an extension has 2 to 6 digits"),
        ("0", "too short"),
        ("+44", "too short"),
        ("00", "7 to 15 digits"),
        ("1234567", "longer numbers start 0 or +"),
        ("+44 12", "UK numbers starting 01 have 10 or 11 digits"),
        ("020 8748 302", "UK numbers starting 02 have 11 digits"),
        ("020 8748 30200", "UK numbers starting 02 have 11 digits"),
        ("0800 1111", "UK numbers starting 08 have 10 or 11 digits"),
        ("04 1234 5678", "UK numbers do not start 04"),
        ("+0 123 456 789", "country codes do not start with 0"),
        ("+33 1", "7 to 15 digits"),
        ("+1 234 567 890 123 456", "7 to 15 digits"),
        ("0" * 30, "too long"),
        ("sip:sbc.example", "no user part"),
        ("sip:@sbc.example", "no user part"),
        ("tel:", "no number"),
        ("tel:;phone-context=example.com", "no number"),
        ("sip:alice@example.com", "only digits"),
        ("٠٢٠٨٧٤٨٣٠٢٠", "only digits"),  # Arabic-Indic digits are not dialable
        ("020 8748 3020 ext 12", "only digits"),
    ],
)
def test_non_numbers_are_bad_input_naming_the_field(raw: str, why: str) -> None:
    with pytest.raises(BadInput) as caught:
        normalise_number(raw, field="meta.dialled")
    assert caught.value.field == "meta.dialled"
    assert caught.value.message.startswith("meta.dialled: ")
    assert why in caught.value.message
    # The message says what a valid number looks like.
    assert "020 8748 3020" in caught.value.message
    assert "extension of 2 to 6 digits" in caught.value.message


def test_default_field_name_is_number() -> None:
    with pytest.raises(BadInput) as caught:
        normalise_number("nope")
    assert caught.value.field == "number"


def test_non_string_is_bad_input() -> None:
    with pytest.raises(BadInput) as caught:
        normalise_number(2087483020, field="dialled")  # type: ignore[arg-type]
    assert caught.value.field == "dialled"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("020 8753", "+44208753"),
        ("+44 20 8753", "+44208753"),
        ("+44 (0)20 8753", "+44208753"),
        ("0044 20", "+4420"),
        ("0033", "+33"),
        ("4", "4"),
    ],
)
def test_prefixes_use_the_same_canonical_form(raw: str, expected: str) -> None:
    assert normalise_prefix(raw) == expected


@pytest.mark.parametrize("raw", ["", "020 ABC", "+"])
def test_bad_prefix_is_bad_input(raw: str) -> None:
    with pytest.raises(BadInput) as caught:
        normalise_prefix(raw, field="exclusions[0].prefixes[0]")
    assert caught.value.field == "exclusions[0].prefixes[0]"
    assert "020 8753" in caught.value.message
