"""daticert.xml: real files, provider quirks, dates with `zona`, hostile XML refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fixture_files import daticert_dtd
from receipts_builders import daticert_xml

from pecmass_xl.receipts.daticert import event_time_utc, parse_daticert


def test_postecom_envelope_without_msgid_and_with_esterno(fixture_bytes):
    dc, problems = parse_daticert(fixture_bytes("gcc.gnu.org_legacy-ml_java_2012-09_msg00027_daticert.xml"))
    assert problems == []
    assert dc.tipo == "posta-certificata"
    assert dc.msgid is None
    assert dc.destinatari == (("java@gcc.gnu.org", "esterno"),)
    assert dc.gestore == "POSTECOM S.P.A. - GRUPPO POSTE ITALIANE"
    assert dc.identificativo == "E82D9D8F.000073B6.E8F90950.8520A581.posta-certificata@postecert.it"
    assert dc.ricevuta_tipo == "completa"
    assert dc.event_time == datetime(2012, 9, 21, 13, 16, 38, tzinfo=UTC)


def test_trailing_bytes_after_root_are_ignored():
    raw = daticert_xml("accettazione").rstrip() + b"\n\r\n\x00garbage"
    dc, problems = parse_daticert(raw)
    assert problems == []
    assert dc.tipo == "accettazione"


def test_stray_text_and_other_case_are_tolerated():
    raw = (
        b'<?xml version="1.0"?><POSTACERT TIPO="Errore-Consegna" Errore="NO-DEST"><Intestazione>'
        b"<Mittente>a@pec.test</Mittente><destinatari>b@pec.test</destinatari><risposte/>stray"
        b"</Intestazione><DATI><gestore-emittente>X</gestore-emittente>"
        b'<data zona="+0100"><giorno>1/2/2025</giorno><ora>23:30</ora></data>'
        b"<identificativo>id@pec.test</identificativo><consegna>b@pec.test</consegna>"
        b"<Errore-Esteso>5.1.1 - utente inesistente</Errore-Esteso></DATI></POSTACERT>"
    )
    dc, problems = parse_daticert(raw)
    assert problems == []
    assert (dc.tipo, dc.errore) == ("errore-consegna", "no-dest")
    assert dc.destinatari == (("b@pec.test", "certificato"),)  # default tipo from the DTD
    assert dc.msgid is None
    assert dc.errore_esteso == "5.1.1 - utente inesistente"
    assert dc.event_time == datetime(2025, 2, 1, 22, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("giorno", "ora", "zona", "expected"),
    [
        ("19/09/2026", "15:41:19", "+0200", datetime(2026, 9, 19, 13, 41, 19, tzinfo=UTC)),
        ("01/01/2026", "00:30:00", "+0100", datetime(2025, 12, 31, 23, 30, tzinfo=UTC)),
        ("31/12/2025", "23:30:00", "-0230", datetime(2026, 1, 1, 2, 0, tzinfo=UTC)),
        ("19/09/2026", "15:41:19", "+02:00", datetime(2026, 9, 19, 13, 41, 19, tzinfo=UTC)),
        ("31/02/2026", "10:00:00", "+0100", None),
        ("19/09/2026", "15:41:19", "CEST", None),
        ("19/09/2026", "15:41:19", None, None),
    ],
)
def test_event_time_uses_zona(giorno, ora, zona, expected):
    assert event_time_utc(giorno, ora, zona) == expected


def test_unreadable_date_is_a_problem_not_a_crash():
    dc, problems = parse_daticert(daticert_xml("accettazione", giorno="xx", zona="+0100"))
    assert dc.event_time is None
    assert problems == ["data di daticert.xml illeggibile"]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE postacert [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<postacert tipo="accettazione" errore="nessuno"><intestazione><mittente>&lol9;</mittente>
</intestazione><dati/></postacert>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE postacert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<postacert tipo="accettazione" errore="nessuno"><intestazione><mittente>&xxe;</mittente>
</intestazione><dati/></postacert>"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE postacert [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>
<postacert tipo="accettazione" errore="nessuno"><intestazione/><dati/></postacert>"""


@pytest.mark.parametrize("raw", [BILLION_LAUGHS, EXTERNAL_ENTITY, PARAMETER_ENTITY])
def test_entities_are_refused(raw):
    dc, problems = parse_daticert(raw)
    assert dc is None
    assert problems == ["daticert.xml rifiutato: contiene entità o riferimenti esterni"]


def test_doctype_without_entities_is_accepted_and_not_fetched():
    raw = daticert_xml("accettazione").replace(
        b"<postacert", b'<!DOCTYPE postacert SYSTEM "http://127.0.0.1:9/daticert.dtd">\n<postacert', 1
    )
    dc, problems = parse_daticert(raw)
    assert problems == []
    assert dc.tipo == "accettazione"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"", "daticert.xml illeggibile"),
        (b"<postacert", "daticert.xml illeggibile"),
        (b"\xff\xfe\x00<", "daticert.xml illeggibile"),
        (b"<other/>", "daticert.xml senza elemento postacert"),
        (b"<postacert/>", "daticert.xml incompleto"),
        (b"<postacert>" + b"x" * 70_000 + b"</postacert>", "daticert.xml troppo grande: ignorato"),
    ],
)
def test_malformed_input_gives_a_problem(raw, problem):
    dc, problems = parse_daticert(raw)
    assert problem in problems


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tipo": "accettazione"},
        {"tipo": "accettazione", "destinatari": (("a@example.org", "esterno"),)},
        {"tipo": "avvenuta-consegna", "ricevuta": "completa", "consegna": "b@pec.test"},
        {"tipo": "errore-consegna", "errore": "no-dest", "consegna": "b@pec.test", "errore_esteso": "5.1.1"},
        {"tipo": "non-accettazione", "errore": "virus", "errore_esteso": "virus"},
        {"tipo": "preavviso-errore-consegna", "errore": "altro", "consegna": "b@pec.test"},
        {"tipo": "posta-certificata", "ricevuta": "sintetica", "msgid": None},
    ],
)
def test_synthetic_daticert_follows_the_dtd(kwargs):
    """The builders used by these tests produce DTD-valid daticert (what real providers send)."""
    from lxml import etree

    dtd = etree.DTD(str(daticert_dtd()))
    tipo = kwargs.pop("tipo")
    document = etree.fromstring(daticert_xml(tipo, **kwargs))
    assert dtd.validate(document), dtd.error_log.filter_from_errors()
