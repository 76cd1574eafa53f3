"""Session timers (RFC 4028) as the recorder keeps them: the client refreshes, we watch.

An SRC that supports timers (``Supported: timer``) and asks for one (``Session-Expires``,
refresher ``uac`` or left to us) is answered with the interval it asked, ``refresher=uac``
and ``Require: timer``: the SRC refreshes with a re-INVITE or UPDATE. An interval under
``MIN_SE`` gets ``422`` naming ours. An SRC that asks the recorder to refresh
(``refresher=uas``) gets no timer for that dialog: the recorder only receives media and does
not send requests, and agreeing to refresh and then not doing it would make the SRC end
the call, and the recording, at the first expiry.

A session not refreshed within its interval is over (RFC 4028 §10): the recorder ends it
and commits the audio it has. Without this, an SBC that restarts mid-call and never sends
its BYE would hold the session, its ports and its spool open for ever, and the call would
never reach the catalogue. An SRC without timer support gets no timer, as RFC 4028 asks
(only the side that supports timers may refresh, and we do not send requests).
"""

from __future__ import annotations

from dataclasses import dataclass

from callvault.capture.siprec.errors import SipError
from callvault.capture.siprec.grammar import parse_params
from callvault.capture.siprec.headers import Headers

MIN_SE = 90  # seconds; RFC 4028's minimum, so a client's own floor never conflicts with ours
MAX_SE = 86_400  # a day: a larger value is taken as this (a bound, not a refusal)


@dataclass(frozen=True, slots=True)
class SessionTimer:
    """The interval agreed for a dialog, refreshed by the client."""

    interval_s: int

    def response_headers(self) -> tuple[tuple[str, str], ...]:
        return (("Session-Expires", f"{self.interval_s};refresher=uac"), ("Require", "timer"))


def negotiate_timer(headers: Headers) -> SessionTimer | None:
    """The timer for an INVITE, re-INVITE or UPDATE; ``None`` for no timer.

    Raises ``SipError`` (422 with our ``Min-SE``) for an interval below ``MIN_SE``, and
    (400) for a ``Session-Expires`` that is not a number of seconds.
    """
    value = headers.get("Session-Expires")
    if value is None or "timer" not in headers.option_tags("Supported"):
        return None
    delta, _, params = value.partition(";")
    if not delta.strip().isdigit():
        raise SipError(
            f"Session-Expires {value[:40]!r}: give a number of seconds", field="Session-Expires"
        )
    interval = min(int(delta), MAX_SE)
    if parse_params(params).get("refresher") == "uas":
        return None
    if interval < MIN_SE:
        raise SipError(
            f"Session-Expires {interval} s is below the recorder's minimum of {MIN_SE} s",
            status=422,
            reason="Session Interval Too Small",
            field="Session-Expires",
            response_headers=(("Min-SE", str(MIN_SE)),),
        )
    return SessionTimer(interval)
