"""The quality sample's draw rule, as pure functions anyone can re-run from the audit trail.

The rule (also in docs/quality.md), for one month and one seed:

1. The seed is 32 random bytes, written as 64 hex digits; the key is those 32 bytes.
2. Each eligible call's rank is HMAC-SHA256(key, its recording id as UTF-8), compared as
   bytes (the same order as comparing the lower-case hex digests as text).
3. For each advisor, in ascending order of their id (Unicode code points), take the calls with
   the lowest ranks, up to ``calls_per_advisor``; an advisor with fewer calls gets all of them.
4. The sample is those calls in that order (advisor, then rank); its digest is SHA-256 of the
   sorted ``"<advisor>:<recording id>"`` texts joined by a newline (no trailing newline), as
   UTF-8, in hex.

Nothing here uses ``random``: its generators and their seeding differ between Python versions,
and the council must be able to re-draw a sample years later with whatever tools it has.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime

from callvault.errors import BadInput
from callvault.uktime import UK

# Months are UK calendar months: what a manager means by "March" is March on the office clock.
_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
# Agent values that name nobody: a purged call's tombstone (""), and the recorder's placeholder
# when SIPREC metadata identified no advisor ("unknown"): sampling them judges no one.
NO_ADVISOR = frozenset({"", "unknown"})
SEED_BYTES = 32
CASE_PREFIX = "QA"
# The case number's width (zero-padded); the purpose's pattern allows up to six digits.
CASE_DIGITS, MAX_CASE_NUMBER = 4, 999_999

Pair = tuple[str, str]  # (advisor, recording id)


def parse_month(text: str | None, field: str = "month") -> tuple[int, int]:
    """(year, month) from ``YYYY-MM``; BadInput naming ``field`` otherwise."""
    found = _MONTH.fullmatch(text.strip()) if isinstance(text, str) else None
    if found is None or int(found.group(1)) < 1970:
        shown = text[:20] if isinstance(text, str) else text
        raise BadInput(f"{field} {shown!r} is not a month; write YYYY-MM, e.g. 2026-03", field)
    return int(found.group(1)), int(found.group(2))


def month_text(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """The month's first instant and the next month's, UK midnights, in UTC."""
    start = datetime(year, month, 1, tzinfo=UK)
    after = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UK)
    return start.astimezone(UTC), after.astimezone(UTC)


def uk_month_of(moment: datetime) -> tuple[int, int]:
    """The UK calendar month ``moment`` (aware) falls in."""
    local = moment.astimezone(UK)
    return local.year, local.month


def previous_month(moment: datetime) -> tuple[int, int]:
    """The UK calendar month before the one ``moment`` falls in."""
    year, month = uk_month_of(moment)
    return (year - 1, 12) if month == 1 else (year, month - 1)


def draw_opens(year: int, month: int, draw_on_day: int) -> datetime:
    """When ``month`` may be drawn: UK midnight starting day ``draw_on_day`` of the month
    after (the policy's ``quality.draw_on_day``), in UTC. Calls a PBX uploads late arrive by
    then, and a month is drawn once."""
    after = (year + 1, 1) if month == 12 else (year, month + 1)
    return datetime(*after, draw_on_day, tzinfo=UK).astimezone(UTC)


def due_month(moment: datetime, draw_on_day: int) -> tuple[int, int]:
    """The latest UK month whose draw day has come by ``moment``: the month before, from its
    draw day on; until then the one before that."""
    year, month = previous_month(moment)
    if moment < draw_opens(year, month, draw_on_day):
        return (year - 1, 12) if month == 1 else (year, month - 1)
    return year, month


def uk_day_text(moment: datetime) -> str:
    """The UK date of ``moment`` as people write it: "5 December 2026"."""
    local = moment.astimezone(UK)
    return f"{local.day} {local:%B %Y}"


def new_seed() -> str:
    return secrets.token_hex(SEED_BYTES)


def check_seed(seed: str) -> bytes:
    """The key bytes of a seed written as 64 hex digits."""
    key = bytes.fromhex(seed)
    if len(key) != SEED_BYTES:
        raise ValueError(f"a seed is {SEED_BYTES} bytes ({2 * SEED_BYTES} hex digits)")
    return key


def rank(key: bytes, recording_id: str) -> bytes:
    """A call's place in its advisor's queue: lower is drawn first."""
    return hmac.new(key, recording_id.encode("utf-8"), hashlib.sha256).digest()


def draw_sample(seed: str, eligible: Iterable[Pair], per_advisor: int) -> list[Pair]:
    """The sample the rule draws from ``eligible`` with ``seed``, in sample order."""
    key = check_seed(seed)
    by_advisor: dict[str, list[str]] = {}
    for advisor, recording_id in eligible:
        by_advisor.setdefault(advisor, []).append(recording_id)
    drawn: list[Pair] = []
    for advisor in sorted(by_advisor):
        ranked = sorted(set(by_advisor[advisor]), key=lambda rid: rank(key, rid))
        drawn.extend((advisor, rid) for rid in ranked[:per_advisor])
    return drawn


def sample_digest(sample: Iterable[Pair]) -> str:
    """SHA-256 of the sorted ``advisor:recording_id`` lines: the sample in one value."""
    text = "\n".join(sorted(f"{advisor}:{rid}" for advisor, rid in sample))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def case_prefix(year: int) -> str:
    """What every case reference of ``year`` starts with (``QA-2026-``)."""
    return f"{CASE_PREFIX}-{year:04d}-"


def case_ref(year: int, number: int) -> str:
    """The case reference of a sampled call (``QA-2026-0042``): what its grant must name."""
    if not 1 <= number <= MAX_CASE_NUMBER:
        raise ValueError(f"case numbers run from 1 to {MAX_CASE_NUMBER}, not {number}")
    return f"{case_prefix(year)}{number:0{CASE_DIGITS}d}"


def case_number(ref: str) -> int:
    """The number of a case reference made by ``case_ref``."""
    return int(ref.rsplit("-", 1)[1])


__all__ = [
    "MAX_CASE_NUMBER",
    "NO_ADVISOR",
    "UK",
    "case_number",
    "case_prefix",
    "case_ref",
    "check_seed",
    "draw_opens",
    "draw_sample",
    "due_month",
    "month_bounds",
    "month_text",
    "new_seed",
    "parse_month",
    "previous_month",
    "rank",
    "sample_digest",
    "uk_day_text",
    "uk_month_of",
]
