"""The recorder against a real SIP peer: SIPp plays the recording client (SRC), the recorder
runs as the real ``callvault siprec`` process, and the stored recording is checked.

Here the RFC 7866 client of ``sipp/siprec_uac.xml`` with what its media can do: a plain call,
DTMF keys, a hold by re-INVITE; a call the policy does not cover; OPTIONS. Each vendor's
variation is in ``test_siprec_sipp_vendors.py``. The machinery is ``sipp_run.py``; the pcaps
are built by ``pcaps.py`` into each test's folder.
"""

from __future__ import annotations

import math
from pathlib import Path

import pcaps
import pytest
from sipp_run import (
    CALLER,
    PARKING,
    STAFF_EXTENSION,
    SWITCHBOARD,
    answered_ports,
    assert_no_digits_kept,
    audit_entries,
    check_recorded,
    ingested,
    media_start,
    recorder,
    require_sipp,
    sipp,
    stored_call,
)

from callvault.bootstrap import Services
from homes import nothing_stored


@pytest.fixture(autouse=True)
def _sipp_and_root(backend: str) -> None:
    require_sipp(backend)


def test_a_call_from_sipp_is_recorded_with_each_tone_on_its_channel(
    services: Services, cli_env: dict[str, str], tmp_path: Path
) -> None:
    plan = pcaps.plain_call(tmp_path / "siprec_call.pcap")
    with recorder(cli_env) as srs:
        sipp("siprec_uac.xml", srs.port, tmp_path, ("caller", CALLER), ("dialled", PARKING))

    call = stored_call(services)
    check_recorded(call, plan, "siprec_uac.xml", line="parking", dialled=PARKING, srs=srs)
    assert call.flags == []
    details = ingested(services)
    assert details["call_id"] == call.row.call_id and details["line"] == "parking"
    assert call.row.call_id.startswith("siprec:")


def test_dtmf_keys_on_a_line_without_payments_keep_the_audio_and_no_digit(
    services: Services, cli_env: dict[str, str], tmp_path: Path
) -> None:
    plan = pcaps.dtmf_call(tmp_path / "siprec_call.pcap")
    with recorder(cli_env) as srs:
        sipp("siprec_uac.xml", srs.port, tmp_path, ("caller", CALLER), ("dialled", SWITCHBOARD))

    call = stored_call(services)
    # Each key's span is silence on the caller's channel, the talk between keys is kept.
    check_recorded(call, plan, "siprec_uac.xml", line="switchboard", dialled=SWITCHBOARD, srs=srs)
    assert call.flags == []
    details = ingested(services)
    assert "paused_s" not in details
    actions = {entry["action"] for entry in audit_entries(services)}
    assert not actions & {"call.paused", "call.resumed"}
    assert_no_digits_kept(services, call, pcaps.KEYED)


def test_a_key_pressed_on_a_payment_line_pauses_the_recording_to_the_end(
    services: Services, cli_env: dict[str, str], tmp_path: Path
) -> None:
    plan = pcaps.payment_keys_call(tmp_path / "siprec_call.pcap")
    with recorder(cli_env) as srs:
        sipp("siprec_uac.xml", srs.port, tmp_path, ("caller", CALLER), ("dialled", PARKING))

    call = stored_call(services)
    # Both channels silent from the key's end: the call is shorter than 15 s without a key.
    check_recorded(call, plan, "siprec_uac.xml", line="parking", dialled=PARKING, srs=srs)
    assert call.flags == ["card_payment_paused"]
    details = ingested(services)
    # Paused when the key's end packet came, on the call's clock, to the end of the call.
    key_end = pcaps.KEYS_AT[0] + pcaps.KEY_SECONDS + media_start(call)
    [[paused_from, paused_to]] = details["paused_s"]
    assert key_end - 0.01 <= paused_from <= key_end + 0.1, (paused_from, key_end)
    assert math.isclose(paused_to, call.row.duration_s, abs_tol=0.05), paused_to
    entries = audit_entries(services)
    paused = [e for e in entries if e["action"] == "call.paused"]
    assert len(paused) == 1 and paused[0]["details"]["by"] == "key pressed on a payment line"
    assert not [e for e in entries if e["action"] == "call.resumed"]
    assert_no_digits_kept(services, call, pcaps.KEYED)


def test_a_hold_by_re_invite_keeps_the_recording_on_the_wall_clock(
    services: Services, cli_env: dict[str, str], tmp_path: Path
) -> None:
    plan = pcaps.hold_call(tmp_path / "siprec_call.pcap")
    with recorder(cli_env) as srs:
        run = sipp("siprec_hold.xml", srs.port, tmp_path, ("caller", CALLER), ("dialled", PARKING))

    # Held: both channels silence for 1.5 s; after it each tone is back where the wall clock
    # says, the caller's by its timestamp, the agent's (RTP clock stopped) by its arrival.
    call = stored_call(services)
    check_recorded(call, plan, "siprec_hold.xml", line="parking", dialled=PARKING, srs=srs)
    assert call.flags == []
    ingested(services)
    # Offered and answered on both streams (the scenario checks the answer says inactive),
    # and every answer keeps each stream on its port.
    assert run.trace.count("a=inactive") >= 4
    first, *others = answered_ports(run)
    assert len(others) >= 2 and all(ports == first for ports in others), [first, *others]


def test_a_call_the_policy_does_not_cover_takes_no_media_from_sipp(
    services: Services, cli_env: dict[str, str], tmp_path: Path
) -> None:
    with recorder(cli_env) as srs:
        sipp(
            "siprec_uac_nomedia.xml",
            srs.port,
            tmp_path,
            ("caller", CALLER),
            ("dialled", STAFF_EXTENSION),
        )
    assert services.catalog.count() == 0 and nothing_stored(services)
    decided = [e for e in audit_entries(services) if e["action"] == "call.not_recorded"]
    assert len(decided) == 1 and decided[0]["details"]["rule"].startswith("exclusion:")
    assert services.audit.verify().ok


def test_sipp_options_ping_is_answered_with_siprec_supported(
    services: Services, cli_env: dict[str, str], tmp_path: Path
) -> None:
    with recorder(cli_env) as srs:
        sipp("options.xml", srs.port, tmp_path)
