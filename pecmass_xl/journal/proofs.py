"""Proofs kept in the journal (issue 12), for the result columns, the report and the evidence page:
- per attempt, the verdict of comparing the original carried by the verified `completa` delivery
  receipt with the archived sent `.eml` (key `prova-contenuto:<Message-ID>`);
- per archived receipt, the facts of its signature check as made when it was read: reason, signer,
  signing time (key `firma:<archive path>`), so the evidence page need not verify it again.
Stored as JSON in the journal's `meta` table.
"""

from __future__ import annotations

import json

from pecmass_xl.journal.store import Journal

_KEY = "prova-contenuto:"
_SIGNATURE_KEY = "firma:"
IDENTICAL_DETAIL = "Contenuto consegnato identico all'inviato"
DIFFERENT_DETAIL = "Contenuto consegnato DIVERSO dall'inviato"


def save(journal: Journal, message_id: str, verdict: str, attachments: list[tuple[str, str]],
         receipt_path: str | None) -> None:
    record = {"esito": verdict, "allegati": [list(a) for a in attachments], "ricevuta": receipt_path}
    journal.set_meta(_KEY + message_id, json.dumps(record, ensure_ascii=False))


def load(journal: Journal, message_id: str) -> dict | None:
    text = journal.get_meta(_KEY + message_id)
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def verdict(journal: Journal, message_id: str) -> str | None:
    """`identico`, `diverso: …`, `non verificabile: …`, or None when no proof was made."""
    record = load(journal, message_id)
    return str(record.get("esito")) if record else None


def save_signature(journal: Journal, archive_path: str, facts: dict) -> None:
    journal.set_meta(_SIGNATURE_KEY + archive_path, json.dumps(facts, ensure_ascii=False))


def load_signature(journal: Journal, archive_path: str) -> dict | None:
    text = journal.get_meta(_SIGNATURE_KEY + archive_path)
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def detail_with_proof(dettaglio: str, proof: str | None) -> str:
    """`Dettaglio` with the content proof appended (the row's cell; see README "Prova del contenuto")."""
    if not proof:
        return dettaglio
    if proof == "identico":
        text = IDENTICAL_DETAIL
    elif proof.startswith("diverso"):
        text = f"{DIFFERENT_DETAIL}: {proof.partition(':')[2].strip()}"
    else:
        text = f"Contenuto consegnato {proof}"
    return f"{dettaglio} — {text}" if dettaglio else text
