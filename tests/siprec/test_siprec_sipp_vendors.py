"""Each recording client's variation, end to end: SIPp sends a SIPREC INVITE as that vendor
does (``sipp/<vendor>.xml``, written for these tests after what each sends) to the real
``callvault siprec`` process, plays a pcap from ``pcaps.py``, and the stored recording is
checked: the dialled number and caller the recorder worked out (docs/siprec.md, "Recording
metadata and the dialled number"), the line the policy chose, the length, each tone on its
channel at its time, and the audit entries.

Each scenario is built so that only the branch it is about gives the right answer: the
called party listed first where vendor data must win over participant order, the caller's
voice on the second ``m=`` line where the stream associations must be read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pcaps
import pytest
from sipp_run import (
    PARKING,
    Recorder,
    SippRun,
    StoredCall,
    check_recorded,
    ingested,
    part_lengths,
    recorder,
    require_sipp,
    sent_message,
    sipp,
    sipp_message,
    stored_call,
)

from callvault.bootstrap import Services

MOBILE = "+447700900123"  # the caller in these calls (Ofcom's drama range)
MOBILE_NATIONAL = "07700900123"
PARKING_NATIONAL = "02073715678"


@pytest.fixture(autouse=True)
def _sipp_and_root(backend: str) -> None:
    require_sipp(backend)


@dataclass(frozen=True)
class Recorded:
    """One SIPp call to the recorder: what SIPp logged, the recorder's log, what was stored."""

    plan: pcaps.CallPlan
    run: SippRun
    srs: Recorder
    call: StoredCall


def _record(
    services: Services,
    cli_env: dict[str, str],
    folder: Path,
    scenario: str,
    media: Callable[[Path], pcaps.CallPlan],
    *keys: tuple[str, str],
    transport: str = "u1",
) -> Recorded:
    plan = media(folder / "call.pcap")
    with recorder(cli_env) as srs:
        run = sipp(scenario, srs.port, folder, *keys, transport=transport)
    return Recorded(plan, run, srs, stored_call(services))


def _recorded_on_parking(services: Services, recorded: Recorded, scenario: str) -> None:
    """A call to Parking from the mobile: recorded in full, nothing paused, audited once."""
    check_recorded(
        recorded.call,
        recorded.plan,
        scenario,
        line="parking",
        dialled=PARKING,
        caller=MOBILE,
        srs=recorded.srs,
    )
    assert recorded.call.flags == []
    details = ingested(services)
    assert (details["line"], details["rule"], details["flags"]) == ("parking", "line:parking", [])


def test_cisco_cube_siprec_with_silence_suppression_and_comfort_noise(
    services: Services, cli_env: dict[str, str], tmp_path: Path
) -> None:
    # Participant order (no vendor data); national numbers; an application/gtd part; no
    # closing boundary. Comfort noise and gaps are silence, each talk spurt in its place.
    scenario = "cisco_cube_siprec.xml"
    recorded = _record(
        services,
        cli_env,
        tmp_path,
        scenario,
        pcaps.comfort_noise_call,
        ("caller", MOBILE_NATIONAL),
        ("dialled", PARKING_NATIONAL),
    )
    _recorded_on_parking(services, recorded, scenario)
    assert "application/gtd" in sent_message(recorded.run, "INVITE")


def test_cisco_cube_network_based_recording_by_its_participant_headers(
    services: Services, cli_env: dict[str, str], tmp_path: Path
) -> None:
    # No metadata and no Require: siprec, as CUBE forks media: X-Cisco-Recording-Participant
    # media-index "0" is the called party, whose voice is on the first m= line.
    scenario = "cisco_cube_nbr.xml"
    recorded = _record(
        services,
        cli_env,
        tmp_path,
        scenario,
        lambda path: pcaps.plain_call(path, caller_first=False),
        ("caller", MOBILE),
        ("dialled", PARKING_NATIONAL),
    )
    _recorded_on_parking(services, recorded, scenario)


def test_acme_sbc_names_the_called_party_in_its_extension_data(
    services: Services, cli_env: dict[str, str], tmp_path: Path
) -> None:
    # The called line is listed first: participant order would take the mobile as dialled
    # (not covered, not recorded). The caller's stream changes SSRC 2 s in.
    scenario = "acme_sbc.xml"
    recorded = _record(
        services,
        cli_env,
        tmp_path,
        scenario,
        pcaps.ssrc_change_call,
        ("caller", MOBILE),
        ("dialled", PARKING),
    )
    _recorded_on_parking(services, recorded, scenario)
    assert ";src" in sent_message(recorded.run, "INVITE")


def test_ribbon_sbc_call_data_and_the_called_party_on_label_1(
    services: Services, cli_env: dict[str, str], tmp_path: Path
) -> None:
    # callData's tohdr names the dialled number; the caller's voice is on label 2, which the
    # prefixed (tns:) stream associations say.
    scenario = "ribbon_sbc.xml"
    recorded = _record(
        services,
        cli_env,
        tmp_path,
        scenario,
        lambda path: pcaps.plain_call(path, caller_first=False),
        ("caller", MOBILE_NATIONAL),
        ("dialled", PARKING_NATIONAL),
    )
    _recorded_on_parking(services, recorded, scenario)


def test_broadworks_metadata_first_with_one_mixed_stream(
    services: Services, cli_env: dict[str, str], tmp_path: Path
) -> None:
    # BroadWorks' own layout and content type; calledPartyNumber wins over participant order
    # (the line is listed first); one mixed PCMA stream: both tones on channel 0.
    scenario = "broadworks.xml"
    keys = {"caller": MOBILE, "dialled": PARKING_NATIONAL, "dialled_e164": PARKING}
    # Each part's own Content-Length, as BroadWorks sends it, from the message SIPp will send
    # (the SDP's media port is 5 digits, as SIPp's always is here).
    as_sent = sipp_message(
        scenario,
        0,
        **keys,
        local_ip="127.0.0.1",
        local_ip_type="4",
        media_ip="127.0.0.1",
        media_ip_type="4",
        media_port="40000",
    )
    metadata_length, sdp_length = part_lengths(as_sent, "UniqueBroadWorksBoundary")
    recorded = _record(
        services,
        cli_env,
        tmp_path,
        scenario,
        pcaps.mixed_call,
        *keys.items(),
        ("metadata_length", str(metadata_length)),
        ("sdp_length", str(sdp_length)),
    )
    _recorded_on_parking(services, recorded, scenario)
    # The part lengths sent were right: the recorder ignores them, but a wrong one here would
    # test a BroadWorks that does not exist.
    invite = sent_message(recorded.run, "INVITE").encode()
    assert part_lengths(invite, "UniqueBroadWorksBoundary") == [metadata_length, sdp_length]
    assert f"Content-Length:{metadata_length}\r\n".encode() in invite


def test_audiocodes_sbc_draft_stream_associations_inside_participants(
    services: Services, cli_env: dict[str, str], tmp_path: Path
) -> None:
    # Legacy metadata, application/rs-metadata, ;src; PCMA. The caller's voice is on label 2
    # and only the <send> inside its <participant> says so.
    scenario = "audiocodes_sbc.xml"
    recorded = _record(
        services,
        cli_env,
        tmp_path,
        scenario,
        lambda path: pcaps.plain_call(path, caller_first=False, codec="PCMA"),
        ("caller", MOBILE_NATIONAL),
        ("dialled", PARKING_NATIONAL),
    )
    _recorded_on_parking(services, recorded, scenario)


def test_opensips_sdp_without_c_or_t_and_no_stream_association(
    services: Services, cli_env: dict[str, str], tmp_path: Path
) -> None:
    scenario = "opensips_siprec.xml"
    recorded = _record(
        services,
        cli_env,
        tmp_path,
        scenario,
        pcaps.plain_call,
        ("caller", MOBILE),
        ("dialled", PARKING),
    )
    _recorded_on_parking(services, recorded, scenario)


def test_a_large_invite_over_tcp(
    services: Services, cli_env: dict[str, str], tmp_path: Path
) -> None:
    scenario = "large_tcp.xml"
    recorded = _record(
        services,
        cli_env,
        tmp_path,
        scenario,
        pcaps.plain_call,
        ("caller", MOBILE),
        ("dialled", PARKING),
        transport="t1",
    )
    check_recorded(
        recorded.call,
        recorded.plan,
        scenario,
        line="parking",
        dialled=PARKING,
        caller=MOBILE,
        transport="tcp",
        srs=recorded.srs,
    )
    ingested(services)
    size = len(sent_message(recorded.run, "INVITE").encode())
    assert 3000 <= size <= 4096, size  # too big for many UDP paths, as real ones are
    trace = recorded.run.trace
    assert trace.count("TCP message sent") >= 3 and "UDP message" not in trace
