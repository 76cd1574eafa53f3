"""The dialled number, the caller and which SDP label carries whom, for one SIPREC session.

The recording policy decides on the dialled number, and RFC 7865 metadata has no caller or
callee role, so the number comes from this rule (docs/siprec.md states it for operators).
The first step that applies decides; later steps are not consulted:

1. Vendor data that names the parties, in this order: Acme's per-participant
   ``callingParty`` flag; Ribbon/Sonus ``callData`` (``tohdr`` is the dialled party, ``fromhdr``
   the caller); BroadWorks ``calledPartyNumber``/``callingPartyNumber``; Cisco network-based
   recording headers (``media-index`` 0 is the called party, see ``_by_cisco_headers``).
2. Stream association and labels: when streams are associated with participants and their
   ``a=label`` names a leg (``a_leg``/``b_leg``, ``caller``/``callee``), the participant sending
   the A-leg is the caller. Numeric labels name no role (Ribbon sends the called party's voice
   on label 1, Acme the caller's).
3. Participant order: with exactly two current participants, the first listed is the caller and
   the second the dialled party. The RFC does not say so; every SRC we have seen (Cisco CUBE,
   Acme, Ribbon, OpenSIPS, SEMS, BroadWorks) lists the calling party first.

When no step applies, or the step that applies gives no usable number for the called party,
``dialled`` is None and ``reason`` says why. The server then asks the policy with no number,
and the policy declines: the call is not recorded, which is the safe side for calls to staff
extensions. Nothing here calls the policy; the result is plain data.

Direction is inbound, unless the step that decided is vendor data (step 1) and it names one of
``own_numbers`` (the council's line numbers) as the caller while the dialled number is not one.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from callvault.capture.siprec.metadata import Participant, RecordingMetadata
from callvault.capture.siprec.vendor import HeaderFields, cisco_participants
from callvault.errors import BadInput
from callvault.policy.decide import INBOUND, OUTBOUND
from callvault.policy.numbers import normalise_number

CALLER = "caller"
CALLED = "called"
MIXED = "mixed"  # a stream carrying both parties (BroadWorks sends one)

UNDECIDED = "undecided"

_SEPARATORS = str.maketrans(dict.fromkeys(" \t-.()/[]\u00a0\u2009\u202f\u2010\u2011\u2013", None))
_CALLER_LEGS = frozenset({"a_leg", "a-leg", "aleg", "leg_a", "caller", "calling"})
_CALLED_LEGS = frozenset({"b_leg", "b-leg", "bleg", "leg_b", "callee", "called"})


@dataclass(frozen=True, slots=True)
class CallParties:
    """Who called whom, as far as the recording client says; see the module for the rule."""

    dialled: str | None  # canonical (E.164 or an extension), ready for policy.decide
    caller: str | None  # canonical; None when withheld or not a number
    direction: str  # "inbound" or "outbound"
    rule: str  # the step that decided: "acme-calling-party" … "participant-order", "undecided"
    reason: str  # one sentence naming the evidence, or why there is no number
    dialled_uri: str | None = None  # the called party's address as sent
    caller_uri: str | None = None
    label_roles: tuple[tuple[str, str], ...] = ()  # (SDP a=label, "caller"/"called"/"mixed")
    media_index_roles: tuple[tuple[int, str], ...] = ()  # Cisco: (m= line index, role)

    def role_of_label(self, label: str) -> str | None:
        return next((role for known, role in self.label_roles if known == label), None)

    def role_of_media_index(self, index: int) -> str | None:
        return next((role for known, role in self.media_index_roles if known == index), None)


@dataclass(frozen=True, slots=True)
class _Pick:
    rule: str
    evidence: str
    called_uri: str | None
    caller_uri: str | None
    label_roles: tuple[tuple[str, str], ...] = ()
    media_index_roles: tuple[tuple[int, str], ...] = ()
    from_vendor: bool = False


def work_out_parties(
    metadata: RecordingMetadata | None,
    headers: HeaderFields = (),
    *,
    own_numbers: Collection[str] = (),
) -> CallParties:
    """Apply the dialled-number rule to a session's metadata (merged) and INVITE headers.

    ``own_numbers`` are canonical numbers of the council's lines (for the direction only);
    pass none and every call is inbound.
    """
    pick = _by_vendor_data(metadata, headers)
    if pick is None and metadata is not None:
        pick = _by_leg_labels(metadata) or _by_participant_order(metadata)
    if pick is None:
        return _undecided("the INVITE has no recording metadata and no Cisco recording headers")
    return _finish(pick, own_numbers)


def _by_vendor_data(metadata: RecordingMetadata | None, headers: HeaderFields) -> _Pick | None:
    if metadata is not None:
        pick = _by_acme_flag(metadata) or _by_vendor_numbers(metadata)
        if pick is not None:
            return pick
    return _by_cisco_headers(headers)


def _current(metadata: RecordingMetadata) -> list[Participant]:
    # A participant that has left (a transfer's original agent) no longer counts.
    return [p for p in metadata.participants if p.disassociated_at is None]


def _by_acme_flag(metadata: RecordingMetadata) -> _Pick | None:
    current = _current(metadata)
    callers = [p for p in current if p.calling_party is True]
    called = [p for p in current if p.calling_party is False]
    if not callers and not called:
        return None
    caller = callers[0] if len(callers) == 1 else None
    callee = called[0] if len(called) == 1 else None
    if len(callers) > 1 or len(called) > 1:
        caller = callee = None  # contradictory flags: guess nothing
    elif len(current) == 2:
        caller = caller or next((p for p in current if p is not callee), None)
        callee = callee or next((p for p in current if p is not caller), None)
    evidence = (
        f"Acme extension data marks {len(callers)} participant(s) as calling and "
        f"{len(called)} as called"
    )
    return _pick_participants(metadata, "acme-calling-party", evidence, caller, callee, True)


def _by_vendor_numbers(metadata: RecordingMetadata) -> _Pick | None:
    hints = metadata.vendor
    if hints.source is None:
        return None
    if hints.source == "ribbon-calldata":
        what = "Ribbon callData names the called party (tohdr) and the caller (fromhdr)"
    else:
        what = "BroadWorks calledPartyNumber/callingPartyNumber name the parties"
    current = _current(metadata)
    callee = _participant_with_number(current, hints.called)
    caller = _participant_with_number(current, hints.calling)
    roles = _label_roles(metadata, caller, callee)
    called_uri = hints.called
    if called_uri is None and caller is not None and len(current) == 2:
        # Only the caller named: the other of two participants was dialled.
        callee = next(p for p in current if p is not caller)
        called_uri = callee.aor
        roles = _label_roles(metadata, caller, callee)
    return _Pick(hints.source, what, called_uri, hints.calling, roles, from_vendor=True)


def _by_cisco_headers(headers: HeaderFields) -> _Pick | None:
    """Cisco CUBE network-based recording: two headers, ``media-index`` "0" is the called party.

    Cisco's CUBE guide shows ``media-index="0"`` on the called number when ``media-recording``
    is on the dial-peer towards the called side (jambonz reads it the same way); with it on
    the caller's dial-peer the order flips, so docs/siprec.md tells operators where to put it.
    """
    parties = [p for p in cisco_participants(headers) if p.media_indexes]
    if not parties:
        return None
    firsts = sorted({min(p.media_indexes) for p in parties})
    if len(parties) != 2 or len(firsts) != 2:
        evidence = f"X-Cisco-Recording-Participant names {len(parties)} parties, not two"
        return _Pick("cisco-recording-participant", evidence, None, None, from_vendor=True)
    callee, caller = sorted(parties, key=lambda p: min(p.media_indexes))
    roles = tuple(
        sorted(
            [(i, CALLED) for i in callee.media_indexes]
            + [(i, CALLER) for i in caller.media_indexes]
        )
    )
    evidence = "X-Cisco-Recording-Participant: the lowest media-index is the called party"
    return _Pick("cisco-recording-participant", evidence, callee.uri, caller.uri, (), roles, True)


def _by_leg_labels(metadata: RecordingMetadata) -> _Pick | None:
    current = _current(metadata)
    callers = [p for p in current if _legs(metadata, p) & _CALLER_LEGS]
    called = [p for p in current if _legs(metadata, p) & _CALLED_LEGS]
    if len(callers) != 1 or len(called) != 1 or callers[0] is called[0]:
        return None
    evidence = "the caller's stream is labelled as the A leg"
    return _pick_participants(metadata, "leg-labels", evidence, callers[0], called[0], False)


def _legs(metadata: RecordingMetadata, participant: Participant) -> set[str]:
    return {label.casefold() for label in metadata.labels_sent_by(participant.participant_id)}


def _by_participant_order(metadata: RecordingMetadata) -> _Pick:
    current = _current(metadata)
    if len(current) != 2:
        evidence = (
            f"no vendor data names the parties, no label names a leg, and the metadata lists "
            f"{len(current)} current participant(s) where participant order needs two"
        )
        return _Pick("participant-order", evidence, None, None)
    evidence = "the first of two participants listed is taken as the caller"
    caller, callee = current
    return _pick_participants(metadata, "participant-order", evidence, caller, callee, False)


def _pick_participants(
    metadata: RecordingMetadata,
    rule: str,
    evidence: str,
    caller: Participant | None,
    callee: Participant | None,
    from_vendor: bool,
) -> _Pick:
    return _Pick(
        rule,
        evidence,
        callee.aor if callee is not None else None,
        caller.aor if caller is not None else None,
        _label_roles(metadata, caller, callee),
        from_vendor=from_vendor,
    )


def _label_roles(
    metadata: RecordingMetadata, caller: Participant | None, callee: Participant | None
) -> tuple[tuple[str, str], ...]:
    roles: dict[str, str] = {}
    for participant, role in ((caller, CALLER), (callee, CALLED)):
        if participant is not None:
            for label in metadata.labels_sent_by(participant.participant_id):
                roles.setdefault(label, role)
    for stream in metadata.streams:
        if stream.label is not None and stream.mode == MIXED:
            roles[stream.label] = MIXED
    return tuple(roles.items())


def _participant_with_number(
    participants: Sequence[Participant], address: str | None
) -> Participant | None:
    wanted = _comparable(address)
    if wanted is None:
        return None
    return next((p for p in participants if _comparable(p.aor) == wanted), None)


def _comparable(address: str | None) -> str | None:
    raw = number_from_uri(address)
    if raw is None:
        return None
    number, _ = _canonical(raw)
    return number or raw.casefold()


def number_from_uri(address: str | None) -> str | None:
    """The number in an address as SRCs write it, separators removed, ``+`` kept.

    ``"Ext 8500" <sip:+44 20-8748.3020@sbc;user=phone>;tag=x`` -> ``+442087483020``; also
    ``tel:`` URIs, ``aor`` values without a scheme (``2249888500@host``) and bare numbers.
    Returns None when there is no user part (``sip:10.0.0.1``) or nothing is left.
    """
    if address is None:
        return None
    text = address.strip()
    opened = text.find("<")
    closed = text.find(">", opened + 1) if opened >= 0 else -1
    if closed > opened >= 0:
        text = text[opened + 1 : closed].strip()
    scheme, colon, rest = text.partition(":")
    if colon and scheme.casefold() in {"sip", "sips", "tel"}:
        if scheme.casefold() != "tel" and "@" not in rest:
            return None  # a SIP URI without a user part names a host, not a number
        text = rest
    user = text.partition("@")[0]
    # URI parameters (;user=phone, ;phone-context=…) and headers (?…) follow the number.
    user = user.partition(";")[0].partition("?")[0]
    cleaned = unquote(user).translate(_SEPARATORS)
    return cleaned or None


def _canonical(raw: str | None) -> tuple[str | None, str | None]:
    """``(canonical number, None)`` or ``(None, why it is not a number the policy reads)``."""
    if raw is None:
        return None, "no number"
    try:
        return normalise_number(raw, "dialled").value, None
    except BadInput as exc:
        # The message ends with how to write a number, which helps a form but not the audit.
        return None, exc.message.split("; ", 1)[0]


def _finish(pick: _Pick, own_numbers: Collection[str]) -> CallParties:
    dialled, why = _canonical(number_from_uri(pick.called_uri))
    caller, _ = _canonical(number_from_uri(pick.caller_uri))
    outbound = pick.from_vendor and caller in own_numbers and dialled not in own_numbers
    if dialled is None:
        reason = (
            f"{pick.evidence}, but the called party gives no usable number "
            f"({pick.called_uri!r}: {why}); the policy is asked with no number and declines"
            if pick.called_uri is not None
            else f"{pick.evidence}, so the dialled number is unknown; the policy is asked "
            "with no number and declines"
        )
    else:
        reason = f"{pick.evidence}: dialled {dialled}"
    return CallParties(
        dialled=dialled,
        caller=caller,
        direction=OUTBOUND if outbound else INBOUND,
        rule=pick.rule,
        reason=reason,
        dialled_uri=pick.called_uri,
        caller_uri=pick.caller_uri,
        label_roles=pick.label_roles,
        media_index_roles=pick.media_index_roles,
    )


def _undecided(why: str) -> CallParties:
    reason = f"{why}; the policy is asked with no number and declines"
    return CallParties(None, None, INBOUND, UNDECIDED, reason)
