"""Compiling actions into desk writes: one write where the desk allows, only what differs, tag last."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.domain.actions import AddParticipants, Assign, Comment, Resolve, SetReporter, SetRequestType, Tag
from bot.domain.tickets import NewComment, Person, Role, Status, Ticket, TicketChanges, Visibility
from tasks.executor import People, changes_from_json, changes_to_json, compile_writes

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
STAFF = Person("100", "Sam Staff", "sam@example.com", Role.AGENT)


def ticket(**kw: object) -> Ticket:
    base = {
        "desk": "zendesk",
        "id": "7",
        "subject": "Fwd: cannot log in",
        "description": "...",
        "status": Status.NEW,
        "requester": STAFF,
        "created_at": T0,
        "updated_at": T0,
        "version": "2026-03-02T09:30:00Z",
    }
    base.update(kw)
    return Ticket(**base)  # type: ignore[arg-type]


ACTIONS = [
    SetRequestType(request_type="technical_support", rule="bug-words"),
    Assign(agent_id="201", group_id="11", rule="round-robin"),
    SetReporter(email="Dana@Customer.example", name="Dana"),
    AddParticipants(emails=("lee@customer.example",)),
    Comment(body="Hi Dana, we are on it.", visibility=Visibility.PUBLIC),
    Comment(body="Classified by rule bug-words.", visibility=Visibility.INTERNAL),
    Tag(add=("hb_triaged",)),
]
PEOPLE = People({"dana@customer.example": "300", "lee@customer.example": "301"})


def test_atomic_desk_gets_one_main_write_then_the_internal_note() -> None:
    writes = compile_writes(ticket(), ACTIONS, PEOPLE, atomic=True)
    assert writes == [
        TicketChanges(
            assignee_id="201",
            group_id="11",
            request_type="technical_support",
            requester_id="300",
            add_participant_ids=("100", "301"),
            add_tags=("hb_triaged",),
            comment=NewComment("Hi Dana, we are on it.", Visibility.PUBLIC),
        ),
        TicketChanges(comment=NewComment("Classified by rule bug-words.", Visibility.INTERNAL)),
    ]


def test_multi_call_desk_writes_the_triaged_tag_last() -> None:
    writes = compile_writes(ticket(desk="jira"), ACTIONS, PEOPLE, atomic=False)
    assert writes[0].add_tags == ()
    assert writes[-1] == TicketChanges(add_tags=("hb_triaged",))
    assert len(writes) == 3


def test_only_what_differs_is_written() -> None:
    done = ticket(
        assignee_id="201",
        group_id="11",
        request_type="technical_support",
        requester=Person("300", "Dana", "dana@customer.example"),
        participant_ids=("100", "301"),
        tags=("hb_triaged",),
    )
    writes = compile_writes(done, [a for a in ACTIONS if not isinstance(a, Comment)], PEOPLE, atomic=True)
    assert writes == []


def test_resolve_sets_solved_with_resolution_unless_already_solved() -> None:
    [write] = compile_writes(ticket(), [Resolve(resolution="Done")], People(), atomic=True)
    assert (write.status, write.resolution) == (Status.SOLVED, "Done")
    assert compile_writes(ticket(status=Status.SOLVED), [Resolve()], People(), atomic=True) == []


def test_changes_survive_the_plan_store_round_trip() -> None:
    for write in compile_writes(ticket(), ACTIONS, PEOPLE, atomic=True):
        assert changes_from_json(changes_to_json(write)) == write
