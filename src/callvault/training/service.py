"""Training clips: proposed by a manager, agreed by the staff member, made anonymous, reviewed.

The policy allows training use "only if the caller is made anonymous and the staff member
agrees". So a clip is published only when all of these hold, each recorded in the audit trail:

1. a manager proposed it (recording, time span, why);
2. the staff member on the call agreed, from their own sign-in (nobody agrees for them);
3. the job made it from the redacted rendition (the caller's personal data muted on both
   channels), altered the caller's voice, dropped the call's metadata, and measured what is
   left of the caller's voice: "anonymised" only when the measure passes;
4. a second person (not the proposer) listened and confirmed every motivated-intruder check.

Withdrawing consent makes the clip unplayable at once and queues its removal (its own data
key destroyed, its blob deleted), which the next job run carries out; a rejected clip goes the
same way. Published clips live in the library under its own purpose and retention
(``LIBRARY_DAYS``), whatever becomes of the call they came from.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, Engine, delete, insert, select, update

from callvault.access.actions import Permissions
from callvault.access.refusals import record_refusal, require_permission
from callvault.audit.service import AuditLog
from callvault.catalog.service import Catalog
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.errors import BadInput, Conflict, NotFound, Refused
from callvault.jobs.interfaces import JobQueue
from callvault.media.decode import decode_to_pcm
from callvault.retention.ledger import ErasureLedger
from callvault.speech.renditions import REDACTED_AUDIO
from callvault.training.making import check_span, make_clip
from callvault.training.model import (
    CHECKLIST,
    CONSENT_STANDS,
    CONSENTED,
    MADE,
    PROPOSED,
    PUBLISHED,
    REFUSED,
    REJECTED,
    REMOVED,
    WITHDRAWN,
    Clip,
)
from callvault.training.removal import clip_erasure
from callvault.training.similarity import PASS_THRESHOLD
from callvault.training.store import clip_key_aad, clip_keys, training_clips
from callvault.vault.interfaces import WrappedKey
from callvault.vault.service import Vault

if TYPE_CHECKING:
    from callvault.bootstrap import Services

PROPOSE, CONSENT, REVIEW = "training:propose", "training:consent", "training:review"
READ, MAKE = "training:read", "training:make"
PURPOSE = "training"
# The library's own retention: two years, long enough for a cohort of new starters to learn
# from an example, short enough that the library is renewed (and clips do not outlive the
# consent of staff who have long left).
LIBRARY_DAYS = 730
MAKE_TASK, REMOVE_TASK = "training.make_clip", "training.remove_clip"
_MAX_WHY = 2000
Clock = Callable[[], datetime]


def clip_blob_name(clip_id: str) -> str:
    return f"training/{clip_id[:2]}/{clip_id}.opus"


class TrainingService:
    def __init__(
        self,
        engine: Engine,
        audit: AuditLog,
        permissions: Permissions,
        catalog: Catalog,
        vault: Vault,
        jobs: JobQueue,
        ledger: ErasureLedger,
        clock: Clock | None = None,
        threshold: float = PASS_THRESHOLD,
    ) -> None:
        self._engine, self._audit, self._permissions = engine, audit, permissions
        self._catalog, self._vault, self._jobs, self._ledger = catalog, vault, jobs, ledger
        self._clock: Clock = clock or (lambda: datetime.now(UTC))
        # The speaker-similarity score at or below which a voice counts as anonymised.
        self.threshold = threshold

    @classmethod
    def for_services(cls, services: Services) -> TrainingService:
        return cls(services.engine, services.audit, services.permissions, services.catalog,
                   services.vault, services.jobs, services.ledger)  # fmt: skip

    # -- the people's steps ---------------------------------------------------------------------
    def propose(
        self,
        ctx: RequestContext,
        recording_id: str,
        *,
        start_s: float,
        end_s: float,
        why: str | None,
    ) -> Clip:
        """Propose a clip of a recording as a training example; its staff member decides."""
        self._require(ctx, PROPOSE, recording_id)
        rec = self._catalog.get(recording_id)
        start_s, end_s = check_span(start_s, end_s, rec.duration_s)
        reason = (why or "").strip()
        if not reason or len(reason) > _MAX_WHY:
            raise BadInput(
                f"why is required (1 to {_MAX_WHY} characters): what the clip teaches", "why"
            )
        if rec.channels < 2 or "caller" not in rec.channel_map:
            raise BadInput(
                "this recording has one channel for both voices: the caller's voice cannot be "
                "altered without the staff member's; choose a two-channel recording",
                "recording_id",
            )
        if not rec.agent:
            raise BadInput("the recording names no staff member to agree", "recording_id")
        if self._catalog.rendition(recording_id, REDACTED_AUDIO) is None:
            raise Conflict(
                "the speech job has not muted this recording's personal data yet; propose the "
                "clip once it has (the recording page shows its transcript when it has)",
                "recording_id",
            )
        clip_id = uuid.uuid4().hex
        row: dict[str, Any] = {
            "id": clip_id, "recording_id": recording_id, "start_s": start_s,
            "end_s": end_s, "why": reason, "line": rec.line, "agent": rec.agent,
            "proposed_by": ctx.actor.name, "proposed_at": self._now(), "state": PROPOSED,
        }  # fmt: skip
        with transaction(self._engine) as conn:
            conn.execute(insert(training_clips).values(**row))
            self._audit.append(
                conn, self._purpose(ctx), "training.proposed", object_type="training_clip",
                object_id=clip_id,
                details={"recording_id": recording_id, "start_s": start_s, "end_s": end_s,
                         "agent": rec.agent},
            )  # fmt: skip
        return self._get(clip_id)

    def consent(self, ctx: RequestContext, clip_id: str, *, agree: bool) -> Clip:
        """The staff member on the call agrees (the clip is then made) or refuses."""
        clip = self._own_clip(ctx, clip_id)
        if clip.state != PROPOSED:
            raise Conflict(f"clip {clip_id} is {clip.state}; nothing to decide", "clip_id")
        state, column = (CONSENTED, "consent_at") if agree else (REFUSED, "refused_at")
        with transaction(self._engine) as conn:
            self._move(conn, clip_id, PROPOSED, state, **{column: self._now()})
            if agree:
                self._jobs.enqueue(conn, MAKE_TASK, key=f"training-make:{clip_id}",
                                   payload={"clip_id": clip_id}, queue="media")  # fmt: skip
            self._audit.append(
                conn, self._purpose(ctx), "training.consented" if agree else "training.refused",
                object_type="training_clip", object_id=clip_id, details={"agent": clip.agent},
            )  # fmt: skip
        return self._get(clip_id)

    def withdraw(self, ctx: RequestContext, clip_id: str) -> Clip:
        """The staff member withdraws their consent: the clip stops playing now and its
        removal is queued for the next job run."""
        clip = self._own_clip(ctx, clip_id)
        if clip.state not in CONSENT_STANDS:
            raise Conflict(f"clip {clip_id} is {clip.state}; there is no consent to withdraw",
                           "clip_id")  # fmt: skip
        with transaction(self._engine) as conn:
            self._move(conn, clip_id, clip.state, WITHDRAWN, withdrawn_at=self._now())
            self._queue_removal(conn, clip_id)
            self._audit.append(
                conn, self._purpose(ctx), "training.withdrawn", object_type="training_clip",
                object_id=clip_id, details={"agent": clip.agent, "was": clip.state},
            )  # fmt: skip
        return self._get(clip_id)

    def review(
        self,
        ctx: RequestContext,
        clip_id: str,
        *,
        checks: dict[str, bool],
        approve: bool,
        note: str | None = None,
    ) -> Clip:
        """A second person's sign-off. Approving publishes the clip, and needs every
        motivated-intruder check confirmed and the voice measure passed; rejecting removes it."""
        self._require(ctx, REVIEW, clip_id)
        clip = self._get(clip_id)
        if clip.state != MADE:
            raise Conflict(f"clip {clip_id} is {clip.state}; only a made clip is reviewed",
                           "clip_id")  # fmt: skip
        if ctx.actor.name in {clip.proposed_by, clip.agent}:
            refusal = Refused("a clip is reviewed by someone other than its proposer and the "
                              "staff member on it", "actor")  # fmt: skip
            record_refusal(self._engine, self._audit, ctx, refusal,
                           object_type="training_clip", object_id=clip_id)  # fmt: skip
        unknown = set(checks) - set(CHECKLIST)
        if unknown:
            raise BadInput(f"unknown checks {sorted(unknown)}; the checks are {list(CHECKLIST)}",
                           "checks")  # fmt: skip
        answers = {name: bool(checks.get(name, False)) for name in CHECKLIST}
        text = (note or "").strip()
        if approve:
            _check_publishable(clip, answers)
        elif not text:
            raise BadInput("note is required when rejecting: say what failed", "note")
        now = self._clock()
        values: dict[str, Any] = {"reviewed_by": ctx.actor.name, "reviewed_at": self._now(),
                                  "checklist": orjson.dumps(answers).decode(),
                                  "review_note": text or None}  # fmt: skip
        if approve:
            until = now + timedelta(days=LIBRARY_DAYS)
            values |= {"published_at": self._now(), "retain_until": until.isoformat()}
        with transaction(self._engine) as conn:
            self._move(conn, clip_id, MADE, PUBLISHED if approve else REJECTED, **values)
            if not approve:
                self._queue_removal(conn, clip_id)
            self._audit.append(
                conn, self._purpose(ctx), "training.published" if approve else "training.rejected",
                object_type="training_clip", object_id=clip_id,
                details={"checklist": answers, "label": clip.label,
                         "similarity": clip.similarity, "note": text or None},
            )  # fmt: skip
        return self._get(clip_id)

    # -- reading and hearing --------------------------------------------------------------------
    def list(self, ctx: RequestContext, *, library: bool = True) -> builtins.list[Clip]:
        """Published clips (the library); or, for proposers and reviewers, every clip; a staff
        member also sees the clips of their own calls awaiting their decision."""
        self._require(ctx, READ, None)
        c = training_clips.c
        query = select(training_clips).order_by(c.proposed_at.desc())
        if library or not self._oversees(ctx):
            query = query.where((c.state == PUBLISHED) | (c.agent == ctx.actor.name))
        with self._engine.connect() as conn:
            return [Clip.from_row(r) for r in conn.execute(query)]

    def get(self, ctx: RequestContext, clip_id: str) -> Clip:
        self._require(ctx, READ, clip_id)
        clip = self._get(clip_id)
        if clip.state != PUBLISHED and not (ctx.actor.name == clip.agent or self._oversees(ctx)):
            raise NotFound(f"no published clip {clip_id}", "clip_id")
        return clip

    def audio(self, ctx: RequestContext, clip_id: str) -> bytes:
        """A published clip's audio (Ogg Opus), or a made one for its reviewer; audited first."""
        self._require(ctx, READ, clip_id)
        clip = self._get(clip_id)
        reviewing = clip.state == MADE and self._permissions.allowed(ctx.actor, REVIEW)
        if clip.state != PUBLISHED and not reviewing:
            refusal = Refused(f"clip {clip_id} is {clip.state}: only published clips are played "
                              "(and made ones, to their reviewer)", "clip_id")  # fmt: skip
            record_refusal(self._engine, self._audit, ctx, refusal,
                           object_type="training_clip", object_id=clip_id)  # fmt: skip
        with transaction(self._engine) as conn:
            key = self._key(conn, clip_id)
            self._audit.append(conn, self._purpose(ctx), "training.played",
                               object_type="training_clip", object_id=clip_id,
                               details={"state": clip.state})  # fmt: skip
        assert clip.blob_name is not None
        return self._vault.read_all(clip.blob_name, key)

    # -- the jobs -------------------------------------------------------------------------------
    def make(self, ctx: RequestContext, clip_id: str) -> Clip:
        """Cut, alter, measure and store a consented clip under its own key. Idempotent; a
        clip whose consent was withdrawn meanwhile is not made."""
        self._require(ctx, MAKE, clip_id)
        clip = self._get(clip_id)
        if clip.state != CONSENTED:
            return clip
        rec = self._catalog.get(clip.recording_id)
        redacted = self._catalog.rendition(rec.id, REDACTED_AUDIO)
        if redacted is None:
            raise Conflict(f"recording {rec.id} has no redacted rendition", "recording_id")
        with transaction(self._engine) as conn:
            # The act is audited before any audio is read: the job reads a call for training.
            self._audit.append(conn, self._purpose(ctx), "training.source_read",
                               object_type="recording", object_id=rec.id,
                               details={"clip_id": clip_id, "rendition": "redacted"})  # fmt: skip
        key = self._vault.unwrap_key(self._catalog.wrapped_key(rec.id), rec.id)
        pcm, rate = decode_to_pcm(self._vault.read_all(redacted, key))
        made = make_clip(pcm, rate, start_s=clip.start_s, end_s=clip.end_s,
                         caller_channel=rec.channel_map["caller"],
                         threshold=self.threshold)  # fmt: skip
        clip_key, name = self._vault.new_data_key(), clip_blob_name(clip_id)
        self._vault.write(name, clip_key, made.opus)
        wrapped = self._vault.wrap_key(clip_key, clip_key_aad(clip_id))
        try:
            with transaction(self._engine) as conn:
                current = self._state(conn, clip_id)
                if current != CONSENTED:
                    raise Conflict(f"clip {clip_id} became {current} while it was made", "clip_id")
                conn.execute(insert(clip_keys).values(clip_id=clip_id, kek_id=wrapped.kek_id,
                                                      wrapped=wrapped.blob,
                                                      created_at=self._now()))  # fmt: skip
                self._move(conn, clip_id, CONSENTED, MADE, made_at=self._now(), blob_name=name,
                           duration_s=made.duration_s, label=made.assessment.label,
                           similarity=made.assessment.similarity)  # fmt: skip
                self._audit.append(
                    conn, self._purpose(ctx), "training.made", object_type="training_clip",
                    object_id=clip_id,
                    details={"label": made.assessment.label,
                             "similarity": made.assessment.similarity,
                             "threshold": made.assessment.threshold,
                             "measure": made.assessment.reason, "draws": made.draws,
                             "duration_s": made.duration_s},
                )  # fmt: skip
        except BaseException:
            self._vault.delete(name)  # never an orphan clip nobody has a key to, or consent for
            raise
        return self._get(clip_id)

    def remove(self, ctx: RequestContext, clip_id: str, why: str | None = None) -> Clip:
        """Destroy a withdrawn, rejected or expired clip's key and delete its audio. Idempotent."""
        self._require(ctx, MAKE, clip_id)
        clip = self._get(clip_id)
        if clip.state == REMOVED:
            return clip
        if clip.state not in {WITHDRAWN, REJECTED, PUBLISHED}:
            raise Conflict(f"clip {clip_id} is {clip.state}; it is not due for removal",
                           "clip_id")  # fmt: skip
        reason = why or {WITHDRAWN: "consent withdrawn", REJECTED: "rejected at review"}.get(
            clip.state, "the library's retention ended"
        )
        # The erasure ledger first, as a purge does: a restore of an older backup removes the
        # clip again instead of bringing back audio whose consent was withdrawn.
        at = self._clock().astimezone(UTC).isoformat()
        self._ledger.record([clip_erasure(clip_id, clip.blob_name, at, reason)])
        with transaction(self._engine) as conn:
            conn.execute(delete(clip_keys).where(clip_keys.c.clip_id == clip_id))
            self._move(conn, clip_id, clip.state, REMOVED, removed_at=self._now(),
                       removed_why=reason)  # fmt: skip
            self._audit.append(
                conn, self._purpose(ctx), "training.removed", object_type="training_clip",
                object_id=clip_id,
                details={"why": reason, "key_destroyed": True, "blob": clip.blob_name},
            )  # fmt: skip
        # The key is gone: the bytes are unreadable; deleting them is tidying up.
        if clip.blob_name:
            self._vault.delete_many([clip.blob_name])
        return self._get(clip_id)

    def expire(self, ctx: RequestContext) -> builtins.list[str]:
        """Remove published clips whose library retention has ended; return their ids."""
        self._require(ctx, MAKE, None)
        now = self._clock().isoformat()
        c = training_clips.c
        with self._engine.connect() as conn:
            due = conn.execute(
                select(c.id).where(c.state == PUBLISHED, c.retain_until <= now)
            ).scalars().all()  # fmt: skip
        return [self.remove(ctx, clip_id).id for clip_id in due]

    # -- helpers --------------------------------------------------------------------------------
    def _require(self, ctx: RequestContext, action: str, object_id: str | None) -> None:
        require_permission(self._engine, self._audit, self._permissions, ctx, action,
                           object_type="training_clip", object_id=object_id)  # fmt: skip

    def _oversees(self, ctx: RequestContext) -> bool:
        """Proposers and reviewers see clips in every state; others only the library."""
        return any(self._permissions.allowed(ctx.actor, a) for a in (PROPOSE, REVIEW))

    def _own_clip(self, ctx: RequestContext, clip_id: str) -> Clip:
        """The clip, when ``ctx`` is the staff member on its call (signed in as themselves)."""
        self._require(ctx, CONSENT, clip_id)
        clip = self._get(clip_id)
        refusal = None
        if ctx.actor.kind != "user" or ctx.actor.name != clip.agent:
            refusal = Refused(f"only {clip.agent}, the staff member on the call, decides on "
                              "this clip", "actor")  # fmt: skip
        elif ctx.actor.operator is not None:
            # Consent is theirs to give: an operator acting for them at the CLI cannot.
            refusal = Refused("consent comes from the staff member's own sign-in (the web "
                              "page or the API), not from an operator acting for them",
                              "actor")  # fmt: skip
        if refusal is not None:
            record_refusal(self._engine, self._audit, ctx, refusal,
                           object_type="training_clip", object_id=clip_id)  # fmt: skip
        return clip

    def _get(self, clip_id: str) -> Clip:
        with self._engine.connect() as conn:
            row = conn.execute(select(training_clips).where(training_clips.c.id == clip_id)).first()
        if row is None:
            raise NotFound(f"no training clip {clip_id[:40]!r}", "clip_id")
        return Clip.from_row(row)

    def _state(self, conn: Connection, clip_id: str) -> str:
        return str(
            conn.execute(
                select(training_clips.c.state).where(training_clips.c.id == clip_id)
            ).scalar_one()
        )

    def _move(self, conn: Connection, clip_id: str, was: str, to: str, **values: Any) -> None:
        """Change the clip's state from ``was`` (checked in the same statement, so two people
        acting at once cannot both succeed) to ``to``."""
        moved = conn.execute(
            update(training_clips)
            .where(training_clips.c.id == clip_id, training_clips.c.state == was)
            .values(state=to, **values)
        )
        if moved.rowcount != 1:
            raise Conflict(f"clip {clip_id} changed meanwhile; look again", "clip_id")

    def _queue_removal(self, conn: Connection, clip_id: str) -> None:
        self._jobs.enqueue(conn, REMOVE_TASK, key=f"training-remove:{clip_id}",
                           payload={"clip_id": clip_id}, queue="media")  # fmt: skip

    def _key(self, conn: Connection, clip_id: str) -> bytes:
        row = conn.execute(select(clip_keys).where(clip_keys.c.clip_id == clip_id)).first()
        if row is None:
            raise NotFound(f"clip {clip_id} has no key: it was removed", "clip_id")
        wrapped = WrappedKey(kek_id=row.kek_id, blob=bytes(row.wrapped))
        return self._vault.unwrap_key(wrapped, clip_key_aad(clip_id))

    def _purpose(self, ctx: RequestContext) -> RequestContext:
        return replace(ctx, purpose=PURPOSE)

    def _now(self) -> str:
        return self._clock().isoformat(timespec="microseconds")


def _check_publishable(clip: Clip, answers: dict[str, bool]) -> None:
    missing = [name for name, ok in answers.items() if not ok]
    if missing:
        raise BadInput(
            f"every check must be confirmed to publish; not confirmed: {', '.join(missing)}. "
            "Reject the clip instead if any fails",
            "checks",
        )
    if clip.label != "anonymised":
        measured = (
            "was not measured"
            if clip.similarity is None
            else (f"still matches the caller (similarity {clip.similarity:.2f})")
        )
        raise BadInput(
            f"the altered voice {measured}: the clip is pseudonymised, not anonymous, and the "
            "policy allows training use only of anonymous callers; reject it",
            "approve",
        )
