"""The two legs every home-backed test runs on are what they claim to be."""

from __future__ import annotations

from callvault.bootstrap import Services
from callvault.vault.blobs import FilesystemBlobStore


def test_each_leg_uses_its_backends(services: Services, backend: str) -> None:
    if backend == "sqlite":
        assert services.engine.dialect.name == "sqlite"
        assert isinstance(services.blobs, FilesystemBlobStore)
        assert not services.blobs.supports_object_lock
    else:
        from callvault.vault.s3 import S3BlobStore

        assert services.engine.dialect.name == "postgresql"
        assert isinstance(services.blobs, S3BlobStore)
        assert services.blobs.supports_object_lock  # a bucket with Object Lock (compliance)
