"""``callvault siprec HOST:PORT``: the SIPREC recorder on its own (docs/siprec.md)."""

from __future__ import annotations

import asyncio

import click

from callvault.bootstrap import build
from callvault.capture.siprec.server import (
    DEFAULT_RTP_PORTS,
    SiprecServer,
    parse_listen,
    parse_port_range,
)
from callvault.cli.output import json_option
from callvault.db import require_current_schema
from callvault.logs import configure as configure_logging

_DEFAULT_RANGE = f"{DEFAULT_RTP_PORTS[0]}-{DEFAULT_RTP_PORTS[1]}"


@click.command("siprec")
@click.argument("listen", metavar="HOST:PORT")
@click.option(
    "--rtp-ports", default=_DEFAULT_RANGE, show_default=True, help="UDP ports for RTP, FIRST-LAST."
)
@click.option("--media-host", help="The address answered in SDP (default: HOST, or 127.0.0.1).")
@json_option  # every command takes it (CLI.md); errors are then JSON on stderr
def siprec_command(listen: str, rtp_ports: str, media_host: str | None, as_json: bool) -> None:
    """Record calls sent over SIPREC (UDP and TCP) on HOST:PORT, under the policy."""
    host, port = parse_listen(listen)
    first_last = parse_port_range(rtp_ports)
    services = build()
    services.policy  # noqa: B018 (fail fast on a bad policy before binding the port)
    configure_logging(services.settings.log_format)
    require_current_schema(services.engine)
    server = SiprecServer(
        services, host=host, port=port, media_host=media_host, rtp_ports=first_last
    )
    asyncio.run(server.run_until_stopped())


COMMANDS = [siprec_command]
