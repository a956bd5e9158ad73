"""Proof of content (issue 12): the original inside a `completa` delivery receipt vs the sent .eml."""

from __future__ import annotations

import hashlib
import time
from email.message import EmailMessage

from pecmass_xl.receipts.content import carried_original, compare
from pecmass_xl.sandbox.provider import moment
from pecmass_xl.sandbox.receipts_builder import ReceiptBuilder, Submission, postacert


def sent(subject="Comunicazione 1", text="Gentile destinatario.", files=(("atto.pdf", b"%PDF-1 atto"),)) -> bytes:
    msg = EmailMessage()
    msg["From"] = "mittente@pec.sandbox.test"
    msg["To"] = "dest@studio.pec.test"
    msg["Subject"] = subject
    msg["Message-ID"] = "<pecmass.1@pec.sandbox.test>"
    msg.set_content(text)
    for name, data in files:
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def delivered(original: bytes) -> bytes:
    return postacert(original, "opec1@pec.sandbox.test", "<pecmass.1@pec.sandbox.test>", "from x by y")


def test_the_provider_changes_do_not_count_and_attachments_are_hashed():
    proof = compare(delivered(sent()), sent())
    assert proof.verdict == "identico"
    assert proof.attachments == (("atto.pdf", hashlib.sha256(b"%PDF-1 atto").hexdigest()),)


def test_each_difference_is_named():
    changed = sent(subject="Altro oggetto", text="Testo cambiato.",
                   files=(("atto.pdf", b"%PDF-1 falso"), ("nuovo.txt", b"x")))
    proof = compare(delivered(changed), sent(files=(("atto.pdf", b"%PDF-1 atto"), ("perizia.pdf", b"p"))))
    assert proof.verdict == ("diverso: oggetto; testo; allegato «atto.pdf» con SHA-256 diverso; "
                             "allegato «perizia.pdf» mancante; allegato «nuovo.txt» in più")


def test_the_original_is_found_only_in_the_receipt_itself(tmp_path):
    from pecmass_xl.sandbox import certs, rules
    from pecmass_xl.sandbox.signing import Signer

    pki = certs.load_or_create(tmp_path)
    builder = ReceiptBuilder(Signer(pki.signer_cert, pki.signer_key), rules.SERVICE_ADDRESS)
    sub = Submission(identificativo="opec1@pec.sandbox.test", client_msgid="<pecmass.1@pec.sandbox.test>",
                     sender=rules.SENDER, subject="Comunicazione 1", reply_to="", to=["dest@studio.pec.test"], cc=[],
                     recipients=[("dest@studio.pec.test", "certificato")], tipo_ricevuta="completa",
                     to_header="dest@studio.pec.test", cc_header="", accepted_at=time.time())
    original = delivered(sent())
    completa = builder.avvenuta_consegna(sub, "<r1@x>", moment(time.time()), sub.to[0], "completa", original)
    sintetica = builder.avvenuta_consegna(sub, "<r2@x>", moment(time.time()), sub.to[0], "sintetica", None)
    assert compare(carried_original(completa), sent()).identical
    assert carried_original(sintetica) is None
