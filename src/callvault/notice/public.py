"""The public fair processing notice (UK GDPR Art. 13), built from the live policy alone.

What Art. 13 asks for, and where it comes from: the controller and DPO contact (top of the
policy), the purposes and their lawful basis (``purposes``), the recipients (``recipients``),
whether recordings leave the UK (``transfers``), the retention period (each line's
``retention``), the rights and the right to complain to the ICO (fixed text, ``wording.py``).
Beside those, what a caller needs: which numbers are recorded, which calls never are, and what
happens when the recorder is down.

Exclusions are described by their reason, never by their numbers: an exact number there is
usually one person's direct line, and a blocked prefix also holds the service numbers that
are recorded, so printing it would mislead.
"""

from __future__ import annotations

from callvault.notice import fields, wording
from callvault.notice.document import Document, Section, Table, bullets, para
from callvault.notice.gaps import Gaps
from callvault.policy.model import Policy

TITLE = "How we record telephone calls: privacy notice"


def public_notice(policy: Policy) -> Document:
    """The notice for callers; ``NoticeIncomplete`` naming each empty field it needs."""
    gaps = Gaps("fair processing notice")
    head = fields.head(policy, gaps)
    lines = fields.lines(policy, gaps)
    purposes = fields.purposes(policy, gaps)
    recipients = fields.recipients(policy, gaps)
    exclusions = fields.exclusions(policy, gaps)
    gaps.check()
    announced = all(line.announcement.required for line in lines)
    sections = (
        Section("Who records your call", (
            para(head.controller, " records calls to the numbers below and is the controller "
                 "of those recordings. Our Data Protection Officer can be reached at: ",
                 head.dpo_contact, "."),
        )),
        Section("Which calls are recorded", (
            para("We record the calls you make to these numbers."
                 + (" Before recording starts, a message tells you that the call is recorded."
                    if announced else "")),
            Table(
                ("Service", "Numbers", "If our recorder is not working", "Also note"),
                tuple((line.name, wording.numbers(line),
                       wording.RECORDER_DOWN[line.when_recorder_down],
                       wording.caller_notes(line)) for line in lines),
            ),
        )),
        Section("Calls we never record", (
            bullets(*(exclusion.reason for exclusion in exclusions),
                    wording.NEVER_RECORDED_ALWAYS),
        )),
        Section("Why we use recordings, and our lawful basis", (
            Table(
                ("Purpose", "When", "Lawful basis"),
                tuple((p.name, p.description, p.lawful_basis) for p in purposes),
            ),
            para(wording.RETRIEVAL_RULES),
        )),
        Section("Who we may share recordings with", (
            Table(("Recipient", "When"), tuple((r.name, r.when) for r in recipients)),
        )),
        Section("Whether recordings leave the UK", wording.transfers(policy.transfers)),
        Section("How long we keep recordings", (
            Table(("Service", "Kept for"),
                  tuple((line.name, line.retention.describe()) for line in lines)),
            para(wording.RETENTION_RULES),
        )),
        Section("Your rights", (
            bullets(*(para(f"{right}: {meaning}") for right, meaning in wording.RIGHTS)),
            wording.rights_how(head.dpo_contact),
        )),
        Section("How to complain", wording.complaint(head.dpo_contact)),
    )  # fmt: skip
    return Document("public", TITLE, head.about(), sections, head.versions())
