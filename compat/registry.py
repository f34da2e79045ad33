"""Runs `sluice schema-registry` as a subprocess for the compat tests.

The registry prints one stdout line, `sluice schema-registry listening on
http://HOST:PORT`, once its REST API is bound and it has read the `_schemas`
topic; every wait here is a poll against a deadline, and stopping is SIGTERM,
a bounded wait, then SIGKILL.
"""

import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from conftest import ANSI_RE, KILL_TIMEOUT_S, POLL_INTERVAL_S, STOP_TIMEOUT_S, _die_with_parent

LISTENING_RE = re.compile(r"^sluice schema-registry listening on (http://\S+?)/?\s*$")

# Start-up reads (or creates) the `_schemas` topic and elects a writer through a
# consumer group, so it may take longer than a broker's start.
START_TIMEOUT_S = 60.0


class RegistryStartError(AssertionError):
    pass


class SchemaRegistry:
    """One `sluice schema-registry` process against one broker."""

    def __init__(self, binary, bootstrap, log_dir, args=None):
        self.binary = Path(binary)
        self.bootstrap = bootstrap
        self.log_dir = Path(log_dir)
        self.extra_args = list(args or [])
        self.proc = None
        self.url = None
        self.starts = 0
        self.stderr_path = self.log_dir / "schema-registry.stderr"
        self._stderr_mark = 0

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=START_TIMEOUT_S):
        assert not self.running, "schema registry is already running"
        self.starts += 1
        cmd = [str(self.binary), "schema-registry", "--bootstrap-servers", self.bootstrap,
               "--listen", "127.0.0.1:0", *[str(a) for a in self.extra_args]]
        # Settings come only from the test (SLUICE_LOG, the log filter, is kept for debugging).
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("SLUICE_") or k == "SLUICE_LOG"}
        env.setdefault("RUST_BACKTRACE", "1")
        env["NO_COLOR"] = "1"

        stdout_path = self.log_dir / f"schema-registry-{self.starts}.stdout"
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
                raise RegistryStartError(
                    f"schema registry exited with code {code} before printing its listening line "
                    f"(cmd: {' '.join(cmd)})\nstdout:\n{text}\nstderr:\n{self.stderr_text(current=True)}")
            if time.monotonic() > deadline:
                self._kill()
                raise RegistryStartError(
                    f"schema registry did not print 'sluice schema-registry listening on http://HOST:PORT' "
                    f"within {timeout}s (cmd: {' '.join(cmd)})\nstdout:\n{text}\n"
                    f"stderr:\n{self.stderr_text(current=True)}")
            time.sleep(POLL_INTERVAL_S)

    def _check_answers(self):
        """The listening line promises a working API: one GET must answer."""
        try:
            with urllib.request.urlopen(f"{self.url}/subjects", timeout=10) as resp:
                assert resp.status == 200, f"GET /subjects answered {resp.status}"
        except (OSError, urllib.error.URLError) as e:
            raise RegistryStartError(
                f"schema registry printed it listens on {self.url} but GET /subjects failed: {e}\n"
                f"stderr:\n{self.stderr_text(current=True)}") from e

    def _kill(self):
        self.proc.kill()
        self.proc.wait(KILL_TIMEOUT_S)
        self.proc = None

    def stop(self, timeout=STOP_TIMEOUT_S, check=True):
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
                f"schema registry did not exit within {timeout}s of SIGTERM (killed it)\n"
                f"stderr tail:\n{self.stderr_tail()}")
        self.proc = None
        if check and code != 0:
            raise AssertionError(
                f"schema registry exited with code {code} after SIGTERM, expected a clean exit (0)\n"
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
