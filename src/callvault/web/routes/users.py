"""Accounts over the API, for administrators: people and service accounts.

Administrators manage accounts but never hear audio (separation of duties); every change is
audited by ``AccessService``.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from callvault.web.security import declares, request_context, services_of

router = APIRouter(prefix="/api/v1", tags=["users"])


class NewPerson(BaseModel):
    username: str = Field(max_length=64)
    role: str = Field(max_length=64, description="A role id from the policy file.")


class NewServiceAccount(BaseModel):
    username: str = Field(max_length=64)
    role: Literal["ingest", "payments"] = Field(
        default="ingest", description="ingest: a PBX's uploader; payments: pauses live calls."
    )


@router.get("/users", **declares("users:manage"))
def list_users(request: Request) -> dict[str, Any]:
    """Every account, its role and whether it is disabled."""
    return {"users": services_of(request).access.list_users()}


@router.post("/users", status_code=201, **declares("users:manage"))
def add_person(request: Request, body: NewPerson) -> dict[str, Any]:
    """Add a person; the generated first password is shown once."""
    access = services_of(request).access
    password = access.add_person(request_context(request), body.username, body.role)
    return {"user": body.username, "role": body.role, "password": password}


@router.post("/service-accounts", status_code=201, **declares("users:manage"))
def add_service_account(request: Request, body: NewServiceAccount) -> dict[str, Any]:
    """Add a service account (a PBX's uploader); its API token is shown once."""
    token = services_of(request).access.add_service(
        request_context(request), body.username, body.role
    )
    return {"user": body.username, "role": body.role, "token": token}


@router.post("/users/{username}/disable", **declares("users:manage"))
def disable_user(request: Request, username: str) -> dict[str, Any]:
    """Disable an account: it can no longer sign in, act or use its grants."""
    services_of(request).access.disable(request_context(request), username)
    return {"user": username, "disabled": True}
