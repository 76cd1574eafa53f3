"""The notice for staff: what is recorded, who may listen and why, training, their rights.

The ICO's guidance on monitoring workers (2023) asks that staff are told what is monitored,
why, by whom and for how long; the Interception Regulations 2018 ask for reasonable efforts to
tell every user of the system. Like the public notice, it is built from the policy alone.
"""

from __future__ import annotations

from callvault.notice import fields, wording
from callvault.notice.document import Document, Section, Table, bullets, para
from callvault.notice.gaps import Gaps
from callvault.policy.model import Policy, Purpose, Role

TITLE = "Call recording: notice for staff"


def staff_notice(policy: Policy) -> Document:
    """The notice for staff; ``NoticeIncomplete`` naming each empty field it needs."""
    gaps = Gaps("notice for staff")
    head = fields.head(policy, gaps)
    lines = fields.lines(policy, gaps)
    purposes = fields.purposes(policy, gaps)
    exclusions = fields.exclusions(policy, gaps)
    listeners = _listening_roles(policy, gaps)
    gaps.check()
    never_listen = [role.name for role in policy.roles if not role.can_hear_audio]
    announced = all(line.announcement.required for line in lines)
    sections = (
        Section("Which calls are recorded", (
            para("Calls to these service numbers are recorded."
                 + (" Callers hear that they are before recording starts." if announced else "")),
            Table(
                ("Service", "Numbers", "Transferred to an extension", "Outbound calls",
                 "Card payments", "Kept for", "If the recorder is down"),
                tuple((line.name, wording.numbers(line),
                       wording.STAFF_ON_TRANSFER[line.on_transfer],
                       "recorded" if line.record_outbound else "not recorded",
                       "recording pauses" if line.takes_payments else "not taken",
                       line.retention.describe(),
                       wording.STAFF_RECORDER_DOWN[line.when_recorder_down]) for line in lines),
            ),
        )),
        Section("Calls that are never recorded", (
            bullets(*(exclusion.reason for exclusion in exclusions),
                    wording.STAFF_NEVER_RECORDED_ALWAYS),
        )),
        Section("Who may listen, and for what", (
            Table(("Role", "What the role does", "May listen for"), tuple(
                (role.name, role.description or "-",
                 "; ".join(p.name for p in purposes if role.id in p.roles))
                for role in listeners)),
            *((para("These roles never hear recordings: " + ", ".join(never_listen) + "."),)
              if never_listen else ()),
            para(wording.STAFF_LISTENING_RULES),
        )),
        Section("The purposes", (
            Table(("Purpose", "When", "Second approval", "Longest grant",
                   "May leave the system", "Lawful basis"),
                  tuple(_purpose_row(p) for p in purposes)),
        )),
        Section("Training", (para(wording.STAFF_TRAINING),)),
        Section("Why recording is lawful", tuple(para(text) for text in wording.STAFF_LAW)),
        Section("Your rights", (
            para(wording.STAFF_OWN_CALLS),
            bullets(*(para(f"{right}: {meaning}") for right, meaning in wording.RIGHTS)),
            wording.rights_how(head.dpo_contact),
            *wording.complaint(head.dpo_contact),
        )),
    )  # fmt: skip
    return Document("staff", TITLE, head.about(), sections, head.versions())


def _listening_roles(policy: Policy, gaps: Gaps) -> list[Role]:
    """The roles that may hear audio, each with the name the notice prints."""
    found = []
    for i, role in enumerate(policy.roles):
        if role.can_hear_audio:
            gaps.text(role.name, f"roles[{i}].name")
            found.append(role)
    return found


def _purpose_row(purpose: Purpose) -> tuple[str, ...]:
    return (
        purpose.name,
        purpose.description,
        "yes" if purpose.second_approval else "no",
        f"{purpose.max_grant_hours} hours",
        "yes, as an audited export" if purpose.export_allowed else "no",
        purpose.lawful_basis,
    )
