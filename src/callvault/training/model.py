"""A training clip as the library holds it, and the reviewer's motivated-intruder checklist."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import orjson
from sqlalchemy import Row

# The ICO's test (anonymisation guidance, 2025): could a motivated intruder (someone with no
# special skills but a reason to try, using what is public or what they know) single out or
# recognise the caller? Each must be confirmed by a person who has listened to the clip.
CHECKLIST = {
    "no_names": "No name of the caller, or of anyone they mention, can be heard.",
    "no_numbers": "No phone, account, card, National Insurance or reference number can be heard.",
    "no_places": "No address, postcode, street or place that points to one household can be heard.",
    "voice_altered": "The caller's voice is altered and does not sound like them.",
    "no_unique_story": "Nothing said is so unusual that someone who knows the caller, or read "
    "about it locally, could tell who it is (a rare illness, a named incident, a family's "
    "unique situation).",
    "no_metadata": "The clip carries no caller number and no date or time of the call.",
    "staff_content": "The staff member on the call agreed and nothing in the clip goes beyond "
    "what they agreed to.",
}
# States a clip passes through; withdrawn and rejected clips are removed by the next job run.
PROPOSED, CONSENTED, MADE, PUBLISHED = "proposed", "consented", "made", "published"
REFUSED, REJECTED, WITHDRAWN, REMOVED = "refused", "rejected", "withdrawn", "removed"
# States in which a clip's audio exists, or is about to, on the staff member's consent.
CONSENT_STANDS = frozenset({CONSENTED, MADE, PUBLISHED})


@dataclass(frozen=True, slots=True)
class Clip:
    id: str
    recording_id: str
    start_s: float
    end_s: float
    why: str
    line: str
    agent: str
    proposed_by: str
    proposed_at: str
    state: str
    consent_at: str | None
    refused_at: str | None
    withdrawn_at: str | None
    made_at: str | None
    blob_name: str | None
    duration_s: float | None
    label: str | None
    similarity: float | None
    reviewed_by: str | None
    reviewed_at: str | None
    checklist: dict[str, bool] | None
    review_note: str | None
    published_at: str | None
    retain_until: str | None
    removed_at: str | None
    removed_why: str | None

    @classmethod
    def from_row(cls, row: Row[Any]) -> Clip:
        values = {f.name: getattr(row, f.name) for f in fields(cls)}
        values["checklist"] = orjson.loads(row.checklist) if row.checklist else None
        return cls(**values)

    def as_dict(self, *, library: bool = False) -> dict[str, Any]:
        """The clip's fields; ``library``: only what a trainee sees (nothing of the call)."""
        if library:
            return {"clip_id": self.id, "line": self.line, "why": self.why,
                    "duration_s": self.duration_s, "label": self.label,
                    "published_at": self.published_at}  # fmt: skip
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        shown["clip_id"] = shown.pop("id")
        return shown
