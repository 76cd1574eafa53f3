"""Tables of people's rights: requests, their pauses, the searches made, the recordings found.

Migration 0011 creates them; see its docstring for why each exists.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, ForeignKey, Index, Integer, String, Table, Text

from callvault.db import metadata

rights_requests = Table(
    "rights_requests",
    metadata,
    Column("id", String(32), primary_key=True),
    # The council's case reference (for subject access, the purpose's SAR-YYYY-NNN pattern).
    Column("ref", String(100), nullable=False, unique=True),
    # access (Art. 15), erasure (Art. 17), objection (Art. 21)
    Column("kind", String(16), nullable=False),
    Column("requester", Text, nullable=False),
    Column("contact", Text, nullable=False),
    # awaiting | verified: the clock is stopped while the requester's identity is awaited.
    Column("identity", String(16), nullable=False),
    Column("received_on", String(10), nullable=False),
    # JSON list of {"kind": "phone", "value": E.164}: what the search looks for.
    Column("identifiers", Text, nullable=False),
    # open | responded | decided | withdrawn
    Column("state", String(16), nullable=False),
    # The statutory deadline as last computed (None while the clock is stopped), kept so the
    # deadlines view is one indexed query; recomputed in the transaction of every change.
    Column("deadline", String(10)),
    Column("extension_months", Integer, nullable=False, default=0),
    Column("extension_reason", Text),
    Column("extension_told_on", String(10)),
    Column("opened_by", String(64), nullable=False),
    Column("opened_at", String(32), nullable=False),
    Column("closed_by", String(64)),
    Column("closed_at", String(32)),
    Column("outcome", Text),
    Index("ix_rights_requests_open", "state", "deadline"),
)

# Stop-the-clock (Art. 12A): from the day the council asked for identity or clarification to
# the day the answer came. An open pause has no end.
rights_pauses = Table(
    "rights_pauses",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(32), ForeignKey("rights_requests.id"), nullable=False, index=True),
    Column("reason", String(16), nullable=False),
    Column("started_on", String(10), nullable=False),
    Column("ended_on", String(10)),
    Column("note", Text, nullable=False),
)

# Every search made for a request: the evidence of a reasonable and proportionate search
# (Art. 15(1A)) — what was looked for, by whom, when, and what it found.
rights_searches = Table(
    "rights_searches",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("request_id", String(32), ForeignKey("rights_requests.id"), nullable=False, index=True),
    Column("searched_by", String(64), nullable=False),
    Column("searched_at", String(32), nullable=False),
    Column("terms", Text, nullable=False),
    Column("matched", Integer, nullable=False),
    # The legal hold placed on what this search found (DPA 2018 s.173); None if it found none.
    Column("hold_id", String(32)),
)

# The recordings a request found, and what became of each: for access, a person's review
# (released with others' voices and details muted, or withheld with the reason); for erasure
# and objection, the decision with its reason code and, when erased, the certificate's entry.
rights_items = Table(
    "rights_items",
    metadata,
    Column("request_id", String(32), ForeignKey("rights_requests.id"), primary_key=True),
    Column("recording_id", String(40), ForeignKey("recordings.id"), primary_key=True, index=True),
    Column("search_id", String(32), nullable=False),
    # pending | released | withheld (access) · pending | erased | kept (erasure, objection)
    Column("outcome", String(16), nullable=False),
    Column("reason_code", String(32)),
    Column("note", Text),
    Column("decided_by", String(64)),
    Column("decided_at", String(32)),
    Column("certificate_seq", Integer),
)

# What a reviewer mutes in a recording released to a requester: other people's voices and
# details (DPA 2018 Sch. 2 para 16). Proposed from the speech job's redaction log, confirmed,
# dropped (the requester's own details are theirs to have) or added by a person; the
# response package's redaction log lists each.
rights_mutes = Table(
    "rights_mutes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(32), ForeignKey("rights_requests.id"), nullable=False),
    Column("recording_id", String(40), ForeignKey("recordings.id"), nullable=False),
    # None: both channels
    Column("channel", Integer),
    Column("start_s", Float, nullable=False),
    Column("end_s", Float, nullable=False),
    Column("reason", Text, nullable=False),
    Column("added_by", String(64), nullable=False),
    Index("ix_rights_mutes_item", "request_id", "recording_id"),
)
