"""Session timers (RFC 4028): what the recorder agrees to, refuses and leaves alone."""

from __future__ import annotations

import pytest

from callvault.capture.siprec.errors import SipError
from callvault.capture.siprec.headers import Headers
from callvault.capture.siprec.session_timer import MAX_SE, MIN_SE, negotiate_timer


def headers(*fields: tuple[str, str]) -> Headers:
    return Headers(fields)


def test_the_client_refreshes_at_the_interval_it_asked() -> None:
    timer = negotiate_timer(
        headers(("Supported", "100rel, timer"), ("Session-Expires", "1800;refresher=uac"))
    )
    assert timer is not None and timer.interval_s == 1800
    assert timer.response_headers() == (
        ("Session-Expires", "1800;refresher=uac"),
        ("Require", "timer"),
    )


def test_a_refresher_left_to_the_recorder_is_given_back_to_the_client() -> None:
    timer = negotiate_timer(headers(("Supported", "timer"), ("x", "600")))  # compact form
    assert timer is not None and timer.interval_s == 600


@pytest.mark.parametrize(
    "fields",
    [
        (),  # no timer asked
        (("Session-Expires", "1800"),),  # a proxy's, the client does not support timers
        (("Supported", "timer"), ("Session-Expires", "1800;refresher=uas")),  # we do not send
    ],
)
def test_no_timer_where_the_client_cannot_or_would_not_refresh(
    fields: tuple[tuple[str, str], ...],
) -> None:
    assert negotiate_timer(headers(*fields)) is None


def test_an_interval_below_the_minimum_is_refused_with_ours() -> None:
    with pytest.raises(SipError) as refused:
        negotiate_timer(headers(("Supported", "timer"), ("Session-Expires", "30")))
    assert refused.value.status == 422
    assert refused.value.response_headers == (("Min-SE", str(MIN_SE)),)


def test_a_huge_interval_is_bounded_and_garbage_is_a_400() -> None:
    timer = negotiate_timer(headers(("Supported", "timer"), ("Session-Expires", "99999999999")))
    assert timer is not None and timer.interval_s == MAX_SE
    with pytest.raises(SipError) as bad:
        negotiate_timer(headers(("Supported", "timer"), ("Session-Expires", "soon")))
    assert bad.value.status == 400 and "Session-Expires" in bad.value.message
