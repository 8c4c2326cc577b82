"""Long-running processes the cluster test starts, and how they are stopped for sure.

Each process starts in its own session (its own process group) with stdout and stderr in
a log file. Stopping sends SIGTERM to the process, waits, then SIGKILLs its group and
every descendant found beforehand that is still alive (Airflow's task supervisor moves
each task into a process group of its own, so the group alone would miss running tasks).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psutil


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"(cannot read {path}: {exc})"
    return "\n".join(text[-lines:])


class ManagedProcess:
    """A started command with its log; `stop()` ends it and all its descendants."""

    def __init__(
        self, name: str, argv: list[str], *, log: Path, env: dict[str, str] | None = None, cwd: Path | None = None
    ):
        self.name, self.argv, self.log = name, argv, log
        with log.open("ab") as out:
            self.popen = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started = time.monotonic()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def describe_exit(self) -> str:
        code = self.popen.poll()
        return "running" if code is None else f"exited with {code}"

    def stop(self, timeout: float = 20) -> None:
        self.terminate()
        self.reap(time.monotonic() + timeout)

    def terminate(self) -> None:
        """SIGTERM to the process: its own shutdown (Celery's warm shutdown, uvicorn's).
        Its descendants are noted first, to be killed in `reap` if they outlive it."""
        try:
            self._descendants = psutil.Process(self.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            self._descendants = []
        if self.popen.poll() is None:
            self.popen.terminate()

    def reap(self, deadline: float) -> None:
        """Wait for the process until `deadline`, then SIGKILL its group and every noted
        descendant still alive."""
        try:
            self.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        _, left = psutil.wait_procs(getattr(self, "_descendants", []), timeout=3)
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for process in left:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(timeout=10)
        psutil.wait_procs(left, timeout=5)


class RedisServer:
    """Debian's `redis-server` on 127.0.0.1 and a free port, nothing persisted."""

    def __init__(self) -> None:
        self.port: int | None = None
        self.base_dir: Path | None = None
        self.process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log(self) -> Path:
        assert self.base_dir is not None
        return self.base_dir / "redis.log"

    def start(self, timeout: float = 20) -> RedisServer:
        binary = shutil.which("redis-server") or (
            "/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK) else None
        )
        if binary is None:
            raise RuntimeError(
                "redis-server not found: the cluster test needs Redis as the Celery broker (Debian/Ubuntu: apt-get install redis-server)"
            )
        self.base_dir = Path(tempfile.mkdtemp(prefix="dualengine-redis-", dir="/tmp"))
        self.port = free_port()
        argv = [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.base_dir),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
        ]
        self.process = ManagedProcess("redis", argv, log=self.log, cwd=self.base_dir)
        deadline = time.monotonic() + timeout
        while not self.ping():
            if not self.process.alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}:\n{tail(self.log)}")
            time.sleep(0.1)
        return self

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(timeout=10)
            self.process = None
        if self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None
