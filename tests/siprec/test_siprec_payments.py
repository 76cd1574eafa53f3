"""Card payments: the payment system pauses a live call's recording over the API; the paused
span is silence on both channels, its bounds are kept, and every pause is audited."""

from __future__ import annotations

import io
import time

import numpy as np
from fastapi.testclient import TestClient
from rtp_packets import event_payload, rtp
from siprec_calls import FRAME, PARKING, RATE, BlockingClient, in_dialog, invite

from callvault.bootstrap import Services
from callvault.capture.siprec.sdp import parse_sdp
from callvault.capture.siprec.server import RecorderThread
from callvault.context import system_context
from callvault.media.decode import open_audio
from callvault.media.g711 import ulaw_encode
from callvault.web.app import create_app

CALL_ID = "pay-1@src"
TELEPHONE_EVENT = 101  # as the offer maps it


class PaymentsCallClient(BlockingClient):
    """A recording client sending a tone for the caller and silence for the agent."""

    def __init__(self, recorder: RecorderThread) -> None:
        super().__init__(recorder.udp_port)

    def audio(self, ports: list[int], seconds: float, first: int) -> int:
        tone = np.sin(2 * np.pi * 440 * np.arange(int(RATE * seconds)) / RATE) * 8000
        caller = ulaw_encode(tone.astype(np.int16)).tobytes()
        agent = ulaw_encode(np.zeros(FRAME, dtype=np.int16)).tobytes()
        started = time.monotonic()
        for step in range(int(seconds / 0.02)):
            n = first + step
            chunk = caller[step * FRAME : (step + 1) * FRAME]
            self.sock.sendto(rtp(n, n * FRAME, 0x1111, chunk), ("127.0.0.1", ports[0]))
            self.sock.sendto(rtp(n, n * FRAME, 0x2222, agent), ("127.0.0.1", ports[1]))
            time.sleep(max(0.0, started + (step + 1) * 0.02 - time.monotonic()))
        return first + int(seconds / 0.02)


def payments_client(services: Services, recorder: RecorderThread | None) -> TestClient:
    token = services.access.add_service(system_context("test"), "till", "payments")
    client = TestClient(create_app(services, recorder), base_url="https://testserver")
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def test_a_paused_span_is_silence_on_both_channels_and_is_audited(
    services: Services, recorder: RecorderThread
) -> None:
    api = payments_client(services, recorder)
    sip = PaymentsCallClient(recorder)
    ok = sip.request(invite(sip.port, CALL_ID, PARKING))
    ports = [m.port for m in parse_sdp(ok.body).media]
    sip.sock.sendto(in_dialog("ACK", ok, sip.port, 1), sip.server)
    n = sip.audio(ports, 1.0, 0)
    paused = api.post(f"/api/v1/calls/{CALL_ID}/pause")
    assert paused.status_code == 200 and paused.json()["paused"] is True
    assert api.post(f"/api/v1/calls/{CALL_ID}/pause").status_code == 409
    n = sip.audio(ports, 1.0, n)
    assert api.post(f"/api/v1/calls/{CALL_ID}/resume").status_code == 200
    sip.audio(ports, 1.0, n)
    assert sip.request(in_dialog("BYE", ok, sip.port, 2)).status == 200
    deadline = time.monotonic() + 10
    while services.catalog.count() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)

    (entry,) = [e for e in services.audit.show(limit=100) if e["action"] == "recording.ingested"]
    recording = services.catalog.get(entry["object_id"])
    assert "card_payment_paused" in recording.flags
    ((start, end),) = entry["details"]["paused_s"]
    # After the first second of audio, for about a second (later and longer on a busy host).
    assert 0.9 < start < 2.0 and 0.8 < end - start < 1.8
    actions = [e["action"] for e in services.audit.show(limit=100)]
    assert actions.index("call.paused") < actions.index("call.resumed")
    key = services.vault.unwrap_key(services.catalog.wrapped_key(recording.id), recording.id)
    with open_audio(io.BytesIO(services.vault.read_all(recording.blob_name, key))) as reader:
        pcm = np.concatenate([f.to_ndarray() for f in reader.frames()], axis=1)
    decoded_rate = pcm.shape[1] / recording.duration_s  # samples per second as decoded

    def rms(channel: int, a: float, b: float) -> float:
        part = pcm[channel, int(a * decoded_rate) : int(b * decoded_rate)]
        return float(np.sqrt((part.astype(float) ** 2).mean()))

    assert rms(0, start + 0.1, end - 0.1) < 0.002  # the paused span: silence
    assert rms(1, start + 0.1, end - 0.1) < 0.002
    assert rms(0, 0.2, start - 0.2) > 0.05 and rms(0, end + 0.2, end + 0.7) > 0.05


def test_only_the_payment_system_may_pause(services: Services, recorder: RecorderThread) -> None:
    anonymous = TestClient(create_app(services, recorder), base_url="https://testserver")
    assert anonymous.post(f"/api/v1/calls/{CALL_ID}/pause").status_code == 401
    api = payments_client(services, recorder)
    unknown = api.post("/api/v1/calls/nobody@src/pause")
    assert unknown.status_code == 404 and unknown.json()["field"] == "call_id"


def test_a_server_without_the_recorder_says_so(services: Services) -> None:
    api = payments_client(services, None)
    answer = api.post(f"/api/v1/calls/{CALL_ID}/pause")
    assert answer.status_code == 404 and "--siprec" in answer.json()["error"]


def test_a_key_press_on_a_payment_line_pauses_until_the_keys_stop(services: Services) -> None:
    quiet_s = 0.6
    recorder = RecorderThread(services, host="127.0.0.1", port=0, dtmf_quiet_s=quiet_s)
    recorder.start()
    try:
        sip = PaymentsCallClient(recorder)
        ok = sip.request(invite(sip.port, "keys-1@src", PARKING))  # parking takes payments
        ports = [m.port for m in parse_sdp(ok.body).media]
        sip.sock.sendto(in_dialog("ACK", ok, sip.port, 1), sip.server)
        n = sip.audio(ports, 1.0, 0)
        # Key "4" for 100 ms as RFC 4733 events (one timestamp, the end packet three times).
        for step, end in enumerate([False, False, False, False, True, True, True]):
            payload = event_payload(4, end=end, duration=min(step + 1, 5) * FRAME)
            sip.sock.sendto(
                rtp(n + step, n * FRAME, 0x1111, payload, payload_type=TELEPHONE_EVENT),
                ("127.0.0.1", ports[0]),
            )
            time.sleep(0.02)
        sip.audio(ports, 2.0, n + 7)
        assert sip.request(in_dialog("BYE", ok, sip.port, 2)).status == 200
    finally:
        recorder.stop()  # waits for the commit under way (it is not cut off)
    (entry,) = [e for e in services.audit.show(limit=100) if e["action"] == "recording.ingested"]
    ((start, end),) = entry["details"]["paused_s"]
    assert 0.9 < start < 1.5 and quiet_s - 0.1 < end - start < quiet_s + 0.5
    by = {e["action"]: e["details"]["by"] for e in services.audit.show(limit=100)
          if e["action"] in ("call.paused", "call.resumed")}  # fmt: skip
    assert by == {"call.paused": "key pressed on a payment line",
                  "call.resumed": f"no key pressed for {quiet_s:g} s"}  # fmt: skip
