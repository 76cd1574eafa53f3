"""``callvault search [--line] [--caller] [--agent] [--from] [--to] --as USER``."""

from __future__ import annotations

import click

from callvault.access.searching import SearchTerms, search_as
from callvault.bootstrap import build
from callvault.cli.access import acting_as, as_option
from callvault.cli.output import emit, json_option


@click.command("search")
@click.option("--text", help="Words said in the call (searches transcripts).")
@click.option("--line", help="A line id from the policy (e.g. parking).")
@click.option("--caller", help="The caller's number in any spelling, or 'withheld'.")
@click.option("--agent", help="The advisor's id.")
@click.option("--from", "from_", help="Calls starting at or after (date or ISO time, UTC).")
@click.option("--to", help="Calls starting before (date or ISO time, UTC).")
@click.option("--min-duration", type=click.FloatRange(0), help="Seconds.")
@click.option("--max-duration", type=click.FloatRange(0), help="Seconds.")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@as_option
@json_option
def search_command(
    text: str | None,
    line: str | None,
    caller: str | None,
    agent: str | None,
    from_: str | None,
    to: str | None,
    min_duration: float | None,
    max_duration: float | None,
    limit: int,
    as_user: str,
    as_json: bool,
) -> None:
    """Recordings the person may see, newest first. Every search is audited."""
    query = SearchTerms(
        line=line,
        caller=caller,
        agent=agent,
        started_from=from_,
        started_to=to,
        min_duration_s=min_duration,
        max_duration_s=max_duration,
        text=text,
        limit=limit,
    ).query()
    services = build()
    ctx = acting_as(services, as_user)
    results = search_as(services.engine, services.audit_batch, services.permissions, ctx, query)
    emit(
        as_json,
        {"results": results},
        lambda: (
            "\n".join(
                f"{r['recording_id']}  {r['started_at'][:16]}  {r['line']:<22} {r['caller']:<16} "
                f"{r['agent']:<12} {r['duration_s']:>7.1f} s"
                for r in results
            )
            or "no recordings match"
        ),
    )


COMMANDS = [search_command]
