"""The erasure ledger: every deletion of a recording, in a file a database restore cannot undo.

Purge, erasure requests and the removal of training clips record each erasure here before
destroying the key. Restoring an older database brings erased recordings (and removed clips)
back; ``callvault restore`` then re-applies every entry, so they are erased again
(docs/backup.md). Hence the ledger lives
outside the database and outside backups, and it holds no personal data: recording ids, blob
names, the time, the reason and the rule.

One JSON object a line, each with its number (``seq``), the hash of the line before
(``prev``) and its own hash, so an edited, reordered or removed line breaks the chain. A
chain cut short at a line boundary still looks whole, so a sidecar ``<ledger>.head`` names
the last acknowledged entry; a ledger shorter than its head was cut. Appends hold an
exclusive ``flock`` and are fsynced before ``record`` returns; the head is replaced after
the lines, so a crash leaves the ledger at most one append ahead of its head, never behind.

An append first verifies the chain up to where it writes: all of it the first time in a
process, then only what was added since (a damaged ledger is refused, not buried under new
entries). ``verify`` (``callvault check``) and ``entries`` (restore) always read it all.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from callvault.errors import BadInput, IntegrityFailure
from callvault.secretfile import fsync_dir, replace_private
from callvault.vault.interfaces import validate_blob_name

GENESIS = "0" * 64
# A removed training clip is a deletion a restore must not undo either; its entry names the
# clip's id where the others name a recording's (clip ids are drawn from the same space).
CLIP_REMOVED = "training_clip"
REASONS = frozenset({"retention", "erasure_request", CLIP_REMOVED})
HEAD_SUFFIX = ".head"
MAX_RULE = 500
_RECORDING_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_HASH = re.compile(r"[0-9a-f]{64}")
_FIELDS = frozenset({"seq", "prev", "recording_id", "blob_names", "at", "reason", "rule", "hash"})
_TAIL_BLOCK = 64 * 1024
_FIX = (
    "restore the ledger and its .head file together from your copy of them; "
    "never edit it by hand (docs/backup.md)"
)


@dataclass(frozen=True, slots=True)
class Erasure:
    """One recording (or, reason ``training_clip``, one training clip) erased: what was
    destroyed, when, and by which rule. No personal data."""

    recording_id: str  # the clip's id for a training clip
    blob_names: tuple[str, ...]
    at: str  # ISO UTC time of the erasure
    reason: str  # "retention" (purge), "erasure_request" or "training_clip"
    rule: str  # e.g. "line parking: 12 months, kept until 2026-10-01T..."


class LedgerPosition(NamedTuple):
    """How many entries the ledger had, and the hash of the last of them."""

    entries: int
    hash: str


_START = LedgerPosition(0, GENESIS)


class LedgerVerdict(NamedTuple):
    """What ``verify`` found: unpacks as ``ok, entries, problem``."""

    ok: bool
    entries: int
    problem: str | None


class ErasureLedger:
    """An append-only, hash-chained JSON-lines file at ``path`` (mode 0600)."""

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._head_path = self._path.with_name(self._path.name + HEAD_SUFFIX)
        # (byte offset, entry) this process has verified the chain up to, so each append
        # reads only what is new: a daily purge appending in batches reads the ledger once.
        self._verified: tuple[int, LedgerPosition] = (0, _START)

    @property
    def path(self) -> Path:
        return self._path

    def record(self, erasures: Sequence[Erasure]) -> None:
        """Append ``erasures``; they are on disk (fsynced) when this returns. Empty: no-op.

        Refuses (``IntegrityFailure``) to append to a damaged ledger: new entries chained
        onto it would hide the damage.
        """
        if not erasures:
            return
        for erasure in erasures:
            _validate(erasure)
        with self._locked(exclusive=True, create=True) as fd:
            if os.fstat(fd).st_size == 0 and self._read_head() is None:
                # The head exists before the first line, so a ledger with lines and no head
                # can only mean a lost or removed head, never a crash here.
                self._write_head(_START)
            end, last = self._append_point(fd)
            if end < os.fstat(fd).st_size:
                # A torn line from an append that crashed before it was acknowledged.
                os.ftruncate(fd, end)
            lines: list[bytes] = []
            position = last
            for erasure in erasures:
                line, position = _encode(erasure, position)
                lines.append(line)
            data = b"".join(lines)
            _write_all(fd, data)
            os.fsync(fd)
            self._write_head(position)
            self._verified = (end + len(data), position)

    def entries(self) -> Iterator[Erasure]:
        """Every erasure, oldest first, verifying the chain as it reads.

        Raises ``IntegrityFailure`` where the ledger is edited, reordered, missing lines, cut
        short or its head file is missing. Entries appended meanwhile are not read.
        """
        for erasure, _position in self._scan():
            yield erasure

    def verify(self) -> LedgerVerdict:
        """Read the whole ledger and say whether it is intact (for ``callvault check``)."""
        count = 0
        try:
            for _entry in self._scan():
                count += 1
        except IntegrityFailure as exc:
            return LedgerVerdict(False, count, exc.message)
        return LedgerVerdict(True, count, None)

    def position(self) -> LedgerPosition:
        """The verified end of the ledger: ``IntegrityFailure`` if it is damaged."""
        return _end_of(self._scan(), _START)

    def contains(self, position: LedgerPosition) -> bool:
        """Whether this (verified) ledger has ``position``'s entry with that same hash: it is
        the ledger, or a later state of the ledger, that ``position`` was taken from."""
        if position.entries == 0:
            self.position()  # still refuse a damaged ledger
            return position.hash == GENESIS
        found = False
        for _erasure, at in self._scan():
            if at.entries == position.entries:
                found = at.hash == position.hash
        return found

    # -- reading ------------------------------------------------------------------------------

    def _scan(self) -> Iterator[tuple[Erasure, LedgerPosition]]:
        """Verified entries up to the end as it stood when the scan began."""
        snapshot = self._snapshot()
        if snapshot is not None:
            yield from self._chain(*snapshot)

    def _chain(
        self,
        end: int,
        head: LedgerPosition | None,
        start: int = 0,
        after: LedgerPosition | None = None,
    ) -> Iterator[tuple[Erasure, LedgerPosition]]:
        """Entries from byte ``start`` (just after entry ``after``) to ``end``, each checked
        against the one before and the head; lines appended past ``end`` are not read."""
        position = after or _START
        with self._path.open("rb") as file:
            file.seek(start)
            offset = start
            for raw in file:
                if offset >= end:
                    break
                offset += len(raw)
                erasure, position = _decode_next(raw, position, self._path)
                if head is not None and position.entries == head.entries and position != head:
                    raise IntegrityFailure(
                        f"erasure ledger {self._path}: entry {head.entries} is not the one "
                        f"its head file names; {_FIX}"
                    )
                yield erasure, position
        self._check_against_head(position, head)

    def _snapshot(self) -> tuple[int, LedgerPosition | None] | None:
        """(end of the last complete line, head) read together under a shared lock; None
        when there is no ledger yet."""
        try:
            fd = os.open(self._path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            head = self._read_head()
            if head is not None and head.entries > 0:
                raise IntegrityFailure(
                    f"erasure ledger {self._path} is missing but its head file says it had "
                    f"{head.entries} entries; {_FIX}"
                ) from None
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            end, _last = _tail(fd)
            return end, self._read_head()
        finally:
            os.close(fd)  # closing releases the lock

    def _check_against_head(self, position: LedgerPosition, head: LedgerPosition | None) -> None:
        if head is None:
            if position.entries:
                raise IntegrityFailure(
                    f"erasure ledger {self._path} has {position.entries} entries but its head "
                    f"file {self._head_path} is missing, so entries cut off its end would go "
                    f"unnoticed; {_FIX}"
                )
            return
        if position.entries < head.entries:
            raise IntegrityFailure(
                f"erasure ledger {self._path} has {position.entries} entries but its head file "
                f"says {head.entries}: entries were cut off its end; {_FIX}"
            )

    def _read_head(self) -> LedgerPosition | None:
        try:
            raw = self._head_path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            data = orjson.loads(raw)
            entries, hash_ = data["entries"], data["hash"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            entries, hash_ = None, None
        if not (isinstance(entries, int) and entries >= 0 and _is_hash(hash_)):
            raise IntegrityFailure(f"erasure ledger head file {self._head_path} is damaged; {_FIX}")
        return LedgerPosition(entries, str(hash_))

    # -- appending ----------------------------------------------------------------------------

    def _append_point(self, fd: int) -> tuple[int, LedgerPosition]:
        """Where the next entry goes and the entry it follows, the chain verified up to it."""
        end, _last_line = _tail(fd)
        start, after = self._verified
        if start > end or (start and _line_before(fd, start, self._path) != after):
            start, after = 0, _START  # the file changed under us: verify it all again
        return end, _end_of(self._chain(end, self._read_head(), start, after), after)

    def _write_head(self, position: LedgerPosition) -> None:
        body = orjson.dumps({"entries": position.entries, "hash": position.hash})
        replace_private(self._head_path, body + b"\n")

    @contextmanager
    def _locked(self, *, exclusive: bool, create: bool) -> Iterator[int]:
        created = False
        if create and not self._path.exists():
            self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            created = True
        flags = os.O_RDWR | os.O_APPEND | os.O_CLOEXEC | (os.O_CREAT if create else 0)
        fd = os.open(self._path, flags, 0o600)
        try:
            if created:
                os.fchmod(fd, 0o600)  # whatever the umask
                fsync_dir(self._path.parent)
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield fd
        finally:
            os.close(fd)  # closing releases the lock


# -- lines --------------------------------------------------------------------------------------


def _validate(erasure: Erasure) -> None:
    if not isinstance(erasure.recording_id, str) or not _RECORDING_ID.fullmatch(
        erasure.recording_id
    ):
        raise BadInput(
            f"erasure of {erasure.recording_id!r}: a recording id is 1-64 letters, digits, "
            "'.', '_' or '-'",
            "recording_id",
        )
    if not isinstance(erasure.blob_names, tuple):
        raise BadInput("erasure blob_names must be a tuple of blob names", "blob_names")
    for name in erasure.blob_names:
        validate_blob_name(name)
    try:
        at = datetime.fromisoformat(erasure.at)
    except (TypeError, ValueError):
        at = None
    if at is None or at.utcoffset() != timedelta(0):
        raise BadInput(
            f"erasure time {erasure.at!r} must be an ISO 8601 UTC time, e.g. "
            "2026-11-28T17:00:00+00:00",
            "at",
        )
    if erasure.reason not in REASONS:
        raise BadInput(
            f"erasure reason {erasure.reason!r} must be one of {', '.join(sorted(REASONS))}",
            "reason",
        )
    if not isinstance(erasure.rule, str) or not 0 < len(erasure.rule) <= MAX_RULE:
        raise BadInput(f"erasure rule must be 1 to {MAX_RULE} characters", "rule")


def _body(seq: int, prev: str, erasure: Erasure) -> dict[str, Any]:
    return {
        "seq": seq,
        "prev": prev,
        "recording_id": erasure.recording_id,
        "blob_names": list(erasure.blob_names),
        "at": erasure.at,
        "reason": erasure.reason,
        "rule": erasure.rule,
    }


def _hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _encode(erasure: Erasure, after: LedgerPosition) -> tuple[bytes, LedgerPosition]:
    body = _body(after.entries + 1, after.hash, erasure)
    digest = _hash(body)
    line = orjson.dumps({**body, "hash": digest}, option=orjson.OPT_SORT_KEYS) + b"\n"
    return line, LedgerPosition(after.entries + 1, digest)


def _decode_line(raw: bytes, path: Path) -> tuple[Erasure, LedgerPosition, str]:
    """One line checked against its own hash: (erasure, its position, the hash it follows)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or set(data) != _FIELDS:
        raise IntegrityFailure(f"erasure ledger {path}: a line is not a ledger entry; {_FIX}")
    seq, prev, digest = data["seq"], data["prev"], data["hash"]
    names = data["blob_names"]
    if not (
        isinstance(seq, int)
        and _is_hash(prev)
        and _is_hash(digest)
        and isinstance(names, list)
        and all(isinstance(n, str) for n in names)
        and all(isinstance(data[k], str) for k in ("recording_id", "at", "reason", "rule"))
    ):
        raise IntegrityFailure(f"erasure ledger {path}: entry {seq!r} is malformed; {_FIX}")
    erasure = Erasure(data["recording_id"], tuple(names), data["at"], data["reason"], data["rule"])
    if _hash(_body(seq, prev, erasure)) != digest:
        raise IntegrityFailure(
            f"erasure ledger {path}: entry {seq} was altered (its hash does not match); {_FIX}"
        )
    return erasure, LedgerPosition(seq, digest), prev


def _decode_next(raw: bytes, after: LedgerPosition, path: Path) -> tuple[Erasure, LedgerPosition]:
    """The line that must follow ``after``: its own hash, its number and its link checked."""
    erasure, position, prev = _decode_line(raw, path)
    expected = after.entries + 1
    if position.entries != expected or prev != after.hash:
        raise IntegrityFailure(
            f"erasure ledger {path}: entry {expected} is missing or out of order (found "
            f"entry {position.entries} after entry {after.entries}); {_FIX}"
        )
    return erasure, position


def _tail(fd: int) -> tuple[int, bytes | None]:
    """(offset just past the last newline, the last complete line or None)."""
    size = os.fstat(fd).st_size
    end = _last_newline_end(fd, size)
    if end == 0:
        return 0, None
    start = _last_newline_end(fd, end - 1)
    return end, os.pread(fd, end - start, start)


def _last_newline_end(fd: int, limit: int) -> int:
    """Offset just past the last newline before ``limit``, or 0 when there is none."""
    stop = limit
    while stop > 0:
        start = max(0, stop - _TAIL_BLOCK)
        block = os.pread(fd, stop - start, start)
        found = block.rfind(b"\n")
        if found >= 0:
            return start + found + 1
        stop = start
    return 0


def _end_of(
    chain: Iterator[tuple[Erasure, LedgerPosition]], start: LedgerPosition
) -> LedgerPosition:
    end = start
    for _erasure, position in chain:
        end = position
    return end


def _line_before(fd: int, offset: int, path: Path) -> LedgerPosition | None:
    """The entry on the line that ends at ``offset``, or None when that is not a line."""
    begin = _last_newline_end(fd, offset - 1)
    try:
        return _decode_line(os.pread(fd, offset - begin, begin), path)[1]
    except IntegrityFailure:
        return None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _is_hash(value: object) -> bool:
    return isinstance(value, str) and _HASH.fullmatch(value) is not None
