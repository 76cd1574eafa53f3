"""Filesystem blob store: atomic writes, no leftovers, name rules, durable layout."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from callvault.errors import BadInput, NotFound
from callvault.vault.blobs import INCOMPLETE_DIR, FilesystemBlobStore
from callvault.vault.interfaces import BlobStore, validate_blob_name


@pytest.fixture
def store(tmp_path: Path) -> FilesystemBlobStore:
    return FilesystemBlobStore(tmp_path / "blobs")


def all_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_satisfies_protocol(store: FilesystemBlobStore) -> None:
    as_protocol: BlobStore = store
    assert as_protocol.exists("nothing") is False


def test_write_read_delete(store: FilesystemBlobStore) -> None:
    with store.writer("rec/abc/audio.opus") as sink:
        assert sink.write(b"hello ") == 6
        sink.write(b"world")
    assert store.exists("rec/abc/audio.opus")
    with store.open("rec/abc/audio.opus") as f:
        assert f.read() == b"hello world"
    assert list(store.names()) == ["rec/abc/audio.opus"]
    assert store.delete("rec/abc/audio.opus") is True
    assert store.delete("rec/abc/audio.opus") is False
    assert not store.exists("rec/abc/audio.opus")
    assert list(store.names()) == []


def test_blob_file_is_private_and_fanned_out(store: FilesystemBlobStore) -> None:
    with store.writer("a.opus") as sink:
        sink.write(b"x")
    path = store.path_of("a.opus")
    assert path.parent.parent.parent == store.root
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0


def test_names_lists_many_and_ignores_strays(store: FilesystemBlobStore) -> None:
    names = {f"rec/{i:04d}/audio.opus" for i in range(50)} | {"x", "x/y"}
    for name in names:
        with store.writer(name) as sink:
            sink.write(name.encode())
    (store.root / "README").write_text("not a blob")
    (store.root / "ab").mkdir(exist_ok=True)
    (store.root / "ab" / "zz").mkdir(exist_ok=True)
    (store.root / "ab" / "zz" / "stray").write_text("misplaced")
    assert set(store.names()) == names
    for name in names:
        with store.open(name) as f:
            assert f.read() == name.encode()


def test_rewrite_replaces_atomically(store: FilesystemBlobStore) -> None:
    for content in (b"first", b"second"):
        with store.writer("n") as sink:
            sink.write(content)
    with store.open("n") as f:
        assert f.read() == b"second"


def test_failed_write_leaves_nothing(store: FilesystemBlobStore) -> None:
    with pytest.raises(RuntimeError), store.writer("rec/1") as sink:
        sink.write(b"partial audio" * 1000)
        raise RuntimeError("decoder crashed")
    assert not store.exists("rec/1")
    assert all_files(store.root) == []


def test_failed_rewrite_keeps_old_blob(store: FilesystemBlobStore) -> None:
    with store.writer("n") as sink:
        sink.write(b"old")
    with pytest.raises(RuntimeError), store.writer("n") as sink:
        sink.write(b"new")
        raise RuntimeError
    with store.open("n") as f:
        assert f.read() == b"old"


def test_blob_invisible_until_write_completes(store: FilesystemBlobStore) -> None:
    with store.writer("n") as sink:
        sink.write(b"in progress")
        assert not store.exists("n")
        assert list(store.names()) == []
        parts = list((store.root / INCOMPLETE_DIR).iterdir())
        assert len(parts) == 1
        assert stat.S_IMODE(parts[0].stat().st_mode) == 0o600
    assert store.exists("n")
    assert list((store.root / INCOMPLETE_DIR).iterdir()) == []


def test_remove_incomplete(store: FilesystemBlobStore) -> None:
    incomplete = store.root / INCOMPLETE_DIR
    old = incomplete / "crashed.part"
    old.write_bytes(b"left by a crash")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    (incomplete / "fresh.part").write_bytes(b"being written")
    (incomplete / "keep.txt").write_text("not ours")
    assert store.remove_incomplete(older_than_s=600) == 1
    assert not old.exists()
    assert store.remove_incomplete() == 1
    assert sorted(p.name for p in incomplete.iterdir()) == ["keep.txt"]
    assert store.remove_incomplete() == 0


def test_open_missing_names_the_blob(store: FilesystemBlobStore) -> None:
    with pytest.raises(NotFound, match="rec/missing") as info:
        store.open("rec/missing")
    assert info.value.field == "blob_name"


VALID = ["a", "0", "rec/2f1c0a/audio.opus", "a-b_c.d", "a" * 128, "/".join("abcdefgh")]
INVALID = [
    "",
    "/etc/passwd",
    "a/../b",
    "..",
    "a..b",
    ".hidden",
    "a/.incomplete",
    "a\\b",
    "a//b",
    "a/",
    "Rec.opus",
    "a b",
    "é",
    "a" * 129,
    "/".join("abcdefghi"),
    "/".join(["a" * 100, "b" * 100]),
    "-a",
    "a/_b",
]


@pytest.mark.parametrize("name", VALID)
def test_valid_names(name: str, store: FilesystemBlobStore) -> None:
    assert validate_blob_name(name) == name
    with store.writer(name) as sink:
        sink.write(b"ok")
    assert name in set(store.names())


@pytest.mark.parametrize("name", INVALID)
def test_invalid_names_rejected_everywhere(name: str, store: FilesystemBlobStore) -> None:
    with pytest.raises(BadInput) as info:
        validate_blob_name(name)
    assert info.value.field == "blob_name"
    with pytest.raises(BadInput), store.writer(name):
        pass
    for call in (store.open, store.exists, store.delete):
        with pytest.raises(BadInput):
            call(name)
    assert all_files(store.root) == []


def test_non_string_name_rejected() -> None:
    with pytest.raises(BadInput):
        validate_blob_name(b"abc")  # type: ignore[arg-type]
