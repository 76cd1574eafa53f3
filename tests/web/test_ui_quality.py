"""The quality monitoring pages, through the HTML forms: a team leader finds a sampled call,
is told where to ask for access when they score it without a quality grant (nothing written),
then scores it with one; the advisor on the call reads the evaluation and responds once; a
manager draws a month (again only with a reason) and verifies a draw; a calibration session
stays blind until every evaluator has scored. Auditors read without forms; business
intelligence gets nothing. A form with a mistake comes back naming the field, with what was
typed, and changes nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from access.access_helpers import record
from analytics.quality_helpers import drawable_month, every_call, sampled_case_ref
from callvault.analytics.evaluations import EvaluationService
from callvault.analytics.sampling import QualitySampler
from callvault.analytics.sampling_rule import (
    draw_opens,
    month_bounds,
    month_text,
    parse_month,
    previous_month,
    uk_day_text,
    uk_month_of,
)
from callvault.analytics.store import (
    calibrations,
    evaluation_responses,
    quality_draws,
    quality_evaluations,
)
from callvault.bootstrap import Services
from callvault.context import RequestContext
from callvault.policy.service import PolicyService
from callvault.web.pages.quality_view import month_name
from web_pages import (
    Desk,
    buttons,
    checked_page,
    embedded_leg,  # noqa: F401
    follow,
    form_token,
    headings,
    post_form,
    seated,
    tag_of,
    text_of,
)

PEOPLE = {
    "tess": "team_leader",
    "mina": "authorised_manager",
    "max": "authorised_manager",
    "adam": "advisor",
    "ann": "advisor",
    "aud": "auditor",
    "bea": "business_intelligence",
}
# The shipped policy's standard scorecard: greeting 2, identity 3, understanding 3,
# resolution 4, courtesy 3, data_protection 3 (18 points).
FULL = {"greeting": 2, "identity": 3, "understanding": 3, "resolution": 4, "courtesy": 3,
        "data_protection": 3}  # fmt: skip
COMMENT = "Good greeting; the caller's date of birth was asked twice."
RESPONSE = "The caller gave a different date the first time, so I checked again."
REASON = "the first draw missed calls from the Parking overflow queue"


class QualityDesk(Desk):
    def call(self, call_id: str, agent: str = "adam", **meta: Any) -> str:
        return record(self.services, self.ctx, self.call_wav, call_id, agent=agent, **meta)

    def listen(self, name: str, case_ref: str, recording_id: str) -> None:
        """``name`` asks for access to the sampled call under the quality purpose."""
        grant = self.services.grants.request(self.person(name), [recording_id], "quality",
                                             case_ref)  # fmt: skip
        assert grant.status == "approved", grant

    def count(self, table: Any) -> int:
        with self.services.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.fixture
def desk(services: Services, ctx: RequestContext, call_wav: Path) -> Iterator[QualityDesk]:
    clients = seated(services, PEOPLE)
    yield QualityDesk(services, clients, ctx, call_wav)
    clients.close()


@pytest.fixture
def sampled(desk: QualityDesk) -> tuple[str, str]:
    """A call adam took this month, drawn: (its case reference, its recording id)."""
    recording_id = desk.call("quality-ui-1")
    return sampled_case_ref(desk.services, recording_id), recording_id


def _posts(html: str) -> list[str]:
    """Where the page's forms post, the sign-out form left out."""
    return [a for a in re.findall(r'<form method="post" action="([^"]+)"', html) if a != "/signout"]


def _scores(scores: dict[str, Any]) -> dict[str, str]:
    return {f"scores.{item}": str(points) for item, points in scores.items()}


def _nav(html: str) -> str:
    found = re.search(r'<nav aria-label="Main">(.*?)</nav>', html, re.S)
    assert found is not None
    return found.group(1)


def _post_list(client: TestClient, page: str, action: str, **fields: Any) -> httpx.Response:
    """``post_form`` for a form with a group of checkboxes (a list posts each value)."""
    token = form_token(client, page)
    client.headers.pop("X-CSRF-Token", None)
    response: httpx.Response = client.post(
        action, data={"csrf_token": token, **fields}, follow_redirects=False
    )
    return response


# -- the whole flow: sample, refusal, evaluation, response -------------------------------------
def test_a_team_leader_evaluates_a_sampled_call_and_the_advisor_responds(
    desk: QualityDesk, sampled: tuple[str, str]
) -> None:
    case, recording_id = sampled
    services, tess = desk.services, desk.clients["tess"]
    page = tess.get("/quality")
    assert page.status_code == 200
    checked_page(page.text)
    assert [h for h in headings(page.text) if h[0] <= 2] == [
        (1, "Quality monitoring"), (2, f"Sampled calls: {_this_month()}"),
        (2, "Calibration sessions open"), (2, "Draws"),
    ]  # fmt: skip
    said = text_of(page.text)
    assert case in said and "adam" in said and "Not evaluated" in said
    assert f"Ask for access with purpose quality and case reference {case}." in said
    assert f'href="/quality/samples/{case}"' in page.text
    assert f'href="/recordings/{recording_id}"' in page.text
    assert _posts(page.text) == []  # a team leader does not draw
    assert 'href="/quality" aria-current="page"' in _nav(page.text)
    assert 'href="/quality/mine"' in _nav(page.text)  # team leaders take calls too

    path = f"/quality/samples/{case}"
    shown = tess.get(path)
    assert shown.status_code == 200
    checked_page(shown.text)
    assert _posts(shown.text) == [f"{path}/evaluate"]  # no calibration: a manager's
    assert "Greeted the caller, gave their name and the service" in text_of(shown.text)
    assert 'max="4"' in tag_of(shown.text, "evaluate-scores.resolution")

    # Without a quality grant: the page says where to ask, keeps what was typed, writes nothing.
    before = services.audit.count()
    typed = {**_scores(FULL), "comment": COMMENT}
    refused = post_form(tess, path, f"{path}/evaluate", **typed)
    assert refused.status_code == 403
    checked_page(refused.text)
    said = text_of(refused.text)
    assert headings(refused.text)[0] == (1, f"Sampled call {case}")  # not the "Not allowed" page
    assert "The evaluation was not saved" in said
    assert f"ask for access with purpose quality and case reference {case} first" in said
    assert f'href="/recordings/{recording_id}"' in refused.text
    assert 'value="2"' in tag_of(refused.text, "evaluate-scores.greeting") and COMMENT in said
    assert desk.count(quality_evaluations) == 0
    actions = [e["action"] for e in services.audit.show(after=before, limit=100)]
    assert "access.refused" in actions

    # With one: a score out of range, then one that is not a number, name the question.
    desk.listen("tess", case, recording_id)
    for value in ("9", "lots"):
        wrong = post_form(tess, path, f"{path}/evaluate",
                          **{**typed, "scores.resolution": value})  # fmt: skip
        assert wrong.status_code == 422
        checked_page(wrong.text)
        assert 'href="#evaluate-scores.resolution"' in wrong.text
        field = tag_of(wrong.text, "evaluate-scores.resolution")
        assert 'aria-invalid="true"' in field and f'value="{value}"' in field
        assert "from 0 to 4" in text_of(wrong.text) and COMMENT in text_of(wrong.text)
    assert desk.count(quality_evaluations) == 0

    done = post_form(tess, path, f"{path}/evaluate", **{**typed, "scores.identity": "1"})
    assert done.status_code == 303 and done.headers["location"] == path
    shown_text = follow(tess, done)
    checked_page(shown_text)
    said = text_of(shown_text)
    assert f"Evaluation of {case} saved: 16 of 18." in said
    assert "Scores given by tess" in said and "Total 16 18" in said and COMMENT in said
    assert _posts(shown_text) == []  # one evaluation of record per call
    assert "Evaluated 16 of 18" in text_of(tess.get("/quality").text)

    # The advisor reads it, and responds once.
    adam = desk.clients["adam"]
    mine = adam.get("/quality/mine")
    assert mine.status_code == 200
    checked_page(mine.text)
    said = text_of(mine.text)
    assert COMMENT in said and "by tess" in said and "Total 16 18" in said
    assert "Checked the caller's identity before discussing their account or case" in said
    assert re.findall(r'href="([^"]+)"', _nav(mine.text)) == [
        "/requests", "/training", "/quality/mine"
    ]  # fmt: skip
    assert 'href="/quality/mine" aria-current="page"' in _nav(mine.text)
    [action] = _posts(mine.text)
    evaluation_id = action.split("/")[3]
    form_id = f"respond-{evaluation_id}"

    missing = post_form(adam, "/quality/mine", action, response=RESPONSE)
    assert missing.status_code == 422
    checked_page(missing.text)
    assert f'href="#{form_id}-agrees"' in missing.text and RESPONSE in missing.text
    empty = post_form(adam, "/quality/mine", action, agrees="no", response=" ")
    assert empty.status_code == 422
    assert 'aria-invalid="true"' in tag_of(empty.text, f"{form_id}-response")
    assert "checked" in tag_of(empty.text, f"{form_id}-agrees-no")
    assert desk.count(evaluation_responses) == 0

    answered = post_form(adam, "/quality/mine", action, agrees="no", response=RESPONSE)
    assert answered.headers["location"] == "/quality/mine"
    shown_text = follow(adam, answered)
    checked_page(shown_text)
    said = text_of(shown_text)
    assert f"Your response to the evaluation of {case} is saved" in said
    assert "Your response Disagrees" in said and RESPONSE in said
    assert _posts(shown_text) == []  # the form is gone
    token = form_token(adam, "/quality/mine")
    adam.headers.pop("X-CSRF-Token", None)
    again = adam.post(action, data={"csrf_token": token, "agrees": "yes", "response": "more"})
    assert again.status_code == 409
    assert "already responded" in text_of(again.text)
    assert desk.count(evaluation_responses) == 1
    assert RESPONSE in text_of(tess.get(path).text)  # the evaluator reads the response

    # Another advisor sees none of it, and may not respond to it.
    ann = desk.clients["ann"]
    theirs = ann.get("/quality/mine")
    assert "None of your calls has been evaluated yet." in text_of(theirs.text)
    assert COMMENT not in text_of(theirs.text)
    token = form_token(ann, "/quality/mine")
    ann.headers.pop("X-CSRF-Token", None)
    other = ann.post(action, data={"csrf_token": token, "agrees": "yes", "response": "mine?"})
    assert other.status_code == 403 and desk.count(evaluation_responses) == 1


def _this_month() -> str:
    """The UK month of the test calls (made an hour ago), as the pages name it."""
    return month_name(month_text(*uk_month_of(datetime.now(UTC) - timedelta(hours=1))))


# -- who sees what ----------------------------------------------------------------------------
def test_the_auditor_reads_samples_and_evaluations_without_any_form(
    desk: QualityDesk, sampled: tuple[str, str]
) -> None:
    case, recording_id = sampled
    desk.listen("tess", case, recording_id)
    EvaluationService.for_services(desk.services).evaluate(desk.person("tess"), case, FULL, COMMENT)
    aud = desk.clients["aud"]
    page = aud.get("/quality")
    assert page.status_code == 200
    checked_page(page.text)
    assert case in text_of(page.text) and "Evaluated 18 of 18" in text_of(page.text)
    assert _posts(page.text) == [] and "Draw a month" not in text_of(page.text)
    shown = aud.get(f"/quality/samples/{case}")
    assert shown.status_code == 200
    checked_page(shown.text)
    assert COMMENT in text_of(shown.text) and _posts(shown.text) == []
    assert 'href="/quality/mine"' not in _nav(shown.text)  # auditors take no calls
    # A month typed into the address that is not one is named by the month selector.
    wrong = aud.get("/quality?month=lately")
    assert wrong.status_code == 422
    checked_page(wrong.text)
    assert 'aria-invalid="true"' in tag_of(wrong.text, "show-month")


def test_business_intelligence_gets_none_of_the_quality_pages(
    desk: QualityDesk, sampled: tuple[str, str]
) -> None:
    case, _ = sampled
    bea = desk.clients["bea"]
    for path in ("/quality", f"/quality/samples/{case}", "/quality/mine",
                 "/quality/draws/" + "0" * 32, "/quality/calibrations/" + "0" * 32):  # fmt: skip
        response = bea.get(path)
        assert response.status_code == 403 and "Not allowed" in response.text, path
    for action in ("/quality/draws", f"/quality/samples/{case}/evaluate",
                   f"/quality/samples/{case}/calibrate"):  # fmt: skip
        assert bea.post(action, data={"month": "2026-01"}).status_code == 403, action
    assert "/quality" not in _nav(bea.get("/").text)


def test_a_post_without_the_csrf_token_is_refused(desk: QualityDesk) -> None:
    mina = desk.clients["mina"]
    mina.headers.pop("X-CSRF-Token", None)
    month = month_text(*previous_month(datetime.now(UTC)))
    response = mina.post("/quality/draws", data={"month": month}, follow_redirects=False)
    assert response.status_code == 403
    assert desk.count(quality_draws) == 0


# -- drawing and verifying --------------------------------------------------------------------
def test_the_manager_draws_last_month_once_and_again_only_with_a_reason(
    desk: QualityDesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Sampling that takes every call, however short (test calls last three seconds).
    policy = PolicyService(every_call(desk.services.policy.policy))
    monkeypatch.setattr(desk.services, "policy", policy)
    # Last month once its draw day (the 5th) has come; until then the month before.
    label = drawable_month(desk.services)
    start = month_bounds(*parse_month(label))[0] + timedelta(days=2)
    desk.call("quality-last-month", started_at=start.isoformat(),
              ended_at=(start + timedelta(seconds=3)).isoformat())  # fmt: skip
    mina = desk.clients["mina"]
    page = mina.get("/quality")
    checked_page(page.text)
    assert "No month has been drawn yet." in text_of(page.text)
    assert f'value="{label}"' in tag_of(page.text, "draw-month")  # last month, to start from
    assert "Draw the month" in buttons(page.text)

    # A month not over yet, and one that is not a month, name the field.
    this_month = month_text(*uk_month_of(datetime.now(UTC)))
    for wrong in (this_month, "2026-13"):
        response = post_form(mina, "/quality", "/quality/draws", month=wrong, reason="")
        assert response.status_code == 422
        checked_page(response.text)
        assert 'aria-invalid="true"' in tag_of(response.text, "draw-month")
        assert f'value="{wrong}"' in tag_of(response.text, "draw-month")
    assert desk.count(quality_draws) == 0

    drawn = post_form(mina, "/quality", "/quality/draws", month=label, reason="")
    assert drawn.headers["location"] == f"/quality?month={label}"
    shown = follow(mina, drawn)
    checked_page(shown)
    said = text_of(shown)
    assert f"{month_name(label)} drawn (attempt 1): 1 of 1 eligible calls sampled." in said
    assert re.search(r"QA-\d{4}-\d{4} adam", said)

    # Again without a reason: the conflict shows by the reason field, which is the fix.
    again = post_form(mina, "/quality", "/quality/draws", month=label, reason="")
    assert again.status_code == 409
    checked_page(again.text)
    assert 'href="#draw-reason"' in again.text and "already drawn" in text_of(again.text)
    assert 'aria-invalid="true"' in tag_of(again.text, "draw-reason")
    short = post_form(mina, "/quality", "/quality/draws", month=label, reason="because")
    assert short.status_code == 422 and "because" in short.text
    assert 'aria-invalid="true"' in tag_of(short.text, "draw-reason")
    assert desk.count(quality_draws) == 1

    redrawn = post_form(mina, "/quality", "/quality/draws", month=label, reason=REASON)
    said = text_of(follow(mina, redrawn))
    assert "drawn (attempt 2)" in said and "Superseded" in said
    assert f"Drawn again because: {REASON}" in said and "Current" in said
    ids = re.findall(r'href="/quality/draws/([0-9a-f]+)"', mina.get("/quality").text)
    assert len(ids) == 2 and desk.count(quality_draws) == 2

    for draw_id in ids:  # both verify: the superseded draw is kept whole
        report = mina.get(f"/quality/draws/{draw_id}")
        assert report.status_code == 200
        checked_page(report.text)
        said = text_of(report.text)
        assert said.count("OK") >= 1 and "Not OK" not in said
        assert "Calls the seed draws 1" in said and "Calls stored 1" in said
    actions = [e["action"] for e in desk.services.audit.show(limit=10_000)]
    assert actions.count("quality.verified") == 2


def test_before_the_draw_day_the_manager_draws_only_by_ticking_early(
    desk: QualityDesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the sampler's clock on the 2nd of next month, this month waits for its draw day
    (the 5th): the form says so beside the early box, and draws once it is ticked."""
    recording = desk.call("quality-early")
    year, month = uk_month_of(
        datetime.fromisoformat(desk.services.catalog.get(recording).started_at)
    )
    label, at = month_text(year, month), month_bounds(year, month)[1] + timedelta(days=1)

    def for_services(cls: type[QualitySampler], services: Services) -> QualitySampler:
        return cls(services.engine, services.audit, services.permissions,
                   every_call(services.policy.policy), clock=lambda: at)  # fmt: skip

    monkeypatch.setattr(QualitySampler, "for_services", classmethod(for_services))
    mina = desk.clients["mina"]
    refused = post_form(mina, "/quality", "/quality/draws", month=label, reason="")
    assert refused.status_code == 422
    checked_page(refused.text)
    assert 'href="#draw-early"' in refused.text
    assert 'aria-invalid="true"' in tag_of(refused.text, "draw-early")
    said = text_of(refused.text)
    assert uk_day_text(draw_opens(year, month, 5)) in said and "quality.draw_on_day" in said
    assert desk.count(quality_draws) == 0

    drawn = post_form(mina, "/quality", "/quality/draws", month=label, reason="", early="yes")
    said = text_of(follow(mina, drawn))
    assert f"{month_name(label)} drawn (attempt 1): 1 of 1 eligible calls sampled." in said
    assert "Drawn early: calls uploaded from now on are not in it." in said
    [entry] = [e for e in desk.services.audit.show(limit=10_000) if e["action"] == "quality.drawn"]
    assert entry["details"]["early"] is True and entry["actor"] == "mina"


# -- calibration ------------------------------------------------------------------------------
def test_a_calibration_session_is_blind_until_both_have_scored(
    desk: QualityDesk, sampled: tuple[str, str]
) -> None:
    case, recording_id = sampled
    path = f"/quality/samples/{case}"
    # tess's evaluation of record is there before the session.
    desk.listen("tess", case, recording_id)
    EvaluationService.for_services(desk.services).evaluate(desk.person("tess"), case, FULL, COMMENT)
    mina = desk.clients["mina"]
    shown = mina.get(path)
    checked_page(shown.text)
    assert _posts(shown.text) == [f"{path}/calibrate"]  # evaluated: no scorecard form
    labels = text_of(shown.text)
    assert all(f"{name} (" in labels for name in ("max", "mina", "tess"))
    assert "adam (" not in labels  # not the advisor on the call

    one = _post_list(mina, path, f"{path}/calibrate", evaluators=["max"])
    assert one.status_code == 422
    checked_page(one.text)
    assert 'href="#calibrate-evaluators"' in one.text
    assert desk.count(calibrations) == 0

    opened = _post_list(mina, path, f"{path}/calibrate", evaluators=["tess", "max"])
    assert opened.status_code == 303
    session = opened.headers["location"]
    said = text_of(follow(mina, opened))
    assert f"Calibration session on {case} opened for max, tess." in said
    assert "The scores stay hidden until every evaluator has scored" in said
    assert "Waiting for max, tess." in said
    assert session in mina.get("/quality").text  # listed as open

    # max sits in the session and has not scored: tess's marks of the call are hidden from him.
    max_ = desk.clients["max"]
    assert "stays hidden from you" in text_of(max_.get(path).text)
    assert COMMENT not in text_of(max_.get(path).text)
    assert COMMENT in text_of(desk.clients["tess"].get(path).text)  # her own evaluation

    tess = desk.clients["tess"]
    page = tess.get(session)
    checked_page(page.text)
    assert _posts(page.text) == [f"{path}/evaluate"]
    calibration_id = session.rsplit("/", 1)[1]
    assert f'name="calibration_id" value="{calibration_id}"' in page.text
    low = {**FULL, "greeting": 0, "resolution": 1}
    done = post_form(tess, session, f"{path}/evaluate", calibration_id=calibration_id,
                     **_scores(low))  # fmt: skip
    assert done.headers["location"] == session
    said = text_of(follow(tess, done))
    assert f"Your scores for {case} are in." in said and "Waiting for max." in said
    assert "Points by question" not in said  # still blind
    assert _posts(tess.get(session).text) == []  # scored once

    # max has no grant yet: refused on the session's page, with where to ask.
    page = max_.get(session)
    refused = post_form(max_, session, f"{path}/evaluate", calibration_id=calibration_id,
                        **_scores(FULL))  # fmt: skip
    assert refused.status_code == 403
    checked_page(refused.text)
    assert f"case reference {case}" in text_of(refused.text)
    desk.listen("max", case, recording_id)
    done = post_form(max_, session, f"{path}/evaluate", calibration_id=calibration_id,
                     **_scores(FULL))  # fmt: skip
    results = follow(max_, done)
    checked_page(results)
    said = text_of(results)
    assert "Points by question and evaluator; 2 to discuss" in said
    assert "Greeted the caller, gave their name and the service Discuss 2 0 2 2" in said
    assert "explained clearly what happens next and when Discuss 4 1 4 3" in said
    assert "Total 18 13 18 5" in said
    assert "stays hidden from you" not in text_of(max_.get(path).text)  # he has scored

    # The manager closes it, with the note required; the call's own evaluation is untouched.
    empty = post_form(mina, session, f"{session}/close", note="")
    assert empty.status_code == 422
    assert 'aria-invalid="true"' in tag_of(empty.text, "close-note")
    closed = post_form(mina, session, f"{session}/close", note="Agreed: greeting needs the name.")
    said = text_of(follow(mina, closed))
    assert "closed" in said and "What the team agreed Agreed: greeting needs the name." in said
    assert _posts(mina.get(session).text) == []
    assert session not in mina.get("/quality").text
    evaluations = EvaluationService.for_services(desk.services).evaluations(
        desk.person("mina"), case_ref=case
    )
    assert [e["total"] for e in evaluations] == [18]
