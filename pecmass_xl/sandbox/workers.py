"""Where receipts are built and signed: worker threads, and optionally worker processes.

Building a receipt is pure CPU work (MIME assembly in Python, an RSA signature in OpenSSL). The
acceptance is on the SMTP path, so it is always built in a thread of this process (no queueing
behind a backlog). Envelopes and later receipts may go to a process pool, which lets a standalone
`pecmass sandbox` use every core during a burst; in-process sandboxes (tests, demo) use threads
only, so they start instantly and spawn nothing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from pecmass_xl.sandbox.receipts_builder import ReceiptBuilder
from pecmass_xl.sandbox.signing import Signer

_worker_builder: ReceiptBuilder | None = None


def _init_worker(cert_path: str, key_path: str, provider_address: str) -> None:
    """Runs once in each worker process: load the provider's key from the sandbox folder."""
    global _worker_builder
    cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
    key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None)
    _worker_builder = ReceiptBuilder(Signer(cert, key), provider_address)


def _build_in_worker(method: str, args: tuple) -> bytes:
    assert _worker_builder is not None
    return getattr(_worker_builder, method)(*args)


def _ready() -> bool:
    return _worker_builder is not None


class Builders:
    """Runs `ReceiptBuilder` methods off the event loop."""

    def __init__(self, builder: ReceiptBuilder, threads: int, processes: int, cert_path: Path, key_path: Path) -> None:
        self.builder = builder
        self._threads = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="pecmass-sandbox-sign")
        self._processes: concurrent.futures.ProcessPoolExecutor | None = None
        if processes > 0:
            self._processes = concurrent.futures.ProcessPoolExecutor(
                processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(str(cert_path), str(key_path), builder.provider_address),
            )
            for _ in range(processes):  # start the workers now, in the background
                self._processes.submit(_ready)

    async def build(self, method: str, *args, urgent: bool = False) -> bytes:
        loop = asyncio.get_running_loop()
        if urgent or self._processes is None:
            return await loop.run_in_executor(self._threads, getattr(self.builder, method), *args)
        return await loop.run_in_executor(self._processes, _build_in_worker, method, args)

    async def run(self, function, *args):
        """Any other CPU-heavy call, in a thread."""
        return await asyncio.get_running_loop().run_in_executor(self._threads, function, *args)

    def shutdown(self) -> None:
        self._threads.shutdown(wait=True, cancel_futures=True)
        if self._processes is not None:
            self._processes.shutdown(wait=True, cancel_futures=True)
