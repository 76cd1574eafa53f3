"""Read a policy file (YAML) into a validated ``Policy``, or fail naming the field and the fix.

The file is law made executable, so the loader is strict: unknown keys (usually typos) are
errors, every line needs a retention period, and a number may belong to only one line. Errors
are ``ConfigError`` with ``field`` set to the path in the file (``lines[3].retention``).

Versioning: ``version`` is ``<effective_date>+<12 hex>`` where the hex is the SHA-256 of the
*parsed, canonical* policy (``canonical_json``), so comments, whitespace, key order and the
spelling of numbers do not change the version while any change of meaning does.
``source_sha256`` is the hash of the exact file bytes, for the audit trail.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from callvault.errors import ConfigError
from callvault.policy import sections
from callvault.policy.analytics_sections import read_opening_hours, read_quality, read_topics
from callvault.policy.keeping import read_conduct
from callvault.policy.model import Exclusion, Line, Policy, Purpose, Recipient, Role
from callvault.policy.transfers_section import read_transfers

POLICY_KEYS = frozenset(
    {
        "name",
        "effective_date",
        "controller",
        "dpo_contact",
        "notice_version",
        "lines",
        "exclusions",
        "purposes",
        "roles",
        "recipients",
        "opening_hours",
        "topics",
        "quality",
        "transfers",
        "conduct",
    }
)

_REQUIRED = (
    "name",
    "effective_date",
    "controller",
    "dpo_contact",
    "notice_version",
    "lines",
    "recipients",
)


def load_policy(path: Path) -> Policy:
    """Read and validate the policy file at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read the policy file {path}: {exc.strerror}; check the path and permissions",
            field="policy",
        ) from exc
    return parse_policy(text, source=str(path))


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """Parse and validate policy YAML; ``source`` names the file in error messages."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"{source}: not valid YAML ({exc}); fix the syntax at the line shown", field="policy"
        ) from exc
    try:
        policy = _build(data)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc.message}", field=exc.field) from exc
    version = f"{policy.effective_date.isoformat()}+{_digest(canonical_json(policy))[:12]}"
    return dataclasses.replace(policy, version=version, source_sha256=_digest(text))


def canonical_json(policy: Policy) -> str:
    """The policy's meaning as compact, key-sorted JSON (without version and source hash)."""
    data = policy_as_data(policy)
    del data["version"], data["source_sha256"]
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def policy_as_data(policy: Policy) -> dict[str, Any]:
    """The policy as plain JSON-able data (dates as ISO strings, tuples as lists)."""
    return {f.name: _to_data(getattr(policy, f.name)) for f in dataclasses.fields(policy) if f.init}


def _to_data(value: object) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _to_data(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.init  # derived fields (the number index) are not part of the policy
        }
    if isinstance(value, tuple | list):
        return [_to_data(item) for item in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _build(data: object) -> Policy:
    top = sections.mapping(data, "policy", "the policy file must be a mapping of keys")
    sections.check_keys(top, POLICY_KEYS, "", required=_REQUIRED)
    roles = sections.read_list(top, "roles", "", sections.read_role)
    purposes = sections.read_list(
        top, "purposes", "", lambda item, path: sections.read_purpose(item, path, roles)
    )
    lines = _with_hours(top, sections.read_list(top, "lines", "", sections.read_line))
    exclusions = sections.read_list(top, "exclusions", "", sections.read_exclusion)
    recipients = sections.read_list(
        top, "recipients", "", lambda item, path: sections.read_recipient(item, path, purposes)
    )
    if not recipients:
        raise ConfigError(
            "recipients: list at least one recipient; the fair processing notice must say who "
            "receives recordings (UK GDPR Art. 13(1)(e)), e.g. the Ombudsman, the police, courts",
            field="recipients",
        )
    for kind, items in (
        ("roles", roles),
        ("purposes", purposes),
        ("lines", lines),
        ("exclusions", exclusions),
        ("recipients", recipients),
    ):
        _check_unique_ids(kind, items)
    _check_numbers(lines, exclusions)
    return Policy(
        name=sections.text(top, "name", ""),
        effective_date=_effective_date(top.get("effective_date")),
        controller=sections.text(top, "controller", ""),
        dpo_contact=sections.text(top, "dpo_contact", ""),
        notice_version=sections.text(top, "notice_version", ""),
        lines=lines,
        exclusions=exclusions,
        purposes=purposes,
        roles=roles,
        recipients=recipients,
        opening_hours=read_opening_hours(top.get("opening_hours"), "opening_hours"),
        topics=read_topics(top),
        quality=read_quality(top.get("quality"), "quality", frozenset(ln.id for ln in lines)),
        conduct=read_conduct(top.get("conduct"), "conduct"),
        transfers=read_transfers(top.get("transfers")),
    )


def _with_hours(top: Any, lines: tuple[Line, ...]) -> tuple[Line, ...]:
    """Each line with its own ``opening_hours`` where the file gives them."""
    raw = top.get("lines") or []
    own = [(i, raw[i].get("opening_hours")) for i in range(len(lines))]
    return tuple(
        line
        if hours is None
        else dataclasses.replace(
            line, opening_hours=read_opening_hours(hours, f"lines[{i}].opening_hours")
        )
        for line, (i, hours) in zip(lines, own, strict=True)
    )


def _effective_date(value: object) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ConfigError(
        f"effective_date: {value!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-11-01",
        field="effective_date",
    )


def _check_unique_ids(
    kind: str, items: tuple[Line | Exclusion | Purpose | Role | Recipient, ...]
) -> None:
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        if item.id in seen:
            raise ConfigError(
                f"{kind}[{i}].id: {item.id!r} is already used by {kind}[{seen[item.id]}]; "
                "give each an id of its own",
                field=f"{kind}[{i}].id",
            )
        seen[item.id] = i


def _check_numbers(lines: tuple[Line, ...], exclusions: tuple[Exclusion, ...]) -> None:
    """A number belongs to one line, and never to a line and an exclusion at once."""
    owner: dict[str, str] = {}
    for i, line in enumerate(lines):
        for k, number in enumerate(line.numbers):
            if number in owner:
                raise ConfigError(
                    f"lines[{i}].numbers[{k}]: {number} is already a number of {owner[number]}; "
                    "a number can belong to one line only, remove it from one of them",
                    field=f"lines[{i}].numbers[{k}]",
                )
            owner[number] = f"line {line.id!r}"
    for i, exclusion in enumerate(exclusions):
        for k, number in enumerate(exclusion.numbers):
            if number in owner:
                raise ConfigError(
                    f"exclusions[{i}].numbers[{k}]: {number} is a number of {owner[number]} and "
                    "also excluded; a call to it cannot be both recorded and not, remove it "
                    "from the line or from the exclusion",
                    field=f"exclusions[{i}].numbers[{k}]",
                )
