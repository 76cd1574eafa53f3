"""Readers for each section of a policy file; every error names the field path and the fix.

Kept apart from ``loader`` (which checks the policy as a whole) so each reader stays short and
the allowed keys of every section are listed once, here, where the format test reads them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from callvault.errors import BadInput, ConfigError
from callvault.policy.model import (
    ON_TRANSFER,
    SENSITIVITIES,
    WHEN_RECORDER_DOWN,
    Announcement,
    Exclusion,
    Line,
    NumberRange,
    Purpose,
    Recipient,
    Retention,
    Role,
)
from callvault.policy.numbers import normalise_number, normalise_prefix

LINE_KEYS = frozenset(
    {
        "id",
        "name",
        "numbers",
        "retention",
        "sensitivity",
        "announcement",
        "on_transfer",
        "takes_payments",
        "when_recorder_down",
        "record_outbound",
        # Read by the loader (analytics_sections.read_opening_hours).
        "opening_hours",
    }
)
_LINE_REQUIRED = ("id", "name", "numbers", "retention", "announcement")
ANNOUNCEMENT_KEYS = frozenset({"required", "text"})
RETENTION_KEYS = frozenset({"months", "days"})
EXCLUSION_KEYS = frozenset({"id", "reason", "numbers", "prefixes", "ranges"})
RANGE_KEYS = frozenset({"first", "last"})
PURPOSE_KEYS = frozenset(
    {
        "id",
        "name",
        "lawful_basis",
        "dpia_ref",
        "roles",
        "second_approval",
        "max_grant_hours",
        "export_allowed",
        "original_allowed",
        "case_ref_pattern",
        "description",
    }
)
ROLE_KEYS = frozenset({"id", "name", "description", "can_hear_audio"})
RECIPIENT_KEYS = frozenset({"id", "name", "when", "purposes"})

_ID = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_RETENTION_TEXT = re.compile(r"^\s*(?:(\d+)\s*(years?|months?|days?)\s*)+$")
_RETENTION_PART = re.compile(r"(\d+)\s*(years?|months?|days?)")
_RETENTION_HINT = (
    "the law requires a retention period for every line (UK GDPR Art. 5(1)(e)): "
    "add e.g. `retention: 12 months`"
)
# What to write when a required key is missing, where a generic hint would not help.
_MISSING_HINTS = {
    "retention": _RETENTION_HINT,
    "announcement": "callers must be told calls are recorded: add `announcement:` with "
    "`required: true` and the `text` played",
    "lines": "add `lines:` listing the service lines whose calls are recorded",
    "can_hear_audio": "say whether the role may listen: add `can_hear_audio: false` or true",
    "recipients": "the fair processing notice must name who receives recordings (UK GDPR "
    "Art. 13(1)(e)): add `recipients:` with each one's `id`, `name` and `when`",
    "when": "say when this recipient receives recordings, e.g. `when: When a court orders it`",
}

_T = TypeVar("_T")


def at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def fail(field: str, message: str) -> ConfigError:
    return ConfigError(f"{field}: {message}", field=field)


def mapping(value: object, field: str, what: str) -> Mapping[str, Any]:
    """``value`` as a mapping, or ConfigError saying what was expected at ``field``."""
    if not isinstance(value, Mapping):
        raise fail(field, f"{what}, found {type(value).__name__}")
    return value


def check_keys(
    data: Mapping[str, Any], allowed: frozenset[str], path: str, required: Iterable[str]
) -> None:
    """Unknown keys are errors (with a did-you-mean); so are missing required ones."""
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1, cutoff=0.6)
            known = ", ".join(sorted(allowed))
            hint = f"did you mean `{close[0]}`?" if close else f"allowed keys: {known}"
            raise fail(at(path, str(key)), f"unknown key `{key}`; {hint}")
    for key in required:
        if data.get(key) is None:
            hint = _MISSING_HINTS.get(key, f"add `{key}:` here")
            raise fail(at(path, key), f"missing; {hint}")


def text(data: Mapping[str, Any], key: str, path: str, default: str | None = None) -> str:
    """A non-empty string (the public notice refuses to publish an empty field)."""
    value = data.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise fail(at(path, key), f"write a non-empty text value for `{key}`")
    return value.strip()


def flag(data: Mapping[str, Any], key: str, path: str, default: bool | None = None) -> bool:
    """A true/false value; ``default`` None means the key is required."""
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise fail(at(path, key), f"write `{key}: true` or `{key}: false`")
    return value


def choice(data: Mapping[str, Any], key: str, path: str, allowed: tuple[str, ...]) -> str:
    """One of ``allowed``; the first is the default."""
    value = data.get(key, allowed[0])
    if value not in allowed:
        options = " or ".join(f"`{a}`" for a in allowed)
        raise fail(at(path, key), f"{value!r} is not a known value; use {options}")
    return str(value)


def read_list(
    data: Mapping[str, Any], key: str, path: str, read: Callable[[Any, str], _T]
) -> tuple[_T, ...]:
    """Each item of the list under ``key`` read by ``read(item, "key[i]")``; absent is empty."""
    items = data.get(key)
    if items is None:
        return ()
    field = at(path, key)
    if not isinstance(items, list):
        raise fail(field, "write a list here (items starting with `- `)")
    return tuple(read(item, f"{field}[{i}]") for i, item in enumerate(items))


def ident(data: Mapping[str, Any], path: str) -> str:
    value = text(data, "id", path)
    if not _ID.match(value):
        raise fail(
            at(path, "id"),
            f"{value!r} is not a valid id; use lower-case letters, digits, _ and -, "
            "starting with a letter (e.g. housing_repairs)",
        )
    return value


def strings(data: Mapping[str, Any], key: str, path: str) -> list[tuple[str, str]]:
    """(field path, value) for each string in a list; numbers must be quoted in YAML."""
    field = at(path, key)
    items = data.get(key) or []
    if not isinstance(items, list):
        raise fail(field, 'write a list here, e.g. ["020 8748 3020"]')
    result = []
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise fail(
                f"{field}[{i}]",
                f"quote numbers ({item!r}): YAML reads unquoted digits as an integer and "
                'drops a leading 0; write e.g. "020 8748 3020"',
            )
        result.append((f"{field}[{i}]", item))
    return result


def _numbers(data: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
    try:
        return tuple(normalise_number(raw, f).value for f, raw in strings(data, key, path))
    except BadInput as exc:
        raise ConfigError(exc.message, field=exc.field) from exc


def retention(value: object, path: str) -> Retention:
    """``12 months``, ``1 year``, ``30 days``, ``6 months 15 days`` or ``{months:, days:}``."""
    field = at(path, "retention")
    if value is None:
        raise fail(field, f"missing; {_RETENTION_HINT}")
    return period(value, field, "retention: 12 months", _RETENTION_HINT)


def period(value: object, field: str, example: str, why: str) -> Retention:
    """A period written as ``retention`` is, at ``field``; errors show ``example`` (``key:
    value``) and, for a period of zero, ``why`` one is needed."""
    if isinstance(value, str) and _RETENTION_TEXT.match(value):
        months = days = 0
        for count, unit in _RETENTION_PART.findall(value):
            if unit.startswith("year"):
                months += 12 * int(count)
            elif unit.startswith("month"):
                months += int(count)
            else:
                days += int(count)
    elif isinstance(value, Mapping):
        check_keys(value, RETENTION_KEYS, field, required=())
        months, days = value.get("months", 0), value.get("days", 0)
        if not (isinstance(months, int) and isinstance(days, int)) or isinstance(months, bool):
            raise fail(field, "months and days must be whole numbers, e.g. `months: 12`")
    else:
        raise fail(field, f"{value!r} is not a period; write e.g. `{example}`")
    if months < 0 or days < 0 or months + days == 0:
        raise fail(field, f"the period must be longer than zero; {why}")
    return Retention(months=months, days=days)


def _announcement(value: object, path: str) -> Announcement:
    field = at(path, "announcement")
    data = mapping(value, field, "write `required:` and `text:` under `announcement:`")
    check_keys(data, ANNOUNCEMENT_KEYS, field, required=("required",))
    required = flag(data, "required", field)
    if required:
        return Announcement(required=True, text=text(data, "text", field))
    return Announcement(required=False, text=str(data.get("text") or ""))


def read_line(item: object, path: str) -> Line:
    """One entry of ``lines:``."""
    data = mapping(item, path, "each line must be a mapping with `id`, `name`, `numbers`, …")
    check_keys(data, LINE_KEYS, path, required=_LINE_REQUIRED)
    numbers = _numbers(data, "numbers", path)
    if not numbers:
        raise fail(at(path, "numbers"), 'list at least one number, e.g. ["020 8748 3020"]')
    for k, number in enumerate(numbers):
        if not number.startswith("+"):
            raise fail(
                f"{path}.numbers[{k}]",
                f"{number} is an internal extension; a line's numbers are the public numbers "
                "callers dial, e.g. 020 8748 3020",
            )
    return Line(
        id=ident(data, path),
        name=text(data, "name", path),
        numbers=numbers,
        retention=retention(data.get("retention"), path),
        sensitivity=choice(data, "sensitivity", path, SENSITIVITIES),
        announcement=_announcement(data.get("announcement"), path),
        on_transfer=choice(data, "on_transfer", path, ON_TRANSFER),
        takes_payments=flag(data, "takes_payments", path, default=False),
        when_recorder_down=choice(data, "when_recorder_down", path, WHEN_RECORDER_DOWN),
        record_outbound=flag(data, "record_outbound", path, default=False),
    )


def _range_end(data: Mapping[str, Any], key: str, path: str) -> str:
    raw = data[key]
    field = at(path, key)
    if not isinstance(raw, str):
        raise fail(field, f'quote the number ({raw!r}), e.g. "020 8753 0000"')
    try:
        return normalise_number(raw, field).value
    except BadInput as exc:
        raise ConfigError(exc.message, field=exc.field) from exc


def _range(item: object, path: str) -> NumberRange:
    data = mapping(item, path, 'write a range as `{first: "020 8753 0000", last: "…"}`')
    check_keys(data, RANGE_KEYS, path, required=("first", "last"))
    first = _range_end(data, "first", path)
    last = _range_end(data, "last", path)
    if len(first) != len(last) or first > last:
        raise fail(
            path,
            f"{first}..{last} is not a range; `first` and `last` need the same number of "
            "digits and `first` must not be above `last`",
        )
    return NumberRange(first=first, last=last)


def read_exclusion(item: object, path: str) -> Exclusion:
    """One entry of ``exclusions:``: numbers never recorded, with the reason why."""
    data = mapping(item, path, "each exclusion must be a mapping with `id`, `reason`, …")
    check_keys(data, EXCLUSION_KEYS, path, required=("id", "reason"))
    try:
        prefixes = tuple(normalise_prefix(raw, f) for f, raw in strings(data, "prefixes", path))
    except BadInput as exc:
        raise ConfigError(exc.message, field=exc.field) from exc
    exclusion = Exclusion(
        id=ident(data, path),
        reason=text(data, "reason", path),
        numbers=_numbers(data, "numbers", path),
        prefixes=prefixes,
        ranges=read_list(data, "ranges", path, _range),
    )
    if not (exclusion.numbers or exclusion.prefixes or exclusion.ranges):
        raise fail(path, "an exclusion needs at least one of `numbers`, `prefixes`, `ranges`")
    return exclusion


def read_role(item: object, path: str) -> Role:
    """One entry of ``roles:``."""
    data = mapping(item, path, "each role must be a mapping with `id`, `name`, …")
    check_keys(data, ROLE_KEYS, path, required=("id", "name", "can_hear_audio"))
    return Role(
        id=ident(data, path),
        name=text(data, "name", path),
        description=str(data.get("description") or "").strip(),
        can_hear_audio=flag(data, "can_hear_audio", path),
    )


def read_purpose(item: object, path: str, roles: tuple[Role, ...]) -> Purpose:
    """One entry of ``purposes:``; its roles must be defined under ``roles:``."""
    data = mapping(item, path, "each purpose must be a mapping with `id`, `name`, …")
    required = ("id", "name", "lawful_basis", "dpia_ref", "roles", "max_grant_hours")
    check_keys(data, PURPOSE_KEYS, path, required=(*required, "case_ref_pattern"))
    known = {role.id for role in roles}
    role_ids = []
    for field, role_id in strings(data, "roles", path):
        if role_id not in known:
            choices = ", ".join(sorted(known)) or "none defined"
            raise fail(field, f"unknown role {role_id!r}; define it under `roles:` ({choices})")
        role_ids.append(role_id)
    if not role_ids:
        raise fail(at(path, "roles"), "list the roles that may use this purpose")
    hours = data.get("max_grant_hours")
    if not isinstance(hours, int) or isinstance(hours, bool) or hours <= 0:
        raise fail(at(path, "max_grant_hours"), "write a whole number of hours above 0, e.g. 72")
    return Purpose(
        id=ident(data, path),
        name=text(data, "name", path),
        lawful_basis=text(data, "lawful_basis", path),
        dpia_ref=text(data, "dpia_ref", path),
        roles=tuple(role_ids),
        second_approval=flag(data, "second_approval", path, default=False),
        max_grant_hours=hours,
        export_allowed=flag(data, "export_allowed", path, default=False),
        original_allowed=flag(data, "original_allowed", path, default=True),
        case_ref_pattern=_pattern(data, path),
        description=str(data.get("description") or "").strip(),
    )


def read_recipient(item: object, path: str, purposes: tuple[Purpose, ...]) -> Recipient:
    """One entry of ``recipients:``; its purposes (if listed) must be defined under
    ``purposes:``, and none listed means under any purpose."""
    data = mapping(item, path, "each recipient must be a mapping with `id`, `name`, `when`")
    check_keys(data, RECIPIENT_KEYS, path, required=("id", "name", "when"))
    known = {purpose.id for purpose in purposes}
    purpose_ids = []
    for field, purpose_id in strings(data, "purposes", path):
        if purpose_id not in known:
            choices = ", ".join(sorted(known)) or "none defined"
            raise fail(
                field, f"unknown purpose {purpose_id!r}; define it under `purposes:` ({choices})"
            )
        purpose_ids.append(purpose_id)
    return Recipient(
        id=ident(data, path),
        name=text(data, "name", path),
        when=text(data, "when", path),
        purposes=tuple(purpose_ids),
    )


def _pattern(data: Mapping[str, Any], path: str) -> str:
    value = text(data, "case_ref_pattern", path)
    try:
        re.compile(value)
    except re.error as exc:
        raise fail(
            at(path, "case_ref_pattern"),
            f"{value!r} is not a valid regular expression ({exc}); "
            r"write e.g. '^CMP-\d{4}-\d{3,6}$' in single quotes",
        ) from exc
    return value
