"""Transfers of recordings outside the UK, as the policy declares them.

A caller must be told whether their recordings go to another country or an international
organisation, and under what safeguard (UK GDPR Art. 13(1)(f) in the notice, Art. 15(2) in a
subject access letter, Art. 30(1)(e) in the record of processing). callvault itself sends
nothing abroad, but the council chooses where its blob store, backups and processors are: a
bucket in another region or an offshore support contractor is a transfer. So the policy says,
and all three documents read the same list.

``transfers: []`` (or no key) means none; each entry names where (``to``), who receives the
recordings there (``recipient``) and the safeguard relied on (``safeguard``: UK adequacy
regulations, or an Art. 46 safeguard such as the IDTA).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Transfer:
    """Recordings sent outside the UK: where, to whom, and the safeguard relied on."""

    to: str
    recipient: str
    safeguard: str
