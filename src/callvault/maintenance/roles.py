"""PostgreSQL roles: the application connects as a role that cannot alter the audit trail.

Migrations run as the owner; the web, recorder and workers connect as an application role with
INSERT and SELECT on the audit tables and no UPDATE or DELETE. The append-only triggers refuse
changes even to the owner; the grants make sure the application could not drop them either
(only a table's owner may drop or disable its triggers).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import inspect

from callvault.bootstrap import Services
from callvault.context import RequestContext
from callvault.db import transaction
from callvault.errors import BadInput

_ROLE = re.compile(r"[a-z_][a-z0-9_]{0,62}")
APPEND_ONLY = ("audit_log", "audit_checkpoints")
# The signed head is replaced by every append, so the application may update it.
HEAD = "audit_head"


def grant_app_role(services: Services, ctx: RequestContext, role: str) -> dict[str, Any]:
    """Grant ``role`` what the application needs and nothing that alters the audit trail."""
    if services.engine.dialect.name != "postgresql":
        raise BadInput("database roles apply to PostgreSQL; SQLite has no roles", "db_url")
    if not _ROLE.fullmatch(role):
        raise BadInput(f"{role!r} is not a plain PostgreSQL role name", "role")
    tables = sorted(inspect(services.engine).get_table_names())
    ordinary = [t for t in tables if t not in (*APPEND_ONLY, HEAD)]
    statements = [
        f"REVOKE ALL ON {', '.join(tables)} FROM {role}",
        f"GRANT USAGE ON SCHEMA current_schema() TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(ordinary)} TO {role}",
        f"GRANT SELECT, INSERT ON {', '.join(APPEND_ONLY)} TO {role}",
        f"GRANT SELECT, INSERT, UPDATE ON {HEAD} TO {role}",
        # procrastinate's own tables (when it is the queue) number their rows by sequence.
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA current_schema() TO {role}",
    ]
    with transaction(services.engine) as conn:
        schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
        for statement in statements:
            conn.exec_driver_sql(statement.replace("current_schema()", f'"{schema}"'))
        services.audit.append(
            conn,
            ctx,
            "db.role_granted",
            object_type="db_role",
            object_id=role,
            details={"append_only": list(APPEND_ONLY)},
        )
    return {"role": role, "append_only": list(APPEND_ONLY), "read_write": ordinary}
