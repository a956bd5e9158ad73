"""`Sandbox`: the whole local PEC provider, started in-process on a background thread.

One thread runs one asyncio loop with the SMTP listeners, the IMAP listener and the provider's
scheduler; a small thread pool builds and signs receipts. `stop()` closes the listeners, aborts
open connections, cancels pending work (it stays in the store for the next start), and joins every
thread, so nothing is left behind. `pecmass sandbox` runs the same object in its own process.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import logging
import secrets
import threading
import time
from pathlib import Path

from pecmass_xl.sandbox import certs, rules
from pecmass_xl.sandbox.clock import SimClock
from pecmass_xl.sandbox.connection import FolderLock, write_connection
from pecmass_xl.sandbox.faults import Faults
from pecmass_xl.sandbox.imap_server import ImapBackend, ImapListener
from pecmass_xl.sandbox.provider import Provider
from pecmass_xl.sandbox.receipts_builder import ReceiptBuilder
from pecmass_xl.sandbox.signing import Signer
from pecmass_xl.sandbox.smtp_server import RateLimiter, SmtpListeners, SubmissionHandler
from pecmass_xl.sandbox.store import Store, read_mailbox
from pecmass_xl.sandbox.workers import Builders

log = logging.getLogger("pecmass.sandbox")

HOST = "127.0.0.1"
DEFAULT_MAX_SIZE_MB = 100.0  # Aruba: 100 MB per message, divided by the number of recipients
SMTP_HARD_LIMIT_FACTOR = 2  # beyond twice the limit SMTP refuses outright (RFC 6109 §3.1.2)
SIGNING_THREADS = 2


class Sandbox:
    """A running sandbox. Use `Sandbox.start(...)`, preferably as a context manager."""

    sender = rules.SENDER

    def __init__(
        self,
        directory: Path,
        *,
        time_scale: float = 1.0,
        rate_limit: int | None = None,
        max_size_mb: float | None = None,
        fault: str | None = None,
        smtp_port: int = 0,
        starttls_port: int = 0,
        imap_port: int = 0,
        signing_processes: int = 0,
        pipelining: bool = True,
    ) -> None:
        self.pipelining = pipelining
        self.signing_processes = signing_processes
        self.directory = Path(directory).resolve()
        self.time_scale = time_scale
        self.rate_limit = rate_limit
        self.max_size_mb = max_size_mb if max_size_mb is not None else DEFAULT_MAX_SIZE_MB
        self.faults = Faults(fault)
        self.clock = SimClock(time_scale)
        self._ports = (smtp_port, starttls_port, imap_port)
        self.connection: dict = {}
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._stop_requested: asyncio.Event | None = None
        self._lock: FolderLock | None = None
        self._builders: Builders | None = None
        self._password = ""
        self._provider: Provider | None = None
        self._handler: SubmissionHandler | None = None
        self._stopped = False

    # --- lifecycle ---------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        directory: Path | str | None = None,
        *,
        time_scale: float = 1.0,
        rate_limit: int | None = None,
        max_size_mb: float | None = None,
        fault: str | None = None,
        smtp_port: int = 0,
        starttls_port: int = 0,
        imap_port: int = 0,
        signing_processes: int = 0,
        pipelining: bool = True,
    ) -> Sandbox:
        """Start a sandbox on loopback (free ports by default) and return once it accepts connections.

        `signing_processes` > 0 builds envelopes and later receipts in that many worker processes
        (the standalone server uses it for throughput; in-process sandboxes need none).
        `pipelining=False` stops advertising PIPELINING (RFC 2920) in the SMTP EHLO answer.
        """
        if directory is None:
            from pecmass_xl.core.paths import default_sandbox_dir

            directory = default_sandbox_dir()
        sandbox = cls(
            Path(directory),
            time_scale=time_scale,
            rate_limit=rate_limit,
            max_size_mb=max_size_mb,
            fault=fault,
            smtp_port=smtp_port,
            starttls_port=starttls_port,
            imap_port=imap_port,
            signing_processes=signing_processes,
            pipelining=pipelining,
        )
        sandbox._start()
        return sandbox

    def _start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = FolderLock(self.directory)
        self._lock.acquire()
        try:
            pki = certs.load_or_create(self.directory)
            builder = ReceiptBuilder(Signer(pki.signer_cert, pki.signer_key), rules.SERVICE_ADDRESS)
            self._builders = Builders(
                builder, SIGNING_THREADS, self.signing_processes, pki.signer_cert_file, pki.signer_key_file
            )
            self._thread = threading.Thread(target=self._thread_main, args=(pki,), name="pecmass-sandbox", daemon=True)
            self._thread.start()
            self._ready.wait()
            if self._startup_error is not None:
                self._thread.join()
                self._builders.shutdown()
                raise self._startup_error
        except BaseException:
            self._lock.release()
            raise
        write_connection(self.directory, self.connection)
        log.info("sandbox started (time scale %s)", self.time_scale)

    def _thread_main(self, pki: certs.SandboxPKI) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(pki))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self, pki: certs.SandboxPKI) -> None:
        self._stop_requested = asyncio.Event()
        store = None
        smtp = imap = None
        scheduler = None
        try:
            store = Store(self.directory)
            password = store.get_meta("password")
            if not password:
                password = secrets.token_urlsafe(12)
                store.set_meta("password", password)
            self._password = password
            max_size = int(self.max_size_mb * 1_000_000)
            assert self._builders is not None
            provider = self._provider = Provider(store, self.clock, self._builders, max_size)
            if provider.load_pending():
                log.info("sandbox resumes receipts left pending by the previous run")
            handler = self._handler = SubmissionHandler(
                provider.submit, self.faults, RateLimiter(self.rate_limit), lambda: password, self.pipelining
            )
            ssl_context = pki.server_ssl_context()
            smtp = SmtpListeners(handler, self.faults, ssl_context, max_size * SMTP_HARD_LIMIT_FACTOR)
            smtp_port, starttls_port = await smtp.start(HOST, self._ports[0], self._ports[1])
            imap = ImapListener(ImapBackend(store, lambda: password, self.faults), ssl_context)
            imap_port = await imap.start(HOST, self._ports[2])
            scheduler = asyncio.create_task(provider.run_scheduler())
            self.connection = {
                "smtp_host": HOST,
                "smtp_port": smtp_port,
                "smtp_starttls_port": starttls_port,
                "imap_host": HOST,
                "imap_port": imap_port,
                "user": rules.SENDER,
                "password": password,
                "ca_file": str(pki.ca_file),
                "dir": str(self.directory),
                "clock": self.clock.published(),  # `receipts --follow` measures waits on this clock
            }
        except BaseException as exc:  # noqa: BLE001 - reported to the thread that called start()
            self._startup_error = exc
            await self._shutdown(store, smtp, imap, scheduler)
            self._ready.set()
            return
        self._ready.set()
        await self._stop_requested.wait()
        await self._shutdown(store, smtp, imap, scheduler)

    async def _shutdown(self, store, smtp, imap, scheduler) -> None:
        if smtp is not None:
            await smtp.stop()
        if imap is not None:
            await imap.stop()
        if scheduler is not None:
            scheduler.cancel()
            await asyncio.gather(scheduler, return_exceptions=True)
        if self._provider is not None:
            await self._provider.cancel_tasks()
        if store is not None:
            store.close()

    def stop(self) -> None:
        """Stop serving; pending receipts stay in the store for the next start. Idempotent."""
        if self._stopped or self._thread is None:
            return
        self._stopped = True
        if self._loop is not None and self._stop_requested is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop_requested.set)
        self._thread.join()
        if self._builders is not None:
            self._builders.shutdown()
        if self._lock is not None:
            self._lock.release()
        log.info("sandbox stopped")

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # --- API for tests and the demo ----------------------------------------------------------

    @property
    def password(self) -> str:
        return self.connection["password"]

    def now(self) -> dt.datetime:
        """Current simulated time (aware, UTC)."""
        return self.clock.now()

    def set_fault(self, kind: str | None, count: int | None = None, *, slow_delay: float | None = None) -> None:
        """Inject a fault (see `faults.KINDS`) for `count` occurrences (None: until cleared); None clears."""
        self.faults.set(kind, count, slow_delay)

    def set_pipelining(self, enabled: bool) -> None:
        """Advertise PIPELINING (RFC 2920) in the EHLO answers of new SMTP sessions, or stop advertising it."""
        self.pipelining = enabled
        if self._handler is not None:
            self._handler.pipelining = enabled

    def mailbox_messages(self, address: str) -> list[bytes]:
        """Raw messages in the INBOX of `address` (a PEC mailbox, or an ordinary address's copy), UID order."""
        return read_mailbox(self.directory, address)

    def wait_idle(self, timeout: float = 10) -> None:
        """Block until every receipt due so far (in simulated time) has been delivered.

        Raises TimeoutError if the sandbox is still busy after `timeout` real seconds.
        """
        if self._loop is None or self._provider is None or self._stopped:
            return
        until = self.clock.timestamp()
        provider = self._provider

        async def idle() -> None:
            while not provider.is_idle(until):
                await asyncio.sleep(0.005)

        future = asyncio.run_coroutine_threadsafe(idle(), self._loop)
        try:
            future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"sandbox still busy after {timeout} s") from None

    def ssl_context(self):
        """A client TLS context trusting only this sandbox's CA."""
        import ssl

        return ssl.create_default_context(cafile=self.connection["ca_file"])

    def wait_until(self, predicate, timeout: float = 10, interval: float = 0.02) -> bool:
        """Poll `predicate()` until true or `timeout` real seconds pass (a helper for tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(interval)
        return bool(predicate())
