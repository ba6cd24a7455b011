"""The follow-up field (`desks.jira.followup_field`, the sandbox's "Bot follow-up" paragraph field) on both
deployments: what the bot writes is what it reads back, from the issue and from a JQL search, character for
character (the next step and a resumed sweep compare it), and it travels in the same edit as the step's message.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bot.domain.tickets import NewComment, Status, TicketChanges, TicketQuery, Visibility
from bot.policy.followup import field_note, field_step, marker
from connectors.base import DeskConfig, iter_search
from connectors.jira import adf
from connectors.jira.adapter import JiraDesk, build
from connectors.jira.options import JiraOptions
from connectors.jira.sandbox import FOLLOWUP_FIELD, JiraSandbox
from connectors.sandbox_kit import make_app
from tests.conftest import ServedApp
from tests.connectors.jira.conftest import Site
from tests.sandbox_helpers import demo_options

NOTES = (
    "Follow-up strike 2/3 sent (template strike_2).\n"
    "  Strike 3 due Wed 9 Dec 2026 10:00 UTC; resolve Thu 10 Dec.\n"
    "* a starred line, 1) a numbered one:\n"
    "1) call the customer\n"
    "## not a heading\n"
    "\n"
    "See https://sandbox.atlassian.net/browse/SD-1, then call."
)
TASK = "Task for Alice: call Cathy (voicemail script below)."
MARK = marker(
    "strike-2", datetime(2026, 12, 8, 10, tzinfo=UTC), after="-", greet="Cathy Müller", agent=("agent-alice", "Alice")
)
VALUE = f"{NOTES}\n\n{TASK}\n\n{MARK}"


def field_of(site: Site, key: str, version: int) -> object:
    resp = site.call("GET", f"/rest/api/{version}/issue/{key}", params={"fields": FOLLOWUP_FIELD})
    assert resp.status_code == 200, resp.text
    return resp.json()["fields"][FOLLOWUP_FIELD]


def test_cloud_writes_the_step_as_adf_in_the_same_edit_and_reads_it_back_exactly(site: Site) -> None:
    desk = site.adapter()
    key = site.raise_request("Export fails")
    ticket = desk.get_ticket(key)
    assert ticket.followup_state is None
    sent = len(site.recorder.paths)
    changes = TicketChanges(
        comment=NewComment("Good day Cathy, we are still waiting for your answer.", Visibility.PUBLIC),
        add_tags=("helpdesk-bot-strike-2",),
        followup_state=VALUE,
    )
    desk.apply(ticket, changes)
    assert site.recorder.paths[sent:] == [f"PUT /rest/api/3/issue/{key}"]  # message, tag and field: one edit
    stored = field_of(site, key, 3)
    assert isinstance(stored, dict) and stored["type"] == "doc"  # a paragraph field is rich text on Cloud
    assert adf.plain(stored) == VALUE
    assert field_of(site, key, 2) == VALUE  # REST v2 shows the same text

    read = desk.get_ticket(key)
    assert read.followup_state == VALUE
    step = field_step(read)
    assert step is not None and (step.name, step.greet) == ("strike-2", "Cathy Müller")
    assert field_note(read) == f"{NOTES}\n\n{TASK}"
    assert [c.body for c in read.comments if not c.public] == []  # the notes are no comment
    assert "helpdesk-bot-strike-2" in read.tags
    [found] = [t for t in iter_search(desk, TicketQuery(statuses=(Status.NEW, Status.OPEN))) if t.id == key]
    assert found.followup_state == VALUE  # the JQL search asks for the field


def test_without_the_option_the_field_is_neither_read_nor_written(site: Site) -> None:
    desk = site.adapter(followup_field=None)
    key = site.raise_request("Export fails")
    desk.apply(desk.get_ticket(key), TicketChanges(followup_state=MARK, add_tags=("x",)))
    assert field_of(site, key, 3) is None
    site.adapter().apply(desk.get_ticket(key), TicketChanges(followup_state=MARK))
    assert desk.get_ticket(key).followup_state is None


def test_the_field_takes_adf_in_rest_v3_and_text_in_v2(site: Site) -> None:
    key = site.raise_request("Export fails")
    wrong = site.call("PUT", f"/rest/api/3/issue/{key}", json={"fields": {FOLLOWUP_FIELD: "text"}})
    assert wrong.status_code == 400 and FOLLOWUP_FIELD in wrong.json()["errors"]
    wrong = site.call("PUT", f"/rest/api/2/issue/{key}", json={"fields": {FOLLOWUP_FIELD: adf.from_lines("x")}})
    assert wrong.status_code == 400
    names = {f["id"]: f["name"] for f in site.call("GET", "/rest/api/3/field").json()}
    assert names[FOLLOWUP_FIELD] == "Bot follow-up"


@pytest.fixture(scope="module")
def datacenter() -> Iterator[tuple[JiraSandbox, str]]:
    sandbox = JiraSandbox("datacenter")
    sandbox.reset(seed=True)
    served = ServedApp(make_app([sandbox.blueprints()]))
    yield sandbox, served.url
    served.close()


def test_data_center_writes_the_step_as_text_and_reads_it_back_from_the_issue_and_search(
    datacenter: tuple[JiraSandbox, str],
) -> None:
    sandbox, url = datacenter
    options = JiraOptions.of(demo_options("jira")).model_copy(update={"deployment": "datacenter"})
    desk: JiraDesk = build(DeskConfig(url=url, email="bot@example.com", token="x", options=options))
    [key] = [k for k, i in sandbox.state.issues.items() if i["fields"]["project"]["key"] == "SD"][:1]
    step = TicketChanges(comment=NewComment("Any news?", Visibility.PUBLIC), followup_state=VALUE)
    desk.apply(desk.get_ticket(key), step)
    assert sandbox.state.issues[key]["fields"][FOLLOWUP_FIELD] == VALUE  # wiki-markup text, as written
    assert desk.get_ticket(key).followup_state == VALUE
    [found] = [t for t in iter_search(desk, TicketQuery(statuses=tuple(Status))) if t.id == key]
    assert found.followup_state == VALUE
