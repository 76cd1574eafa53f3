"""Training clips in backups: their audio is kept and comes back, a clip removed before the
backup ends is not in it, and a backup from before clips were kept still restores."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from purge_helpers import now_utc, record_at

from access.access_helpers import add_people
from callvault.bootstrap import Services, build
from callvault.context import RequestContext
from callvault.errors import CheckFailed, IntegrityFailure
from callvault.maintenance import backup, backup_clips
from callvault.maintenance.backup import backup_home
from callvault.maintenance.backup_manifest import MANIFEST, verify_backup
from callvault.maintenance.restore import restore_home
from callvault.maintenance.service import check_home
from callvault.media.decode import decode_to_pcm
from callvault.retention.ledger import CLIP_REMOVED, HEAD_SUFFIX
from callvault.training.service import TrainingService
from callvault.training.store import live_clips
from callvault.vault.blobs import FilesystemBlobStore
from homes import raw_blob
from training.clip_helpers import StoredClip, own_sign_in, published_clip, withdraw_and_remove

# backup and restore copy an embedded home (SQLite and files).
pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


def recording(services: Services, ctx: RequestContext, audio: Path, call_id: str) -> str:
    """A recent call that adam took (he is the staff member whose consent a clip needs)."""
    return record_at(services, ctx, audio, call_id, now_utc() - timedelta(hours=2), agent="adam")


@pytest.fixture
def clip_home(services: Services, ctx: RequestContext) -> Services:
    add_people(services, ctx)
    return services


def rebuilt_home(services: Services, tmp_path: Path) -> Services:
    """An empty home on a rebuilt machine, holding only what is kept apart from backups: the
    key files, and the erasure ledger with its head (docs/backup.md)."""
    rebuilt = tmp_path / "rebuilt"
    rebuilt.mkdir(mode=0o700)
    shutil.copytree(services.settings.home / "keys", rebuilt / "keys")
    ledger = services.settings.erasure_ledger
    for kept in (ledger, ledger.with_name(ledger.name + HEAD_SUFFIX)):
        if kept.exists():
            shutil.copy2(kept, rebuilt / kept.name)
    return build(rebuilt)


def clip_state(services: Services, clip_id: str) -> str:
    return TrainingService.for_services(services).get(own_sign_in(services, "adam"), clip_id).state


def keyed_clips(folder: Path) -> set[str]:
    with closing(sqlite3.connect(folder / "callvault.db")) as copy:
        return {row[0] for row in copy.execute("SELECT clip_id FROM clip_keys")}


def test_a_clip_in_the_backup_plays_the_same_after_a_restore_into_a_fresh_home(
    clip_home: Services, ctx: RequestContext, call_wav: Path, tmp_path: Path
) -> None:
    services = clip_home
    clip = published_clip(services, recording(services, ctx, call_wav, "pbx-1"))

    result = backup_home(services, ctx, tmp_path / "backups")

    summary = result.as_dict()
    assert (summary["recordings"], summary["clips"], summary["blobs"]) == (1, 1, 2)
    manifest = verify_backup(result.path)
    assert manifest.clip_blob_names == (clip.blob_name,)
    assert manifest.kek_ids == (services.keys.active_key_id(),)
    # As stored: ciphertext under the clip's own key, never decrypted on the way.
    assert (result.path / "blobs" / clip.blob_name).read_bytes() == raw_blob(
        services, clip.blob_name
    )
    assert clip.audio not in (result.path / "blobs" / clip.blob_name).read_bytes()

    target = rebuilt_home(services, tmp_path)
    try:
        restored = restore_home(target, ctx, result.path).as_dict()
        assert (restored["clips"], restored["blobs"], restored["orphan_blobs"]) == (1, 2, 0)
        training = TrainingService.for_services(target)
        played = training.audio(own_sign_in(target, "adam"), clip.id)
        assert played == clip.audio
        pcm, rate = decode_to_pcm(played)
        assert pcm.shape[0] == 2 and rate == 8000 and pcm.shape[1] > 0
        checked = check_home(target, repair=False)
        assert checked.ok, checked.problems  # no orphan, no missing blob
    finally:
        target.engine.dispose()


def test_a_damaged_clip_blob_in_a_backup_is_refused(
    clip_home: Services, ctx: RequestContext, call_wav: Path, tmp_path: Path
) -> None:
    services = clip_home
    clip = published_clip(services, recording(services, ctx, call_wav, "pbx-1"))
    folder = backup_home(services, ctx, tmp_path / "backups").path
    blob = folder / "blobs" / clip.blob_name
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0x01
    blob.write_bytes(bytes(data))

    with pytest.raises(IntegrityFailure, match=f"{clip.blob_name} does not match"):
        restore_home(services, ctx, folder)
    blob.unlink()
    with pytest.raises(IntegrityFailure, match=f"is missing blobs/{clip.blob_name}"):
        verify_backup(folder)


def test_a_clip_withdrawn_before_the_backup_is_not_in_it(
    clip_home: Services, ctx: RequestContext, call_wav: Path, tmp_path: Path
) -> None:
    services = clip_home
    rid = recording(services, ctx, call_wav, "pbx-1")
    kept, withdrawn = published_clip(services, rid), published_clip(services, rid)
    withdraw_and_remove(services, withdrawn, "adam")

    result = backup_home(services, ctx, tmp_path / "backups")

    manifest = verify_backup(result.path)
    assert manifest.clip_blob_names == (kept.blob_name,)
    assert manifest.clips_removed_during_backup == ()
    assert not (result.path / "blobs" / withdrawn.blob_name).exists()
    assert keyed_clips(result.path) == {kept.id}
    target = rebuilt_home(services, tmp_path)
    try:
        restore_home(target, ctx, result.path)
        assert clip_state(target, withdrawn.id) == "removed"
        assert check_home(target, repair=False).ok
    finally:
        target.engine.dispose()


def test_a_clip_removed_after_the_backup_is_removed_again_by_the_restore(
    clip_home: Services, ctx: RequestContext, call_wav: Path, tmp_path: Path
) -> None:
    services = clip_home
    rid = recording(services, ctx, call_wav, "pbx-1")
    kept, withdrawn = published_clip(services, rid), published_clip(services, rid)
    folder = backup_home(services, ctx, tmp_path / "backups").path
    withdraw_and_remove(services, withdrawn, "adam")  # consent withdrawn after the backup
    (entry,) = [e for e in services.ledger.entries() if e.reason == CLIP_REMOVED]
    assert (entry.recording_id, entry.blob_names) == (withdrawn.id, (withdrawn.blob_name,))

    restored = restore_home(services, ctx, folder).as_dict()

    assert restored["reapplied"] == 1
    assert clip_state(services, withdrawn.id) == "removed"
    assert keyed_clips(services.settings.home) == {kept.id}
    assert not services.blobs.exists(withdrawn.blob_name)  # never written back
    training = TrainingService.for_services(services)
    assert training.audio(own_sign_in(services, "adam"), kept.id) == kept.audio
    checked = check_home(services, repair=False)
    assert checked.ok, checked.problems
    assert restore_home(services, ctx, folder).as_dict()["reapplied"] == 1  # each restore
    assert keyed_clips(services.settings.home) == {kept.id}


def _before_its_copy(monkeypatch: pytest.MonkeyPatch, services: Services, clip: StoredClip) -> None:
    real = backup._read_snapshot

    def snapshot_then_remove(copy: Path) -> Any:
        taken = real(copy)
        withdraw_and_remove(services, clip, "adam")  # after the snapshot, before the copy
        return taken

    monkeypatch.setattr(backup, "_read_snapshot", snapshot_then_remove)


def _after_its_copy(monkeypatch: pytest.MonkeyPatch, services: Services, clip: StoredClip) -> None:

    def remove_then_read(conn: Any) -> dict[str, str]:
        withdraw_and_remove(services, clip, "adam")  # its blob is in the backup folder already
        return live_clips(conn)

    monkeypatch.setattr(backup_clips, "live_clips", remove_then_read)


@pytest.mark.parametrize("when", [_before_its_copy, _after_its_copy])
def test_a_clip_removed_while_the_backup_runs_is_left_out_of_it(
    clip_home: Services,
    ctx: RequestContext,
    call_wav: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    when: Callable[[pytest.MonkeyPatch, Services, StoredClip], None],
) -> None:
    services = clip_home
    rid = recording(services, ctx, call_wav, "pbx-1")
    kept, going = published_clip(services, rid), published_clip(services, rid)
    when(monkeypatch, services, going)

    result = backup_home(services, ctx, tmp_path / "backups")  # not a failure

    assert result.as_dict()["clips_removed_during_backup"] == 1
    manifest = verify_backup(result.path)
    assert manifest.clip_blob_names == (kept.blob_name,)
    assert manifest.clips_removed_during_backup == (going.id,)
    assert not (result.path / "blobs" / going.blob_name).exists()
    assert keyed_clips(result.path) == {kept.id}  # its key is not in the backup either
    target = rebuilt_home(services, tmp_path)
    try:
        restore_home(target, ctx, result.path)
        assert clip_state(target, going.id) == "removed"  # as it is in the live home
        training = TrainingService.for_services(target)
        assert training.audio(own_sign_in(target, "adam"), kept.id) == kept.audio
        checked = check_home(target, repair=False)
        assert checked.ok, checked.problems
    finally:
        target.engine.dispose()


def test_a_live_clip_whose_blob_is_lost_stops_the_backup(
    clip_home: Services, ctx: RequestContext, call_wav: Path, tmp_path: Path
) -> None:
    services = clip_home
    clip = published_clip(services, recording(services, ctx, call_wav, "pbx-1"))
    store = services.blobs
    assert isinstance(store, FilesystemBlobStore)
    store.path_of(clip.blob_name).unlink()  # a damaged store: its key is still live

    with pytest.raises(CheckFailed, match=f"blob {clip.blob_name} of training clip {clip.id}"):
        backup_home(services, ctx, tmp_path / "backups")
    assert list((tmp_path / "backups").iterdir()) == []  # no backup, not even a partial one


def _as_made_before_clips_were_kept(folder: Path) -> None:
    """Rewrite a backup as callvault wrote it before clips were backed up: manifest version
    1, no clip fields, no clip audio."""
    manifest = orjson.loads((folder / MANIFEST).read_bytes())
    for name in manifest.pop("clip_blob_names"):
        (folder / "blobs" / name).unlink()
        del manifest["files"][f"blobs/{name}"]
    del manifest["clips_removed_during_backup"], manifest["clips"]
    manifest |= {"version": 1, "blobs": len(manifest["blob_names"])}
    (folder / MANIFEST).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))


def test_a_backup_from_before_clips_were_kept_still_restores(
    clip_home: Services, ctx: RequestContext, call_wav: Path, tmp_path: Path
) -> None:
    services = clip_home
    rid = recording(services, ctx, call_wav, "pbx-1")
    clip = published_clip(services, rid)
    folder = backup_home(services, ctx, tmp_path / "backups").path
    _as_made_before_clips_were_kept(folder)
    assert verify_backup(folder).clip_blob_names == ()

    target = rebuilt_home(services, tmp_path)
    try:
        restored = restore_home(target, ctx, folder).as_dict()
        assert (restored["recordings"], restored["clips"], restored["blobs"]) == (1, 0, 1)
        rec = target.catalog.get(rid)
        key = target.vault.unwrap_key(target.catalog.wrapped_key(rid), rid)
        assert raw_blob(target, rec.blob_name) == raw_blob(services, rec.blob_name)
        assert target.vault.read_all(rec.blob_name, key)
        # As before clips were kept: the clip's record is back without its audio.
        assert clip_state(target, clip.id) == "published"
        assert not target.blobs.exists(clip.blob_name)
    finally:
        target.engine.dispose()


def test_a_manifest_of_an_unknown_version_is_refused(
    clip_home: Services, ctx: RequestContext, call_wav: Path, tmp_path: Path
) -> None:
    services = clip_home
    recording(services, ctx, call_wav, "pbx-1")
    folder = backup_home(services, ctx, tmp_path / "backups").path
    manifest = orjson.loads((folder / MANIFEST).read_bytes())
    (folder / MANIFEST).write_bytes(orjson.dumps(manifest | {"version": 3}))

    with pytest.raises(IntegrityFailure, match="manifest of version 3"):
        verify_backup(folder)
