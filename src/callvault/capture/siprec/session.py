"""SIPREC sessions: the policy asked at arrival, RTP into the vault, the recording at BYE.

An INVITE that opens a recording session is decided before it is answered. The dialled
number comes from the metadata and headers (``dialled.py``); the policy decides through the
same service as file ingest (``IngestService.start_live``), which audits a declined call.

- Covered: every audio stream the recorder can take is answered ``recvonly`` with its label,
  on ports bound for the session; RTP goes through the call's timeline (``timeline.py``) and
  settled audio is written, encrypted, to the recording a few times a second. At BYE the
  recording is finished and committed exactly like a file ingest.
- Not covered: ``200 OK`` whose SDP declines every stream (port 0). Real recording clients
  take that as "nothing to send" and neither retry nor raise an alarm, where an error answer
  would make them fail over or alert; no audio is ever received.
- The vault or database cannot take the call: ``503`` with ``Retry-After``, so the client can
  fail over to another recorder.

Channel order is the file ingest's: the caller is channel 0, the called party (the council's
side) channel 1. Where the metadata does not say which stream is whose, the first offered
stream is taken as the caller's, as RFC 7865's participant order usually has it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import numpy as np

from callvault.bootstrap import Services
from callvault.capture.ingest import IngestResult
from callvault.capture.live import LiveRecording
from callvault.capture.metadata import CallMeta
from callvault.capture.siprec.body import RecordingBody, recording_body
from callvault.capture.siprec.client import bye_for
from callvault.capture.siprec.decoding import call_rate
from callvault.capture.siprec.dialled import CallParties, work_out_parties
from callvault.capture.siprec.dtmf import DtmfEvent
from callvault.capture.siprec.errors import SipError
from callvault.capture.siprec.media import Feed, PortRange, SessionMedia
from callvault.capture.siprec.metadata import RecordingMetadata, merge_metadata, parse_metadata
from callvault.capture.siprec.rtp import PayloadKind, payload_types
from callvault.capture.siprec.sdp import SessionDescription, parse_sdp
from callvault.capture.siprec.sdp_answer import (
    AnswerOrigin,
    SdpAnswer,
    StreamAnswer,
    answer_offer,
    decline_offer,
    new_origin,
    stream_keys,
)
from callvault.capture.siprec.session_timer import SessionTimer, negotiate_timer
from callvault.capture.siprec.sipmsg import (
    SipRequest,
    SipResponse,
    is_siprec_request,
    make_response,
    new_tag,
)
from callvault.capture.siprec.timeline import CallTimeline, Int16Array
from callvault.capture.siprec.transactions import Responder
from callvault.capture.siprec.transport import Peer
from callvault.capture.spool_encoders import SpoolEncoders
from callvault.context import Actor, RequestContext
from callvault.db import transaction
from callvault.errors import CallvaultError, Conflict, NotFound

log = logging.getLogger(__name__)

# Sends a request of ours to where the session's INVITE came from; its final answer or None.
Requester = Callable[[SipRequest], Coroutine[Any, Any, SipResponse | None]]

RECORDER = Actor(name="system:siprec", kind="system")
# How often settled audio is taken from the timeline and written to the vault.
PULL_EVERY_S = 0.25
# Declined dialogs remembered for their BYE; beyond this the oldest are forgotten.
MAX_DECLINED = 10_000
# On a payment line a key press pauses the recording (card details are being given); it
# resumes once no key has been pressed for this long (a card number, expiry and security
# code are keyed within it; the payment system may also resume it over the API at once).
DTMF_QUIET_S = 15.0


class _Refusal(Exception):
    """An INVITE answered with an error status instead of a session."""

    def __init__(self, status: int, reason: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(reason)
        self.status, self.reason, self.headers = status, reason, headers


@dataclass
class Session:
    """One recording session (one SIP dialog)."""

    call_id: str
    to_tag: str
    origin: AnswerOrigin
    media: SessionMedia
    parties: CallParties
    metadata: RecordingMetadata | None
    answer: SdpAnswer
    # For hanging up from our side: the INVITE, and a way to send to where it came from.
    invite: SipRequest
    requester: Requester
    live: LiveRecording | None = None
    timeline: CallTimeline | None = None
    channels: dict[str, int] = field(default_factory=dict)
    pump: asyncio.Task[None] | None = None
    ended: bool = False
    # Paused by key presses on a payment line (not by the payment system), and when the last
    # key was pressed: the pump resumes the recording after DTMF_QUIET_S without one.
    keyed_pause: bool = False
    last_key: float = 0.0
    audits: set[asyncio.Task[None]] = field(default_factory=set)
    # RFC 4028: the monotonic time by which the client must refresh, if it agreed a timer.
    expires_at: float | None = None


class SiprecHandler:
    """Answers SIP for the recorder (the transaction layer's ``SipHandler``)."""

    def __init__(
        self,
        services: Services,
        ports: PortRange,
        *,
        contact_uri: str,
        dtmf_quiet_s: float = DTMF_QUIET_S,
        encoders: int | None = None,
    ) -> None:
        self._dtmf_quiet_s = dtmf_quiet_s
        self._services = services
        self._ports = ports
        self._contact = contact_uri
        self._ports_by_transport: dict[str, int] = {}  # the endpoint's bound ports
        self._sessions: dict[str, Session] = {}
        self._cancelled: set[str] = set()  # INVITEs cancelled while being decided
        self._ending: set[asyncio.Task[None]] = set()  # sessions being finished and committed
        self._hanging_up: set[asyncio.Task[None]] = set()  # BYEs of ours awaiting an answer
        # Dialogs of calls answered with no media, so their BYE is answered 200: Call-ID -> tag.
        self._declined: OrderedDict[str, str] = OrderedDict()
        self._own_numbers = frozenset(services.policy.policy.index.line_by_number)
        self._encoders = SpoolEncoders(encoders)

    @property
    def sessions(self) -> int:
        return len(self._sessions)

    def bound(self, *, udp_port: int, tcp_port: int) -> None:
        """The endpoint's ports once bound (port 0 asks the system for free ones): our Contact
        and the Via of the requests we send must name them."""
        self._ports_by_transport = {"udp": udp_port, "tcp": tcp_port}
        base, _, port = self._contact.rpartition(":")
        if port == "0":
            self._contact = f"{base}:{udp_port}"

    def warm_encoders(self) -> None:
        """Start the encoder processes before calls arrive (blocking; run it in a thread)."""
        self._encoders.warm()

    async def on_request(self, request: SipRequest, respond: Responder, peer: Peer) -> None:
        method = request.method
        if method == "OPTIONS":
            respond.send(self._reply(request, 200, to_tag=new_tag()))
        elif method == "INVITE" and request.to_tag is None:
            await self._invite(request, respond, peer)
        elif method == "INVITE":
            await self._reinvite(request, respond)
        elif method == "ACK":
            return
        elif method == "BYE":
            await self._bye(request, respond)
        elif method in ("UPDATE", "INFO"):
            self._update(request, respond)
        else:
            respond.send(self._reply(request, 405, to_tag=request.to_tag or new_tag()))

    async def on_cancel(self, invite: SipRequest) -> None:
        """The client cancelled an INVITE still being decided: it is answered 487 as soon as
        the decision returns, and whatever was opened for it is dropped, nothing stored."""
        self._cancelled.add(invite.call_id)

    async def on_ack_timeout(self, invite: SipRequest) -> None:
        """No ACK came for our 200: the client gave up on the session; keep what arrived."""
        session = self._sessions.get(invite.call_id)
        if session is not None:
            self._end_from_our_side(session, "no ACK for our 200")

    # -- card payments (PCI DSS) -----------------------------------------------------------
    async def pause(self, ctx: RequestContext, call_ref: str) -> dict[str, object]:
        """Silence a call from now on, both channels, until ``resume`` (a card payment).

        ``call_ref`` is the recording session's Call-ID or the recorded call's own SIP
        session id from the metadata, whichever the payment system knows. Audited.
        """
        return await self._pause_or_resume(ctx, call_ref, pause=True)

    async def resume(self, ctx: RequestContext, call_ref: str) -> dict[str, object]:
        """Record again after a pause; the paused span stays silence, its bounds are kept."""
        return await self._pause_or_resume(ctx, call_ref, pause=False)

    async def _pause_or_resume(
        self, ctx: RequestContext, call_ref: str, *, pause: bool
    ) -> dict[str, object]:
        session = self._session_for(call_ref)
        timeline = session.timeline
        assert timeline is not None
        if timeline.paused == pause:
            state = "paused" if pause else "recording"
            raise Conflict(f"call {call_ref!r} is already {state}", "call_id")
        now = time.monotonic()
        (timeline.pause if pause else timeline.resume)(now)
        session.keyed_pause = False  # the payment system decides from here
        at_s = round(now - timeline.clock.start, 3)
        action = "call.paused" if pause else "call.resumed"
        await asyncio.to_thread(self._audit, ctx, action, session, at_s, "payment system")
        return {"call_id": call_ref, "paused": pause, "at_s": at_s}

    def _session_for(self, call_ref: str) -> Session:
        session = self._sessions.get(call_ref)
        if session is None:
            session = next(
                (s for s in self._sessions.values() if call_ref in _sip_session_ids(s)), None
            )
        if session is None or session.timeline is None:
            raise NotFound(f"no call {call_ref!r} is being recorded here", "call_id")
        return session

    def _audit(
        self, ctx: RequestContext, action: str, session: Session, at_s: float, by: str
    ) -> None:
        with transaction(self._services.engine) as conn:
            self._services.audit.append(
                conn, ctx, action, object_type="call",
                object_id=_call_id(session.call_id), details={"at_s": at_s, "by": by},
            )  # fmt: skip

    def _key_pressed(self, session: Session) -> Callable[[int, DtmfEvent], None]:
        """On a payment line: a key press pauses the recording (the digit is never kept)."""

        def pressed(_channel: int, _event: DtmfEvent) -> None:
            timeline = session.timeline
            if timeline is None or session.ended:
                return
            session.last_key = time.monotonic()
            if not timeline.paused:
                timeline.pause(session.last_key)
                session.keyed_pause = True
                self._audit_later(session, "call.paused", "key pressed on a payment line")

        return pressed

    def _resume_after_keys(self, session: Session) -> None:
        timeline = session.timeline
        now = time.monotonic()
        if timeline is None or not session.keyed_pause or not timeline.paused:
            return
        if now - session.last_key >= self._dtmf_quiet_s:
            timeline.resume(now)
            session.keyed_pause = False
            self._audit_later(
                session, "call.resumed", f"no key pressed for {self._dtmf_quiet_s:g} s"
            )

    def _audit_later(self, session: Session, action: str, by: str) -> None:
        """Audit from an RTP callback without holding up the event loop."""
        timeline = session.timeline
        assert timeline is not None
        at_s = round(time.monotonic() - timeline.clock.start, 3)
        ctx = RequestContext(actor=RECORDER, origin="siprec:dtmf")
        task = asyncio.get_running_loop().create_task(
            asyncio.to_thread(self._audit, ctx, action, session, at_s, by)
        )
        session.audits.add(task)
        task.add_done_callback(session.audits.discard)

    async def close(self) -> None:
        """The recorder is stopping: finish every session with the audio it has, and wait
        for the commits already under way."""
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await self._end(session, keep=True)
        if self._ending:
            await asyncio.gather(*self._ending, return_exceptions=True)
        for bye in list(self._hanging_up):
            bye.cancel()  # the recorder is going: no one is left to hear the answer
        await asyncio.gather(*self._hanging_up, return_exceptions=True)
        await asyncio.to_thread(self._encoders.close)

    def _end_in_background(self, session: Session) -> None:
        """Finish a session in a task of its own, not the request's: stopping the SIP
        endpoint cancels request tasks, and a recording being committed must not be lost.
        The call ends now, on the clock: a loaded loop may start the task later, and that
        wait must not become silence at the end of the recording."""
        ended_at = time.monotonic()
        task = asyncio.get_running_loop().create_task(
            self._end(session, keep=True, ended_at=ended_at)
        )
        self._ending.add(task)
        task.add_done_callback(self._ending.discard)

    # -- the INVITE ----------------------------------------------------------------------
    async def _invite(self, request: SipRequest, respond: Responder, peer: Peer) -> None:
        to_tag = new_tag()
        try:
            answer = await self._open(request, peer, to_tag, respond)
            if request.call_id in self._cancelled:
                session = self._sessions.pop(request.call_id, None)
                if session is not None:
                    await self._end(session, keep=False)
                raise _Refusal(487, "Request Terminated")
            respond.send(answer)
        except _Refusal as refusal:
            respond.send(
                self._reply(
                    request, refusal.status, refusal.reason, to_tag=to_tag,
                    headers=refusal.headers,
                )
            )  # fmt: skip
        finally:
            self._cancelled.discard(request.call_id)

    async def _open(
        self, request: SipRequest, peer: Peer, to_tag: str, respond: Responder
    ) -> SipResponse:
        """Decide the call and, if it is covered, open its session; the answer to send."""
        if not is_siprec_request(request):
            raise _Refusal(488, "Not A Recording Session")
        if request.call_id in self._sessions:
            raise _Refusal(482, "Loop Detected")
        try:
            offer, metadata = self._offer(request)
            timer = negotiate_timer(request.headers)
        except SipError as error:
            raise _Refusal(error.status, error.reason, error.response_headers) from error
        parties = work_out_parties(metadata, request.headers, own_numbers=self._own_numbers)
        origin = new_origin(self._ports.host)
        media = SessionMedia(self._ports)
        try:
            answer = self._answer_offer(offer, origin, media)
            started = await self._start_live(request, peer, parties, answer)
        except BaseException:
            media.close()
            raise
        if isinstance(started, IngestResult):  # not covered: take no media
            media.close()
            self._remember_declined(request.call_id, to_tag)
            return self._answer(request, decline_offer(offer, origin=origin), to_tag)
        session = Session(
            request.call_id, to_tag, origin, media, parties, metadata, answer,
            invite=request, requester=respond.send_request, live=started,
        )  # fmt: skip
        if not self._start_media(session):
            media.close()
            started.abort()
            raise _Refusal(488, "No Audio Stream Accepted")
        self._sessions[request.call_id] = session
        await media.listen(session.channels, self._feed_for(session))
        session.pump = asyncio.create_task(self._pump(session))
        return self._answer(request, answer, to_tag, timer=self._set_timer(session, timer))

    async def _start_live(
        self, request: SipRequest, peer: Peer, parties: CallParties, answer: SdpAnswer
    ) -> LiveRecording | IngestResult:
        """Ask the policy (through ingest, which audits a declined call); 503 when the vault
        or the database cannot take the call, so the client fails over."""
        ctx = RequestContext(actor=RECORDER, origin=f"siprec:{peer.transport}:{peer.host}")
        try:
            return await asyncio.to_thread(
                self._services.ingest.start_live, ctx, _call_meta(request, parties),
                sample_rate=_rate(answer), channels=2,
            )  # fmt: skip
        except CallvaultError as error:
            log.warning("call %s refused: %s", request.call_id, error.message)
            raise _Refusal(503, "Recorder Unavailable", (("Retry-After", "30"),)) from error

    def _offer(self, request: SipRequest) -> tuple[SessionDescription, RecordingMetadata | None]:
        body = recording_body(request)
        if body.sdp is None:
            raise SipError(
                "a recording session needs an SDP offer", status=488,
                reason="SDP Offer Required", field="body",
            )  # fmt: skip
        metadata = parse_metadata(body.metadata) if body.metadata is not None else None
        return parse_sdp(body.sdp), metadata

    def _answer_offer(
        self, offer: SessionDescription, origin: AnswerOrigin, media: SessionMedia
    ) -> SdpAnswer:
        try:
            media.reserve(stream_keys(offer))
        except CallvaultError as error:
            raise _Refusal(503, "No RTP Ports", (("Retry-After", "30"),)) from error
        answer = answer_offer(
            offer, origin=origin, allocate_port=media.port_of, srtp_key=media.local_key
        )
        media.use_keys(answer.streams)  # a rekey takes effect with the answer that agrees it
        return answer

    def _start_media(self, session: Session) -> bool:
        """Give the accepted audio streams their channels and the call its timeline."""
        accepted = [s for s in session.answer.streams if s.accepted and s.codec is not None]
        if not accepted:
            return False
        ordered = _caller_first(accepted[:2], session.parties)
        session.channels = {stream.key: channel for channel, stream in enumerate(ordered)}
        live = session.live
        assert live is not None
        kinds = [_payload_kinds(stream, live.sample_rate) for stream in ordered]
        if len(kinds) == 1:
            kinds.append({})  # one mixed stream: the second channel stays silent
        on_key = self._key_pressed(session) if live.start.line.takes_payments else None
        session.timeline = CallTimeline(time.monotonic(), live.sample_rate, kinds, on_dtmf=on_key)
        return True

    def _feed_for(self, session: Session) -> Feed:
        def feed(channel: int, arrival: float, datagram: bytes) -> None:
            if session.timeline is not None and not session.ended:
                session.timeline.feed(channel, arrival, datagram)

        return feed

    # -- during the call -------------------------------------------------------------------
    async def _pump(self, session: Session) -> None:
        while not session.ended:
            await asyncio.sleep(PULL_EVERY_S)
            if session.expires_at is not None and time.monotonic() > session.expires_at:
                self._expire(session)
                return
            if session.timeline is None:
                continue
            try:
                self._resume_after_keys(session)
                self._write(session, session.timeline.drain(time.monotonic()))
            except Exception:
                # The vault cannot take the audio (disk, store): the recording is lost, and
                # keeping the call open would only pretend otherwise.
                log.exception("call %s: recording stopped", session.call_id)
                session.ended = True
                self._end_from_our_side(session, "the recording could not be stored")

    def _write(self, session: Session, chunks: Iterable[Int16Array]) -> None:
        """Settled audio, (samples, channels), into the recording as interleaved PCM."""
        live = session.live
        if live is None:
            return
        for chunk in chunks:
            live.write(np.ascontiguousarray(chunk).reshape(-1))

    async def _reinvite(self, request: SipRequest, respond: Responder) -> None:
        session = self._sessions.get(request.call_id)
        if session is None or request.to_tag != session.to_tag:
            respond.send(self._reply(request, 481, to_tag=request.to_tag))
            return
        try:
            timer = negotiate_timer(request.headers)
            body = self._take_metadata(session, request)
            if body.sdp is not None:
                session.origin = session.origin.next_version()
                session.answer = self._answer_offer(
                    parse_sdp(body.sdp), session.origin, session.media
                )
        except SipError as error:
            respond.send(self._error(request, error, session.to_tag))
            return
        except _Refusal as refusal:
            respond.send(
                self._reply(request, refusal.status, refusal.reason, to_tag=session.to_tag)
            )
            return
        # A hold or resume keeps each label's port and channel; the timeline fills the gap.
        await self._follow_answer(session)
        headers = self._set_timer(session, timer)
        respond.send(self._answer(request, session.answer, session.to_tag, timer=headers))

    async def _follow_answer(self, session: Session) -> None:
        """After a re-INVITE's answer: each stream decodes what its new offer lists, and a
        stream under a new label (an SBC re-anchoring media, a transfer) takes the channel of
        a stream no longer offered (its party's, where the metadata says), so its audio is
        recorded rather than answered and ignored."""
        timeline, live = session.timeline, session.live
        if timeline is None or live is None:
            return
        accepted = [s for s in session.answer.streams if s.accepted and s.codec is not None]
        offered = {stream.key for stream in accepted}
        taken = {ch for key, ch in session.channels.items() if key in offered}
        new: dict[str, int] = {}
        for stream in accepted:
            channel = session.channels.get(stream.key)
            if channel is None:
                channel = _free_channel(stream, session.parties, taken)
                if channel is None:
                    log.warning("call %s: no channel for stream %s", session.call_id, stream.key)
                    continue
                session.channels[stream.key] = new[stream.key] = channel
                taken.add(channel)
            timeline.streams[channel].set_payload_types(_payload_kinds(stream, live.sample_rate))
        if new:
            await session.media.listen(new, self._feed_for(session))

    def _update(self, request: SipRequest, respond: Responder) -> None:
        session = self._sessions.get(request.call_id)
        if session is None:
            respond.send(self._reply(request, 481, to_tag=request.to_tag))
            return
        try:
            timer = negotiate_timer(request.headers)
            self._take_metadata(session, request)
        except SipError as error:
            respond.send(self._error(request, error, session.to_tag))
            return
        headers = self._set_timer(session, timer)
        respond.send(self._reply(request, 200, to_tag=session.to_tag, headers=headers))

    def _remember_declined(self, call_id: str, to_tag: str) -> None:
        self._declined[call_id] = to_tag
        while len(self._declined) > MAX_DECLINED:
            self._declined.popitem(last=False)  # the oldest: its BYE, if any, gets a 481

    def _take_metadata(self, session: Session, request: SipRequest) -> RecordingBody:
        """Merge an in-dialog request's metadata into the session's; return its body."""
        body = recording_body(request)
        if body.metadata is not None:
            update = parse_metadata(body.metadata)
            if session.metadata is not None and update.partial:
                session.metadata = merge_metadata(session.metadata, update)
            else:
                session.metadata = update
        return body

    def _set_timer(
        self, session: Session, timer: SessionTimer | None
    ) -> tuple[tuple[str, str], ...]:
        """Start (or refresh, or drop) the session's timer; the answer's headers for it."""
        if timer is None:
            session.expires_at = None
            return ()
        session.expires_at = time.monotonic() + timer.interval_s
        return timer.response_headers()

    def _expire(self, session: Session) -> None:
        """The client stopped refreshing (RFC 4028 §10): the session is over; keep the audio."""
        log.warning("call %s: session timer expired with no refresh; ending it", session.call_id)
        self._end_from_our_side(session, "session timer expired")

    def _end_from_our_side(self, session: Session, why: str) -> None:
        """End a session its client will not end (no ACK, no refresh, or the vault stopped
        taking its audio): keep what arrived, and send a BYE (in the background) so the
        client knows the call is no longer recorded and can fail over. Once per session."""
        if self._sessions.get(session.call_id) is not session:
            return  # ended already (a BYE, the recorder stopping)
        del self._sessions[session.call_id]
        self._end_in_background(session)
        transport = session.invite.top_via.transport
        host = self._contact.partition("@")[2].rpartition(":")[0]
        via = f"{host}:{self._ports_by_transport.get(transport.lower(), 0)}"  # for the answer
        bye = bye_for(
            session.invite, local_tag=session.to_tag, via=via, transport=transport, cseq=1
        )
        log.info("call %s: sending BYE (%s)", session.call_id, why)
        task = asyncio.get_running_loop().create_task(self._send_bye(session.requester, bye))
        self._hanging_up.add(task)
        task.add_done_callback(self._hanging_up.discard)

    @staticmethod
    async def _send_bye(requester: Requester, bye: SipRequest) -> None:
        answer = await requester(bye)
        status = answer.status if answer is not None else "no answer"
        log.info("call %s: our BYE answered %s", bye.call_id, status)

    # -- the end ---------------------------------------------------------------------------
    async def _bye(self, request: SipRequest, respond: Responder) -> None:
        session = self._sessions.pop(request.call_id, None)
        if session is None:
            # A declined call's dialog ends as any other (a 481 makes some clients alarm).
            declined = self._declined.pop(request.call_id, None)
            status = 481 if declined is None or declined != request.to_tag else 200
            respond.send(self._reply(request, status, to_tag=request.to_tag))
            return
        # Answered first: the client need not wait for the encoding and the commit.
        respond.send(self._reply(request, 200, to_tag=session.to_tag))
        self._end_in_background(session)

    async def _end(self, session: Session, *, keep: bool, ended_at: float | None = None) -> None:
        """Finish a session; ``ended_at`` (monotonic) is when the call ended, now if None."""
        if ended_at is None:
            ended_at = time.monotonic()
        if keep and not session.ended:
            session.media.drain()  # what arrived before the BYE and still waits unread
        session.ended = True
        if session.pump is not None:
            session.pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await session.pump
        session.media.close()
        if session.audits:  # the pause and resume entries go in before the recording's
            await asyncio.gather(*session.audits, return_exceptions=True)
        live = session.live
        if live is None:
            return
        if not keep or session.timeline is None:
            live.abort()
            return
        _log_packets(session.call_id, session.timeline)
        try:
            self._write(session, session.timeline.finish(ended_at))
            paused = [
                (span.start_s, span.end_s if span.end_s is not None else span.start_s)
                for span in session.timeline.pauses
            ]
            await asyncio.to_thread(
                partial(live.finish, encode=self._encoders.encode), datetime.now(UTC), paused
            )
        except Exception:
            log.exception("call %s: the recording could not be committed", session.call_id)
            live.abort()

    # -- answers ---------------------------------------------------------------------------
    def _reply(
        self,
        request: SipRequest,
        status: int,
        reason: str | None = None,
        *,
        to_tag: str | None,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> SipResponse:
        return make_response(
            request, status, reason, to_tag=to_tag, contact_uri=self._contact, headers=headers
        )

    def _error(self, request: SipRequest, error: SipError, to_tag: str) -> SipResponse:
        return self._reply(
            request, error.status, error.reason, to_tag=to_tag, headers=error.response_headers
        )

    def _answer(
        self,
        request: SipRequest,
        answer: SdpAnswer,
        to_tag: str,
        *,
        timer: tuple[tuple[str, str], ...] = (),
    ) -> SipResponse:
        return make_response(
            request, 200, to_tag=to_tag, contact_uri=self._contact, headers=timer,
            body=answer.to_bytes(), content_type="application/sdp",
        )  # fmt: skip


def _log_packets(call_id: str, timeline: CallTimeline) -> None:
    """What became of each channel's packets: the first place to look when audio is missing
    (``late`` means the network or the host held packets past the jitter window)."""
    for channel, stream in enumerate(timeline.streams):
        fates = {fate.value: count for fate, count in stream.fates.items()}
        log.info(
            "call %s channel %d packets %s, re-anchored %d",
            call_id, channel, fates, stream.reanchored,
        )  # fmt: skip


def _call_id(sip_call_id: str) -> str:
    """The catalogue's call id for a recording session's SIP Call-ID."""
    return f"siprec:{sip_call_id}"[:128]


def _sip_session_ids(session: Session) -> set[str]:
    """The recorded call's own SIP session ids, as the metadata names them."""
    if session.metadata is None:
        return set()
    return {sid for s in session.metadata.sessions for sid in s.sip_session_ids}


def _call_meta(request: SipRequest, parties: CallParties) -> CallMeta:
    now = datetime.now(UTC)
    return CallMeta(
        call_id=_call_id(request.call_id),
        direction=parties.direction,
        dialled=parties.dialled or "",
        caller=parties.caller or "withheld",
        agent="unknown",
        started_at=now,
        ended_at=now,
        # SIPREC carries no evidence of the announcement; the PBX plays it before it forks
        # the call to the recorder (docs/siprec.md), so the recorder cannot flag its absence.
        announcement_played=True,
        channel_map={"caller": 0, "agent": 1},
        source="siprec",
    )


def _rate(answer: SdpAnswer) -> int:
    """16 kHz when an accepted stream was answered G.722, else 8 kHz."""
    answered = {s.codec.payload_type: (s.codec.name, s.codec.clock_rate) for s in answer.streams
                if s.accepted and s.codec is not None}  # fmt: skip
    return call_rate(kind for number, kind in payload_types(answered).items() if number in answered)


_ANY_RATE = (PayloadKind.TELEPHONE_EVENT, PayloadKind.COMFORT_NOISE)


def _payload_kinds(stream: StreamAnswer, rate: int) -> dict[int, PayloadKind]:
    """What the stream's packets may carry: every audio format its offer listed that plays
    at the call's ``rate``, telephone events, and comfort noise (SBCs send it unasked; it is
    silence). An SRC forks the call's media as it is, so one that offered PCMA and PCMU and
    goes on sending PCMA after we answered PCMU is still recorded. A format the offer did not
    list is not taken: static G.722 must neither make a PCMU call 16 kHz nor be decoded into
    an 8 kHz one."""
    listed = {c.payload_type: (c.name, c.clock_rate) for c in stream.offered.codecs}
    return {
        number: kind
        for number, kind in payload_types(listed).items()
        if kind is PayloadKind.COMFORT_NOISE
        or (number in listed and (kind in _ANY_RATE or call_rate([kind]) == rate))
    }


def _role(stream: StreamAnswer, parties: CallParties) -> str | None:
    by_label = parties.role_of_label(stream.label) if stream.label else None
    return by_label or parties.role_of_media_index(stream.offered.index)


def _caller_first(streams: list[StreamAnswer], parties: CallParties) -> list[StreamAnswer]:
    first, second = (_role(s, parties) for s in streams[:2]) if len(streams) == 2 else (None, None)
    if first == "called" or second == "caller":
        return [streams[1], streams[0]]
    return streams


def _free_channel(stream: StreamAnswer, parties: CallParties, taken: set[int]) -> int | None:
    """The channel for a stream that arrived in a re-INVITE: its party's if free, else any."""
    wanted = {"caller": 0, "called": 1}.get(_role(stream, parties) or "")
    if wanted is not None and wanted not in taken:
        return wanted
    return next((channel for channel in (0, 1) if channel not in taken), None)
