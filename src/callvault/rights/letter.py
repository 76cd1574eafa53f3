"""The Art. 15 information letter that goes in a subject access response package.

Built from the policy file alone, like the fair processing notice, and through the notice's
own pieces (``notice/fields.py`` checks each policy field for emptiness, ``notice/wording.py``
holds the fixed words on rights and complaints), so the letter cannot say something the
notice and the system do not. What Art. 15(1) and (2) ask, and where it comes from: the
purposes and lawful bases (``purposes``), the categories of data (fixed: what a recording
holds), the recipients (``recipients``), transfers outside the UK and their safeguards
(``transfers``), the retention period (the lines' ``retention``), the rights to
rectification, erasure, restriction and objection and to complain to the ICO (``wording.py``),
the source (the call itself) and automated decision-making (none). Beside those: what was
found, released and withheld, with the exemptions relied on.

The letter is plain text (``letter.txt``): a requester opens it anywhere, and policy strings
need no escaping there. It names the requester and their numbers, which are theirs to have.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from callvault.errors import NotFound
from callvault.notice import fields, wording
from callvault.notice.document import Block, Bullets, Document, Link, Para, Section, Table, bullets
from callvault.notice.document import para as p
from callvault.notice.gaps import Gaps
from callvault.policy.model import Line, Policy
from callvault.rights.review_terms import REASON_CODES

TITLE = "Your request for recordings of your calls"
_WIDTH = 78

CATEGORIES = (
    "the recording of the call: your voice, what you and our staff said, and any other "
    "sound on the line",
    "the number you called from and the number you called, and the date, time and length of "
    "the call",
    "a transcript made by automatic speech recognition, where one was made",
    "whether you heard the message telling you the call was recorded",
)
SPECIAL_CATEGORY = (
    "Calls to some of our services often include information about health, care or "
    "offences, which the law protects more strictly."
)
SOURCE = (
    "The information comes from the calls themselves: we recorded them when you, or someone "
    "using your number, called the services listed below."
)
NO_AUTOMATED_DECISIONS = (
    "We make no decisions about you by automated means, including profiling, from these "
    "recordings (UK GDPR Art. 22). A computer transcribes calls to find and mute personal "
    "details; a person makes every decision about what we disclose."
)


@dataclass(frozen=True, slots=True)
class Findings:
    """What the search found and what the review decided, for the letter."""

    ref: str
    requester: str
    contact: str
    received_on: date
    phones: tuple[str, ...]
    found: int
    released: int
    transcripts: int
    mutes: int
    withheld: tuple[tuple[int, str], ...]  # (recording number, reason code)
    lines: tuple[str, ...]  # line ids of the recordings found
    written_on: date


def letter_document(policy: Policy, findings: Findings) -> Document:
    """The letter; ``NoticeIncomplete`` naming each empty policy field it needs."""
    gaps = Gaps("subject access letter")
    head = fields.head(policy, gaps)
    all_lines = fields.lines(policy, gaps)
    purposes = fields.purposes(policy, gaps)
    recipients = fields.recipients(policy, gaps)
    gaps.check()
    lines = _lines_of(policy, findings.lines) or all_lines
    special = any(line.sensitivity == "special_category" for line in lines)
    rights = [(right, meaning) for right, meaning in wording.RIGHTS if "Art. 15" not in right]
    sections = (
        Section("What you asked for", (
            p(f"On {_day(findings.received_on)} you asked us for copies of the recordings of "
              "your calls. We searched our call recordings for calls from "
              f"{_numbers(findings.phones)}."),
        )),
        Section("What we found", _found(findings)),
        Section("What is in this package", (
            bullets(
                "audio: each recording we are sending, as a WAV file (16-bit PCM, caller and "
                "our staff on the left and right channels), numbered as in this letter",
                "transcripts: what was said, as a computer transcribed it, where we have a "
                "transcript; words in muted passages are shown as [withheld]",
                "redaction-log.csv: every passage we muted and every recording we withheld, "
                "with the reason and who decided",
                "manifest.json: each file's size and SHA-256 checksum, so you can check that "
                "nothing was changed",
            ),
        )),
        Section("Why we record calls, and our lawful basis", (
            Table(("Purpose", "When", "Lawful basis"),
                  tuple((x.name, x.description, x.lawful_basis) for x in purposes)),
            p(wording.RETRIEVAL_RULES),
        )),
        Section("What information the recordings hold", (
            bullets(*CATEGORIES), *((p(SPECIAL_CATEGORY),) if special else ()),
        )),
        Section("Where the information comes from", (p(SOURCE),)),
        Section("Who we may share recordings with", (
            Table(("Recipient", "When"), tuple((r.name, r.when) for r in recipients)),
        )),
        Section("Whether recordings leave the UK", wording.transfers(policy.transfers)),
        Section("How long we keep recordings", (
            Table(("Service", "Kept for"),
                  tuple((line.name, line.retention.describe()) for line in lines)),
            p(wording.RETENTION_RULES),
            p("While we answer your request we keep the recordings we found, even if their "
              "period ends (it is an offence to delete them to avoid disclosing them); they "
              "then go back to the period above."),
        )),
        Section("Automated decision-making", (p(NO_AUTOMATED_DECISIONS),)),
        Section("Your other rights", (
            bullets(*(p(f"{right}: {meaning}") for right, meaning in rights)),
            wording.rights_how(head.dpo_contact),
        )),
        Section("How to complain", wording.complaint(head.dpo_contact)),
    )  # fmt: skip
    about = (
        ("To", findings.requester),
        ("At", findings.contact),
        ("Our reference", findings.ref),
        ("Date", _day(findings.written_on)),
        *head.about()[:2],
    )
    return Document("subject_access", TITLE, about, sections, head.versions())


def _found(findings: Findings) -> tuple[Block, ...]:
    if not findings.found:
        return (p("We found no recordings of calls from these numbers. We hold no other "
                  "personal data about you in our call recording system."),)  # fmt: skip
    blocks: list[Block] = [
        p(f"We found {_count(findings.found, 'recording')}. We are sending you "
          f"{findings.released} of them"
          + (f", with {_count(findings.transcripts, 'transcript')}" if findings.transcripts
             else "") + ".")
    ]  # fmt: skip
    if findings.mutes:
        blocks.append(
            p(f"In {_count(findings.mutes, 'place')} we have muted another person's voice or "
              "details (DPA 2018 Sch. 2 para 16: we may not disclose information about other "
              "people without their consent unless it is reasonable to). The redaction log "
              "lists each one.")
        )  # fmt: skip
    if findings.withheld:
        blocks.append(
            p(f"We have withheld {_count(len(findings.withheld), 'recording')}, relying on "
              "these exemptions:")
        )  # fmt: skip
        codes = sorted({code for _, code in findings.withheld}, key=list(REASON_CODES).index)
        blocks.append(bullets(*(_exemption(code, findings.withheld) for code in codes)))
    return tuple(blocks)


def _exemption(code: str, withheld: Sequence[tuple[int, str]]) -> Para:
    law, words = REASON_CODES[code]
    numbers = ", ".join(str(number) for number, c in withheld if c == code)
    label = "Recording" if "," not in numbers else "Recordings"
    return p(f"{label} {numbers}: {words} ({law}).")


def _lines_of(policy: Policy, line_ids: Sequence[str]) -> tuple[Line, ...]:
    lines = []
    for line_id in dict.fromkeys(line_ids):
        try:
            lines.append(policy.line(line_id))
        except NotFound:
            continue  # a line since removed from the policy: the other lines still apply
    return tuple(lines)


def _numbers(phones: Sequence[str]) -> str:
    shown = [wording.display_number(phone) for phone in phones]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _day(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


# -- plain text -------------------------------------------------------------------------------


def render_text(document: Document) -> str:
    """``document`` as plain text wrapped at 78 columns; tables as one block per row."""
    out = [document.title, "=" * len(document.title), ""]
    out += [f"{label}: {value}" for label, value in document.about]
    for section in document.sections:
        out += ["", section.heading, "-" * len(section.heading)]
        for block in section.blocks:
            out += ["", *_text_block(block)]
    out += ["", "-" * 20]
    out += [f"{label}: {value}" for label, value in document.versions]
    return "\n".join(out) + "\n"


def _text_block(block: Block) -> list[str]:
    if isinstance(block, Para):
        return _wrap(_text_para(block))
    if isinstance(block, Bullets):
        return [line for item in block.items for line in _wrap(_text_para(item), "- ", "  ")]
    return _text_table(block)


def _text_table(table: Table) -> list[str]:
    out: list[str] = []
    for row in table.rows:
        if out:
            out.append("")
        out += _wrap(row[0], "* ", "  ")
        for header, cell in zip(table.headers[1:], row[1:], strict=True):
            out += _wrap(f"{header}: {cell}", "  ", "    ")
    return out


def _text_para(block: Para) -> str:
    return "".join(
        f"{part.text} ({part.href})" if isinstance(part, Link) else part for part in block.parts
    )


def _wrap(text: str, first: str = "", rest: str = "") -> list[str]:
    flat = " ".join(text.split())
    return textwrap.wrap(
        flat, _WIDTH, initial_indent=first, subsequent_indent=rest, break_on_hyphens=False
    ) or [first.rstrip()]
