"""``callvault rights ...``: subject access, erasure and objection requests, with their clock."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from callvault.bootstrap import build
from callvault.cli.access import acting_as, as_option
from callvault.cli.output import emit, json_option
from callvault.rights.erasure import DECISIONS, ERASE_REASONS, KEEP_REASONS, ErasureDecisions
from callvault.rights.model import RightsRequest
from callvault.rights.package import Packager
from callvault.rights.review import ItemReview, ReviewService
from callvault.rights.review_terms import OUTCOMES, REASON_CODES, parse_mute_option
from callvault.rights.service import CLOSE_OUTCOMES, RightsService
from callvault.rights.terms import IDENTITY, KINDS, PAUSE_REASONS


def _service() -> tuple[Any, RightsService]:
    services = build()
    return services, RightsService.for_services(services)


def _line(request: RightsRequest, rights: RightsService) -> str:
    clock = request.clock
    if request.state != "open":
        due = request.state
    elif clock.stopped:
        due = "clock stopped"
    else:
        left = clock.days_left(rights.today())
        due = (
            f"due {clock.deadline} ({left} days)"
            if left is None or left >= 0
            else (f"OVERDUE since {clock.deadline}")
        )
    found = f"  {len(request.items)} recording(s)" if request.items else ""
    return f"{request.ref:<16} {request.kind:<9} received {request.received_on}  {due}{found}"


def _emit(as_json: bool, request: RightsRequest, rights: RightsService, verb: str) -> None:
    emit(as_json, request.as_dict(rights.today()), f"{verb}: {_line(request, rights)}")


@click.group("rights")
def rights_group() -> None:
    """People's rights: subject access (Art. 15), erasure (Art. 17), objection (Art. 21)."""


@rights_group.command("open")
@click.option("--kind", type=click.Choice(KINDS), default="access", show_default=True)
@click.option("--ref", help="Case reference (subject access: the policy's SAR-YYYY-NNN form).")
@click.option("--requester", help="The requester's name.")
@click.option("--contact", help="Where the response goes (address or email).")
@click.option("--received", metavar="YYYY-MM-DD", help="Day received (default: today).")
@click.option(
    "--identity",
    type=click.Choice(IDENTITY),
    help="verified, or awaiting (proof asked for: the clock stops until it comes).",
)
@click.option("--phone", "phones", multiple=True, help="A number they called from (repeat).")
@click.option("--from", "from_", metavar="YYYY-MM-DD", help="Only calls on or after this day.")
@click.option("--to", metavar="YYYY-MM-DD", help="Only calls on or before this day.")
@click.option("--note", help="Anything the next reader needs to know.")
@as_option
@json_option
def open_command(
    kind: str,
    ref: str | None,
    requester: str | None,
    contact: str | None,
    received: str | None,
    identity: str | None,
    phones: tuple[str, ...],
    from_: str | None,
    to: str | None,
    note: str | None,
    as_user: str,
    as_json: bool,
) -> None:
    """Register a request and search for the requester's calls; a subject access request
    holds what it finds (DPA 2018 s.173)."""
    services, rights = _service()
    request = rights.open(
        acting_as(services, as_user), kind=kind, ref=ref, requester=requester, contact=contact,
        received_on=received, identity=identity, phones=phones, started_from=from_,
        started_to=to, note=note,
    )  # fmt: skip
    _emit(as_json, request, rights, "opened")


@rights_group.command("show")
@click.argument("ref")
@as_option
@json_option
def show_command(ref: str, as_user: str, as_json: bool) -> None:
    """A request with its clock, pauses, searches and recordings."""
    services, rights = _service()
    request = rights.get(acting_as(services, as_user), ref)
    _emit(as_json, request, rights, request.ref)


@rights_group.command("due")
@click.option("--days", type=int, help="Only those due within this many days (7: this week).")
@click.option("--all", "include_closed", is_flag=True, help="Closed requests too.")
@as_option
@json_option
def due_command(days: int | None, include_closed: bool, as_user: str, as_json: bool) -> None:
    """Open requests, soonest deadline first (overdue ones first of all)."""
    services, rights = _service()
    due_by = rights.today() + timedelta(days=days) if days is not None else None
    found = rights.deadlines(
        acting_as(services, as_user), due_by=due_by, include_closed=include_closed
    )
    today = rights.today()
    emit(
        as_json,
        {"requests": [r.as_dict(today) for r in found]},
        lambda: "\n".join(_line(r, rights) for r in found) or "no requests",
    )


@rights_group.command("pause")
@click.argument("ref")
@click.option("--reason", type=click.Choice(PAUSE_REASONS), help="What the council waits for.")
@click.option("--on", metavar="YYYY-MM-DD", help="The day you asked (default: today).")
@click.option("--note", help="What was asked, and how.")
@as_option
@json_option
def pause_command(
    ref: str, reason: str | None, on: str | None, note: str | None, as_user: str, as_json: bool
) -> None:
    """Stop the clock while waiting for identity or clarification (Art. 12A)."""
    services, rights = _service()
    request = rights.pause(acting_as(services, as_user), ref, reason=reason, on=on, note=note)
    _emit(as_json, request, rights, "paused")


@rights_group.command("resume")
@click.argument("ref")
@click.option("--on", metavar="YYYY-MM-DD", help="The day the answer came (default: today).")
@as_option
@json_option
def resume_command(ref: str, on: str | None, as_user: str, as_json: bool) -> None:
    """Restart the clock; proof of identity received marks the requester verified."""
    services, rights = _service()
    request = rights.resume(acting_as(services, as_user), ref, on=on)
    _emit(as_json, request, rights, "resumed")


@rights_group.command("extend")
@click.argument("ref")
@click.option("--months", type=int, help="1 or 2 further months (complex requests).")
@click.option("--reason", help="Why the request is complex (told to the requester).")
@click.option("--told-on", metavar="YYYY-MM-DD", help="The day the requester was told.")
@as_option
@json_option
def extend_command(
    ref: str,
    months: int | None,
    reason: str | None,
    told_on: str | None,
    as_user: str,
    as_json: bool,
) -> None:
    """Extend the deadline; the requester must be told within the first month."""
    services, rights = _service()
    request = rights.extend(
        acting_as(services, as_user), ref, months=months, reason=reason, told_on=told_on
    )
    _emit(as_json, request, rights, "extended")


@rights_group.command("search")
@click.argument("ref")
@click.option("--phone", "phones", multiple=True, help="Search these numbers (default: known).")
@click.option("--from", "from_", metavar="YYYY-MM-DD", help="Only calls on or after this day.")
@click.option("--to", metavar="YYYY-MM-DD", help="Only calls on or before this day.")
@as_option
@json_option
def search_command(
    ref: str,
    phones: tuple[str, ...],
    from_: str | None,
    to: str | None,
    as_user: str,
    as_json: bool,
) -> None:
    """Search again; what is new joins the request (and, for subject access, is held)."""
    services, rights = _service()
    request = rights.search(
        acting_as(services, as_user), ref, phones=phones, started_from=from_, started_to=to
    )
    _emit(as_json, request, rights, "searched")


@rights_group.command("close")
@click.argument("ref")
@click.option("--outcome", type=click.Choice(CLOSE_OUTCOMES), help="How the request ended.")
@click.option("--note", help="Required unless responded: why.")
@as_option
@json_option
def close_command(
    ref: str, outcome: str | None, note: str | None, as_user: str, as_json: bool
) -> None:
    """Close the request; the holds it placed are released."""
    services, rights = _service()
    request = rights.close(acting_as(services, as_user), ref, outcome=outcome, note=note)
    _emit(as_json, request, rights, "closed")


@rights_group.command("decide")
@click.argument("ref")
@click.argument("recording_id")
@click.option("--decision", type=click.Choice(DECISIONS), help="Erase the recording, or keep it.")
@click.option(
    "--reason-code",
    help="erase: " + ", ".join(ERASE_REASONS) + "; keep: " + ", ".join(KEEP_REASONS) + ".",
)
@click.option("--note", help="The reasoning (required for public_task and compelling_grounds).")
@as_option
@json_option
def decide_command(
    ref: str,
    recording_id: str,
    decision: str | None,
    reason_code: str | None,
    note: str | None,
    as_user: str,
    as_json: bool,
) -> None:
    """Decide one recording of an erasure or objection request; erase shreds it at once."""
    services = build()
    decisions = ErasureDecisions.for_services(services)
    item = decisions.decide(
        acting_as(services, as_user), ref, recording_id, decision=decision,
        reason_code=reason_code, note=note,
    )  # fmt: skip
    certificate = (
        f" (certificate: audit entry {item.certificate_seq})" if item.certificate_seq else ""
    )
    emit(as_json, item.as_dict(), f"{recording_id}: {item.outcome}{certificate}")


@rights_group.command("finish")
@click.argument("ref")
@as_option
@json_option
def finish_command(ref: str, as_user: str, as_json: bool) -> None:
    """Finish erasures an interruption left decided but not yet shredded."""
    services = build()
    done = ErasureDecisions.for_services(services).resume(acting_as(services, as_user), ref)
    emit(as_json, {"erased": done}, f"erased {len(done)} recording(s)")


# -- review and response package (subject access) --------------------------------------------


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}.{int((seconds - whole) * 10)}"


def _item_text(view: ItemReview) -> str:
    item = view.item
    decided = item.outcome
    if item.outcome == "withheld":
        decided += f" ({item.reason_code})"
    if item.decided_by:
        decided += f" by {item.decided_by}"
    out = [
        f"{view.ref} recording {item.number} of {view.count} ({item.recording_id}): "
        f"{item.started_on} {item.line}, {item.duration_s:.1f} s — {decided}"
    ]
    if view.package_stale:
        out.append("  a decision changed after the last package: make it again")
    out.append("proposed mutes (kept unless dropped with --drop ID):" if view.proposals
               else "no proposed mutes")  # fmt: skip
    kept = {True: "kept", False: "dropped", None: ""}
    out += [
        f"  {p.id:>6}  {_clock(p.start_s)}-{_clock(p.end_s)}  {p.describe()} ({p.detector})"
        f"  {kept[view.kept(p)]}".rstrip()
        for p in view.proposals
    ]
    out += [
        f"  muted when stored: {_clock(p.start_s)}-{_clock(p.end_s)} {p.describe()}"
        for p in view.at_capture
    ]
    if view.mutes:
        out.append("muted in the released audio:")
        out += [
            f"  {m.as_dict()['channel']:<6} {_clock(m.start_s)}-{_clock(m.end_s)}  {m.reason}"
            for m in view.mutes
        ]
    return "\n".join(out)


@rights_group.command("item")
@click.argument("ref")
@click.argument("recording")
@as_option
@json_option
def item_command(ref: str, recording: str, as_user: str, as_json: bool) -> None:
    """A recording of a subject access request: the mutes the speech job proposes and the
    reviewer's decision so far (listen to it under a subject_access grant to decide)."""
    services = build()
    view = ReviewService.for_services(services).item(acting_as(services, as_user), ref, recording)
    emit(as_json, view.as_dict(), lambda: _item_text(view))


@rights_group.command("review")
@click.argument("ref")
@click.argument("recording")
@click.option("--outcome", type=click.Choice(OUTCOMES), help="Send it (muted) or withhold it.")
@click.option("--reason-code", type=click.Choice(list(REASON_CODES)), help="Why it is withheld.")
@click.option(
    "--drop", "drop", multiple=True, metavar="ID",
    help="A proposed mute that is the requester's own detail (repeat).",
)  # fmt: skip
@click.option(
    "--mute", "mutes", multiple=True, metavar="CHANNEL,START,END,REASON",
    help="Mute more: channel 0 (caller), 1 (agent) or both; times as 12.5 or 0:12.5 (repeat).",
)  # fmt: skip
@click.option("--note", help="Why (required when withheld; kept in the register, not sent).")
@as_option
@json_option
def review_command(
    ref: str,
    recording: str,
    outcome: str | None,
    reason_code: str | None,
    drop: tuple[str, ...],
    mutes: tuple[str, ...],
    note: str | None,
    as_user: str,
    as_json: bool,
) -> None:
    """Decide a recording: released with others' voices and details muted, or withheld with
    a reason code. Replaces an earlier decision."""
    services = build()
    spans = [parse_mute_option(text, index) for index, text in enumerate(mutes)]
    view = ReviewService.for_services(services).review(
        acting_as(services, as_user), ref, recording, outcome=outcome, drop=drop,
        mutes=spans, reason_code=reason_code, note=note,
    )  # fmt: skip
    emit(as_json, view.as_dict(), lambda: "reviewed: " + _item_text(view))


@rights_group.command("package")
@click.argument("ref")
@click.option(
    "--out", required=True, type=click.Path(path_type=Path), help="The new ZIP file to write."
)
@click.option("--grant", "grant_id", help="A subject access grant to read under (default: own).")
@as_option
@json_option
def package_command(ref: str, out: Path, grant_id: str | None, as_user: str, as_json: bool) -> None:
    """Write the response package: audio (WAV), transcripts, the Art. 15 letter, the
    redaction log and a manifest. Every recording must be reviewed first."""
    services = build()
    made = Packager.for_services(services).package(
        acting_as(services, as_user), ref, out, grant_id=grant_id
    )
    emit(
        as_json,
        made,
        f"packaged {made['ref']}: {made['path']} ({made['released']} of {made['found']} "
        f"recording(s) released, {made['withheld']} withheld, {made['mutes']} mute(s))\n"
        f"sha256 {made['sha256']}",
    )


COMMANDS = [rights_group]
