"""Provider presets: one table (issue 2). Values from shared/reference/pec-protocol.md §6 and §8.

Unknown limits default to 10 messages per minute and 30 MB (the legal minimum every provider must
accept). `uncertain` names what the reference could not confirm; the user is told.
"""

from __future__ import annotations

from dataclasses import dataclass, field

UNKNOWN_PACE = 10
UNKNOWN_MAX_MB = 30.0


@dataclass(frozen=True)
class Preset:
    name: str
    smtp_host: str | None = None
    smtp_port: int | None = 465
    smtp_security: str = "SSL/TLS"
    imap_host: str | None = None
    imap_port: int | None = 993
    imap_security: str = "SSL/TLS"
    pace_per_minute: int = UNKNOWN_PACE
    max_size_mb: float = UNKNOWN_MAX_MB
    receipt_folders: tuple[str, ...] = ("INBOX",)
    uncertain: tuple[str, ...] = ()
    notice: str | None = None
    notes: str = ""
    extra: dict = field(default_factory=dict)


LEGALMAIL_NOTICE = (
    "Legalmail (InfoCert) consente al massimo 6 messaggi al minuto e il suo contratto (art. 5) vieta "
    "l'invio tramite programmi automatici senza intervento diretto dell'utilizzatore, salvo diverso "
    "accordo con InfoCert. Proseguite solo se avete un accordo o se ogni invio è deciso da voi."
)

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "Aruba",
            smtp_host="smtps.pec.aruba.it",
            imap_host="imaps.pec.aruba.it",
            max_size_mb=100.0,
            uncertain=("Messaggi al minuto",),
            notes="Limite di invio non pubblicato: 10 al minuto per prudenza. Con la verifica in due "
            "passaggi serve una password dedicata.",
        ),
        Preset(
            "Legalmail",
            smtp_host="sendm.cert.legalmail.it",
            imap_host="mbox.cert.legalmail.it",
            pace_per_minute=6,
            uncertain=("Dimensione massima (MB)",),
            notice=LEGALMAIL_NOTICE,
            notes="L'utente è il codice account, non l'indirizzo.",
        ),
        Preset(
            "Poste",
            smtp_host="mail.postecert.it",
            imap_host="mail.postecert.it",
            uncertain=("Server SMTP", "Server IMAP", "Messaggi al minuto", "Dimensione massima (MB)"),
        ),
        Preset(
            "Namirial",
            smtp_host="smtps.sicurezzapostale.it",
            imap_host="imaps.sicurezzapostale.it",
            uncertain=("Messaggi al minuto", "Dimensione massima (MB)"),
        ),
        Preset(
            "Register",
            smtp_host=None,
            imap_host=None,
            uncertain=("Server SMTP", "Server IMAP", "Messaggi al minuto", "Dimensione massima (MB)"),
            notes="Server non confermati da fonti ufficiali: compilate Server SMTP e Server IMAP.",
        ),
        Preset(
            "Sandbox",
            smtp_host=None,  # read from the sandbox folder's connessione.json
            imap_host=None,
            pace_per_minute=0,
            max_size_mb=UNKNOWN_MAX_MB,
            notes="Gestore PEC locale di prova (pecmass sandbox): nessun messaggio esce dal computer.",
        ),
        Preset(
            "Personalizzato",
            smtp_host=None,
            imap_host=None,
            notes="Compilate tutti i parametri di connessione.",
        ),
    )
}

PRESET_NAMES = tuple(PRESETS)
SANDBOX = "Sandbox"
CUSTOM = "Personalizzato"


def find_preset(name: str | None) -> Preset | None:
    """Case-insensitive lookup; None when the name is not a preset."""
    if not name:
        return None
    for key, preset in PRESETS.items():
        if key.lower() == name.strip().lower():
            return preset
    return None
