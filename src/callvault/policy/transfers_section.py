"""Reading ``transfers:`` from the policy file (what it means and why: ``transfers.py``)."""

from __future__ import annotations

from callvault.policy.sections import at, check_keys, fail, mapping, text
from callvault.policy.transfers import Transfer

TRANSFER_KEYS = frozenset({"to", "recipient", "safeguard"})
_EXAMPLE = (
    "e.g. `- {to: Ireland, recipient: our backup provider, safeguard: UK adequacy "
    "regulations (EEA)}`, or `transfers: []` when recordings stay in the UK"
)


def read_transfers(value: object, path: str = "transfers") -> tuple[Transfer, ...]:
    """The ``transfers:`` list; absent or empty means recordings stay in the UK."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise fail(path, f"list each transfer of recordings outside the UK, {_EXAMPLE}")
    found: list[Transfer] = []
    for i, item in enumerate(value):
        where = f"{path}[{i}]"
        data = mapping(item, where, f"each transfer is a mapping; {_EXAMPLE}")
        check_keys(data, TRANSFER_KEYS, where, required=("to", "recipient", "safeguard"))
        transfer = Transfer(
            to=text(data, "to", where),
            recipient=text(data, "recipient", where),
            safeguard=text(data, "safeguard", where),
        )
        if any((t.to, t.recipient) == (transfer.to, transfer.recipient) for t in found):
            raise fail(at(where, "recipient"), "this destination and recipient are listed twice")
        found.append(transfer)
    return tuple(found)
