"""Classification details (word boundaries, desk values, every condition) and forwarded mails the other
table does not cover: the forwarder's own reply first, wrapped CC lists, extra headers, French Apple Mail."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.policy.classify import classify
from bot.policy.forwarded import parse_forwarded
from bot.policy.schema import Policy, load_policy
from tests.policy.helpers import ticket

DEFAULT = load_policy(None)


@pytest.mark.parametrize(
    ("subject", "description", "request_type"),
    [
        ("Please unlock my account", "I typed the wrong password three times.", "phone_only"),
        ("Can't log in after password reset", "The new password is rejected on the login page.", "technical_support"),
        ("Outage: nobody can check out", "Since 09:05 the checkout page spins forever for all customers.", "incident"),
        ("Feature idea: dark mode", "A dark theme would be great for late shifts.", "feedback"),
        (
            "Change our SSO settings",
            "We move from Okta to Entra ID next week, please update SAML metadata.",
            "configuration_change",
        ),
        ("Invoice copy", "Could you send me the invoice for February again?", "general_inquiry"),
        ("Error in the blogging module", "Saving a draft shows a red banner.", "technical_support"),
        ("Question about errorless imports", "How do imports handle duplicates?", "general_inquiry"),
        ("Lost my authenticator app", "New phone, the authenticator app is gone.", "phone_only"),
    ],
)
def test_keywords_match_whole_words_case_insensitively(subject: str, description: str, request_type: str) -> None:
    result = classify(ticket(subject, description), DEFAULT)
    assert result.request_type == request_type, result.why


def test_the_reason_names_what_matched() -> None:
    result = classify(ticket("Checkout ERROR", "Hi"), DEFAULT)
    assert result.rule_name == "possible-bug"
    assert "'error'" in result.why
    assert classify(ticket("Invoice copy", "Thanks"), DEFAULT).why == "no rule matched"


POLICY = Policy.model_validate(
    {
        "desks": {
            "jira": {
                "groups": {"support": "support"},
                "request_types": {"feedback": "4"},
                "organizations": {"acme": "1"},
            },
            "zendesk": {"groups": {"support": "201"}, "organizations": {"acme": "401"}},
        },
        "triage": {
            "rules": [
                {"name": "picked", "match": {"request_type": ["feedback"]}, "request_type": "feedback"},
                {
                    "name": "acme-subject",
                    "match": {"subject_keywords": ["urgent"], "organization": ["acme"]},
                    "request_type": "incident",
                },
                {"name": "body", "match": {"description_keywords": ["invoice"]}, "request_type": "general_inquiry"},
            ],
            "default": {"request_type": "technical_support"},
        },
    }
)


def test_customer_picked_type_is_matched_through_each_desk_s_own_value() -> None:
    assert classify(ticket(desk="jira", request_type="4"), POLICY).rule_name == "picked"
    assert classify(ticket(desk="zendesk", request_type="feedback"), POLICY).rule_name == "picked"
    assert classify(ticket(desk="jira", request_type="2"), POLICY).rule_name == "default"


def test_all_conditions_of_a_rule_must_hold() -> None:
    assert classify(ticket("URGENT: help", desk="jira", organization_id="1"), POLICY).request_type == "incident"
    assert classify(ticket("URGENT: help", desk="jira", organization_id="2"), POLICY).rule_name == "default"
    assert classify(ticket("Help", "urgent", organization_id="401"), POLICY).rule_name == "default"  # subject only
    assert classify(ticket("Invoice", "no"), POLICY).rule_name == "default"  # description only
    assert classify(ticket("Hi", "Where is my invoice?"), POLICY).rule_name == "body"


THREAD = """Cathy's mail below, I already answered once.

---------- Forwarded message ---------
From: Sam Staff <sam@example.com>
Date: Mon, 2 Mar 2026 at 10:01
Subject: Re: Export is broken
To: Cathy Customer <cathy@acme.test>

Looking into it.

On Mon, 2 Mar 2026 at 09:12 Cathy wrote:
> From: Cathy Customer <cathy@acme.test>
> Sent: Monday, March 2, 2026 9:12 AM
> To: Sam Staff <sam@example.com>
> Subject: Export is broken
>
> The CSV export fails."""


def test_the_forwarder_s_own_reply_is_passed_over() -> None:
    assert parse_forwarded(THREAD).sender_email == "sam@example.com"  # type: ignore[union-attr]
    found = parse_forwarded(THREAD, skip={"Sam@Example.com"})
    assert found is not None
    assert (found.sender_email, found.sender_name, found.subject) == (
        "cathy@acme.test",
        "Cathy Customer",
        "Export is broken",
    )


WRAPPED = """-----Original Message-----
From: Gary Globex <gary@globex.test>
Sent: Tuesday, March 3, 2026 8:00 AM
To: support@example.com
Cc: Ann One <ann@globex.test>; Ben Two <ben@globex.test>;
    Cy Three <cy@globex.test>
Importance: High
Reply-To: gary.private@globex.test
Subject: Dashboard slow

It takes a minute to load."""


def test_wrapped_cc_lists_and_extra_headers_stay_in_the_block() -> None:
    found = parse_forwarded(WRAPPED)
    assert found is not None
    assert found.cc == ("ann@globex.test", "ben@globex.test", "cy@globex.test")
    assert found.subject == "Dashboard slow"


APPLE_FR = """Pour info

Début du message réexpédié :

De : Camille Client <camille@acme.test>
Objet : Facture manquante
Date : 2 mars 2026 à 09:12:00 UTC+1
À : support@example.com
Cc : compta@acme.test

Bonjour"""


def test_french_apple_mail() -> None:
    found = parse_forwarded(APPLE_FR)
    assert found is not None
    assert (found.sender_email, found.sender_name, found.cc, found.subject) == (
        "camille@acme.test",
        "Camille Client",
        ("compta@acme.test",),
        "Facture manquante",
    )


def test_from_without_a_name_and_no_other_header_is_not_a_forward() -> None:
    assert parse_forwarded("From: cathy@acme.test\nSent: Monday\nTo: a@example.com").sender_name is None  # type: ignore[union-attr]
    assert parse_forwarded("Mail me from: cathy@acme.test please") is None


HEADERISH = st.sampled_from(["From: ", "> From: ", "Von: ", "De : ", "Cc: ", "Subject: ", "To: ", "*From:* ", "\n"])
TEXT = st.lists(st.one_of(HEADERISH, st.text(max_size=40), st.emails()), max_size=25).map("".join)


@settings(max_examples=300, deadline=None)
@given(body=TEXT, subject=st.text(max_size=60))
def test_any_text_classifies_and_parses_without_error(body: str, subject: str) -> None:
    found = parse_forwarded(body, skip={"sam@example.com"})
    if found is not None:
        assert "@" in found.sender_email and found.sender_email != "sam@example.com"
        assert all("@" in e for e in found.cc)
    assert classify(ticket(subject, body), DEFAULT).request_type in DEFAULT.triage.request_types
