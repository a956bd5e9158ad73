"""What the provider emits: every receipt type checked for headers, daticert (DTD), signature and timing rules."""

from __future__ import annotations

import datetime as dt
import email.header
import email.policy
import email.utils
import hashlib
from zoneinfo import ZoneInfo

import pytest
from sandbox_helpers import (
    assert_dtd_valid,
    assert_signed,
    by_kind,
    inbox,
    make_message,
    parse,
    postacert,
    receipts_for,
    send,
    unique,
)

from pecmass_xl.sandbox import Sandbox
from pecmass_xl.sandbox.submission import EICAR

ROME = ZoneInfo("Europe/Rome")
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n" * 20


def text_of(message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode(part.get_content_charset())
    raise AssertionError("no text/plain part")


def assert_common_receipt_shape(raw: bytes, message, kind: str, client_id: str, sb: Sandbox, tmp_path) -> None:
    """What every receipt must carry (issue 3, RFC 6109 §2.1)."""
    assert message["X-Ricevuta"] == kind
    assert message["X-Riferimento-Message-ID"] == client_id
    assert message["From"] == "posta-certificata@pec.sandbox.test"
    assert message["To"] == sb.sender
    assert message["X-Trasporto"] is None
    assert message.get_content_type() == "multipart/signed"
    assert message.get_param("protocol") == "application/pkcs7-signature"
    assert message.get_param("micalg") == "sha-256"
    text = text_of(message)
    assert "Identificativo messaggio:" in text and "Message identifier:" in text  # bilingual
    tree = assert_dtd_valid(message)
    assert tree.get("tipo") == kind
    assert tree.findtext("dati/msgid") == client_id
    assert_signed(raw, sb, tmp_path)


def test_accepted_message_gives_acceptance_envelope_and_delivery(sb, tmp_path):
    recipient = unique()
    message = make_message(sb.sender, recipient, subject="Convocazione assemblea", attachments=[("verbale.pdf", PDF)])
    client_id = message["Message-ID"]
    code, answer = send(sb, message)
    assert code == 250, answer

    # The acceptance is in the INBOX as soon as the 250 has arrived.
    accepted = by_kind(receipts_for(sb, client_id), "accettazione")
    assert len(accepted) == 1
    raw, acceptance = accepted[0]
    assert_common_receipt_shape(raw, acceptance, "accettazione", client_id, sb, tmp_path)
    assert acceptance["Subject"] == "ACCETTAZIONE: Convocazione assemblea"
    tree = assert_dtd_valid(acceptance)
    identificativo = tree.findtext("dati/identificativo")
    assert [(d.text, d.get("tipo")) for d in tree.findall("intestazione/destinatari")] == [(recipient, "certificato")]
    assert tree.findtext("intestazione/risposte") == ""
    assert tree.find("dati/ricevuta") is None

    sb.wait_idle()
    delivered = by_kind(receipts_for(sb, client_id), "avvenuta-consegna")
    assert len(delivered) == 1
    raw, delivery = delivered[0]
    assert_common_receipt_shape(raw, delivery, "avvenuta-consegna", client_id, sb, tmp_path)
    assert delivery["Subject"] == "CONSEGNA: Convocazione assemblea"
    tree = assert_dtd_valid(delivery)
    assert tree.findtext("dati/identificativo") == identificativo
    assert tree.findtext("dati/consegna") == recipient
    assert tree.find("dati/ricevuta").get("tipo") == "completa"
    copy = postacert(delivery)
    assert copy is not None and copy["Message-ID"] == f"<{identificativo}>"
    assert copy["X-Riferimento-Message-ID"] == client_id
    assert [p.get_filename() for p in copy.walk() if p.get_filename()] == ["verbale.pdf"]

    # The recipient got the transport envelope: not a receipt, it carries X-Trasporto.
    (envelope_raw,) = sb.mailbox_messages(recipient)
    envelope = parse(envelope_raw)
    assert envelope["X-Trasporto"] == "posta-certificata"
    assert envelope["X-Ricevuta"] is None
    assert envelope["Message-ID"] == f"<{identificativo}>"
    assert envelope["X-Riferimento-Message-ID"] == client_id
    assert envelope["X-TipoRicevuta"] == "completa"
    assert envelope["Subject"] == "POSTA CERTIFICATA: Convocazione assemblea"
    assert email.utils.parseaddr(envelope["From"]) == (f"Per conto di: {sb.sender}", "posta-certificata@pec.sandbox.test")
    assert envelope["Reply-To"] == sb.sender
    assert envelope["To"] == recipient
    tree = assert_dtd_valid(envelope)
    assert tree.get("tipo") == "posta-certificata"
    assert tree.find("dati/ricevuta").get("tipo") == "completa"
    assert postacert(envelope)["Message-ID"] == f"<{identificativo}>"
    assert_signed(envelope_raw, sb, tmp_path)

    # Every message has its own Message-ID; the envelope's is the provider id.
    ids = [acceptance["Message-ID"], delivery["Message-ID"], envelope["Message-ID"]]
    assert len(set(ids)) == 3 and client_id not in ids


def test_dates_follow_simulated_time_in_italian_legal_time(sandbox_dir):
    with Sandbox.start(sandbox_dir, time_scale=100_000) as sb:
        message = make_message(sb.sender, unique())
        before = sb.now()
        send(sb, message)
        sb.wait_idle()
        after = sb.now()
        raw, acceptance = by_kind(receipts_for(sb, message["Message-ID"]), "accettazione")[0]
        _, delivery = by_kind(receipts_for(sb, message["Message-ID"]), "avvenuta-consegna")[0]
    for receipt in (acceptance, delivery):
        header_date = email.utils.parsedate_to_datetime(receipt["Date"])
        assert before - dt.timedelta(seconds=1) <= header_date <= after + dt.timedelta(seconds=1)
        tree = assert_dtd_valid(receipt)
        data = tree.find("dati/data")
        local = dt.datetime.strptime(f"{data.findtext('giorno')} {data.findtext('ora')}", "%d/%m/%Y %H:%M:%S")
        expected_zone = header_date.astimezone(ROME).strftime("%z")
        assert data.get("zona") == expected_zone
        assert local.replace(tzinfo=dt.timezone(header_date.astimezone(ROME).utcoffset())) == header_date
    delay = email.utils.parsedate_to_datetime(delivery["Date"]) - email.utils.parsedate_to_datetime(acceptance["Date"])
    assert dt.timedelta(0) <= delay <= dt.timedelta(seconds=2)  # delivery ~1 simulated second later


@pytest.mark.parametrize("form", ["completa", "breve", "sintetica"])
def test_delivery_receipt_forms(sb, tmp_path, form):
    recipient = unique()
    message = make_message(sb.sender, recipient, attachments=[("atto.pdf", PDF)], receipt_form=form)
    send(sb, message)
    sb.wait_idle()
    raw, delivery = by_kind(receipts_for(sb, message["Message-ID"]), "avvenuta-consegna")[0]
    assert_common_receipt_shape(raw, delivery, "avvenuta-consegna", message["Message-ID"], sb, tmp_path)
    assert assert_dtd_valid(delivery).find("dati/ricevuta").get("tipo") == form
    copy = postacert(delivery)
    if form == "sintetica":
        assert copy is None
        return
    names = [p.get_filename() for p in copy.walk() if p.get_filename()]
    if form == "completa":
        assert names == ["atto.pdf"]
        return
    assert names == ["atto.pdf.hash"]
    (hash_part,) = [p for p in copy.walk() if p.get_filename() == "atto.pdf.hash"]
    assert hash_part.get_content_type() == "text/plain"
    digest = hash_part.get_payload().strip()
    # SHA-1 of the part's body exactly as transmitted: base64 text, CRLF line ends, up to the delimiter.
    sent = parse(message.as_bytes(policy=email.policy.SMTP))
    original = [p for p in sent.walk() if p.get_filename() == "atto.pdf"][0]
    assert digest == hashlib.sha1(original.get_payload().encode()).hexdigest()
    (envelope,) = inbox(sb, recipient)
    assert envelope["X-TipoRicevuta"] == form


def test_one_acceptance_and_one_delivery_per_recipient_cc_get_sintetica(sb):
    first, second, copy = unique("primo"), unique("secondo"), unique("copia")
    message = make_message(sb.sender, [first, second], cc=[copy], attachments=[("a.pdf", PDF)])
    send(sb, message)
    sb.wait_idle()
    items = receipts_for(sb, message["Message-ID"])
    (acceptance,) = [m for _, m in by_kind(items, "accettazione")]
    listed = [d.text for d in assert_dtd_valid(acceptance).findall("intestazione/destinatari")]
    assert listed == [first, second, copy]
    deliveries = {assert_dtd_valid(m).findtext("dati/consegna"): m for _, m in by_kind(items, "avvenuta-consegna")}
    assert set(deliveries) == {first, second, copy}
    assert postacert(deliveries[first]) is not None and postacert(deliveries[second]) is not None
    assert postacert(deliveries[copy]) is None
    assert assert_dtd_valid(deliveries[copy]).find("dati/ricevuta").get("tipo") == "sintetica"
    for address in (first, second, copy):
        assert [m["X-Trasporto"] for m in inbox(sb, address)] == ["posta-certificata"]


# --- non-accettazione ----------------------------------------------------------------------------


def assert_not_accepted(sb, tmp_path, message, rcpt=None, *, virus: bool = False):
    code, answer = send(sb, message, rcpt)
    assert code == 250, answer  # accepted by SMTP; the provider then refuses it with a receipt
    sb.wait_idle()
    items = receipts_for(sb, message["Message-ID"])
    assert [m["X-Ricevuta"] for _, m in items] == ["non-accettazione"]
    raw, receipt = items[0]
    assert_common_receipt_shape(raw, receipt, "non-accettazione", message["Message-ID"], sb, tmp_path)
    tree = assert_dtd_valid(receipt)
    assert postacert(receipt) is None  # the original MUST NOT be included
    if virus:
        assert receipt["X-VerificaSicurezza"] == "errore"
        assert receipt["Subject"].startswith("AVVISO DI NON ACCETTAZIONE PER VIRUS: ")
        assert tree.get("errore") == "virus"
    else:
        assert receipt["X-VerificaSicurezza"] is None
        assert receipt["Subject"].startswith("AVVISO DI NON ACCETTAZIONE: ")
        assert tree.get("errore") == "altro"
    return tree


def test_bcc_recipient_is_not_accepted(sb, tmp_path):
    visible, hidden = unique(), unique("nascosto")
    message = make_message(sb.sender, visible)
    tree = assert_not_accepted(sb, tmp_path, message, rcpt=[visible, hidden])
    assert "copia nascosta" in tree.findtext("dati/errore-esteso")
    assert sb.mailbox_messages(visible) == [] and sb.mailbox_messages(hidden) == []


def test_bcc_header_is_not_accepted(sb, tmp_path):
    visible = unique()
    message = make_message(sb.sender, visible, extra_headers={"Bcc": unique("nascosto")})
    assert_not_accepted(sb, tmp_path, message, rcpt=[visible])


def test_oversized_message_is_not_accepted(sandbox_dir, tmp_path):
    with Sandbox.start(sandbox_dir, time_scale=100_000, max_size_mb=0.05) as sb:
        recipients = [unique(), unique()]
        small_enough_alone = make_message(sb.sender, recipients[0], attachments=[("a.bin", b"x" * 20_000)])
        send(sb, small_enough_alone)
        sb.wait_idle()
        assert by_kind(receipts_for(sb, small_enough_alone["Message-ID"]), "accettazione")
        too_big_for_two = make_message(sb.sender, recipients, attachments=[("a.bin", b"x" * 20_000)])
        tree = assert_not_accepted(sb, tmp_path, too_big_for_two)
        assert "dimensione" in tree.findtext("dati/errore-esteso")


def test_far_too_big_message_is_refused_by_smtp(sandbox_dir):
    import smtplib

    from sandbox_helpers import smtp_client

    with Sandbox.start(sandbox_dir, time_scale=100_000, max_size_mb=0.01) as sb:
        message = make_message(sb.sender, unique(), attachments=[("a.bin", b"x" * 60_000)])
        with smtp_client(sb) as client:
            with pytest.raises(smtplib.SMTPException) as refused:
                client.send_message(message)
        assert getattr(refused.value, "smtp_code", None) == 552
        sb.wait_idle()
        assert inbox(sb) == []


@pytest.mark.parametrize("payload", [EICAR, b"prefisso PECMASS-SANDBOX-VIRUS suffisso"], ids=["eicar", "marker"])
def test_virus_in_an_attachment_is_not_accepted(sb, tmp_path, payload):
    recipient = unique()
    message = make_message(sb.sender, recipient, attachments=[("fattura.exe", payload)])
    tree = assert_not_accepted(sb, tmp_path, message, virus=True)
    assert "virus" in tree.findtext("dati/errore-esteso")
    assert sb.mailbox_messages(recipient) == []


def test_marker_in_the_text_is_not_a_virus(sb):
    message = make_message(sb.sender, unique(), body="Il marcatore PECMASS-SANDBOX-VIRUS nel testo non conta.\n")
    send(sb, message)
    assert by_kind(receipts_for(sb, message["Message-ID"]), "accettazione")


# --- recipient rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "domain", "errore", "esteso_start", "esteso_contains"),
    [
        ("piena", "studio.pec.test", "altro", "5.2.2", "casella piena"),
        ("inesistente", "studio.pec.test", "no-dest", "5.1.1", ""),
        ("aruba-inesistente", "studio.pec.test", "altro", "5.1.1", "indirizzo non valido"),
        ("chiunque", "nodominio.pec.test", "no-dominio", "", ""),
    ],
)
def test_delivery_failures(sb, tmp_path, local, domain, errore, esteso_start, esteso_contains):
    recipient = unique(local, domain)
    message = make_message(sb.sender, recipient, subject="Diffida")
    send(sb, message)
    sb.wait_idle()
    items = receipts_for(sb, message["Message-ID"])
    assert [m["X-Ricevuta"] for _, m in items] == ["accettazione", "errore-consegna"]
    raw, failure = by_kind(items, "errore-consegna")[0]
    assert_common_receipt_shape(raw, failure, "errore-consegna", message["Message-ID"], sb, tmp_path)
    assert failure["Subject"] == "AVVISO DI MANCATA CONSEGNA: Diffida"
    tree = assert_dtd_valid(failure)
    assert tree.get("errore") == errore
    assert tree.findtext("dati/consegna") == recipient
    esteso = tree.findtext("dati/errore-esteso")
    assert esteso.startswith(esteso_start) and esteso_contains in esteso
    assert esteso in text_of(failure)
    assert sb.mailbox_messages(recipient) == []


def test_slow_mailbox_is_delivered_after_two_simulated_hours(sandbox_dir):
    with Sandbox.start(sandbox_dir, time_scale=3600) as sb:  # one real second = one simulated hour
        recipient = unique("lenta")
        message = make_message(sb.sender, recipient)
        send(sb, message)
        accepted_at = sb.now()
        assert sb.wait_until(lambda: sb.now() - accepted_at >= dt.timedelta(hours=1), timeout=10)
        sb.wait_idle()
        assert [m["X-Ricevuta"] for _, m in receipts_for(sb, message["Message-ID"])] == ["accettazione"]
        assert sb.wait_until(lambda: sb.now() - accepted_at >= dt.timedelta(hours=2, seconds=5), timeout=10)
        sb.wait_idle()
        items = receipts_for(sb, message["Message-ID"])
        assert [m["X-Ricevuta"] for _, m in items] == ["accettazione", "avvenuta-consegna"]
        delay = email.utils.parsedate_to_datetime(items[1][1]["Date"]) - email.utils.parsedate_to_datetime(items[0][1]["Date"])
        assert dt.timedelta(hours=2) <= delay <= dt.timedelta(hours=2, seconds=1)
        assert len(sb.mailbox_messages(recipient)) == 1


def test_silent_mailbox_gets_timeout_notices_at_12_and_24_hours(sandbox_dir, tmp_path):
    with Sandbox.start(sandbox_dir, time_scale=12 * 3600) as sb:  # one real second = twelve simulated hours
        recipient = unique("silenzio")
        message = make_message(sb.sender, recipient, subject="Sollecito")
        send(sb, message)
        accepted_at = sb.now()
        assert sb.wait_until(lambda: sb.now() - accepted_at >= dt.timedelta(hours=13), timeout=10)
        sb.wait_idle()
        items = receipts_for(sb, message["Message-ID"])
        assert [m["X-Ricevuta"] for _, m in items] == ["accettazione", "preavviso-errore-consegna"]
        assert sb.wait_until(lambda: sb.now() - accepted_at >= dt.timedelta(hours=25), timeout=10)
        sb.wait_idle()
        items = receipts_for(sb, message["Message-ID"])
    assert [m["X-Ricevuta"] for _, m in items] == ["accettazione", "preavviso-errore-consegna", "preavviso-errore-consegna"]
    dates = [email.utils.parsedate_to_datetime(m["Date"]) for _, m in items]
    assert dates[1] - dates[0] == dt.timedelta(hours=12)
    assert dates[2] - dates[0] == dt.timedelta(hours=24)
    for raw, notice in items[1:]:
        assert_common_receipt_shape(raw, notice, "preavviso-errore-consegna", message["Message-ID"], sb, tmp_path)
        assert notice["Subject"] == "AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO: Sollecito"
        assert assert_dtd_valid(notice).findtext("dati/consegna") == recipient
    assert assert_dtd_valid(items[2][1]).findtext("dati/errore-esteso").startswith("5.4.1")
    assert not assert_dtd_valid(items[1][1]).findtext("dati/errore-esteso").startswith("5.4.1")
    assert sb.mailbox_messages(recipient) == []


def test_ordinary_recipient_is_accepted_as_esterno_and_never_delivered_with_a_receipt(sb, tmp_path):
    recipient = unique("mario.rossi", "gmail.example")
    message = make_message(sb.sender, recipient)
    send(sb, message)
    sb.wait_idle()
    items = receipts_for(sb, message["Message-ID"])
    assert [m["X-Ricevuta"] for _, m in items] == ["accettazione"]
    tree = assert_dtd_valid(items[0][1])
    assert [(d.text, d.get("tipo")) for d in tree.findall("intestazione/destinatari")] == [(recipient, "esterno")]
    assert '("posta ordinaria")' in text_of(items[0][1])
    (outside_copy,) = inbox(sb, recipient)  # what left for the ordinary mailbox: the transport envelope
    assert outside_copy["X-Trasporto"] == "posta-certificata"


def test_bounce_from_an_ordinary_server_comes_back_as_an_anomaly_envelope(sandbox_dir, tmp_path):
    with Sandbox.start(sandbox_dir, time_scale=600) as sb:  # one real second = ten simulated minutes
        recipient = unique("rimbalzo", "ditta.example")
        message = make_message(sb.sender, recipient, subject="Avviso")
        send(sb, message)
        accepted_at = sb.now()
        assert sb.wait_until(lambda: sb.now() - accepted_at >= dt.timedelta(minutes=10, seconds=5), timeout=10)
        sb.wait_idle()
        received = sb.mailbox_messages(sb.sender)
        acceptance = by_kind(receipts_for(sb, message["Message-ID"]), "accettazione")[0][1]
    identificativo = assert_dtd_valid(acceptance).findtext("dati/identificativo")
    anomalies = [(raw, parse(raw)) for raw in received if parse(raw)["X-Trasporto"] == "errore"]
    assert len(anomalies) == 1
    raw, anomaly = anomalies[0]
    assert anomaly["Subject"] == "ANOMALIA MESSAGGIO: Undelivered Mail Returned to Sender"
    assert anomaly["X-Ricevuta"] is None
    assert anomaly.get_content_type() == "multipart/signed"
    assert_signed(raw, sb, tmp_path)
    assert not [p for p in anomaly.walk() if p.get_filename() == "daticert.xml"]
    dsn = postacert(anomaly)
    assert dsn.get_content_type() == "multipart/report" and dsn.get_param("report-type") == "delivery-status"
    assert anomaly["Message-ID"] == dsn["Message-ID"]  # inherited from the wrapped message
    status = [p for p in dsn.walk() if p.get_content_type() == "message/delivery-status"]
    assert status
    (returned,) = [p for p in dsn.walk() if p.get_content_type() == "text/rfc822-headers"]
    headers = parse(returned.get_payload(decode=True) + b"\r\n")
    assert headers["Message-ID"] == f"<{identificativo}>"  # the provider's id...
    assert headers["X-Riferimento-Message-ID"] == message["Message-ID"]  # ...the client's only here
    assert headers["X-Trasporto"] == "posta-certificata"


def test_pending_receipts_survive_a_restart(sandbox_dir):
    with Sandbox.start(sandbox_dir, time_scale=1) as sb:
        recipient = unique("silenzio")
        message = make_message(sb.sender, recipient)
        send(sb, message)
    with Sandbox.start(sandbox_dir, time_scale=200_000) as sb:
        assert sb.wait_until(lambda: len(receipts_for(sb, message["Message-ID"])) == 3, timeout=10)
        kinds = [m["X-Ricevuta"] for _, m in receipts_for(sb, message["Message-ID"])]
    assert kinds == ["accettazione", "preavviso-errore-consegna", "preavviso-errore-consegna"]


def test_message_without_message_id_gets_one_from_the_provider(sb):
    recipient = unique()
    message = make_message(sb.sender, recipient)
    del message["Message-ID"]
    send(sb, message)
    sb.wait_idle()
    kinds = {m["X-Ricevuta"]: m["X-Riferimento-Message-ID"] for m in inbox(sb)}
    assert set(kinds) == {"accettazione", "avvenuta-consegna"}
    assert kinds["accettazione"] == kinds["avvenuta-consegna"] and kinds["accettazione"].endswith("@pec.sandbox.test>")


def test_non_ascii_subject_and_latin1_text(sb, tmp_path):
    message = make_message(sb.sender, unique(), subject="Città di Forlì – avviso n° 3 (€ 10)")
    send(sb, message)
    raw, acceptance = by_kind(receipts_for(sb, message["Message-ID"]), "accettazione")[0]
    subject = str(email.header.make_header(email.header.decode_header(acceptance["Subject"])))
    assert subject == "ACCETTAZIONE: Città di Forlì – avviso n° 3 (€ 10)"
    assert assert_dtd_valid(acceptance).findtext("intestazione/oggetto") == "Città di Forlì – avviso n° 3 (€ 10)"
    assert "è stato accettato" in text_of(acceptance)
    assert_signed(raw, sb, tmp_path)


def test_raw_utf8_headers_and_8bit_body(sb, tmp_path):
    """Clients that write UTF-8 straight into headers (no RFC 2047) and send an 8bit body."""
    recipient = unique()
    raw = (
        f"From: {sb.sender}\r\nTo: {recipient}\r\nSubject: Città di Forlì\r\nMessage-ID: <otto.bit@pec.sandbox.test>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "È così.\r\n"
    ).encode()
    from sandbox_helpers import smtp_client

    with smtp_client(sb) as client:
        client.sendmail(sb.sender, [recipient], raw)
    sb.wait_idle()
    items = receipts_for(sb, "<otto.bit@pec.sandbox.test>")
    assert [m["X-Ricevuta"] for _, m in items] == ["accettazione", "avvenuta-consegna"]
    for raw_receipt, receipt in items:
        assert assert_dtd_valid(receipt).findtext("intestazione/oggetto") == "Città di Forlì"
        assert_signed(raw_receipt, sb, tmp_path)
    (envelope,) = sb.mailbox_messages(recipient)
    assert "È così.".encode() in envelope
    assert_signed(envelope, sb, tmp_path)
