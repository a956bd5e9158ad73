"""The provider's PEC behaviour: accept or refuse a submission, then emit every receipt on schedule.

On acceptance the `accettazione` lands in the sender's INBOX before the SMTP `250` is sent (so a
client that has its `250` always finds it), the transport envelope is built and signed at the same
simulated instant, and one event per recipient is planned in simulated time (delivery after 1 s,
failure, 2-hour slow delivery, 12/24-hour timeout notices, 10-minute bounce). Events live in the
store, so a restart keeps them. CPU work (parsing, MIME, signatures) runs in worker threads; store
writes stay on the event-loop thread.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import random

from pecmass_xl.sandbox import rules
from pecmass_xl.sandbox.clock import SimClock, giorno, ora, rfc2822, rome, zona
from pecmass_xl.sandbox.receipts_builder import (
    MX_HOSTNAME,
    Moment,
    Submission,
    delivery_status_notification,
    postacert,
    received_line,
)
from pecmass_xl.sandbox.store import PendingEvent, Store, header_length
from pecmass_xl.sandbox.submission import analyse
from pecmass_xl.sandbox.workers import Builders

log = logging.getLogger("pecmass.sandbox.provider")

# Event kinds (stored in the events table).
DELIVERY = "consegna"
FAILURE = "errore-consegna"
FIRST_NOTICE = "preavviso-12h"
FINAL_NOTICE = "preavviso-24h"
OUTSIDE = "esterno"
BOUNCE = "rimbalzo"

ANOMALY_ERROR_IT = "messaggio di posta ordinaria, non certificato (notifica di mancato recapito di un server non PEC)"
ANOMALY_ERROR_EN = "ordinary, non-certified mail (delivery failure notice from a non-PEC server)"

MAX_CONCURRENT_EVENTS = 32
INLINE_ANALYSIS_LIMIT = 1_000_000


def moment(timestamp: float) -> Moment:
    local = rome(timestamp)
    return Moment(rfc2822(local), giorno(local), ora(local), zona(local))


class Provider:
    """Submission checks, receipts and the schedule of one sandbox."""

    def __init__(
        self,
        store: Store,
        clock: SimClock,
        builders: Builders,
        max_size: int,
    ) -> None:
        self.store = store
        self.clock = clock
        self.builders = builders
        self.max_size = max_size
        self._random = random.Random()
        self._node = self._random.randrange(10000, 100000)
        self._serial = itertools.count(1)
        self._heap: list[tuple[float, int, PendingEvent]] = []
        self._wake: asyncio.Event | None = None
        self._busy = 0
        self._tasks: set[asyncio.Task] = set()
        self._limit: asyncio.Semaphore | None = None
        self._envelopes: dict[str, asyncio.Future] = {}

    # --- identifiers -------------------------------------------------------------------------

    def new_id(self, timestamp: float) -> str:
        """A provider id shaped like the real ones (`opec<node>.<local time>.<serial>.<random>.1.1@domain`)."""
        stamp = rome(timestamp).strftime("%Y%m%d%H%M%S")
        return f"opec{self._node}.{stamp}.{next(self._serial):05d}.{self._random.randrange(10000)}.1.1@{rules.PROVIDER_DOMAIN}"

    def new_message_id(self, timestamp: float) -> str:
        return f"<{self.new_id(timestamp)}>"

    # --- submission --------------------------------------------------------------------------

    async def submit(self, login: str, mail_from: str, rcpt_tos: list[str], raw: bytes) -> str:
        """Handle one DATA transaction; returns the SMTP answer."""
        self._busy += 1
        try:
            return await self._submit(login, rcpt_tos, raw)
        finally:
            self._busy -= 1

    async def _submit(self, login: str, rcpt_tos: list[str], raw: bytes) -> str:
        now = self.clock.timestamp()
        at = moment(now)
        args = (login, rcpt_tos, raw, self.max_size, lambda: self.new_message_id(now))
        # Small messages are checked inline (cheaper than a thread hop); big ones off the loop.
        analysis = analyse(*args) if len(raw) < INLINE_ANALYSIS_LIMIT else await self.builders.run(analyse, *args)
        if analysis.refusal:
            return analysis.refusal
        queue_id = f"{self._random.randrange(16**12):012X}"
        sub = Submission(
            identificativo=self.new_id(now),
            client_msgid=analysis.client_msgid,
            sender=analysis.sender,
            subject=analysis.subject,
            reply_to=analysis.reply_to,
            to=list(analysis.to),
            cc=list(analysis.cc),
            recipients=analysis.recipients,
            tipo_ricevuta=analysis.tipo_ricevuta,
            to_header=analysis.to_header,
            cc_header=analysis.cc_header,
            accepted_at=now,
        )
        if analysis.problem_it:
            receipt = await self.builders.build(
                "non_accettazione",
                sub,
                self.new_message_id(now),
                at,
                analysis.problem_it,
                analysis.problem_en,
                analysis.virus,
                urgent=True,
            )
            self._deliver(sub.sender, receipt, rules.SERVICE_ADDRESS, now)
            log.info("submission not accepted (%s)", "virus" if analysis.virus else "formal check")
            return f"250 2.0.0 Ok: queued as {queue_id}"

        forwarded = postacert(raw, sub.identificativo, sub.client_msgid, received_line(rcpt_tos, at, queue_id))
        acceptance = await self.builders.build("accettazione", sub, self.new_message_id(now), at, urgent=True)
        with self.store.transaction():
            self._deliver(sub.sender, acceptance, rules.SERVICE_ADDRESS, now)
            # The envelope (dated now) is built by the first event that needs it, off the SMTP path.
            self.store.add_submission(sub.identificativo, sub.to_json(), forwarded, None)
            events = [self.store.add_event(due, sub.identificativo, kind, address) for due, kind, address in self._plan(sub)]
        for event in events:
            heapq.heappush(self._heap, (event.due, event.id, event))
        self._poke()
        log.info("submission accepted: %d recipient(s)", len(sub.recipients))
        return f"250 2.0.0 Ok: queued as {queue_id}"

    async def _envelope(self, sub: Submission, forwarded: bytes, stored: bytes | None, event: PendingEvent) -> bytes:
        """The transport envelope of a submission: built once (dated at the acceptance), then kept
        in the store while other recipients' events still need it."""
        if stored is not None:
            return stored
        pending = self._envelopes.get(sub.identificativo)
        if pending is None:
            pending = self._envelopes[sub.identificativo] = asyncio.ensure_future(
                self.builders.build("busta_trasporto", sub, moment(sub.accepted_at), forwarded)
            )
            try:
                envelope = await pending
                if self.store.other_events_pending(event):
                    self.store.set_envelope(sub.identificativo, envelope)
            finally:
                self._envelopes.pop(sub.identificativo, None)
            return envelope
        return await asyncio.shield(pending)

    def _plan(self, sub: Submission) -> list[tuple[float, str, str]]:
        """One or two events per recipient, in simulated time from the acceptance."""
        plan = []
        start = sub.accepted_at
        for address, _kind in sub.recipients:
            fate = rules.recipient_fate(address)
            if fate.outcome == rules.DELIVER:
                plan.append((start + fate.delay, DELIVERY, address))
            elif fate.outcome == rules.FAIL:
                plan.append((start + fate.delay, FAILURE, address))
            elif fate.outcome == rules.SILENT:
                plan.append((start + rules.FIRST_TIMEOUT_NOTICE, FIRST_NOTICE, address))
                plan.append((start + rules.FINAL_TIMEOUT_NOTICE, FINAL_NOTICE, address))
            elif fate.outcome == rules.EXTERNAL:
                plan.append((start + fate.delay, OUTSIDE, address))
            elif fate.outcome == rules.BOUNCE:
                plan.append((start + fate.delay, BOUNCE, address))
        return plan

    # --- scheduled events --------------------------------------------------------------------

    def load_pending(self) -> int:
        """Queue the events a previous run left in the store; call before serving clients."""
        events = self.store.pending_events()
        for event in events:
            heapq.heappush(self._heap, (event.due, event.id, event))
        return len(events)

    async def run_scheduler(self) -> None:
        """Fire events when the simulated clock reaches them (runs until cancelled)."""
        self._wake = asyncio.Event()
        self._limit = asyncio.Semaphore(MAX_CONCURRENT_EVENTS)
        while True:
            now = self.clock.timestamp()
            while self._heap and self._heap[0][0] <= now:
                _, _, event = heapq.heappop(self._heap)
                task = asyncio.create_task(self._fire(event))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            delay = self.clock.real_delay(self._heap[0][0]) if self._heap else None
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except TimeoutError:
                pass

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def is_idle(self, until: float) -> bool:
        """True when no submission or event is in progress and nothing is due up to `until` (simulated)."""
        return not self._busy and not self._tasks and not (self._heap and self._heap[0][0] <= until)

    async def _fire(self, event: PendingEvent) -> None:
        assert self._limit is not None
        async with self._limit:
            try:
                await self._handle(event)
            except Exception:
                log.exception("sandbox event %s failed; dropped", event.kind)
                self.store.finish_event(event)

    async def _handle(self, event: PendingEvent) -> None:
        loaded = self.store.submission(event.submission)
        if loaded is None:
            self.store.finish_event(event)
            return
        info, forwarded, envelope = loaded
        sub = Submission.from_json(info)
        at = moment(event.due)
        message_id = self.new_message_id(event.due)
        address = event.recipient
        build = self.builders.build
        if event.kind in (DELIVERY, OUTSIDE, BOUNCE):
            envelope = await self._envelope(sub, forwarded, envelope, event)
        if event.kind == DELIVERY:
            form = self._receipt_form(sub, address)
            receipt = await build("avvenuta_consegna", sub, message_id, at, address, form, forwarded)
            with self.store.transaction():
                self._deliver(address, envelope, sub.sender, event.due)
                self._deliver(sub.sender, receipt, rules.SERVICE_ADDRESS, event.due)
                self.store.finish_event(event)
        elif event.kind == FAILURE:
            fate = rules.recipient_fate(address)
            receipt = await build(
                "errore_consegna", sub, message_id, at, address, fate.errore, fate.errore_esteso, fate.errore_esteso_en
            )
            self._store_receipt(sub, receipt, event)
        elif event.kind in (FIRST_NOTICE, FINAL_NOTICE):
            receipt = await build("preavviso_errore_consegna", sub, message_id, at, address, event.kind == FINAL_NOTICE)
            self._store_receipt(sub, receipt, event)
        elif event.kind == OUTSIDE:
            with self.store.transaction():
                self._deliver(address, envelope, sub.sender, event.due)
                self.store.finish_event(event)
        elif event.kind == BOUNCE:
            domain = address.rpartition("@")[2]
            bounced = envelope[: header_length(envelope)] if envelope else b""
            dsn_id = f"<{self._random.randrange(16**16):016x}@{'mx.' + domain if domain else MX_HOSTNAME}>"
            dsn = delivery_status_notification(bounced, sub.sender, address, at, dsn_id)
            anomaly = await build("anomalia", dsn, at, ANOMALY_ERROR_IT, ANOMALY_ERROR_EN)
            with self.store.transaction():
                self._deliver(sub.sender, anomaly, "", event.due)
                self.store.finish_event(event)
        else:
            log.warning("unknown sandbox event kind %r; dropped", event.kind)
            self.store.finish_event(event)

    def _store_receipt(self, sub: Submission, receipt: bytes, event: PendingEvent) -> None:
        with self.store.transaction():
            self._deliver(sub.sender, receipt, rules.SERVICE_ADDRESS, event.due)
            self.store.finish_event(event)

    @staticmethod
    def _receipt_form(sub: Submission, address: str) -> str:
        """completa/breve go to To recipients only; Cc recipients get a sintetica (RFC 6109 §3.3.2.1)."""
        if sub.tipo_ricevuta == "sintetica":
            return "sintetica"
        in_to = any(rules.normalise(a) == rules.normalise(address) for a in sub.to)
        return sub.tipo_ricevuta if in_to else "sintetica"

    def _deliver(self, address: str, message: bytes, return_path: str, timestamp: float) -> None:
        """Put a message in a mailbox's INBOX with the trace fields a delivery agent adds."""
        at = moment(timestamp)
        trace = (
            f"Return-Path: <{return_path}>\r\n"
            f"Delivered-To: {address}\r\n"
            f"Received: from {MX_HOSTNAME} ({MX_HOSTNAME} [127.0.0.1])\r\n"
            f"\tby imaps.pec.sandbox.test (pecmass sandbox) with LMTP\r\n"
            f"\tfor <{address}>; {at.date_header}\r\n"
        ).encode()
        self.store.append(address, trace + message, internal_date=timestamp)

    async def cancel_tasks(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2)
