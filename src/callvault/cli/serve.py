"""``callvault serve``: the web UI and API."""

from __future__ import annotations

import click

from callvault.bootstrap import build


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
def serve_command(host: str, port: int) -> None:
    """Serve the web UI and the REST API."""
    import uvicorn

    from callvault.web.app import create_app

    services = build()
    services.policy  # noqa: B018 (fail fast on a bad policy before binding the port)
    uvicorn.run(create_app(services), host=host, port=port, log_level="info")


COMMANDS = [serve_command]
