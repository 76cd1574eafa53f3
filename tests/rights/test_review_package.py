"""Reviewing a subject access request's recordings and making the response package.

The review starts from the speech job's real redaction log, keeps what is not dropped, adds
the reviewer's spans; the package's WAV is silent exactly there and the stored audio bit for
bit elsewhere; withheld calls are in the log and not in the audio; the letter is the policy's;
refusals are audited; bad input and failures part-way leave nothing behind.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson
import pytest

from callvault.bootstrap import Services
from callvault.context import RequestContext
from callvault.errors import BadInput, Conflict, Refused
from callvault.rights import package as package_module
from callvault.rights.review_terms import REASON_CODES
from callvault.speech.renditions import PAD_S
from homes import run_cli
from rights.package_helpers import (
    AGENT_SAYS,
    REF,
    SPOKEN,
    World,
    make_world,
    members,
    people,
    plain_call,
    spoken_call,
    stored_pcm,
    wav_pcm,
)
from speech_corpus import CorpusCall, short_clip, tools_missing

needs_speech = pytest.mark.skipif(tools_missing() is not None, reason=str(tools_missing()))
RAMP_S = 0.005  # media/mute.py crossfades this far outside a muted span


# The package read from each blob store runs on both legs; the review's and the package's
# rules run on the embedded leg only (each transcribes its calls: the slow part).
EMBEDDED_ONLY = pytest.mark.parametrize("backend", ["sqlite"])


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> CorpusCall:
    return short_clip(tmp_path_factory.mktemp("sar-clip"), SPOKEN, agent_text=AGENT_SAYS)


@pytest.fixture
def plain(services: Services, ctx: RequestContext, call_wav: Path) -> World:
    """Two plain calls from the requester's number (no transcripts) under request REF."""
    people(services, ctx)
    first = plain_call(services, ctx, call_wav, "pbx-sar-1")
    second = plain_call(services, ctx, call_wav, "pbx-sar-2")
    world = make_world(services, ctx, [])
    world.recordings = [i.recording_id for i in _numbered(world)]
    assert set(world.recordings) == {first, second}
    return world


@pytest.fixture
def spoken(services: Services, ctx: RequestContext, call_wav: Path, clip: CorpusCall) -> World:
    """The spoken call (number 1, transcribed) and a plain one (number 2) under request REF."""
    people(services, ctx)
    talk = spoken_call(services, clip)
    other = plain_call(services, ctx, call_wav, "pbx-sar-9")
    return make_world(services, ctx, [talk, other])


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    """A folder of its own for packages: anything else found in it was left behind."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def _numbered(world: World) -> list[Any]:
    from callvault.rights.items import numbered_items

    request = world.rights.get(world.dana, REF, audited=False)
    with world.services.engine.connect() as conn:
        return numbered_items(conn, request.id)


def _after(services: Services, seq: int) -> list[dict[str, Any]]:
    return services.audit.show(after=seq, limit=10_000)


# -- review -----------------------------------------------------------------------------------


@needs_speech
@EMBEDDED_ONLY
def test_review_keeps_proposals_drops_the_requesters_own_and_adds_spans(spoken: World) -> None:
    talk, other = spoken.recordings
    view = spoken.review.item(spoken.dana, REF, talk)
    assert view.item.number == 1 and view.count == 2 and view.item.outcome == "pending"
    kinds = {p.kind for p in view.proposals}
    assert "NAME" in kinds, view.proposals  # from the speech job's real redaction log
    name = next(p for p in view.proposals if p.kind == "NAME")
    before = spoken.services.audit.count()

    reviewed = spoken.review.review(
        spoken.dana, REF, talk, outcome="released", drop=[str(name.id)],
        mutes=[{"channel": "agent", "start": "0:00.5", "end": 1.0,
                "reason": "a colleague's voice in the background"}],
    )  # fmt: skip

    assert reviewed.item.outcome == "released" and reviewed.item.decided_by == "dana"
    assert reviewed.kept(name) is False
    others = [p for p in view.proposals if p.id != name.id]
    assert all(reviewed.kept(p) for p in others)
    stored = spoken.mutes()
    assert len(stored) == len(others) + 1
    assert (talk, 1, 0.5, 1.0, "a colleague's voice in the background", "dana") in stored
    for p in others:  # widened like the speech job's own mutes, on both channels
        start = round(max(0.0, p.start_s - PAD_S), 3)
        assert any(row[1] is None and row[2] == pytest.approx(start) for row in stored)
    [entry] = _after(spoken.services, before)
    assert (entry["action"], entry["purpose"], entry["case_ref"]) == (
        "rights.reviewed", "subject_access", REF,
    )  # fmt: skip
    details = entry["details"]
    assert (details["confirmed"], details["dropped"], details["added"]) == (len(others), 1, 1)
    assert details["dropped_ids"] == [name.id] and details["replaces"] is None
    assert "colleague" not in orjson.dumps(entry).decode()  # reasons' words stay out

    # Reviewing again replaces the decision, audited.
    again = spoken.review.review(
        spoken.dana, REF, talk, outcome="withheld", reason_code="third_party",
        note="mostly her neighbour's call",
    )  # fmt: skip
    assert (again.item.outcome, again.item.reason_code) == ("withheld", "third_party")
    assert spoken.mutes() == [] and again.kept(name) is None
    last = spoken.services.audit.show(action="rights.reviewed", newest_first=True, limit=1)[0]
    assert last["details"]["replaces"] == "released" and last["details"]["reason_code"] == (
        "third_party"
    )
    assert "neighbour" not in orjson.dumps(last).decode()
    assert other in {i.recording_id for i in _numbered(spoken) if i.outcome == "pending"}


# (fields given, the field the error names): each checked against the same stored decision.
BAD_REVIEWS: list[tuple[dict[str, Any], str]] = [
    ({"mutes": [{"channel": "both", "start": 1, "end": 99, "reason": "x"}]}, "mutes[0].end"),
    ({"mutes": [{"channel": "both", "start": 2, "end": 1, "reason": "x"}]}, "mutes[0]"),
    ({"mutes": [{"channel": "2", "start": 0, "end": 1, "reason": "x"}]}, "mutes[0].channel"),
    ({"mutes": [{"channel": "left", "start": 0, "end": 1, "reason": "x"}]},
     "mutes[0].channel"),
    ({"mutes": [{"channel": "both", "start": -1, "end": 1, "reason": "x"}]},
     "mutes[0].start"),
    ({"mutes": [{"channel": "both", "start": "soon", "end": 1, "reason": "x"}]},
     "mutes[0].start"),
    ({"mutes": [{"channel": "both", "start": 0, "end": 1, "reason": " "}]},
     "mutes[0].reason"),
    ({"mutes": [{"channel": "both", "start": 0, "end": 1, "reason": "ok"},
                {"channel": "both", "start": 0, "end": 1}]}, "mutes[1].reason"),
    ({"drop": ["12345"]}, "drop[0]"),
    ({"reason_code": "third_party"}, "reason_code"),
    ({"outcome": "maybe"}, "outcome"),
    ({"outcome": "withheld", "note": "why"}, "reason_code"),
    ({"outcome": "withheld", "reason_code": "gossip", "note": "why"}, "reason_code"),
    ({"outcome": "withheld", "reason_code": "crime"}, "note"),
    ({"outcome": "withheld", "reason_code": "crime", "note": "x",
      "mutes": [{"channel": "both", "start": 0, "end": 1, "reason": "x"}]}, "mutes"),
]  # fmt: skip


@EMBEDDED_ONLY
def test_bad_input_is_named_and_changes_nothing(plain: World) -> None:
    first = plain.recordings[0]
    kept = [{"channel": "0", "start": 0.5, "end": 1, "reason": "kept"}]
    plain.review.review(plain.dana, REF, first, outcome="released", mutes=kept)
    mutes, items, before = plain.mutes(), plain.items(), plain.services.audit.count()
    for fields, field in BAD_REVIEWS:
        with pytest.raises(BadInput) as raised:
            plain.review.review(plain.dana, REF, first, **({"outcome": "released"} | fields))
        assert raised.value.field == field, (fields, raised.value.message)
    assert (plain.mutes(), plain.items()) == (mutes, items)
    assert plain.services.audit.count() == before


@EMBEDDED_ONLY
def test_only_the_dpo_reviews_and_packages_refusals_audited(plain: World, out_dir: Path) -> None:
    first = plain.recordings[0]
    for who in ("cora", "aud", "mina"):
        before = plain.services.audit.count()
        with pytest.raises(Refused):
            plain.review.review(plain.as_person(who), REF, first, outcome="released")
        with pytest.raises(Refused):
            plain.packager.package(plain.as_person(who), REF, out_dir / f"{who}.zip")
        refused = _after(plain.services, before)
        assert [e["action"] for e in refused] == ["access.refused", "access.refused"]
        assert {e["details"]["action"] for e in refused} == {"rights:manage"}
    # The auditor reads the register (and each recording's review) but changes nothing.
    assert plain.review.item(plain.as_person("aud"), REF, first).item.outcome == "pending"
    with pytest.raises(Refused):
        plain.review.item(plain.as_person("cora"), REF, first)
    assert plain.count_mutes() == 0 and not list(out_dir.iterdir())


@EMBEDDED_ONLY
def test_package_refused_while_a_recording_is_pending(plain: World, out_dir: Path) -> None:
    first, second = plain.recordings
    plain.review.review(plain.dana, REF, first, outcome="released")
    before = plain.services.audit.count()
    out = out_dir / "response.zip"
    with pytest.raises(Conflict, match="2 of SAR-2026-0042 are not reviewed"):
        plain.packager.package(plain.dana, REF, out)
    assert not out.exists() and not list(out_dir.iterdir())
    assert plain.services.audit.count() == before  # no grant asked for, nothing read
    with pytest.raises(Conflict, match="not reviewed"):  # the lead's close agrees
        plain.rights.close(plain.dana, REF, outcome="responded", note=None)
    plain.review.review(plain.dana, REF, second, outcome="withheld", reason_code="not_requester",
                        note="her son's call, from her phone")  # fmt: skip
    made = plain.packager.package(plain.dana, REF, out)
    assert (made["released"], made["withheld"]) == (1, 1)
    # The DPO held no grant: one was asked for and, for subject access, approved at once.
    [asked] = plain.services.audit.show(action="access.requested", after=before)
    assert (asked["purpose"], asked["case_ref"]) == ("subject_access", REF)
    assert asked["details"]["recording_ids"] == [first]
    assert asked["details"]["status"] == "approved" and made["grant_id"] == asked["object_id"]


# -- the package -------------------------------------------------------------------------------


@needs_speech
def test_package_mutes_exactly_the_reviewed_spans(spoken: World, out_dir: Path) -> None:
    services = spoken.services
    talk, other = spoken.recordings
    view = spoken.review.item(spoken.dana, REF, talk)
    name = next(p for p in view.proposals if p.kind == "NAME")
    # The reviewer listens (and reads) under a subject access grant; the package reuses it.
    grant = services.grants.request(spoken.dana, [talk], "subject_access", REF)
    said = services.speech.read_transcript(spoken.dana, talk, grant.id, "original")
    caller = [w for s in said.segments if s.speaker == "caller" for w in s.words]
    later = [w for w in caller if w.start_s > name.end_s + PAD_S + 0.2][-3:]
    assert later, caller  # words after the name to mute by hand
    spans_given = [
        {"channel": "0", "start": later[0].start_s, "end": later[-1].end_s,
         "reason": "a neighbour's details"},
        {"channel": "1", "start": 0.2, "end": 0.6, "reason": "someone else talking"},
    ]  # fmt: skip
    spoken.review.review(spoken.dana, REF, talk, outcome="released", drop=[name.id],
                         mutes=spans_given)  # fmt: skip
    spoken.review.review(spoken.dana, REF, other, outcome="withheld", reason_code="crime",
                         note="police asked us to wait")  # fmt: skip
    before = services.audit.count()
    out = out_dir / "response.zip"

    made = spoken.packager.package(spoken.dana, REF, out)

    data = out.read_bytes()
    assert made["sha256"] == hashlib.sha256(data).hexdigest() and made["grant_id"] == grant.id
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert [p.name for p in out_dir.iterdir()] == ["response.zip"]  # no temp file left
    files = members(out)
    audio = [n for n in files if n.startswith("audio/")]
    transcripts = [n for n in files if n.startswith("transcripts/")]
    assert len(audio) == 1 and audio[0].startswith("audio/01-") and audio[0].endswith(".wav")
    assert transcripts == ["transcripts/" + audio[0][6:-4] + ".txt"]
    assert set(files) == {"letter.txt", "redaction-log.csv", "manifest.json", *audio,
                          *transcripts}  # fmt: skip

    # The WAV: 16-bit, both channels, silent inside each span, the stored audio elsewhere.
    got, rate, width = wav_pcm(files[audio[0]])
    stored, stored_rate = stored_pcm(services, talk)
    assert (width, rate, got.shape) == (2, stored_rate, stored.shape)
    spans = [(row[1], row[2], row[3]) for row in spoken.mutes()]
    assert len(spans) == len(view.proposals) - 1 + len(spans_given)
    outside = np.ones(stored.shape, dtype=bool)
    for channel, start, end in spans:
        rows = [0, 1] if channel is None else [channel]
        first, last = int(np.ceil(start * rate)), int(np.floor(end * rate))
        assert not got[rows, first:last].any(), (channel, start, end)
        assert stored[rows, first:last].any()  # there was sound to mute
        ramp = int(np.ceil(RAMP_S * rate)) + 1
        outside[rows, max(0, first - ramp) : last + ramp] = False
    assert np.array_equal(got[outside], stored[outside])
    # The dropped proposal (the requester's own name) is heard as it was said.
    name_at = slice(int(name.start_s * rate), int(name.end_s * rate))
    assert outside[0, name_at].mean() > 0.5 and got[0, name_at].any()

    # The transcript: words in muted spans withheld, the requester's own name kept.
    text = files[transcripts[0]].decode()
    [said_by_caller] = [line for line in text.splitlines() if "Caller:" in line]
    assert "Council staff:" in text and "[withheld]" in said_by_caller
    shown = said_by_caller.split("Caller:", 1)[1].split()
    assert shown[-1] == "[withheld]" and [w.text for w in later] != shown[-3:]
    named = [w.text.strip() for w in caller
             if name.start_s <= (w.start_s + w.end_s) / 2 <= name.end_s]  # fmt: skip
    assert named and all(word in shown for word in named)

    # The log: every span with who decided; the withheld call by number and reason code.
    log = files["redaction-log.csv"].decode().splitlines()
    assert log[0].startswith("recording,file,outcome,channel,start_s,end_s,reason,decided_by")
    released = [line for line in log[1:] if line.startswith("1,")]
    assert len(released) == len(spans) and all(",dana," in line for line in released)
    assert any("someone else talking" in line and ",agent," in line for line in released)
    [withheld] = [line for line in log[1:] if line.startswith("2,")]
    assert ",withheld," in withheld and "crime" in withheld and "Sch. 2 para 2" in withheld
    assert "police asked" not in files["redaction-log.csv"].decode()  # the note stays home

    # The manifest lists every other member with its SHA-256 and size.
    manifest = orjson.loads(files["manifest.json"])
    listed = {f["name"]: (f["sha256"], f["size"]) for f in manifest["files"]}
    assert listed == {n: (hashlib.sha256(b).hexdigest(), len(b)) for n, b in files.items()
                      if n != "manifest.json"}  # fmt: skip
    assert [r["outcome"] for r in manifest["recordings"]] == ["released", "withheld"]
    assert set(manifest["recordings"][1]) == {"number", "outcome", "reason_code"}

    # The letter: the policy's purposes, recipients and retention; what was found and withheld.
    letter = " ".join(files["letter.txt"].decode().split())
    policy = services.policy.policy
    for purpose in policy.purposes:
        assert purpose.name in letter
    for recipient in policy.recipients:
        assert " ".join(recipient.name.split()) in letter
    line = policy.line(services.catalog.get(talk).line)
    assert f"{line.name} Kept for: {line.retention.describe()}" in letter
    assert "We found 2 recordings. We are sending you 1 of them, with 1 transcript." in letter
    assert "Recording 2:" in letter and REASON_CODES["crime"][0] in letter
    assert "Rectification" in letter and "Erasure" in letter and "Objection" in letter
    assert "Restriction" in letter and "Information Commissioner" in letter
    assert "no decisions about you by automated means" in letter

    # Audited before any audio was written: the package, then each recording's export.
    acts = _after(services, before)
    assert [e["action"] for e in acts] == [
        "transcript.read", "rights.packaged", "recording.exported", "rights.package_written",
    ]  # fmt: skip
    packaged, exported = acts[-3]["details"], acts[-2]
    assert packaged["sha256"] == made["sha256"] and packaged["released"] == [talk]
    assert packaged["withheld"] == [{"number": 2, "reason_code": "crime"}]
    assert exported["object_id"] == talk and exported["details"]["package_sha256"] == made["sha256"]
    assert exported["details"]["sha256"] == listed[audio[0]][0]
    assert "Ann" not in orjson.dumps(acts[-3:]).decode()  # no requester in the trail
    [written] = spoken.packager.packages(spoken.dana, REF)
    assert written["sha256"] == made["sha256"] and not written["stale"]

    # Packaged again (a lost file): the same grant, another file; a later review makes the
    # package stale until it is made again.
    again = spoken.packager.package(spoken.dana, REF, out_dir / "again.zip")
    assert again["grant_id"] == grant.id
    assert "access.requested" not in [e["action"] for e in _after(services, before)]
    spoken.review.review(spoken.dana, REF, other, outcome="withheld", reason_code="crime",
                         note="still waiting")  # fmt: skip
    assert spoken.packager.packages(spoken.dana, REF)[-1]["stale"]
    assert spoken.review.item(spoken.dana, REF, talk).package_stale
    assert services.audit.verify().ok


@EMBEDDED_ONLY
def test_a_failure_part_way_leaves_no_file(
    plain: World, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for rid in plain.recordings:
        span = {"channel": "both", "start": 1, "end": 2, "reason": "x"}
        plain.review.review(plain.dana, REF, rid, outcome="released", mutes=[span])
    written: list[int] = []
    in_audio: list[bool] = []

    def disk_fills(file: IO[bytes], data: bytes) -> None:
        if in_audio:  # the first WAV's header is written: its audio does not fit
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        file.write(data)
        written.append(len(data))
        in_audio.extend([True] if b"audio/01-" in data else [])

    monkeypatch.setattr(package_module, "_disk_write", disk_fills)
    out = out_dir / "response.zip"
    before = plain.services.audit.count()
    with pytest.raises(OSError, match="No space"):
        plain.packager.package(plain.dana, REF, out)
    assert sum(written) > 0  # it did fail part-way, not before starting
    assert not list(out_dir.iterdir())  # neither the file nor its temp
    acts = [e["action"] for e in _after(plain.services, before)]
    assert "rights.packaged" in acts and "rights.package_written" not in acts
    assert plain.packager.packages(plain.dana, REF) == []

    monkeypatch.undo()
    made = plain.packager.package(plain.dana, REF, out)
    assert out.exists() and made["released"] == 2
    assert [p["sha256"] for p in plain.packager.packages(plain.dana, REF)] == [made["sha256"]]


@EMBEDDED_ONLY
def test_a_grant_for_another_case_is_refused(plain: World, out_dir: Path) -> None:
    for rid in plain.recordings:
        plain.review.review(plain.dana, REF, rid, outcome="released")
    elsewhere = plain.services.grants.request(
        plain.dana, plain.recordings, "subject_access", "SAR-2026-0999"
    )
    before = plain.services.audit.count()
    with pytest.raises(Refused, match="not subject access request SAR-2026-0042"):
        plain.packager.package(plain.dana, REF, out_dir / "r.zip", grant_id=elsewhere.id)
    [refused] = _after(plain.services, before)
    assert refused["action"] == "access.refused" and refused["details"]["grant_id"] == elsewhere.id
    assert not list(out_dir.iterdir())


@EMBEDDED_ONLY
def test_an_existing_out_file_is_refused_and_kept(plain: World, out_dir: Path) -> None:
    for rid in plain.recordings:
        plain.review.review(plain.dana, REF, rid, outcome="withheld", reason_code="third_party",
                            note="mostly others")  # fmt: skip
    out = out_dir / "mine.zip"
    out.write_bytes(b"keep me")
    with pytest.raises(BadInput) as raised:
        plain.packager.package(plain.dana, REF, out)
    assert raised.value.field == "out" and out.read_bytes() == b"keep me"
    # All withheld: no grant, no audio; the letter and log still go.
    made = plain.packager.package(plain.dana, REF, out_dir / "new.zip")
    files = members(out_dir / "new.zip")
    assert made["grant_id"] is None and not [n for n in files if n.startswith("audio/")]
    assert "We have withheld 2 recordings" in " ".join(files["letter.txt"].decode().split())


@EMBEDDED_ONLY
def test_review_and_package_commands(
    plain: World,
    out_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CALLVAULT_HOME", str(plain.services.settings.home))
    first, second = plain.recordings
    code, shown, _ = run_cli(["rights", "item", REF, first, "--as", "dana"], capsys)
    assert code == 0 and shown["number"] == 1 and shown["proposals"] == []
    code, _, error = run_cli(["rights", "review", REF, first, "--outcome", "released",
                              "--mute", "caller,0:01,1.5", "--as", "dana"], capsys)  # fmt: skip
    assert code == 2 and error["field"] == "mutes[0]"
    code, shown, _ = run_cli(["rights", "review", REF, first, "--outcome", "released",
                              "--mute", "caller,0:01,1.5,a name, said by a neighbour",
                              "--as", "dana"], capsys)  # fmt: skip
    assert code == 0 and shown["mutes"] == [{
        "channel": "caller", "start": 1.0, "end": 1.5,
        "reason": "a name, said by a neighbour", "added_by": "dana",
    }]  # fmt: skip
    code, shown, _ = run_cli(["rights", "review", REF, second, "--outcome", "withheld",
                              "--reason-code", "legal_privilege", "--note", "advice",
                              "--as", "dana"], capsys)  # fmt: skip
    assert code == 0 and shown["reason_code"] == "legal_privilege"
    out = out_dir / "response.zip"
    code, _, error = run_cli(["rights", "package", REF, "--out", str(out), "--as", "cora"],
                             capsys)  # fmt: skip
    assert code == 3 and error["field"] == "actor" and not out.exists()
    code, made, _ = run_cli(["rights", "package", REF, "--out", str(out), "--as", "dana"], capsys)
    assert code == 0 and made["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert (made["released"], made["withheld"]) == (1, 1)
