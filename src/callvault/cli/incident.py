"""``callvault incident open/link/close/show/list``: customer conduct incidents, always ``--as``
the safety and conduct officer (or an authorised manager) whose case it is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from callvault.access.disclosures import METHODS
from callvault.bootstrap import build
from callvault.cli.access import acting_as, as_option
from callvault.cli.output import emit, json_option
from callvault.conduct.evidence import bundle_incident
from callvault.conduct.service import OUTCOMES, IncidentService


def _incident_text(incident: dict[str, Any]) -> str:
    state = (f"closed {incident['closed_at'][:10]}: {incident['outcome']}"
             if incident["closed_at"] else "open")  # fmt: skip
    rows = [f"{incident['ref']}  {state}  opened {incident['opened_at'][:10]} by "
            f"{incident['opened_by']}", f"  {incident['summary']}"]  # fmt: skip
    for rec in incident["recordings"]:
        flag = f" flag {rec['rule']} at {rec['start_s']:.1f} s" if rec["flag_id"] else ""
        hold = "released" if rec["hold_released_at"] else "held"
        rows.append(f"  {rec['recording_id']}  {rec['line']:<16} {rec['started_at'][:16]}"
                    f"  {hold}{flag}")  # fmt: skip
    rows.extend(f"  grant {g['id']} {g['requester']} {g['status']}" for g in incident["grants"])
    rows.extend(f"  bundle {b['id']} by {b['exported_by']} {b['exported_at'][:10]}"
                for b in incident["bundles"])  # fmt: skip
    return "\n".join(rows)


@click.group("incident")
def incident_group() -> None:
    """Customer conduct incidents: flagged calls, their holds and the evidence for a case."""


@incident_group.command("open")
@click.option("--summary", required=True, help="What happened (kept with the incident only).")
@click.option("--flag", "flag_ids", multiple=True, help="A conduct flag id (repeatable).")
@click.option("--recording", "recording_ids", multiple=True, help="A recording id (repeatable).")
@click.option("--note", default="", help="A note on each link.")
@as_option
@json_option
def open_command(
    summary: str,
    flag_ids: tuple[str, ...],
    recording_ids: tuple[str, ...],
    note: str,
    as_user: str,
    as_json: bool,
) -> None:
    """Open an incident; each linked recording is held under its reference at once."""
    services = build()
    incident = IncidentService.for_services(services).open(
        acting_as(services, as_user), summary, recording_ids=recording_ids, flag_ids=flag_ids,
        note=note,
    )  # fmt: skip
    emit(as_json, incident, lambda: _incident_text(incident))


@incident_group.command("link")
@click.argument("ref")
@click.option("--flag", "flag_id", help="A conduct flag id.")
@click.option("--recording", "recording_id", help="A recording id.")
@click.option("--note", default="", help="Why it belongs to the incident.")
@as_option
@json_option
def link_command(
    ref: str,
    flag_id: str | None,
    recording_id: str | None,
    note: str,
    as_user: str,
    as_json: bool,
) -> None:
    """Add a flagged call or a recording to an open incident (and hold it)."""
    services = build()
    incident = IncidentService.for_services(services).link(
        acting_as(services, as_user), ref, recording_id=recording_id, flag_id=flag_id, note=note
    )
    emit(as_json, incident, lambda: _incident_text(incident))


@incident_group.command("close")
@click.argument("ref")
@click.option("--outcome", type=click.Choice(OUTCOMES), required=True, help="How it ended.")
@click.option("--note", required=True, help="What was decided, for the record.")
@as_option
@json_option
def close_command(ref: str, outcome: str, note: str, as_user: str, as_json: bool) -> None:
    """Close an incident. injunction and police_referral keep the holds; others release them."""
    services = build()
    incident = IncidentService.for_services(services).close(
        acting_as(services, as_user), ref, outcome, note
    )
    emit(as_json, incident, lambda: _incident_text(incident))


@incident_group.command("show")
@click.argument("ref")
@as_option
@json_option
def show_command(ref: str, as_user: str, as_json: bool) -> None:
    """One incident: its recordings, flags, holds, grants and evidence bundles."""
    services = build()
    incident = IncidentService.for_services(services).get(acting_as(services, as_user), ref)
    emit(as_json, incident, lambda: _incident_text(incident))


@incident_group.command("list")
@click.option("--all", "all_", is_flag=True, help="Closed incidents too (default: open only).")
@as_option
@json_option
def list_command(all_: bool, as_user: str, as_json: bool) -> None:
    """Incidents, newest first."""
    services = build()
    found = IncidentService.for_services(services).list(
        acting_as(services, as_user), open_only=not all_
    )
    text = "\n".join(
        f"{i['ref']}  {'closed: ' + i['outcome'] if i['closed_at'] else 'open':<28} "
        f"{i['opened_at'][:10]} {i['opened_by']:<14} {i['recordings']} recording(s)"
        for i in found
    )
    emit(as_json, {"incidents": found}, text or "no incidents")


@incident_group.command("bundle")
@click.argument("ref")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path),
              help="An existing folder; one <REF>-<n>.zip is written per recording.")  # fmt: skip
@click.option("--recipient", required=True, help="The person it goes to.")
@click.option("--organisation", required=True, help="Their organisation (e.g. the court).")
@click.option("--reason", required=True, help="Why it is disclosed (e.g. injunction application).")
@click.option("--method", type=click.Choice(METHODS), required=True, help="How it will be sent.")
@as_option
@json_option
def bundle_command(
    ref: str,
    out_dir: Path,
    recipient: str,
    organisation: str,
    reason: str,
    method: str,
    as_user: str,
    as_json: bool,
) -> None:
    """Signed evidence bundles of every recording of the incident, each under your own
    staff_safety grant naming its reference, each entered in the disclosure register."""
    services = build()
    made = bundle_incident(
        services, acting_as(services, as_user), ref, out_dir, recipient=recipient,
        organisation=organisation, reason=reason, method=method,
    )  # fmt: skip
    emit(as_json, made, lambda: "\n".join(b["path"] for b in made["bundles"]))


COMMANDS = [incident_group]
