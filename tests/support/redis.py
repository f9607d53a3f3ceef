"""Run Debian's ``redis-server`` on loopback for tests, as a server or as a Sentinel.

Nothing is persisted (``--save "" --appendonly no``), so a server stopped and started again on
the same port comes back empty, like a Redis restarted without persistence.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.prometheus import free_port, wait_until

INSTALL_HINT = "install Debian's package (apt-get install -y redis-server), run `make system-deps` or run .ci/run"


def redis_binary() -> str:
    """Return the path of redis-server; raise RuntimeError with the install command when missing."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError(f"redis-server not found on PATH: {INSTALL_HINT}")
    return binary


def send_command(port: int, *words: str, timeout_s: float = 1.0) -> bytes:
    """Send one command in RESP to 127.0.0.1:``port`` and return the first reply read (raw bytes)."""
    request = f"*{len(words)}\r\n".encode() + b"".join(f"${len(word.encode())}\r\n{word}\r\n".encode() for word in words)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        sock.sendall(request)
        return sock.recv(65536)


@dataclass
class RedisProcess:
    """A running redis-server on 127.0.0.1, optionally with a password or in Sentinel mode."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    password: str | None = None
    sentinel_of: tuple[str, int] | None = None
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        credentials = f":{self.password}@" if self.password else ""
        return f"redis://{credentials}127.0.0.1:{self.port}/0"

    def start(self) -> "RedisProcess":
        """Start the server and wait until it replies to PING; raise TimeoutError after 15 s."""
        binary = redis_binary()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.data_dir / f"redis-{self.port}.log"
        if self.sentinel_of is not None:
            args = [binary, str(self._write_sentinel_config()), "--sentinel"]
        else:
            args = [binary, *self._server_args()]

        log = log_path.open("ab")
        try:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=self.data_dir)
        finally:
            log.close()
        wait_until(self._answers_ping, timeout_s=15, what=f"redis-server on 127.0.0.1:{self.port} (log: {log_path})")
        return self

    def stop(self) -> None:
        """Stop the server and wait until its port is closed."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        wait_until(self._port_closed, timeout_s=10, what=f"port 127.0.0.1:{self.port} to close")

    def restart(self) -> None:
        """Stop and start again on the same port, with no data kept."""
        self.stop()
        self.start()

    def _server_args(self) -> list[str]:
        args = [
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.data_dir),
            "--protected-mode", "yes",
        ]
        if self.password:
            args += ["--requirepass", self.password]
        return args

    def _write_sentinel_config(self) -> Path:
        """Write a Sentinel config; Sentinel rewrites this file, so it gets one of its own."""
        assert self.sentinel_of is not None
        master_host, master_port = self.sentinel_of
        config = self.data_dir / f"sentinel-{self.port}.conf"
        config.write_text(
            "\n".join(
                [
                    "bind 127.0.0.1",
                    f"port {self.port}",
                    f"dir {self.data_dir}",
                    f"sentinel monitor mymaster {master_host} {master_port} 1",
                    "sentinel down-after-milliseconds mymaster 5000",
                    "",
                ]
            ),
            encoding="utf-8",
        )
        return config

    def _answers_ping(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {self.process.returncode}; see {self.data_dir}")
        words = ("AUTH", self.password) if self.password else ("PING",)
        reply = send_command(self.port, *words)
        return reply.startswith((b"+PONG", b"+OK"))

    def _port_closed(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return False
        except OSError:
            return True
