"""Backup and restore of a real home, and the restore drill: what was erased stays erased."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from purge_helpers import PERIOD, has_key, now_utc, record_at
from sqlalchemy import select

from callvault.bootstrap import Services, build
from callvault.catalog.store import data_keys
from callvault.context import RequestContext
from callvault.errors import NotFound
from callvault.maintenance.backup import backup_home
from callvault.maintenance.backup_manifest import MANIFEST, verify_backup
from callvault.maintenance.restore import restore_home
from callvault.maintenance.service import check_home, rotate_keys
from callvault.media.decode import decode_to_pcm
from callvault.retention.ledger import Erasure
from callvault.vault.blobs import FilesystemBlobStore
from homes import raw_blob, run_cli

# backup and restore copy an embedded home; --ledger-only is tested on both legs.
embedded = pytest.mark.parametrize("backend", ["sqlite"])


@pytest.fixture
def operator_home(services: Services, monkeypatch: pytest.MonkeyPatch) -> Services:
    """The test home, also as the CLI's ``$CALLVAULT_HOME``."""
    monkeypatch.setenv("CALLVAULT_HOME", str(services.settings.home))
    return services


def recent(services: Services, ctx: RequestContext, audio: Path, call_id: str) -> str:
    return record_at(services, ctx, audio, call_id, now_utc() - timedelta(hours=2))


def overdue(services: Services, ctx: RequestContext, audio: Path, call_id: str) -> str:
    """A late import whose retention period is already over: the next purge takes it."""
    return record_at(services, ctx, audio, call_id, now_utc() - PERIOD - timedelta(days=3))


def plays(services: Services, recording_id: str) -> bool:
    rec = services.catalog.get(recording_id)
    key = services.vault.unwrap_key(services.catalog.wrapped_key(recording_id), recording_id)
    pcm, rate = decode_to_pcm(services.vault.read_all(rec.blob_name, key))
    return pcm.shape[0] == 2 and rate == 8000 and pcm.shape[1] > 0


def blob_name_of(services: Services, recording_id: str) -> str:
    return services.catalog.get(recording_id).blob_name


def backup(out: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code, result, error = run_cli(["backup", str(out)], capsys)
    assert code == 0, error
    assert isinstance(result, dict)
    return result


def live_state(services: Services) -> dict[str, Any]:
    """What a refused restore must leave exactly as it was."""
    with services.engine.connect() as conn:
        keys = sorted(conn.execute(select(data_keys.c.recording_id)).scalars())
    return {
        "recordings": services.catalog.count(),
        "keys": keys,
        "blobs": {name: raw_blob(services, name) for name in services.blobs.names()},
        "audit": services.audit.count(),
        "ledger": services.ledger.position(),
    }


# -- backup ------------------------------------------------------------------------------------


@embedded
def test_backup_holds_database_blobs_settings_and_policy_never_keys(
    operator_home: Services,
    ctx: RequestContext,
    call_wav: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    services = operator_home
    ids = [recent(services, ctx, call_wav, f"pbx-{n}") for n in range(2)]
    out = tmp_path / "backups"

    result = backup(out, capsys)

    folder = Path(result["path"])
    assert folder.parent == out and folder.name.startswith("callvault-backup-")
    assert [p.name for p in out.iterdir()] == [folder.name]  # no temporary folder left
    assert (result["recordings"], result["blobs"], result["keys_included"]) == (2, 2, False)
    manifest = orjson.loads((folder / MANIFEST).read_bytes())
    assert set(manifest["files"]) == {
        "callvault.db", "callvault.toml", "policy.yaml",
        *(f"blobs/{blob_name_of(services, rid)}" for rid in ids),
    }  # fmt: skip
    assert result["bytes"] == sum(f["bytes"] for f in manifest["files"].values())
    assert manifest["kek_ids"] == [services.keys.active_key_id()]
    assert verify_backup(folder).recordings == 2
    for rid in ids:  # as stored: ciphertext, never decrypted on the way
        name = blob_name_of(services, rid)
        assert (folder / "blobs" / name).read_bytes() == raw_blob(services, name)
    everything = list(folder.rglob("*"))
    assert not [p for p in everything if "kek" in p.name or "signing" in p.name]
    assert all(p.stat().st_mode & 0o777 == (0o700 if p.is_dir() else 0o600) for p in everything)
    assert folder.stat().st_mode & 0o777 == 0o700
    with closing(sqlite3.connect(folder / "callvault.db")) as copy:
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert copy.execute("SELECT count(*) FROM data_keys").fetchone()[0] == 2
    assert services.audit.show(limit=1000)[-1]["action"] == "store.backed_up"


@embedded
def test_backup_taken_while_calls_arrive_is_consistent_and_restores_elsewhere(
    services: Services, ctx: RequestContext, call_wav: Path, tmp_path: Path
) -> None:
    recent(services, ctx, call_wav, "before")
    failures: list[BaseException] = []
    done = threading.Event()

    def ingest_calls() -> None:
        try:
            for n in range(8):
                recent(services, ctx, call_wav, f"during-{n}")
        except BaseException as exc:
            failures.append(exc)
        finally:
            done.set()

    writer = threading.Thread(target=ingest_calls)
    writer.start()
    folders: list[Path] = []
    while not done.is_set() or not folders:
        folders.append(backup_home(services, ctx, tmp_path / f"b{len(folders)}").path)
    writer.join()
    assert not failures

    for folder in folders:
        manifest = verify_backup(folder)
        with closing(sqlite3.connect(folder / "callvault.db")) as copy:
            named = {
                row[0]
                for row in copy.execute(
                    "SELECT blob_name FROM recordings r JOIN data_keys k ON k.recording_id = r.id"
                )
            }
        # Every recording the copied database can decrypt has its blob; no blob without one.
        assert set(manifest.blob_names) == named and manifest.recordings == len(named)

    # The last backup, onto a rebuilt machine: an empty home holding only the kept keys.
    rebuilt = tmp_path / "rebuilt"
    rebuilt.mkdir(mode=0o700)
    shutil.copytree(services.settings.home / "keys", rebuilt / "keys")
    target = build(rebuilt)
    result = restore_home(target, ctx, folders[-1]).as_dict()
    assert result["settings_written"] and result["policy_written"]
    assert result["recordings"] == target.catalog.count() >= 1
    with target.engine.connect() as conn:
        restored = list(conn.execute(select(data_keys.c.recording_id)).scalars())
    assert all(plays(target, rid) for rid in restored)
    assert check_home(target, repair=False).ok
    target.engine.dispose()


@pytest.mark.parametrize(
    ("db_url", "blob_url", "field", "says"),
    [
        ("postgresql+psycopg://callvault:s3cret@db.example/callvault", None, "db_url", "pg_dump"),
        (None, "s3://recordings/council?endpoint=https://s3.example", "blob_url", "versioning"),
    ],
)
@pytest.mark.parametrize("command", ["backup", "restore"])
def test_scale_out_homes_are_pointed_to_their_own_tools(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
    db_url: str | None,
    blob_url: str | None,
    field: str,
    says: str,
) -> None:
    # Settings alone decide: no server is reached, nothing is written.
    monkeypatch.setenv("CALLVAULT_HOME", str(tmp_path / "home"))
    if db_url:
        monkeypatch.setenv("CALLVAULT_DB_URL", db_url)
    if blob_url:
        monkeypatch.setenv("CALLVAULT_BLOB_URL", blob_url)
    (tmp_path / "some-backup").mkdir()

    code, out, error = run_cli([command, str(tmp_path / "some-backup")], capsys)

    assert (code, out) == (2, None)
    assert error["field"] == field and says in error["error"]
    assert "restore --ledger-only" in error["error"] and "s3cret" not in error["error"]
    assert not (tmp_path / "home").exists()
    assert list((tmp_path / "some-backup").iterdir()) == []


# -- restore refusals --------------------------------------------------------------------------


def _flip_blob(folder: Path) -> None:
    blob = next(p for p in (folder / "blobs").rglob("*") if p.is_file())
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0x01
    blob.write_bytes(bytes(data))


def _flip_database(folder: Path) -> None:
    data = bytearray((folder / "callvault.db").read_bytes())
    data[-100] ^= 0x01
    (folder / "callvault.db").write_bytes(bytes(data))


def _remove_blob(folder: Path) -> None:
    next(p for p in (folder / "blobs").rglob("*") if p.is_file()).unlink()


def _add_file(folder: Path) -> None:
    (folder / "blobs" / "extra.opus").write_bytes(b"not from callvault")


def _garble_manifest(folder: Path) -> None:
    (folder / MANIFEST).write_bytes(b"{not json")


def _link_policy(folder: Path) -> None:
    (folder / "policy.yaml").unlink()
    (folder / "policy.yaml").symlink_to("/etc/hostname")


@embedded
@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (_flip_blob, "does not match its SHA-256"),
        (_flip_database, "callvault.db does not match"),
        (_remove_blob, "is missing blobs/"),
        (_add_file, "does not list"),
        (_garble_manifest, "unreadable manifest"),
        (_link_policy, "is a link"),
    ],
)
def test_a_damaged_backup_is_refused_and_nothing_changes(
    operator_home: Services,
    ctx: RequestContext,
    call_wav: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    damage: Callable[[Path], None],
    says: str,
) -> None:
    services = operator_home
    recent(services, ctx, call_wav, "in-the-backup")
    folder = Path(backup(tmp_path / "backups", capsys)["path"])
    recent(services, ctx, call_wav, "after-the-backup")  # so a restore would change things
    damage(folder)
    before = live_state(services)

    code, out, error = run_cli(["restore", str(folder)], capsys)

    assert (code, out) == (1, None)
    assert says in error["error"] and "nothing was restored" in error["error"]
    assert live_state(services) == before


@embedded
def test_restore_refuses_a_backup_whose_key_the_key_file_no_longer_holds(
    operator_home: Services,
    ctx: RequestContext,
    call_wav: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    services = operator_home
    recent(services, ctx, call_wav, "pbx-1")
    folder = Path(backup(tmp_path / "backups", capsys)["path"])
    rotate_keys(services, ctx)  # retires the key the backup's data keys are wrapped under
    before = live_state(services)

    code, _out, error = run_cli(["restore", str(folder)], capsys)

    assert code == 2 and error["field"] == "key_file"
    assert "put back the key file kept from that time" in error["error"]
    assert live_state(services) == before


@embedded
def test_restore_refuses_while_the_ledger_is_older_than_the_backup(
    operator_home: Services,
    ctx: RequestContext,
    call_wav: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    services = operator_home
    overdue(services, ctx, call_wav, "old-1")
    services.retention.run(ctx)
    recent(services, ctx, call_wav, "pbx-1")
    folder = Path(backup(tmp_path / "backups", capsys)["path"])
    ledger = services.settings.erasure_ledger
    kept = tmp_path / "kept-ledger"
    kept.mkdir()
    for path in (ledger, ledger.with_name(ledger.name + ".head")):
        path.rename(kept / path.name)  # lost with the machine, say
    before = live_state(services)

    code, _out, error = run_cli(["restore", str(folder)], capsys)

    assert code == 2 and error["field"] == "erasure_ledger"
    assert "would bring those recordings back" in error["error"]
    assert live_state(services) == before


def test_restore_takes_either_a_backup_or_ledger_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLVAULT_HOME", str(tmp_path / "home"))
    for args in ([], [str(tmp_path), "--ledger-only"]):
        code, _out, error = run_cli(["restore", *args], capsys)
        assert code == 2 and "BACKUP_DIR or --ledger-only" in error["error"]


# -- the drill ---------------------------------------------------------------------------------


@embedded
def test_restore_drill_what_was_purged_after_the_backup_is_gone_again(
    operator_home: Services,
    ctx: RequestContext,
    call_wav: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    services = operator_home
    doomed = overdue(services, ctx, call_wav, "old-1")
    kept = [recent(services, ctx, call_wav, f"pbx-{n}") for n in range(2)]
    doomed_blob = blob_name_of(services, doomed)
    folder = Path(backup(tmp_path / "backups", capsys)["path"])
    assert (folder / "blobs" / doomed_blob).is_file()  # the backup still holds it
    # A call that arrives after the backup and is purged before the restore.
    late = overdue(services, ctx, call_wav, "old-2")
    late_blob = blob_name_of(services, late)

    code, purge, error = run_cli(["retention", "run"], capsys)
    assert code == 0, error
    assert purge["purged"] == 2
    assert not has_key(services, doomed) and not services.blobs.exists(doomed_blob)

    code, restored, error = run_cli(["restore", str(folder)], capsys)

    assert code == 0, error
    assert (restored["restored"], restored["reapplied"]) == (True, 1)
    assert restored["skipped_erased"] == 1  # its ciphertext was never written back
    store = services.blobs
    assert isinstance(store, FilesystemBlobStore)
    for name in (doomed_blob, late_blob):
        assert not store.exists(name) and not store.path_of(name).exists()
    assert not has_key(services, doomed) and not has_key(services, late)
    with pytest.raises(NotFound, match="deleted on"):
        services.catalog.get(doomed)
    with pytest.raises(NotFound):
        services.catalog.get(late)  # never in the backup
    assert all(plays(services, rid) for rid in kept)
    assert services.catalog.count() == 2
    assert services.ledger.verify().ok
    assert services.audit.verify().ok
    actions = [e["action"] for e in services.audit.show(limit=10_000)]
    assert "store.restored" in actions
    certificates = services.audit.show(object_id=doomed, limit=100)
    assert [e["action"] for e in certificates][-1] == "recording.purged"
    assert certificates[-1]["details"]["run_id"] == "reapply"

    # A second restore of the same backup erases it again: nothing comes back, ever.
    code, again, _error = run_cli(["restore", str(folder)], capsys)
    assert code == 0 and again["reapplied"] == 1
    assert not has_key(services, doomed) and not store.path_of(doomed_blob).exists()


def test_ledger_only_erases_again_on_every_backend(
    operator_home: Services,
    ctx: RequestContext,
    call_wav: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # As after restoring PostgreSQL (pg_restore) or S3 objects from before an erasure: the
    # database holds a recording the ledger says was erased.
    services = operator_home
    # Past its period, as a retention erasure is (so no Object Lock keeps its blob on S3).
    erased = overdue(services, ctx, call_wav, "old-1")
    kept = recent(services, ctx, call_wav, "pbx-1")
    name = blob_name_of(services, erased)
    services.ledger.record(
        [Erasure(erased, (name,), now_utc().isoformat(), "retention", "line parking: drill")]
    )

    code, result, error = run_cli(["restore", "--ledger-only"], capsys)

    assert code == 0, error
    assert result == {"restored": False, "reapplied": 1}
    assert not has_key(services, erased) and not services.blobs.exists(name)
    assert plays(services, kept)
    code, result, _error = run_cli(["restore", "--ledger-only"], capsys)
    assert result == {"restored": False, "reapplied": 0}  # nothing left to do


@embedded
def test_check_names_a_broken_ledger(services: Services, ctx: RequestContext) -> None:
    services.ledger.record(
        [Erasure(f"gone{n}", (), now_utc().isoformat(), "retention", "drill") for n in range(3)]
    )
    assert check_home(services, repair=False).ok
    ledger = services.settings.erasure_ledger
    ledger.write_bytes(b"".join(ledger.read_bytes().splitlines(keepends=True)[:-1]))

    problems = check_home(services, repair=False).problems

    assert any(p.startswith("erasure ledger:") and "cut off its end" in p for p in problems)


@pytest.fixture(autouse=True)
def _no_stray_cli_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The CLI reads $CALLVAULT_HOME; a test that does not set it must not reach a real home.
    monkeypatch.delenv("CALLVAULT_HOME", raising=False)
    yield
