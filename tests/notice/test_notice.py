"""The fair processing notice, the notice for staff and the record of processing, generated
from the live policy: every item the law asks for is there, an empty field refuses the whole
notice, and policy text can never become markup."""

from __future__ import annotations

import csv
import dataclasses
import html
import io
import re
from typing import Any

import pytest
import yaml

from callvault.errors import ConfigError
from callvault.notice.document import Table
from callvault.notice.gaps import NoticeIncomplete
from callvault.notice.render import md_text
from callvault.notice.ropa import COLUMNS, record_of_processing, ropa_csv
from callvault.notice.service import notice, publish, ropa_text
from callvault.notice.wording import ICO_LINK_TEXT, ICO_PHONE, display_number
from callvault.policy.loader import parse_policy
from callvault.policy.model import Policy, Purpose

RIGHTS = ("Access", "Rectification", "Erasure", "Restriction", "Objection")
EVIL = "<script>alert('x')</script>"


def plain_md(text: str) -> str:
    """Markdown with its backslash escapes undone: the words a reader sees."""
    return re.sub(r"\\(.)", r"\1", text)


def plain_html(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", text))


def section(policy: Policy, audience: str, heading: str) -> Any:
    (found,) = [s for s in notice(policy, audience).sections if s.heading == heading]
    return found


def table_of(policy: Policy, audience: str, heading: str) -> Table:
    (table,) = [b for b in section(policy, audience, heading).blocks if isinstance(b, Table)]
    return table


def edited(example_text: str, edit: Any) -> Policy:
    """The shipped policy with ``edit(data)`` applied, loaded as a file would be."""
    data = yaml.safe_load(example_text)
    edit(data)
    return parse_policy(yaml.safe_dump(data, sort_keys=False), source="edited.yaml")


# -- the public notice --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_public_notice_says_everything_art_13_asks(example: Policy, fmt: str) -> None:
    text = publish(example, "public", fmt).text
    seen = plain_md(text) if fmt == "md" else plain_html(text)
    seen = " ".join(seen.split())
    wanted = [example.controller, example.dpo_contact, example.notice_version, example.version]
    for line in example.lines:
        wanted += [line.name, *(display_number(number) for number in line.numbers)]
    for purpose in example.purposes:
        wanted += [purpose.name, " ".join(purpose.description.split()),
                   " ".join(purpose.lawful_basis.split())]  # fmt: skip
    for recipient in example.recipients:
        wanted += [recipient.name, " ".join(recipient.when.split())]
    wanted += [exclusion.reason for exclusion in example.exclusions]
    wanted += [f"{right} (Art. " for right in RIGHTS]
    wanted += [ICO_LINK_TEXT, ICO_PHONE, "Information Commissioner's Office"]
    wanted += ["Your call still goes through, but is not recorded."]  # recorder down
    wanted += [publish(example, "public", fmt).document.sha256]
    missing = [item for item in wanted if item not in seen]
    assert not missing


def test_retention_and_recorder_down_per_line(example: Policy) -> None:
    kept = table_of(example, "public", "How long we keep recordings")
    assert kept.rows == tuple((line.name, line.retention.describe()) for line in example.lines)
    lines = table_of(example, "public", "Which calls are recorded")
    assert [row[0] for row in lines.rows] == [line.name for line in example.lines]
    careline = next(row for row in lines.rows if row[0] == "Careline")
    assert careline[1] == "020 8741 2403, 020 8741 4008"
    parking = next(row for row in lines.rows if row[0] == "Parking")
    assert "card details" in parking[3]


def test_recorder_down_reads_as_the_line_says(example_text: str) -> None:
    def reject_on_parking(data: dict[str, Any]) -> None:
        next(ln for ln in data["lines"] if ln["id"] == "parking")["when_recorder_down"] = (
            "reject_call"
        )

    policy = edited(example_text, reject_on_parking)
    rows = {row[0]: row[2] for row in table_of(policy, "public", "Which calls are recorded").rows}
    assert rows["Parking"].startswith("We cannot take your call until recording works again")
    assert rows["Registrars"] == "Your call still goes through, but is not recorded."


def test_exclusions_are_described_not_listed(example: Policy) -> None:
    """No excluded number or prefix is printed: only each exclusion's reason. Every number on
    the page is a line's or the ICO's."""
    text = plain_html(publish(example, "public", "html").text)
    line_numbers = {display_number(n) for line in example.lines for n in line.numbers}
    printed = set(re.findall(r"\b0\d{2,3} \d{3,4} \d{3,4}\b", text))
    assert printed == line_numbers | {ICO_PHONE}
    for exclusion in example.exclusions:
        for prefix in exclusion.prefixes:
            assert prefix not in text
    assert "+44" not in text


def test_versions_and_hash(example: Policy, example_text: str) -> None:
    md, page = publish(example, "public", "md"), publish(example, "public", "html")
    # The hash names the words, not the layout: the same in both formats, and shown in both.
    assert md.document.sha256 == page.document.sha256
    assert f"`{md.document.sha256}`" in md.text
    assert f'<meta name="notice-sha256" content="{page.document.sha256}">' in page.text
    assert md.as_dict()["notice_version"] == "FPN-2026-11"
    assert md.as_dict()["policy_version"] == example.version
    again = publish(example, "public", "md")
    assert again.text == md.text  # deterministic
    changed = edited(example_text, lambda d: d["recipients"][0].update(when="Only by court order."))
    other = publish(changed, "public", "md")
    assert other.document.sha256 != md.document.sha256
    assert other.as_dict()["policy_version"] != example.version


def test_formats(example: Policy) -> None:
    page = publish(example, "public", "html").text
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert "<script" not in page and "src=" not in page  # nothing runs, nothing loads
    assert page.count("<table>") == 4
    md = publish(example, "public", "md").text
    assert md.startswith("# How we record telephone calls")
    assert md.count("\n## ") == len(notice(example).sections)
    row = next(line for line in md.splitlines() if line.startswith("| Parking |"))
    assert row.count(" | ") == 3  # four columns


# -- refusing to publish ------------------------------------------------------------------------


def blank_description(purposes: tuple[Purpose, ...], i: int) -> tuple[Purpose, ...]:
    changed = dataclasses.replace(purposes[i], description="")
    return (*purposes[:i], changed, *purposes[i + 1 :])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: dataclasses.replace(p, controller="  "), "controller"),
        (lambda p: dataclasses.replace(p, dpo_contact=""), "dpo_contact"),
        (lambda p: dataclasses.replace(p, notice_version=""), "notice_version"),
        (lambda p: dataclasses.replace(p, recipients=()), "recipients"),
        (lambda p: dataclasses.replace(p, purposes=()), "purposes"),
        (lambda p: dataclasses.replace(p, version=""), "version"),
        (
            lambda p: dataclasses.replace(
                p, lines=(dataclasses.replace(p.lines[0], name=""), *p.lines[1:])
            ),
            "lines[0].name",
        ),
        (
            lambda p: dataclasses.replace(p, purposes=blank_description(p.purposes, 3)),
            "purposes[3].description",
        ),
    ],
)
@pytest.mark.parametrize("audience", ["public", "staff"])
def test_an_empty_field_refuses_the_notice(
    example: Policy, change: Any, field: str, audience: str
) -> None:
    broken = change(example)
    if audience == "staff" and field == "recipients":
        publish(broken, audience, "md")  # the staff notice does not list recipients
        return
    with pytest.raises(NoticeIncomplete) as caught:
        publish(broken, audience, "html")
    assert caught.value.field == field
    assert f"`{field}`" in caught.value.message and "not published" in caught.value.message
    assert isinstance(caught.value, ConfigError) and caught.value.http_status == 503
    assert caught.value.exit_code == 2


def test_every_gap_is_named_at_once(example: Policy) -> None:
    broken = dataclasses.replace(example, controller="", recipients=())
    with pytest.raises(NoticeIncomplete) as caught:
        publish(broken, "public", "md")
    assert caught.value.field == "controller"
    assert "`controller`, `recipients`" in caught.value.message


def test_a_purpose_without_description_loads_but_publishes_no_notice(example_text: str) -> None:
    """The format leaves a purpose's description optional; the notice cannot do without it."""
    policy = edited(example_text, lambda d: d["purposes"][1].pop("description"))
    assert policy.purposes[1].description == ""
    with pytest.raises(NoticeIncomplete) as caught:
        notice(policy, "public")
    assert caught.value.field == "purposes[1].description"
    record_of_processing(policy)  # the record falls back on the purpose's name


# -- escaping -----------------------------------------------------------------------------------


def _evil(data: dict[str, Any]) -> None:
    data["controller"] = f"Evil {EVIL} & Co"
    data["lines"][0]["name"] = f"Line {EVIL} | injected | cells"
    data["purposes"][0]["description"] = f'{EVIL} "quoted" [link](javascript:alert(1))'
    data["recipients"][0]["when"] = f"# Heading {EVIL}"
    data["exclusions"][0]["reason"] = f"1. {EVIL} <img src=x onerror=alert(1)>"
    data["roles"][1]["description"] = EVIL


@pytest.mark.parametrize("audience", ["public", "staff"])
def test_html_escapes_every_policy_string(example_text: str, audience: str) -> None:
    policy = edited(example_text, _evil)
    page = publish(policy, audience, "html").text
    assert "<script" not in page.lower() and "<img" not in page and "javascript:alert" in page
    assert "&lt;script&gt;" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "Evil &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; Co" in page
    # Only our own link, to the ICO.
    assert re.findall(r"<a href=\"([^\"]+)\"", page) == ["https://ico.org.uk/make-a-complaint"]
    # Readers still see the words.
    assert f"Evil {EVIL} & Co" in plain_html(page)


@pytest.mark.parametrize("audience", ["public", "staff"])
def test_markdown_escapes_every_policy_string(example_text: str, audience: str) -> None:
    policy = edited(example_text, _evil)
    md = publish(policy, audience, "md").text
    assert not re.search(r"(?<!\\)[<>]", md)  # every angle bracket escaped: no HTML
    assert "\\<script\\>" in md
    # The brackets are escaped, so no link forms.
    assert "\\[link\\](javascript:" in md
    assert re.findall(r"(?<!\\)\]\((\S+?)\)", md) == ["https://ico.org.uk/make-a-complaint"]
    assert not any(line.startswith("# Heading") for line in md.splitlines())
    assert not any(line.startswith(("1.", "- 1.")) for line in md.splitlines())
    row = next(line for line in md.splitlines() if line.startswith("| Line"))
    assert row.count(" | ") == (3 if audience == "public" else 6)  # no extra cells
    assert f"Evil {EVIL} & Co" in plain_md(md)


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("a <b> & c", "a \\<b\\> & c"),
        ("&amp; stays text", "\\&amp; stays text"),
        ("- a list?", "\\- a list?"),
        ("12. a list?", "12\\. a list?"),
        ("x|y", "x\\|y"),
        ("two\nlines", "two lines"),
        ("*bold* _em_ `code`", "\\*bold\\* \\_em\\_ \\`code\\`"),
    ],
)
def test_md_text(raw: str, escaped: str) -> None:
    assert md_text(raw) == escaped


# -- the notice for staff -----------------------------------------------------------------------


def test_staff_notice(example: Policy) -> None:
    md = publish(example, "staff", "md")
    seen = " ".join(plain_md(md.text).split())
    for line in example.lines:
        assert line.name in seen and display_number(line.numbers[0]) in seen
    assert "such as your direct line, is never recorded" in seen
    assert "internal call between extensions" in seen
    who = table_of(example, "staff", "Who may listen, and for what")
    listeners = [role for role in example.roles if role.can_hear_audio]
    assert [row[0] for row in who.rows] == [role.name for role in listeners]
    managers = next(row for row in who.rows if row[0] == "Complaints officer")
    assert managers[2] == "Complaint investigation; Ombudsman investigation"
    never = "Advisor, Auditor, Administrator, Business intelligence analyst"
    assert f"These roles never hear recordings: {never}." in seen
    assert "caller stays anonymous, and only if you, the member of staff on the call, agree" in seen
    assert "Investigatory Powers Act 2016 s.46" in seen and "SI 2018/356" in seen
    assert "Lawful Business Practice Regulations 2000" in seen
    for right in RIGHTS:
        assert f"{right} (Art. " in seen
    assert example.dpo_contact in seen and ICO_PHONE in seen
    purposes = table_of(example, "staff", "The purposes")
    training = next(row for row in purposes.rows if row[0].startswith("Training"))
    assert training[2:5] == ("yes", "24 hours", "no")
    transfer = table_of(example, "staff", "Which calls are recorded")
    switchboard = next(row for row in transfer.rows if row[0] == "Switchboard")
    assert switchboard[2] == "recording stops"
    assert md.as_dict()["audience"] == "staff"
    assert md.document.sha256 != publish(example, "public", "md").document.sha256


# -- the record of processing -------------------------------------------------------------------


def test_record_of_processing_has_a_row_per_purpose(example: Policy) -> None:
    record = record_of_processing(example)
    rows = {row["purpose_id"]: row for row in record["rows"]}
    assert list(rows) == [purpose.id for purpose in example.purposes]
    assert record["columns"] == [key for key, _ in COLUMNS]
    for purpose in example.purposes:
        row = rows[purpose.id]
        assert list(row) == record["columns"]
        assert row["lawful_basis"] == purpose.lawful_basis
        assert row["dpia_ref"] == purpose.dpia_ref
        assert (row["controller"], row["dpo_contact"]) == (example.controller, example.dpo_contact)
        assert "Callers" in row["data_subjects"] and "staff" in row["data_subjects"]
        assert "Voice recordings" in row["personal_data"]
        assert "caller's telephone number" in row["personal_data"]
        assert "Adult Social Care (Freephone)" in row["special_category"]
        assert row["third_country_transfers"] == "None"
        assert row["retention"].startswith("12 months from the call's start, all 18 lines")
        assert "AES-256-GCM" in row["security_measures"]
        assert "audit trail" in row["security_measures"]
        assert "data processors" in row["recipients"]  # processors act under any purpose
        assert row["policy_version"] == example.version
    assert "Local Government and Social Care Ombudsman" in rows["ombudsman"]["recipients"]
    assert "police" not in rows["ombudsman"]["recipients"]
    assert "The police" in rows["crime"]["recipients"]
    assert "Complaints officer" in rows["complaint"]["who_may_retrieve"]
    assert "second person approves" in rows["crime"]["who_may_retrieve"]


def test_record_retention_per_line_when_periods_differ(example_text: str) -> None:
    policy = edited(example_text, lambda d: d["lines"][1].update(retention="30 days"))
    row = record_of_processing(policy)["rows"][0]
    assert "30 days: Switchboard" in row["retention"]
    assert "12 months: Out of hours, Cleaner Greener" in row["retention"]


def test_record_as_csv_and_markdown(example: Policy) -> None:
    record = record_of_processing(example)
    parsed = list(csv.DictReader(io.StringIO(ropa_csv(record))))
    assert len(parsed) == len(example.purposes)
    assert parsed == record["rows"]  # nothing lost in the quoting of commas and quotes
    md = ropa_text(record, "md")
    assert md.startswith("# Record of processing activities (UK GDPR Art. 30)")
    assert md.count("\n## ") == len(example.purposes)
    assert "| Transfers to third countries | None |" in md


def test_csv_cells_never_run_as_formulas(example_text: str) -> None:
    policy = edited(example_text, lambda d: d["purposes"][0].update(description='=HYPERLINK("x")'))
    (row, *_) = csv.DictReader(io.StringIO(ropa_csv(record_of_processing(policy))))
    assert row["description"] == '\'=HYPERLINK("x")'
