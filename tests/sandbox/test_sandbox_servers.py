"""The sandbox's servers: TLS only, AUTH required, sender identity, lifecycle, persistence."""

from __future__ import annotations

import json
import smtplib
import socket
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from sandbox_helpers import FAST, inbox, make_message, send, smtp_client, unique

from pecmass_xl.core.errors import CannotRun
from pecmass_xl.sandbox import Sandbox, read_connection

CONNECTION_KEYS = {
    "smtp_host",
    "smtp_port",
    "smtp_starttls_port",
    "imap_host",
    "imap_port",
    "user",
    "password",
    "ca_file",
    "dir",
}


def imap(sb: Sandbox, user: str | None = None, password: str | None = None) -> IMAPClient:
    client = IMAPClient(sb.connection["imap_host"], port=sb.connection["imap_port"], ssl=True, ssl_context=sb.ssl_context(), timeout=10)
    client.login(user or sb.sender, password if password is not None else sb.password)
    return client


def port_is_closed(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) != 0


# --- lifecycle -------------------------------------------------------------------------------


def test_start_writes_the_connection_file_and_stop_leaves_nothing_behind(sandbox_dir):
    threads_before = set(threading.enumerate())
    sb = Sandbox.start(sandbox_dir)
    connection = dict(sb.connection)
    assert set(connection) == set(CONNECTION_KEYS) | {"clock"}  # the clock: receipts --follow waits on it
    assert connection["user"] == "mittente@pec.sandbox.test" == sb.sender
    assert connection["smtp_host"] == connection["imap_host"] == "127.0.0.1"
    assert len({connection["smtp_port"], connection["smtp_starttls_port"], connection["imap_port"]}) == 3
    on_disk = json.loads((sandbox_dir / "connessione.json").read_text(encoding="utf-8"))
    assert on_disk == connection == read_connection(sandbox_dir)
    assert (sandbox_dir / "ca.pem").exists()
    sb.stop()
    sb.stop()  # idempotent
    for key in ("smtp_port", "smtp_starttls_port", "imap_port"):
        assert port_is_closed(connection[key])
    assert set(threading.enumerate()) <= threads_before


def test_a_folder_serves_one_sandbox_at_a_time(sb, sandbox_dir):
    with pytest.raises(CannotRun, match="già in esecuzione"):
        Sandbox.start(sandbox_dir)


def test_read_connection_without_a_sandbox_says_so_in_italian(tmp_path):
    with pytest.raises(CannotRun, match="Nessuna sandbox"):
        read_connection(tmp_path)


def test_certificates_password_and_uidvalidity_survive_a_restart(sandbox_dir):
    with Sandbox.start(sandbox_dir, time_scale=FAST) as sb:
        send(sb, make_message(sb.sender, unique()))
        sb.wait_idle()
        first = dict(sb.connection)
        ca_pem = (sandbox_dir / "ca.pem").read_bytes()
        with imap(sb) as client:
            state = client.select_folder("INBOX", readonly=True)
            uidvalidity, uids = state[b"UIDVALIDITY"], client.search("ALL")
    with Sandbox.start(sandbox_dir, time_scale=FAST) as sb:
        assert sb.password == first["password"]
        assert (sandbox_dir / "ca.pem").read_bytes() == ca_pem
        with imap(sb) as client:
            state = client.select_folder("INBOX", readonly=True)
            assert state[b"UIDVALIDITY"] == uidvalidity
            assert client.search("ALL") == uids
        send(sb, make_message(sb.sender, unique()))
        sb.wait_idle()
        with imap(sb) as client:
            client.select_folder("INBOX", readonly=True)
            assert min(set(client.search("ALL")) - set(uids)) > max(uids)  # UIDs keep growing


def test_certificates_have_the_shapes_of_a_real_provider(sb):
    directory = sb.directory
    server = x509.load_pem_x509_certificate((directory / "server.pem").read_bytes())
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert list(server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]

    signer = x509.load_pem_x509_certificate((directory / "firma-gestore.pem").read_bytes())
    san = signer.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["posta-certificata@pec.sandbox.test"]
    assert list(signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.EMAIL_PROTECTION]
    usage = signer.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature
    ca = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
    assert server.issuer == signer.issuer == ca.subject


# --- TLS only, AUTH required ------------------------------------------------------------------


def test_implicit_tls_port_refuses_plain_text(sb):
    with socket.create_connection((sb.connection["smtp_host"], sb.connection["smtp_port"]), timeout=5) as raw:
        raw.sendall(b"EHLO client.example\r\n")  # not a TLS ClientHello: the server hangs up
        try:
            answer = raw.recv(100)
        except ConnectionError:
            answer = b""
    assert not answer.startswith(b"2")


def test_starttls_port_refuses_everything_before_the_handshake(sb):
    with smtplib.SMTP(sb.connection["smtp_host"], sb.connection["smtp_starttls_port"], timeout=10) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        assert not client.has_extn("auth")
        code, _ = client.mail(sb.sender)
        assert code == 530
        client.starttls(context=sb.ssl_context())
        client.ehlo()
        assert client.has_extn("auth")
        client.login(sb.sender, sb.password)
        message = make_message(sb.sender, unique())
        client.send_message(message)
    assert inbox(sb)  # the acceptance arrived


def test_tls_certificate_is_valid_for_localhost_too(sb):
    context = sb.ssl_context()
    with smtplib.SMTP_SSL("localhost", sb.connection["smtp_port"], context=context, timeout=10) as client:
        assert client.noop()[0] == 250


def test_an_untrusted_client_cannot_connect(sb):
    with pytest.raises(ssl.SSLCertVerificationError):
        smtplib.SMTP_SSL(sb.connection["smtp_host"], sb.connection["smtp_port"], context=ssl.create_default_context(), timeout=10)


def test_sending_requires_authentication(sb):
    with smtplib.SMTP_SSL(sb.connection["smtp_host"], sb.connection["smtp_port"], context=sb.ssl_context(), timeout=10) as client:
        client.ehlo()
        code, answer = client.mail(sb.sender)
        assert code == 530, answer


def test_wrong_password_and_unknown_mailboxes_are_refused(sb):
    with smtplib.SMTP_SSL(sb.connection["smtp_host"], sb.connection["smtp_port"], context=sb.ssl_context(), timeout=10) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login(sb.sender, "sbagliata")
    for user in ("inesistente-1@studio.pec.test", "chiunque@gmail.example", "mario@nodominio.pec.test"):
        with smtplib.SMTP_SSL(sb.connection["smtp_host"], sb.connection["smtp_port"], context=sb.ssl_context(), timeout=10) as client:
            with pytest.raises(smtplib.SMTPAuthenticationError):
                client.login(user, sb.password)


def test_envelope_sender_must_be_the_logged_in_mailbox(sb):
    with smtp_client(sb) as client:
        code, answer = client.mail("altro@pec.sandbox.test")
        assert code == 553 and b"not owned" in answer


def test_from_header_must_be_the_logged_in_mailbox(sb):
    message = make_message("altro@studio.pec.test", unique())
    code, answer = send(sb, message)
    assert code == 550, answer
    sb.wait_idle()
    assert inbox(sb) == []  # refused at SMTP level: no receipt at all


def test_any_pec_mailbox_can_log_in_and_send(sb):
    other = unique("ufficio")
    with smtplib.SMTP_SSL(sb.connection["smtp_host"], sb.connection["smtp_port"], context=sb.ssl_context(), timeout=10) as client:
        client.login(other, sb.password)
        client.send_message(make_message(other, sb.sender))
    sb.wait_idle()
    kinds = [m["X-Ricevuta"] for m in inbox(sb, other)]
    assert kinds == ["accettazione", "avvenuta-consegna"]
    assert [m["X-Trasporto"] for m in inbox(sb)] == ["posta-certificata"]


# --- IMAP --------------------------------------------------------------------------------------


def test_imap_is_tls_only_and_checks_credentials(sb):
    with socket.create_connection((sb.connection["imap_host"], sb.connection["imap_port"]), timeout=3) as raw:
        raw.sendall(b"a1 CAPABILITY\r\n")
        try:
            answer = raw.recv(100)
        except (TimeoutError, ConnectionError):
            answer = b""
        assert not answer.startswith(b"* OK")
    with pytest.raises(LoginError):
        imap(sb, password="sbagliata")
    with pytest.raises(LoginError):
        imap(sb, user="inesistente-2@studio.pec.test")
    with imap(sb) as client:
        assert client.list_folders()[0][2] == "INBOX"


def test_imap_reads_receipts_by_reference_and_leaves_them_unread(sb):
    message = make_message(sb.sender, unique())
    send(sb, message)
    sb.wait_idle()
    with imap(sb) as client:
        client.select_folder("INBOX", readonly=True)
        uids = client.search(["HEADER", "X-Riferimento-Message-ID", message["Message-ID"]])
        assert len(uids) == 2
        fetched = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (X-RICEVUTA)]", "FLAGS", "RFC822.SIZE"])
        kinds = sorted(data[b"BODY[HEADER.FIELDS (X-RICEVUTA)]"].split(b":")[1].strip() for data in fetched.values())
        assert kinds == [b"accettazione", b"avvenuta-consegna"]
        assert all(b"\\Seen" not in data[b"FLAGS"] for data in fetched.values())
        full = client.fetch(uids[:1], ["BODY.PEEK[]"])[uids[0]][b"BODY[]"]
        assert full == sb.mailbox_messages(sb.sender)[0]


def test_imap_flags_and_folders_persist(sandbox_dir):
    with Sandbox.start(sandbox_dir, time_scale=FAST) as sb:
        send(sb, make_message(sb.sender, unique()))
        with imap(sb) as client:
            client.select_folder("INBOX")
            uid = client.search("ALL")[0]
            client.add_flags([uid], [b"\\Seen"])
            client.create_folder("Archivio")
    with Sandbox.start(sandbox_dir, time_scale=FAST) as sb:
        with imap(sb) as client:
            assert "Archivio" in [name for _, _, name in client.list_folders()]
            client.select_folder("INBOX", readonly=True)
            assert b"\\Seen" in client.get_flags([uid])[uid]


def test_imap_idle_announces_new_receipts(sb):
    with imap(sb) as client:
        client.select_folder("INBOX")
        client.idle()
        send(sb, make_message(sb.sender, unique()))
        responses = client.idle_check(timeout=10)
        client.idle_done()
    assert any(len(item) > 1 and item[1] == b"EXISTS" for item in responses)


# --- rate limit and time -------------------------------------------------------------------------


def test_rate_limit_answers_like_legalmail(sandbox_dir):
    with Sandbox.start(sandbox_dir, time_scale=FAST, rate_limit=2) as sb:
        with smtp_client(sb) as client:
            for _ in range(2):
                client.send_message(make_message(sb.sender, unique()))
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                client.send_message(make_message(sb.sender, unique()))
        assert refused.value.smtp_code == 550
        assert b"Too much traffic from this sender" in refused.value.smtp_error
        sb.wait_idle()
        assert [m["X-Ricevuta"] for m in inbox(sb)].count("accettazione") == 2


def test_simulated_clock_runs_at_the_time_scale(sandbox_dir):
    with Sandbox.start(sandbox_dir, time_scale=3600) as sb:
        first = sb.now()
        assert first.tzinfo is not None and first.utcoffset().total_seconds() == 0
        assert sb.wait_until(lambda: (sb.now() - first).total_seconds() >= 1800, timeout=10)


def test_signing_in_worker_processes_and_nothing_left_after_stop(sandbox_dir, tmp_path):
    import multiprocessing

    from sandbox_helpers import assert_signed, by_kind, receipts_for

    with Sandbox.start(sandbox_dir, time_scale=FAST, signing_processes=1) as sb:
        message = make_message(sb.sender, unique())
        send(sb, message)
        assert sb.wait_until(lambda: len(receipts_for(sb, message["Message-ID"])) == 2, timeout=30)
        raw, _ = by_kind(receipts_for(sb, message["Message-ID"]), "avvenuta-consegna")[0]
        assert_signed(raw, sb, tmp_path)
    assert multiprocessing.active_children() == []
