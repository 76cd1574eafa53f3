"""The recorder's SDP answer (siprec.sdp_answer)."""

from __future__ import annotations

import base64
import itertools
from collections.abc import Sequence

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
)

from callvault.capture.siprec.sdp import SessionDescription, parse_sdp
from callvault.capture.siprec.sdp_answer import (
    DEFAULT_CODEC_PREFERENCE,
    AnswerOrigin,
    SdpAnswer,
    SrtpKeySource,
    answer_offer,
    decline_offer,
    new_origin,
    new_srtp_master_key,
    stream_keys,
)

ORIGIN = AnswerOrigin(session_id=77, version=1, address="192.0.2.99")


class Ports:
    """A port allocator that keeps a stream's port, as the server's must."""

    def __init__(self) -> None:
        self.by_key: dict[str, int] = {}
        self._next = itertools.count(50000, 2)

    def __call__(self, key: str) -> int:
        if key not in self.by_key:
            self.by_key[key] = next(self._next)
        return self.by_key[key]


def answer(
    sdp: str,
    ports: Ports | None = None,
    *,
    srtp_key: SrtpKeySource | None = None,
    codec_preference: Sequence[str] = DEFAULT_CODEC_PREFERENCE,
) -> SdpAnswer:
    return answer_offer(
        parse_sdp(sdp),
        origin=ORIGIN,
        allocate_port=ports or Ports(),
        srtp_key=srtp_key,
        codec_preference=codec_preference,
    )


def m_sections(sdp: str) -> list[list[str]]:
    """The answer's lines grouped per m= section (without the session lines)."""
    sections: list[list[str]] = []
    for line in sdp.split("\r\n"):
        if line.startswith("m="):
            sections.append([line])
        elif sections and line:
            sections[-1].append(line)
    return sections


def test_two_streams_are_received_with_labels_echoed() -> None:
    result = answer(SDP_TWO_STREAMS)
    sdp = result.to_sdp()
    assert sdp.startswith(
        "v=0\r\no=callvault 77 1 IN IP4 192.0.2.99\r\ns=-\r\nc=IN IP4 192.0.2.99\r\nt=0 0\r\n"
    )
    assert sdp.endswith("\r\n")
    assert m_sections(sdp) == [
        [
            "m=audio 50000 RTP/AVP 0 101",
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-16",
            "a=label:caller",
            "a=recvonly",
        ],
        [
            "m=audio 50002 RTP/AVP 0 101",
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-16",
            "a=label:callee",
            "a=recvonly",
        ],
    ]
    assert [s.accepted for s in result.streams] == [True, True]
    assert [s.key for s in result.streams] == ["caller", "callee"]
    assert parse_sdp(sdp).labels == ["caller", "callee"]  # the answer is valid SDP


def test_the_codec_is_chosen_by_preference_and_the_event_type_kept() -> None:
    (stream,) = answer(SDP_BROADWORKS_LIKE).streams  # offers G722, G729, PCMA, events as 96
    assert stream.codec is not None and stream.codec.name == "PCMA"
    assert stream.telephone_event is not None
    assert (stream.telephone_event.payload_type, stream.telephone_event.fmtp) == (96, "0-15")
    wideband = answer(SDP_BROADWORKS_LIKE, codec_preference=("G722", "PCMA")).streams[0]
    assert wideband.codec is not None and wideband.codec.sample_rate == 16000
    assert (
        "m=audio 50000 RTP/AVP 9 96"
        in answer(SDP_BROADWORKS_LIKE, codec_preference=("G722",)).to_sdp()
    )


def test_no_telephone_event_offered_means_none_answered() -> None:
    streams = answer(SDP_MEDIA_LEVEL_C).streams
    assert [s.telephone_event for s in streams] == [None, None]
    assert "telephone-event" not in answer(SDP_MEDIA_LEVEL_C).to_sdp()


def test_static_payloads_without_rtpmap_are_understood() -> None:
    streams = answer(SDP_NO_TIMING).streams
    assert [s.codec.name if s.codec else None for s in streams] == ["PCMU", "PCMU"]


def test_streams_that_cannot_be_taken_are_declined_with_port_zero() -> None:
    offer = (
        "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\n"
        "m=audio 4000 RTP/AVP 18\na=rtpmap:18 G729/8000\na=label:a\n"
        "m=audio 0 RTP/AVP 0\na=label:b\n"
        "m=video 4002 RTP/AVP 31\na=label:c\n"
        "m=audio 4004 UDP/TLS/RTP/SAVPF 0\na=label:d\n"
        "m=audio 4006 RTP/AVP 0\na=label:e\n"
    )
    result = answer(offer)
    assert [s.port for s in result.streams] == [0, 0, 0, 0, 50000]
    assert [s.declined_because for s in result.streams][:4] == [
        "no supported codec (offered: G729)",
        "offered with port 0",
        "video is not audio",
        "profile UDP/TLS/RTP/SAVPF is not RTP/AVP, RTP/SAVP or RTP/SAVPF",
    ]
    sections = m_sections(result.to_sdp())
    assert [s[0] for s in sections] == [
        "m=audio 0 RTP/AVP 18",
        "m=audio 0 RTP/AVP 0",
        "m=video 0 RTP/AVP 31",
        "m=audio 0 UDP/TLS/RTP/SAVPF 0",
        "m=audio 50000 RTP/AVP 0",
    ]
    assert all(len(s) == 1 for s in sections[:4])


def test_hold_is_answered_inactive_on_the_same_ports() -> None:
    ports = Ports()
    first = answer(SDP_TWO_STREAMS, ports)
    hold = answer(SDP_HOLD, ports)
    resumed = answer(SDP_TWO_STREAMS, ports)
    assert [s.port for s in first.streams] == [50000, 50002]
    assert [s.port for s in hold.streams] == [50000, 50002]
    assert [s.port for s in resumed.streams] == [50000, 50002]
    assert [s.direction for s in hold.streams] == ["inactive", "inactive"]
    assert "a=inactive" in hold.to_sdp() and "a=recvonly" not in hold.to_sdp()
    assert "CN/8000" not in hold.to_sdp()


def test_a_label_keeps_its_port_when_streams_are_reordered() -> None:
    ports = Ports()
    answer(SDP_TWO_STREAMS, ports)
    swapped = SDP_TWO_STREAMS.replace("label:caller", "label:TMP")
    swapped = swapped.replace("label:callee", "label:caller").replace("label:TMP", "label:callee")
    assert [s.port for s in answer(swapped, ports).streams] == [50002, 50000]


def test_streams_without_labels_are_keyed_by_position() -> None:
    sdp = "v=0\nm=audio 4000 RTP/AVP 0\nm=audio 4002 RTP/AVP 0\na=label:x\nm=audio 4004 RTP/AVP 0\n"
    sdp += "a=label:x\n"
    assert stream_keys(parse_sdp(sdp)) == ["#0", "#1", "#2"]


def test_srtp_is_answered_in_kind_with_the_callers_key() -> None:
    asked: list[tuple[str, str]] = []

    def keys(key: str, suite: str) -> bytes:
        asked.append((key, suite))
        return bytes(range(30))

    result = answer(SDP_SRTP, srtp_key=keys)
    first, second = result.streams
    assert asked == [("10", "AES_CM_128_HMAC_SHA1_80"), ("11", "AES_CM_128_HMAC_SHA1_32")]
    assert first.remote_crypto is not None and first.remote_crypto.tag == 1
    assert first.remote_crypto.master_key == base64.b64decode(KEY_1)
    # The second stream's first key has an MKI, which is passed over for its plain second key.
    assert second.remote_crypto is not None and second.remote_crypto.tag == 2
    assert second.remote_crypto.master_key == base64.b64decode(KEY_1)
    inline = base64.b64encode(bytes(range(30))).decode()
    sections = m_sections(result.to_sdp())
    assert sections[0][0] == "m=audio 50000 RTP/SAVP 0 101"
    assert sections[0][-1] == f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{inline}"
    assert sections[1][-1] == f"a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:{inline}"
    assert KEY_2 not in result.to_sdp()


def test_srtp_without_a_key_source_gets_fresh_keys_of_the_suites_length() -> None:
    first, second = (answer(SDP_SRTP).streams for _ in range(2))
    for stream in (*first, *second):
        assert stream.accepted and stream.local_crypto is not None
        assert stream.local_crypto.master_key is not None
        assert len(stream.local_crypto.master_key) == 30
    assert first[0].local_crypto != second[0].local_crypto  # a fresh key every answer


def test_srtp_with_no_usable_key_is_declined_never_answered_in_the_clear() -> None:
    unusable = SDP_SRTP.replace("AES_CM_128_HMAC_SHA1", "F8_128_HMAC_SHA1")
    result = answer(unusable, srtp_key=lambda key, suite: new_srtp_master_key(suite))
    assert [s.port for s in result.streams] == [0, 0]
    assert result.streams[0].declined_because == (
        "no usable a=crypto line (tag 1: suite F8_128_HMAC_SHA1_80 is not supported; "
        "tag 2: suite F8_128_HMAC_SHA1_32 is not supported)"
    )
    sdp = result.to_sdp()
    assert [s[0] for s in m_sections(sdp)] == ["m=audio 0 RTP/SAVP 0 101"] * 2
    assert "RTP/AVP" not in sdp and "a=crypto" not in sdp


@pytest.mark.parametrize(
    ("crypto", "why"),
    [
        ("", "no a=crypto line offered"),
        (
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:not*base64*at*all*but*forty*ch\n",
            "no usable a=crypto line (tag 1: the key is not base64)",
        ),
        (
            f"a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:{KEY_1[:-4]}\n",
            "no usable a=crypto line (tag 3: the key and salt are 27 bytes, not 30)",
        ),
    ],
)
def test_an_unusable_or_missing_key_declines_the_stream(crypto: str, why: str) -> None:
    sdp = f"v=0\nm=audio 4000 RTP/SAVP 0\n{crypto}m=audio 4002 RTP/AVP 0\n"
    declined, plain = answer(sdp).streams
    assert (declined.port, declined.declined_because) == (0, why)
    assert plain.accepted  # the other stream is unaffected


@pytest.mark.parametrize(
    ("suite", "length"),
    [
        ("AES_CM_128_HMAC_SHA1_80", 30),
        ("AES_CM_128_HMAC_SHA1_32", 30),
        ("AEAD_AES_128_GCM", 28),
        ("AEAD_AES_256_GCM", 44),
    ],
)
def test_each_supported_suite_is_answered_in_kind(suite: str, length: int) -> None:
    offered = base64.b64encode(bytes(length)).decode()
    sdp = (
        "v=0\nm=audio 4000 RTP/SAVPF 0\na=label:a\na=sendonly\n"
        f"a=crypto:9 AES_256_CM_HMAC_SHA1_80 inline:{base64.b64encode(bytes(46)).decode()}\n"
        f"a=crypto:4 {suite} inline:{offered}|2^20 UNENCRYPTED_SRTCP WSH=256\n"
    )
    result = answer(sdp)
    (stream,) = result.streams
    ((m_line, *attributes),) = m_sections(result.to_sdp())
    assert m_line == "m=audio 50000 RTP/SAVPF 0"
    assert "a=recvonly" in attributes
    (line,) = [a for a in attributes if a.startswith("a=crypto:")]
    tag, answered_suite, key_params = line.removeprefix("a=crypto:").split(" ")
    assert (tag, answered_suite) == ("4", suite)
    ours = base64.b64decode(key_params.removeprefix("inline:"), validate=True)
    assert len(ours) == length and ours != bytes(length)
    assert stream.remote_crypto is not None and stream.remote_crypto.master_key == bytes(length)


def test_srtp_master_keys_have_the_suites_length() -> None:
    assert len(new_srtp_master_key("AES_CM_128_HMAC_SHA1_80")) == 30
    assert len(new_srtp_master_key("aead_aes_256_gcm")) == 44
    assert new_srtp_master_key("AES_CM_128_HMAC_SHA1_80") != new_srtp_master_key(
        "AES_CM_128_HMAC_SHA1_80"
    )


def test_a_wrong_key_length_or_port_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="bytes"):
        answer(SDP_SRTP, srtp_key=lambda key, suite: b"short")
    with pytest.raises(ValueError, match="port"):
        answer_offer(parse_sdp(SDP_TWO_STREAMS), origin=ORIGIN, allocate_port=lambda key: 0)


def test_decline_all_answers_every_stream_with_port_zero() -> None:
    offer: SessionDescription = parse_sdp(SDP_TWO_STREAMS)
    result = decline_offer(offer, origin=ORIGIN)
    assert [s[0] for s in m_sections(result.to_sdp())] == [
        "m=audio 0 RTP/AVP 8 0 101",
        "m=audio 0 RTP/AVP 8 0 101",
    ]
    assert not any(s.accepted for s in result.streams)
    assert parse_sdp(result.to_bytes()).labels == [None, None]


def test_origin_versions_and_ipv6() -> None:
    origin = new_origin("2001:db8::99")
    again = origin.next_version()
    assert (again.session_id, again.version) == (origin.session_id, origin.version + 1)
    sdp = decline_offer(parse_sdp(SDP_TWO_STREAMS), origin=again).to_sdp()
    assert f"o=callvault {origin.session_id} 2 IN IP6 2001:db8::99\r\n" in sdp
    assert "c=IN IP6 2001:db8::99\r\n" in sdp
