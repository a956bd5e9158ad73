"""One authenticated SMTP submission connection, reused across messages (DESIGN §6).

The DATA phase is driven by hand so we know whether the connection died before or after the
final dot: only the latter leaves a message in doubt.

When the server advertises PIPELINING (RFC 2920), `MAIL FROM`, `RCPT TO` and `DATA` go out in one
write and their three answers are read together: two round trips per message instead of four. Every
answer is still read, and the first that fails decides (a rate-limit `550` to `MAIL FROM` followed
by `503`s stays a rate limit); no body ever follows a refused command.

The caller may also announce the next message's envelope (`announce_next`): its group then follows
the final dot of this message at once (RFC 2920 §3.1 allows it), and its answers are read when that
message is sent: one round trip per message. An envelope hands nothing over; only a body's final dot
does, and the next body is written only when the caller sends it, after its own durable records.
A transaction left open for an envelope that is not sent next is aborted by closing the connection,
never by a lone dot (which would deliver an empty message).
"""

from __future__ import annotations

import logging
import re
import smtplib
import socket
import ssl

from pecmass_xl.campaign.settings import Settings
from pecmass_xl.core.errors import CannotRun, LoginRefused
from pecmass_xl.core.italian import describe_error
from pecmass_xl.mailclient.smtp_classify import (
    DEFAULT_RATE_LIMIT_PATTERNS,
    LOGIN_REFUSED,
    SmtpAnswer,
    classify,
)
from pecmass_xl.mailclient.tls import client_context

log = logging.getLogger("pecmass.smtp")
_LEADING_DOT = re.compile(rb"(?m)^\.")
NETWORK_ERRORS = (smtplib.SMTPServerDisconnected, ConnectionError, socket.timeout, TimeoutError, ssl.SSLError, OSError)


class ServerUnreachable(CannotRun):
    """The network path to the server failed (refused, timed out, unknown name): may be temporary."""


def _decode(text: bytes | str) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


class SmtpSession:
    def __init__(self, settings: Settings, password: str, timeout: float = 60.0,
                 rate_limit_patterns: tuple[str, ...] = DEFAULT_RATE_LIMIT_PATTERNS):
        self.settings = settings
        self._password = password
        self.timeout = timeout
        self.patterns = rate_limit_patterns
        self.conn: smtplib.SMTP | None = None
        self._next: tuple[str, str] | None = None  # the envelope announced for the next message
        self._pending: tuple[str, str] | None = None  # an envelope group written, its answers unread

    # -- connection -------------------------------------------------------------------------
    def connect(self) -> None:
        """Open and authenticate; LoginRefused on 535, CannotRun on TLS/network failures."""
        s = self.settings
        host, port = s.smtp_host, s.smtp_port
        if not host or not port:
            raise CannotRun("Server SMTP o porta non impostati: controllate il foglio Impostazioni.")
        context = client_context(s)
        try:
            if s.smtp_security == "STARTTLS":
                conn = smtplib.SMTP(host, port, timeout=self.timeout)
                conn.ehlo()
                conn.starttls(context=context)
                conn.ehlo()
            else:
                conn = smtplib.SMTP_SSL(host, port, timeout=self.timeout, context=context)
                conn.ehlo()
        except ssl.SSLCertVerificationError as exc:
            raise CannotRun(f"Il certificato del server {host} non è valido ({exc.verify_message}): connessione rifiutata.") from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise CannotRun(f"Il server {host}:{port} non offre STARTTLS: scegliete SSL/TLS o un'altra porta.") from exc
        except NETWORK_ERRORS as exc:
            raise ServerUnreachable(f"Non riesco a collegarmi al server SMTP {host}:{port} ({describe_error(exc)}).") from exc
        try:
            conn.login(s.login, self._password)
        except smtplib.SMTPAuthenticationError as exc:
            _quiet_close(conn)
            raise LoginRefused(
                f"Il server {host} ha rifiutato l'accesso di {s.login} ({exc.smtp_code} {_decode(exc.smtp_error)}). "
                "Mi fermo subito: tentativi ripetuti possono bloccare la casella. Controllate utente e password (pecmass login)."
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            _quiet_close(conn)
            raise CannotRun(f"Il server {host} non accetta l'autenticazione su questa connessione.") from exc
        except smtplib.SMTPResponseException as exc:
            _quiet_close(conn)
            if 400 <= exc.smtp_code < 500:
                raise ConnectionError(f"{exc.smtp_code} {_decode(exc.smtp_error)}") from exc
            raise LoginRefused(f"Accesso rifiutato da {host}: {exc.smtp_code} {_decode(exc.smtp_error)}.") from exc
        except NETWORK_ERRORS as exc:
            _quiet_close(conn)
            raise ConnectionError(describe_error(exc)) from exc
        try:  # a pipelined group written right after a body must not wait for the body's ACK (Nagle)
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.conn = conn
        log.info("smtp connected security=%s pipelining=%s", s.smtp_security, self.pipelining)

    def close(self) -> None:
        if self._pending is not None:
            self._drop()  # a QUIT now would be read as message data: closing aborts the open transaction
        if self.conn is not None:
            try:
                self.conn.quit()
            except Exception:  # noqa: BLE001 - closing a session already broken
                _quiet_close(self.conn)
            self.conn = None

    def __enter__(self) -> SmtpSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- sending ----------------------------------------------------------------------------
    def announce_next(self, sender: str, recipient: str) -> None:
        """The envelope of the message the next `send` will be followed by (a hint; used when pipelining).

        An envelope that cannot be written as is (not ASCII) is not announced: it will fail on its own
        `send`, never inside the previous message's.
        """
        try:
            _envelope_group(sender, recipient)
        except UnicodeError:
            self._next = None
            return
        self._next = (sender, recipient)

    def send(self, sender: str, recipient: str, data: bytes) -> SmtpAnswer:
        """Hand one message over; never raises for a per-message outcome (LoginRefused aside)."""
        if self._pending is not None and self._pending != (sender, recipient):
            log.info("smtp open transaction for another envelope: reconnecting")
            self._drop()
        if self.conn is None:
            try:
                self.connect()
            except ConnectionError as exc:
                return classify(None, f"connessione non riuscita: {exc}", network_error=True)
            except CannotRun as exc:
                return classify(None, str(exc), network_error=True)
        conn = self.conn
        after_data = False
        try:
            if self._pending is not None:
                self._pending = None
                refused = self._envelope_answers()
            elif self.pipelining:
                conn.send(_envelope_group(sender, recipient))
                refused = self._envelope_answers()
            else:
                refused = self._envelope_stepwise(sender, recipient)
            if refused is not None:
                return refused
            payload = _LEADING_DOT.sub(b"..", data)
            if not payload.endswith(b"\r\n"):
                payload += b"\r\n"
            # One write, the final dot last: if it fails, the dot never reached the server (nothing
            # accepted); once it returns, a lost connection may hide an accepted message.
            conn.send(payload + b".\r\n")
            after_data = True
            following, self._next = self._next, None
            if following is not None and self.pipelining:
                conn.send(_envelope_group(*following))  # its own write: the dot above is already out
                self._pending = following
            code, text = conn.getreply()
            if code == -1:
                raise smtplib.SMTPServerDisconnected("connessione chiusa senza risposta")
            return self._answer(code, text)
        except smtplib.SMTPServerDisconnected as exc:
            self._drop()
            return classify(None, f"connessione interrotta: {describe_error(exc)}", after_data=after_data, network_error=True)
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code in (421,):
                self._drop()
            return self._answer(exc.smtp_code, exc.smtp_error)
        except NETWORK_ERRORS as exc:
            self._drop()
            return classify(None, f"errore di rete: {describe_error(exc)}", after_data=after_data, network_error=True)

    @property
    def pipelining(self) -> bool:
        """True when the server advertised PIPELINING in its EHLO answer (after STARTTLS, if any)."""
        return self.conn is not None and self.conn.has_extn("pipelining")

    def _envelope_stepwise(self, sender: str, recipient: str) -> SmtpAnswer | None:
        """MAIL, RCPT, DATA one round trip each; None once the server waits for the body (354)."""
        conn = self.conn
        code, text = conn.mail(sender)
        if code != 250:
            return self._answer(code, text)
        code, text = conn.rcpt(recipient)
        if code not in (250, 251):
            conn.rset()
            return self._answer(code, text)
        code, text = conn.docmd("DATA")
        if code != 354:
            conn.rset()
            return self._answer(code, text)
        return None

    def _envelope_answers(self) -> SmtpAnswer | None:
        """The answers to a pipelined MAIL, RCPT, DATA group (RFC 2920 §3.1: DATA last), all read.

        None once the server waits for the body (354); else the first failing answer. If DATA was
        accepted although MAIL or RCPT failed (a server RFC 2920 allows for), a lone dot ends the
        transaction, which has no recipient: no body is ever sent after a refusal.
        """
        conn = self.conn
        failed = None
        for expected in ((250,), (250, 251), (354,)):
            code, text = conn.getreply()
            if code == -1:
                raise smtplib.SMTPServerDisconnected("risposta non comprensibile del server")
            if code == 421:  # the server closes the session: nothing more to read
                self._drop()
                return self._answer(*(failed or (code, text)))
            if code not in expected and failed is None:
                failed = code, text
        if failed is None:
            return None
        try:
            if code == 354:
                conn.send(".\r\n")
                conn.getreply()
            conn.rset()
        except NETWORK_ERRORS:
            self._drop()  # the answer that failed is known already; the next message reconnects
        return self._answer(*failed)

    def _answer(self, code: int, text) -> SmtpAnswer:
        answer = classify(code, _decode(text), rate_limit_patterns=self.patterns)
        if code == 421:
            self._drop()  # the server closes the session after 421
        return answer

    def _drop(self) -> None:
        self._pending = None
        if self.conn is not None:
            _quiet_close(self.conn)
            self.conn = None


def _envelope_group(sender: str, recipient: str) -> bytes:
    return f"MAIL FROM:{smtplib.quoteaddr(sender)}\r\nRCPT TO:{smtplib.quoteaddr(recipient)}\r\nDATA\r\n".encode("ascii")


def _quiet_close(conn: smtplib.SMTP) -> None:
    try:
        conn.close()
    except Exception:  # noqa: BLE001 - closing a session already broken
        pass


__all__ = ["SmtpSession", "ServerUnreachable", "LOGIN_REFUSED"]
