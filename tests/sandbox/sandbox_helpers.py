"""Helpers for the sandbox tests: a real SMTP client, receipt inspection, signature and DTD checks."""

from __future__ import annotations

import email
import email.policy
import shutil
import smtplib
import subprocess
import uuid
from email.message import EmailMessage, Message
from pathlib import Path

from fixture_files import daticert_dtd
from lxml import etree

from pecmass_xl.sandbox import Sandbox

FAST = 100_000.0  # simulated seconds per real second: 24 simulated hours pass in under a second


def unique(prefix: str = "dest", domain: str = "studio.pec.test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@{domain}"


def make_message(
    sender: str,
    to: list[str] | str,
    *,
    cc: list[str] | None = None,
    subject: str = "Comunicazione di prova",
    body: str = "Gentile destinatario,\nquesta è una comunicazione di prova.\n",
    attachments: list[tuple[str, bytes]] | None = None,
    receipt_form: str | None = None,
    message_id: str | None = None,
    extra_headers: dict[str, str] | None = None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join([to] if isinstance(to, str) else to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = subject
    message["Message-ID"] = message_id or f"<pecmass.test.R{uuid.uuid4().hex[:8].upper()}.1@pec.sandbox.test>"
    if receipt_form:
        message["X-TipoRicevuta"] = receipt_form
    for name, value in (extra_headers or {}).items():
        message[name] = value
    message.set_content(body)
    for filename, data in attachments or []:
        message.add_attachment(data, maintype="application", subtype="octet-stream", filename=filename)
    return message


def smtp_client(sb: Sandbox, timeout: float = 10) -> smtplib.SMTP_SSL:
    client = smtplib.SMTP_SSL(sb.connection["smtp_host"], sb.connection["smtp_port"], context=sb.ssl_context(), timeout=timeout)
    client.login(sb.sender, sb.password)
    return client


def send(sb: Sandbox, message: EmailMessage, rcpt: list[str] | None = None) -> tuple[int, bytes]:
    """Send over implicit TLS as the sandbox sender; returns the answer to DATA."""
    with smtp_client(sb) as client:
        recipients = rcpt if rcpt is not None else [a.strip() for a in (message["To"] + "," + (message["Cc"] or "")).split(",") if a.strip()]
        client.mail(sb.sender)
        for address in recipients:
            code, answer = client.rcpt(address)
            assert code == 250, answer
        return client.data(message.as_bytes(policy=email.policy.SMTP))


def parse(raw: bytes) -> Message:
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def inbox(sb: Sandbox, address: str | None = None) -> list[Message]:
    return [parse(raw) for raw in sb.mailbox_messages(address or sb.sender)]


def receipts_for(sb: Sandbox, message_id: str, address: str | None = None) -> list[tuple[bytes, Message]]:
    """(raw, parsed) of every message in the sender's INBOX that quotes `message_id`, transport envelopes included."""
    out = []
    for raw in sb.mailbox_messages(address or sb.sender):
        parsed = parse(raw)
        if (parsed.get("X-Riferimento-Message-ID") or "").strip() == message_id:
            out.append((raw, parsed))
    return out


def by_kind(items: list[tuple[bytes, Message]], kind: str) -> list[tuple[bytes, Message]]:
    return [(raw, m) for raw, m in items if (m.get("X-Ricevuta") or "").strip() == kind]


def daticert(message: Message) -> bytes:
    for part in message.walk():
        if part.get_filename() == "daticert.xml" and part.get_content_type() == "application/xml":
            # walk() also enters postacert.eml, which has no daticert of its own
            return part.get_payload(decode=True)
    raise AssertionError("no daticert.xml")


def daticert_tree(message: Message) -> etree._Element:
    return etree.fromstring(daticert(message))


def dtd() -> etree.DTD:
    return etree.DTD(str(daticert_dtd()))


def assert_dtd_valid(message: Message) -> etree._Element:
    checker = dtd()
    tree = daticert_tree(message)
    assert checker.validate(tree), checker.error_log.filter_from_errors()
    return tree


def postacert(message: Message) -> Message | None:
    for part in message.walk():
        if part.get_content_type() == "message/rfc822" and part.get_param("name") == "postacert.eml":
            return part.get_payload(0)
    return None


def openssl_verify(raw: bytes, ca_file: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """`openssl smime -verify` against the sandbox CA, as the issue asks (the real tool, not our code)."""
    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed to verify the receipts' signatures"
    path = tmp_path / f"receipt-{uuid.uuid4().hex}.eml"
    path.write_bytes(raw)
    return subprocess.run(
        [openssl, "smime", "-verify", "-in", str(path), "-CAfile", ca_file, "-purpose", "smimesign", "-out", "/dev/null"],
        capture_output=True,
        text=True,
    )


def assert_signed(raw: bytes, sb: Sandbox, tmp_path: Path) -> None:
    result = openssl_verify(raw, sb.connection["ca_file"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Verification successful" in result.stderr
