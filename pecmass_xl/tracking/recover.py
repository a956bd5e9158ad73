"""Rebuilding a lost journal before anything is sent or synced (issue 10: a lost journal never
causes a resend).

A row whose `ID invio` the journal does not know was frozen by a journal that is gone (a cleaned
profile, a new user account, a corrupt file set aside): the journal adds a row only before its `ID
invio` is written to the sheet. Such a row is never sent before its fate is known:

- the ledger (per user and mailbox) records every intent before its hand-over, forced to disk, so
  when it holds records of this campaign they decide: each record becomes an attempt again, with its
  SMTP outcome (no answer → in doubt, resolved by its receipts); a row with no record never left;
- when the ledger has nothing of this campaign (lost too), the provider's mailbox is searched for
  receipts quoting the campaign's Message-IDs (`X-Riferimento-Message-ID` with its prefix): each
  restores its attempt, its outcome and its archive copy; with `Salva copia in Inviata`, our copies
  in the Sent folder restore the hand-over and the sent `.eml`; a row with nothing found becomes
  `Incerto` (resendable on request), never sent silently.
"""

from __future__ import annotations

import email
import email.policy
import logging
from collections.abc import Callable, Mapping
from pathlib import Path

from pecmass_xl.campaign.settings import Settings
from pecmass_xl.core.italian import plural
from pecmass_xl.journal import Journal, Ledger, archive
from pecmass_xl.journal._db import utc_now
from pecmass_xl.journal.ids import MESSAGE_ID_PREFIX, build_message_id, parse_message_id
from pecmass_xl.journal.ledger import OUTCOME_IN_DOUBT, OUTCOME_NOT_SENT, OUTCOME_REFUSED, OUTCOME_SENT
from pecmass_xl.journal.status import EventKind

log = logging.getLogger("pecmass.recover")

FROM_LEDGER = "Ripristinato dal registro invii dopo la perdita del registro della campagna"
FROM_SENT_COPY = "Ripristinato dalla copia nella cartella Inviata dopo la perdita del registro della campagna"
NOTHING_FOUND = ("Registro della campagna perso e nessuna ricevuta trovata nella casella: la PEC potrebbe "
                 "essere partita. Non viene reinviata da sola: reinviatela solo se serve (--resend uncertain, Reinvia).")
_LEDGER_EVENTS = {
    OUTCOME_SENT: [(EventKind.SMTP_INVIATO, FROM_LEDGER)],
    OUTCOME_REFUSED: [(EventKind.SMTP_RIFIUTATO, FROM_LEDGER)],
    OUTCOME_NOT_SENT: [(EventKind.SMTP_ESAURITO, FROM_LEDGER)],
    OUTCOME_IN_DOUBT: [(EventKind.SMTP_IN_DUBBIO, FROM_LEDGER)],
    None: [(EventKind.SMTP_IN_DUBBIO, FROM_LEDGER)],  # an intent with no answer: it may have left
}


def lost_rows(journal: Journal, rows: Mapping[str, tuple[str | None, int | None]]) -> list[str]:
    """The sheet's `ID invio`s (id → recipient, sheet row) that this journal does not know."""
    known = set(journal.row_ids())
    return [row_id for row_id in rows if row_id not in known]


def unknown_row_ids(journal: Journal, sheet) -> list[str]:
    """The `ID invio`s of a workbook's rows that its journal does not know (for `status`)."""
    return lost_rows(journal, {r.id_invio: (None, r.number) for r in sheet.rows if r.id_invio})


def lost_hint(count: int) -> str:
    """What `status` says about rows whose `ID invio` the journal does not know."""
    return (f"{plural(count, 'riga ha', 'righe hanno')} un ID invio che il registro della campagna non conosce "
            "(registro perso o danneggiato?): nessuna PEC viene reinviata alla cieca; «pecmass receipts» o il prossimo "
            "invio ne ripristinano l'esito dal registro invii o dalla casella.")


def recover_lost_rows(journal: Journal, ledger: Ledger, settings: Settings, password: str, archive_root: Path,
                      rows: Mapping[str, tuple[str | None, int | None]],
                      on_message: Callable[[str], None] | None = None) -> dict[str, str]:
    """Give every lost row its attempts back; returns row id → 'ledger' | 'never-left' | 'mailbox' | 'incerto'."""
    lost = lost_rows(journal, rows)
    if not lost:
        return {}
    say = on_message or (lambda _text: None)
    entries = [e for e in ledger.entries_for_campaign(journal.campaign_id) if e.row_id]
    if entries:
        say(f"{plural(len(lost), 'riga')} con ID invio sconosciuto al registro della campagna: "
            "ripristino dal registro invii.")
        return _from_ledger(journal, entries, lost, rows)
    say(f"{plural(len(lost), 'riga')} con ID invio sconosciuto e registro invii senza traccia della campagna: "
        "cerco le ricevute nella casella…")
    return _from_mailbox(journal, settings, password, archive_root, lost, rows)


def _from_ledger(journal, entries, lost, rows) -> dict[str, str]:
    result: dict[str, str] = {}
    wanted = set(lost)
    for entry in sorted(entries, key=lambda e: (e.recorded_at, e.message_id)):
        if entry.row_id not in wanted:
            continue
        journal.restore_attempt(entry.row_id, message_id=entry.message_id, content_hash=entry.content_hash,
                                recipient=entry.recipient, committed_at=entry.recorded_at,
                                events=_LEDGER_EVENTS.get(entry.outcome, _LEDGER_EVENTS[None]))
        result[entry.row_id] = "ledger"
    never = [row_id for row_id in lost if row_id not in result]
    journal.add_rows([(row_id, *rows[row_id]) for row_id in never])  # no record: it never left
    result.update(dict.fromkeys(never, "never-left"))
    log.info("journal rebuilt from the ledger: %d rows restored, %d never left", len(result) - len(never), len(never))
    return result


def _quoted(header_block: bytes) -> str:
    msg = email.message_from_bytes(header_block + b"\r\n", policy=email.policy.compat32)
    return str(msg.get("X-Riferimento-Message-ID", "")).strip()


def _from_sent_copies(session, journal, archive_root, prefix, wanted, rows, result, now) -> None:
    """`Salva copia in Inviata`: each copy of ours in the Sent folder proves its hand-over and is the
    exact `.eml` for the archive."""
    folder = session.sent_folder()
    if folder is None:
        return
    session.examine(folder)
    uids = session.search_message_id(prefix)
    for uid, block in session.fetch_headers(uids, ("Message-ID",)).items():
        msg = email.message_from_bytes(block + b"\r\n", policy=email.policy.compat32)
        parsed = parse_message_id(str(msg.get("Message-ID", "")).strip())
        if not parsed or parsed.is_test or parsed.campaign_id != journal.campaign_id or parsed.row_id not in wanted:
            continue
        raw = session.fetch_raw([uid]).get(uid, b"")
        attempt = journal.restore_attempt(parsed.row_id, message_id=parsed.message_id, content_hash="",
                                          recipient=rows[parsed.row_id][0] or "", committed_at=now,
                                          events=[(EventKind.SMTP_INVIATO, FROM_SENT_COPY)])
        if raw and not attempt.eml_path:
            path, _ = archive.store(archive_root / parsed.row_id, archive.sent_name(parsed.attempt), raw)
            journal.set_eml_path(attempt, str(path))
        if result.get(parsed.row_id) != "mailbox":
            result[parsed.row_id] = "sent-copy"


def _from_mailbox(journal, settings, password, archive_root, lost, rows) -> dict[str, str]:
    # Loaded only when a journal and its ledger are both lost: a plain send starts light (issue 15).
    from pecmass_xl.mailclient.imap_session import ImapSession
    from pecmass_xl.tracking.ingest import ingest
    from pecmass_xl.tracking.trust import verifier_for

    result: dict[str, str] = {}
    wanted = set(lost)
    prefix = f"{MESSAGE_ID_PREFIX}.{journal.campaign_id}."
    verifier = verifier_for(settings)
    now = utc_now()
    with ImapSession(settings, password).connect() as session:
        for folder in settings.receipt_folders:
            session.examine(folder)
            uids = session.search_reference(prefix)
            headers = session.fetch_headers(uids, ("X-Riferimento-Message-ID",))
            ours = {}
            for uid, block in headers.items():
                parsed = parse_message_id(_quoted(block))
                if parsed and not parsed.is_test and parsed.campaign_id == journal.campaign_id and parsed.row_id in wanted:
                    ours[uid] = parsed
            for uid, raw in session.fetch_raw(sorted(ours)).items():
                parsed = ours[uid]
                recipient = rows[parsed.row_id][0] or ""
                journal.restore_attempt(parsed.row_id, message_id=parsed.message_id, content_hash="",
                                        recipient=recipient, committed_at=now)
                ingest(journal, raw, verifier, archive_root)  # records the outcome and archives the receipt
                result[parsed.row_id] = "mailbox"
        if settings.save_sent_copy:
            _from_sent_copies(session, journal, archive_root, prefix, wanted, rows, result, now)
    for row_id in lost:
        if row_id in result:
            continue
        attempt = journal.restore_attempt(
            row_id, message_id=build_message_id(journal.campaign_id, row_id, 1, settings.sender_domain),
            content_hash="", recipient=rows[row_id][0] or "", committed_at=now,
            events=[(EventKind.INCERTO, NOTHING_FOUND)])
        result[row_id] = "incerto"
        log.info("lost row with nothing in the mailbox: %s", attempt.label)
    # Attempts restored from receipts but still without an outcome are the in-doubt search's job.
    return result
