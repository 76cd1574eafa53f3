"""The files of a subject access response package, each made in memory from its inputs.

Nothing here reads the vault or writes a file: ``package.py`` hands in decrypted audio and
transcripts it obtained under a grant, and writes what comes back into the zip. Every function
gives the same bytes for the same inputs, because the package is made twice (once to hash it
for the audit entry, once to write it) and the two must agree.
"""

from __future__ import annotations

import csv
import io
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from callvault.catalog.model import Recording
from callvault.media.decode import decode_to_pcm
from callvault.media.mute import Span, mute_spans
from callvault.rights.items import NumberedItem
from callvault.rights.review import Proposal, at_capture_reason
from callvault.rights.review_terms import CHANNEL_NAMES, MuteSpan
from callvault.speech.model import Transcript, Word
from callvault.speech.renditions import PAD_S

FORMAT = "callvault-subject-access/1"
WITHHELD = "[withheld]"
SPEAKER_NAMES = {"caller": "Caller", "agent": "Council staff", "mixed": "Speaker"}
LOG_COLUMNS = ("recording", "file", "outcome", "channel", "start_s", "end_s", "reason",
               "decided_by", "decided_at")  # fmt: skip
# A cell a spreadsheet would run as a formula: prefixed with ' so it stays text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class LogRow:
    """One line of ``redaction-log.csv``: a muted passage, or a recording withheld."""

    recording: int
    file: str
    outcome: str
    channel: str  # caller, agent or both; "" where the row is not a passage
    start_s: float | None
    end_s: float | None
    reason: str
    decided_by: str
    decided_at: str


def muted_wav(audio: bytes, spans: Sequence[MuteSpan]) -> bytes:
    """Stored audio (Ogg Opus) decoded, ``spans`` silenced exactly (no padding: a reviewer's
    span is what they mean; proposals were widened when confirmed), as 16-bit PCM WAV with
    every channel."""
    pcm, rate = decode_to_pcm(audio)
    channels = pcm.shape[0]
    wanted = [Span(s.channel if channels > 1 else None, s.start_s, s.end_s) for s in spans]
    muted, _applied = mute_spans(pcm, rate, wanted, mode="silence", pad_s=0.0)
    return wav_bytes(muted, rate)


def wav_bytes(pcm: npt.NDArray[np.int16], rate: int) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(pcm.shape[0])
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(np.ascontiguousarray(pcm.T).astype("<i2").tobytes())
    return out.getvalue()


def transcript_text(
    title: str, rec: Recording, transcript: Transcript, spans: Sequence[MuteSpan]
) -> bytes:
    """Speaker-labelled lines with their times; a word whose middle lies in a muted span on
    its speaker's channel (or both) is ``[withheld]``, and a run of them one mark."""
    channel_of = dict(rec.channel_map)
    lines = [
        title,
        f"Made by automatic speech recognition ({transcript.model}): it may hold mistakes; "
        "the audio is the record.",
        f"{WITHHELD} marks words in a passage muted in the audio. [CARD] and similar marks "
        "stand for payment card details, which we never keep.",
        "",
    ]
    for segment in sorted(transcript.segments, key=lambda s: (s.start_s, s.end_s)):
        channel = channel_of.get(segment.speaker, 0)
        words = [w for w in segment.words if w.text.strip()]
        if words:
            text = _withhold(words, channel, spans)
        else:  # no word times: the whole segment goes if any of it was muted
            inside = any(_muted_at(s, channel, segment.start_s, segment.end_s) for s in spans)
            text = WITHHELD if inside else segment.text
        speaker = SPEAKER_NAMES.get(segment.speaker, segment.speaker)
        lines.append(f"[{_clock(segment.start_s)}-{_clock(segment.end_s)}] {speaker}: {text}")
    return ("\n".join(lines) + "\n").encode()


def _withhold(words: Sequence[Word], channel: int, spans: Sequence[MuteSpan]) -> str:
    shown: list[str] = []
    for word in words:
        middle = (word.start_s + word.end_s) / 2
        if any(_muted_at(s, channel, middle, middle) for s in spans):
            if not shown or shown[-1] != WITHHELD:
                shown.append(WITHHELD)
        else:
            shown.append(word.text.strip())
    return " ".join(shown)


def _muted_at(span: MuteSpan, channel: int, start: float, end: float) -> bool:
    on_channel = span.channel is None or span.channel == channel
    return on_channel and span.start_s <= end and start <= span.end_s


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 60:02d}:{whole % 60:02d}.{int((seconds - whole) * 10)}"


def redaction_log(rows: Sequence[LogRow]) -> bytes:
    """``redaction-log.csv``: one row per muted passage and per withheld recording."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(LOG_COLUMNS)
    for row in rows:
        writer.writerow([
            row.recording, row.file, row.outcome, row.channel,
            "" if row.start_s is None else f"{row.start_s:.2f}",
            "" if row.end_s is None else f"{row.end_s:.2f}",
            _cell(row.reason), _cell(row.decided_by), row.decided_at,
        ])  # fmt: skip
    return out.getvalue().encode()


def _cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


def manifest(document: dict[str, Any], members: Sequence[tuple[str, str, int]]) -> bytes:
    """``manifest.json``: ``document`` with every other member's name, SHA-256 and size."""
    files = [{"name": name, "sha256": sha, "size": size} for name, sha, size in members]
    return orjson.dumps(
        {"format": FORMAT, **document, "files": files},
        option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS,
    )


def log_rows(
    item: NumberedItem,
    file: str,
    captured: Sequence[Proposal],
    mutes: Sequence[tuple[MuteSpan, str]],
) -> list[LogRow]:
    """The log's rows for a released recording: card data muted when it was stored, then each
    span the reviewer muted; one row saying so where nothing was."""
    rows = [
        LogRow(item.number, file, "released", "both", max(0.0, p.start_s - PAD_S),
               min(item.duration_s, p.end_s + PAD_S), at_capture_reason(p),
               "automatic, when the call was stored", "")
        for p in captured
    ]  # fmt: skip
    rows += [
        LogRow(item.number, file, "released", CHANNEL_NAMES[span.channel], span.start_s,
               span.end_s, span.reason, by, item.decided_at or "")
        for span, by in mutes
    ]  # fmt: skip
    if not rows:
        rows.append(LogRow(item.number, file, "released", "", None, None, "nothing muted",
                           item.decided_by or "", item.decided_at or ""))  # fmt: skip
    return rows


def described(item: NumberedItem, count: int) -> dict[str, Any]:
    """A recording as the manifest lists it; a withheld call by its number and reason only."""
    if item.outcome != "released":
        return {"number": item.number, "outcome": item.outcome, "reason_code": item.reason_code}
    return {
        "number": item.number,
        "outcome": item.outcome,
        "label": item.label(count),
        "started_at": item.started_at,
        "line": item.line,
        "duration_s": item.duration_s,
    }
