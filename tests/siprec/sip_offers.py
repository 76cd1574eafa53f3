"""SIPREC requests written for callvault's tests, one per variation seen from real clients.

Each is built from text with "\\n" line ends, turned into CRLF (unless a test wants bare LF),
with a Content-Length that matches the body. Numbers are in Ofcom's drama range
(020 7946 0xxx), addresses in the documentation ranges (RFC 5737).
"""

from __future__ import annotations

BOUNDARY = "cv-boundary-7d1e"


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


def sip(
    start_line: str,
    headers: str,
    body: bytes = b"",
    *,
    content_length: str = "Content-Length: {}",
    line_end: str = "\r\n",
) -> bytes:
    """A message: start line, header lines (one per line of ``headers``), body."""
    lines = [start_line, *headers.strip("\n").split("\n"), content_length.format(len(body))]
    return (line_end.join(lines) + line_end + line_end).encode() + body


def multipart(*parts: tuple[str, str], boundary: str = BOUNDARY, closing: bool = True) -> bytes:
    """A multipart body from (part headers, part content) pairs."""
    out = ""
    for headers, content in parts:
        out += f"--{boundary}\n{headers.strip()}\n\n{content.strip()}\n"
    if closing:
        out += f"--{boundary}--\n"
    return crlf(out)


# --- SDP ------------------------------------------------------------------------------------

SDP_TWO_STREAMS = """v=0
o=SRC 4711 1 IN IP4 192.0.2.10
s=SIPREC
c=IN IP4 192.0.2.10
t=0 0
m=audio 40000 RTP/AVP 8 0 101
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=label:caller
a=sendonly
m=audio 40002 RTP/AVP 8 0 101
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=label:callee
a=sendonly
"""

# Ribbon-like: no session c=, a c= per stream, numeric labels, maxptime.
SDP_MEDIA_LEVEL_C = """v=0
o=SBC_UA 900 12 IN IP4 198.51.100.7
s=Media
t=0 0
m=audio 31000 RTP/AVP 0
c=IN IP4 198.51.100.8
a=label:1
a=rtpmap:0 PCMU/8000
a=sendonly
a=maxptime:20
m=audio 31002 RTP/AVP 0
c=IN IP4 198.51.100.9
a=label:2
a=rtpmap:0 PCMU/8000
a=sendonly
a=maxptime:20
"""

# OpenSIPS-like: no t= and no c= at all.
SDP_NO_TIMING = """v=0
o=- 1700000000 0 IN IP4 0.0.0.0
s=-
m=audio 35100 RTP/AVP 0 8 3 101
a=rtpmap:101 telephone-event/8000
a=label:1
a=sendonly
m=audio 35102 RTP/AVP 8 0 101
a=rtpmap:101 telephone-event/8000
a=label:2
a=sendonly
"""

# One stream: wideband-first offer with G.729 and telephone-event under PT 96.
SDP_BROADWORKS_LIKE = """v=0
o=BW 20260101 1 IN IP4 203.0.113.20
s=-
c=IN IP4 203.0.113.20
t=0 0
m=audio 22000 RTP/AVP 9 18 8 96
a=rtpmap:9 G722/8000
a=rtpmap:18 G729/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:96 telephone-event/8000
a=fmtp:96 0-15
a=ptime:20
a=sendonly
a=label:1
"""

# A hold re-INVITE: both streams inactive, comfort noise offered.
SDP_HOLD = """v=0
o=SRC 4711 2 IN IP4 192.0.2.10
s=SIPREC
c=IN IP4 192.0.2.10
t=0 0
m=audio 40000 RTP/AVP 0 101 13
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=rtpmap:13 CN/8000
a=inactive
a=label:caller
m=audio 40002 RTP/AVP 0 101 13
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=rtpmap:13 CN/8000
a=inactive
a=label:callee
"""

KEY_1 = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"  # 30 bytes, key then salt
KEY_2 = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk"

SDP_SRTP = f"""v=0
o=SRC 5150 1 IN IP4 192.0.2.30
s=-
c=IN IP4 192.0.2.30
t=0 0
m=audio 41000 RTP/SAVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY_1}|2^31
a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:{KEY_2}
a=label:10
a=sendonly
m=audio 41002 RTP/SAVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY_2}|2^31|1:4
a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:{KEY_1}
a=label:11
a=sendonly
"""

# --- Metadata (RFC 7865) --------------------------------------------------------------------

METADATA = """<?xml version="1.0" encoding="UTF-8"?>
<recording xmlns="urn:ietf:params:xml:ns:recording:1">
  <datamode>complete</datamode>
  <session session_id="c2Vzc2lvbi0xMjM0NTY3OA==">
    <sipSessionID>8d2f1c;remote=77aa01</sipSessionID>
  </session>
  <participant participant_id="cGFydGljaXBhbnQtMQ==">
    <nameID aor="sip:+442079460123@192.0.2.10"><name>Caller</name></nameID>
  </participant>
  <participant participant_id="cGFydGljaXBhbnQtMg==">
    <nameID aor="sip:+442079460999@192.0.2.10"><name>Housing</name></nameID>
  </participant>
  <stream stream_id="c3RyZWFtLTE=" session_id="c2Vzc2lvbi0xMjM0NTY3OA==">
    <label>caller</label>
  </stream>
  <stream stream_id="c3RyZWFtLTI=" session_id="c2Vzc2lvbi0xMjM0NTY3OA==">
    <label>callee</label>
  </stream>
  <participantstreamassoc participant_id="cGFydGljaXBhbnQtMQ==">
    <send>c3RyZWFtLTE=</send><recv>c3RyZWFtLTI=</recv>
  </participantstreamassoc>
  <participantstreamassoc participant_id="cGFydGljaXBhbnQtMg==">
    <send>c3RyZWFtLTI=</send><recv>c3RyZWFtLTE=</recv>
  </participantstreamassoc>
</recording>
"""

METADATA_PARTIAL = """<?xml version="1.0" encoding="UTF-8"?>
<recording xmlns="urn:ietf:params:xml:ns:recording:1">
  <datamode>partial</datamode>
  <participant participant_id="cGFydGljaXBhbnQtMg==">
    <nameID aor="sip:+442079460998@192.0.2.10"><name>Transferred</name></nameID>
  </participant>
</recording>
"""

# --- Requests -------------------------------------------------------------------------------

CALL_ID = "f81d4fae-7dec-11d0-a765@192.0.2.10"

COMMON_HEADERS = f"""Via: SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bK776asdhds
Max-Forwards: 70
To: <sip:recorder@192.0.2.99>
From: "Contact Centre SRC" <sip:src@192.0.2.10>;tag=1928301774
Call-ID: {CALL_ID}
CSeq: 314159 INVITE
Require: siprec
Supported: timer, replaces
Accept: application/sdp, application/rs-metadata+xml"""

_MULTIPART_TYPE = f'Content-Type: multipart/mixed;boundary="{BOUNDARY}"'
_SDP_PART = "Content-Type: application/sdp"
_XML_PART = "Content-Type: application/rs-metadata+xml\nContent-Disposition: recording-session"


def _headers(contact: str, content_type: str) -> str:
    return f"{COMMON_HEADERS}\nContact: {contact}\n{content_type}"


INVITE_URI = "INVITE sip:recorder@192.0.2.99:5060;transport=tcp SIP/2.0"

# RFC 7866 as written: +sip.src, rs-metadata+xml, SDP first.
INVITE_SIP_SRC = sip(
    INVITE_URI,
    _headers("<sip:src@192.0.2.10:5060;transport=tcp>;+sip.src", _MULTIPART_TYPE),
    multipart((_SDP_PART, SDP_TWO_STREAMS), (_XML_PART, METADATA)),
)

# The draft-era Contact tag ;src (AudioCodes, BroadWorks) and application/rs-metadata.
INVITE_OLD_SRC = sip(
    INVITE_URI,
    f"{COMMON_HEADERS}\nContact: <sip:src@192.0.2.10:5060;transport=tcp>;src\n{_MULTIPART_TYPE}",
    multipart(
        (_SDP_PART, SDP_TWO_STREAMS),
        ("Content-Disposition: recording-session\nContent-Type: application/rs-metadata", METADATA),
    ),
)

# BroadWorks-like: metadata first, part headers without a space and with their own length,
# an unquoted boundary, and a preamble blank line.
_BROADWORKS_BODY = crlf(
    "\n"  # a preamble: one blank line before the first delimiter
    "--BW1\n"
    "Content-Type:application/rs-metadata+xml\n"
    "Content-Disposition:recording-session\n"
    f"Content-Length:{len(crlf(METADATA))}\n"
    "\n"
    f"{METADATA}"
    "--BW1\n"
    "Content-Type:application/sdp\n"
    f"Content-Length:{len(crlf(SDP_BROADWORKS_LIKE))}\n"
    "\n"
    f"{SDP_BROADWORKS_LIKE}"
    "\n--BW1--\n"
)
INVITE_METADATA_FIRST = sip(
    INVITE_URI,
    _headers("<sip:bw@203.0.113.20>;src", "Content-Type: multipart/mixed;boundary=BW1"),
    _BROADWORKS_BODY,
)

# Cisco-like: Content-Disposition on the SDP part, an application/gtd part after the metadata.
INVITE_WITH_GTD = sip(
    INVITE_URI,
    f"{COMMON_HEADERS}\nContact: <sip:cube@192.0.2.40:5060>;+sip.src\n{_MULTIPART_TYPE}",
    multipart(
        ("Content-Disposition: session;handling=required\n" + _SDP_PART, SDP_MEDIA_LEVEL_C),
        (
            "Content-Disposition: recording-session\nContent-Type: application/rs-metadata+xml",
            METADATA,
        ),
        (
            "Content-Disposition: signal;handling=optional\nContent-Type: application/gtd",
            "IAM,\nGCI,4f2a",
        ),
    ),
)

_IN_DIALOG = COMMON_HEADERS.replace(
    "To: <sip:recorder@192.0.2.99>", "To: <sip:recorder@192.0.2.99>;tag=srs-1"
).replace("CSeq: 314159 INVITE", "CSeq: 314160 INVITE")

# Metadata alone (a participant changed), no SDP: RFC 7866 §7.1.1.
REINVITE_METADATA_ONLY = sip(
    INVITE_URI,
    f"{_IN_DIALOG}\nContact: <sip:src@192.0.2.10:5060;transport=tcp>;+sip.src\n"
    "Content-Type: application/rs-metadata+xml\nContent-Disposition: recording-session",
    crlf(METADATA_PARTIAL),
)

REINVITE_HOLD = sip(
    INVITE_URI,
    f"{_IN_DIALOG}\nContact: <sip:src@192.0.2.10:5060;transport=tcp>;+sip.src\n{_MULTIPART_TYPE}",
    multipart((_SDP_PART, SDP_HOLD), (_XML_PART, METADATA)),
)

_PROXIES = "\n".join(
    f"Via: SIP/2.0/TCP 198.51.100.{n}:5060;branch=z9hG4bKproxy{n}x{n * 7};received=198.51.100.{n}"
    for n in range(1, 4)
)
_BIG_HEADERS = (
    f"{_PROXIES}\n{COMMON_HEADERS.replace('Via:', 'v:', 1)}\n"
    "Record-Route: <sip:198.51.100.1;lr;transport=tcp>, <sip:198.51.100.2;lr>\n"
    "Record-Route: <sip:198.51.100.3;lr>\n"
    'P-Asserted-Identity: "Contact Centre, Housing" <sip:+442079460999@192.0.2.10>\n'
    "Session-Expires: 1800;refresher=uac\nMin-SE: 90\n"
    "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, REFER, NOTIFY\n"
    "User-Agent: Example SBC 9.1.2 (build 4471)\n"
    + "".join(f"X-Tenant-Data-{n}: {'q' * 90}\n" for n in range(3))
    + "Contact: <sip:src@192.0.2.10:5060;transport=tcp>;+sip.src\n"
    + _MULTIPART_TYPE
)
_BIG_METADATA = METADATA.replace(
    "</recording>",
    "".join(
        f'  <extensiondata xmlns:ex="http://example.net/siprec"><ex:note n="{n}">{"x" * 60}'
        "</ex:note></extensiondata>\n"
        for n in range(4)
    )
    + "</recording>",
)

# 3.8 KB: proxies' Vias, Record-Routes, vendor headers and metadata extensions.
INVITE_LARGE = sip(
    INVITE_URI,
    _BIG_HEADERS,
    multipart((_SDP_PART, SDP_TWO_STREAMS), (_XML_PART, _BIG_METADATA)),
)

# Compact header names throughout (RFC 3261 §7.3.3), mixed case.
INVITE_COMPACT = sip(
    INVITE_URI,
    "v: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKcompact1;rport\n"
    "Max-Forwards: 70\n"
    "t: <sip:recorder@192.0.2.99>\n"
    "f: <sip:src@192.0.2.10>;tag=compact-1\n"
    "i: compact-call-1@192.0.2.10\n"
    "CSEQ: 1 INVITE\n"
    "REQUIRE: siprec\n"
    "k: timer\n"
    "m: <sip:src@192.0.2.10:5060>;+sip.src\n"
    f'c: multipart/mixed; boundary="{BOUNDARY}"',
    multipart((_SDP_PART, SDP_NO_TIMING), (_XML_PART, METADATA)),
    content_length="l: {}",
)

# What SIPp writes: "Content-Length:  N" (two spaces) and a plain SDP body.
INVITE_SIPP = sip(
    "INVITE sip:recorder@127.0.0.1:5070 SIP/2.0",
    "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4242-1-0\n"
    "From: sipp <sip:sipp@127.0.0.1:5061>;tag=4242SIPpTag001\n"
    "To: <sip:recorder@127.0.0.1:5070>\n"
    "Call-ID: 1-4242@127.0.0.1\n"
    "CSeq: 1 INVITE\n"
    "Contact: <sip:sipp@127.0.0.1:5061>;+sip.src\n"
    "Require: siprec\n"
    "Max-Forwards: 70\n"
    "Content-Type: application/sdp",
    crlf(SDP_TWO_STREAMS),
    content_length="Content-Length:  {}",
)

INVITE_SRTP = sip(
    INVITE_URI,
    _headers("<sip:src@192.0.2.30:5061;transport=tls>;+sip.src", _MULTIPART_TYPE),
    multipart((_SDP_PART, SDP_SRTP), (_XML_PART, METADATA)),
)

OPTIONS_PING = sip(
    "OPTIONS sip:recorder@192.0.2.99 SIP/2.0",
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKping1\n"
    "Max-Forwards: 70\n"
    "To: <sip:recorder@192.0.2.99>\n"
    "From: <sip:src@192.0.2.10>;tag=ping-1\n"
    "Call-ID: ping-1@192.0.2.10\n"
    "CSeq: 1 OPTIONS\n"
    "Accept: application/sdp",
)

BYE = sip(
    "BYE sip:recorder@192.0.2.99 SIP/2.0",
    "Via: SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bKbye1\n"
    "Max-Forwards: 70\n"
    "To: <sip:recorder@192.0.2.99>;tag=srs-1\n"
    'From: "Contact Centre SRC" <sip:src@192.0.2.10>;tag=1928301774\n'
    f"Call-ID: {CALL_ID}\n"
    "CSeq: 314161 BYE",
)

# Every INVITE variation, by name, for tests that run over them all.
SIPREC_INVITES = {
    "sip-src": INVITE_SIP_SRC,
    "old-src": INVITE_OLD_SRC,
    "metadata-first": INVITE_METADATA_FIRST,
    "gtd-part": INVITE_WITH_GTD,
    "hold": REINVITE_HOLD,
    "large": INVITE_LARGE,
    "compact": INVITE_COMPACT,
    "sipp": INVITE_SIPP,
    "srtp": INVITE_SRTP,
}
