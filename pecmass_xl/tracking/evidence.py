"""The evidence page of a row (issue 12): `<archive>/<ID invio>/prova.html`, in Italian, printable.

One page a lawyer can print: the summary (recipient, subject, outcome, signature, content proof)
fits the first A4 page; then the timeline of every attempt (sent, accepted, delivered or failed,
each resend), every receipt with its signature verdict (signer, chain, signing time) as recorded
when it was read, the content proof, and the SHA-256 of every file in the folder. It is
rebuilt only when a file in the folder is newer than the page, so a run with nothing new costs a
directory listing per row. No script, no external resource: it opens from a USB stick years later.
"""

from __future__ import annotations

import datetime as dt
import email
import email.header
import email.policy
import hashlib
import html
import logging
from pathlib import Path

from pecmass_xl.core.rome_time import rome_wall_clock
from pecmass_xl.core.vocabulary import (
    COL_ACCEPTED_AT,
    COL_DELIVERED_AT,
    COL_DETAIL,
    COL_OUTCOME,
    COL_SENT_AT,
    COL_SIGNATURE,
    COL_STATUS,
)
from pecmass_xl.journal import Journal, RowView, archive, proofs
from pecmass_xl.journal.status import RECEIPT_KINDS, Event, EventKind
from pecmass_xl.receipts.signature import SignatureVerifier

log = logging.getLogger("pecmass.receipts")

EVIDENCE_FILE = archive.EVIDENCE_PAGE

EVENT_LABELS = {
    EventKind.IN_INVIO: "Invio iniziato",
    EventKind.SMTP_INVIATO: "Consegnato al server del gestore (SMTP 250)",
    EventKind.SMTP_RIFIUTATO: "Rifiuto definitivo del server SMTP",
    EventKind.SMTP_TEMPORANEO: "Errore temporaneo del server",
    EventKind.SMTP_ESAURITO: "Invio non riuscito (tentativi esauriti o interrotto)",
    EventKind.SMTP_IN_DUBBIO: "Connessione persa dopo l'invio",
    EventKind.INCERTO: "Esito incerto: nessuna accettazione entro l'attesa",
    EventKind.ACCETTAZIONE: "Ricevuta di accettazione",
    EventKind.ACCETTAZIONE_ESTERNO: "Ricevuta di accettazione (destinatario non PEC)",
    EventKind.NON_ACCETTAZIONE: "Avviso di non accettazione",
    EventKind.AVVENUTA_CONSEGNA: "Ricevuta di avvenuta consegna",
    EventKind.ERRORE_CONSEGNA: "Avviso di mancata consegna",
    EventKind.PREAVVISO: "Avviso di mancata consegna per superamento tempi massimi",
    EventKind.PREAVVISO_FINALE: "Avviso di mancata consegna per superamento tempi massimi",
    EventKind.ANOMALIA: "Busta di anomalia (rimbalzo, non firmata)",
}

_CSS = """
@page { size: A4; margin: 14mm 14mm 16mm 14mm; }
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 9.5pt; color: #000; margin: 0; }
h1 { font-size: 14pt; margin: 0 0 2mm 0; }
h2 { font-size: 11pt; margin: 5mm 0 2mm 0; border-bottom: 1px solid #888; }
table { border-collapse: collapse; width: 100%; margin-bottom: 2mm; }
th, td { border: 1px solid #bbb; padding: 1mm 1.5mm; text-align: left; vertical-align: top; }
th { background: #eee; width: 32%; font-weight: bold; }
td.hash, span.hash { font-family: "DejaVu Sans Mono", monospace; font-size: 7.5pt; word-break: break-all; }
.details { page-break-before: always; break-before: page; }
.note { font-size: 8pt; color: #333; }
tr { page-break-inside: avoid; }
"""


def _esc(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _when(moment: dt.datetime | None) -> str:
    local = rome_wall_clock(moment) if moment is not None else None
    return local.strftime("%d/%m/%Y %H:%M:%S") if local else "—"


def _subject(eml_path: str | None) -> str:
    if not eml_path:
        return "—"
    try:
        with open(eml_path, "rb") as handle:
            head = handle.read(256_000).split(b"\r\n\r\n", 1)[0]
        msg = email.message_from_bytes(head + b"\r\n\r\n", policy=email.policy.default)
        return str(msg.get("Subject", "—"))
    except (OSError, ValueError, LookupError):
        return "—"


def _table(rows: list[tuple[str, str]]) -> str:
    return "<table>" + "".join(f"<tr><th>{_esc(k)}</th><td>{v}</td></tr>" for k, v in rows) + "</table>"


def _signature_rows(journal: Journal, event: Event, verifier: SignatureVerifier | None) -> str:
    """The verdict with its facts (who signed, when, whether the chain holds), as recorded when the
    receipt was read; checked again from the archived file when the journal has no record of them."""
    if event.kind == EventKind.ANOMALIA:
        return "Busta di anomalia: non firmata per natura (conta solo per destinatari non PEC)"
    facts = proofs.load_signature(journal, event.archive_path) if event.archive_path else None
    if facts is None and event.archive_path and verifier is not None:
        try:
            result = verifier.verify(Path(event.archive_path).read_bytes())
        except OSError:
            return "file della ricevuta non leggibile"
        facts = {"motivo": result.reason, "firmatario": result.signer_email,
                 "data_firma": result.signing_time.isoformat() if result.signing_time else None,
                 "catena": "valida fino a un'autorità di fiducia alla data della firma" if result.verified else None}
    facts = facts or {}
    signed_at = dt.datetime.fromisoformat(facts["data_firma"]) if facts.get("data_firma") else None
    return "<br>".join([
        f"Firma: <b>{_esc(event.signature or '—')}</b> ({_esc(facts.get('motivo') or '—')})",
        f"Firmatario: {_esc(facts.get('firmatario') or '—')}",
        f"Catena di certificati: {_esc(facts.get('catena') or 'non verificata: ' + str(facts.get('motivo') or '—'))}",
        f"Data della firma: {_when(signed_at)}",
    ])


def render(journal: Journal, row_id: str, folder: Path, verifier: SignatureVerifier | None,
           view: RowView | None = None) -> str:
    """The page's HTML (see the module docstring). `view`: the row's view if already at hand."""
    view = view or journal.row_view(row_id)
    attempts = journal.attempts_for_row(row_id)
    latest = attempts[-1] if attempts else None
    status = view.status if view is not None else None
    proof = proofs.load(journal, latest.message_id) if latest else None
    provider_id = next((e.provider_id for a in reversed(attempts) for e in journal.events(a) if e.provider_id), None)
    summary = [
        ("Destinatario", _esc(latest.recipient if latest else (view.recipient if view else "—"))),
        ("Oggetto", _esc(_subject(latest.eml_path if latest else None))),
        (COL_STATUS, f"<b>{_esc(status.stato if status else '—')}</b>"),
        (COL_OUTCOME, _esc(status.esito if status else "") or "—"),
        (COL_DETAIL, _esc(proofs.detail_with_proof(status.dettaglio if status else "",
                                                    proof.get("esito") if proof else None)) or "—"),
        ("Firma della ricevuta decisiva", _esc(status.firma if status else "") or "—"),
        (COL_SENT_AT, _when(status.inviata_il if status else None)),
        (COL_ACCEPTED_AT, _when(status.accettata_il if status else None)),
        (COL_DELIVERED_AT, _when(status.consegnata_il if status else None)),
        ("Prova del contenuto", _esc(proof.get("esito")) if proof else "non disponibile (nessuna ricevuta completa verificata)"),
        ("Tentativi di invio", str(len(attempts))),
        ("Message-ID", _esc(latest.message_id if latest else "—")),
        ("Identificativo del gestore", _esc(provider_id or "—")),
        ("ID invio / campagna", f"{_esc(row_id)} / {_esc(journal.campaign_id)}"),
    ]
    if status is not None and (status.overruled or status.ignored_bounces):
        ignored = len(status.overruled) + len(status.ignored_bounces)
        summary.append(("Messaggi ignorati", f"{ignored} (non verificati o rimbalzi su destinatario PEC: vedi sotto)"))
    out = [f"<!DOCTYPE html><html lang=\"it\"><head><meta charset=\"utf-8\"><title>Prova di invio PEC {_esc(row_id)}</title>",
           f"<style>{_CSS}</style></head><body>",
           f"<h1>Prova di invio PEC — riga {_esc(view.row_number if view and view.row_number else '—')}</h1>",
           f"<p class=\"note\">Pagina generata da pecmass il {_when(dt.datetime.now(dt.UTC))} dai file di questa "
           "cartella e dal registro della campagna. Ogni ricevuta è conservata qui come file .eml originale.</p>",
           "<h2>Riepilogo</h2>", _table(summary), "<div class=\"details\">"]

    out.append("<h2>Cronologia</h2>")
    for attempt in attempts:
        events = sorted(journal.events(attempt), key=lambda e: (e.event_time, e.seq))
        rows = "".join(
            f"<tr><td>{_when(e.event_time)}</td><td>{_esc(EVENT_LABELS.get(e.kind, e.kind))}</td>"
            f"<td>{_esc(e.esito or '')}</td><td>{_esc(e.detail or '')}</td><td>{_esc(e.signature or '')}</td></tr>"
            for e in events)
        out.append(f"<p><b>Tentativo {attempt.number}</b> — Message-ID {_esc(attempt.message_id)}, "
                   f"destinatario {_esc(attempt.recipient)}</p>"
                   "<table><tr><th>Quando (ora italiana)</th><th>Evento</th>"
                   f"<th>{COL_OUTCOME}</th><th>{COL_DETAIL}</th><th>{COL_SIGNATURE}</th></tr>{rows}</table>")

    out.append("<h2>Ricevute e verifica della firma</h2>")
    overruled = set(status.overruled + status.ignored_bounces) if status else set()
    for attempt in attempts:
        for event in journal.events(attempt):
            if event.kind not in RECEIPT_KINDS:
                continue
            name = Path(event.archive_path).name if event.archive_path else "—"
            rows = [("File", _esc(name)), ("Tipo", _esc(EVENT_LABELS.get(event.kind, event.kind))),
                    ("Data certificata", _when(event.event_time)),
                    ("Verifica della firma", _signature_rows(journal, event, verifier))]
            if event in overruled:
                rows.append(("Effetto", "ignorata: prevale la ricevuta verificata (o il destinatario è PEC)"))
            out.append(f"<p><b>Tentativo {attempt.number}</b></p>" + _table(rows))

    out.append("<h2>Prova del contenuto</h2>")
    if proof:
        files = "".join(f"<tr><td>{_esc(n)}</td><td class=\"hash\">{_esc(h)}</td></tr>" for n, h in proof.get("allegati", []))
        out.append(_table([("Esito del confronto", _esc(proof.get("esito"))),
                           ("Ricevuta confrontata", _esc(Path(proof.get("ricevuta") or "").name or "—"))]))
        out.append("<p class=\"note\">Confronto fra l'originale contenuto nella ricevuta di avvenuta consegna completa "
                   "(postacert.eml) e il file .eml inviato: mittente, destinatari, oggetto, testo e SHA-256 di ogni allegato.</p>")
        if files:
            out.append(f"<table><tr><th>Allegato consegnato</th><th>SHA-256</th></tr>{files}</table>")
    else:
        out.append("<p>Non disponibile: nessuna ricevuta di avvenuta consegna completa verificata.</p>")

    out.append("<h2>Impronte SHA-256 dei file della cartella</h2><table><tr><th>File</th><th>SHA-256</th></tr>")
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.name != EVIDENCE_FILE and not p.name.startswith(".tmp-")):
        out.append(f"<tr><td>{_esc(path.name)}</td><td class=\"hash\">{hashlib.sha256(path.read_bytes()).hexdigest()}</td></tr>")
    out.append("</table><p class=\"note\">Questa pagina non compare nell'elenco: è ricavata dagli altri file.</p>")
    out.append("</div></body></html>")
    return "\n".join(out)


def _stale(folder: Path) -> bool:
    page = folder / EVIDENCE_FILE
    if not page.exists():
        return True
    built = page.stat().st_mtime_ns
    return any(p.stat().st_mtime_ns > built for p in folder.iterdir() if p.is_file() and p.name != EVIDENCE_FILE)


def write_pages(journal: Journal, archive_root: Path, verifier: SignatureVerifier | None, *, force: bool = False) -> int:
    """Write (or refresh) the evidence page of every row with an archive folder; how many were written.
    A page that cannot be written is logged and skipped: it is rebuilt on the next run."""
    written = 0
    views = None
    for row_id in journal.row_ids():
        folder = archive.row_folder(archive_root, row_id)
        if not folder.is_dir() or not (force or _stale(folder)):
            continue
        views = views if views is not None else journal.row_views()  # once, only when a page is due
        try:
            page = render(journal, row_id, folder, verifier, views.get(row_id))
            archive.write_atomic(folder / EVIDENCE_FILE, page.encode("utf-8"), durable=False)
            written += 1
        except OSError as exc:
            log.warning("evidence page not written for a row: %s", type(exc).__name__)
    return written
