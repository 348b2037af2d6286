"""A real ``redis-server`` child process for integration tests.

Reusable beyond the session fixture: tests that kill -9 and restart Redis (durability), or that
build a Redis Cluster from several processes, drive RedisProcess directly.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path


class RedisNotInstalled(RuntimeError):
    """No redis-server on PATH: deploy/install-redis.sh installs it."""


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found is None:
        raise RedisNotInstalled("redis-server is not on PATH; run deploy/install-redis.sh")
    return found


def free_port() -> int:
    """A port the OS just handed out; the tiny race before redis binds it is acceptable in tests."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers_ping(port: int) -> bool:
    """Raw RESP PING, so readiness does not depend on the client library under test."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64).startswith(b"+PONG")  # "-LOADING" while replaying the AOF
    except OSError:
        return False


class RedisProcess:
    """One redis-server on 127.0.0.1, its data in ``dir``; the port survives restarts."""

    def __init__(
        self,
        dir: Path,
        *,
        port: int | None = None,
        appendonly: bool = False,
        appendfsync: str = "always",
        cluster: bool = False,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.dir = Path(dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.appendonly = appendonly
        self.appendfsync = appendfsync
        self.cluster = cluster
        self.extra_args = extra_args
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.dir / "redis.log"

    def command(self) -> list[str]:
        args = [
            redis_server_binary(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.dir),
            "--save",
            "",
            "--daemonize",
            "no",
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--appendfsync",
            self.appendfsync,
            "--logfile",
            str(self.log_path),
        ]
        if self.cluster:
            args += ["--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{self.port}.conf"]
        return [*args, *self.extra_args]

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 10.0) -> RedisProcess:
        if self.running:
            return self
        self._proc = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while not _answers_ping(self.port):
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode() if self._proc.stderr else ""
                log = self.log_path.read_text() if self.log_path.exists() else ""
                raise RuntimeError(f"redis-server exited with {self._proc.returncode}: {err}{log[-2000:]}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"redis-server on port {self.port} did not answer PING in {timeout}s")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful: SIGTERM, then SIGKILL if it does not exit in time."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._close()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Sends ``sig`` (kill -9 by default: no shutdown, no final fsync) and reaps the process.

        SIGSTOP / SIGCONT freeze and thaw it instead (a hung server, for timeout tests)."""
        if self._proc is None:
            return
        if sig in (signal.SIGSTOP, signal.SIGCONT):
            self._proc.send_signal(sig)
            return
        if self._proc.poll() is None:
            self._proc.send_signal(sig)
            self._proc.wait()
        self._close()

    def restart(self, timeout: float = 10.0) -> RedisProcess:
        """Stops if running, then starts on the same port and data folder (AOF is replayed)."""
        self.stop()
        return self.start(timeout)

    def _close(self) -> None:
        if self._proc is not None and self._proc.stderr is not None:
            self._proc.stderr.close()
        self._proc = None

    def __enter__(self) -> RedisProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
