"""Builds every backend from settings. The ONLY module that names a concrete backend.

Encryption wraps the blob store here, so no caller can reach an unencrypted store.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from sqlalchemy import Engine

from callvault.access.actions import Permissions
from callvault.access.grants import GrantService
from callvault.access.playback import Player
from callvault.access.service import AccessService
from callvault.audit.group_commit import GroupCommit
from callvault.audit.service import AuditLog
from callvault.audit.signing import load_signer
from callvault.capture.ingest import IngestService
from callvault.catalog.service import Catalog
from callvault.config import Settings, load_settings
from callvault.db import make_engine
from callvault.errors import ConfigError
from callvault.jobs.dbqueue import DatabaseQueue
from callvault.jobs.interfaces import JobQueue
from callvault.policy.loader import load_policy
from callvault.policy.service import PolicyService
from callvault.retention.holds import HoldService
from callvault.retention.ledger import ErasureLedger
from callvault.retention.purge import RetentionService
from callvault.speech.flags import ReviewFlags
from callvault.speech.service import SpeechService
from callvault.vault.blobs import FilesystemBlobStore
from callvault.vault.interfaces import BlobStore
from callvault.vault.keys import LocalKeyFile
from callvault.vault.service import Vault

if TYPE_CHECKING:
    from callvault.speech.analysis import SpeechAnalyser


def blob_store_for(url: str) -> BlobStore:
    """The blob store a URL names. Callers get it only inside a ``Vault`` (encryption)."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return FilesystemBlobStore(Path(parsed.path))
    if parsed.scheme == "s3":
        # Imported here: boto3 is the `scale` extra, not needed on one machine.
        from callvault.vault.s3 import S3BlobStore

        return S3BlobStore.from_url(url)
    raise ConfigError(
        f"unsupported blob_url {url!r}; use file:///path or s3://bucket/prefix?endpoint=…",
        "blob_url",
    )


@dataclass
class Services:
    """Everything a command or request needs, built lazily from one Settings."""

    settings: Settings

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.db_url)

    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(self.engine, load_signer(self.settings.audit_key_file))

    @cached_property
    def audit_batch(self) -> GroupCommit:
        """Audit entries for acts that write nothing else, committed in shared batches."""
        return GroupCommit(self.engine, self.audit)

    @cached_property
    def keys(self) -> LocalKeyFile:
        return LocalKeyFile(self.settings.key_file)

    @cached_property
    def blobs(self) -> BlobStore:
        return blob_store_for(self.settings.blob_url)

    @cached_property
    def vault(self) -> Vault:
        return Vault(self.blobs, self.keys)

    @cached_property
    def policy(self) -> PolicyService:
        return PolicyService(load_policy(self.settings.policy_file))

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog(self.engine)

    @cached_property
    def access(self) -> AccessService:
        roles = frozenset(role.id for role in self.policy.policy.roles)
        return AccessService(self.engine, self.audit, roles)

    @cached_property
    def permissions(self) -> Permissions:
        return Permissions.from_policy(self.policy.policy)

    @cached_property
    def grants(self) -> GrantService:
        """The purpose-bound access flow: request, approve, deny, revoke."""
        return GrantService(
            self.engine, self.audit, self.policy.policy, self.catalog, self.permissions
        )

    @cached_property
    def player(self) -> Player:
        """Playback and export under a grant."""
        return Player(self.engine, self.grants, self.audit, self.catalog, self.vault)

    @cached_property
    def ledger(self) -> ErasureLedger:
        """Every erasure, kept outside the database so a restore can re-apply them."""
        return ErasureLedger(self.settings.erasure_ledger)

    @cached_property
    def retention(self) -> RetentionService:
        """The purge: shred, delete and certify what the retention schedule says is due."""
        return RetentionService(
            self.engine, self.audit, self.policy.policy, self.vault, self.ledger
        )

    @cached_property
    def holds(self) -> HoldService:
        """Legal holds: place, release, review; what purge must keep."""
        return HoldService.for_services(self)

    @cached_property
    def jobs(self) -> JobQueue:
        if not self.settings.queue_url:
            return DatabaseQueue(self.engine)
        # Imported here: procrastinate is the `scale` extra, not needed on one machine.
        from callvault.jobs.procrastinate_queue import ProcrastinateQueue

        return ProcrastinateQueue.open(self.engine, self.settings.db_url, self.settings.queue_url)

    @cached_property
    def ingest(self) -> IngestService:
        return IngestService(
            engine=self.engine,
            settings=self.settings,
            policy=self.policy,
            vault=self.vault,
            catalog=self.catalog,
            audit=self.audit,
            jobs=self.jobs,
            lock_path=self.lock_path,
        )

    @cached_property
    def speech(self) -> SpeechService:
        """Transcripts, personal-data muting and review flags (the models load on first use)."""
        return SpeechService(
            self.engine,
            self.catalog,
            self.vault,
            self.audit,
            self.policy.policy,
            self.player,
            self._speech_analyser,
            redaction_mode=self.settings.redaction_mode,
        )

    @cached_property
    def flags(self) -> ReviewFlags:
        """Recordings the speech job flagged for a person's review."""
        return ReviewFlags(self.engine, self.audit, self.permissions)

    def _speech_analyser(self) -> SpeechAnalyser:
        # Imported on first use: the models' libraries take seconds to import, and most
        # commands never transcribe.
        from callvault.speech.loading import shared_analyser, speech_options

        return shared_analyser(speech_options(self.settings))

    @property
    def lock_path(self) -> Path:
        return self.settings.home / "locks" / "ingest.lock"


def build(home: Path | None = None) -> Services:
    return Services(load_settings(home))
