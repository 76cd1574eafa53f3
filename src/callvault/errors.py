"""One exception hierarchy, mapped once to CLI exit codes and HTTP statuses.

Every message names what was wrong and how to fix it; ``field`` names the input at fault
(``"meta.dialled"``, ``"audio"``, ``"lines[3].retention"``) so scripts can react to it.
"""

from __future__ import annotations


class CallvaultError(Exception):
    """Base of every error callvault raises on purpose."""

    exit_code = 2
    http_status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def as_dict(self) -> dict[str, str | None]:
        return {"error": self.message, "field": self.field}


class BadInput(CallvaultError):
    """The caller sent something malformed; nothing was changed."""

    http_status = 422


class ConfigError(CallvaultError):
    """Settings or the policy file are invalid; fix the file named in the message."""


class Conflict(CallvaultError):
    """The request contradicts what is stored (e.g. same call id, different audio)."""

    http_status = 409


class NotFound(CallvaultError):
    """The named object does not exist (or the actor may not know that it does)."""

    http_status = 404


class Refused(CallvaultError):
    """The actor may not do this: no permission, no grant, wrong purpose."""

    exit_code = 3
    http_status = 403


class NotSignedIn(Refused):
    """Nobody is signed in and the action needs someone: sign in, then ask again (HTTP 401)."""

    http_status = 401


class CheckFailed(CallvaultError):
    """A verification found a problem (audit chain, store consistency)."""

    exit_code = 1
    http_status = 500


class IntegrityFailure(CheckFailed):
    """Stored bytes failed authentication: tampered, truncated or reordered."""
