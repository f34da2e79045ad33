"""A TCP proxy for the compat tests, run in the test process, that can cut its
connections on demand: every open connection at once, the next one that
carries a request of at least some size right after the request reached the
broker (so the broker may have acted on it but the client never sees the
answer), or those coming from given source addresses. Used with the broker's
`--advertised-listener` pointing at the proxy, so clients reconnect through it
after each cut.

For network partitions (compat/cluster.py) the proxy also knows each
connection's source IP: an `allow(source_ip)` predicate refuses new
connections, and `cut_where(predicate)` closes open ones, by where they come
from."""

import selectors
import socket
import struct
import threading


class CuttingProxy:
    def __init__(self, upstream, host="127.0.0.1", allow=None):
        """`upstream` is a callable returning the (host, port) to forward to, asked
        at each new connection so that it may follow a restarted broker. The proxy
        listens on `host` (an OS-chosen port). `allow`, when given, is asked with
        the source IP of each new connection; a connection it rejects is reset at
        once, as a firewall that refuses it would."""
        self.upstream = upstream
        self.allow = allow
        self.host = host
        self.listener = socket.create_server((host, 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.pairs = set()           # (client socket, broker socket) currently open
        self.sources = {}            # pair -> source IP of its client side
        self.refused = 0             # connections refused by `allow` so far
        self.cuts = 0                # connections cut so far
        self.connections = 0         # connections accepted so far
        self._cut_after_request = 0  # cut after forwarding a request at least this big (0: off)
        self._stop = threading.Event()
        self._accept_thread = threading.Thread(target=self._accept, name="proxy-accept", daemon=True)
        self._accept_thread.start()

    @property
    def address(self):
        return f"{self.host}:{self.port}"

    def _accept(self):
        while not self._stop.is_set():
            try:
                client, (source_ip, _) = self.listener.accept()
            except OSError:
                return
            if self.allow is not None and not self.allow(source_ip):
                _reset(client)
                with self.lock:
                    self.refused += 1
                continue
            try:
                broker = socket.create_connection(self.upstream(), timeout=10)
            except OSError:
                client.close()
                continue
            for s in (client, broker):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                s.settimeout(None)
            pair = (client, broker)
            with self.lock:
                # Asked again under the lock: a `cut_where` that ran since the first check did not see this pair.
                admitted = self.allow is None or self.allow(source_ip)
                if admitted:
                    self.pairs.add(pair)
                    self.sources[pair] = source_ip
                    self.connections += 1
                else:
                    self.refused += 1
            if not admitted:
                _reset(client)
                broker.close()
                continue
            threading.Thread(target=self._pump, args=(pair,), daemon=True, name="proxy-pump").start()

    def _pump(self, pair):
        client, broker = pair
        sel = selectors.DefaultSelector()
        sel.register(client, selectors.EVENT_READ, broker)
        sel.register(broker, selectors.EVENT_READ, client)
        try:
            while not self._stop.is_set():
                for key, _ in sel.select(timeout=0.2):
                    src, dst = key.fileobj, key.data
                    data = src.recv(1 << 16)
                    if not data:
                        return
                    dst.sendall(data)
                    if src is client and self._take_cut(len(data)):
                        return  # The request reached the broker; its response never comes back.
        except OSError:
            return
        finally:
            sel.close()
            self._close(pair)

    def _take_cut(self, size):
        with self.lock:
            if self._cut_after_request and size >= self._cut_after_request:
                self._cut_after_request = 0
                self.cuts += 1
                return True
        return False

    def _close(self, pair):
        with self.lock:
            self.pairs.discard(pair)
            self.sources.pop(pair, None)
        for s in pair:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def cut_after_next_request(self, min_bytes):
        """Arms a one-shot cut: the next client chunk of at least `min_bytes` is
        forwarded to the broker, then both sides of that connection are closed."""
        with self.lock:
            self._cut_after_request = min_bytes

    def armed(self):
        with self.lock:
            return self._cut_after_request != 0

    def cut_all(self):
        """Closes every open connection, in both directions, now."""
        with self.lock:
            pairs = list(self.pairs)
            self.cuts += len(pairs)
        for pair in pairs:
            self._close(pair)
        return len(pairs)

    def cut_where(self, predicate):
        """Closes every open connection whose client's source IP satisfies
        `predicate`, in both directions, now; returns how many."""
        with self.lock:
            pairs = [pair for pair, source in self.sources.items() if predicate(source)]
            self.cuts += len(pairs)
        for pair in pairs:
            self._close(pair)
        return len(pairs)

    def close(self):
        self._stop.set()
        try:
            # Wakes the accept thread at once (on Linux); close() alone leaves it blocked in accept().
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        self.cut_all()
        self._accept_thread.join(5)


def _reset(sock):
    """Closes `sock` with a TCP reset (SO_LINGER 0), so the peer fails at once
    instead of seeing an orderly end of stream."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()
