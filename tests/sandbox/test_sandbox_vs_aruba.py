"""The sandbox's receipts held against real Aruba receipts (2026), header by header and part by part.

Values differ by nature (ids, dates, the provider's domain, anonymised addresses); what must match
is the structure a receipt reader relies on: which headers, in which order, with which fixed values
and prefixes; the MIME tree down to postacert.eml; the daticert elements and attributes; the
bilingual text's landmarks. Aruba-only extras and delivery trace fields are listed and ignored.
"""

from __future__ import annotations

import email
import email.policy
import re
from email.message import Message

import pytest
from fixture_files import shared_fixture
from sandbox_helpers import by_kind, daticert_tree, make_message, parse, receipts_for, send, unique

# Trace fields added on delivery, and Aruba-specific headers outside the PEC rules.
IGNORED_HEADERS = {"received", "return-path", "delivered-to", "x-lmtp-aru-notify-rcpt", "x-attachment"}
DATE = re.compile(r"^[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4} \([A-Z]+\)$")
MESSAGE_ID = re.compile(r"^<[^<>@\s]+@[^<>@\s]+>$")
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(scope="module")
def aruba() -> dict[str, Message]:
    names = {
        "accettazione": "SimoneP91_accettazione.eml",
        "avvenuta-consegna": "SimoneP91_avvenuta-consegna.eml",
        "errore-consegna": "SimoneP91_errore-consegna.eml",
        "busta": "SimoneP91_busta-trasporto.eml",
    }
    return {kind: parse(shared_fixture(name).read_bytes()) for kind, name in names.items()}


@pytest.fixture
def ours(sb) -> dict[str, Message]:
    """The same transactions as the Aruba samples: a self-addressed message with an HTML body and a PDF,
    and one to a mailbox that does not exist (Aruba style)."""
    collaudo = make_message(sb.sender, sb.sender, subject="Collaudo pecmailer 1")
    collaudo.set_content("<p>Messaggio di collaudo 1 inviato da pecmailer.</p>", subtype="html")
    collaudo.add_attachment(PDF, maintype="application", subtype="pdf", filename="collaudo.pdf")
    failing = make_message(sb.sender, unique("aruba-inesistente"), subject="Collaudo pecmailer 2")
    send(sb, collaudo)
    send(sb, failing)
    sb.wait_idle()
    items = receipts_for(sb, collaudo["Message-ID"])
    (envelope,) = [m for _, m in items if m["X-Trasporto"] == "posta-certificata"]
    return {
        "accettazione": by_kind(items, "accettazione")[0][1],
        "avvenuta-consegna": by_kind(items, "avvenuta-consegna")[0][1],
        "errore-consegna": by_kind(receipts_for(sb, failing["Message-ID"]), "errore-consegna")[0][1],
        "busta": envelope,
    }


KINDS = ["accettazione", "avvenuta-consegna", "errore-consegna", "busta"]


def header_names(message: Message) -> list[str]:
    return [name.lower() for name in message.keys() if name.lower() not in IGNORED_HEADERS]


def original_subject(message: Message) -> str:
    subject = email.header.make_header(email.header.decode_header(message["Subject"]))
    return str(subject).split(": ", 1)[1]


@pytest.mark.parametrize("kind", KINDS)
def test_same_headers_in_the_same_order(aruba, ours, kind):
    assert header_names(ours[kind]) == header_names(aruba[kind])


@pytest.mark.parametrize("kind", KINDS)
def test_same_fixed_values_and_shapes(aruba, ours, kind):
    real, mine = aruba[kind], ours[kind]
    for name in ("X-Ricevuta", "X-Trasporto", "X-TipoRicevuta", "MIME-Version"):
        assert mine[name] == real[name], name
    subject_prefix = str(email.header.make_header(email.header.decode_header(real["Subject"]))).split(": ", 1)[0]
    assert str(email.header.make_header(email.header.decode_header(mine["Subject"]))).startswith(subject_prefix + ": ")
    assert original_subject(mine) == original_subject(real)
    for message in (real, mine):
        assert DATE.match(message["Date"]), message["Date"]
        assert MESSAGE_ID.match(message["Message-ID"])
        assert MESSAGE_ID.match(message["X-Riferimento-Message-ID"])
        assert message.get_content_type() == "multipart/signed"
    for param in ("protocol", "micalg"):
        assert mine.get_param(param) == real.get_param(param)
    real_from, mine_from = email.utils.parseaddr(real["From"]), email.utils.parseaddr(mine["From"])
    assert real_from[1].split("@")[0] == mine_from[1].split("@")[0] == "posta-certificata"
    assert real_from[0].split(":")[0] == mine_from[0].split(":")[0]  # "" or "Per conto di"
    if real["X-REM-Subject"]:
        assert mine["X-REM-Subject"].split(": ", 1)[0] == real["X-REM-Subject"].split(": ", 1)[0]


def mime_outline(message: Message, depth: int = 0) -> list[tuple]:
    """Content type, transfer encoding, disposition, file name of every part down to postacert.eml."""
    disposition = (message.get("Content-Disposition") or "").split(";")[0].strip().lower() or None
    row = [
        (
            depth,
            message.get_content_type(),
            (message.get("Content-Transfer-Encoding") or "").lower() or None,
            disposition,
            message.get_filename(),
            message.get_param("name"),
            message.get_content_charset() if message.get_content_maintype() == "text" else None,
        )
    ]
    if message.is_multipart() and message.get_content_type() != "message/rfc822":
        for part in message.get_payload():
            row += mime_outline(part, depth + 1)
    return row


@pytest.mark.parametrize("kind", KINDS)
def test_same_mime_tree(aruba, ours, kind):
    assert mime_outline(ours[kind]) == mime_outline(aruba[kind])


def xml_outline(element, path: str = "") -> list[tuple]:
    here = f"{path}/{element.tag}"
    rows = [(here, tuple(sorted(element.attrib)), bool((element.text or "").strip()))]
    for child in element:
        rows += xml_outline(child, here)
    return rows


@pytest.mark.parametrize("kind", KINDS)
def test_same_daticert_structure(aruba, ours, kind):
    real, mine = daticert_tree(aruba[kind]), daticert_tree(ours[kind])
    assert xml_outline(mine) == xml_outline(real)
    assert (mine.get("tipo"), mine.get("errore")) == (real.get("tipo"), real.get("errore"))
    for path in ("dati/ricevuta",):
        assert (real.find(path) is None) == (mine.find(path) is None)
        if real.find(path) is not None:
            assert real.find(path).attrib == mine.find(path).attrib
    assert mine.find("dati/data").get("zona")[0] in "+-" and len(mine.find("dati/data").get("zona")) == 5
    if kind == "errore-consegna":
        assert real.findtext("dati/errore-esteso").startswith("5.1.1 - ")
        assert mine.findtext("dati/errore-esteso").startswith("5.1.1 - ")
        assert real.findtext("dati/errore-esteso").endswith("indirizzo non valido")
        assert mine.findtext("dati/errore-esteso").endswith("indirizzo non valido")


def text_parts(message: Message) -> tuple[str, str]:
    plain = html = ""
    for part in message.walk():
        if part.get_content_type() == "message/rfc822":
            break
        if part.get_content_type() == "text/plain":
            plain = part.get_payload(decode=True).decode(part.get_content_charset())
        elif part.get_content_type() == "text/html":
            html = part.get_payload(decode=True).decode(part.get_content_charset())
    return plain, html


@pytest.mark.parametrize("kind", KINDS)
def test_same_text_landmarks(aruba, ours, kind):
    (real_plain, real_html), (my_plain, my_html) = text_parts(aruba[kind]), text_parts(ours[kind])
    assert my_plain.splitlines()[0] == real_plain.splitlines()[0]  # "-- Ricevuta di accettazione --" etc.
    real_title = re.search(r"<title>(.*)</title>", real_html).group(1)
    assert re.search(r"<title>(.*)</title>", my_html).group(1) == real_title
    identificativo = daticert_tree(ours[kind]).findtext("dati/identificativo")
    for landmark in ("Identificativo messaggio: ", "Message identifier: "):
        assert landmark in real_plain
        assert f"{landmark}{identificativo}" in my_plain
    real_english_title = next(line for line in real_plain.splitlines()[3:] if line.startswith("--") and line.endswith("--") and "-" * 20 not in line)
    assert real_english_title.replace("  ", " ") in my_plain.replace("  ", " ")
