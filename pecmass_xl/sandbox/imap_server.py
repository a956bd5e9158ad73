"""IMAP over implicit TLS (as on port 993), served by pymap's protocol engine on the sandbox store.

pymap's own service offers only STARTTLS, so we open the TLS socket ourselves and hand each
connection to pymap's `IMAPServer`. The backend below (login, session, mailboxes, messages) maps
pymap's interfaces onto `store.Store`: UIDs and UIDVALIDITY come from the store, so they survive
restarts; message bodies are read from disk only when a client fetches them.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from argparse import Namespace
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import cached_property
from uuid import uuid4

from proxyprotocol.result import ProxyResultLocal
from proxyprotocol.sock import SocketInfo
from pymap.backend.mailbox import MailboxDataInterface, MailboxSetInterface
from pymap.backend.session import BaseSession
from pymap.concurrent import Event, ReadWriteLock, Subsystem
from pymap.config import BackendCapability, IMAPConfig
from pymap.context import subsystem as subsystem_var
from pymap.exceptions import AuthorizationFailure, InvalidAuth, NotAllowedError, NotSupportedError
from pymap.flags import FlagOp
from pymap.imap import IMAPServer
from pymap.interfaces.login import IdentityInterface, LoginInterface
from pymap.interfaces.message import CachedMessage
from pymap.listtree import ListTree
from pymap.mailbox import MailboxSnapshot
from pymap.message import BaseLoadedMessage, BaseMessage
from pymap.mime import MessageContent
from pymap.parsing.message import AppendMessage
from pymap.parsing.specials import FetchRequirement, ObjectId
from pymap.parsing.specials.flag import Flag, Seen
from pymap.selected import SelectedMailbox, SelectedSet
from pymap.token import AllTokens
from pymap.user import UserMetadata
from pysasl.creds.server import ServerCredentials
from pysasl.hashing import BuiltinHash
from pysasl.identity import ClearIdentity

from pecmass_xl.sandbox import faults as fault_names
from pecmass_xl.sandbox.faults import Faults
from pecmass_xl.sandbox.rules import mailbox_exists, normalise
from pecmass_xl.sandbox.store import INBOX, MailboxRow, MessageMeta, Store

log = logging.getLogger("pecmass.sandbox.imap")

IMAP_HOSTNAME = "imaps.pec.sandbox.test"
_SUBSYSTEM = Subsystem.for_asyncio()


def _flags_to_text(flags: Iterable[Flag]) -> str:
    return " ".join(sorted(str(flag) for flag in flags))


def _flags_from_text(text: str) -> frozenset[Flag]:
    return frozenset(Flag(part.encode()) for part in text.split())


class StoredMessage(BaseMessage):
    """A message whose bytes stay in the store until a client asks for them."""

    __slots__ = ["_store", "_mailbox_id", "recent"]

    def __init__(
        self,
        uid: int,
        internal_date: datetime,
        permanent_flags: Iterable[Flag],
        *,
        store: Store,
        mailbox_id: int,
        expunged: bool = False,
        recent: bool = False,
    ) -> None:
        super().__init__(
            uid,
            internal_date,
            permanent_flags,
            expunged=expunged,
            email_id=ObjectId(b"M%dx%d" % (mailbox_id, uid)),
            thread_id=ObjectId(b"T%dx%d" % (mailbox_id, uid)),
        )
        self._store = store
        self._mailbox_id = mailbox_id
        self.recent = recent

    def copy_as(self, *, expunged: bool) -> StoredMessage:
        return StoredMessage(
            self.uid,
            self.internal_date,
            self.permanent_flags,
            store=self._store,
            mailbox_id=self._mailbox_id,
            expunged=expunged,
            recent=self.recent,
        )

    async def load_content(self, requirement: FetchRequirement) -> BaseLoadedMessage:
        if requirement.has_none(FetchRequirement.CONTENT):
            return BaseLoadedMessage(self, requirement, None)
        header_only = not requirement.has_all(FetchRequirement.BODY)
        data = self._store.message_bytes(self._mailbox_id, self.uid, header_only=header_only)
        if data is None:
            return BaseLoadedMessage(self, requirement, None)
        return BaseLoadedMessage(self, requirement, MessageContent.parse(data))


class _ModSequences:
    """Which UIDs changed (or were expunged) since a given modification sequence."""

    def __init__(self) -> None:
        self.highest = 0
        self._changes: list[tuple[int, int, bool]] = []  # (mod sequence, uid, expunged), ascending

    def record(self, uids: Iterable[int], expunged: bool = False) -> None:
        self.highest += 1
        self._changes.extend((self.highest, uid, expunged) for uid in uids)

    def since(self, mod_sequence: int) -> tuple[set[int], set[int]]:
        updated: set[int] = set()
        expunged: set[int] = set()
        for index in range(len(self._changes) - 1, -1, -1):
            seq, uid, gone = self._changes[index]
            if seq <= mod_sequence:
                break
            (expunged if gone else updated).add(uid)
        return updated - expunged, expunged


class StoredMailbox(MailboxDataInterface[StoredMessage]):
    """One folder of one mailbox, shared by every IMAP session that selects it."""

    def __init__(self, store: Store, row: MailboxRow) -> None:
        self._store = store
        self.row = row
        self._mailbox_id = ObjectId(b"F%d" % row.id)
        self._updated = _SUBSYSTEM.new_event()
        self._lock = _SUBSYSTEM.new_rwlock()
        self._selected_set = SelectedSet()
        self._mod = _ModSequences()
        self._messages: dict[int, StoredMessage] = {
            meta.uid: self._message(meta, recent=False) for meta in store.messages_meta(row.id)
        }

    def _message(self, meta: MessageMeta, recent: bool) -> StoredMessage:
        return StoredMessage(
            meta.uid,
            datetime.fromtimestamp(meta.internal_date, UTC),
            _flags_from_text(meta.flags),
            store=self._store,
            mailbox_id=self.row.id,
            recent=recent,
        )

    def on_append(self, meta: MessageMeta) -> None:
        """A message was committed to this folder (by the provider or by an IMAP APPEND)."""
        self._messages[meta.uid] = self._message(meta, recent=True)
        self._mod.record([meta.uid])
        self._updated.set()

    @property
    def mailbox_id(self) -> ObjectId:
        return self._mailbox_id

    @property
    def readonly(self) -> bool:
        return False

    @property
    def uid_validity(self) -> int:
        return self.row.uidvalidity

    @property
    def messages_lock(self) -> ReadWriteLock:
        return self._lock

    @property
    def selected_set(self) -> SelectedSet:
        return self._selected_set

    async def update_selected(self, selected: SelectedMailbox, *, wait_on: Event | None = None) -> SelectedMailbox:
        if wait_on is not None:
            await wait_on.or_event(self._updated).wait()
        previous = selected.mod_sequence
        selected.mod_sequence = self._mod.highest
        if previous is None:
            selected.add_updates(list(self._messages.values()), [])
        else:
            updated, expunged = self._mod.since(previous)
            selected.add_updates([self._messages[uid] for uid in sorted(updated) if uid in self._messages], expunged)
        return selected

    async def append(self, append_msg: AppendMessage, *, recent: bool = False) -> StoredMessage:
        when = (append_msg.when or datetime.now(UTC)).timestamp()
        uid = self._store.append_to(
            self.row.id, bytes(append_msg.literal), flags=_flags_to_text(append_msg.flag_set), internal_date=when
        )
        return self._messages[uid]

    async def copy(self, uid: int, destination: StoredMailbox, *, recent: bool = False) -> int | None:
        message = self._messages.get(uid)
        data = self._store.message_bytes(self.row.id, uid)
        if message is None or data is None:
            return None
        return self._store.append_to(
            destination.row.id,
            data,
            flags=_flags_to_text(message.permanent_flags),
            internal_date=message.internal_date.timestamp(),
        )

    async def move(self, uid: int, destination: StoredMailbox, *, recent: bool = False) -> int | None:
        new_uid = await self.copy(uid, destination, recent=recent)
        if new_uid is not None:
            await self.delete([uid])
        return new_uid

    async def get(self, uid: int, cached_msg: CachedMessage) -> StoredMessage:
        message = self._messages.get(uid)
        if message is None:
            if not isinstance(cached_msg, StoredMessage):
                raise TypeError(cached_msg)
            return cached_msg.copy_as(expunged=True)
        return message

    async def update(self, uid: int, cached_msg: CachedMessage, flag_set: frozenset[Flag], mode: FlagOp) -> StoredMessage:
        message = await self.get(uid, cached_msg)
        message.permanent_flags = mode.apply(message.permanent_flags, flag_set)
        if not message.expunged:
            self._store.set_flags(self.row.id, uid, _flags_to_text(message.permanent_flags))
            self._mod.record([uid])
            self._updated.set()
        return message

    async def delete(self, uids: Iterable[int]) -> None:
        uids = [uid for uid in uids if uid in self._messages]
        if not uids:
            return
        self._store.delete_messages(self.row.id, uids)
        for uid in uids:
            del self._messages[uid]
        self._mod.record(uids, expunged=True)
        self._updated.set()

    async def claim_recent(self, selected: SelectedMailbox) -> None:
        claimed = [message.uid for message in self._messages.values() if message.recent]
        for message in self._messages.values():
            message.recent = False
        for uid in claimed:
            selected.session_flags.add_recent(uid)
        if claimed:
            self._mod.record(claimed)

    async def cleanup(self) -> None:
        pass

    async def messages(self) -> AsyncIterable[StoredMessage]:
        for message in list(self._messages.values()):
            yield message

    async def snapshot(self) -> MailboxSnapshot:
        exists = recent = unseen = 0
        first_unseen: int | None = None
        for message in sorted(self._messages.values(), key=lambda m: m.uid):
            exists += 1
            recent += message.recent
            if Seen not in message.permanent_flags:
                unseen += 1
                if first_unseen is None:
                    first_unseen = exists
        return MailboxSnapshot(
            self.mailbox_id,
            self.readonly,
            self.uid_validity,
            self.permanent_flags,
            self.session_flags,
            exists,
            recent,
            unseen,
            first_unseen,
            self._store.next_uid(self.row.id),
        )


class MailboxFolders(MailboxSetInterface[StoredMailbox]):
    """The folders of one logged-in mailbox."""

    def __init__(self, backend: ImapBackend, address: str) -> None:
        self._backend = backend
        self._address = address

    @property
    def delimiter(self) -> str:
        return "/"

    def _names(self, subscribed_only: bool) -> list[str]:
        store = self._backend.store
        names = store.subscribed_names(self._address) if subscribed_only else store.folder_names(self._address)
        return [name for name in names if name != INBOX]

    async def set_subscribed(self, name: str, subscribed: bool) -> None:
        self._backend.store.set_subscribed(self._address, name, subscribed)

    async def list_subscribed(self) -> ListTree:
        return ListTree(self.delimiter).update(INBOX, *self._names(True))

    async def list_mailboxes(self) -> ListTree:
        return ListTree(self.delimiter).update(INBOX, *self._names(False))

    async def get_mailbox(self, name: str) -> StoredMailbox:
        if name.upper() == INBOX:
            name = INBOX
        row = self._backend.store.mailbox(self._address, name, create=name == INBOX)
        if row is None:
            raise KeyError(name)
        return self._backend.folder(row)

    async def add_mailbox(self, name: str) -> ObjectId:
        store = self._backend.store
        if name.upper() == INBOX or store.mailbox(self._address, name, create=False) is not None:
            raise ValueError(name)
        row = store.mailbox(self._address, name)
        assert row is not None
        return ObjectId(b"F%d" % row.id)

    async def delete_mailbox(self, name: str) -> None:
        if name.upper() == INBOX:
            raise NotAllowedError("INBOX cannot be deleted.")
        row = self._backend.store.mailbox(self._address, name, create=False)
        if row is None:
            raise KeyError(name)
        self._backend.store.delete_mailbox(self._address, name)
        self._backend.forget(row.id)

    async def rename_mailbox(self, before: str, after: str) -> None:
        store = self._backend.store
        if before.upper() == INBOX:
            raise NotSupportedError("Renaming INBOX is not supported.")
        row = store.mailbox(self._address, before, create=False)
        if row is None:
            raise KeyError(before)
        if store.mailbox(self._address, after, create=False) is not None:
            raise ValueError(after)
        store.rename_mailbox(self._address, before, after)
        self._backend.forget_all()


class ImapSession(BaseSession[StoredMessage]):
    def __init__(self, owner: str, config: SandboxImapConfig, folders: MailboxFolders) -> None:
        super().__init__(owner)
        self._config = config
        self._folders = folders

    @property
    def config(self) -> SandboxImapConfig:
        return self._config

    @property
    def mailbox_set(self) -> MailboxFolders:
        return self._folders


class ImapIdentity(IdentityInterface):
    def __init__(self, backend: ImapBackend, name: str) -> None:
        self._backend = backend
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def roles(self) -> frozenset[str]:
        return frozenset()

    @asynccontextmanager
    async def new_session(self) -> AsyncIterator[ImapSession]:
        yield ImapSession(self._name, self._backend.config, MailboxFolders(self._backend, self._name))

    async def new_token(self, *, expiration: datetime | None = None) -> str | None:
        return None

    async def get(self) -> UserMetadata:
        return UserMetadata(self._backend.config, self._name)

    async def set(self, metadata: UserMetadata) -> int | None:
        raise NotAllowedError("Mailboxes of the sandbox are managed by the sandbox.")

    async def delete(self) -> None:
        raise NotAllowedError("Mailboxes of the sandbox are managed by the sandbox.")


class ImapLogin(LoginInterface):
    """Login = the mailbox address, password = the sandbox password; refused under the login fault."""

    def __init__(self, backend: ImapBackend) -> None:
        self._backend = backend

    @cached_property
    def tokens(self) -> AllTokens:
        return AllTokens(self._backend.config)

    async def authenticate(self, credentials: ServerCredentials) -> ImapIdentity:
        backend = self._backend
        address = normalise(credentials.authcid)
        if backend.faults.take(fault_names.LOGIN_REFUSED):
            log.info("IMAP login refused by the injected fault")
            raise InvalidAuth()
        if not mailbox_exists(address) or not credentials.verify(ClearIdentity(credentials.authcid, backend.password())):
            await asyncio.sleep(0.05)
            log.info("IMAP login refused: wrong credentials")
            raise InvalidAuth()
        return ImapIdentity(backend, address)

    async def authorize(self, authenticated: IdentityInterface, authzid: str) -> IdentityInterface:
        if authzid and normalise(authzid) != authenticated.name:
            raise AuthorizationFailure()
        return authenticated


class SandboxImapConfig(IMAPConfig):
    """pymap settings: no STARTTLS (the socket is already TLS), plain LOGIN allowed, no DNS lookups."""

    def __init__(self) -> None:
        super().__init__(
            Namespace(proxy_protocol=None, passlib_cfg=None),
            host="127.0.0.1",
            port=0,
            subsystem=_SUBSYSTEM,
            cpu_subsystem=_SUBSYSTEM,
            ssl_context=ssl.create_default_context(ssl.Purpose.CLIENT_AUTH),
            tls_enabled=False,
            reject_dnsbl=False,
            hash_context=BuiltinHash(),
            invalid_user_sleep=0.05,
            bad_command_limit=20,
        )

    @property
    def backend_capability(self) -> BackendCapability:
        return BackendCapability(idle=True, object_id=True, multi_append=True)

    @property
    def greeting(self) -> bytes:
        return b"Sandbox PEC IMAP pronto (" + IMAP_HOSTNAME.encode() + b")"


class ImapBackend:
    """Shared state of the IMAP side: the store, the folders currently in memory, login rules."""

    def __init__(self, store: Store, password: Callable[[], str], faults: Faults) -> None:
        self.store = store
        self.password = password
        self.faults = faults
        self.config = SandboxImapConfig()
        self.login = ImapLogin(self)
        self._folders: dict[int, StoredMailbox] = {}
        store.add_listener(self._on_append)

    def folder(self, row: MailboxRow) -> StoredMailbox:
        folder = self._folders.get(row.id)
        if folder is None or folder.row.uidvalidity != row.uidvalidity or folder.row.name != row.name:
            folder = self._folders[row.id] = StoredMailbox(self.store, row)
        return folder

    def forget(self, mailbox_id: int) -> None:
        self._folders.pop(mailbox_id, None)

    def forget_all(self) -> None:
        self._folders.clear()

    def _on_append(self, mailbox_id: int, meta: MessageMeta) -> None:
        folder = self._folders.get(mailbox_id)
        if folder is not None:
            folder.on_append(meta)


class ImapListener:
    """The implicit-TLS listening socket and its open connections."""

    def __init__(self, backend: ImapBackend, ssl_context: ssl.SSLContext) -> None:
        self._backend = backend
        self._ssl = ssl_context
        self._server: asyncio.AbstractServer | None = None
        self._imap = IMAPServer(backend.login, backend.config)
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task] = set()

    async def start(self, host: str, port: int) -> int:
        subsystem_var.set(_SUBSYSTEM)
        self._server = await asyncio.start_server(self._connected, host, port, ssl=self._ssl, ssl_handshake_timeout=10)
        return self._server.sockets[0].getsockname()[1]

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        subsystem_var.set(_SUBSYSTEM)
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        info = SocketInfo.get(writer, ProxyResultLocal(), unique_id=uuid4().bytes)
        try:
            await self._imap(reader, writer, info)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        except Exception:
            log.exception("IMAP connection failed")
        finally:
            self._writers.discard(writer)
            if task is not None:
                self._tasks.discard(task)
            writer.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2)
        if self._server is not None:
            await self._server.wait_closed()
