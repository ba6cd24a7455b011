"""Out-of-office and confirmation detection on real-looking customer mails in English, German, French and Spanish.

Each case is a mail as a desk would store the comment, the kind the ladder must see, and for auto-replies the
return date. The near misses are the mails that would hurt most if misread: a customer who mentions an absence,
asks whether it is fixed, or says it is not.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from bot.policy.replies import ReplyKind, classify_reply, own_text

SENT = datetime(2026, 3, 2, 8, 15, tzinfo=UTC)  # Monday 2 March 2026
OOO, CONFIRM, REPLY = ReplyKind.OUT_OF_OFFICE, ReplyKind.CONFIRMATION, ReplyKind.REPLY

MAILS: list[tuple[str, str, ReplyKind, date | None]] = [
    # --- English auto-replies -------------------------------------------------------------------------
    (
        "en-outlook",
        "Thank you for your email. I am currently out of the office until Monday, 9 March with limited access to "
        "email. For urgent matters please contact helpdesk@acme.test.",
        OOO,
        date(2026, 3, 9),
    ),
    ("en-back-on", "Hi, I'm on annual leave and will be back on 12 March 2026. Regards, Cathy", OOO, date(2026, 3, 12)),
    ("en-return", "I am away from the office and will return on March 10th.\nBest, Cathy", OOO, date(2026, 3, 10)),
    ("en-automatic", "This is an automatic reply. Your message has been received.", OOO, None),
    ("en-will-be", "I will be out of the office from 2 March to 6 March.", OOO, date(2026, 3, 6)),
    ("en-relative", "I'm OOO, back Thursday.", OOO, date(2026, 3, 5)),
    ("en-no-date", "I am currently travelling with no access to email until further notice.", OOO, None),
    (
        "en-inclusive",
        "I'm on vacation until and including Friday 6 March. Your email will not be forwarded.",
        OOO,
        date(2026, 3, 7),
    ),
    # --- German ------------------------------------------------------------------------------------------
    (
        "de-outlook",
        "Vielen Dank für Ihre Nachricht. Ich bin bis einschließlich 6. März nicht im Büro. Ihre E-Mail wird nicht "
        "weitergeleitet. In dringenden Fällen wenden Sie sich bitte an support@acme.test.",
        OOO,
        date(2026, 3, 7),
    ),
    (
        "de-wieder-ab",
        "Guten Tag, ich befinde mich im Urlaub und bin ab dem 10.03.2026 wieder erreichbar.",
        OOO,
        date(2026, 3, 10),
    ),
    ("de-vom-bis", "Vom 2. bis 13. März bin ich nicht im Haus. Mit freundlichen Grüßen", OOO, date(2026, 3, 13)),
    ("de-auto", "Dies ist eine automatische Antwort. Ich bin derzeit abwesend.", OOO, None),
    ("de-zurueck", "Ich bin zurzeit außer Haus und wieder am Montag, 9. März im Büro.", OOO, date(2026, 3, 9)),
    # --- French -------------------------------------------------------------------------------------------
    (
        "fr-absent",
        "Bonjour, je suis absente du bureau jusqu'au 9 mars inclus. Pour toute urgence, contactez le 01 23 45 67 89.",
        OOO,
        date(2026, 3, 9),
    ),
    ("fr-retour", "Je suis actuellement en congés. Je serai de retour le 16 mars.", OOO, date(2026, 3, 16)),
    ("fr-du-au", "Je serai absent du 2 au 6 mars, avec un accès limité à mes e-mails.", OOO, date(2026, 3, 6)),
    ("fr-auto", "Ceci est une réponse automatique : je suis en déplacement.", OOO, None),
    # --- Spanish -------------------------------------------------------------------------------------------
    (
        "es-fuera",
        "Gracias por su mensaje. Estoy fuera de la oficina hasta el 9 de marzo, con acceso limitado al correo.",
        OOO,
        date(2026, 3, 9),
    ),
    ("es-vacaciones", "Estoy de vacaciones. Regresaré el 16 de marzo de 2026.", OOO, date(2026, 3, 16)),
    ("es-auto", "Este es un mensaje automático. Me encuentro de viaje del 2 al 5 de marzo.", OOO, date(2026, 3, 5)),
    ("es-estare", "Estaré ausente hasta el lunes 9 de marzo.", OOO, date(2026, 3, 9)),
    # --- Confirmations --------------------------------------------------------------------------------------
    ("en-fixed", "Thanks a lot, that fixed it!", CONFIRM, None),
    ("en-close", "All good now, you can close this ticket. Cheers, Cathy", CONFIRM, None),
    ("en-works", "I cleared the cache as you said and it works now. Thank you!", CONFIRM, None),
    ("en-no-worries", "No worries, everything is working again. Please close the request.", CONFIRM, None),
    ("en-curly", "The update has solved the problem \u2013 you\u2019re welcome to close it.", CONFIRM, None),
    ("en-url", "Works now with the build from https://acme.test/download?v=2.1 - thanks!", CONFIRM, None),
    ("de-funktioniert", "Hallo, danke, funktioniert jetzt! Viele Grüße", CONFIRM, None),
    ("de-schliessen", "Das Problem ist gelöst, Sie können das Ticket schließen.", CONFIRM, None),
    ("de-erledigt", "Hat sich erledigt, danke für die schnelle Hilfe.", CONFIRM, None),
    ("fr-resolu", "Merci, c'est résolu.", CONFIRM, None),
    (
        "fr-marche",
        "Bonjour, après la mise à jour tout fonctionne maintenant. Vous pouvez fermer le ticket.",
        CONFIRM,
        None,
    ),
    ("es-funciona", "¡Gracias! Ya funciona.", CONFIRM, None),
    ("es-cerrar", "El problema está resuelto, pueden cerrar el ticket. Saludos", CONFIRM, None),
    # --- Near misses: plain replies ---------------------------------------------------------------------------
    ("near-en-past-ooo", "Sorry for the delay, I was out of office last week. The error still happens.", REPLY, None),
    (
        "near-en-future-ooo",
        "I'm on vacation next week, so here are the logs you asked for: attached.",
        REPLY,
        None,
    ),
    ("near-en-question", "Is it fixed?", REPLY, None),
    ("near-en-not-resolved", "It is not resolved. The export fails again.", REPLY, None),
    ("near-en-closed-no", "closed? no!", REPLY, None),
    ("near-en-not-fixed", "Unfortunately that has not fixed it.", REPLY, None),
    ("near-en-didnt", "That didn't fix it, it works now only in Chrome.", REPLY, None),
    ("near-en-still", "Still not working. It works now and then, but mostly it crashes.", REPLY, None),
    ("near-en-if", "I'll try tonight and let you know if it works now.", REPLY, None),
    ("near-en-but", "It works now, but the report is empty.", REPLY, None),
    ("near-en-thanks-question", "It works now, thanks! Can you also tell me how to export to CSV?", REPLY, None),
    ("near-en-dont-close", "Please don't close this ticket, I need more time.", REPLY, None),
    ("near-de-nicht", "Es funktioniert jetzt leider immer noch nicht.", REPLY, None),
    ("near-de-urlaub-war", "Ich war im Urlaub, deshalb erst jetzt: der Fehler tritt weiterhin auf.", REPLY, None),
    ("near-de-frage", "Funktioniert jetzt wieder? Bei mir nicht.", REPLY, None),
    ("near-de-wenn", "Ich melde mich, wenn es wieder geht.", REPLY, None),
    ("near-fr-pas", "Ça ne marche toujours pas, le problème n'est pas résolu.", REPLY, None),
    ("near-fr-informal", "Ça marche pas maintenant.", REPLY, None),
    ("near-fr-mais", "C'est résolu pour moi mais pas pour mes collègues.", REPLY, None),
    ("near-es-no", "No, todavía no funciona. El problema no está resuelto.", REPLY, None),
    ("near-es-pregunta", "¿Ya funciona para ustedes? Para mí no.", REPLY, None),
    ("near-es-vacaciones-pasadas", "Estuve de vacaciones la semana pasada. Sigo con el mismo error.", REPLY, None),
    ("plain-en", "Here is the screenshot you asked for. The error code is 0x80070005.", REPLY, None),
    ("plain-de", "Anbei die Logdatei. Der Fehler kommt beim Speichern.", REPLY, None),
    ("de-kurz", "Ich bin bis 13.03. nicht im Büro.", OOO, date(2026, 3, 13)),
    ("near-de-froh", "Ich bin froh. Der Server ist aber nicht erreichbar, seit heute.", REPLY, None),
]


@pytest.mark.parametrize(("name", "body", "kind", "returns"), MAILS, ids=[m[0] for m in MAILS])
def test_customer_mails_are_classified(name: str, body: str, kind: ReplyKind, returns: date | None) -> None:
    result = classify_reply(body, sent_at=SENT)
    assert (result.kind, result.return_date) == (kind, returns), result.reason
    assert result.reason


def test_the_table_covers_four_languages_and_near_misses() -> None:
    assert len(MAILS) >= 40
    assert {m[0].split("-")[0] for m in MAILS if m[2] is OOO} == {"en", "de", "fr", "es"}
    assert {m[0].split("-")[0] for m in MAILS if m[2] is CONFIRM} == {"en", "de", "fr", "es"}
    assert sum(m[0].startswith("near-") for m in MAILS) >= 15


@pytest.mark.parametrize(
    ("headers", "subject"),
    [
        ({"Auto-Submitted": "auto-replied"}, None),
        ({"X-Autoreply": "yes"}, None),
        ({"Precedence": "auto_reply"}, None),
        ({}, "Automatic reply: Printer offline (#42)"),
        ({}, "Abwesenheitsnotiz: AW: Drucker offline"),
        ({}, "Réponse automatique : Imprimante"),
        ({}, "Respuesta automática: Impresora"),
        ({}, "Out of Office: Printer"),
        ({"X-Autorespond": "Out of office"}, None),
        ({}, "Absence: Printer offline"),
        ({}, "Fuera de la oficina: Impresora"),
        ({}, "AW: Abwesenheitsnotiz"),
    ],
)
def test_headers_and_subjects_mark_auto_replies_whatever_the_text(headers: dict[str, str], subject: str | None) -> None:
    result = classify_reply("Back on 9 March.", sent_at=SENT, headers=headers, subject=subject)
    assert result.kind is OOO and result.return_date == date(2026, 3, 9)
    assert (headers and next(iter(headers)) in result.reason) or (subject and subject in result.reason)


def test_auto_submitted_no_and_ordinary_subjects_are_not_auto_replies() -> None:
    body = "Thanks, that fixed it."
    assert classify_reply(body, sent_at=SENT, headers={"Auto-Submitted": "no"}).kind is CONFIRM
    assert classify_reply(body, sent_at=SENT, subject="Re: Printer offline").kind is CONFIRM
    assert classify_reply(body, sent_at=SENT, subject="Re: Absences in the report").kind is CONFIRM


def test_reasons_name_the_pattern_or_the_veto() -> None:
    ooo = classify_reply("Ich bin derzeit nicht im Büro.", sent_at=SENT)
    assert ooo.language == "de" and "nicht im büro" in ooo.reason
    confirmed = classify_reply("Merci, c'est résolu.", sent_at=SENT)
    assert confirmed.language == "fr" and "c'est résolu" in confirmed.reason
    assert "negated ('nicht')" in classify_reply("Funktioniert jetzt nicht.", sent_at=SENT).reason
    assert "negated ('not')" in classify_reply("Works again for you, not for me.", sent_at=SENT).reason
    assert "question" in classify_reply("That fixed it?", sent_at=SENT).reason
    assert "'but'" in classify_reply("It works now, but slowly.", sent_at=SENT).reason
    assert "conditional ('if')" in classify_reply("Tell me if that fixed it.", sent_at=SENT).reason


def test_return_dates_are_relative_to_when_the_comment_was_written() -> None:
    body = "I am out of the office until Monday."
    assert classify_reply(body, sent_at=SENT).return_date == date(2026, 3, 9)
    assert classify_reply(body, sent_at=SENT + timedelta(days=7)).return_date == date(2026, 3, 16)
    # A year-less date that already passed this year is next year's; one in the customer's zone counts.
    assert classify_reply("I'm away until 5 January.", sent_at=datetime(2026, 12, 28, tzinfo=UTC)).return_date == date(
        2027, 1, 5
    )
    late = datetime(2026, 3, 6, 23, 30, tzinfo=UTC)  # already Saturday in Berlin
    tz = timezone(timedelta(hours=1))
    assert classify_reply("I'm away until tomorrow.", sent_at=late).return_date == date(2026, 3, 7)
    assert classify_reply("I'm away until tomorrow.", sent_at=late, zone=tz).return_date == date(2026, 3, 8)
    berlin = classify_reply("Ich bin ab Montag wieder im Büro. Ich bin derzeit abwesend.", sent_at=late, zone=tz)
    assert berlin.return_date == date(2026, 3, 9)


def test_a_return_date_in_the_past_is_ignored() -> None:
    result = classify_reply("I am out of the office until 1 February 2026.", sent_at=SENT)
    assert result.kind is OOO and result.return_date is None


def test_quoted_history_does_not_count() -> None:
    body = (
        "Still broken after the reboot.\n\n"
        "On Mon, 2 Mar 2026 at 09:00, Acme Support <support@acme.test> wrote:\n"
        "> Did that fix it? If it works now you can close this ticket.\n"
    )
    assert own_text(body) == "Still broken after the reboot."
    assert classify_reply(body, sent_at=SENT).kind is REPLY
    outlook = (
        "Funktioniert jetzt, danke!\n\nVon: Support <support@acme.test>\nGesendet: Montag, 2. März 2026\nBetreff: x"
    )
    assert classify_reply(outlook, sent_at=SENT).kind is CONFIRM
    quoted_ooo = "Here are the logs.\n\n-----Original Message-----\nI am currently out of the office until 9 March."
    assert classify_reply(quoted_ooo, sent_at=SENT).kind is REPLY


def test_naive_sent_at_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        classify_reply("hi", sent_at=datetime(2026, 3, 2))  # naive on purpose
