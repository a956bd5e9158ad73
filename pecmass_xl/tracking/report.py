"""`pecmass report`: one CSV line per recipient, anomalies first (issue 5, DESIGN §5.8).

UTF-8 with BOM and `;` by default, so Italian Excel opens it right; any cell Excel would run as a
formula is neutralised with a leading apostrophe.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from pecmass_xl.campaign.checks import CheckReport
from pecmass_xl.core.errors import EXIT_FAILED_ROWS, PecmassError
from pecmass_xl.core.rome_time import rome_wall_clock
from pecmass_xl.journal import Journal, proofs
from pecmass_xl.tracking import quarantine
from pecmass_xl.tracking.anomalies import anomaly_reason
from pecmass_xl.workbook import contract as c

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def neutralise(value: object) -> str:
    """Text that Excel will show, never execute."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%d/%m/%Y %H:%M:%S")
    text = str(value)
    if text.startswith(FORMULA_START):
        return "'" + text
    return text


class NothingToReport(PecmassError):
    """The list has no row: no report is written (an empty CSV would look like a finished campaign)."""

    exit_code = EXIT_FAILED_ROWS


@dataclass
class ReportSummary:
    path: Path
    rows: int
    anomalies: int
    counts: dict[str, int]
    unreadable: int = 0  # "ricevute illeggibili" waiting in quarantine


def _sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def build_report(report: CheckReport, journal: Journal | None, archive_root: Path, out: Path,
                 delimiter: str = ";") -> ReportSummary:
    if not report.sheet.rows:
        raise NothingToReport(f"Il foglio {c.SHEET_LIST} non ha righe: nessun report scritto. "
                              "Aggiungete i destinatari (o importate un CSV) e inviate prima.")
    headers = [h.name for h in report.sheet.parameter_headers]
    views = journal.row_views() if journal else {}
    extra = ["Anomalia", "Tentativi", "Message-ID", "Identificativo gestore", "Prova del contenuto", "File inviato",
             "SHA-256 inviato", "Ricevute archiviate", "SHA-256 ricevute"]
    unreadable = quarantine.pending(archive_root)
    quarantined_by_row = quarantine.rows_waiting(archive_root)
    columns = ["Riga"] + headers + [col for col in c.RESULT_COLUMNS if col != c.COL_RECEIPTS] + extra
    lines: list[tuple[bool, int, list[str]]] = []
    counts: dict[str, int] = {}
    prepared_by_number = {p.number: p for p in report.rows}
    for sheet_row in report.sheet.rows:
        prepared = prepared_by_number.get(sheet_row.number)
        view = views.get(sheet_row.id_invio) if sheet_row.id_invio else None
        values = [str(sheet_row.number)] + [str(sheet_row.values.get(h, "")) for h in headers]
        if view is not None:
            result = view.result_columns()
            status = view.status.stato
            for column in c.DATE_RESULT_COLUMNS:
                result[column] = rome_wall_clock(result.get(column))
        else:
            status = c.ST_TO_SEND if prepared is None or prepared.ok else c.ST_INVALID
            result = {c.COL_ID: sheet_row.id_invio, c.COL_STATUS: status,
                      c.COL_DETAIL: "" if prepared is None or prepared.ok else prepared.error_text}
        counts[status] = counts.get(status, 0) + 1
        reason = anomaly_reason(status, view.status if view is not None else None,
                                quarantined_by_row.get(sheet_row.id_invio or "", 0))
        anomaly = bool(reason)
        sent_file, sent_hash, receipts, receipt_hashes, message_id, provider_id = "", "", [], [], "", ""
        proof = None
        if view is not None and view.attempt is not None:
            message_id = view.attempt.message_id
            proof = proofs.verdict(journal, message_id)
            result[c.COL_DETAIL] = proofs.detail_with_proof(str(result.get(c.COL_DETAIL) or ""), proof)
            if view.attempt.eml_path:
                sent_file = view.attempt.eml_path
                sent_hash = _sha256(Path(sent_file))
            for event in journal.events(view.attempt):
                if event.archive_path:
                    receipts.append(Path(event.archive_path).name)
                    receipt_hashes.append(_sha256(Path(event.archive_path)))
                if event.provider_id and not provider_id:
                    provider_id = event.provider_id
        values += [result.get(col) for col in c.RESULT_COLUMNS if col != c.COL_RECEIPTS]
        values += [reason, str(view.attempt_count) if view else "0", message_id, provider_id, proof or "", sent_file,
                   sent_hash, " | ".join(receipts), " | ".join(receipt_hashes)]
        lines.append((anomaly, sheet_row.number, [neutralise(v) for v in values]))
    lines.sort(key=lambda item: (not item[0], item[1]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow([neutralise(col) for col in columns])
    if unreadable:  # not a recipient: one line on top, so the count is never missed
        note = [""] * len(columns)
        note[columns.index("Anomalia")] = (f"Ricevute illeggibili: {len(unreadable)}, in quarantena in "
                                           f"«{quarantine.folder(archive_root)}»; rilette alla prossima lettura")
        writer.writerow(note)
    for _anomaly, _number, values in lines:
        writer.writerow(values)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))
    tmp.replace(out)
    return ReportSummary(out, len(lines), sum(1 for a, _, _ in lines if a), counts, len(unreadable))


def default_report_path(workbook: Path, now: dt.datetime | None = None) -> Path:
    now = now or rome_wall_clock(dt.datetime.now(dt.UTC))  # Italian time, like every date pecmass shows
    return workbook.with_name(f"{workbook.stem}_report_{now:%Y%m%d-%H%M}.csv")
