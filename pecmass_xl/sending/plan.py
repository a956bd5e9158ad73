"""What a send will do, decided before anything leaves: which rows, re-adoptions, pace, time.

Pure reading: the journal and the ledger are consulted, nothing is written, except the campaign id
into a workbook that has none when the send claims it (`claim_send`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pecmass_xl.campaign.attachments import format_size
from pecmass_xl.campaign.checks import CheckReport, PreparedRow, run_checks
from pecmass_xl.campaign.files import campaign_archive, ledger_path, open_journal, open_ledger
from pecmass_xl.campaign.presets import LEGALMAIL_NOTICE
from pecmass_xl.campaign.problems import Problem
from pecmass_xl.campaign.settings import Settings
from pecmass_xl.core import paths
from pecmass_xl.core.rome_time import rome_wall_clock
from pecmass_xl.journal import LedgerEntry, content_hash, new_campaign_id
from pecmass_xl.journal.locks import SendClaim
from pecmass_xl.journal.store import RESEND_CHOICES
from pecmass_xl.workbook.file_workbook import FileWorkbook
from pecmass_xl.workbook.gateway import WorkbookGateway

LEGALMAIL_MAX_PACE = 6


@dataclass
class SendPlan:
    book: WorkbookGateway
    report: CheckReport
    settings: Settings
    campaign_id: str
    campaign_is_new: bool
    due: list[PreparedRow] = field(default_factory=list)
    adopted: dict[int, LedgerEntry] = field(default_factory=dict)  # row number -> earlier hand-over
    elsewhere: dict[int, LedgerEntry] = field(default_factory=dict)  # same content sent by another campaign
    invalid: list[PreparedRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notice: str | None = None  # provider contract notice to acknowledge once per mailbox
    claim: SendClaim | None = None  # held from before the planning to the end of the send
    resend: frozenset[str] = frozenset()
    resent_ids: set[str] = field(default_factory=set)  # `ID invio`s due only because of `resend`

    def release(self) -> None:
        """Give up the claim (the send ended, or will not happen); safe to call twice."""
        if self.claim is not None:
            self.claim.release()
            self.claim = None

    @property
    def blocking(self) -> list[Problem]:
        return self.report.blocking

    def attachments_line(self) -> str:
        """What the confirmation says about attachments: files and the total bytes that will leave."""
        sent = [a for row in self.due for a in row.draft.attachments]
        if not sent:
            return "Allegati: nessuno."
        files = len({a.path for a in sent})
        total = sum(a.size for a in sent)
        return (f"Allegati: {len(sent)} in tutto ({files} file {'diverso' if files == 1 else 'diversi'}), {format_size(total)} da inviare "
                f"(prima della codifica, che aggiunge circa un terzo).")

    @property
    def estimated_seconds(self) -> float:
        pace = self.settings.pace_per_minute
        return len(self.due) * (60.0 / pace if pace else 0.05)


def draft_hash(row: PreparedRow) -> str:
    return _hash_of(row.draft)


def _hash_of(d) -> str:
    return content_hash(d.to, d.subject, d.text, [(a.name, a.path) for a in d.attachments])


def claim_send(book: WorkbookGateway) -> tuple[SendClaim, object]:
    """Claim the workbook and its campaign for one send, before anything is planned (issue 10).

    The workbook's path lock comes first, so two processes racing on a never-sent workbook cannot
    both mint a campaign id; the id is then written into the workbook's marker and the campaign
    lock taken, which also stops a copy of the workbook (same id, another path). The loser gets
    `SendInProgress` («è già in corso un invio di questa campagna») and has written nothing.
    Returns the claim and the workbook as read under it.
    """
    # Before any lock file or journal is made: a read-only data folder is an Italian message.
    paths.ensure_writable(paths.data_dir() / "locks", "cartella dati di pecmass")
    claim = SendClaim(book.path)
    try:
        sheet = book.read()
        if isinstance(book, FileWorkbook):  # written in place by pecmass (Excel writes its own copy)
            paths.ensure_file_writable(book.path, "cartella di lavoro")
            paths.ensure_writable(book.path.parent, "cartella della cartella di lavoro")
        if not sheet.campaign_id:
            book.write(campaign_id=new_campaign_id(), confirm_lossy=lambda _losses: True)
            sheet = book.read()
        claim.take_campaign(sheet.campaign_id)
    except BaseException:
        claim.release()
        raise
    return claim, sheet


def ensure_send_writable(plan: SendPlan) -> None:
    """Every folder a send writes is proved writable before anything leaves (nothing half-written):
    the journals, the ledger's folder, the archive."""
    paths.ensure_writable(paths.journals_dir_path(), "registri delle campagne")
    ledger = ledger_path(plan.settings)
    paths.ensure_writable(ledger.parent if ledger is not None else paths.data_dir(), "registro invii")
    paths.ensure_writable(campaign_archive(Path(plan.book.path), plan.settings), "archivio delle PEC")


def plan_send(book: WorkbookGateway, resend: frozenset[str] = frozenset(), limit: int | None = None,
              claim: bool = False) -> SendPlan:
    """What a send would do. `claim=True` (a real send, CLI or ribbon worker) first claims the
    workbook and its campaign (`claim_send`) and keeps the claim on the plan until `SendRun` ends
    (or `plan.release()`); a preview of the plan (the ribbon's confirmation) claims nothing."""
    unknown = set(resend) - set(RESEND_CHOICES)
    if unknown:
        raise ValueError(f"unknown resend group(s): {sorted(unknown)}")
    held, sheet = claim_send(book) if claim else (None, book.read())
    try:
        plan = _plan(book, sheet, resend, limit)
        if held is not None and not plan.blocking:
            ensure_send_writable(plan)
    except BaseException:
        if held is not None:
            held.release()
        raise
    plan.claim = held
    return plan


def _plan(book, sheet, resend: frozenset[str], limit: int | None) -> SendPlan:
    report = run_checks(sheet)
    settings = report.settings
    campaign = report.sheet.campaign_id
    plan = SendPlan(book, report, settings, campaign or new_campaign_id(), not campaign, resend=frozenset(resend))
    if plan.blocking:
        return plan
    plan.invalid = [r for r in report.rows if not r.ok]
    valid = [r for r in report.rows if r.ok]
    with open_journal(plan.campaign_id) as journal, open_ledger(settings) as ledger:
        for damaged, rebuilt in ((journal, "dal registro invii o dalla casella"), (ledger, "dai registri delle campagne")):
            if damaged.set_aside is not None:
                plan.warnings.append(f"Il file «{damaged.path.name}» era danneggiato: messo da parte come "
                                     f"«{damaged.set_aside}» e ricostruito {rebuilt} prima di inviare.")
        with_id = [r for r in valid if r.id_invio]
        due_ids = set(journal.rows_to_send([r.id_invio for r in with_id], resend=resend))
        if resend:  # rows due only because the user asked for a resend: the guard lets them through
            plan.resent_ids = due_ids - set(journal.rows_to_send([r.id_invio for r in with_id]))
        taken = {r.id_invio for r in report.rows if r.id_invio}
        for row in valid:
            if row.id_invio:
                if row.id_invio in due_ids:
                    plan.due.append(row)
                continue
            digest = draft_hash(row)
            if "sent" not in resend:
                earlier = ledger.readoption_candidate(settings.mailbox, digest, plan.campaign_id, taken)
                if earlier is None and row.legacy_draft is not None:
                    # Sent before the upgrade, when "1.500" in text was read as 1,50: same PEC, old hash.
                    earlier = ledger.readoption_candidate(settings.mailbox, _hash_of(row.legacy_draft), plan.campaign_id, taken)
                    if earlier is not None:
                        plan.warnings.append(
                            f"Riga {row.number}: riconosciuta come già inviata il {rome_wall_clock(earlier.recorded_at):%d/%m/%Y}, ma quella PEC "
                            "riportava un numero letto alla vecchia maniera (per esempio «1.500» come 1,50): controllate "
                            "il messaggio archiviato e, se serve, inviate una rettifica (--resend sent)."
                        )
                if earlier is not None:
                    plan.adopted[row.number] = earlier
                    taken.add(earlier.row_id)
                    continue
                other = ledger.identical(settings.mailbox, row.draft.to, digest,
                                         window_days=settings.identical_window_days)
                if other:
                    # Queued all the same: the hand-over guard re-adopts it (no second PEC) and its
                    # receipts are then followed in this campaign too.
                    plan.elsewhere[row.number] = other[0]
            plan.due.append(row)
        if resend:
            for row in plan.due:
                earlier = ledger.identical(settings.mailbox, row.draft.to, draft_hash(row))
                if earlier:
                    plan.warnings.append(
                        f"Riga {row.number}: una PEC identica è stata affidata al gestore il "
                        f"{rome_wall_clock(earlier[0].recorded_at):%d/%m/%Y alle %H:%M}; confermando ne parte un'altra."
                    )
    if limit is not None:
        plan.due = plan.due[: max(limit, 0)]
    preset = settings.preset
    if preset is not None and preset.name == "Legalmail":
        plan.notice = LEGALMAIL_NOTICE
        if settings.pace_per_minute == 0 or settings.pace_per_minute > LEGALMAIL_MAX_PACE:
            plan.warnings.append(
                f"Ritmo impostato a {settings.pace_per_minute or 'nessun limite'} messaggi al minuto: Legalmail ne consente "
                f"{LEGALMAIL_MAX_PACE}; oltre, il server risponde «Too much traffic» e l'invio rallenta."
            )
    for number, entry in plan.elsewhere.items():
        plan.warnings.append(
            f"Riga {number}: lo stesso messaggio allo stesso destinatario è già stato affidato al gestore "
            f"il {rome_wall_clock(entry.recorded_at):%d/%m/%Y} (campagna {entry.campaign_id}): non viene inviato di nuovo, "
            "la riga ne riprende l'esito (usate --resend sent per un secondo invio voluto)."
        )
    return plan
