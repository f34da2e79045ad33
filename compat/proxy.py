"""A TCP proxy for the compat tests, run in the test process, that can cut its
connections on demand: every open connection at once, or the next one that
carries a request of at least some size right after the request reached the
broker (so the broker may have acted on it but the client never sees the
answer). Used with the broker's `--advertised-listener` pointing at the proxy,
so clients reconnect through it after each cut."""

import selectors
import socket
import threading


class CuttingProxy:
    def __init__(self, upstream):
        """`upstream` is a callable returning the (host, port) to forward to, asked
        at each new connection so that it may follow a restarted broker."""
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.pairs = set()           # (client socket, broker socket) currently open
        self.cuts = 0                # connections cut so far
        self.connections = 0         # connections accepted so far
        self._cut_after_request = 0  # cut after forwarding a request at least this big (0: off)
        self._stop = threading.Event()
        self._accept_thread = threading.Thread(target=self._accept, name="proxy-accept", daemon=True)
        self._accept_thread.start()

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def _accept(self):
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
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
                self.pairs.add(pair)
                self.connections += 1
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

    def close(self):
        self._stop.set()
        self.listener.close()
        self.cut_all()
        self._accept_thread.join(5)
