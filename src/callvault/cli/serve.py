"""``callvault serve``: the web UI and API (and, on the database queue, a job worker)."""

from __future__ import annotations

import threading

import click

from callvault.bootstrap import build
from callvault.db import require_current_schema
from callvault.logs import configure as configure_logging


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--no-worker",
    "no_worker",
    is_flag=True,
    help="Do not run jobs in this process (run `callvault worker` elsewhere instead).",
)
@click.option(
    "--siprec",
    "siprec_listen",
    metavar="HOST:PORT",
    help="Also record calls sent over SIPREC on HOST:PORT (UDP and TCP).",
)
def serve_command(host: str, port: int, no_worker: bool, siprec_listen: str | None) -> None:
    """Serve the web UI and the REST API (and, with --siprec, the call recorder)."""
    import uvicorn

    from callvault.capture.siprec.server import RecorderThread, parse_listen
    from callvault.jobs.interfaces import WorkerOptions
    from callvault.jobs.service import DatabaseWorker
    from callvault.web.app import create_app

    services = build()
    services.policy  # noqa: B018 (fail fast on a bad policy before binding the port)
    config = configure_logging(services.settings.log_format)
    require_current_schema(services.engine)
    worker: DatabaseWorker | None = None
    thread: threading.Thread | None = None
    # The database queue is drained here on one machine; procrastinate has its own workers.
    if not no_worker and services.jobs.kind == "database":
        import callvault.jobs.tasks  # noqa: F401  (registers the tasks)
        from callvault.jobs.dbqueue import DatabaseQueue

        assert isinstance(services.jobs, DatabaseQueue)
        worker = DatabaseWorker(services, services.jobs, WorkerOptions())
        thread = threading.Thread(target=worker.run, name="callvault-worker", daemon=True)
        thread.start()
    recorder: RecorderThread | None = None
    if siprec_listen:
        sip_host, sip_port = parse_listen(siprec_listen)
        recorder = RecorderThread(services, host=sip_host, port=sip_port)
        recorder.start()
    try:
        app = create_app(services, recorder)
        uvicorn.run(app, host=host, port=port, log_config=config)
    finally:
        if recorder is not None:
            recorder.stop()  # calls in progress are finished and committed
        if worker is not None and thread is not None:
            # A job in progress finishes first; one cut off is retried after the stale timeout.
            worker.stop()
            thread.join(timeout=30)


COMMANDS = [serve_command]
