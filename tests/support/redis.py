"""A real `redis-server` for tests: its own process on a free loopback port, nothing persisted.

Never the machine's Redis on 6379 and never a fake. When `redis-server` is missing it is
installed with apt-get (the CI image and this machine have it); if that is impossible the test
fails with a message saying what to install.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from tests.support.packages import system_binary
from tests.support.processes import STARTUP_TIMEOUT, free_port

__all__ = ["RedisServer", "redis_server_binary"]


def redis_server_binary() -> str:
    """The path of `redis-server`, installing it with apt-get when it is missing."""
    return system_binary("redis-server", "redis-server", "macOS: `brew install redis`")


class RedisServer:
    """`redis-server` on 127.0.0.1 and a free port, with persistence off; stop/start keep the
    port, so a test can take Redis away and bring it back."""

    def __init__(self, log_dir: Path, port: int | None = None, password: str | None = None) -> None:
        self.binary = redis_server_binary()
        self.port = port or free_port()
        self.password = password
        self.log_dir = log_dir
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._proc: subprocess.Popen[bytes] | None = None
        self._starts = 0

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return [
            self.binary,
            "--bind", "127.0.0.1", "--port", str(self.port),
            "--save", "", "--appendonly", "no",
            "--dir", str(self.log_dir),
            *(["--requirepass", self.password] if self.password else []),
        ]  # fmt: skip

    def start(self) -> None:
        self._starts += 1
        log = (self.log_dir / f"redis-{self._starts}.log").open("wb")
        self._proc = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self._proc.returncode}")
            if self.ping():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer within {STARTUP_TIMEOUT}s")

    def ping(self) -> bool:
        """Whether the server answers PING (over a raw socket: no client library needed)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as sock:
                sock.sendall(b"PING\r\n")
                # Without the password Redis answers -NOAUTH: it is up all the same.
                return sock.recv(64).startswith((b"+PONG", b"-NOAUTH"))
        except OSError:
            return False

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.kill()
        proc.wait(10)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
