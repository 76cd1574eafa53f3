"""RFC 7865 recording metadata, read tolerantly from every SRC layout seen in the field.

One walk covers: the RFC namespace ``urn:ietf:params:xml:ns:recording:1``, the draft one
without ``:1``, prefixed documents (``tns:recording``) and BroadWorks' ``recording_metadata``
in ``urn:ietf:params:xml:ns:siprec``; ``participant_id=``/``stream_id=``/``session_id=`` and the
draft-era ``id=``; stream associations in ``<participantstreamassoc>`` (RFC) or as ``<send>``/
``<recv>`` inside ``<participant>`` (draft); ``aor`` on ``<nameID>`` or as an ``<aor>`` child.
Element names are compared without namespace, prefix or case (see ``metadata_xml``).

A ``partial`` document (``<datamode>partial</datamode>``, RFC 7865 §6.1.1) only says what
changed: ``merge_metadata`` folds it into what the session already had.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import TypeVar
from xml.etree.ElementTree import Element

from callvault.capture.siprec.metadata_xml import (
    MetadataError,
    attribute,
    child_text,
    child_texts,
    children,
    descendants,
    load_metadata_xml,
    local_name,
)
from callvault.capture.siprec.vendor import VendorHints, acme_calling_flag, vendor_hints

__all__ = [
    "MetadataError",
    "Participant",
    "RecordingMetadata",
    "RecordingSession",
    "Stream",
    "StreamAssociation",
    "merge_metadata",
    "parse_metadata",
]

_ROOT_NAMES = frozenset({"recording", "recording_metadata", "recording-metadata"})


@dataclass(frozen=True, slots=True)
class Participant:
    """One party to the recorded call, in the order the SRC listed it."""

    participant_id: str
    aor: str | None  # as sent: "sip:9000@host", "2249888500@host", "tel:+44…"
    name: str | None
    # Acme Packet's apkt:callingParty (True) / apkt:calledParty (False); None when not sent.
    calling_party: bool | None = None
    associated_at: datetime | None = None
    disassociated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Stream:
    """One recorded media stream; ``label`` is the SDP ``a=label`` of its ``m=`` line."""

    stream_id: str
    label: str | None
    mode: str | None = None  # "separate" or "mixed" where the SRC says
    session_id: str | None = None
    associated_at: datetime | None = None
    disassociated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StreamAssociation:
    """Which streams one participant sends (its voice) and receives."""

    participant_id: str
    sends: tuple[str, ...]
    receives: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RecordingSession:
    """A recorded communication session (RFC 7865 §6.3) and its times."""

    session_id: str
    group_id: str | None = None
    sip_session_ids: tuple[str, ...] = ()
    start_time: datetime | None = None
    stop_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class RecordingMetadata:
    """Everything callvault keeps from one metadata document (or a merge of several)."""

    partial: bool
    participants: tuple[Participant, ...] = ()
    streams: tuple[Stream, ...] = ()
    associations: tuple[StreamAssociation, ...] = ()
    sessions: tuple[RecordingSession, ...] = ()
    vendor: VendorHints = field(default_factory=VendorHints)
    namespace: str | None = None

    def participant(self, participant_id: str) -> Participant | None:
        return next((p for p in self.participants if p.participant_id == participant_id), None)

    def stream(self, stream_id: str) -> Stream | None:
        return next((s for s in self.streams if s.stream_id == stream_id), None)

    def senders(self) -> dict[str, str]:
        """Stream id -> id of the participant whose voice it carries (first claim wins)."""
        found: dict[str, str] = {}
        for association in self.associations:
            for stream_id in association.sends:
                found.setdefault(stream_id, association.participant_id)
        return found

    def labels_sent_by(self, participant_id: str) -> tuple[str, ...]:
        """SDP labels of the streams carrying this participant's voice, in stream order."""
        senders = self.senders()
        return tuple(
            s.label
            for s in self.streams
            if s.label is not None and senders.get(s.stream_id) == participant_id
        )


def parse_metadata(body: bytes | str) -> RecordingMetadata:
    """Parse one ``application/rs-metadata(+xml)`` body; MetadataError (400/413) if refused.

    Unknown elements and attributes are ignored; a participant or stream without an id gets
    a positional one (``participant-2``) so that it still counts in participant order.
    """
    root = load_metadata_xml(body)
    if local_name(root.tag) not in _ROOT_NAMES:
        raise MetadataError(
            f"the metadata root element is <{root.tag}>; recording metadata (RFC 7865) "
            "has a <recording> root",
            reason="Not Recording Metadata",
        )
    participants = tuple(
        _participant(element, index)
        for index, element in enumerate(descendants(root, "participant"), start=1)
    )
    return RecordingMetadata(
        partial=(_datamode(root) == "partial"),
        participants=participants,
        streams=tuple(
            _stream(element, index)
            for index, element in enumerate(descendants(root, "stream"), start=1)
        ),
        associations=_associations(root, participants),
        sessions=tuple(
            _session(element, index)
            for index, element in enumerate(descendants(root, "session"), start=1)
        ),
        vendor=vendor_hints(root),
        namespace=root.tag[1:].partition("}")[0] if root.tag.startswith("{") else None,
    )


def _datamode(root: Element) -> str | None:
    for name in ("datamode", "data-mode", "data_mode"):
        value = child_text(root, name)
        if value is not None:
            return value.casefold()
    return None


def _participant(element: Element, index: int) -> Participant:
    pid = attribute(element, "participant_id", "id") or f"participant-{index}"
    name_ids = children(element, "nameid")
    aor = next((a for n in name_ids if (a := attribute(n, "aor")) is not None), None)
    if aor is None:
        # BroadWorks and some drafts: <aor> as a child of the participant or of <nameID>.
        aor = child_text(element, "aor") or next(
            (a for n in name_ids if (a := child_text(n, "aor")) is not None), None
        )
    if aor is None:
        aor = attribute(element, "aor")
    name = next((t for n in name_ids if (t := child_text(n, "name")) is not None), None)
    return Participant(
        participant_id=pid,
        aor=aor,
        name=name or child_text(element, "name"),
        calling_party=acme_calling_flag(element),
        associated_at=_time(child_text(element, "associate-time")),
        disassociated_at=_time(child_text(element, "disassociate-time")),
    )


def _stream(element: Element, index: int) -> Stream:
    return Stream(
        stream_id=attribute(element, "stream_id", "id") or f"stream-{index}",
        label=child_text(element, "label") or attribute(element, "label"),
        mode=_folded(child_text(element, "mode")),
        session_id=attribute(element, "session_id", "session"),
        associated_at=_time(child_text(element, "associate-time")),
        disassociated_at=_time(child_text(element, "disassociate-time")),
    )


def _session(element: Element, index: int) -> RecordingSession:
    return RecordingSession(
        session_id=attribute(element, "session_id", "id") or f"session-{index}",
        group_id=child_text(element, "group-ref"),
        sip_session_ids=tuple(child_texts(element, "sipsessionid")),
        start_time=_time(
            child_text(element, "start-time") or child_text(element, "associate-time")
        ),
        stop_time=_time(
            child_text(element, "stop-time") or child_text(element, "disassociate-time")
        ),
    )


def _associations(
    root: Element, participants: tuple[Participant, ...]
) -> tuple[StreamAssociation, ...]:
    """Draft ``<send>`` inside ``<participant>`` and RFC ``<participantstreamassoc>``, merged."""
    sends: dict[str, list[str]] = {}
    receives: dict[str, list[str]] = {}
    elements = descendants(root, "participant")
    sources = [(p.participant_id, e) for p, e in zip(participants, elements, strict=True)]
    for index, element in enumerate(descendants(root, "participantstreamassoc"), start=1):
        pid = attribute(element, "participant_id", "id") or f"participant-{index}"
        sources.append((pid, element))
    for pid, element in sources:
        for stream_id in child_texts(element, "send"):
            _append_once(sends.setdefault(pid, []), stream_id)
        for stream_id in child_texts(element, "recv"):
            _append_once(receives.setdefault(pid, []), stream_id)
    return tuple(
        StreamAssociation(pid, tuple(sends.get(pid, ())), tuple(receives.get(pid, ())))
        for pid in dict.fromkeys([*sends, *receives])
    )


def _append_once(items: list[str], item: str) -> None:
    if item not in items:
        items.append(item)


def _folded(text: str | None) -> str | None:
    return text.casefold() if text is not None else None


def _time(text: str | None) -> datetime | None:
    """An RFC 7865 dateTime; times without a zone are taken as UTC; unreadable ones as None."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


_Item = TypeVar("_Item", Participant, Stream, RecordingSession)


def merge_metadata(earlier: RecordingMetadata, update: RecordingMetadata) -> RecordingMetadata:
    """The session's metadata after ``update``: a complete update replaces, a partial one merges.

    Merging keeps the earlier order (participant order is part of the dialled-number rule) and
    appends what is new; a field the update leaves out keeps its earlier value; a participant's
    stream association in the update replaces that participant's earlier one.
    """
    if not update.partial:
        return update
    return RecordingMetadata(
        partial=earlier.partial,
        participants=_merge_by_id(earlier.participants, update.participants, _participant_key),
        streams=_merge_by_id(earlier.streams, update.streams, _stream_key),
        associations=_merge_associations(earlier.associations, update.associations),
        sessions=_merge_by_id(earlier.sessions, update.sessions, _session_key),
        vendor=earlier.vendor.updated_by(update.vendor),
        namespace=earlier.namespace or update.namespace,
    )


def _participant_key(item: Participant) -> str:
    return item.participant_id


def _stream_key(item: Stream) -> str:
    return item.stream_id


def _session_key(item: RecordingSession) -> str:
    return item.session_id


def _merge_by_id(
    earlier: tuple[_Item, ...], update: tuple[_Item, ...], key: Callable[[_Item], str]
) -> tuple[_Item, ...]:
    merged: dict[str, _Item] = {key(item): item for item in earlier}
    for item in update:
        old = merged.get(key(item))
        merged[key(item)] = item if old is None else _overlay(old, item)
    return tuple(merged.values())


def _overlay(old: _Item, new: _Item) -> _Item:
    """``old`` with every field that ``new`` sets (not None, not empty) taken from ``new``."""
    changes = {
        f.name: value
        for f in fields(old)
        if (value := getattr(new, f.name)) is not None and value != ()
    }
    return replace(old, **changes)


def _merge_associations(
    earlier: tuple[StreamAssociation, ...], update: tuple[StreamAssociation, ...]
) -> tuple[StreamAssociation, ...]:
    merged = {a.participant_id: a for a in earlier}
    merged.update({a.participant_id: a for a in update})
    return tuple(merged.values())
