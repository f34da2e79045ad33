"""Runs `sluice connect standalone` as a subprocess for the compat tests, and
talks to its REST API with plain urllib (not any client of ours).

The worker prints one stdout line, `sluice connect listening on
http://HOST:PORT`, once its REST API serves and the connectors of the files
given on the command line exist; every wait here is a poll against a deadline,
and stopping is SIGTERM, a bounded wait, then SIGKILL.
"""

import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from conftest import ANSI_RE, KILL_TIMEOUT_S, POLL_INTERVAL_S, STOP_TIMEOUT_S, _die_with_parent

LISTENING_RE = re.compile(r"^sluice connect listening on (http://\S+?)/?\s*$")

# Start-up waits for the Kafka cluster to answer and creates the connectors of the files.
START_TIMEOUT_S = 60.0
# Stopping commits every task's offsets first (each task may take task.shutdown.graceful.timeout.ms).
CONNECT_STOP_TIMEOUT_S = max(STOP_TIMEOUT_S, 30.0)
HTTP_TIMEOUT_S = 10.0


class ConnectStartError(AssertionError):
    pass


def write_properties(path, settings):
    """Writes `settings` (a dict) as a Java .properties file, one `key=value` per line."""
    path = Path(path)
    path.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    return path


class Response:
    """One HTTP answer: status, raw body and the body parsed as JSON (None when empty or not JSON)."""

    def __init__(self, method, url, status, body):
        self.method = method
        self.url = url
        self.status = status
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return f"{self.method} {self.url} -> {self.status} {self.body[:500]!r}"


class ConnectWorker:
    """One `sluice connect standalone` process: a worker file plus connector files; with
    `mode="distributed"`, one `sluice connect distributed` worker (a worker file only)."""

    def __init__(self, binary, worker_file, log_dir, connector_files=(), args=None, mode="standalone"):
        assert mode in ("standalone", "distributed"), f"unknown connect mode {mode!r}"
        assert mode == "standalone" or not connector_files, "distributed workers take no connector files"
        self.mode = mode
        self.binary = Path(binary)
        self.worker_file = Path(worker_file)
        self.connector_files = [Path(f) for f in connector_files]
        self.log_dir = Path(log_dir)
        self.extra_args = list(args or [])
        self.proc = None
        self.url = None
        self.starts = 0
        self.stderr_path = self.log_dir / "connect.stderr"
        self._stderr_mark = 0

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=START_TIMEOUT_S):
        assert not self.running, "connect worker is already running"
        self.starts += 1
        cmd = [str(self.binary), "connect", self.mode, str(self.worker_file),
               *[str(f) for f in self.connector_files],
               "--listen", "127.0.0.1:0", *[str(a) for a in self.extra_args]]
        # Settings come only from the test (SLUICE_LOG, the log filter, is kept for debugging).
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("SLUICE_") or k == "SLUICE_LOG"}
        env.setdefault("RUST_BACKTRACE", "1")
        env["NO_COLOR"] = "1"

        stdout_path = self.log_dir / f"connect-{self.starts}.stdout"
        with open(self.stderr_path, "ab") as err:
            err.write(f"----- start #{self.starts}: {' '.join(cmd)}\n".encode())
        self._stderr_mark = self.stderr_path.stat().st_size
        with open(stdout_path, "wb") as out, open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                preexec_fn=_die_with_parent,
            )

        deadline = time.monotonic() + timeout
        while True:
            text = stdout_path.read_text(errors="replace")
            for line in text.splitlines(keepends=True):
                m = LISTENING_RE.match(line)
                if m and line.endswith("\n"):
                    self.url = m.group(1)
                    self._check_answers()
                    return self
            code = self.proc.poll()
            if code is not None:
                self.proc = None
                raise ConnectStartError(
                    f"connect worker exited with code {code} before printing its listening line "
                    f"(cmd: {' '.join(cmd)})\nstdout:\n{text}\nstderr:\n{self.stderr_text(current=True)}")
            if time.monotonic() > deadline:
                self._kill()
                raise ConnectStartError(
                    f"connect worker did not print 'sluice connect listening on http://HOST:PORT' "
                    f"within {timeout}s (cmd: {' '.join(cmd)})\nstdout:\n{text}\n"
                    f"stderr:\n{self.stderr_text(current=True)}")
            time.sleep(POLL_INTERVAL_S)

    def _check_answers(self):
        """The listening line promises a working API: `GET /` must answer."""
        try:
            r = self.request("GET", "/")
        except OSError as e:
            raise ConnectStartError(
                f"connect worker printed it listens on {self.url} but GET / failed: {e}\n"
                f"stderr:\n{self.stderr_text(current=True)}") from e
        if r.status != 200:
            raise ConnectStartError(f"connect worker's first answer was not 200: {r!r}")

    # -- REST --------------------------------------------------------------

    def request(self, method, path, body=None):
        """One HTTP call; any status (4xx/5xx included) comes back as a Response, never an exception."""
        assert self.url is not None, "connect worker has not been started"
        url = self.url + path
        data = None
        headers = {"Accept": "application/json"}
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S) as resp:
                return Response(method, path, resp.status, resp.read().decode("utf-8", errors="replace"))
        except urllib.error.HTTPError as e:
            return Response(method, path, e.code, e.read().decode("utf-8", errors="replace"))

    def call(self, method, path, body=None, expect=200):
        """A call that must answer `expect`; the failure shows the answer and the worker's stderr tail."""
        r = self.request(method, path, body)
        assert r.status == expect, (
            f"expected {expect}, got {r!r}\nconnect stderr tail:\n{self.stderr_tail()}")
        return r

    # -- lifecycle ---------------------------------------------------------

    def _kill(self):
        self.proc.kill()
        self.proc.wait(KILL_TIMEOUT_S)
        self.proc = None

    def kill9(self):
        """SIGKILL: the crash case (nothing committed, the group not told). Waits until the process is gone."""
        assert self.running, "kill9: connect worker is not running"
        self._kill()

    @property
    def worker_id(self):
        """`host:port` of the REST API, as status answers name the worker (`worker_id`)."""
        assert self.url is not None, "connect worker has not been started"
        return self.url.split("://", 1)[1].rstrip("/")

    def stop(self, timeout=CONNECT_STOP_TIMEOUT_S, check=True):
        """SIGTERM and a bounded wait, then SIGKILL; with check, a clean exit (code 0) is required."""
        if self.proc is None:
            return None
        proc = self.proc
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            raise AssertionError(
                f"connect worker did not exit within {timeout}s of SIGTERM (killed it)\n"
                f"stderr tail:\n{self.stderr_tail()}")
        self.proc = None
        if check and code != 0:
            raise AssertionError(
                f"connect worker exited with code {code} after SIGTERM, expected a clean exit (0)\n"
                f"stderr tail:\n{self.stderr_tail()}")
        return code

    def stderr_text(self, current=False):
        try:
            data = self.stderr_path.read_bytes()
        except FileNotFoundError:
            return ""
        if current:
            data = data[self._stderr_mark:]
        return ANSI_RE.sub("", data.decode("utf-8", errors="replace"))

    def stderr_tail(self, lines=60):
        return "\n".join(self.stderr_text().splitlines()[-lines:])
