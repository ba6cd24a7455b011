"""Forwarded customer mails in the forms real mail clients write them."""

from __future__ import annotations

import pytest

from bot.policy.forwarded import parse_forwarded

GMAIL = """Hi team, see below.

---------- Forwarded message ---------
From: Cathy Customer <cathy@acme.test>
Date: Mon, 2 Mar 2026 at 09:12
Subject: Export is broken
To: Sam Staff <sam@example.com>
Cc: Gary Globex <gary@globex.test>, ops@acme.test

The CSV export fails."""

OUTLOOK = """Can you take this one?

-----Original Message-----
From: Hans Müller <hans.mueller@acme.test>
Sent: Monday, March 2, 2026 9:12 AM
To: Sam Staff <sam@example.com>
Cc: "Doe, Jane" <jane.doe@acme.test>; it@acme.test
Subject: Login problem

Hello, I cannot log in."""

OUTLOOK_WEB = """FYI

________________________________
From: "Müller, Hans" [mailto:hans.mueller@acme.test]
Sent: Monday, 2 March 2026 09:12
To: support@example.com
Subject: Problem

body"""

OUTLOOK_BOLD = """

________________________________
*From:* Gary Globex <gary@globex.test>
*Sent:* Monday, March 2, 2026 9:12:44 AM
*To:* Sam Staff <sam@example.com>
*Subject:* Invoice

Text"""

APPLE = """Forwarding.

Begin forwarded message:

From: Cathy Customer <cathy@acme.test>
Subject: Re: Upgrade
Date: 2 March 2026 at 09:12:00 CET
To: sam@example.com

Please upgrade us."""

THUNDERBIRD = """-------- Forwarded Message --------
Subject: 	Renewal
Date: 	Mon, 2 Mar 2026 09:12:00 +0100
From: 	Cathy Customer <cathy@acme.test>
To: 	sam@example.com

text"""

GERMAN = """Bitte übernehmen.

---------- Weitergeleitete Nachricht ---------
Von: Hans Müller <hans.mueller@acme.test>
Datum: Mo., 2. März 2026 um 09:12 Uhr
Betreff: Zugang gesperrt
An: Sam Staff <sam@example.com>
Cc: Eva Schmidt <eva.schmidt@acme.test>

Hallo"""

GERMAN_OUTLOOK = """-----Ursprüngliche Nachricht-----
Von: Müller, Hans <hans.mueller@acme.test>
Gesendet: Montag, 2. März 2026 09:12
An: support@example.com
Betreff: Rechnung

Text"""

FRENCH = """---------- Message transféré ---------
De : Claire Dubois <claire@acme.test>
Date : lun. 2 mars 2026 à 09:12
Objet : Facture
À : sam@example.com
Cc : paul@acme.test

Bonjour"""

BARE_ADDRESS = """---------- Forwarded message ---------
From: cathy@acme.test
Date: Mon, 2 Mar 2026
Subject: Hello
To: sam@example.com

hi"""

QUOTED = """> ---------- Forwarded message ---------
> From: Cathy Customer <cathy@acme.test>
> Date: Mon, 2 Mar 2026
> Subject: Quoted
> To: sam@example.com
>
> body"""

NESTED = """---------- Forwarded message ---------
From: Cathy Customer <cathy@acme.test>
Date: Tue, 3 Mar 2026
Subject: Fwd: older thread
To: sam@example.com

See the thread.

---------- Forwarded message ---------
From: Gary Globex <gary@globex.test>
Date: Mon, 2 Mar 2026
Subject: older thread
To: cathy@acme.test
"""

CASES = [
    ("gmail", GMAIL, "cathy@acme.test", "Cathy Customer", ("gary@globex.test", "ops@acme.test"), "Export is broken"),
    (
        "outlook",
        OUTLOOK,
        "hans.mueller@acme.test",
        "Hans Müller",
        ("jane.doe@acme.test", "it@acme.test"),
        "Login problem",
    ),
    ("outlook-web", OUTLOOK_WEB, "hans.mueller@acme.test", "Müller, Hans", (), "Problem"),
    ("outlook-bold", OUTLOOK_BOLD, "gary@globex.test", "Gary Globex", (), "Invoice"),
    ("apple-mail", APPLE, "cathy@acme.test", "Cathy Customer", (), "Re: Upgrade"),
    ("thunderbird", THUNDERBIRD, "cathy@acme.test", "Cathy Customer", (), "Renewal"),
    ("german-gmail", GERMAN, "hans.mueller@acme.test", "Hans Müller", ("eva.schmidt@acme.test",), "Zugang gesperrt"),
    ("german-outlook", GERMAN_OUTLOOK, "hans.mueller@acme.test", "Müller, Hans", (), "Rechnung"),
    ("french", FRENCH, "claire@acme.test", "Claire Dubois", ("paul@acme.test",), "Facture"),
    ("bare-address", BARE_ADDRESS, "cathy@acme.test", None, (), "Hello"),
    ("quoted", QUOTED, "cathy@acme.test", "Cathy Customer", (), "Quoted"),
    ("nested-outermost-wins", NESTED, "cathy@acme.test", "Cathy Customer", (), "Fwd: older thread"),
]


@pytest.mark.parametrize(("name", "body", "email", "sender", "cc", "subject"), CASES, ids=[c[0] for c in CASES])
def test_forwarded_headers(
    name: str, body: str, email: str, sender: str | None, cc: tuple[str, ...], subject: str
) -> None:
    found = parse_forwarded(body)
    assert found is not None
    assert (found.sender_email, found.sender_name, found.cc, found.subject) == (email, sender, cc, subject)


@pytest.mark.parametrize(
    "body",
    [
        "Hello, my export is broken. From: the finance team",
        "Please reset the From: field of the template.",
        "",
        "From: nobody",
    ],
)
def test_ordinary_mails_are_not_forwards(body: str) -> None:
    assert parse_forwarded(body) is None
