"""SMTP submission (aiosmtpd): implicit TLS as on port 465 and STARTTLS as on port 587, AUTH required.

Plain text is refused: the implicit-TLS port speaks TLS from the first byte, and the STARTTLS port
answers `530` to anything but EHLO/STARTTLS/QUIT before the handshake. aiosmtpd cannot see that a
socket opened with `ssl=` is already encrypted, so on that port AUTH is allowed without its own
STARTTLS check (the known library issue), which is safe because the whole socket is TLS.

Everything PEC-specific happens in `Provider.submit`; this module only speaks SMTP, checks the
envelope sender against the login, applies the rate limit and plays the injected faults.

aiosmtpd reads commands line by line and answers each in order, so it already serves pipelined
commands correctly, but it does not say so: the EHLO answer gains `PIPELINING` (RFC 2920), as
Postfix-based providers advertise it, unless the switch is off (`pipelining=False`).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import re
import ssl
import time
from collections.abc import Callable

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, Session, syntax

from pecmass_xl.sandbox import faults as fault_names
from pecmass_xl.sandbox.faults import Faults
from pecmass_xl.sandbox.receipts_builder import SMTP_HOSTNAME
from pecmass_xl.sandbox.rules import mailbox_exists, normalise

log = logging.getLogger("pecmass.sandbox.smtp")
logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd logs addresses (INFO) and a deprecation on every AUTH (WARNING)

_END_OF_DATA = b"\r\n.\r\n"
_SIMPLE_PATH = re.compile(r"\s*<([A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+)>(.*)\Z")
RATE_WINDOW = 60.0  # seconds: --rate-limit counts messages per minute, in real time


class RateLimiter:
    """Legalmail-like cap on accepted messages per sender per minute (real time, never scaled)."""

    def __init__(self, per_minute: int | None) -> None:
        self.per_minute = per_minute
        self._sent: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)

    def allows(self, sender: str) -> bool:
        if not self.per_minute:
            return True
        window = self._sent[sender]
        now = time.monotonic()
        while window and now - window[0] >= RATE_WINDOW:
            window.popleft()
        return len(window) < self.per_minute

    def record(self, sender: str) -> None:
        if self.per_minute:
            self._sent[sender].append(time.monotonic())


class SubmissionHandler:
    """aiosmtpd handler: hooks for MAIL, RCPT and DATA."""

    def __init__(
        self,
        submit: Callable,
        faults: Faults,
        rate_limiter: RateLimiter,
        password: Callable[[], str],
        pipelining: bool = True,
    ) -> None:
        self._submit = submit
        self._faults = faults
        self._rate = rate_limiter
        self._password = password
        self.pipelining = pipelining  # read at every EHLO: switching it affects new sessions

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]) -> list[str]:
        """aiosmtpd's EHLO answer, plus `PIPELINING` before the last line when the switch is on."""
        session.host_name = hostname  # the 5-argument hook must set it itself
        if self.pipelining:
            responses.insert(len(responses) - 1, "250-PIPELINING")
        return responses

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        if self._faults.take(fault_names.LOGIN_REFUSED):
            log.info("SMTP login refused by the injected fault")
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        if mailbox_exists(login) and password == self._password():
            return AuthResult(success=True, auth_data=normalise(login))
        log.info("SMTP login refused: wrong credentials")
        return AuthResult(success=False, handled=False)

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list) -> str:
        login = session.auth_data
        if normalise(address) != login:
            return f"553 5.7.1 <{address}>: Sender address rejected: not owned by user {login}"
        if not self._rate.allows(login):
            return f'550 5.7.1 MAIL from: "<{address}>" blocked "Class Of Service" - Too much traffic from this sender'
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list) -> str:
        local, _, domain = address.rpartition("@")
        if not local or "." not in domain:
            return f"501 5.1.3 <{address}>: Bad recipient address syntax"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        fault = self._faults.take(*fault_names.DATA_FAULTS, fault_names.SLOW)
        if fault == fault_names.SLOW:
            await asyncio.sleep(self._faults.slow_delay)
        elif fault == fault_names.DROP_AFTER_DATA:
            return await _drop(server)
        elif fault == fault_names.TEMP_451:
            return "451 4.3.0 Error: queue file write error, try again later"
        elif fault == fault_names.TEMP_421:
            asyncio.get_running_loop().call_soon(_close, server)
            return "421 4.3.2 Service not available, closing transmission channel"
        answer = await self._submit(session.auth_data, envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        if answer.startswith("250"):
            self._rate.record(session.auth_data)
        if fault == fault_names.DROP_AFTER_DATA_ACCEPTED and answer.startswith("250"):
            return await _drop(server)
        return answer


async def _drop(server: SMTP) -> str:
    """Cut the connection without an answer; aiosmtpd then cancels this task."""
    if server.transport is not None:
        server.transport.abort()
    await asyncio.Event().wait()  # cancelled by connection_lost
    return "421 unreachable"


def _close(server: SMTP) -> None:
    if server.transport is not None:
        server.transport.close()


class SandboxSMTP(SMTP):
    """One connection. Tracks itself so the listener can close every connection at stop."""

    def __init__(self, handler: SubmissionHandler, registry: set, faults: Faults, *, implicit_tls: bool, **kwargs) -> None:
        super().__init__(handler, authenticator=handler.authenticate, auth_required=True, hostname=SMTP_HOSTNAME, **kwargs)
        if implicit_tls:
            self._auth_require_tls = False  # the socket is TLS already; aiosmtpd cannot tell
        self._registry = registry
        self._faults = faults

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._original_transport is None:
            self._registry.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self._registry.discard(self)
        super().connection_lost(error)

    async def _handle_client(self) -> None:
        if self._faults.is_active(fault_names.SLOW):
            await asyncio.sleep(self._faults.slow_delay)
        await super()._handle_client()

    def _getaddr(self, arg: str):
        """Fast path for the plain `<local@domain>` form; anything unusual goes to aiosmtpd's full parser."""
        match = _SIMPLE_PATH.match(arg or "")
        if match:
            return match.group(1), match.group(2).strip()
        return super()._getaddr(arg)

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        """DATA read in large chunks instead of aiosmtpd's line-by-line loop (ten times cheaper for
        messages with attachments, which matters at hundreds of messages per second)."""
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        content, too_big = await self._read_data()
        if too_big:
            self._set_post_data_state()
            await self.push("552 5.3.4 Error: message size exceeds fixed maximum message size")
            return
        self.envelope.content = content
        self.envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)

    async def _read_data(self) -> tuple[bytes, bool]:
        """Everything up to CRLF.CRLF, dot-unstuffed; bytes read past it go back to the reader."""
        buffer = bytearray(b"\r\n")  # so that an empty message and a first line "." need no special case
        limit = self.data_size_limit
        searched = 0
        too_big = False
        while True:
            end = buffer.find(_END_OF_DATA, max(0, searched - 4))
            if end >= 0:
                break
            searched = len(buffer)
            if limit and searched > limit + 2 and not too_big:
                too_big = True
            if too_big and searched > 1 << 16:
                del buffer[: searched - 8]  # keep draining without keeping the data
                searched = len(buffer)
            chunk = await self._reader.read(1 << 16)
            if not chunk:
                raise ConnectionResetError("connection closed during DATA")
            buffer += chunk
        leftover = bytes(buffer[end + len(_END_OF_DATA) :])
        if leftover:  # a pipelining client: hand the next command back to the command loop
            self._reader._buffer[:0] = leftover  # type: ignore[attr-defined]
        if too_big:
            return b"", True
        content = bytes(buffer[: end + 2]).replace(b"\r\n..", b"\r\n.")[2:]
        return content, False


class SmtpListeners:
    """The two submission ports."""

    def __init__(self, handler: SubmissionHandler, faults: Faults, ssl_context: ssl.SSLContext, data_size_limit: int) -> None:
        self._handler = handler
        self._faults = faults
        self._ssl = ssl_context
        self._limit = data_size_limit
        self._servers: list[asyncio.AbstractServer] = []
        self._connections: set[SandboxSMTP] = set()

    async def start(self, host: str, implicit_port: int, starttls_port: int) -> tuple[int, int]:
        loop = asyncio.get_running_loop()

        def implicit() -> SandboxSMTP:
            return SandboxSMTP(
                self._handler, self._connections, self._faults, implicit_tls=True, data_size_limit=self._limit, loop=loop
            )

        def starttls() -> SandboxSMTP:
            return SandboxSMTP(
                self._handler,
                self._connections,
                self._faults,
                implicit_tls=False,
                data_size_limit=self._limit,
                tls_context=self._ssl,
                require_starttls=True,
                loop=loop,
            )

        tls_server = await loop.create_server(implicit, host, implicit_port, ssl=self._ssl, ssl_handshake_timeout=10)
        self._servers.append(tls_server)
        plain_server = await loop.create_server(starttls, host, starttls_port)
        self._servers.append(plain_server)
        return tls_server.sockets[0].getsockname()[1], plain_server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for connection in list(self._connections):
            if connection.transport is not None:
                connection.transport.abort()
            if connection._original_transport is not None:
                connection._original_transport.abort()
        for server in self._servers:
            await server.wait_closed()
        await asyncio.sleep(0)
