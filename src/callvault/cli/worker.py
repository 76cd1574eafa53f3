"""``callvault worker``: run background jobs (the database queue or procrastinate)."""

from __future__ import annotations

import click

from callvault.bootstrap import build
from callvault.cli.output import emit, json_option
from callvault.db import require_current_schema
from callvault.jobs.interfaces import QUEUES, WorkerOptions
from callvault.jobs.service import run_worker
from callvault.logs import configure as configure_logging


def _queues(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    unknown = [name for name in names if name not in QUEUES]
    if unknown or not names:
        raise click.BadParameter(
            f"unknown queue {unknown[0] if unknown else value!r}; queues: {','.join(QUEUES)}"
        )
    return names


@click.command("worker")
@click.option(
    "--queues",
    default=",".join(QUEUES),
    show_default=True,
    callback=_queues,
    help="Comma-separated queues to take jobs from (speech on GPU machines).",
)
@click.option("--burst", is_flag=True, help="Run what is due, then exit with a summary.")
@click.option(
    "--concurrency",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Jobs run at once by this process.",
)
@click.option(
    "--stale-after",
    "stale_after",
    default=300.0,
    show_default=True,
    type=click.FloatRange(0.5, 86400),
    help="Seconds without a heartbeat after which a running job's worker is taken for dead "
    "and the job is retried.",
)
@json_option
def worker_command(
    queues: tuple[str, ...], burst: bool, concurrency: int, stale_after: float, as_json: bool
) -> None:
    """Run background jobs until stopped (Ctrl-C), or with --burst until none are due."""
    services = build()
    configure_logging(services.settings.log_format)
    require_current_schema(services.engine)
    options = WorkerOptions(
        queues=queues, burst=burst, concurrency=concurrency, stale_after_s=stale_after
    )
    result = run_worker(services, options)
    if burst:
        emit(
            as_json,
            result.as_dict(),
            f"done {result.done}, failed {result.failed}"
            + "".join(f"\n  {error}" for error in result.errors),
        )


COMMANDS = [worker_command]
