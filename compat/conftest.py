"""Fixtures that run the real `sluice` broker binary for the compat tests.

Each test gets its own broker process on an ephemeral port with a private data
directory. Every wait is a poll against a deadline; nothing sleeps to
synchronise.
"""

import ctypes
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
LISTENING_RE = re.compile(r"^sluice broker listening on (\S+):(\d+)\s*$")
ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
KILL_TIMEOUT_S = 10.0
POLL_INTERVAL_S = 0.02


def _die_with_parent():
    """Runs in the child before exec: SIGKILL the broker if pytest dies first,
    so an interrupted run never leaves brokers behind."""
    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


def sluice_binary():
    path = Path(os.environ.get("SLUICE_BIN", REPO_ROOT / "target" / "debug" / "sluice"))
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(
            f"sluice binary not found at {path}: run `cargo build --workspace` "
            "(or scripts/test), or point SLUICE_BIN at a built binary",
            pytrace=False,
        )
    return path


class BrokerStartError(AssertionError):
    pass


class Broker:
    """One broker (data dir + address) across restarts of its process."""

    def __init__(self, binary, data_dir, log_dir, env=None, config_file=None, args=None):
        self.binary = Path(binary)
        self.data_dir = Path(data_dir)
        self.log_dir = Path(log_dir)
        self.config_file = config_file
        self.extra_env = dict(env or {})
        # Extra command-line flags; a callable is called with the broker to build them at each start
        # (e.g. an --advertised-listener that points at a proxy started after the broker).
        self.extra_args = args
        self.proc = None
        self.host = None
        self.port = None
        self.starts = 0
        self.stderr_path = self.log_dir / "broker.stderr"
        self._stderr_mark = 0

    # -- lifecycle ---------------------------------------------------------

    @property
    def bootstrap(self):
        assert self.port is not None, "broker has not been started"
        return f"{self.host}:{self.port}"

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, port=0, timeout=START_TIMEOUT_S):
        assert not self.running, "broker is already running"
        self.starts += 1
        cmd = [str(self.binary), "broker", "--listen", f"127.0.0.1:{port}",
               "--data-dir", str(self.data_dir)]
        if self.config_file is not None:
            cmd += ["--config", str(self.config_file)]
        if self.extra_args is not None:
            cmd += [str(a) for a in (self.extra_args(self) if callable(self.extra_args) else self.extra_args)]
        # Broker settings come only from the test: drop any SLUICE_* settings of
        # the calling shell (SLUICE_LOG, the log filter, is kept for debugging).
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("SLUICE_") or k == "SLUICE_LOG"}
        env.setdefault("RUST_BACKTRACE", "1")
        env["NO_COLOR"] = "1"
        env.update(self.extra_env)

        stdout_path = self.log_dir / f"broker-{self.starts}.stdout"
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
                    self.host, self.port = m.group(1), int(m.group(2))
                    self._check_accepts_connections()
                    return self
            code = self.proc.poll()
            if code is not None:
                self.proc = None
                raise BrokerStartError(
                    f"broker exited with code {code} before printing its listening line "
                    f"(cmd: {' '.join(cmd)})\nstdout:\n{text}\nstderr:\n{self.stderr_text(current=True)}")
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait(KILL_TIMEOUT_S)
                self.proc = None
                raise BrokerStartError(
                    f"broker did not print 'sluice broker listening on HOST:PORT' within "
                    f"{timeout}s (cmd: {' '.join(cmd)})\nstdout:\n{text}\n"
                    f"stderr:\n{self.stderr_text(current=True)}")
            time.sleep(POLL_INTERVAL_S)

    def _check_accepts_connections(self):
        try:
            socket.create_connection((self.host, self.port), timeout=5).close()
        except OSError as e:
            raise BrokerStartError(
                f"broker printed it listens on {self.bootstrap} but a TCP connect failed: {e}\n"
                f"stderr:\n{self.stderr_text(current=True)}") from e

    def restart(self, timeout=START_TIMEOUT_S):
        """Stops the broker if it runs, then starts it on the same data dir,
        asking for the same port and falling back to a fresh one."""
        if self.running:
            self.stop()
        old_port = self.port
        if old_port:
            try:
                return self.start(port=old_port, timeout=timeout)
            except BrokerStartError as first:
                if self.port_in_use(old_port):
                    pass  # Someone else took the port: a fresh one will do.
                else:
                    raise first
        return self.start(port=0, timeout=timeout)

    @staticmethod
    def port_in_use(port):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return True
        return False

    def kill9(self):
        """SIGKILL: the crash case. Waits until the process is gone."""
        assert self.running, "kill9: broker is not running"
        self.proc.kill()
        self.proc.wait(KILL_TIMEOUT_S)
        self.proc = None

    def stop(self, timeout=STOP_TIMEOUT_S, check=True):
        """SIGTERM and a bounded wait; with check, a clean exit (code 0) is required."""
        if self.proc is None:
            return None
        proc = self.proc
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(KILL_TIMEOUT_S)
            self.proc = None
            raise AssertionError(
                f"broker did not exit within {timeout}s of SIGTERM (killed it)\n"
                f"stderr tail:\n{self.stderr_tail()}")
        self.proc = None
        if check and code != 0:
            raise AssertionError(
                f"broker exited with code {code} after SIGTERM, expected a clean exit (0)\n"
                f"stderr tail:\n{self.stderr_tail()}")
        return code

    # -- logs --------------------------------------------------------------

    def stderr_text(self, current=False):
        """All stderr so far (every start), or only the current/last start's."""
        try:
            data = self.stderr_path.read_bytes()
        except FileNotFoundError:
            return ""
        if current:
            data = data[self._stderr_mark:]
        return ANSI_RE.sub("", data.decode("utf-8", errors="replace"))

    def stderr_tail(self, lines=60):
        return "\n".join(self.stderr_text().splitlines()[-lines:])


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Lets fixtures see whether the test body failed (for log dumping).
    rep = yield
    setattr(item, "rep_" + rep.when, rep)
    return rep


@pytest.fixture
def broker_factory(request, tmp_path):
    """Starts brokers: `broker_factory(env={...}, config="toml text", args=[...])`.
    Stops each at teardown and requires it to exit cleanly."""
    brokers = []

    def make(env=None, config=None, start=True, args=None):
        n = len(brokers)
        data_dir = tmp_path / f"data-{n}"
        log_dir = tmp_path / f"logs-{n}"
        data_dir.mkdir()
        log_dir.mkdir()
        config_file = None
        if config is not None:
            config_file = tmp_path / f"sluice-{n}.toml"
            config_file.write_text(config)
        b = Broker(sluice_binary(), data_dir, log_dir, env=env, config_file=config_file, args=args)
        brokers.append(b)
        if start:
            b.start()
        return b

    yield make

    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    errors = []
    for b in brokers:
        if failed:
            print(f"\n===== broker stderr ({b.stderr_path}) =====\n{b.stderr_tail(200)}")
        try:
            b.stop()
        except AssertionError as e:
            errors.append(str(e))
    if errors and not failed:
        pytest.fail("broker shutdown at teardown was not clean:\n" + "\n".join(errors), pytrace=False)


@pytest.fixture
def broker(broker_factory):
    """A running broker with default settings."""
    return broker_factory()


# Settings for tests of consumer groups and transactions: no initial rebalance delay, session timeouts
# short enough that a dead member is noticed within a test, and small internal topics so startup is quick.
GROUP_ENV = {
    "SLUICE_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
    "SLUICE_GROUP_MIN_SESSION_TIMEOUT_MS": "1000",
    "SLUICE_OFFSETS_TOPIC_NUM_PARTITIONS": "3",
    "SLUICE_TRANSACTION_STATE_NUM_PARTITIONS": "3",
    "SLUICE_TRANSACTION_ABORT_CHECK_INTERVAL_MS": "1000",
}


@pytest.fixture
def group_broker(broker_factory):
    """A running broker with GROUP_ENV: quick rebalances and short session timeouts."""
    return broker_factory(env=GROUP_ENV)


@pytest.fixture
def schema_registry_factory(request, group_broker, tmp_path):
    """Starts `sluice schema-registry` processes against `group_broker` (quick group
    rebalances, so the writer election settles fast): `schema_registry_factory(args=[...])`.
    Stops each at teardown, before the broker, and requires it to exit cleanly."""
    from registry import SchemaRegistry  # Here, not at the top: registry.py imports this module.

    registries = []

    def make(args=None, start=True):
        log_dir = tmp_path / f"registry-logs-{len(registries)}"
        log_dir.mkdir()
        r = SchemaRegistry(sluice_binary(), group_broker.bootstrap, log_dir, args=args)
        registries.append(r)
        if start:
            r.start()
        return r

    yield make

    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    errors = []
    for r in registries:
        if failed:
            print(f"\n===== schema registry stderr ({r.stderr_path}) =====\n{r.stderr_tail(200)}")
        try:
            r.stop()
        except AssertionError as e:
            errors.append(str(e))
    if errors and not failed:
        pytest.fail("schema registry shutdown at teardown was not clean:\n" + "\n".join(errors), pytrace=False)


@pytest.fixture
def schema_registry(schema_registry_factory):
    """A running `sluice schema-registry` against a running broker."""
    return schema_registry_factory()


@pytest.fixture
def connect_worker_factory(request, group_broker, tmp_path):
    """Starts `sluice connect standalone` workers against `group_broker` (quick group rebalances, as sink
    tasks read through consumer groups): `connect_worker_factory(worker={...}, connectors=[{...}, ...])`.
    `worker` adds to (or overrides) the worker settings written to worker.properties; each dict in
    `connectors` becomes a connector .properties file given on the command line. Stops each worker at
    teardown, before the broker, and requires it to exit cleanly."""
    from connect_worker import ConnectWorker, write_properties  # connect_worker.py imports this module.

    workers = []

    def make(worker=None, connectors=(), start=True, args=None):
        n = len(workers)
        work_dir = tmp_path / f"connect-{n}"
        work_dir.mkdir()
        settings = {
            "bootstrap.servers": group_broker.bootstrap,
            "offset.storage.file.filename": work_dir / "connect.offsets",
            # Sinks write their files and sources commit at each flush: a short interval keeps tests quick.
            "offset.flush.interval.ms": "500",
        }
        settings.update(worker or {})
        worker_file = write_properties(work_dir / "worker.properties", settings)
        connector_files = [write_properties(work_dir / f"connector-{i}.properties", c)
                           for i, c in enumerate(connectors)]
        w = ConnectWorker(sluice_binary(), worker_file, work_dir, connector_files, args=args)
        workers.append(w)
        if start:
            w.start()
        return w

    yield make

    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    errors = []
    for w in workers:
        if failed:
            print(f"\n===== connect worker stderr ({w.stderr_path}) =====\n{w.stderr_tail(200)}")
        try:
            w.stop()
        except AssertionError as e:
            errors.append(str(e))
    if errors and not failed:
        pytest.fail("connect worker shutdown at teardown was not clean:\n" + "\n".join(errors), pytrace=False)


@pytest.fixture
def distributed_connect_factory(request, group_broker, tmp_path):
    """Starts `sluice connect distributed` workers against `group_broker` (quick group rebalances, short
    session timeouts): `distributed_connect_factory(worker={...})`. Every worker shares one `group.id` and one
    set of storage topics unless `worker` overrides them. Stops each still-running worker at teardown (a
    SIGKILLed one is skipped), before the broker, and requires it to exit cleanly."""
    from connect_worker import ConnectWorker, write_properties  # connect_worker.py imports this module.

    workers = []
    group = f"connect-cluster-{os.getpid()}-{id(workers):x}"

    def make(worker=None, start=True, args=None):
        n = len(workers)
        work_dir = tmp_path / f"connect-distributed-{n}"
        work_dir.mkdir()
        settings = {
            "bootstrap.servers": group_broker.bootstrap,
            "group.id": group,
            "config.storage.topic": f"{group}-configs",
            "offset.storage.topic": f"{group}-offsets",
            "status.storage.topic": f"{group}-status",
            "offset.storage.partitions": "5",
            "status.storage.partitions": "3",
            "offset.flush.interval.ms": "500",
        }
        settings.update(worker or {})
        worker_file = write_properties(work_dir / "worker.properties", settings)
        w = ConnectWorker(sluice_binary(), worker_file, work_dir, args=args, mode="distributed")
        workers.append(w)
        if start:
            w.start()
        return w

    yield make

    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    errors = []
    for n, w in enumerate(workers):
        if failed:
            print(f"\n===== distributed connect worker {n} stderr ({w.stderr_path}) =====\n{w.stderr_tail(200)}")
        try:
            w.stop()
        except AssertionError as e:
            errors.append(f"worker {n}: {e}")
    if errors and not failed:
        pytest.fail("distributed connect worker shutdown at teardown was not clean:\n" + "\n".join(errors),
                    pytrace=False)
