"""Is this process ready to take traffic? Each check names what is wrong."""

from __future__ import annotations

from collections.abc import Callable

from callvault.bootstrap import Services
from callvault.db import current_revision, head_revision
from callvault.errors import CallvaultError


def readiness_problems(services: Services) -> list[str]:
    problems: list[str] = []
    checks: list[tuple[str, Callable[[], object]]] = [
        ("database", lambda: _schema_current(services)),
        # Lambdas: building the key ring can itself fail, and must fail inside the check.
        ("key file", lambda: services.keys.active_key_id()),  # noqa: PLW0108
        ("blob store", lambda: next(iter(services.blobs.names()), None)),
    ]
    for label, check in checks:
        try:
            check()
        except CallvaultError as exc:
            problems.append(f"{label}: {exc.message}")
        # Any failure means not ready; the message says which part and why.
        except Exception as exc:
            problems.append(f"{label}: {type(exc).__name__}: {exc}")
    return problems


def _schema_current(services: Services) -> None:
    if current_revision(services.engine) != head_revision():
        raise CallvaultError(
            "schema is not at the newest migration; run `callvault check --repair`"
        )
