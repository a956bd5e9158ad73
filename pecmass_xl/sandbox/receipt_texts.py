"""The human-readable, bilingual (Italian, then English) text of each receipt and envelope.

Wording of accettazione, busta di trasporto, avvenuta-consegna and errore-consegna follows the real
Aruba receipts of 2026 (fixtures); the others follow the models of RFC 6109 §3 translated by us and
are marked "synthetic" in the README. Only daticert.xml is meant for machines.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

RULE = "-" * 89


@dataclass(frozen=True)
class When:
    giorno: str
    ora: str
    zona: str

    @property
    def it(self) -> str:
        return f"Il giorno {self.giorno} alle ore {self.ora} ({self.zona})"

    @property
    def en(self) -> str:
        return f"On {self.giorno} at {self.ora} ({self.zona})"


@dataclass(frozen=True)
class Text:
    """Title and lines of each language; lines starting with "- " form a list."""

    title_it: str
    lines_it: list[str]
    title_en: str
    lines_en: list[str]

    def plain(self) -> str:
        return "\n".join(
            [f"-- {self.title_it} --", "", *self.lines_it, "", RULE, "", f"-- {self.title_en} --", "", *self.lines_en, ""]
        )

    def html(self) -> str:
        return "\n".join(
            [
                "<html>",
                f"<head><title>{html.escape(self.title_it)}</title></head>",
                "<body>",
                f"<h3>{html.escape(self.title_it)}</h3>",
                "",
                *_html_lines(self.lines_it),
                "<br>",
                "<br>",
                "<hr>",
                f"<h3>{html.escape(self.title_en)}</h3>",
                "",
                *_html_lines(self.lines_en),
                "</body>",
                "</html>",
                "",
            ]
        )


def _html_lines(lines: list[str]) -> list[str]:
    out: list[str] = []
    in_list = False
    for line in lines:
        if line.startswith("- "):
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"    <li>{html.escape(line[2:])}</li>")
            continue
        if in_list:
            out.append("</ul>")
            in_list = False
        out.append(f"{html.escape(line)}<br>")
    if in_list:
        out.append("</ul>")
    return out


def _recipients(recipients: list[tuple[str, str]], labels: bool) -> tuple[list[str], list[str]]:
    it, en = [], []
    for address, kind in recipients:
        if labels:
            it.append(f'- {address} ("{"posta certificata" if kind == "certificato" else "posta ordinaria"}")')
            en.append(f'- {address} ("{"certified mail" if kind == "certificato" else "ordinary mail"}")')
        else:
            it.append(f"- {address}")
            en.append(f"- {address}")
    return it, en


def accettazione(when: When, subject: str, sender: str, recipients: list[tuple[str, str]], identificativo: str) -> Text:
    rit, ren = _recipients(recipients, labels=True)
    return Text(
        "Ricevuta di accettazione",
        [
            f"{when.it} il messaggio",
            f'"{subject}" proveniente da "{sender}"',
            "ed indirizzato a:",
            *rit,
            "è stato accettato dal sistema ed inoltrato.",
            f"Identificativo messaggio: {identificativo}",
        ],
        "Acceptance pec notification",
        [
            f"{when.en} the message",
            f'"{subject}" from "{sender}"',
            "and addressed to:",
            *ren,
            "has been accepted by the system and forwarded.",
            f"Message identifier: {identificativo}",
        ],
    )


def non_accettazione(
    when: When,
    subject: str,
    sender: str,
    recipients: list[tuple[str, str]],
    identificativo: str,
    reason_it: str,
    reason_en: str,
    virus: bool,
) -> Text:
    rit, ren = _recipients(recipients, labels=False)
    if virus:
        title_it, title_en = "Avviso di non accettazione per virus", "Non-acceptance pec notification due to virus"
        problem_it = f"è stato rilevato un problema di sicurezza: {reason_it}."
        problem_en = f"a security problem was detected: {reason_en}."
    else:
        title_it, title_en = "Avviso di non accettazione", "Non-acceptance pec notification"
        problem_it = f"è stato rilevato un problema che ne impedisce l'accettazione a causa di: {reason_it}."
        problem_en = f"a problem was detected that prevents its acceptance due to: {reason_en}."
    return Text(
        title_it,
        [
            f"{when.it} nel messaggio",
            f'"{subject}" proveniente da "{sender}"',
            "ed indirizzato a:",
            *rit,
            problem_it,
            "Il messaggio non è stato accettato.",
            f"Identificativo messaggio: {identificativo}",
        ],
        title_en,
        [
            f"{when.en} in the message",
            f'"{subject}" from "{sender}"',
            "addressed to:",
            *ren,
            problem_en,
            "The message was not accepted.",
            f"Message identifier: {identificativo}",
        ],
    )


def busta_trasporto(when: When, subject: str, sender: str, recipients: list[tuple[str, str]], identificativo: str) -> Text:
    rit, ren = _recipients(recipients, labels=False)
    return Text(
        "Messaggio di posta certificata",
        [
            f"{when.it} il messaggio con oggetto",
            f'"{subject}" è stato inviato da "{sender}" ed indirizzato a:',
            *rit,
            "Il messaggio originale è incluso in allegato.",
            f"Identificativo messaggio: {identificativo}",
        ],
        "Certified mail message",
        [
            f"{when.en} the message with subject",
            f'"{subject}" was sent by "{sender}" and addressed to:',
            *ren,
            "The original message is included as an attachment.",
            f"Message identifier: {identificativo}",
        ],
    )


_CONSEGNA_TITLES = {
    "completa": ("Ricevuta di avvenuta consegna", "Delivery pec notification"),
    "breve": ("Ricevuta breve di avvenuta consegna", "Brief delivery pec notification"),
    "sintetica": ("Ricevuta sintetica di avvenuta consegna", "Concise delivery pec notification"),
}


def avvenuta_consegna(when: When, subject: str, sender: str, recipient: str, identificativo: str, form: str) -> Text:
    title_it, title_en = _CONSEGNA_TITLES[form]
    return Text(
        title_it,
        [
            f"{when.it} il messaggio",
            f'"{subject}" proveniente da "{sender}"',
            f'ed indirizzato a "{recipient}"',
            "è stato consegnato nella casella di destinazione.",
            f"Identificativo messaggio: {identificativo}",
        ],
        title_en,
        [
            f"{when.en} the message",
            f'"{subject}" from "{sender}"',
            f'and addressed to "{recipient}"',
            "was successfully delivered to the destination mailbox.",
            f"Message identifier: {identificativo}",
        ],
    )


def errore_consegna(
    when: When, subject: str, sender: str, recipient: str, identificativo: str, error_it: str, error_en: str
) -> Text:
    return Text(
        "Avviso di mancata consegna",
        [
            f"{when.it} nel messaggio",
            f'"{subject}" proveniente da "{sender}"',
            f'e destinato all\'utente "{recipient}"',
            f"è stato rilevato un errore {error_it}.",
            "Il messaggio è stato rifiutato dal sistema.",
            f"Identificativo messaggio: {identificativo}",
        ],
        "Non delivery pec notification",
        [
            f"{when.en} the message",
            f'"{subject}" from "{sender}"',
            f'addressed to the user "{recipient}"',
            f"encountered an error {error_en}",
            "The message was rejected by the system.",
            f"Message identifier: {identificativo}",
        ],
    )


def preavviso_errore_consegna(
    when: When, subject: str, sender: str, recipient: str, identificativo: str, final: bool
) -> Text:
    if final:
        outcome_it = [
            "non è stato consegnato entro 24 ore dal suo invio.",
            "La transazione si considera conclusa con esito negativo.",
        ]
        outcome_en = [
            "has not been delivered within 24 hours of its dispatch.",
            "The transaction is deemed to be terminated with a negative outcome.",
        ]
    else:
        outcome_it = [
            "non è stato consegnato nelle prime 12 ore dal suo invio.",
            "Non si esclude che il messaggio possa essere consegnato in seguito, ma si ritiene utile",
            "considerare che l'invio potrebbe non avere esito positivo.",
            "Il sistema invierà un ulteriore avviso se nelle successive 12 ore non riceverà",
            "conferma della consegna.",
        ]
        outcome_en = [
            "has not been delivered within the first 12 hours following its dispatch.",
            "Not excluding that the message might eventually be delivered, it is deemed useful",
            "to consider that dispatch might not have a positive outcome.",
            "The system will send another notification if in the following twelve hours",
            "no delivery confirmation is received.",
        ]
    return Text(
        "Avviso di mancata consegna per superamento dei tempi massimi",
        [
            f"{when.it} il messaggio",
            f'"{subject}" proveniente da "{sender}"',
            f'ed indirizzato a "{recipient}"',
            *outcome_it,
            f"Identificativo messaggio: {identificativo}",
        ],
        "Non-delivery pec notification due to timeout",
        [
            f"{when.en} the message",
            f'"{subject}" from "{sender}"',
            f'and addressed to "{recipient}"',
            *outcome_en,
            f"Message identifier: {identificativo}",
        ],
    )


def anomalia(when: When, subject: str, sender: str, recipients: list[str], error_it: str, error_en: str) -> Text:
    return Text(
        "Anomalia nel messaggio",
        [
            f"{when.it} è stato ricevuto il messaggio",
            f'"{subject}" proveniente da "{sender}"',
            "ed indirizzato a:",
            *[f"- {address}" for address in recipients],
            "Tali dati non sono stati certificati per il seguente errore:",
            error_it,
            "Il messaggio originale è incluso in allegato.",
        ],
        "Message anomaly",
        [
            f"{when.en} the message",
            f'"{subject}" from "{sender}"',
            "and addressed to:",
            *[f"- {address}" for address in recipients],
            "was received.",
            "The data has not been certified due to the following error:",
            error_en,
            "The original message is attached.",
        ],
    )
