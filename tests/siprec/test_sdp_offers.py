"""Reading SDP offers from recording clients (siprec.sdp)."""

from __future__ import annotations

import base64

import pytest
from sip_offers import (
    KEY_1,
    KEY_2,
    SDP_BROADWORKS_LIKE,
    SDP_HOLD,
    SDP_MEDIA_LEVEL_C,
    SDP_NO_TIMING,
    SDP_SRTP,
    SDP_TWO_STREAMS,
    crlf,
)

from callvault.capture.siprec.errors import SipError
from callvault.capture.siprec.sdp import Codec, Origin, parse_sdp
from callvault.capture.siprec.srtp import parse_crypto


def test_two_labelled_streams() -> None:
    offer = parse_sdp(crlf(SDP_TWO_STREAMS))
    assert offer.origin == Origin("SRC", "4711", "1", "192.0.2.10")
    assert offer.session_name == "SIPREC"
    assert offer.labels == ["caller", "callee"]
    first, second = offer.media
    assert (first.index, first.port, first.proto, first.direction) == (
        0,
        40000,
        "RTP/AVP",
        "sendonly",
    )
    assert second.port == 40002
    assert first.formats == ("8", "0", "101")
    assert first.codecs == (
        Codec(8, "PCMA", 8000),
        Codec(0, "PCMU", 8000),
        Codec(101, "telephone-event", 8000, fmtp="0-16"),
    )
    assert first.connection == "192.0.2.10"
    assert first.ptime == 20 and first.maxptime is None
    assert first.codec(101) is not None and first.codec(3) is None


def test_media_level_connection_without_a_session_one() -> None:
    offer = parse_sdp(SDP_MEDIA_LEVEL_C)  # LF line ends, as a str
    assert offer.connection is None
    assert [m.connection for m in offer.media] == ["198.51.100.8", "198.51.100.9"]
    assert [m.maxptime for m in offer.media] == [20, 20]
    assert offer.labels == ["1", "2"]


def test_no_timing_and_static_payloads_without_rtpmap() -> None:
    offer = parse_sdp(SDP_NO_TIMING)
    assert offer.media[0].connection is None
    assert [c.name for c in offer.media[0].codecs] == ["PCMU", "PCMA", "GSM", "telephone-event"]


def test_g722_says_8000_but_samples_at_16000() -> None:
    (stream,) = parse_sdp(SDP_BROADWORKS_LIKE).media
    g722 = stream.codecs[0]
    assert (g722.name, g722.clock_rate, g722.sample_rate) == ("G722", 8000, 16000)
    assert g722.rtpmap() == "9 G722/8000"
    assert stream.label == "1"


def test_hold_is_inactive() -> None:
    offer = parse_sdp(SDP_HOLD)
    assert [m.direction for m in offer.media] == ["inactive", "inactive"]
    assert [c.name for c in offer.media[0].codecs] == ["PCMU", "telephone-event", "CN"]


def test_session_level_direction_is_the_default() -> None:
    sdp = "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\na=sendonly\nm=audio 4000 RTP/AVP 0\n"
    sdp += "m=audio 4002 RTP/AVP 0\na=inactive\n"
    assert [m.direction for m in parse_sdp(sdp).media] == ["sendonly", "inactive"]


def test_sdes_crypto_lines() -> None:
    first, second = parse_sdp(SDP_SRTP).media
    assert first.is_srtp
    one, two = first.crypto
    assert (one.tag, one.suite, one.lifetime, one.mki) == (
        1,
        "AES_CM_128_HMAC_SHA1_80",
        "2^31",
        None,
    )
    assert one.master_key == base64.b64decode(KEY_1)
    assert (two.tag, two.master_key) == (2, base64.b64decode(KEY_2))
    assert second.crypto[0].mki == "1:4"
    assert one.line() == f"1 AES_CM_128_HMAC_SHA1_80 inline:{KEY_1}|2^31"


def test_savpf_is_sdes_srtp_but_dtls_is_not() -> None:
    profiles = ["RTP/SAVP", "RTP/SAVPF", "rtp/savp", "RTP/AVP", "UDP/TLS/RTP/SAVP"]
    sdp = "v=0\n" + "".join(f"m=audio 4000 {p} 0\n" for p in profiles)
    assert [m.is_srtp for m in parse_sdp(sdp).media] == [True, True, True, False, False]


def test_keys_stay_out_of_reprs() -> None:
    """A log line or traceback showing the offer must not carry the SRTP keys."""
    offer = parse_sdp(SDP_SRTP)
    shown = repr(offer) + repr(offer.media[0].crypto)
    assert "AES_CM_128_HMAC_SHA1_80" in shown
    for key in (KEY_1, KEY_2):
        assert key not in shown
        assert repr(base64.b64decode(key))[2:-1] not in shown


@pytest.mark.parametrize(
    "value",
    ["", "1 AES_CM_128_HMAC_SHA1_80", "x AES_CM_128_HMAC_SHA1_80 inline:QUJD", "1 S inline:!!!"],
)
def test_unreadable_crypto_is_unusable_not_fatal(value: str) -> None:
    crypto = parse_crypto(value)
    assert crypto is None or crypto.master_key is None


def test_a_malformed_rtpmap_makes_that_payload_unknown() -> None:
    sdp = "v=0\nm=audio 4000 RTP/AVP 96 0\na=rtpmap:96 opus\na=rtpmap:x PCMU/8000\n"
    assert [c.name for c in parse_sdp(sdp).media[0].codecs] == ["PCMU"]


def test_port_zero_and_port_counts() -> None:
    sdp = "v=0\nm=audio 0 RTP/AVP 0\nm=audio 5000/2 RTP/AVP 0\nm=video 6000 RTP/AVP 31\n"
    ports = [(m.media, m.port, m.port_count) for m in parse_sdp(sdp).media]
    assert ports == [("audio", 0, 1), ("audio", 5000, 2), ("video", 6000, 1)]


@pytest.mark.parametrize(
    "sdp",
    [
        "",
        "o=- 1 1 IN IP4 192.0.2.1\nv=0\n",
        "v=1\n",
        "v=0\nthis is not sdp\n",
        "v=0\nm=audio\n",
        "v=0\nm=audio 70000 RTP/AVP 0\n",
        "v=0\nm=audio 1/0 RTP/AVP 0\n",
        "v=0\nm=audio port RTP/AVP 0\n",
        "v=0\nc=IN\n",
        "v=0\nm=audio 4000 RTP/AVP 0\na=label:x\ry\n",
        "v=0\n" + "m=audio 4000 RTP/AVP 0\n" * 40,
    ],
)
def test_unreadable_offers_are_a_400(sdp: str) -> None:
    with pytest.raises(SipError) as caught:
        parse_sdp(sdp)
    assert (caught.value.status, caught.value.reason) == (400, "Bad SDP")
    assert (caught.value.field or "").startswith("sdp")
