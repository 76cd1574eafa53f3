"""What SRC vendors add beyond RFC 7865 that names the calling and the called party.

RFC 7865 gives participants no role, so these are the only statements of who dialled whom:

- Oracle/Acme Packet: ``<apkt:callingParty>true|false</apkt:callingParty>`` in each
  participant's ``<extensiondata>`` (``calledParty`` is read as the inverse).
- Ribbon/Sonus: ``<callData>`` (usually inside ``<group>``) with the original ``<fromhdr>``,
  ``<tohdr>`` and ``<callid>`` header values.
- BroadWorks: ``calledPartyNumber`` and ``callingPartyNumber`` elements.
- Cisco CUBE network-based recording: no metadata at all, one
  ``X-Cisco-Recording-Participant: <sip:…>;media-index="0"`` header per party.

Elements are found by local name anywhere in the document, because each vendor has moved
them between releases (and namespaces) while keeping the names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from callvault.capture.siprec.grammar import parse_params, split_commas, unquote
from callvault.capture.siprec.metadata_xml import child_text, descendants, text_of

CISCO_PARTICIPANT_HEADER = "x-cisco-recording-participant"

# A header block as the SIP layer keeps it (ordered name/value pairs), or a plain mapping.
HeaderFields = Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]]

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


@dataclass(frozen=True, slots=True)
class VendorHints:
    """Calling and called party as a vendor's extension data states them (raw text)."""

    called: str | None = None  # "<sip:2249888012@host>;tag=…", "sip:+44…@host", "+44…"
    calling: str | None = None
    source: str | None = None  # "ribbon-calldata" or "broadworks"
    original_call_id: str | None = None  # Ribbon's <callid>: the recorded call's Call-ID

    def updated_by(self, update: VendorHints) -> VendorHints:
        """These hints with whatever ``update`` states taken from it (partial metadata)."""
        if update.source is not None and update.source != self.source:
            return update  # another vendor block: its called/calling pair belongs together
        return VendorHints(
            called=update.called or self.called,
            calling=update.calling or self.calling,
            source=update.source or self.source,
            original_call_id=update.original_call_id or self.original_call_id,
        )


@dataclass(frozen=True, slots=True)
class CiscoParticipant:
    """One ``X-Cisco-Recording-Participant`` value: a party and the ``m=`` lines it sends on."""

    uri: str
    media_indexes: tuple[int, ...]


def vendor_hints(root: Element) -> VendorHints:
    """Ribbon ``callData`` if present, else BroadWorks party numbers, else nothing."""
    for call_data in descendants(root, "calldata"):
        called, calling = child_text(call_data, "tohdr"), child_text(call_data, "fromhdr")
        if called is not None or calling is not None:
            return VendorHints(called, calling, "ribbon-calldata", child_text(call_data, "callid"))
    called = _first_text(root, "calledpartynumber")
    calling = _first_text(root, "callingpartynumber")
    if called is not None or calling is not None:
        return VendorHints(called, calling, "broadworks")
    return VendorHints()


def _first_text(root: Element, name: str) -> str | None:
    return next((t for e in descendants(root, name) if (t := text_of(e)) is not None), None)


def acme_calling_flag(participant: Element) -> bool | None:
    """Acme's per-participant flag: True for the calling party, False for the called one."""
    for name, calling in (("callingparty", True), ("calledparty", False)):
        for element in descendants(participant, name):
            value = (text_of(element) or "").casefold()
            if value in _TRUE:
                return calling
            if value in _FALSE:
                return not calling
    return None


def header_values(headers: HeaderFields, name: str) -> list[str]:
    """Every value of header ``name`` (any case), repeated lines and comma lists flattened."""
    wanted = name.casefold()
    lines: list[str] = []
    if isinstance(headers, Mapping):
        for key, value in headers.items():
            if key.strip().casefold() == wanted:
                lines.extend([value] if isinstance(value, str) else value)
    else:
        lines = [value for key, value in headers if key.strip().casefold() == wanted]
    return [item for line in lines for item in split_commas(line)]


def cisco_participants(headers: HeaderFields) -> tuple[CiscoParticipant, ...]:
    """The parties of a Cisco network-based recording, in header order.

    ``<sip:708090@10.0.0.5>;media-index="0"`` and the bracket-less form CUBE also sends
    (``sip:708090@10.0.0.5;media-index="0"``, where the parameter is read after the URI).
    A value without a readable media-index still lists the party, with no indexes.
    """
    found: list[CiscoParticipant] = []
    for value in header_values(headers, CISCO_PARTICIPANT_HEADER):
        opened = value.find("<")
        closed = value.find(">", opened + 1) if opened >= 0 else -1
        if closed > opened >= 0:
            uri = value[opened + 1 : closed]
            params = parse_params(value[closed + 1 :])
        else:
            uri, _, rest = value.partition(";")
            params = parse_params(rest)
        if uri.strip():
            found.append(CiscoParticipant(uri.strip(), _indexes(params.get("media-index"))))
    return tuple(found)


def _indexes(raw: str | None) -> tuple[int, ...]:
    if raw is None:
        return ()
    words = unquote(raw).split()
    # Guard the int() against "٣" (other Unicode digits) and absurd lengths.
    return tuple(int(w) for w in words if w.isascii() and w.isdigit() and len(w) <= 3)
