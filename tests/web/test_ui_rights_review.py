"""The review step and the response package in the web UI: the review page lists the speech
job's real proposals; the DPO's form keeps or drops each and adds spans, stored through the
review service and audited; a bad span names its field and changes nothing; auditors read
without forms; everyone else is refused (audited), as is a post without the session's CSRF
token; the package downloads as a zip whose manifest matches its members, and is refused
while a recording is pending.
"""

from __future__ import annotations

import hashlib
import io
import re
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from callvault.bootstrap import Services
from callvault.context import RequestContext
from rights.package_helpers import (
    AGENT_SAYS,
    REF,
    SPOKEN,
    World,
    make_world,
    people,
    plain_call,
    spoken_call,
)
from speech_corpus import CorpusCall, short_clip, tools_missing
from web_pages import (
    SignedIn,
    buttons,
    checked_page,
    csrf_of,
    embedded_leg,  # noqa: F401
    follow,
    form_token,
    headings,
    post_form,
    tag_of,
    text_of,
)

needs_speech = pytest.mark.skipif(tools_missing() is not None, reason=str(tools_missing()))
BASE = f"/rights/{REF}"


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> CorpusCall:
    return short_clip(tmp_path_factory.mktemp("sar-web-clip"), SPOKEN, agent_text=AGENT_SAYS)


@pytest.fixture
def clients(services: Services) -> Iterator[SignedIn]:
    signed = SignedIn(services)
    yield signed
    signed.close()


@pytest.fixture
def spoken(services: Services, ctx: RequestContext, call_wav: Path, clip: CorpusCall) -> World:
    """The spoken call (number 1: transcribed, with the speech job's redaction log) and a
    plain one (number 2) under request REF."""
    people(services, ctx)
    talk = spoken_call(services, clip)
    other = plain_call(services, ctx, call_wav, "pbx-web-sar-9")
    return make_world(services, ctx, [talk, other])


@pytest.fixture
def plain(services: Services, ctx: RequestContext, call_wav: Path) -> World:
    """One plain call from the requester's number (no proposals) under request REF."""
    people(services, ctx)
    only = plain_call(services, ctx, call_wav, "pbx-web-sar-1")
    return make_world(services, ctx, [only])


def review_path(recording_id: str) -> str:
    return f"{BASE}/recordings/{recording_id}/review"


def proposal_ids(page: str) -> list[str]:
    return re.findall(r'name="shown" value="(\d+)"', page)


def actions_after(services: Services, seq: int) -> list[tuple[str, str]]:
    return [(e["action"], e["actor"]) for e in services.audit.show(after=seq, limit=1000)]


def posted(clients: SignedIn, who: str, action: str, **fields: Any) -> Any:
    """``fields`` posted to ``action`` with the CSRF token read from the home page."""
    client = clients[who]
    token = csrf_of(client.get("/").text)
    client.headers.pop("X-CSRF-Token", None)
    return client.post(action, data={"csrf_token": token, **fields}, follow_redirects=False)


def review_form(client: TestClient, recording_id: str, fields: dict[str, Any]) -> Any:
    """The review page's form posted as the browser does (lists: a field repeated)."""
    token = form_token(client, review_path(recording_id))
    client.headers.pop("X-CSRF-Token", None)
    data = {"csrf_token": token, **fields}
    return client.post(review_path(recording_id), data=data, follow_redirects=False)


def empty_rows(count: int = 3) -> dict[str, str]:
    return {
        f"mute_{row}_{name}": "both" if name == "channel" else ""
        for row in range(count)
        for name in ("channel", "start", "end", "reason")
    }


# -- the review page --------------------------------------------------------------------------
@needs_speech
def test_the_review_page_lists_the_proposals_and_auditors_read_it_without_forms(
    spoken: World, clients: SignedIn
) -> None:
    talk, other = spoken.recordings
    view = spoken.review.item(spoken.dana, REF, talk)
    name = next(p for p in view.proposals if p.kind == "NAME")  # the speech job's real log
    clients.sign_in("dana", "aud")

    request_page = clients["dana"].get(BASE).text
    checked_page(request_page)
    for rid in (talk, other):  # every recording of the request links to its review
        assert f'href="{review_path(rid)}"' in request_page
    assert "Make the response package" not in buttons(request_page)  # both pending
    assert "once every recording is reviewed" in request_page

    seq = spoken.services.audit.count()
    page = clients["dana"].get(review_path(talk)).text
    checked_page(page)
    assert headings(page)[0] == (1, f"Review recording 1 of 2: {REF}")
    rows = page.split("<caption>Proposed mutes")[1].split("</table>")[0]
    start = f"{int(name.start_s) // 60}:{name.start_s % 60:04.1f}"
    assert f"<td>A name</td>\n      <td>{name.speaker}</td>\n      <td>{start}</td>" in rows
    assert proposal_ids(page) == [str(p.id) for p in view.proposals]
    for p in view.proposals:  # every proposal is kept unless the DPO unticks it
        assert "checked" in tag_of(page, f"review-keep-{p.id}")
    assert "Save the review" in buttons(page)
    assert f'href="/recordings/{talk}"' in page  # listening stays on the recording's pages
    assert actions_after(spoken.services, seq) == [("rights.item_viewed", "dana")]

    seq = spoken.services.audit.count()
    read = clients["aud"].get(review_path(talk)).text
    checked_page(read)
    assert "<form" not in read.split("</header>")[1] and buttons(read) == ["Sign out"]
    assert "A name" in read and "Not decided" in read
    assert f'href="/recordings/{talk}"' not in read  # auditors do not hear recordings
    assert actions_after(spoken.services, seq) == [("rights.item_viewed", "aud")]
    audit_request = clients["aud"].get(BASE).text
    assert f'href="{review_path(talk)}"' in audit_request
    assert buttons(audit_request) == ["Sign out"]


@needs_speech
def test_a_review_drops_a_proposal_adds_a_span_and_is_audited(
    spoken: World, clients: SignedIn
) -> None:
    talk, _ = spoken.recordings
    view = spoken.review.item(spoken.dana, REF, talk)
    name = next(p for p in view.proposals if p.kind == "NAME")
    client = clients["dana"]
    page = client.get(review_path(talk)).text
    seq = spoken.services.audit.count()
    fields = {
        **empty_rows(),
        "shown": proposal_ids(page),
        "keep": [i for i in proposal_ids(page) if i != str(name.id)],
        "mute_1_channel": "agent",
        "mute_1_start": "0:00.5",
        "mute_1_end": "1",
        "mute_1_reason": "a colleague's voice in the background",
        "outcome": "released",
        "reason_code": "crime",  # withheld only: not used for a released recording
        "note": "",
    }
    response = review_form(client, talk, fields)
    assert response.headers["location"] == BASE
    shown = follow(client, response)
    others = len(view.proposals) - 1
    muted = f"{others + 1} span{'s' if others else ''}"  # the kept proposals and the one added
    assert f"Recording 1 of {REF} is reviewed: released, with {muted} muted." in text_of(shown)

    stored = spoken.review.item(spoken.dana, REF, talk)
    assert stored.item.outcome == "released" and stored.item.decided_by == "dana"
    assert stored.kept(name) is False
    assert all(stored.kept(p) for p in view.proposals if p.id != name.id)
    assert (talk, 1, 0.5, 1.0, "a colleague's voice in the background", "dana") in spoken.mutes()
    reviewed = [
        e for e in spoken.services.audit.show(after=seq, limit=100)
        if e["action"] == "rights.reviewed"
    ]  # fmt: skip
    assert len(reviewed) == 1 and reviewed[0]["actor"] == "dana"
    details = reviewed[0]["details"]
    assert details["dropped_ids"] == [name.id] and details["added"] == 1
    assert details["confirmed"] == others

    # The page shows the decision and fills the form with it: saving it again keeps it.
    again = client.get(review_path(talk)).text
    checked_page(again)
    assert "checked" not in tag_of(again, f"review-keep-{name.id}")
    assert 'value="0:00.5"' in tag_of(again, "review-mute_0_start")
    assert 'value="0:01"' in tag_of(again, "review-mute_0_end")
    assert "Not muted (the requester's own)" in text_of(again)
    assert re.search(r'<option value="agent" selected>', again)
    form = {
        **empty_rows(4),
        "shown": proposal_ids(again),
        "keep": re.findall(r'name="keep" value="(\d+)" checked', again),
        "mute_0_channel": "agent",
        "mute_0_start": "0:00.5",
        "mute_0_end": "0:01",
        "mute_0_reason": "a colleague's voice in the background",
        "outcome": "released",
    }
    before = spoken.mutes()
    assert review_form(client, talk, form).status_code == 303
    assert spoken.mutes() == before


# Each a mistake in one field of an otherwise good review: (fields, the field named, words).
BAD_REVIEWS = [
    ({"mute_1_start": "soon"}, "review-mute_1_start", "span 2 start must be seconds"),
    ({"mute_1_end": "0:59"}, "review-mute_1_end", "after the recording's end"),
    ({"mute_1_end": "0:00.2"}, "review-mute_1_end", "not after its start"),
    ({"mute_1_reason": ""}, "review-mute_1_reason", "span 2 reason"),
    ({"mute_1_channel": "left"}, "review-mute_1_channel", "must be 0 (caller), 1 (agent)"),
    ({"outcome": ""}, "review-outcome", "outcome must be released"),
    ({"outcome": "withheld", "note": "x"}, "review-reason_code", "reason_code must be"),
    ({"outcome": "withheld", "reason_code": "crime"}, "review-note", "note"),
    ({"mute_1_reason": "x" * 500}, "review-mute_1_reason", "longer than 400"),
]


@needs_speech
def test_a_bad_review_names_the_field_and_writes_nothing(spoken: World, clients: SignedIn) -> None:
    # One call for every case (the speech job is slow): none of them writes anything.
    talk, _ = spoken.recordings
    client = clients["dana"]
    page = client.get(review_path(talk)).text
    client.headers.pop("X-CSRF-Token", None)
    good = {
        **empty_rows(),
        "shown": proposal_ids(page),
        "keep": proposal_ids(page),
        "mute_1_channel": "agent",
        "mute_1_start": "0:00.5",
        "mute_1_end": "0:01",
        "mute_1_reason": "kept for the file",
        "outcome": "released",
    }
    for fields, field_id, says in BAD_REVIEWS:
        seq = spoken.services.audit.count()
        response = client.post(
            review_path(talk), data={"csrf_token": csrf_of(page), **good, **fields},
            follow_redirects=False,
        )  # fmt: skip
        assert response.status_code == 422, (fields, response.text)
        shown = response.text
        checked_page(shown)
        summary = text_of(shown.split('class="error-summary"')[1].split("</div>")[0])
        assert says in summary and f'href="#{field_id}"' in shown, (fields, summary)
        assert 'aria-invalid="true"' in tag_of(shown, field_id)
        if "mute_1_reason" not in fields:
            assert "kept for the file" in shown  # what was entered is not lost
        assert spoken.count_mutes() == 0
        assert {row[1] for row in spoken.items()} == {"pending"}
        # The form comes back on its page: the item is read (and audited) again, nothing else.
        assert actions_after(spoken.services, seq) == [("rights.item_viewed", "dana")]


# -- who may -----------------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["cora", "aud"])
def test_only_the_dpo_reviews_and_packages_and_refusals_are_audited(
    plain: World, clients: SignedIn, who: str
) -> None:
    (only,) = plain.recordings
    if who == "cora":  # no rights:read at all
        assert clients[who].get(review_path(only)).status_code == 403
    seq = plain.services.audit.count()
    actions = {
        review_path(only): {"outcome": "withheld", "reason_code": "crime", "note": "x"},
        f"{BASE}/package": {},
    }
    for action, fields in actions.items():
        assert posted(clients, who, action, **fields).status_code == 403, action
    refused = [
        e for e in plain.services.audit.show(after=seq, limit=100)
        if e["action"] == "access.refused"
    ]  # fmt: skip
    assert [e["details"]["path"] for e in refused] == list(actions)
    assert {e["actor"] for e in refused} == {who}
    assert {row[1] for row in plain.items()} == {"pending"}
    assert not plain.packager.packages(plain.dana, REF)


def test_a_post_without_the_sessions_csrf_token_is_refused(plain: World, clients: SignedIn) -> None:
    (only,) = plain.recordings
    plain.review.review(plain.dana, REF, only, outcome="withheld", reason_code="crime", note="x")
    client = clients["dana"]
    client.headers.pop("X-CSRF-Token", None)
    for token in ({}, {"csrf_token": "forged"}):
        review = client.post(
            review_path(only),
            data={**token, "outcome": "released"},
            follow_redirects=False,
        )
        assert review.status_code == 403
        package = client.post(f"{BASE}/package", data=token, follow_redirects=False)
        assert package.status_code == 403
    assert {row[1] for row in plain.items()} == {"withheld"}
    assert not plain.packager.packages(plain.dana, REF)


# -- the response package ---------------------------------------------------------------------
def test_the_package_is_refused_while_a_recording_is_pending(
    plain: World, clients: SignedIn
) -> None:
    seq = plain.services.audit.count()
    response = posted(clients, "dana", f"{BASE}/package")
    assert response.status_code == 409
    page = response.text
    checked_page(page)
    assert headings(page)[:2] == [(1, f"Make the response package: {REF}"),
                                  (2, "There is a problem")]  # fmt: skip
    assert "are not reviewed yet" in text_of(page) and f'href="{BASE}"' in page
    assert not any(a.startswith("rights.packag") for a, _ in actions_after(plain.services, seq))


def test_the_package_downloads_as_a_zip_its_manifest_verifies_and_it_is_listed(
    plain: World, clients: SignedIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (only,) = plain.recordings
    client = clients["dana"]
    page = client.get(review_path(only)).text
    assert proposal_ids(page) == []  # a plain call: nothing proposed
    response = post_form(
        client, review_path(only), review_path(only), **empty_rows(), outcome="released"
    )
    request_page = follow(client, response)
    checked_page(request_page)
    assert "No package has been made." in request_page
    assert "Make the response package" in buttons(request_page)

    made_in = tmp_path / "tmp"
    made_in.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(made_in))
    download = post_form(client, BASE, f"{BASE}/package")
    assert download.status_code == 200, download.text
    assert download.headers["content-type"] == "application/zip"
    assert download.headers["content-disposition"] == (f'attachment; filename="{REF}-response.zip"')
    assert download.headers["cache-control"] == "no-store"
    assert list(made_in.iterdir()) == []  # nothing is left on the server
    sha = hashlib.sha256(download.content).hexdigest()
    assert download.headers["x-package-sha256"] == sha
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        assert archive.testzip() is None
        files = {name: archive.read(name) for name in archive.namelist()}
    manifest = orjson.loads(files["manifest.json"])
    listed = {f["name"]: (f["sha256"], f["size"]) for f in manifest["files"]}
    assert listed == {n: (hashlib.sha256(b).hexdigest(), len(b)) for n, b in files.items()
                      if n != "manifest.json"}  # fmt: skip
    assert any(name.startswith("audio/01-") for name in listed) and "letter.txt" in listed

    [package] = plain.packager.packages(plain.dana, REF)
    assert package["sha256"] == sha and package["by"] == "dana"
    listed_page = client.get(BASE).text
    checked_page(listed_page)
    rows = listed_page.split("<caption>Packages made (1)")[1].split("</table>")[0]
    assert sha in rows and "dana" in rows and "Yes" in text_of(rows)

    # Reviewing again after the package: the page says it is out of date.
    post_form(client, review_path(only), review_path(only), **empty_rows(),
              outcome="withheld", reason_code="not_requester", note="her son's call")  # fmt: skip
    stale = client.get(BASE).text
    assert "a decision changed since; make it again" in stale
    assert "Out of date" in client.get(review_path(only)).text


def test_a_closed_request_is_neither_reviewed_nor_packaged(plain: World, clients: SignedIn) -> None:
    (only,) = plain.recordings
    plain.rights.close(plain.dana, REF, outcome="withdrawn", note="withdrawn by phone")
    page = clients["dana"].get(review_path(only)).text
    checked_page(page)
    assert "Save the review" not in buttons(page)  # nothing can change
    review = posted(clients, "dana", review_path(only), outcome="released")
    assert review.status_code == 409 and "is closed" in review.text
    package = posted(clients, "dana", f"{BASE}/package")
    assert package.status_code == 409 and "is closed" in package.text
    assert "Make the response package" not in buttons(clients["dana"].get(BASE).text)
