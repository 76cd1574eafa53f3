"""Blob store on S3-compatible object storage (AWS S3, SeaweedFS, MinIO, Ceph RGW).

Configured by URL::

    s3://BUCKET[/PREFIX]?endpoint=http://127.0.0.1:8333&region=eu-west-2&addressing=path

Blob ``n`` is the object ``PREFIX/n``. Credentials come from boto3's standard chain
(``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``, ``AWS_PROFILE`` and
``~/.aws/credentials``, then container or instance roles), never from the URL, so the URL
can sit in settings and logs. The store sees only ciphertext: ``Vault`` encrypts first.

Writes stream in bounded memory: up to one part (8 MiB by default) is buffered. A blob that
fits in one part is sent with a single PUT when the ``with`` block exits cleanly; a larger
one goes up as a multipart upload that is completed only then, so an object never appears
half written, and a failed block aborts the upload. ``remove_incomplete`` aborts uploads
left by crashed processes.

Where the bucket has Object Lock enabled (which implies versioning), ``retain_until`` writes
the object in COMPLIANCE mode with that retention date, and ``set_legal_hold`` mirrors a
hold onto every stored version of the blob: then nobody, not even a holder of the storage
credentials, deletes it early. ``delete`` removes every version of a blob that the store
lets it remove and raises ``BlobLocked`` for the rest (see docs/vault.md, "S3").
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, BinaryIO, Final, Literal, cast
from urllib.parse import parse_qs, urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from callvault.errors import BadInput, ConfigError, NotFound
from callvault.vault.interfaces import (
    BlobLocked,
    validate_blob_name,
    validate_byte_range,
    validate_retain_until,
)

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer
    from botocore.response import StreamingBody
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import (
        CompletedPartTypeDef,
        CreateMultipartUploadRequestTypeDef,
        PutObjectRequestTypeDef,
    )

DEFAULT_PART_SIZE = 8 * 2**20
MIN_PART_SIZE = 5 * 2**20  # S3's floor for every part but the last
MAX_PARTS = 10_000  # S3's ceiling: 8 MiB parts allow blobs up to 78 GiB
READ_BUFFER = 128 * 1024  # a little over two sealed 64 KiB chunks per read from the socket
_CHECKSUM: Final = "CRC32"  # per-part transport checksum; the vault's GCM tags protect end to end

AddressingStyle = Literal["auto", "path", "virtual"]
_ADDRESSING: tuple[AddressingStyle, ...] = ("auto", "path", "virtual")
_QUERY_FIELDS = ("endpoint", "region", "addressing")
# S3 bucket naming rules (3-63 characters, lower case, digits, dots, hyphens).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_PREFIX_SEGMENT = re.compile(r"[A-Za-z0-9._-]{1,128}")
_REGION = re.compile(r"[a-z0-9-]{1,32}")
_MAX_PREFIX = 512
_NOT_FOUND = frozenset({"404", "NoSuchKey", "NotFound"})
_NO_VERSION = frozenset({"404", "NoSuchKey", "NoSuchVersion", "NotFound"})
_NO_RETENTION = frozenset(
    {"NoSuchObjectLockConfiguration", "ObjectLockConfigurationNotFoundError", "InvalidRequest"}
)


@dataclass(frozen=True)
class S3Location:
    """Where a blob store lives: bucket, key prefix (``""`` or ending in ``/``), endpoint."""

    bucket: str
    prefix: str = ""
    endpoint: str | None = None
    region: str | None = None
    addressing: AddressingStyle = "auto"

    def key_for(self, name: str) -> str:
        """The object key of blob ``name``; validates the name."""
        return self.prefix + validate_blob_name(name)

    def url(self) -> str:
        """This location as an ``s3://`` URL (``parse_s3_url`` reads it back)."""
        query = []
        if self.endpoint:
            query.append(f"endpoint={self.endpoint}")
        if self.region:
            query.append(f"region={self.region}")
        if self.addressing != "auto":
            query.append(f"addressing={self.addressing}")
        path = f"/{self.prefix.rstrip('/')}" if self.prefix else ""
        return f"s3://{self.bucket}{path}" + (f"?{'&'.join(query)}" if query else "")


def _bad_url(url: str, problem: str) -> ConfigError:
    return ConfigError(
        f"blob URL {url!r}: {problem}; expected "
        "s3://BUCKET[/PREFIX][?endpoint=http(s)://HOST:PORT][&region=REGION]"
        "[&addressing=path|virtual|auto]",
        field="blob_url",
    )


def _parse_prefix(url: str, path: str) -> str:
    prefix = path.strip("/")
    if not prefix:
        return ""
    segments = prefix.split("/")
    if len(prefix) > _MAX_PREFIX or not all(
        _PREFIX_SEGMENT.fullmatch(s) and s not in {".", ".."} for s in segments
    ):
        raise _bad_url(
            url,
            f"prefix {prefix!r} must be '/'-separated parts of A-Z, a-z, 0-9, '.', '_', "
            f"'-' (no empty parts, '.' or '..'), {_MAX_PREFIX} characters at most",
        )
    return prefix + "/"


def _parse_endpoint(url: str, endpoint: str) -> str:
    parts = urlsplit(endpoint)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise _bad_url(url, f"endpoint {endpoint!r} must be an http:// or https:// URL")
    if parts.path.strip("/") or parts.query or parts.fragment or parts.username or parts.password:
        raise _bad_url(url, f"endpoint {endpoint!r} must be scheme://host[:port] only")
    try:
        _ = parts.port  # raises ValueError for a malformed or out-of-range port
    except ValueError:
        raise _bad_url(url, f"endpoint {endpoint!r} has a malformed port") from None
    return f"{parts.scheme}://{parts.netloc}"


def _parse_query(url: str, query_text: str) -> dict[str, str]:
    try:
        query = parse_qs(query_text, keep_blank_values=True, strict_parsing=bool(query_text))
    except ValueError:
        raise _bad_url(url, "the query string is malformed") from None
    unknown = sorted(set(query) - set(_QUERY_FIELDS))
    if unknown:
        raise _bad_url(url, f"unknown parameter(s) {', '.join(unknown)}")
    for field, values in query.items():
        if len(values) != 1 or not values[0]:
            raise _bad_url(url, f"parameter {field!r} must be given once, with a value")
    return {field: values[0] for field, values in query.items()}


def parse_s3_url(url: str) -> S3Location:
    """Parse ``s3://bucket/prefix?endpoint=…&region=…&addressing=…`` into an ``S3Location``.

    ``endpoint`` is for S3-compatible servers (SeaweedFS, MinIO, Ceph); without it boto3 talks
    to AWS. ``addressing`` defaults to ``path`` when an endpoint is given (what self-hosted
    servers expect) and to boto3's ``auto`` otherwise. Raises ``ConfigError(field="blob_url")``
    for anything malformed, including credentials in the URL and unknown parameters.
    """
    if not isinstance(url, str):
        raise ConfigError("blob URL must be a string", field="blob_url")
    parts = urlsplit(url)
    if parts.scheme != "s3":
        raise _bad_url(url, "the scheme must be s3://")
    if parts.fragment:
        raise _bad_url(url, "a '#fragment' has no meaning here")
    if "@" in parts.netloc or ":" in parts.netloc:
        raise _bad_url(
            url,
            "credentials and ports do not belong in the URL (use the AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY environment variables, or AWS_PROFILE; put the server in "
            "?endpoint=)",
        )
    bucket = parts.netloc
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise _bad_url(
            url, f"bucket name {bucket!r} must be 3-63 characters of a-z, 0-9, '.' and '-'"
        )
    query = _parse_query(url, parts.query)
    endpoint = _parse_endpoint(url, query["endpoint"]) if "endpoint" in query else None
    region = query.get("region")
    if region is not None and not _REGION.fullmatch(region):
        raise _bad_url(url, f"region {region!r} must look like eu-west-2")
    addressing = query.get("addressing", "path" if endpoint else "auto")
    if addressing not in _ADDRESSING:
        raise _bad_url(url, f"addressing must be one of {', '.join(_ADDRESSING)}")
    return S3Location(
        bucket=bucket,
        prefix=_parse_prefix(url, parts.path),
        endpoint=endpoint,
        region=region,
        addressing=addressing,
    )


def make_s3_client(
    location: S3Location, *, session: boto3.session.Session | None = None
) -> S3Client:
    """A boto3 S3 client for ``location``, with credentials from boto3's standard chain.

    The region is the URL's, else the session's (``AWS_REGION``/``AWS_DEFAULT_REGION``,
    profile), else ``us-east-1`` for a custom endpoint (self-hosted servers ignore it but
    SigV4 needs one). Raises ``ConfigError(field="blob_url")`` when no credentials are found.
    """
    session = session or boto3.session.Session()
    if session.get_credentials() is None:
        raise ConfigError(
            f"no AWS credentials for {location.url()}: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or run where an instance role applies",
            field="blob_url",
        )
    region = location.region or session.region_name or ("us-east-1" if location.endpoint else None)
    config = Config(
        s3={"addressing_style": location.addressing},
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=10,
        read_timeout=60,
        # Only sign and check what the vault asks for: CRC32 on uploads, none on streaming GETs
        # (the vault authenticates every 64 KiB chunk itself).
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return session.client("s3", endpoint_url=location.endpoint, region_name=region, config=config)


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _round_up_to_second(when: datetime) -> datetime:
    # S3 keeps retention dates to the second; rounding down would release a blob early.
    when = when.astimezone(UTC)
    if when.microsecond:
        when = when.replace(microsecond=0) + timedelta(seconds=1)
    return when


@dataclass(frozen=True)
class _BucketFeatures:
    versioned: bool
    object_lock: bool


@dataclass(frozen=True)
class _Version:
    version_id: str
    is_latest: bool
    is_marker: bool


class _BodyReader(io.RawIOBase):
    """A raw stream over an S3 GET body, so ``io.BufferedReader`` can make it a ``BinaryIO``."""

    def __init__(self, body: StreamingBody) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        data = self._body.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class _Sink:
    """Exposes only ``write`` of an upload, as ``FilesystemBlobStore``'s sink does."""

    def __init__(self, upload: _Upload) -> None:
        self._upload = upload

    def write(self, data: bytes, /) -> int:
        return self._upload.write(data)


class _Upload:
    """One blob on its way up: a single PUT if it fits in a part, else a multipart upload."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        key: str,
        retain_until: datetime | None,
        part_size: int,
    ) -> None:
        self._client = client
        self._bucket = bucket
        self._key = key
        self._retain_until = retain_until
        self._part_size = part_size
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[CompletedPartTypeDef] = []

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        view = memoryview(data).cast("B")
        size = len(view)
        while view:
            room = self._part_size - len(self._buffer)
            self._buffer += view[:room]
            view = view[room:]
            if len(self._buffer) >= self._part_size:
                self._send_part()
        return size

    def finish(self) -> None:
        if self._upload_id is None:
            request: PutObjectRequestTypeDef = {
                "Bucket": self._bucket,
                "Key": self._key,
                "Body": cast("bytes", self._buffer),  # as in _send_part: no copy
                "ContentType": "application/octet-stream",
                "ChecksumAlgorithm": _CHECKSUM,
            }
            if self._retain_until is not None:
                request["ObjectLockMode"] = "COMPLIANCE"
                request["ObjectLockRetainUntilDate"] = self._retain_until
            self._client.put_object(**request)
            self._buffer = bytearray()
            return
        if self._buffer:
            self._send_part()
        self._client.complete_multipart_upload(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},
        )
        self._upload_id = None

    def abort(self) -> None:
        """Abort the multipart upload, if one was started; best effort (``remove_incomplete``
        aborts whatever this could not)."""
        upload_id, self._upload_id = self._upload_id, None
        self._buffer = bytearray()
        if upload_id is None:
            return
        try:
            self._client.abort_multipart_upload(
                Bucket=self._bucket, Key=self._key, UploadId=upload_id
            )
        except (ClientError, BotoCoreError):
            return

    def _send_part(self) -> None:
        if self._upload_id is None:
            request: CreateMultipartUploadRequestTypeDef = {
                "Bucket": self._bucket,
                "Key": self._key,
                "ContentType": "application/octet-stream",
                "ChecksumAlgorithm": _CHECKSUM,
            }
            if self._retain_until is not None:
                request["ObjectLockMode"] = "COMPLIANCE"
                request["ObjectLockRetainUntilDate"] = self._retain_until
            self._upload_id = self._client.create_multipart_upload(**request)["UploadId"]
        number = len(self._parts) + 1
        if number > MAX_PARTS:
            raise BadInput(
                f"blob larger than {MAX_PARTS} parts of {self._part_size} bytes", field="data"
            )
        # botocore sends (and on a retry resends) a bytearray as it is; a bytes copy would
        # hold the part twice. The buffer is never touched again: the next part gets a new one.
        body, self._buffer = self._buffer, bytearray()
        response = self._client.upload_part(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=cast("bytes", body),
            ChecksumAlgorithm=_CHECKSUM,
        )
        part: CompletedPartTypeDef = {"PartNumber": number, "ETag": response["ETag"]}
        if "ChecksumCRC32" in response:
            part["ChecksumCRC32"] = response["ChecksumCRC32"]
        self._parts.append(part)


class S3BlobStore:
    """``BlobStore`` over an S3 bucket (and key prefix); uses Object Lock where enabled.

    Build it with ``S3BlobStore.from_url(url)`` (credentials from boto3's chain) or pass a
    ready ``client``. The bucket must exist. Its versioning and Object Lock settings are read
    once, on first need, and cached: restart after changing them.
    """

    def __init__(
        self,
        location: S3Location,
        client: S3Client | None = None,
        *,
        part_size: int = DEFAULT_PART_SIZE,
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise ConfigError(
                f"part size must be at least {MIN_PART_SIZE} bytes (S3's minimum)",
                field="part_size",
            )
        self._location = location
        self._client = client if client is not None else make_s3_client(location)
        self._part_size = part_size
        self._features: _BucketFeatures | None = None

    @classmethod
    def from_url(
        cls, url: str, client: S3Client | None = None, *, part_size: int = DEFAULT_PART_SIZE
    ) -> S3BlobStore:
        """A store for ``s3://bucket/prefix?endpoint=…`` (see ``parse_s3_url``)."""
        return cls(parse_s3_url(url), client, part_size=part_size)

    @property
    def location(self) -> S3Location:
        """Bucket, prefix and endpoint of this store."""
        return self._location

    @property
    def client(self) -> S3Client:
        """The boto3 client this store uses."""
        return self._client

    @property
    def supports_object_lock(self) -> bool:
        """Whether the bucket has Object Lock enabled (read from the bucket once)."""
        return self._bucket_features().object_lock

    @contextmanager
    def writer(self, name: str, *, retain_until: datetime | None = None) -> Iterator[_Sink]:
        """Write blob ``name``; the object appears only when the block exits cleanly.

        Buffers at most one part. If the block (or the upload) fails, a started multipart
        upload is aborted, so nothing is left; a crash leaves an upload for
        ``remove_incomplete``. With ``retain_until`` and an Object Lock bucket the object is
        written in COMPLIANCE mode, retained until then (rounded up to the second); on a
        bucket without Object Lock the date is checked and ignored.
        """
        key = self._location.key_for(name)
        validate_retain_until(retain_until)
        lock_until = None
        with self._errors():
            if retain_until is not None and self.supports_object_lock:
                lock_until = _round_up_to_second(retain_until)
        upload = _Upload(self._client, self._location.bucket, key, lock_until, self._part_size)
        try:
            with self._errors():
                yield _Sink(upload)
                upload.finish()
        except BaseException:
            upload.abort()
            raise

    def open(self, name: str) -> BinaryIO:
        """Stream blob ``name`` (one GET, read as it is consumed); ``NotFound`` if absent."""
        key = self._location.key_for(name)
        with self._errors():
            try:
                response = self._client.get_object(Bucket=self._location.bucket, Key=key)
            except ClientError as error:
                if _code(error) in _NOT_FOUND:
                    raise NotFound(f"blob {name!r} not found", field="blob_name") from None
                raise
        return io.BufferedReader(_BodyReader(response["Body"]), buffer_size=READ_BUFFER)

    def size(self, name: str) -> int:
        """Stored bytes of blob ``name`` (one HEAD); ``NotFound`` if absent."""
        key = self._location.key_for(name)
        with self._errors():
            try:
                head = self._client.head_object(Bucket=self._location.bucket, Key=key)
            except ClientError as error:
                if _code(error) in _NOT_FOUND:
                    raise NotFound(f"blob {name!r} not found", field="blob_name") from None
                raise
        return head["ContentLength"]

    def open_range(self, name: str, start: int, end: int) -> BinaryIO:
        """Bytes ``start`` to ``end`` (exclusive) of blob ``name``: one Range GET, streamed."""
        key = self._location.key_for(name)
        start, end = validate_byte_range(start, end)
        if start == end:
            return io.BytesIO()  # HTTP cannot ask for zero bytes
        with self._errors():
            try:
                response = self._client.get_object(
                    Bucket=self._location.bucket, Key=key, Range=f"bytes={start}-{end - 1}"
                )
            except ClientError as error:
                if _code(error) in _NOT_FOUND:
                    raise NotFound(f"blob {name!r} not found", field="blob_name") from None
                if _code(error) == "InvalidRange":
                    return io.BytesIO()  # starts past the end: no bytes, as for a file
                raise
        return io.BufferedReader(_BodyReader(response["Body"]), buffer_size=READ_BUFFER)

    def exists(self, name: str) -> bool:
        """Whether blob ``name`` exists (its current version is an object, not a delete
        marker)."""
        key = self._location.key_for(name)
        with self._errors():
            try:
                self._client.head_object(Bucket=self._location.bucket, Key=key)
            except ClientError as error:
                if _code(error) in _NOT_FOUND:
                    return False
                raise
        return True

    def delete(self, name: str) -> bool:
        """Delete blob ``name``, every stored version of it that Object Lock allows.

        Returns whether the blob existed (its current version was an object). In a
        versioned bucket each version is deleted by id, delete markers included, so nothing
        is left to restore. A version under a retention date or legal hold is refused by the
        store: then the blob is hidden behind a delete marker, the other versions are still
        removed, and ``BlobLocked`` is raised naming how many versions stay and until when.
        Calling ``delete`` again after the lock lapses removes them (and returns False).
        """
        key = self._location.key_for(name)
        with self._errors():
            if not self._bucket_features().versioned:
                existed = self.exists(name)
                if existed:
                    self._client.delete_object(Bucket=self._location.bucket, Key=key)
                return existed
            return self._delete_versions(name, key)

    def delete_many(self, names: Sequence[str]) -> list[str]:
        """``delete`` each of ``names`` (every version it may); return those Object Lock
        still keeps. One request set per blob: versions and locks are per object."""
        kept = []
        for name in names:
            try:
                self.delete(name)
            except BlobLocked:
                kept.append(name)
        return kept

    def set_legal_hold(self, name: str, on: bool) -> None:
        """Place or lift a legal hold on every stored version of blob ``name``.

        Every version, not only the current one: a hold must also keep what an overwrite
        replaced, and it can still be lifted after ``delete`` hid a held blob. A no-op on a
        bucket without Object Lock. ``NotFound`` if no version of the blob is stored.
        """
        key = self._location.key_for(name)
        with self._errors():
            if not self.supports_object_lock:
                if not self.exists(name):
                    raise NotFound(f"blob {name!r} not found", field="blob_name")
                return
            # Listed first, also because some servers answer a hold on a missing key with 500.
            versions = [v for v in self._versions(key) if not v.is_marker]
            if not versions:
                raise NotFound(f"blob {name!r} not found", field="blob_name")
            for version in versions:
                self._client.put_object_legal_hold(
                    Bucket=self._location.bucket,
                    Key=key,
                    VersionId=version.version_id,
                    LegalHold={"Status": "ON" if on else "OFF"},
                )

    def names(self) -> Iterator[str]:
        """Every complete blob's name (key order); keys under the prefix that are not valid
        blob names are skipped."""
        prefix = self._location.prefix
        paginator = self._client.get_paginator("list_objects_v2")
        with self._errors():
            for page in paginator.paginate(Bucket=self._location.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    name = item.get("Key", "")[len(prefix) :]
                    if self._is_name(name):
                        yield name

    def remove_incomplete(self, older_than_s: float = 0) -> int:
        """Abort multipart uploads under the prefix started ``older_than_s`` or more ago.

        Times are the server's. With the default 0 this also aborts uploads in progress, so
        call it that way only when no writer runs; otherwise pass a margin such as 3600.
        """
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
        prefix = self._location.prefix
        removed = 0
        paginator = self._client.get_paginator("list_multipart_uploads")
        with self._errors():
            for page in paginator.paginate(Bucket=self._location.bucket, Prefix=prefix):
                for upload in page.get("Uploads", []):
                    key = upload.get("Key", "")
                    initiated = upload.get("Initiated")
                    if not self._is_name(key[len(prefix) :]) or initiated is None:
                        continue
                    if initiated > cutoff:
                        continue
                    try:
                        self._client.abort_multipart_upload(
                            Bucket=self._location.bucket, Key=key, UploadId=upload["UploadId"]
                        )
                    except ClientError as error:
                        if _code(error) in {"NoSuchUpload", "404"}:
                            continue  # completed or aborted by someone else meanwhile
                        raise
                    removed += 1
        return removed

    # -- internals ---------------------------------------------------------------------------

    def _is_name(self, name: str) -> bool:
        try:
            validate_blob_name(name)
        except BadInput:
            return False
        return True

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn a missing bucket into a ``ConfigError`` that says what to do."""
        try:
            yield
        except ClientError as error:
            if _code(error) == "NoSuchBucket":
                raise ConfigError(
                    f"bucket {self._location.bucket!r} does not exist at "
                    f"{self._location.endpoint or 'AWS'}; create it first (docs/vault.md, S3)",
                    field="blob_url",
                ) from error
            raise

    def _bucket_features(self) -> _BucketFeatures:
        if self._features is None:
            bucket = self._location.bucket
            with self._errors():
                status = self._client.get_bucket_versioning(Bucket=bucket).get("Status")
                try:
                    config = self._client.get_object_lock_configuration(Bucket=bucket)
                    enabled = config.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
                    object_lock = enabled == "Enabled"
                except ClientError as error:
                    if _code(error) != "ObjectLockConfigurationNotFoundError":
                        raise
                    object_lock = False
            self._features = _BucketFeatures(
                versioned=status in {"Enabled", "Suspended"} or object_lock,
                object_lock=object_lock,
            )
        return self._features

    def _versions(self, key: str) -> list[_Version]:
        versions = []
        paginator = self._client.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self._location.bucket, Prefix=key):
            for item in page.get("Versions", []):
                if item.get("Key") == key and "VersionId" in item:
                    versions.append(_Version(item["VersionId"], item.get("IsLatest", False), False))
            for marker in page.get("DeleteMarkers", []):
                if marker.get("Key") == key and "VersionId" in marker:
                    versions.append(
                        _Version(marker["VersionId"], marker.get("IsLatest", False), True)
                    )
        return versions

    def _delete_version(self, key: str, version_id: str) -> None:
        try:
            self._client.delete_object(Bucket=self._location.bucket, Key=key, VersionId=version_id)
        except ClientError as error:
            if _code(error) not in _NO_VERSION:
                raise

    def _lock_of(self, key: str, version_id: str) -> tuple[datetime | None, bool] | None:
        """(retain-until date in the future or None, legal hold on) of a version, or None
        when neither holds it (so a refused delete had another cause)."""
        bucket = self._location.bucket
        until: datetime | None = None
        try:
            retention = self._client.get_object_retention(
                Bucket=bucket, Key=key, VersionId=version_id
            ).get("Retention", {})
            date = retention.get("RetainUntilDate")
            if date is not None and date > datetime.now(UTC):
                until = date
        except ClientError as error:
            # AWS says NoSuchObjectLockConfiguration; SeaweedFS the bucket-level code.
            if _code(error) not in _NO_RETENTION:
                raise
        try:
            hold = self._client.get_object_legal_hold(Bucket=bucket, Key=key, VersionId=version_id)
            held = hold.get("LegalHold", {}).get("Status") == "ON"
        except ClientError as error:
            if _code(error) not in {"NoSuchObjectLegalHold", "InvalidRequest"}:
                raise
            held = False
        if until is None and not held:
            return None
        return until, held

    def _delete_versions(self, name: str, key: str) -> bool:
        versions = self._versions(key)
        existed = any(v.is_latest and not v.is_marker for v in versions)
        kept: list[tuple[datetime | None, bool]] = []
        for version in versions:
            if version.is_marker:
                continue
            try:
                self._client.delete_object(
                    Bucket=self._location.bucket, Key=key, VersionId=version.version_id
                )
            except ClientError as error:
                if _code(error) in _NO_VERSION:
                    continue
                if _code(error) != "AccessDenied":
                    raise
                lock = self._lock_of(key, version.version_id)
                if lock is None:
                    raise  # refused for another reason: the credentials lack a permission
                kept.append(lock)
        markers = [v for v in versions if v.is_marker]
        if kept:
            # Locked versions stay: keep the newest delete marker (or add one) on top of them
            # so the blob stays deleted to readers; drop the other markers.
            latest_marker = next((m for m in markers if m.is_latest), None)
            if latest_marker is None:
                self._client.delete_object(Bucket=self._location.bucket, Key=key)
            markers = [m for m in markers if m is not latest_marker]
        for marker in markers:
            self._delete_version(key, marker.version_id)
        if kept:
            dates = [until for until, _ in kept if until is not None]
            raise BlobLocked(
                name,
                versions=len(kept),
                retain_until=max(dates) if dates else None,
                legal_hold=any(held for _, held in kept),
            )
        return existed
