"""PolicyService: the door other packages use."""

from __future__ import annotations

import json

from _policy_seed import EXAMPLE

from callvault.policy.service import PolicyService


def test_check_and_decide() -> None:
    service = PolicyService.from_path(EXAMPLE)
    assert service.check("020 8753 4321").as_dict()["line"] == "housing_advice"
    assert service.check("020 8753 9999").rule == "exclusion:staff_extensions"
    outbound = service.decide("07700 900123", direction="outbound", caller="020 8753 4321")
    assert outbound.rule == "outbound-not-covered"
    assert service.check("4008").policy_version == service.version == service.policy.version


def test_show_is_plain_json_data() -> None:
    shown = PolicyService.from_path(EXAMPLE).show()
    assert json.loads(json.dumps(shown)) == shown
    assert shown["effective_date"] == "2026-11-01"
    assert shown["version"].startswith("2026-11-01+")
    assert len(shown["source_sha256"]) == 64
    careline = next(line for line in shown["lines"] if line["id"] == "careline")
    assert careline["numbers"] == ["+442087412403", "+442087414008"]
    assert careline["retention"] == {"months": 12, "days": 0}
    assert careline["announcement"]["required"] is True
    assert "index" not in shown
    assert set(shown) == {
        "name",
        "effective_date",
        "controller",
        "dpo_contact",
        "notice_version",
        "lines",
        "exclusions",
        "purposes",
        "roles",
        "recipients",
        "opening_hours",
        "topics",
        "quality",
        "conduct",
        "transfers",
        "version",
        "source_sha256",
    }
