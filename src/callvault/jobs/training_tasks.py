"""Training clip jobs (queue ``media``): make a consented clip; remove a withdrawn, rejected
or expired one; each day, expire clips past the library's retention.

Consent and withdrawal enqueue these in their own transaction, so a withdrawal's removal is
carried out by the next job run (``callvault worker --burst`` or the worker in ``serve``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from callvault.jobs.registry import JobContext, periodic, task
from callvault.training.service import MAKE_TASK, REMOVE_TASK, TrainingService

if TYPE_CHECKING:
    from callvault.bootstrap import Services

EXPIRE_TASK = "training.expire_clips"


@task(MAKE_TASK, queue="media", max_attempts=3)
def make_clip(services: Services, ctx: JobContext, payload: dict[str, Any]) -> None:
    """Cut, alter, measure and store one consented clip. Idempotent."""
    TrainingService.for_services(services).make(ctx.request, str(payload["clip_id"]))


@task(REMOVE_TASK, queue="media")
def remove_clip(services: Services, ctx: JobContext, payload: dict[str, Any]) -> None:
    """Destroy a withdrawn or rejected clip's key and delete its audio. Idempotent."""
    TrainingService.for_services(services).remove(ctx.request, str(payload["clip_id"]))


@periodic(every_minutes=24 * 60)
@task(EXPIRE_TASK, queue="media")
def expire_clips(services: Services, ctx: JobContext, payload: dict[str, Any]) -> None:
    """Remove published clips whose library retention has ended."""
    TrainingService.for_services(services).expire(ctx.request)
