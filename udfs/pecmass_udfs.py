"""PEC worksheet functions for Excel (Windows only, an xlwings limitation).

    =PEC_VALIDA(A2)                        TRUE when A2 is one well-formed PEC address
    =PEC_ANTEPRIMA(Messaggio!B5; Destinatari!A1:F1; Destinatari!A2:F2)
                                           the text the template gives for that row
    =PEC_STATO(G2; pecmass!$B$3)           the journal's `Stato invio` of an `ID invio`

Import them into a workbook with xlwings (UDF Modules: `udfs.pecmass_udfs`, then Import Functions).
They are kept out of the template because xlwings' wrappers need a VBA reference to its add-in.
PEC_STATO is not volatile (a volatile function would open the journal at every edit and freeze a big
sheet): its second argument is the time stamp pecmass rewrites in the very hidden `pecmass` sheet at
every write through Excel, so Excel recalculates the formulas exactly when pecmass has written.
Each one is a thin wrapper around a plain function (`pec_valida`, `pec_anteprima`, `pec_stato`)
that tests call directly; on Linux and macOS the xlwings decorators do nothing.
"""

from __future__ import annotations

import time
from typing import Any

import xlwings as xw

from pecmass_xl.campaign.addresses import address_problem
from pecmass_xl.campaign.templates import compile_template, render
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook.cell_values import cell_text

CATEGORY = "PEC Massiva"
STATUS_CACHE_SECONDS = 5.0  # a column of PEC_STATO reads the journal once, not once per cell
_status_cache: dict[str, tuple[float, Any, dict[str, str]]] = {}  # campaign -> (read at, stamp, statuses)


def pec_valida(indirizzo: Any) -> bool:
    """True for one plain, well-formed PEC address (test domains such as .test are refused)."""
    if not isinstance(indirizzo, str):
        return False
    return address_problem(indirizzo, sandbox=False) is None


def pec_anteprima(modello: Any, intestazioni: list[Any], valori: list[Any]) -> str:
    """The template rendered with one row: headers and values as two equally long lists."""
    if not isinstance(modello, str) or not modello:
        return ""
    headers = [str(h).strip() if h is not None else "" for h in intestazioni]
    if len(headers) != len(valori):
        return "#ERRORE: intestazioni e valori devono avere lo stesso numero di celle"
    names = [h for h in headers if h]
    compiled = compile_template("Anteprima", modello, names)
    if compiled.issues:
        return "#ERRORE: " + compiled.issues[0].message
    values = {h: cell_text(v) for h, v in zip(headers, valori, strict=False) if h}
    result = render(compiled, values)
    if result.error:
        return "#ERRORE: " + result.error
    if result.empty_fields:
        return "#ERRORE: campi vuoti usati senza condizione: " + ", ".join(result.empty_fields)
    return result.text or ""


def pec_stato(id_invio: Any, campaign_id: str, updated: Any = None) -> str:
    """`Stato invio` of a row as the campaign's journal says; "" when unknown.

    `updated` is pecmass's last-write stamp: a new stamp reads the journal again; with no stamp a
    column of formulas still reads the journal once every few seconds, not once per cell."""
    row_id = str(id_invio).strip() if id_invio not in (None, "") else ""
    if not row_id or not campaign_id:
        return ""
    cached = _status_cache.get(campaign_id)
    fresh = cached is not None and (cached[1] == updated if updated is not None
                                    else time.monotonic() - cached[0] <= STATUS_CACHE_SECONDS)
    if not fresh:
        cached = (time.monotonic(), updated, _journal_statuses(campaign_id))
        _status_cache[campaign_id] = cached
    return cached[2].get(row_id, "")


def _journal_statuses(campaign_id: str) -> dict[str, str]:
    from pecmass_xl.journal import Journal
    from pecmass_xl.journal.store import journal_path

    if not journal_path(campaign_id).exists():  # never create a journal from a formula
        return {}
    with Journal.for_campaign(campaign_id) as journal:
        return {rid: view.status.stato for rid, view in journal.row_views().items()}


def _campaign_of(caller: Any) -> str:
    """The campaign id in the hidden marker sheet of the workbook holding the formula."""
    try:
        marker = caller.sheet.book.sheets[c.SHEET_MARKER]
        for label, value in marker.range((1, 1), (10, 2)).value:
            if label == c.MARKER_CAMPAIGN and value:
                return str(value).strip()
    except Exception:  # noqa: BLE001 - a worksheet function returns a value, never raises
        return ""
    return ""


@xw.func(category=CATEGORY)
@xw.arg("indirizzo", doc="Cella con l'indirizzo PEC da controllare")
def PEC_VALIDA(indirizzo):
    """VERO se la cella contiene un solo indirizzo PEC scritto correttamente."""
    return pec_valida(indirizzo)


@xw.func(category=CATEGORY)
@xw.arg("modello", doc="Testo del modello, ad esempio Messaggio!B5")
@xw.arg("intestazioni", ndim=1, doc="Riga delle intestazioni di Destinatari")
@xw.arg("valori", ndim=1, doc="Riga del destinatario, stesse colonne delle intestazioni")
def PEC_ANTEPRIMA(modello, intestazioni, valori):
    """Il testo che il modello produce per una riga di Destinatari."""
    return pec_anteprima(modello, intestazioni, valori)


@xw.func(category=CATEGORY, volatile=False)
@xw.arg("id_invio", doc="Cella con l'ID invio della riga")
@xw.arg("aggiornato", doc="pecmass!$B$3: l'ora dell'ultima scrittura di pecmass, che fa ricalcolare la formula")
def PEC_STATO(id_invio, aggiornato=None, caller=None):
    """Lo Stato invio registrato da pecmass per un ID invio di questa cartella di lavoro."""
    return pec_stato(id_invio, _campaign_of(caller), aggiornato)
