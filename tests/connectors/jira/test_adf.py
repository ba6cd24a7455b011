"""ADF built by the bot is what Jira Cloud accepts: checked against Atlassian's JSON schema of ADF."""

from __future__ import annotations

import pytest

from bot.domain.tickets import NewComment, Person, Role
from connectors.jira import adf
from tests.adf import adf_errors, assert_valid_adf
from tests.connectors.jira.conftest import Site

DAVE = Person("agent-dave", "Dave Devlead", "dave@example.com", Role.AGENT)
STEPS = """Checkout fails for Acme.
## Steps to reproduce
1. Open https://shop.acme.test/cart.
2) Press "Pay"

- Browser: Firefox 128
* OS: Windows 11
### Ticket
See https://acme.zendesk.com/agent/tickets/42 for the conversation."""


def test_every_node_the_builder_makes_is_schema_valid() -> None:
    document = adf.doc(
        adf.heading(2, "Steps to reproduce"),
        adf.paragraph(
            adf.mention("agent-dave", "Dave Devlead"), " please look at ", adf.link("SD-1", "https://x/SD-1")
        ),
        adf.ordered_list(["Open the cart", "Press Pay"], start=3),
        adf.bullet_list(["Firefox", adf.text("bold", strong=True)]),
        adf.paragraph(""),
    )
    assert_valid_adf(document)
    assert document["content"][1]["content"][0] == {
        "type": "mention",
        "attrs": {"id": "agent-dave", "text": "@Dave Devlead"},
    }
    assert document["content"][2]["attrs"] == {"order": 3}


def test_text_becomes_headings_lists_links_and_paragraphs() -> None:
    document = adf.from_text(STEPS)
    assert_valid_adf(document)
    kinds = [block["type"] for block in document["content"]]
    assert kinds == ["paragraph", "heading", "orderedList", "paragraph", "bulletList", "heading", "paragraph"]
    steps = document["content"][2]["content"]
    assert [item["content"][0]["content"][0]["text"] for item in steps] == ["Open ", 'Press "Pay"']
    url = steps[0]["content"][0]["content"][1]
    assert url["marks"] == [{"type": "link", "attrs": {"href": "https://shop.acme.test/cart"}}]
    assert steps[0]["content"][0]["content"][2]["text"] == "."  # the sentence's full stop is not part of the link
    assert adf.plain(document) == STEPS.replace("2)", "2.").replace("* OS", "- OS")


def test_lines_stay_lines_and_read_back_exactly() -> None:
    """`from_lines` (the follow-up field, compared with what was written) reads nothing as a list or heading."""
    document = adf.from_lines(STEPS)
    assert_valid_adf(document)
    assert {block["type"] for block in document["content"]} == {"paragraph"}
    assert adf.plain(document) == STEPS
    assert adf.plain(adf.from_text(STEPS)) != STEPS


def test_mentions_open_the_document_and_notify_by_account_id() -> None:
    document = adf.from_text("## Bug\nplease have a look", [adf.mention("agent-dave", "Dave")])
    assert_valid_adf(document)
    first = document["content"][0]
    assert first["type"] == "paragraph" and first["content"][0]["attrs"]["id"] == "agent-dave"


@pytest.mark.parametrize(
    "broken",
    [
        {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": ""}]}]},
        {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "mention"}]}]},
        {"type": "doc", "version": 1, "content": [{"type": "bulletList", "content": []}]},
        {"type": "doc", "content": []},
    ],
    ids=["empty-text", "mention-without-id", "empty-list", "no-version"],
)
def test_the_schema_check_rejects_what_jira_cloud_rejects(broken: dict[str, object]) -> None:
    assert adf_errors(broken)


def test_the_builder_refuses_what_would_not_validate() -> None:
    with pytest.raises(ValueError, match="at least one item"):
        adf.bullet_list([])
    with pytest.raises(ValueError, match="levels 1 to 6"):
        adf.heading(7, "x")
    assert adf.text("") == []


def test_the_linked_bug_s_description_and_mention_comment_are_schema_valid_on_cloud(site: Site) -> None:
    desk = site.adapter()
    linked = desk.create_linked_issue(
        desk.get_ticket("SD-1"),
        project="DEV",
        summary="Checkout fails",
        description=STEPS,
        comment=NewComment("please have a look:\n1. reproduce\n2. estimate", mentions=(DAVE,)),
    )
    fields = site.issue(linked.key, "description,comment")["fields"]
    assert_valid_adf(fields["description"])
    [comment] = fields["comment"]["comments"]
    assert_valid_adf(comment["body"])
    assert comment["body"]["content"][0]["content"][0]["attrs"]["id"] == "agent-dave"
    assert [b["type"] for b in comment["body"]["content"]] == ["paragraph", "orderedList"]
    assert desk.get_ticket(linked.key).description == adf.plain(fields["description"])
