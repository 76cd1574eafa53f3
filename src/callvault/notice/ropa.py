"""The record of processing activities (UK GDPR Art. 30(1)), one row per purpose.

Generated from the same live policy as the notices, so the record the ICO may ask for cannot
drift from what the system enforces. Per purpose: controller and DPO, purpose, lawful basis,
DPIA, data subjects, personal data (special category on the lines marked so), recipients
(those the policy names for that purpose, plus processors), transfers abroad (``transfers``),
retention per line, security measures, and who may retrieve.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from callvault.notice import fields
from callvault.notice.document import Document, Section, Table
from callvault.notice.gaps import Gaps
from callvault.policy.model import Line, Policy, Purpose

FORMATS = ("json", "md", "csv")
TITLE = "Record of processing activities (UK GDPR Art. 30): call recording"

# (key, label): the columns of the CSV and the rows of each purpose's table, in order.
COLUMNS = (
    ("purpose_id", "Purpose id"),
    ("purpose", "Purpose"),
    ("description", "Description"),
    ("controller", "Controller"),
    ("dpo_contact", "Data Protection Officer"),
    ("lawful_basis", "Lawful basis"),
    ("dpia_ref", "DPIA"),
    ("data_subjects", "Categories of data subjects"),
    ("personal_data", "Categories of personal data"),
    ("special_category", "Special category and criminal offence data"),
    ("recipients", "Recipients"),
    ("third_country_transfers", "Transfers to third countries"),
    ("retention", "Retention"),
    ("security_measures", "Security measures"),
    ("who_may_retrieve", "Who may retrieve"),
    ("policy_version", "Policy version"),
    ("notice_version", "Notice version"),
)
PERSONAL_DATA = (
    "Voice recordings of calls; the caller's telephone number (unless withheld); call "
    "metadata (service line, number dialled, direction, start and end times, duration, the "
    "advisor's agent id); transcripts of recordings where made"
)
NO_TRANSFERS = "None"
SECURITY = (
    "Each recording encrypted at rest under its own data key (AES-256-GCM), keys wrapped by a "
    "key-encryption key; retrieval bound to a stated purpose, a case reference and a "
    "time-limited grant, with a second approver where the purpose needs one; every access, "
    "export and refusal in a hash-chained, signed, append-only audit trail; disclosures "
    "recorded in a register; deletion at the end of retention by destroying the data key "
    "(crypto-shredding), with legal holds and disposal certificates"
)
# A CSV cell starting with one of these is a formula to a spreadsheet (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def record_of_processing(policy: Policy) -> dict[str, Any]:
    """The record as data: one row per purpose (``NoticeIncomplete`` on an empty field)."""
    gaps = Gaps("record of processing")
    head = fields.head(policy, gaps)
    lines = fields.lines(policy, gaps)
    recipients = fields.recipients(policy, gaps)
    purposes = gaps.items(policy.purposes, "purposes")
    for i, purpose in enumerate(purposes):
        gaps.text(purpose.lawful_basis, f"purposes[{i}].lawful_basis")
        gaps.text(purpose.dpia_ref, f"purposes[{i}].dpia_ref")
    gaps.check()
    shared = {
        "controller": head.controller,
        "dpo_contact": head.dpo_contact,
        "data_subjects": _data_subjects(lines),
        "personal_data": PERSONAL_DATA,
        "special_category": _special_category(lines),
        "third_country_transfers": _transfers(policy),
        "retention": _retention(lines),
        "security_measures": SECURITY,
        "policy_version": head.policy_version,
        "notice_version": head.notice_version,
    }
    rows = []
    for purpose in purposes:
        named = [f"{r.name}: {r.when}" for r in recipients if r.receives_for(purpose.id)]
        rows.append({
            **shared,
            "purpose_id": purpose.id,
            "purpose": purpose.name,
            "description": purpose.description or purpose.name,
            "lawful_basis": purpose.lawful_basis,
            "dpia_ref": purpose.dpia_ref,
            "recipients": "; ".join(named) or "None outside the council",
            "who_may_retrieve": _who(policy, purpose),
        })  # fmt: skip
    return {
        "controller": head.controller,
        "dpo_contact": head.dpo_contact,
        "policy_version": head.policy_version,
        "notice_version": head.notice_version,
        "effective_date": head.effective_date,
        "columns": [key for key, _ in COLUMNS],
        "rows": [{key: row[key] for key, _ in COLUMNS} for row in rows],
    }


def ropa_csv(record: dict[str, Any]) -> str:
    """One header row, then one row per purpose (RFC 4180 via the csv module)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([key for key, _ in COLUMNS])
    for row in record["rows"]:
        writer.writerow([_cell(row[key]) for key, _ in COLUMNS])
    return out.getvalue()


def ropa_document(record: dict[str, Any]) -> Document:
    """The record as a document (one section per purpose), for Markdown."""
    sections = tuple(
        Section(row["purpose"], (
            Table(("Field", "Entry"), tuple((label, row[key]) for key, label in COLUMNS)),
        ))
        for row in record["rows"]
    )  # fmt: skip
    about = (
        ("Controller", record["controller"]),
        ("Data Protection Officer", record["dpo_contact"]),
        ("In force from", record["effective_date"]),
    )
    versions = (
        ("Policy version", record["policy_version"]),
        ("Notice version", record["notice_version"]),
    )
    return Document("ropa", TITLE, about, sections, versions)


def _cell(value: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _data_subjects(lines: tuple[Line, ...]) -> str:
    subjects = "Callers to the recorded service lines; council staff and agents on those calls"
    if any(line.record_outbound for line in lines):
        subjects += "; people the council calls from lines whose outbound calls are recorded"
    return subjects


def _special_category(lines: tuple[Line, ...]) -> str:
    marked = [line.name for line in lines if line.sensitivity == "special_category"]
    if not marked:
        return "Not expected: no line is marked special category"
    return (
        "Likely on " + ", ".join(marked) + " (health, care, offences: UK GDPR Art. 9 and 10, "
        "with a DPA 2018 Schedule 1 condition); possible on any line"
    )


def _retention(lines: tuple[Line, ...]) -> str:
    """Each period with the lines that keep it ("12 months: all 18 lines")."""
    by_period: dict[str, list[str]] = {}
    for line in lines:
        by_period.setdefault(line.retention.describe(), []).append(line.name)
    if len(by_period) == 1:
        (period,) = by_period
        return f"{period} from the call's start, all {len(lines)} lines; longer under a legal hold"
    listed = "; ".join(f"{period}: {', '.join(names)}" for period, names in by_period.items())
    return f"From the call's start. {listed}; longer under a legal hold"


def _who(policy: Policy, purpose: Purpose) -> str:
    names = ", ".join(policy.role(role_id).name for role_id in purpose.roles)
    approval = "a second person approves each retrieval" if purpose.second_approval else (
        "no second approval")  # fmt: skip
    return f"{names}; {approval}; grants last at most {purpose.max_grant_hours} hours"


def _transfers(policy: Policy) -> str:
    named = [f"{t.to}: {t.recipient} ({t.safeguard})" for t in policy.transfers]
    return "; ".join(named) or NO_TRANSFERS
