"""The erasure ledger on real files: append and read back, tampering refused, two writers."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from callvault.errors import BadInput, IntegrityFailure
from callvault.retention.ledger import Erasure, ErasureLedger

AT = "2026-11-28T17:00:00.000001+00:00"


def erasure(n: int, reason: str = "retention") -> Erasure:
    return Erasure(
        recording_id=f"rec{n:04d}",
        blob_names=(f"recordings/{n:02d}/rec{n:04d}.opus", f"renditions/rec{n:04d}.redacted.opus"),
        at=AT,
        reason=reason,
        rule=f"line parking: 12 months, kept until 2026-10-{n % 28 + 1:02d}T10:00:00+00:00",
    )


@pytest.fixture
def ledger(tmp_path: Path) -> ErasureLedger:
    return ErasureLedger(tmp_path / "ledger" / "erasure-ledger.jsonl")


def filled(ledger: ErasureLedger, count: int = 4) -> list[Erasure]:
    written = [erasure(n) for n in range(count)]
    ledger.record(written[:1])
    ledger.record(written[1:])
    return written


def lines(ledger: ErasureLedger) -> list[bytes]:
    return ledger.path.read_bytes().splitlines(keepends=True)


def test_appends_read_back_in_order_and_stay_private(ledger: ErasureLedger) -> None:
    ledger.record([])
    assert not ledger.path.exists()  # nothing to record, nothing written
    assert ledger.verify() == (True, 0, None)

    written = filled(ledger)
    written.append(erasure(9, reason="erasure_request"))
    ledger.record(written[-1:])

    assert list(ledger.entries()) == written
    ok, entries, problem = ledger.verify()
    assert (ok, entries, problem) == (True, 5, None)
    assert ledger.position().entries == 5
    for path in (ledger.path, ledger.path.with_name(ledger.path.name + ".head")):
        assert path.stat().st_mode & 0o777 == 0o600
    assert ledger.path.parent.stat().st_mode & 0o777 == 0o700


def test_holds_only_ids_names_times_reasons_and_rules(ledger: ErasureLedger) -> None:
    filled(ledger, 2)
    for raw in lines(ledger):
        assert set(orjson.loads(raw)) == {
            "seq", "prev", "hash", "recording_id", "blob_names", "at", "reason", "rule",
        }  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"reason": "tidy_up"}, "reason"),
        ({"at": "2026-11-28T17:00:00"}, "at"),  # no time zone
        ({"at": "2026-11-28T18:00:00+01:00"}, "at"),  # not UTC
        ({"blob_names": ("../etc/passwd",)}, "blob_name"),
        ({"recording_id": ""}, "recording_id"),
        ({"rule": ""}, "rule"),
    ],
)
def test_bad_erasures_are_refused_and_nothing_is_written(
    ledger: ErasureLedger, change: dict[str, object], field: str
) -> None:
    filled(ledger, 2)
    before = ledger.path.read_bytes()
    bad = Erasure(**{**_fields(erasure(7)), **change})  # type: ignore[arg-type]
    with pytest.raises(BadInput) as refused:
        ledger.record([erasure(8), bad])
    assert refused.value.field == field
    assert ledger.path.read_bytes() == before


def _fields(item: Erasure) -> dict[str, object]:
    return {
        "recording_id": item.recording_id,
        "blob_names": item.blob_names,
        "at": item.at,
        "reason": item.reason,
        "rule": item.rule,
    }


def _rewrite(ledger: ErasureLedger, new: list[bytes]) -> None:
    ledger.path.write_bytes(b"".join(new))


def _edit(ledger: ErasureLedger) -> None:
    old = lines(ledger)
    old[1] = old[1].replace(b"rec0001", b"rec0666")
    _rewrite(ledger, old)


def _edit_and_rehash(ledger: ErasureLedger) -> None:
    # An editor who also recomputes the line's own hash still breaks the next line's link.
    from callvault.retention import ledger as module

    old = lines(ledger)
    entry = orjson.loads(old[1])
    entry["recording_id"] = "rec0666"
    body = {k: v for k, v in entry.items() if k != "hash"}
    entry["hash"] = module._hash(body)
    old[1] = orjson.dumps(entry, option=orjson.OPT_SORT_KEYS) + b"\n"
    _rewrite(ledger, old)


def _reorder(ledger: ErasureLedger) -> None:
    old = lines(ledger)
    old[1], old[2] = old[2], old[1]
    _rewrite(ledger, old)


def _delete_line(ledger: ErasureLedger) -> None:
    _rewrite(ledger, [raw for n, raw in enumerate(lines(ledger)) if n != 1])


def _truncate_lines(ledger: ErasureLedger) -> None:
    _rewrite(ledger, lines(ledger)[:-1])


def _truncate_mid_line(ledger: ErasureLedger) -> None:
    data = ledger.path.read_bytes()
    ledger.path.write_bytes(data[: len(data) - 40])


def _remove_head(ledger: ErasureLedger) -> None:
    ledger.path.with_name(ledger.path.name + ".head").unlink()


def _remove_ledger(ledger: ErasureLedger) -> None:
    ledger.path.unlink()


def _garbage_line(ledger: ErasureLedger) -> None:
    old = lines(ledger)
    old.insert(2, b'{"seq": 3}\n')
    _rewrite(ledger, old)


@pytest.mark.parametrize(
    ("tamper", "says"),
    [
        (_edit, "altered"),
        (_edit_and_rehash, "missing or out of order"),
        (_reorder, "missing or out of order"),
        (_delete_line, "missing or out of order"),
        (_truncate_lines, "cut off its end"),
        (_truncate_mid_line, "cut off its end"),
        (_remove_head, "head file"),
        (_remove_ledger, "missing"),
        (_garbage_line, "not a ledger entry"),
    ],
)
def test_tampering_is_detected_and_appending_refused(
    ledger: ErasureLedger, tamper: Callable[[ErasureLedger], None], says: str
) -> None:
    filled(ledger)
    tamper(ledger)

    ok, _entries, problem = ledger.verify()
    assert not ok and problem is not None and says in problem
    assert "never edit it by hand" in problem
    with pytest.raises(IntegrityFailure, match=says):
        list(ledger.entries())
    with pytest.raises(IntegrityFailure):
        ledger.position()
    # Chaining new entries onto a damaged ledger would bury the damage: the next purge (a
    # new process, so a new ErasureLedger that has verified nothing yet) refuses to.
    with pytest.raises(IntegrityFailure):
        ErasureLedger(ledger.path).record([erasure(50)])


def test_a_torn_unacknowledged_append_is_ignored_then_cut_away(ledger: ErasureLedger) -> None:
    written = filled(ledger)
    # A crash mid-write: part of a line, never fsynced, never acknowledged to the purge.
    with ledger.path.open("ab") as file:
        file.write(b'{"at":"2026-11-28T17:0')
    assert ledger.verify() == (True, 4, None)

    ledger.record([erasure(5)])

    assert list(ledger.entries()) == [*written, erasure(5)]
    assert all(raw.endswith(b"}\n") for raw in lines(ledger))


def test_a_head_one_append_behind_after_a_crash_is_caught_up(ledger: ErasureLedger) -> None:
    filled(ledger, 2)
    head = ledger.path.with_name(ledger.path.name + ".head")
    stale = head.read_bytes()
    ledger.record([erasure(3)])
    head.write_bytes(stale)  # the crash came after the lines were fsynced, before the head

    assert ledger.verify() == (True, 3, None)
    ledger.record([erasure(4)])
    assert ledger.verify() == (True, 4, None)
    assert orjson.loads(head.read_bytes())["entries"] == 4


def test_contains_tells_a_later_state_of_the_same_ledger(
    ledger: ErasureLedger, tmp_path: Path
) -> None:
    filled(ledger, 2)
    then = ledger.position()
    ledger.record([erasure(3)])
    assert ledger.contains(then)

    other = ErasureLedger(tmp_path / "other.jsonl")
    other.record([erasure(8), erasure(9)])
    assert not other.contains(then)  # as long, but another ledger
    assert not ErasureLedger(tmp_path / "none.jsonl").contains(then)


WRITER = """
import sys
from pathlib import Path
from callvault.retention.ledger import Erasure, ErasureLedger
ledger = ErasureLedger(Path(sys.argv[1]))
name = sys.argv[2]
for i in range(int(sys.argv[3])):
    ledger.record([Erasure(f"{name}-{i}", (f"recordings/{name}-{i}.opus",),
                           "2026-11-28T17:00:00+00:00", "retention", "drill")])
"""


def test_two_processes_appending_at_once_keep_one_chain(ledger: ErasureLedger) -> None:
    each = 150
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(ledger.path), name, str(each)])
        for name in ("left", "right")
    ]
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0]

    entries = list(ledger.entries())
    assert len(entries) == 2 * each
    assert {e.recording_id for e in entries} == {
        f"{name}-{i}" for name in ("left", "right") for i in range(each)
    }
    assert [orjson.loads(raw)["seq"] for raw in lines(ledger)] == list(range(1, 2 * each + 1))


def test_an_appender_notices_that_the_end_it_verified_was_cut(ledger: ErasureLedger) -> None:
    filled(ledger)
    _truncate_lines(ledger)
    with pytest.raises(IntegrityFailure, match="cut off its end"):
        ledger.record([erasure(50)])  # the same process: it re-reads from the start
