"""Classification of realistic tickets with the packaged default policy (first matching rule wins)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.domain.tickets import Person, Status, Ticket
from bot.policy.classify import classify
from bot.policy.schema import load_policy

POLICY = load_policy(None)
T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def ticket(subject: str, body: str, **extra: object) -> Ticket:
    values: dict[str, object] = {
        "desk": "zendesk",
        "id": "7",
        "subject": subject,
        "description": body,
        "status": Status.NEW,
        "requester": Person("301", "Cathy Customer", "cathy@acme.test"),
        "created_at": T0,
        "updated_at": T0,
        "version": "v1",
    }
    values.update(extra)
    return Ticket(**values)  # type: ignore[arg-type]


CASES = [
    # phone-only service requests
    (
        "Password reset",
        "Hi, I forgot my password and the reset link expired. Can you reset it?",
        "phone_only",
        "phone-only",
    ),
    ("Can't sign in", "Please reset my password, I am locked out since this morning.", "phone_only", "phone-only"),
    ("MFA token lost", "I got a new phone and lost my MFA token, please help.", "phone_only", "phone-only"),
    ("Account locked", "My account locked after 3 attempts. Please unlock my account.", "phone_only", "phone-only"),
    ("2FA", "The 2FA code never arrives by SMS.", "phone_only", "phone-only"),
    ("New authenticator app", "How do I move the authenticator to my new phone?", "phone_only", "phone-only"),
    # a hardware token (BoilerKey) reset: phone-only although "not working" also reads like a bug
    (
        "BoilerKey not working",
        "My BoilerKey hardware token is not working since the battery died. Can you reset it?",
        "phone_only",
        "phone-only",
    ),
    ("Token reset", "I need a token reset for my BoilerKey fob, it shows an error.", "phone_only", "phone-only"),
    ("Two factor", "My two factor device broke, please issue a new one.", "phone_only", "phone-only"),
    # incidents
    ("Outage: nobody can check out", "Since 14:05 nobody can complete a checkout in our shop.", "incident", "incident"),
    ("Production down", "Our production is down, every page shows a blank screen.", "incident", "incident"),
    ("SEV1 - API unreachable", "sev1: the API is unreachable for all users.", "incident", "incident"),
    ("Everything is down for everyone", "The dashboard is down for everyone in our company.", "incident", "incident"),
    # technical support / possible bug
    (
        "Production API returns 500 since 10:00",
        "Every call to /v1/orders fails with 500.",
        "technical_support",
        "possible-bug",
    ),
    ("Export broken", "The CSV export is broken since the last update.", "technical_support", "possible-bug"),
    ("App crashes on start", "The iOS app crashes when I open it.", "technical_support", "possible-bug"),
    ("Error when saving", "I get an error 'invalid token' when saving the form.", "technical_support", "possible-bug"),
    ("Sync not working", "The calendar sync is not working anymore.", "technical_support", "possible-bug"),
    (
        "Cannot log in to the mobile app",
        "I cannot log in to the mobile app with the right password.",
        "technical_support",
        "possible-bug",
    ),
    (
        "Stack trace in logs",
        "We see a NullPointerException stack trace in the connector logs.",
        "technical_support",
        "possible-bug",
    ),
    (
        "Webhook delivery failing",
        "Your webhook calls to our endpoint are failing with timeouts.",
        "technical_support",
        "possible-bug",
    ),
    # configuration changes
    (
        "Change our SSO settings",
        "Please switch our SAML certificate to the new one attached.",
        "configuration_change",
        "configuration",
    ),
    ("Add user", "Please add user jane@acme.test to our workspace.", "configuration_change", "configuration"),
    (
        "Enable API access",
        "Could you enable API access for our sandbox tenant?",
        "configuration_change",
        "configuration",
    ),
    ("Permissions", "Bob needs admin permissions on the billing module.", "configuration_change", "configuration"),
    (
        "Configure retention",
        "We would like to configure a 90-day data retention.",
        "configuration_change",
        "configuration",
    ),
    # feedback
    ("Feature idea: dark mode", "It would be great to have a dark mode.", "feedback", "feedback"),
    ("Suggestion", "A suggestion: show the invoice number on the receipt.", "feedback", "feedback"),
    ("Feedback on the new editor", "Some feedback: the new editor feels much faster.", "feedback", "feedback"),
    ("Feature request - bulk export", "Feature request: bulk export of all reports.", "feedback", "feedback"),
    ("Wish", "I wish the mobile app had offline mode.", "feedback", "feedback"),
    # general inquiries (no rule: the default)
    ("Question about invoices", "Where can I download my invoice for February?", "general_inquiry", "default"),
    ("Opening hours", "Are you open on public holidays?", "general_inquiry", "default"),
    ("Pricing", "What does the enterprise plan cost for 50 seats?", "general_inquiry", "default"),
    ("Renewal date", "When is our contract up for renewal?", "general_inquiry", "default"),
    # word boundaries: no false positives from substrings
    ("Blog index", "Where is the blog index of your release notes?", "general_inquiry", "default"),
    ("Errorless import?", "Is an errorless import guaranteed for 10k rows?", "general_inquiry", "default"),
    ("Unicode: Überweisung", "Wann wird meine Überweisung verbucht?", "general_inquiry", "default"),
]


@pytest.mark.parametrize(("subject", "body", "request_type", "rule"), CASES, ids=[c[0] for c in CASES])
def test_default_policy_classifies(subject: str, body: str, request_type: str, rule: str) -> None:
    result = classify(ticket(subject, body), POLICY)
    assert (result.request_type, result.rule_name) == (request_type, rule), result.why
    assert result.why


def test_first_matching_rule_wins() -> None:
    """A password reset that also mentions an error is still phone-only: that rule comes first."""
    result = classify(ticket("Password reset error", "Reset my password please, I get an error."), POLICY)
    assert result.rule_name == "phone-only"


def test_other_conditions_form_tags_channel_organization() -> None:
    policy = POLICY.model_validate(
        {
            "desks": {"zendesk": {"groups": {"support": "201"}, "organizations": {"acme": "401"}}},
            "triage": {
                "rules": [
                    {
                        "name": "vip",
                        "match": {"organization": ["acme"], "channel": ["email"]},
                        "request_type": "incident",
                    },
                    {"name": "tagged", "match": {"tags": ["billing"]}, "request_type": "general_inquiry"},
                    {"name": "form", "match": {"form": ["55"]}, "request_type": "configuration_change"},
                    {"name": "picked", "match": {"request_type": ["feedback"]}, "request_type": "feedback"},
                ]
            },
        }
    )
    assert classify(ticket("x", "y", organization_id="401", channel="email"), policy).rule_name == "vip"
    assert classify(ticket("x", "y", organization_id="401", channel="web"), policy).rule_name == "default"
    assert classify(ticket("x", "y", tags=("billing",)), policy).rule_name == "tagged"
    assert classify(ticket("x", "y", form="55"), policy).rule_name == "form"
    assert classify(ticket("x", "y", request_type="feedback"), policy).rule_name == "picked"
