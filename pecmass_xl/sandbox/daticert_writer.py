"""`daticert.xml`: the certification data attached to every PEC receipt and transport envelope.

Element order and formatting follow the DTD of the AgID technical rules and the real Aruba files
(4-space indentation, `<` and `>` of the Message-ID escaped, UTF-8).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr


@dataclass(frozen=True)
class Daticert:
    tipo: str  # accettazione, non-accettazione, posta-certificata, avvenuta-consegna, errore-consegna, ...
    mittente: str
    destinatari: list[tuple[str, str]]  # (address, "certificato" | "esterno")
    risposte: str
    oggetto: str
    gestore: str
    zona: str  # "+0100"
    giorno: str  # "dd/mm/yyyy"
    ora: str  # "hh:mm:ss"
    identificativo: str
    msgid: str | None = None  # the client's Message-ID, with its angle brackets
    errore: str = "nessuno"
    ricevuta: str | None = None  # completa | breve | sintetica
    consegna: str | None = None
    ricezione: list[str] = field(default_factory=list)
    errore_esteso: str | None = None

    def to_bytes(self) -> bytes:
        lines = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f"<postacert tipo={quoteattr(self.tipo)} errore={quoteattr(self.errore)}>",
            "    <intestazione>",
            f"        <mittente>{escape(self.mittente)}</mittente>",
        ]
        for address, kind in self.destinatari:
            lines.append(f"        <destinatari tipo={quoteattr(kind)}>{escape(address)}</destinatari>")
        lines += [
            f"        <risposte>{escape(self.risposte)}</risposte>",
            f"        <oggetto>{escape(_xml_text(self.oggetto))}</oggetto>",
            "    </intestazione>",
            "    <dati>",
            f"        <gestore-emittente>{escape(self.gestore)}</gestore-emittente>",
            f"        <data zona={quoteattr(self.zona)}>",
            f"            <giorno>{self.giorno}</giorno>",
            f"            <ora>{self.ora}</ora>",
            "        </data>",
            f"        <identificativo>{escape(self.identificativo)}</identificativo>",
        ]
        if self.msgid:
            lines.append(f"        <msgid>{escape(self.msgid)}</msgid>")
        if self.ricevuta:
            lines.append(f"        <ricevuta tipo={quoteattr(self.ricevuta)}/>")
        if self.consegna:
            lines.append(f"        <consegna>{escape(self.consegna)}</consegna>")
        for address in self.ricezione:
            lines.append(f"        <ricezione>{escape(address)}</ricezione>")
        if self.errore_esteso:
            lines.append(f"        <errore-esteso>{escape(self.errore_esteso)}</errore-esteso>")
        lines += ["    </dati>", "</postacert>", ""]
        return "\n".join(lines).encode("utf-8")


def _xml_text(text: str) -> str:
    """Drop characters XML 1.0 cannot carry (control characters in a subject would break the file)."""
    return "".join(ch for ch in text if ch in "\t\n\r" or ord(ch) >= 0x20)
