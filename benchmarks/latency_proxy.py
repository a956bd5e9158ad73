"""A TCP proxy on loopback that models a network round trip: every chunk waits half the RTT each way.

Used by `bench_send.py --rtt MS`. The delay is a latency, not a bandwidth limit: chunks keep their
order and their spacing, so a client that sends three commands in one write pays one round trip and a
client that waits for each answer pays three. Opening a connection costs one round trip too (the TCP
handshake the proxy answers locally at once). It counts round trips: a "turn" starts each time the
client speaks after the server did (plus one per connection).

Bounded: loopback only, at most `max_connections` at once, at most `max_queued` chunks waiting per
direction (the reader stops reading when the queue is full), idle connections dropped after
`idle_timeout`, everything closed by `stop()`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import threading
import time
from dataclasses import dataclass


@dataclass
class Counters:
    connections: int = 0
    round_trips: int = 0
    bytes_up: int = 0
    bytes_down: int = 0


class LatencyProxy:
    def __init__(self, target_host: str, target_port: int, rtt: float, *, max_connections: int = 64,
                 max_queued: int = 256, idle_timeout: float = 120.0) -> None:
        if not ipaddress.ip_address(target_host).is_loopback:
            raise ValueError("the latency proxy only forwards to loopback")
        self.target = (target_host, target_port)
        self.one_way = rtt / 2
        self.rtt = rtt
        self.max_connections = max_connections
        self.max_queued = max_queued
        self.idle_timeout = idle_timeout
        self.counters = Counters()
        self.port = 0
        self._open = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task] = set()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="latency-proxy", daemon=True)

    # -- lifecycle (from the caller's thread) ------------------------------------------------------
    def start(self) -> LatencyProxy:
        self._thread.start()
        self._ready.wait(10)
        if not self.port:
            raise RuntimeError("latency proxy did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def reset(self) -> Counters:
        """The counters so far, and zero for the next run."""
        counters, self.counters = self.counters, Counters()
        return counters

    def __enter__(self) -> LatencyProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- the loop ------------------------------------------------------------------------------------
    def _main(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            self._server = loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
            self.port = self._server.sockets[0].getsockname()[1]
            self._ready.set()
            loop.run_forever()
            loop.run_until_complete(self._close_all())
        finally:
            self._ready.set()
            loop.close()

    async def _close_all(self) -> None:
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        accepted = time.monotonic()
        try:
            if self._open >= self.max_connections:
                return
            self._open += 1
            self.counters.connections += 1
            self.counters.round_trips += 1  # the TCP handshake
            try:
                server_reader, server_writer = await asyncio.open_connection(*self.target)
            except OSError:
                self._open -= 1
                return
            state = {"last": "down"}
            # Nothing the client sends reaches the server before the modelled handshake is over.
            up = asyncio.create_task(self._pump(client_reader, server_writer, "up", state, accepted + self.rtt))
            down = asyncio.create_task(self._pump(server_reader, client_writer, "down", state, accepted))
            try:
                await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for pump in (up, down):
                    pump.cancel()
                await asyncio.gather(up, down, return_exceptions=True)
                server_writer.close()
                self._open -= 1
        finally:
            client_writer.close()
            self._tasks.discard(task)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, direction: str,
                    state: dict, not_before: float) -> None:
        queue: asyncio.Queue = asyncio.Queue(self.max_queued)

        async def deliver() -> None:
            while True:
                due, chunk = await queue.get()
                if chunk is None:
                    writer.write_eof() if writer.can_write_eof() else writer.close()
                    return
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(chunk)
                await writer.drain()

        sender = asyncio.create_task(deliver())
        try:
            while True:
                try:
                    chunk = await asyncio.wait_for(reader.read(1 << 16), self.idle_timeout)
                except (TimeoutError, OSError):
                    chunk = b""
                due = max(time.monotonic(), not_before) + self.one_way
                if not chunk:
                    await queue.put((due, None))
                    await sender
                    return
                if direction == "up":
                    self.counters.bytes_up += len(chunk)
                    if state["last"] == "down":
                        self.counters.round_trips += 1
                else:
                    self.counters.bytes_down += len(chunk)
                state["last"] = direction
                await queue.put((due, chunk))
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
