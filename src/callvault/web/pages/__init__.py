"""The manager's web UI: one module of page routes per area (``render`` holds what they
share). ``ROUTERS`` is what the app includes."""

from __future__ import annotations

from fastapi import APIRouter

from callvault.web.pages import (
    approvals,
    audit_pages,
    conduct_pages,
    demand_pages,
    holds_pages,
    home,
    listen,
    quality_pages,
    quality_sample_pages,
    recording,
    rights_actions,
    rights_pages,
    rights_review_pages,
    search,
    signin_pages,
    training_pages,
    users_pages,
)

ROUTERS: tuple[APIRouter, ...] = tuple(
    module.router
    for module in (
        home,
        signin_pages,
        search,
        recording,
        listen,
        approvals,
        holds_pages,
        rights_pages,
        rights_actions,
        rights_review_pages,
        training_pages,
        conduct_pages,
        quality_pages,
        quality_sample_pages,
        demand_pages,
        audit_pages,
        users_pages,
    )
)
