"""The labelled speech corpus: its markup and scripts, the audio and metadata it writes, WER."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from callvault.capture.metadata import REQUIRED, parse_meta
from callvault.media.decode import decode_to_pcm, probe
from callvault.policy.loader import load_policy
from callvault.policy.numbers import normalise_number
from callvault.speech.model import KINDS
from speech_corpus import (
    CHANNEL_MAP,
    CONDUCT_KINDS,
    GAP_S,
    LEAD_S,
    RATE,
    SCRIPTS,
    SHORT_CLIPS,
    STARTED_BASE,
    TAIL_S,
    VOICE_PAIRS,
    VOICES,
    CorpusCall,
    Mark,
    make_call,
    make_corpus,
    normalise_words,
    parse_markup,
    short_clip,
    tools_missing,
    ulaw_decode,
    ulaw_encode,
    word_error_rate,
)

needs_tools = pytest.mark.skipif(tools_missing() is not None, reason=tools_missing() or "")


def _dbfs(samples: npt.NDArray[np.int16]) -> float:
    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
    return 20 * float(np.log10(max(rms, 1e-9) / 32768))


# --- markup and scripts ------------------------------------------------------------------


def test_markup_gives_plain_text_and_labelled_items() -> None:
    plain, marks = parse_markup(
        "I'm {NAME:Daniel Kowalski}, card {CARD:four nine two nine, one two three four}."
    )
    assert plain == "I'm Daniel Kowalski, card four nine two nine, one two three four."
    assert [(m.kind, m.text) for m in marks] == [
        ("NAME", "Daniel Kowalski"),
        ("CARD", "four nine two nine, one two three four"),
    ]
    assert all(plain[m.start : m.end] == m.text for m in marks)
    assert parse_markup("No data here.") == ("No data here.", [])


@pytest.mark.parametrize(
    "bad",
    ["{PIN:one two}", "{NAME:Sam", "NAME:Sam}", "{NAME: }", "{NAME:{CARD:one}}", "{name:Sam}"],
)
def test_markup_refuses_what_it_cannot_label(bad: str) -> None:
    with pytest.raises(ValueError, match=r"kind|markup|empty"):
        parse_markup(bad)


def test_every_script_parses_into_valid_labelled_turns() -> None:
    assert len(SCRIPTS) >= 12
    assert len({s.name for s in SCRIPTS}) == len(SCRIPTS)
    kinds_seen: set[str] = set()
    for script in SCRIPTS:
        speakers = {speaker for speaker, _ in script.turns}
        assert speakers == {"caller", "agent"}, script.name
        items: list[Mark] = []
        for _, text in script.turns:
            plain, marks = parse_markup(text)
            assert "{" not in plain and "}" not in plain
            # espeak-ng reads "4929" as "four thousand nine hundred...": scripts spell digits.
            assert not re.search(r"\d", plain), (script.name, plain)
            items.extend(m for m in marks if m.kind not in CONDUCT_KINDS)
            kinds_seen.update(m.kind for m in marks)
        assert all(m.kind in KINDS for m in items)
        if "no_personal_data" in script.tags:
            assert items == [], script.name
        else:
            assert items, f"{script.name} has no personal data marked"
    # Between them the scripts cover every kind a person can say (DTMF is key presses).
    assert set(KINDS) - {"DTMF"} <= kinds_seen
    assert set(CONDUCT_KINDS) <= kinds_seen
    for clip in SHORT_CLIPS.values():
        for text in clip:
            parse_markup(text)


def test_scripts_dial_the_lines_they_name() -> None:
    example = load_policy(Path(__file__).parents[2] / "policies" / "council-example.yaml")
    for script in SCRIPTS:
        line = example.line_for_number(normalise_number(script.dialled, "dialled").value)
        assert line is not None, script.name
        assert line.id == script.line, script.name
        if "payment" in script.tags:
            assert line.takes_payments, script.name


def test_voice_pairs_differ() -> None:
    assert len(VOICES) >= 5
    assert all(caller != agent for caller, agent in VOICE_PAIRS)


# --- audio and metadata ------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> CorpusCall:
    if tools_missing():
        pytest.skip(tools_missing() or "")
    return short_clip(tmp_path_factory.mktemp("clip"), "CARD")


@needs_tools
def test_clip_is_two_channel_telephone_audio_with_turns_on_their_own_channel(
    clip: CorpusCall,
) -> None:
    info = probe(clip.wav_path)
    assert (info.container, info.codec, info.sample_rate, info.channels) == (
        "wav",
        "pcm_mulaw",
        RATE,
        2,
    )
    pcm, rate = decode_to_pcm(clip.wav_path)
    assert rate == RATE
    assert pcm.shape[0] == 2
    assert pcm.shape[1] == round(clip.duration_s * RATE)
    assert clip.turns[0].start_s == pytest.approx(LEAD_S)
    assert clip.duration_s == pytest.approx(clip.turns[-1].end_s + TAIL_S)
    assert 3 < clip.duration_s < 15
    for turn in clip.turns:
        window = pcm[:, round(turn.start_s * RATE) : round(turn.end_s * RATE)]
        own, other = CHANNEL_MAP[turn.speaker], 1 - CHANNEL_MAP[turn.speaker]
        assert _dbfs(window[own]) > -35, turn
        assert -66 < _dbfs(window[other]) < -54, "the idle channel carries low noise"
        assert _dbfs(window[own]) - _dbfs(window[other]) > 25
    # The item is the caller's card number, bounded by its turn.
    [item] = clip.items
    assert (item.kind, item.speaker, item.turn) == ("CARD", "caller", 0)
    assert (item.start_s, item.end_s) == (clip.turns[0].start_s, clip.turns[0].end_s)
    assert clip.turns[0].text[item.char_start : item.char_end] == item.text
    assert clip.reference == {"caller": clip.turns[0].text, "agent": "Thank you."}


@needs_tools
def test_metadata_is_what_ingest_accepts(clip: CorpusCall) -> None:
    assert set(clip.meta) == set(REQUIRED)
    assert clip.meta_path.read_text(encoding="utf-8").startswith("{")
    meta = parse_meta(clip.meta, now=STARTED_BASE + timedelta(days=1), max_skew_s=300, max_hours=12)
    assert meta.dialled == "+442073715678"
    assert meta.direction == "inbound"
    assert meta.caller.startswith("+447700900")
    assert meta.channel_map == {"caller": 0, "agent": 1}
    assert meta.announcement_played
    length = (meta.ended_at - meta.started_at).total_seconds()
    assert abs(length - clip.duration_s) <= 0.5


@needs_tools
def test_a_whole_call_alternates_turns_with_gaps(tmp_path: Path) -> None:
    script = next(s for s in SCRIPTS if s.name == "missed_bin")
    call = make_call(script, tmp_path, caller_voice="en-gb+m3", agent_voice="en-us+m5", seed=4)
    assert len(call.turns) == len(script.turns)
    for before, after in zip(call.turns, call.turns[1:], strict=False):
        assert GAP_S[0] - 1e-3 <= after.start_s - before.end_s <= GAP_S[1] + 1e-3
    assert [i.kind for i in call.items] == ["ADDRESS", "POSTCODE", "NAME"]
    for item in call.items:
        turn = call.turns[item.turn]
        assert item.speaker == turn.speaker
        assert (item.start_s, item.end_s) == (turn.start_s, turn.end_s)
        assert item.text in turn.text
    assert call.reference["agent"].startswith("Cleaner greener, how can I help?")
    assert "Grace Mensah" in call.reference["caller"]
    assert 150 <= call.rates["caller"] <= 175
    pcm, _ = decode_to_pcm(call.wav_path)
    assert pcm.shape == (2, round(call.duration_s * RATE))


@needs_tools
def test_same_inputs_give_the_same_bytes(tmp_path: Path) -> None:
    first = short_clip(tmp_path / "a", "POSTCODE", seed=3)
    again = short_clip(tmp_path / "b", "POSTCODE", seed=3)
    other = short_clip(tmp_path / "c", "POSTCODE", seed=4)
    assert first.wav_path.read_bytes() == again.wav_path.read_bytes()
    assert first.meta_path.read_bytes() == again.meta_path.read_bytes()
    assert first.wav_path.read_bytes() != other.wav_path.read_bytes()
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        "clip-postcode-3.json",
        "clip-postcode-3.wav",
    ], "no turn files are left behind"


@needs_tools
def test_pcm16_output_is_the_same_audio_before_mulaw(tmp_path: Path, clip: CorpusCall) -> None:
    pcm16 = short_clip(tmp_path, "CARD", encoding="pcm16")
    assert probe(pcm16.wav_path).codec == "pcm_s16le"
    linear, _ = decode_to_pcm(pcm16.wav_path)
    mulaw, _ = decode_to_pcm(clip.wav_path)
    assert np.array_equal(ulaw_decode(ulaw_encode(linear)), mulaw)


@needs_tools
def test_corpus_rotates_voice_pairs(tmp_path: Path) -> None:
    calls = make_corpus(tmp_path, limit=2)
    assert [c.name for c in calls] == [s.name for s in SCRIPTS[:2]]
    assert [c.voices["caller"] for c in calls] == [VOICE_PAIRS[0][0], VOICE_PAIRS[1][0]]
    assert len({c.meta["call_id"] for c in calls}) == 2


def test_mulaw_codec_round_trips() -> None:
    codes = np.arange(256, dtype=np.uint8)
    back = ulaw_encode(ulaw_decode(codes))
    assert np.array_equal(back[codes != 0x7F], codes[codes != 0x7F])  # 0x7F is -0, 0xFF +0
    ramp = np.arange(-32768, 32768, 7).astype(np.int16)
    error = np.abs(ulaw_decode(ulaw_encode(ramp)).astype(np.int32) - ramp)
    assert error[np.abs(ramp.astype(np.int32)) < 32000].max() <= 512


# --- word error rate ---------------------------------------------------------------------


def test_wer_identical_is_zero() -> None:
    text = "Housing repairs, can I have your name please?"
    assert word_error_rate(text, text) == 0.0
    assert word_error_rate(text, "housing repairs can i have your name please") == 0.0


@pytest.mark.parametrize(
    ("reference", "hypothesis"),
    [
        ("four nine two nine, one two three four", "4929 1234"),
        ("zero seven seven oh oh, nine zero zero, double five two", "07700 900552"),
        ("the third of March, nineteen forty one", "the 3rd of March 1941"),
        ("one hundred and twenty pounds", "£120"),
        ("twenty twenty six", "2026"),
        ("S W six, five R H", "SW6 5RH"),
        ("Q Q, one two, three four, five six, C", "QQ123456C"),
        ("hannah dot lewis eighty four at example dot co dot uk", "hannah.lewis84@example.co.uk"),
        ("okay, Ms Shah", "OK, Ms. Shah."),
    ],
)
def test_wer_counts_digit_and_word_forms_as_equal(reference: str, hypothesis: str) -> None:
    assert word_error_rate(reference, hypothesis) == 0.0, (
        normalise_words(reference),
        normalise_words(hypothesis),
    )


def test_wer_counts_edits_over_reference_words() -> None:
    reference = "the crew will come back to collect it within two days"
    assert len(normalise_words(reference)) == 11
    ten = "I would like to renew my resident parking permit please"
    assert word_error_rate(ten, ten.replace("renew", "review")) == pytest.approx(0.1)
    assert word_error_rate(ten, ten.replace("parking ", "")) == pytest.approx(0.1)
    assert word_error_rate(ten, ten + " today") == pytest.approx(0.1)
    assert word_error_rate("", "") == 0.0
    assert word_error_rate("", "hello") == 1.0
    assert word_error_rate("one two", "") == 1.0


def test_normalised_words_spell_numbers_digit_by_digit() -> None:
    assert normalise_words("Card: 5555-4444!") == ["card"] + ["five"] * 4 + ["four"] * 4
    assert normalise_words("forty-nine, three hundred") == [
        "four",
        "nine",
        "three",
        "zero",
        "zero",
    ]
    assert normalise_words("S W six, one double A") == ["s", "w", "six", "one", "a", "a"]


@needs_tools
def test_a_clip_can_say_any_marked_sentence(tmp_path: Path) -> None:
    call = short_clip(tmp_path, "I'm {NAME:Grace Mensah}, on {PHONE:oh seven seven oh oh}.")
    assert [(i.kind, i.text) for i in call.items] == [
        ("NAME", "Grace Mensah"),
        ("PHONE", "oh seven seven oh oh"),
    ]
    assert call.reference["caller"] == "I'm Grace Mensah, on oh seven seven oh oh."
    with pytest.raises(ValueError, match="different voices"):
        short_clip(tmp_path, "NAME", caller_voice="en-gb", agent_voice="en-gb")
