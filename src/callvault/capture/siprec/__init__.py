"""SIPREC recording server (RFC 7866): real SBCs and PBXs fork their calls' audio here.

Modules, from the wire inwards:

- ``errors``: :class:`SipError`, the one error the parsers raise, carrying the SIP status
  and reason phrase to answer with.
- ``grammar``: small RFC 3261 grammar pieces (lists, parameters, name-addr, media types).
- ``headers``: :class:`Headers`, ordered and case-insensitive, compact forms expanded.
- ``sipmsg``: parse and write SIP requests and responses; SIPREC signals; responses.
- ``framing``: cut a TCP byte stream into messages; tell UDP keep-alives from messages.
- ``body``: split a body into its SDP and recording-metadata parts.
- ``sdp``: parse SDP offers (RFC 4566, SDES crypto from RFC 4568).
- ``sdp_answer``: build the recorder's answer (RFC 3264): ``recvonly`` per stream, one codec.
- ``metadata_xml``, ``metadata``, ``vendor``, ``dialled``: recording metadata (RFC 7865) read
  safely, vendors' additions, and who was called.
- ``rtp``, ``decoding``, ``dtmf``, ``ssrc_clock``, ``timeline``: receive each stream, decode
  it, and place its audio on the call's clock.
- ``via``, ``transactions``, ``transport``: SIP over UDP and TCP, server transactions
  (retransmissions, 2xx until ACK, CANCEL).
- ``media``: RTP ports and sockets of a session; ``session``: the policy at arrival, the
  answer, audio into the vault, the recording at BYE; ``server``: all of it started together.
"""
