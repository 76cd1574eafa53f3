"""The requests the recorder sends (siprec.client): a BYE built from the dialog, retransmitted
over UDP until answered or given up (RFC 3261 §17.1.2), sent once over TCP."""

from __future__ import annotations

import asyncio

from sip_offers import INVITE_SIP_SRC

from callvault.capture.siprec.client import ClientTransactions, bye_for
from callvault.capture.siprec.sipmsg import SipRequest, make_response, parse_message


def the_invite() -> SipRequest:
    invite = parse_message(
        INVITE_SIP_SRC.replace(b"Via:", b"Record-Route: <sip:sbc.example;lr>\r\nVia:", 1)
    )
    assert isinstance(invite, SipRequest)
    return invite


def test_the_bye_ends_the_dialog_from_our_side() -> None:
    invite = the_invite()
    bye = bye_for(invite, local_tag="ours", via="192.0.2.99:5060", transport="TCP", cseq=1)
    assert bye.uri == invite.contacts[0].uri  # the client's remote target
    assert bye.headers.fields("Route") == ["<sip:sbc.example;lr>"]
    assert (bye.from_tag, bye.to_tag) == ("ours", invite.from_tag)
    assert bye.call_id == invite.call_id and bye.cseq.method == "BYE"
    assert bye.top_via.transport == "TCP" and (bye.top_via.branch or "").startswith("z9hG4bK")
    assert parse_message(bye.to_bytes(), datagram=False).method == "BYE"  # type: ignore[union-attr]


def run_send(reliable: bool, answer_after: int | None) -> tuple[int, int | None]:
    """Sends counted and the status returned, the answer coming after that many sends."""
    bye = bye_for(the_invite(), local_tag="ours", via="127.0.0.1:5060", transport="UDP", cseq=1)

    async def scenario() -> tuple[int, int | None]:
        client = ClientTransactions(t1=0.01, t2=0.04)
        sent: list[bytes] = []

        def sender(data: bytes) -> None:
            sent.append(data)
            if answer_after is not None and len(sent) == answer_after:
                loop.call_soon(client.receive, make_response(bye, 200))

        loop = asyncio.get_running_loop()
        answer = await client.send(bye, sender, reliable=reliable)
        assert all(data == sent[0] for data in sent)  # the same request each time
        return len(sent), None if answer is None else answer.status

    return asyncio.run(scenario())


def test_udp_retransmits_until_answered() -> None:
    assert run_send(reliable=False, answer_after=3) == (3, 200)


def test_udp_gives_up_after_64_t1() -> None:
    sent, status = run_send(reliable=False, answer_after=None)
    # T1=10 ms doubling to T2=40 ms within 640 ms: 10, 20, 40, then every 40 ms.
    assert status is None and 14 <= sent <= 18


def test_tcp_sends_once() -> None:
    assert run_send(reliable=True, answer_after=None) == (1, None)
    assert run_send(reliable=True, answer_after=1) == (1, 200)
