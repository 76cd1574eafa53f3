"""The policy fields a notice reads, each checked for emptiness on the way (``Gaps``).

Every builder takes its policy values through these, so no notice can print a field it did
not check, and the field paths in a refusal match the policy file (``purposes[3].description``).
"""

from __future__ import annotations

from dataclasses import dataclass

from callvault.notice.gaps import Gaps
from callvault.policy.model import Exclusion, Line, Policy, Purpose, Recipient


@dataclass(frozen=True, slots=True)
class Head:
    """Who publishes the notice and which versions it stands for."""

    policy_name: str
    controller: str
    dpo_contact: str
    notice_version: str
    policy_version: str
    effective_date: str

    def about(self) -> tuple[tuple[str, str], ...]:
        return (
            ("Controller", self.controller),
            ("Data Protection Officer", self.dpo_contact),
            ("Policy", self.policy_name),
            ("In force from", self.effective_date),
        )

    def versions(self) -> tuple[tuple[str, str], ...]:
        return (("Notice version", self.notice_version), ("Policy version", self.policy_version))


def head(policy: Policy, gaps: Gaps) -> Head:
    return Head(
        policy_name=gaps.text(policy.name, "name"),
        controller=gaps.text(policy.controller, "controller"),
        dpo_contact=gaps.text(policy.dpo_contact, "dpo_contact"),
        notice_version=gaps.text(policy.notice_version, "notice_version"),
        # Set by the loader; empty only for a policy that was never loaded from a file.
        policy_version=gaps.text(policy.version, "version"),
        effective_date=policy.effective_date.isoformat(),
    )


def lines(policy: Policy, gaps: Gaps) -> tuple[Line, ...]:
    for i, line in enumerate(gaps.items(policy.lines, "lines")):
        gaps.text(line.name, f"lines[{i}].name")
        gaps.items(line.numbers, f"lines[{i}].numbers")
    return policy.lines


def purposes(policy: Policy, gaps: Gaps) -> tuple[Purpose, ...]:
    """The purposes with a name, a plain description and a lawful basis each."""
    for i, purpose in enumerate(gaps.items(policy.purposes, "purposes")):
        gaps.text(purpose.name, f"purposes[{i}].name")
        gaps.text(purpose.description, f"purposes[{i}].description")
        gaps.text(purpose.lawful_basis, f"purposes[{i}].lawful_basis")
    return policy.purposes


def recipients(policy: Policy, gaps: Gaps) -> tuple[Recipient, ...]:
    for i, recipient in enumerate(gaps.items(policy.recipients, "recipients")):
        gaps.text(recipient.name, f"recipients[{i}].name")
        gaps.text(recipient.when, f"recipients[{i}].when")
    return policy.recipients


def exclusions(policy: Policy, gaps: Gaps) -> tuple[Exclusion, ...]:
    """Exclusions are optional (a policy may have none), but each one needs its reason: the
    notice describes them by reason only."""
    for i, exclusion in enumerate(policy.exclusions):
        gaps.text(exclusion.reason, f"exclusions[{i}].reason")
    return policy.exclusions
