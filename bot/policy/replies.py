"""What a customer's comment means for the follow-up ladder: an out-of-office auto-reply, a confirmation that the
problem is solved, or a plain reply.

The two special kinds change what the bot does next, and both are costly when wrong. An auto-reply taken for a
reply stops the strikes against a customer who is away; a reply taken for an auto-reply puts a real answer on
hold. A confirmation resolves the ticket, so the test is conservative: a negation, a question, a condition or a
"but" anywhere near it makes the comment a plain reply, which an agent reads. The patterns cover English,
German, French and Spanish; quoted history (the agent's own "did that fix it?" below the reply) is cut off first.

Return dates ("back on 9 March", "bis einschließlich 6. März", "de retour le 9 mars", "hasta el 9 de marzo")
are read with `dateparser`, restricted to the language whose pattern matched and relative to when the comment
was written, so the result is deterministic and needs no language detection.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

import dateparser.search
from dateparser.date import DateDataParser

from bot.policy.forwarded import MARKERS

LANGUAGES = ("en", "de", "fr", "es")


class ReplyKind(enum.StrEnum):
    OUT_OF_OFFICE = "out_of_office"
    CONFIRMATION = "confirmation"
    REPLY = "reply"


@dataclass(frozen=True)
class ReplyClass:
    """The kind of a comment, the reason (which header or pattern decided, or what vetoed a confirmation), the
    language of the pattern, and for an auto-reply the date it names as the end of the absence."""

    kind: ReplyKind
    reason: str
    language: str | None = None
    return_date: date | None = None


# --- Auto-replies ---------------------------------------------------------------------------------------------

AUTO_HEADERS: Mapping[str, re.Pattern[str]] = {
    "auto-submitted": re.compile(r"^(?!no\b)\S", re.IGNORECASE),  # RFC 3834: anything but "no"
    "x-autoreply": re.compile(r"^(yes|true|1)\b", re.IGNORECASE),
    "x-autorespond": re.compile(r"\S"),
    "precedence": re.compile(r"^auto_reply\b", re.IGNORECASE),
    "x-auto-response-suppress": re.compile(r"\b(all|oof|autoreply)\b", re.IGNORECASE),
}
"""Headers mail servers set on automatic answers (RFC 3834, Exchange, common vacation responders)."""

AUTO_SUBJECT = re.compile(
    r"^\s*(?:(?:re|aw|wg|fw|fwd|tr|rv)\s*:\s*)*(?:automatic reply|auto[- ]?reply|autoreply|out of (?:the )?office|"
    r"ooo\b|abwesenheitsnotiz|automatische antwort|abwesend|réponse automatique|absence du bureau|absence\b|absent\b|"
    r"respuesta automática|fuera de la oficina|ausente\b)",
    re.IGNORECASE,
)
"""Subjects of Outlook, Exchange and Gmail auto-replies in the four languages."""

_AWAY_EN = (
    r"(?:out of (?:the |my )?office|ooo|away from (?:the |my )?(?:office|desk)|away|"
    r"on (?:annual |parental |maternity |paternity |sick |medical )?(?:leave|vacation|holidays?)|travell?ing|off work)"
)
OUT_OF_OFFICE: Mapping[str, tuple[tuple[str, re.Pattern[str]], ...]] = {
    "en": (
        (
            "automatic reply",
            re.compile(r"\bthis is an? (?:automatic|automated|auto-generated) (?:reply|response|message)"),
        ),
        ("away now", re.compile(rf"\b(?:i am|i'm|im) (?:currently |now |presently )?{_AWAY_EN}\b")),
        ("away until", re.compile(rf"\bi (?:will|shall) be {_AWAY_EN} (?:until|till|through|from|between)\b")),
    ),
    "de": (
        (
            "automatic reply",
            re.compile(r"\b(?:dies|das) ist eine automatische (?:antwort|nachricht|e-?mail|abwesenheitsnotiz)"),
        ),
        (
            "away now",
            re.compile(
                r"\b(?:ich bin|bin ich|ich befinde mich|befinde ich mich)\b(?:[^.\n]|(?<=\d)\.){0,40}?"
                r"\b(?:nicht im (?:büro|haus)|nicht erreichbar|außer haus|abwesend|im urlaub|in (?:elternzeit|urlaub)|"
                r"auf dienstreise)"
            ),
        ),
        ("notice", re.compile(r"\babwesenheitsnotiz\b")),
    ),
    "fr": (
        ("automatic reply", re.compile(r"\b(?:ceci est|c'est) une? (?:réponse|message) automatique")),
        (
            "away now",
            re.compile(
                r"\bje suis (?:actuellement |présentement )?(?:absente?|en (?:congés?|vacances|déplacement)|"
                r"(?:hors|en dehors) du bureau)"
            ),
        ),
        ("away until", re.compile(r"\bje serai absente? (?:du bureau )?(?:du \d|jusqu)")),
    ),
    "es": (
        ("automatic reply", re.compile(r"\b(?:este|esta|es) (?:es )?(?:un|una) (?:mensaje|respuesta) automátic[oa]")),
        (
            "away now",
            re.compile(
                r"\b(?:estoy|me encuentro) (?:actualmente |ahora )?(?:fuera de (?:la )?oficina|de vacaciones|ausente|"
                r"de permiso|de viaje)"
            ),
        ),
        ("away until", re.compile(r"\bestaré (?:fuera de (?:la )?oficina|de vacaciones|ausente) (?:hasta|del|desde)")),
    ),
}
"""First-person, present-tense statements of absence: "I was out of office last week" is a plain reply."""

NOT_NOW = re.compile(
    r"\b(?:next|last|this coming) (?:week|month|monday|tuesday|wednesday|thursday|friday)|\btomorrow\b|\blater\b"
    r"|\b(?:nächste|letzte|kommende|vergangene)n? woche|\bmorgen\b|\bsemaine (?:prochaine|dernière)|\bdemain\b"
    r"|\b(?:la )?(?:próxima|pasada) semana|\bla semana (?:que viene|pasada)|\bmañana\b"
)
"""An absence stated for another time ("I'm on vacation next week, here are the logs") is a person writing."""

_DAY = r"(?P<date>[^\n]{1,45})"
RETURN_CUES: Mapping[str, tuple[re.Pattern[str], ...]] = {
    "en": (
        re.compile(
            rf"\b(?:back|return(?:ing)?)(?: to (?:the|my) (?:office|desk))?(?: in the office)? (?:on |by )?{_DAY}"
        ),
        re.compile(rf"\b(?:until|till|through|thru)(?P<incl> and including)? {_DAY}"),
        re.compile(rf"\bfrom [^\n]{{1,30}}? (?:to|-|\u2013) {_DAY}"),
    ),
    "de": (
        re.compile(rf"\b(?:wieder|zurück) (?:ab|am) (?:dem )?{_DAY}"),
        re.compile(rf"\bbis(?P<incl> einschließlich| einschl\.| inklusive| inkl\.)?(?: zum| am)? {_DAY}"),
        re.compile(rf"\bab (?:dem |kommendem |kommenden )?(?!sofort){_DAY}"),
    ),
    "fr": (
        re.compile(
            rf"\b(?:de retour|retour prévu|je reviendrai|je serai de retour)(?: au bureau)? (?:le |à partir du )?{_DAY}"
        ),
        re.compile(rf"\bjusqu'(?:au|à)(?P<incl> inclus)? {_DAY}"),
        re.compile(rf"\bdu [^\n]{{1,20}}? au {_DAY}"),
    ),
    "es": (
        re.compile(
            rf"\b(?:regresaré|volveré|estaré de (?:vuelta|regreso)|de vuelta|de regreso)(?: a la oficina)? "
            rf"(?:el |a partir del )?{_DAY}"
        ),
        re.compile(rf"\bhasta(?P<incl> e incluyendo)?(?: el)? {_DAY}"),
        re.compile(rf"\bdel [^\n]{{1,20}}? al {_DAY}"),
    ),
}
"""Where a return date is written; `incl` marks "until and including X", whose day back is X + 1."""

_DATE_ORDER = {"en": "MDY", "de": "DMY", "fr": "DMY", "es": "DMY"}

# --- Confirmations ----------------------------------------------------------------------------------------------

CONFIRMATIONS: Mapping[str, tuple[re.Pattern[str], ...]] = {
    "en": (
        re.compile(
            r"\b(?:that|this|it|which|your (?:fix|suggestion|solution|answer|advice)|"
            r"the (?:fix|update|patch|workaround|reset|change)) (?:has |have |did |really )?"
            r"(?:fixed|solved|resolved|sorted) (?:it|the (?:problem|issue)|my (?:problem|issue)|things)"
        ),
        re.compile(r"\b(?:it|everything|all|this) (?:works|is working|'s working|is fine|works fine) (?:now|again)\b"),
        re.compile(r"\b(?:works|working) (?:now|again|perfectly now|fine now)\b"),
        re.compile(r"\ball (?:good|working|sorted|fine) now\b"),
        re.compile(r"\b(?:problem|issue) (?:is |has been )?(?:solved|resolved|fixed|gone)\b"),
        re.compile(
            r"\b(?:you can|you may|feel free to|please|go ahead and|ok to|okay to) close (?:this|the|my|it)\b"
            r"(?: (?:ticket|request|case|issue))?"
        ),
        re.compile(r"\b(?:ticket|request|case) can be closed\b"),
    ),
    "de": (
        re.compile(r"\b(?:funktioniert|klappt|läuft|geht) (?:jetzt|wieder|nun|inzwischen)\b"),
        re.compile(r"\b(?:problem|fehler) (?:ist |wurde )?(?:jetzt |nun )?(?:gelöst|behoben)\b"),
        re.compile(r"\b(?:hat sich|ist) (?:damit |jetzt )?erledigt\b"),
        re.compile(r"\bhat (?:jetzt |nun )?geklappt\b"),
        re.compile(r"\b(?:sie )?können (?:das ticket|die anfrage|den fall) (?:jetzt |gerne )?schließen\b"),
        re.compile(r"\b(?:ticket|anfrage) kann (?:jetzt |gerne )?geschlossen werden\b"),
    ),
    "fr": (
        re.compile(r"\bc'est (?:résolu|réglé|bon maintenant)\b"),
        re.compile(r"\b(?:ça|cela|tout) (?:fonctionne|marche) (?:maintenant|à nouveau|de nouveau|désormais)\b"),
        re.compile(r"\b(?:le )?problème (?:est )?(?:résolu|réglé)\b"),
        re.compile(r"\bvous pouvez (?:fermer|clôturer|clore) (?:le ticket|la demande|ce ticket|cette demande)\b"),
        re.compile(r"\b(?:le ticket|la demande) peut être (?:fermée?|clôturée?)\b"),
    ),
    "es": (
        re.compile(r"\bya funciona\b"),
        re.compile(r"\bfunciona (?:bien |correctamente )?(?:ahora|de nuevo)\b"),
        re.compile(r"\b(?:ya )?(?:está|quedó) (?:resuelto|solucionado|arreglado)\b"),
        re.compile(r"\b(?:el )?problema (?:está |ha sido |quedó )?(?:resuelto|solucionado)\b"),
        re.compile(r"\bse ha (?:resuelto|solucionado)\b"),
        re.compile(r"\b(?:pueden|puede|podéis) cerrar (?:el|la|este|esta) (?:ticket|caso|solicitud|incidencia)\b"),
    ),
}

NEGATION = re.compile(
    r"\b(?:not|no|never|nothing|neither|nor|still|yet|hardly|cannot|without|unable)\b|n't\b"  # en
    r"|\b(?:nicht|kein|keine|keinen|keiner|nie|niemals|weiterhin)\b"  # de
    r"|\b(?:ne|n|pas|plus|jamais|aucun|aucune)\b"  # fr
    r"|\b(?:nunca|todavía|aún|sigue|siguen|tampoco|ni)\b"  # es ("no" as in en)
)
"""Words that turn a confirmation around when they share its sentence ("that did not fix it", "ça marche pas")."""

CONDITIONS = re.compile(
    r"\b(?:if|whether|once|when|unless|wenn|falls|ob|sobald|si|lorsque|quand|dès que|cuando|en cuanto)\b"
)
CONTRASTS = re.compile(
    r"\b(?:but|however|although|except|apart from|aber|jedoch|allerdings|außer|trotzdem|mais|cependant|sauf|"
    r"pourtant|pero|sin embargo|excepto|salvo|aunque)\b"
)
_HARMLESS = re.compile(r"\bno (?:worries|problem|rush|hurry)\b|\bkein problem\b|\bpas de (?:souci|problème)\b")
"""Set phrases with a negation word that negate nothing ("no worries, it works now")."""

# --- Quoted history -------------------------------------------------------------------------------------------

_REPLY_HEADER = re.compile(
    r"^(?:on .{4,120} wrote:|am .{4,120} schrieb .{1,120}:|le .{4,120} a écrit ?:|el .{4,120} escribió:|"
    r"-{2,} ?(?:original message|ursprüngliche nachricht|message d'origine|mensaje original) ?-{2,}|"
    r"#{2,}- .* -#{2,})\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_HEADER_BLOCK = re.compile(
    r"^\s*\*?(?:from|von|de)\*?\s?:.*\n(?:.*\n){0,3}?\s*\*?(?:sent|gesendet|envoyé|enviado|date|datum|fecha)\*?\s?:",
    re.IGNORECASE | re.MULTILINE,
)
_SIGNATURE = re.compile(r"^-- ?$", re.MULTILINE)


def own_text(body: str) -> str:
    """The part of a mail the customer wrote now: quoted lines, the quoted history below "On ... wrote:" (and its
    German, French, Spanish and Outlook forms) and the signature are cut off."""
    text = body.replace("\r\n", "\n")
    ends = [m.start() for p in (_REPLY_HEADER, _HEADER_BLOCK, _SIGNATURE, MARKERS) if (m := p.search(text))]
    if ends:
        text = text[: min(ends)]
    return "\n".join(line for line in text.split("\n") if not line.lstrip().startswith(">")).strip()


def _normalize(text: str) -> str:
    return re.sub(r"[ \t]+", " ", text.lower().replace("\u2019", "'").replace("\u00b4", "'").replace("\u00a0", " "))


# --- Classification ---------------------------------------------------------------------------------------------


def classify_reply(
    body: str,
    *,
    sent_at: datetime,
    subject: str | None = None,
    headers: Mapping[str, str] | None = None,
    zone: tzinfo | None = None,
) -> ReplyClass:
    """Whether a customer's comment is an auto-reply, a confirmation, or a plain reply (and why).

    `sent_at` (aware) anchors relative return dates ("back on Monday"); they are read in `zone` (default: the
    zone of `sent_at`). `subject` and `headers` are used when the desk kept them (an emailed comment).
    """
    if sent_at.tzinfo is None:
        raise ValueError("sent_at must be an aware datetime")
    text = _normalize(own_text(body))
    local = sent_at.astimezone(zone) if zone else sent_at
    auto = _auto_reply(text, subject, headers)
    if auto is not None:
        reason, language = auto
        found = _return_date(text, local, language)
        if found is None:
            return ReplyClass(ReplyKind.OUT_OF_OFFICE, reason, language)
        day, language = found
        return ReplyClass(ReplyKind.OUT_OF_OFFICE, reason, language, day)
    return _confirmation(text)


def _auto_reply(text: str, subject: str | None, headers: Mapping[str, str] | None) -> tuple[str, str | None] | None:
    """(reason, language of the body pattern if one matched) when the comment is an automatic answer."""
    in_body = next(
        (
            (f"out of office ({language}, {name}): {m.group(0)!r}", language)
            for language, patterns in OUT_OF_OFFICE.items()
            for name, pattern in patterns
            if (m := pattern.search(text)) and not NOT_NOW.match(_clause_after(text, m.end()))
        ),
        None,
    )
    for key, value in (headers or {}).items():
        pattern = AUTO_HEADERS.get(key.lower())
        if pattern is not None and pattern.search(value.strip()):
            return f"header {key}: {value.strip()}", in_body[1] if in_body else None
    if subject and AUTO_SUBJECT.search(subject):
        return f"subject {subject.strip()!r}", in_body[1] if in_body else None
    return in_body


def _return_date(text: str, local: datetime, language: str | None) -> tuple[date, str] | None:
    """The first date after a return cue, in the matched language first, then the others; None when no cue
    yields a date on or after the day the comment was written."""
    order = [language] if language else []
    order += [lang for lang in LANGUAGES if lang != language]
    for lang in order:
        for cue in RETURN_CUES[lang]:
            for m in cue.finditer(text):
                day = _parse_date(m.group("date"), lang, local)
                if day is None or day < local.date():
                    continue
                inclusive = "incl" in cue.groupindex and m.group("incl")
                return (day + timedelta(days=1) if inclusive else day), lang
    return None


_SHORT_DATE = re.compile(r"\b(\d{1,2})\.(\d{1,2})\.(?!\d)")
"""German "bis 10.03." without a year, which dateparser would read as the time 10:03."""


def _parse_date(fragment: str, language: str, local: datetime) -> date | None:
    """The first whole day named in `fragment` ("Monday", "9 March", "10.03."), not a month or a week."""

    def with_year(m: re.Match[str]) -> str:
        day, month = int(m[1]), int(m[2])
        try:
            year = local.year + (date(local.year, month, day) < local.date())
        except ValueError:
            return m[0]
        return f"{day}.{month}.{year}"

    fragment = _SHORT_DATE.sub(with_year, fragment)
    settings: dict[str, Any] = {
        "RELATIVE_BASE": local.replace(tzinfo=None),
        "PREFER_DATES_FROM": "future",
        "DATE_ORDER": _DATE_ORDER[language],
    }
    found = dateparser.search.search_dates(fragment, languages=[language], settings=settings) or []
    parser = DateDataParser(languages=[language], settings=settings)
    for text, _ in found:
        data = parser.get_date_data(text)
        if data.date_obj is not None and data.period == "day":
            return data.date_obj.date()
    return None


def _confirmation(text: str) -> ReplyClass:
    for language, patterns in CONFIRMATIONS.items():
        for pattern in patterns:
            m = pattern.search(text)
            if m is None:
                continue
            phrase = m.group(0)
            veto = _veto(text, m.start(), m.end())
            if veto:
                return ReplyClass(ReplyKind.REPLY, f"not a confirmation: {phrase!r} {veto}", language)
            return ReplyClass(ReplyKind.CONFIRMATION, f"confirmation ({language}): {phrase!r}", language)
    return ReplyClass(ReplyKind.REPLY, "no out-of-office or confirmation pattern")


_URL = re.compile(r"\bhttps?://\S+")


def _veto(text: str, start: int, end: int) -> str | None:
    """Why a matched confirmation must not resolve the ticket, if anything in the comment says so."""
    if "?" in _URL.sub(" ", text) or "¿" in text:
        return "but the comment asks a question"
    sentence = _sentence(text, start, end)
    negation = NEGATION.search(_HARMLESS.sub(" ", sentence))
    if negation:
        return f"is negated ({negation.group(0)!r})"
    condition = CONDITIONS.search(sentence)
    if condition:
        return f"is conditional ({condition.group(0)!r})"
    contrast = CONTRASTS.search(text)
    if contrast:
        return f"comes with a {contrast.group(0)!r}"
    return None


def _clause_after(text: str, end: int) -> str:
    """What follows a match up to the next punctuation: where "next week" would make an absence a future one."""
    return re.split(r"[,.;:!?\n]", text[end:], maxsplit=1)[0].strip()


def _sentence(text: str, start: int, end: int) -> str:
    """The sentence around text[start:end]: from the previous to the next . ! ; or line break."""
    left = max(text.rfind(c, 0, start) for c in ".!;\n")
    rights = [i for c in ".!;\n" if (i := text.find(c, end)) != -1]
    return text[left + 1 : min(rights) if rights else len(text)]


# --- Confirmation requests (support asking the customer) ---------------------------------------------------------

CONFIRMATION_REQUESTS: Mapping[str, re.Pattern[str]] = {
    "en": re.compile(
        r"\b(?:can|could|may|shall) (?:we|i) (?:go ahead and )?close (?:this|the|your|it)\b"
        r"|\b(?:did|has|have|does) (?:that|this|it|the (?:fix|update|change|workaround|reset)) (?:fix|solve|resolve|"
        r"help with|sort(?: out)?|fixed|solved|resolved|sorted) (?:it|the (?:problem|issue)|your (?:problem|issue))"
        r"|\b(?:does|is) (?:it|everything|this) (?:work(?:ing)?|fine|ok|okay) (?:now|again)\b"
        r"|\bis (?:the|your|this) (?:problem|issue|request) (?:now )?(?:solved|resolved|fixed)\b"
        r"|\bplease confirm (?:that )?(?:it|this|the (?:problem|issue)|everything) (?:is|was|has been|works)\b"
    ),
    "de": re.compile(
        r"\b(?:können|dürfen) wir (?:das ticket|die anfrage|den fall|es) (?:jetzt |nun |damit )?schließen\b"
        r"|\b(?:hat|konnte) (?:das|dies|die lösung) (?:das problem |ihr problem |ihnen )?(?:gelöst|behoben|geholfen)"
        r"|\b(?:funktioniert|klappt|geht) es (?:jetzt|nun|wieder)\b"
        r"|\bist (?:das problem|der fehler|ihr problem) (?:jetzt |nun |damit )?(?:gelöst|behoben)\b"
    ),
    "fr": re.compile(
        r"\bpouvons-nous (?:fermer|clôturer|clore)\b|\bpeut-on (?:fermer|clôturer|clore)\b"
        r"|\b(?:cela|ceci|ça) (?:a-t-il|a t-il|a) (?:résolu|réglé|corrigé) (?:le|votre) problème\b"
        r"|\b(?:est-ce que )?(?:cela|ça|tout) (?:fonctionne|marche)(?:-t-il)? (?:maintenant|à nouveau|de nouveau)\b"
        r"|\b(?:le|votre) problème est-il (?:résolu|réglé)\b"
    ),
    "es": re.compile(
        r"\bpodemos cerrar (?:el|la|este|esta|su)\b"
        r"|\b(?:eso|esto|la solución) (?:ha )?(?:resolvió|solucionó|resuelto|solucionado) (?:el|su) problema\b"
        r"|\b(?:ya )?funciona (?:ahora|de nuevo|correctamente)\s*\?"
        r"|\b(?:se ha|está) (?:resuelto|solucionado) (?:el|su) problema\b"
    ),
}
"""Support asking the customer to confirm the problem is solved ("did that fix it?", "can we close this?"), in the
four languages: the closing rule resolves after a business day of silence that follows such a request."""


def asks_for_confirmation(body: str) -> str | None:
    """The phrase with which support's comment asks the customer to confirm it is solved; None when it does not.
    Quoted history is cut off first, so a question quoted from an earlier mail does not count."""
    text = _normalize(own_text(body))
    for language, pattern in CONFIRMATION_REQUESTS.items():
        m = pattern.search(text)
        if m:
            return f"{language}: {m.group(0)!r}"
    return None
