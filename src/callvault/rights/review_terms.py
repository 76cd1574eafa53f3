"""A reviewer's decision on one recording as they enter it, checked before anything is written.

Each function raises ``BadInput`` naming the field and the fix; ``review.py`` parses the whole
decision before it opens a transaction, so a bad span changes nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from callvault.errors import BadInput
from callvault.rights.terms import parse_note, parse_text

OUTCOMES = ("released", "withheld")

# Why a recording is withheld from the requester: (law relied on, the words the letter and
# redaction log use). Other people's details inside a released recording are muted instead;
# third_party is for a recording that is mostly someone else's and cannot be separated.
REASON_CODES: dict[str, tuple[str, str]] = {
    "third_party": (
        "DPA 2018 Sch. 2 para 16",
        "it is mostly information about other people that cannot be separated from yours, "
        "and it would not be reasonable to disclose it without their consent",
    ),
    "legal_privilege": (
        "DPA 2018 Sch. 2 para 19",
        "it is covered by legal professional privilege",
    ),
    "crime": (
        "DPA 2018 Sch. 2 para 2",
        "disclosing it would be likely to prejudice the prevention or detection of crime or "
        "the prosecution of offenders",
    ),
    "serious_harm": (
        "DPA 2018 Sch. 3",
        "disclosing it would be likely to cause serious harm to the physical or mental health "
        "of you or someone else (health, social work or education data)",
    ),
    "not_requester": (
        "UK GDPR Art. 15",
        "the call was not yours: it was made from your number by someone else and holds no "
        "information about you",
    ),
}

# Where a mute applies: a channel of a two-channel recording, or both (None).
CHANNELS: dict[str, int | None] = {"0": 0, "caller": 0, "1": 1, "agent": 1, "both": None}
CHANNEL_NAMES = {0: "caller", 1: "agent", None: "both"}
MAX_MUTES = 500
_MAX_REASON = 200
_CLOCK = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)")
# A span may end at the recording's end, give or take the rounding of its stored duration.
_EDGE_S = 0.001


@dataclass(frozen=True, slots=True)
class MuteSpan:
    """A span the reviewer mutes: ``channel`` 0 (caller), 1 (agent) or None (both)."""

    channel: int | None
    start_s: float
    end_s: float
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": CHANNEL_NAMES[self.channel],
            "start": round(self.start_s, 3),
            "end": round(self.end_s, 3),
            "reason": self.reason,
        }


def parse_outcome(value: str | None) -> str:
    if value not in OUTCOMES:
        raise BadInput(
            "outcome must be released (with others' voices and details muted) or withheld "
            "(with a reason code)",
            "outcome",
        )
    return value


def parse_reason_code(value: str | None) -> str:
    if value not in REASON_CODES:
        codes = ", ".join(f"{code} ({law})" for code, (law, _) in REASON_CODES.items())
        raise BadInput(f"reason_code must be one of: {codes}", "reason_code")
    return value


def parse_seconds(value: Any, field: str) -> float:
    """Seconds from the start of the call: a number, or ``m:ss(.s)`` / ``h:mm:ss(.s)``."""
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        clock = _CLOCK.fullmatch(text)
        if clock:
            hours, minutes, secs = clock.groups()
            seconds = int(hours or 0) * 3600 + int(minutes) * 60 + float(secs)
        else:
            try:
                seconds = float(text)
            except ValueError:
                seconds = None
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        raise BadInput(
            f"{field} must be seconds from the start of the call (12.5) or a time (0:12.5), "
            f"not {str(value)[:20]!r}",
            field,
        )
    return seconds


def parse_channel(value: Any, channels: int, field: str) -> int | None:
    key = str(value).strip().lower() if value is not None else "both"
    if key not in CHANNELS:
        raise BadInput(f"{field} must be 0 (caller), 1 (agent) or both", field)
    channel = CHANNELS[key]
    if channel is not None and channel >= channels:
        raise BadInput(f"{field} is {channel}, but the recording has one channel; use both", field)
    return channel


def parse_mutes(
    values: Sequence[Mapping[str, Any]], *, duration_s: float, channels: int
) -> list[MuteSpan]:
    """The spans a reviewer adds: each on a channel, inside the recording, with a reason."""
    if isinstance(values, str | bytes) or len(values) > MAX_MUTES:
        raise BadInput(f"give at most {MAX_MUTES} spans to mute, as a list", "mutes")
    spans = []
    for index, value in enumerate(values):
        field = f"mutes[{index}]"
        if not isinstance(value, Mapping):
            raise BadInput(f"{field} must have channel, start, end and reason", field)
        channel = parse_channel(value.get("channel"), channels, f"{field}.channel")
        start = parse_seconds(value.get("start"), f"{field}.start")
        end = parse_seconds(value.get("end"), f"{field}.end")
        if end <= start:
            raise BadInput(f"{field} ends at {end:g} s, not after its start {start:g} s", field)
        if end > duration_s + _EDGE_S:
            raise BadInput(
                f"{field} ends at {end:g} s, after the recording's end ({duration_s:g} s)",
                f"{field}.end",
            )
        reason = parse_text(value.get("reason"), f"{field}.reason", limit=_MAX_REASON,
                            required=True)  # fmt: skip
        spans.append(MuteSpan(channel, start, min(end, duration_s), reason))
    return spans


def parse_drop(values: Sequence[Any], proposal_ids: set[int]) -> list[int]:
    """Proposed mutes the reviewer drops (the requester's own details): ids from the list of
    proposals for this recording."""
    dropped = []
    for index, value in enumerate(values):
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = -1
        if number not in proposal_ids:
            known = ", ".join(str(i) for i in sorted(proposal_ids)) or "none"
            raise BadInput(
                f"drop[{index}] {str(value)[:20]!r} is not a proposed mute of this recording "
                f"(proposals: {known})",
                f"drop[{index}]",
            )
        dropped.append(number)
    return sorted(set(dropped))


def parse_mute_option(text: str, index: int) -> dict[str, str]:
    """``CHANNEL,START,END,REASON`` as the CLI's ``--mute`` takes it (the reason may hold
    commas) into the mapping ``parse_mutes`` checks."""
    parts = [part.strip() for part in text.split(",", 3)]
    if len(parts) != 4:
        raise BadInput(
            f"--mute {text[:40]!r} must be CHANNEL,START,END,REASON, e.g. "
            "'both,0:12.5,0:14,a neighbour's voice in the background'",
            f"mutes[{index}]",
        )
    return dict(zip(("channel", "start", "end", "reason"), parts, strict=True))


def review_note(value: str | None, outcome: str) -> str:
    """Required for a withheld recording: why the exemption applies (kept in the register,
    not sent to the requester)."""
    return parse_note(value, required=outcome == "withheld")
