"""Loopback TCP bandwidth without iperf3: one sender, one receiver, 1 MiB writes for N seconds.

Prints {"name": "loopback", "tool": "python", "bytes": ..., "seconds": ..., "mb_per_sec": ...}. Python's
per-call overhead makes this a lower bound; bench/run prefers iperf3 when it can install it.
"""

import json
import socket
import sys
import threading
import time

CHUNK = 1 << 20


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    received = [0]

    def receive() -> None:
        conn, _ = listener.accept()
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        while True:
            n = conn.recv_into(view)
            if n == 0:
                break
            received[0] += n
        conn.close()

    reader = threading.Thread(target=receive)
    reader.start()
    sender = socket.create_connection(listener.getsockname())
    payload = b"\0" * CHUNK
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        sender.sendall(payload)
    sender.close()
    reader.join()
    elapsed = time.monotonic() - start
    json.dump(
        {"name": "loopback", "tool": "python", "bytes": received[0], "seconds": elapsed,
         "mb_per_sec": received[0] / elapsed / 1e6},
        sys.stdout,
    )


if __name__ == "__main__":
    main()
