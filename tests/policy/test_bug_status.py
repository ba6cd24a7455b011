"""What a dev bug's status change decides for the support ticket it was filed for."""

from __future__ import annotations

from typing import Any

from bot.domain.actions import Comment, SetStatus, Tag
from bot.domain.tickets import Status, Visibility
from bot.policy.bug_status import FIXED_TAG, decide, support_ref
from bot.policy.runbook import Situation
from bot.policy.schema import load_policy
from tests.policy.helpers import NOW, ticket

POLICY = load_policy(None)


def bug(status: Status, resolution: str | None = None, **extra: Any) -> Any:
    values: dict[str, Any] = {"desk": "jira", "id": "DEV-7", "project": "DEV", "tags": ("helpdesk-bot-ref-zendesk-42",)}
    return ticket(
        "Export crashes", "x", status=status, resolution=resolution, url="https://j/browse/DEV-7", **{**values, **extra}
    )


def run(b: Any, support: Any = None) -> Any:
    facts = {"support": support if support is not None else ticket("Export crashes", "x")}
    return decide(Situation("jira", b, POLICY, NOW, None, facts))


def test_the_label_names_the_support_ticket_on_either_desk() -> None:
    assert support_ref(("x", "helpdesk-bot-ref-zendesk-42")) == ("zendesk", "42")
    assert support_ref(("helpdesk-bot-ref-jira-sd-12",)) == ("jira", "SD-12")
    assert support_ref(("helpdesk-bot-triaged",)) is None


def test_a_status_change_is_an_internal_note_on_the_support_ticket() -> None:
    (note,) = run(bug(Status.OPEN)).actions
    assert isinstance(note, Comment) and note.visibility is Visibility.INTERNAL
    assert (note.desk, note.ticket_id) == ("zendesk", "42") and "DEV-7 is now open" in note.body


def test_fixed_tells_the_customer_once_and_hands_the_ticket_back() -> None:
    actions = run(bug(Status.SOLVED, "Done")).actions
    public = [a for a in actions if isinstance(a, Comment) and a.visibility is Visibility.PUBLIC]
    assert len(public) == 1 and "DEV-7" in public[0].body and public[0].body.startswith("Hello Cathy")
    assert any(isinstance(a, SetStatus) and a.status is Status.OPEN for a in actions)
    assert any(isinstance(a, Tag) and a.add == (FIXED_TAG,) for a in actions)
    told = ticket("Export crashes", "x", tags=(FIXED_TAG,))
    assert len(run(bug(Status.SOLVED, "Done"), told).actions) == 1  # the note only


def test_wont_fix_is_a_note_only_and_other_projects_are_ignored() -> None:
    assert len(run(bug(Status.SOLVED, "Won't Do")).actions) == 1
    assert run(bug(Status.SOLVED, "Done", project="SD")).outcome == "not an issue of the dev project"
    assert run(bug(Status.OPEN, tags=())).outcome == "not a bug the bot filed for a ticket"
