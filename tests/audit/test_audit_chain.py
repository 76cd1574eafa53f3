"""The audit trail: append, verify, and tampering caught however it is done."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import DatabaseError

from callvault.audit.service import CHECKPOINT_EVERY
from callvault.bootstrap import Services
from callvault.context import Actor, RequestContext
from callvault.db import transaction
from homes import tamper


def _append(services: Services, n: int) -> None:
    ctx = RequestContext(
        actor=Actor("alice", role="complaints_officer"), origin="test",
        purpose="complaint", case_ref="CMP-2026-0001",
    )  # fmt: skip
    with transaction(services.engine) as conn:
        for i in range(n):
            services.audit.append(conn, ctx, "recording.played", object_type="recording",
                                  object_id=f"rec{i}", details={"i": i})  # fmt: skip


def test_fresh_log_verifies(services: Services) -> None:
    _append(services, 20)
    result = services.audit.verify()
    assert result.ok and result.first_bad is None
    assert result.entries == 21  # home.initialised + 20


def test_entries_record_who_what_why(services: Services) -> None:
    _append(services, 1)
    entry = services.audit.show(object_id="rec0")[0]
    assert entry["actor"] == "alice"
    assert entry["purpose"] == "complaint"
    assert entry["case_ref"] == "CMP-2026-0001"
    assert entry["details"] == {"i": 0}


def test_database_refuses_update_and_delete(services: Services) -> None:
    _append(services, 2)
    with pytest.raises(DatabaseError, match="append-only"), transaction(services.engine) as conn:
        conn.exec_driver_sql("UPDATE audit_log SET entry='{}' WHERE seq=2")
    with pytest.raises(DatabaseError, match="append-only"), transaction(services.engine) as conn:
        conn.exec_driver_sql("DELETE FROM audit_log WHERE seq=2")
    assert services.audit.verify().ok


def test_edited_field_is_caught(services: Services) -> None:
    _append(services, 10)
    tamper(
        services,
        """UPDATE audit_log SET entry=replace(entry, '"alice"', '"mallory"')
                        WHERE seq=5""",
    )
    assert services.audit.show(after=4, limit=1)[0]["actor"] == "mallory"
    result = services.audit.verify()
    assert not result.ok and result.first_bad == 5


def test_generated_columns_follow_the_entry(services: Services) -> None:
    """The filterable columns come from the hashed text and cannot be edited on their own."""
    _append(services, 3)
    with pytest.raises(DatabaseError, match=r"generated column|can only be updated to DEFAULT"):
        tamper(services, "UPDATE audit_log SET actor='mallory' WHERE seq=2")
    with services.engine.connect() as conn:
        row = conn.exec_driver_sql("SELECT actor, action FROM audit_log WHERE seq=2").one()
    assert tuple(row) == ("alice", "recording.played")


def test_edited_details_with_recomputed_hash_is_caught(services: Services) -> None:
    """Rewriting one entry and its own hash still breaks the link to the next entry."""
    _append(services, 10)
    tamper(services, "UPDATE audit_log SET hash='" + "a" * 64 + "' WHERE seq=4")
    assert services.audit.verify().first_bad == 4


def test_deleted_middle_entry_is_caught(services: Services) -> None:
    _append(services, 10)
    tamper(services, "DELETE FROM audit_log WHERE seq=6")
    result = services.audit.verify()
    assert not result.ok and result.first_bad == 6


def test_reordered_entries_are_caught(services: Services) -> None:
    _append(services, 10)
    tamper(
        services,
        "UPDATE audit_log SET seq=-1 WHERE seq=3",
        "UPDATE audit_log SET seq=3 WHERE seq=4",
        "UPDATE audit_log SET seq=4 WHERE seq=-1",
    )
    result = services.audit.verify()
    assert not result.ok and result.first_bad == 3


def test_cut_tail_is_caught_by_signed_head(services: Services) -> None:
    _append(services, 10)
    tamper(services, "DELETE FROM audit_log WHERE seq > 8")
    result = services.audit.verify()
    assert not result.ok and result.first_bad == 9
    assert "cut off" in (result.problem or "")


def test_forged_head_is_caught(services: Services) -> None:
    _append(services, 10)
    # Cut the tail and move the head back without the signing key: the signature fails.
    tamper(
        services,
        "DELETE FROM audit_log WHERE seq > 8",
        "UPDATE audit_head SET seq=8, hash=(SELECT hash FROM audit_log WHERE seq=8)",
    )
    result = services.audit.verify()
    assert not result.ok and "signature" in (result.problem or "")


def test_deleted_head_is_caught(services: Services) -> None:
    _append(services, 3)
    tamper(services, "DELETE FROM audit_head")
    assert not services.audit.verify().ok


def test_checkpoints_are_kept_and_checked(services: Services) -> None:
    _append(services, CHECKPOINT_EVERY + 5)
    with services.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM audit_checkpoints").scalar() == 1
    tamper(services, f"UPDATE audit_checkpoints SET signature='{'00' * 64}'")
    result = services.audit.verify()
    assert not result.ok and result.first_bad == CHECKPOINT_EVERY


def test_failed_act_leaves_no_entry(services: Services) -> None:
    """The entry commits with the act: an act that fails takes its entry with it."""
    before = services.audit.count()
    with pytest.raises(RuntimeError), transaction(services.engine) as conn:
        _ctx = RequestContext(actor=Actor("bob"), origin="test")
        services.audit.append(conn, _ctx, "recording.played", object_id="x")
        raise RuntimeError("the act failed")
    assert services.audit.count() == before
    assert services.audit.verify().ok


def test_signing_key_file_is_private(services: Services) -> None:
    mode = Path(services.settings.audit_key_file).stat().st_mode & 0o777
    assert mode == 0o600
