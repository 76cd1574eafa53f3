"""``callvault hold add/release/list/review``: legal holds, by the operator or ``--as`` a person."""

from __future__ import annotations

import click

from callvault.bootstrap import build
from callvault.cli.access import optional_as_option, person_or_operator
from callvault.cli.output import emit, json_option
from callvault.retention.hold_terms import DEFAULT_REVIEW_DAYS, REASONS
from callvault.retention.holds import Hold


def _line(hold: Hold) -> str:
    what = [f"{len(hold.recording_ids)} recording(s)"] if hold.recording_ids else []
    if hold.search:
        terms = {k: v for k, v in hold.search.as_dict().items() if v is not None}
        what.append("search " + " ".join(f"{k}={v}" for k, v in terms.items()))
    state = "active" if hold.active else f"released {(hold.released_at or '')[:10]}"
    due = "  REVIEW DUE" if hold.due else ""
    return (f"{hold.id}  {state:<19} review {hold.review_on}  {hold.reason:<15} "
            f"{hold.case_ref:<16} {hold.owner:<12} {', '.join(what)}{due}")  # fmt: skip


@click.group("hold")
def hold_group() -> None:
    """Keep recordings past their retention period while a case needs them."""


@hold_group.command("add")
@click.argument("recording_ids", nargs=-1, metavar="[RECORDING_ID]...")
@click.option("--reason", help=f"Why: one of {', '.join(REASONS)}.")
@click.option("--case", "case_ref", help="The case reference (complaint, court, police...).")
@click.option("--owner", help="Who reviews and releases it (default: the person placing it).")
@click.option(
    "--review", metavar="YYYY-MM-DD", help=f"Review date (default: in {DEFAULT_REVIEW_DAYS} days)."
)
@click.option("--note", default="", help="Anything the next reader needs to know.")
@click.option("--caller", help="Saved search: the caller's number in any spelling.")
@click.option("--line", help="Saved search: a line id from the policy (e.g. parking).")
@click.option("--from", "from_", help="Saved search: calls starting at or after (UTC).")
@click.option("--to", help="Saved search: calls starting before (UTC).")
@optional_as_option
@json_option
def add_command(
    recording_ids: tuple[str, ...],
    reason: str | None,
    case_ref: str | None,
    owner: str | None,
    review: str | None,
    note: str,
    caller: str | None,
    line: str | None,
    from_: str | None,
    to: str | None,
    as_user: str | None,
    as_json: bool,
) -> None:
    """Hold recordings by id, or by a saved search that also holds calls imported later."""
    services = build()
    hold = services.holds.place(
        person_or_operator(services, as_user), reason=reason, case_ref=case_ref,
        recording_ids=recording_ids, caller=caller, line=line, started_from=from_,
        started_to=to, owner=owner, review_on=review, note=note,
    )  # fmt: skip
    emit(as_json, hold.as_dict(), f"placed: {_line(hold)}")


@hold_group.command("release")
@click.argument("hold_id")
@click.option("--reason", help="Why the recordings need not be kept any longer.")
@optional_as_option
@json_option
def release_command(hold_id: str, reason: str | None, as_user: str | None, as_json: bool) -> None:
    """End a hold; its recordings are kept only as long as retention or another hold says."""
    services = build()
    hold = services.holds.release(person_or_operator(services, as_user), hold_id, reason)
    emit(as_json, hold.as_dict(), f"hold {hold.id} released")


@hold_group.command("review")
@click.argument("hold_id")
@click.option("--on", "on", metavar="YYYY-MM-DD", help="The new review date.")
@optional_as_option
@json_option
def review_command(hold_id: str, on: str | None, as_user: str | None, as_json: bool) -> None:
    """Give a hold a new review date, after reviewing that it is still needed."""
    services = build()
    hold = services.holds.review(person_or_operator(services, as_user), hold_id, on)
    emit(as_json, hold.as_dict(), f"hold {hold.id}: next review {hold.review_on}")


@hold_group.command("list")
@click.option("--all", "include_released", is_flag=True, help="Released holds too.")
@click.option("--due", is_flag=True, help="Only active holds whose review date has come.")
@optional_as_option
@json_option
def list_command(include_released: bool, due: bool, as_user: str | None, as_json: bool) -> None:
    """Holds, soonest review first; every reading is audited."""
    services = build()
    found = services.holds.list(
        person_or_operator(services, as_user), active_only=not include_released, due_only=due
    )
    emit(
        as_json,
        {"holds": [hold.as_dict() for hold in found]},
        lambda: "\n".join(_line(hold) for hold in found) or "no holds",
    )


COMMANDS = [hold_group]
