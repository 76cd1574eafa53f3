"""``callvault retention run`` reports the records built on recordings that it deletes (or, in a
dry run, would delete) beside its own keys, which stay as scripts know them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from access.access_helpers import add_people, as_person, record
from callvault.bootstrap import Services
from callvault.cli.main import main
from callvault.conduct.service import IncidentService
from callvault.context import RequestContext
from homes import run_cli

OWN = {"purged", "held", "kept", "pending", "run_id", "as_of", "dry_run", "recomputed",
       "would_purge"}  # fmt: skip
KEYS = OWN | {"evaluations_expired", "quality_samples_expired", "incidents_expired",
              "incidents_held"}  # fmt: skip


def test_the_run_reports_what_it_would_delete_and_changes_nothing(
    services: Services,
    ctx: RequestContext,
    call_wav: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CALLVAULT_HOME", str(services.settings.home))
    add_people(services, ctx)
    people, sam = IncidentService.for_services(services), as_person(services, "sam")
    ref = people.open(sam, "Abusive caller", recording_ids=[record(services, ctx, call_wav)])["ref"]
    people.close(sam, ref, "warning_letter", "Letter sent.")

    code, today, _ = run_cli(["retention", "run", "--dry-run"], capsys)
    assert code == 0 and set(today) == KEYS and today["incidents_expired"] == 0
    ahead = (datetime.now(UTC) + timedelta(days=7 * 366)).isoformat()
    code, later, _ = run_cli(["retention", "run", "--dry-run", "--now", ahead], capsys)
    assert code == 0 and (later["incidents_expired"], later["evaluations_expired"]) == (1, 0)

    with pytest.raises(SystemExit) as exited:
        main(["retention", "run", "--dry-run", "--now", ahead])
    assert exited.value.code in (0, None)
    assert "would delete: 0 quality evaluations, 0 sampled calls, 1 closed incidents" in (
        capsys.readouterr().out
    )
    assert people.get(sam, ref)["outcome"] == "warning_letter"  # still there
