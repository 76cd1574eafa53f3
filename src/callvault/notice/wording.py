"""The fixed words of the notices: the rights, the ICO, the law on recording, and how each
line setting reads to a caller and to staff.

Kept apart from the builders so a DPO reviewing the wording reads one file. Policy strings are
never formatted into these except as whole values (the DPO contact), which the renderers escape.
"""

from __future__ import annotations

from callvault.notice.document import Block, Link, Para, Table, para
from callvault.policy.model import Line
from callvault.policy.transfers import Transfer

ICO_URL = "https://ico.org.uk/make-a-complaint"
ICO_LINK_TEXT = "ico.org.uk/make-a-complaint"
ICO_PHONE = "0303 123 1113"

# (right, what it means here); the same rights for callers and staff (UK GDPR Arts 15-21).
# Portability (Art. 20) is left out: it does not apply to processing for a public task.
RIGHTS = (
    ("Access (Art. 15)", "you can ask for a copy of the recordings of your calls."),
    ("Rectification (Art. 16)", "you can ask us to correct information about you that is "
     "wrong; a recording is a record of what was said, so we add a note to it."),
    ("Erasure (Art. 17)", "you can ask us to delete recordings of your calls; where we must "
     "keep one for our public tasks or for legal claims, we tell you why."),
    ("Restriction (Art. 18)", "you can ask us to limit how we use a recording, for example "
     "while we consider another request of yours."),
    ("Objection (Art. 21)", "you can object to our use of recordings of your calls; we then "
     "stop unless we have compelling grounds or need them for legal claims."),
)  # fmt: skip


def rights_how(dpo_contact: str) -> Para:
    return para(
        "To use any of these rights, contact our Data Protection Officer: ",
        dpo_contact,
        ". It costs nothing. We answer within one month; a complex request can take up to two "
        "months more, and we tell you within the first month if it will.",
    )


def complaint(dpo_contact: str) -> tuple[Para, Para]:
    return (
        para(
            "If you are unhappy with how we handle your information, you can complain to our "
            "Data Protection Officer: ",
            dpo_contact,
            ". We acknowledge every complaint within 30 days.",
        ),
        para(
            "You also have the right to complain to the Information Commissioner's Office "
            "(ICO), the UK's data protection regulator: ",
            Link(ICO_LINK_TEXT, ICO_URL),
            f", telephone {ICO_PHONE}.",
        ),
    )


# What is true of every policy, whatever its exclusions: decide() records only a line's
# exact number (inbound) and never a 2-6 digit internal extension.
NEVER_RECORDED_ALWAYS = (
    "Calls to any number not listed above, and internal calls between staff extensions, "
    "are not recorded."
)
RETRIEVAL_RULES = (
    "Recordings are not normally listened to. Each retrieval needs a stated purpose from the "
    "list above and a case reference, is limited in time, and is written to an audit trail "
    "that nobody can alter."
)
RETENTION_RULES = (
    "Each period runs from the start of the call. A recording is kept longer only while a "
    "complaint, investigation or legal proceedings that need it are open (a legal hold); it "
    "is then deleted. Deletion destroys the recording's own encryption key, so neither the "
    "recording nor any backup of it can be read afterwards."
)
STAYS_IN_THE_UK = (
    "We keep recordings in the United Kingdom. We do not send them to other countries or to "
    "international organisations."
)


def transfers(declared: tuple[Transfer, ...]) -> tuple[Block, ...]:
    """Whether recordings leave the UK, and the safeguard for each transfer (UK GDPR
    Art. 13(1)(f), 15(2)); ``declared`` is the policy's ``transfers``."""
    if not declared:
        return (para(STAYS_IN_THE_UK),)
    return (
        para(
            "Some recordings are sent outside the United Kingdom. Each transfer is protected "
            "as the law requires, by the safeguard shown; ask our Data Protection Officer for "
            "a copy of it."
        ),
        Table(
            ("Where", "Who receives them", "Safeguard"),
            tuple((t.to, t.recipient, t.safeguard) for t in declared),
        ),
    )


# Staff: what makes recording lawful, and what the staff notice is for (LAW.md).
STAFF_LAW = (
    "Recording calls on these lines is interception of communications. It is lawful under "
    "the Investigatory Powers Act 2016 s.46 and the Investigatory Powers (Interception by "
    "Businesses etc. for Monitoring and Record-keeping Purposes) Regulations 2018 "
    "(SI 2018/356), which replaced the Lawful Business Practice Regulations 2000, for the "
    "purposes listed here and because we make reasonable efforts to tell everyone who uses "
    "these lines: callers hear an announcement, and this notice tells you.",
    "The Information Commissioner's guidance on monitoring workers (2023) asks that you are "
    "told what is monitored, why, by whom and for how long. This notice is generated from "
    "the recording policy the system enforces, so it cannot say something the system does "
    "not do.",
)
STAFF_LISTENING_RULES = (
    "Nobody browses recordings. To listen, a person in one of these roles names a purpose "
    "and a case reference and receives a time-limited grant; some purposes need a second "
    "person's approval. Every request, approval, listen, export and refusal is written to an "
    "audit trail that nobody can alter, and the Data Protection Officer reviews unusual "
    "listening."
)
STAFF_TRAINING = (
    "A recording is used for training only as a clip edited so that the caller stays "
    "anonymous, and only if you, the member of staff on the call, agree. You can refuse or "
    "withdraw your agreement through the Data Protection Officer."
)
STAFF_OWN_CALLS = (
    "Advisors with a callvault account can see each request to listen to a call they took. "
    "You can ask for a copy of the recordings of your own calls like anyone else (below)."
)
STAFF_NEVER_RECORDED_ALWAYS = (
    "A call to a number that is not one of the service numbers above, such as your direct "
    "line, is never recorded, and neither is an internal call between extensions."
)


# Big-city area codes written 0xxx xxx xxxx (Sheffield, Birmingham, Edinburgh, Glasgow, ...).
_CITY_CODES = frozenset({"0113", "0114", "0115", "0116", "0117", "0118", "0121", "0131", "0141",
                         "0151", "0161", "0191"})  # fmt: skip


def display_number(e164: str) -> str:
    """A UK number as people write it (``+442087483020`` -> ``020 8748 3020``); others as is."""
    if not e164.startswith("+44"):
        return e164
    national = "0" + e164[3:]
    if len(national) != 11:
        return national
    if national.startswith("02"):
        return f"{national[:3]} {national[3:7]} {national[7:]}"
    if national.startswith(("03", "08", "09")) or national[:4] in _CITY_CODES:
        return f"{national[:4]} {national[4:7]} {national[7:]}"
    return f"{national[:5]} {national[5:]}"


def numbers(line: Line) -> str:
    return ", ".join(display_number(number) for number in line.numbers)


# -- how a line's settings read ---------------------------------------------------------------

RECORDER_DOWN = {
    "continue_unrecorded": "Your call still goes through, but is not recorded.",
    "reject_call": "We cannot take your call until recording works again; please call later.",
}
STAFF_RECORDER_DOWN = {
    "continue_unrecorded": "calls go through, unrecorded",
    "reject_call": "calls are refused until the recorder is back",
}
STAFF_ON_TRANSFER = {
    "keep_recording": "recording continues",
    "stop": "recording stops",
}


def caller_notes(line: Line) -> str:
    """What a caller should know about one line beyond its number."""
    notes = []
    if not line.announcement.required:
        notes.append("No recorded message is played before recording on this line.")
    if line.takes_payments:
        notes.append("Recording pauses while you give card details.")
    if line.sensitivity == "special_category":
        notes.append(
            "Calls often include information about health, care or offences, which the law "
            "protects more strictly."
        )
    if line.on_transfer == "stop":
        notes.append("Recording stops if we put you through to a member of staff's own line.")
    if line.record_outbound:
        notes.append("Calls we make to you from this number are recorded too.")
    return " ".join(notes) or "None."
