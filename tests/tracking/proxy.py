"""A loopback TCP proxy that can cut a connection after the server has sent N bytes (a dropped
line in the middle of an IMAP FETCH, TLS and all)."""

from __future__ import annotations

import select
import socket
import threading


class CuttingProxy:
    """Forwards 127.0.0.1:<port> to `target`; the first `cuts` connections are cut after `cut_after`
    bytes from the server, the later ones pass untouched."""

    def __init__(self, target: tuple[str, int], cut_after: int | None = None, cuts: int = 1):
        self.target = target
        self.cut_after = cut_after
        self.cuts_left = cuts if cut_after is not None else 0
        self.server_bytes: list[int] = []  # bytes sent by the server, per connection
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        accept = threading.Thread(target=self._accept, name="proxy-accept", daemon=True)
        accept.start()
        self._threads.append(accept)

    def _accept(self) -> None:
        self._listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                limit = self.cut_after if self.cuts_left > 0 else None
                if limit is not None:
                    self.cuts_left -= 1
                index = len(self.server_bytes)
                self.server_bytes.append(0)
            worker = threading.Thread(target=self._pipe, args=(client, limit, index), daemon=True)
            worker.start()
            self._threads.append(worker)

    def _pipe(self, client: socket.socket, limit: int | None, index: int) -> None:
        upstream = socket.create_connection(self.target)
        sent = 0
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([client, upstream], [], [], 0.1)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is upstream:
                        if limit is not None and sent + len(data) >= limit:
                            client.sendall(data[: max(limit - sent, 0)])
                            self.server_bytes[index] = limit
                            return  # the line drops here
                        sent += len(data)
                        self.server_bytes[index] = sent
                        client.sendall(data)
                    else:
                        upstream.sendall(data)
        except OSError:
            return
        finally:
            for sock in (client, upstream):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        for thread in self._threads:
            thread.join(2)

    def __enter__(self) -> CuttingProxy:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
