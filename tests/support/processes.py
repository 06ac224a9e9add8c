"""Real processes for integration and end-to-end tests.

The reference Runtime and the Experience Plane API are started as separate OS processes on free
loopback ports, exactly as a person would run them, and are talked to over real HTTP.
"""

from __future__ import annotations

import abc
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from experience_plane.auth import mint_token

STARTUP_TIMEOUT = 30.0
# Every live control of the reference Runtime at its resting value.
NO_FAULTS: dict[str, float] = {
    "latency": 0.0,
    "status_error_rate": 0.0,
    "drop_rate": 0.0,
    "phase_delay": 0.0,
    "error_rate": 0.0,
    "drop_after_handling_rate": 0.0,
    "step_delay": 0.0,
}
# Set to a file path, every start and stop of a test process is appended to it with the test that
# caused it and how long it took: `EXPERIENCE_TEST_PROCESS_LOG=/tmp/starts.log pytest ...`.
PROCESS_LOG_ENV = "EXPERIENCE_TEST_PROCESS_LOG"


def _log_process_event(event: str, name: str, seconds: float) -> None:
    path = os.environ.get(PROCESS_LOG_ENV)
    if not path:
        return
    test = os.environ.get("PYTEST_CURRENT_TEST", "-")
    with open(path, "a") as log:
        log.write(f"{event}\t{name}\t{seconds:.3f}\t{test}\n")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServiceProcess(abc.ABC):
    """A service started as a child process, with its output kept in a log file."""

    name = "service"
    health_path = "/health"

    def __init__(self, log_dir: Path, env: Mapping[str, str] | None = None) -> None:
        self.port = free_port()
        self.env = dict(env or {})
        self.log_dir = log_dir
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._proc: subprocess.Popen[bytes] | None = None
        self._starts = 0
        self._launched_at = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @abc.abstractmethod
    def command(self) -> list[str]:
        """The command line that starts this service."""

    def log_text(self) -> str:
        return "".join(
            path.read_text(errors="replace") for path in sorted(self.log_dir.glob("*.log"))
        )

    def start(self) -> None:
        self.launch()
        self.wait_healthy()

    def launch(self) -> None:
        """Start the process without waiting for it to answer (`wait_healthy` does)."""
        self._launched_at = time.monotonic()
        self._starts += 1
        log = (self.log_dir / f"{self.name}-{self._starts}.log").open("wb")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        self._proc = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        log.close()

    def wait_healthy(self, timeout: float = STARTUP_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self._proc.returncode}:\n{self.log_text()}"
                )
            try:
                if httpx.get(self.url + self.health_path, timeout=1.0).status_code == 200:
                    _log_process_event("start", self.name, time.monotonic() - self._launched_at)
                    return
            except httpx.HTTPError:
                pass
            # Short: a process is polled once per start, and most are up within a second.
            time.sleep(0.02)
        self._terminate()
        raise RuntimeError(f"{self.name} did not become healthy in {timeout}s:\n{self.log_text()}")

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 10.0) -> int | None:
        """Send `sig` and wait up to `timeout` for the exit (then SIGKILL); the exit code."""
        return self._terminate(sig, timeout)

    def _terminate(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 10.0) -> int | None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc else None
        stopping = time.monotonic()
        proc.send_signal(sig)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait(timeout)
        finally:
            _log_process_event("stop", self.name, time.monotonic() - stopping)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._terminate()


class RuntimeProcess(ServiceProcess):
    """The reference Runtime, its test controls enabled.

    `require_session=False` (the default here) lets tests submit with session ids they never
    created, as the Runtime's own tests do; the Experience Plane's end-to-end tests pass True,
    the Runtime's own default in async mode, so that a lost session is noticed.
    """

    name = "reference-runtime"

    def __init__(
        self,
        data_dir: Path,
        *,
        mode: str = "async",
        env: Mapping[str, str] | None = None,
        require_session: bool = False,
    ) -> None:
        super().__init__(data_dir.parent / f"{data_dir.name}-logs", env)
        self.data_dir = data_dir
        self.mode = mode
        self.env.setdefault("REFERENCE_RUNTIME_CONTROL_ENABLED", "true")
        self.env.setdefault("REFERENCE_RUNTIME_REQUIRE_SESSION", str(require_session).lower())

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "reference_runtime",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--data-dir", str(self.data_dir), "--mode", self.mode,
        ]  # fmt: skip

    def stats(self) -> dict[str, dict[str, int]]:
        """The Runtime's own request counters (its test controls)."""
        data: dict[str, dict[str, int]] = httpx.get(self.url + "/_control/stats").json()
        return data

    def recent_headers(self) -> list[dict[str, str | None]]:
        """The route, `traceparent` and `x-request-id` of the Runtime's latest requests."""
        data: list[dict[str, str | None]] = httpx.get(self.url + "/_control/headers").json()
        return data

    def reset_stats(self) -> None:
        httpx.post(self.url + "/_control/stats/reset").raise_for_status()

    def set_faults(self, **faults: float) -> None:
        httpx.post(self.url + "/_control/faults", json=faults).raise_for_status()


class SharedProcessError(Exception):
    """A test tried to stop, kill or restart a process other tests share."""


class SharedRuntimeProcess(RuntimeProcess):
    """A Runtime that many tests use in turn, each under tenants and keys of its own.

    Before each test its faults go back to `defaults` and its counters to zero, so a test sees
    what a fresh process would show it, bar other tests' executions. Stopping, killing or
    restarting it would break the tests after, so those raise; a test that needs them is marked
    `@pytest.mark.own_runtime` and gets a process of its own.
    """

    def __init__(self, data_dir: Path, *, defaults: Mapping[str, float], **options: Any) -> None:
        super().__init__(data_dir, **options)
        self.defaults = {**NO_FAULTS, **defaults}

    def reset(self) -> None:
        """Faults back to the defaults, counters to zero."""
        if self._proc is None or self._proc.poll() is not None:
            # Said once here, rather than as a connection error in every test after.
            raise RuntimeError(f"the shared {self.name} is not running:\n{self.log_text()}")
        self.set_faults(**self.defaults)
        self.reset_stats()

    def _refuse(self, action: str) -> SharedProcessError:
        return SharedProcessError(
            f"{action} of a Runtime that other tests share: mark the test "
            "@pytest.mark.own_runtime to give it a process of its own"
        )

    def start(self) -> None:
        if self.pid is not None:
            raise self._refuse("start")
        super().start()

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 10.0) -> int | None:
        raise self._refuse("stop")

    def restart(self) -> None:
        raise self._refuse("restart")


class ApiProcess(ServiceProcess):
    """The Experience Plane API (`experience-plane serve`) pointed at a Runtime.

    `auth=True` is the product's real path: production environment, a random HS256 secret;
    `token()` / `headers()` mint credentials it accepts. `auth=False` starts it with
    `--insecure-dev` in the development environment: every caller is the dev principal.
    """

    name = "experience-plane"
    health_path = "/healthz"

    def __init__(
        self,
        runtime_url: str,
        log_dir: Path,
        *,
        flavour: str = "reference",
        env: Mapping[str, str] | None = None,
        auth: bool = False,
    ) -> None:
        super().__init__(log_dir, env)
        self.auth = auth
        self.env.setdefault("EXPERIENCE_RUNTIME_URL", runtime_url)
        # Its execution index of its own, kept across its restarts.
        self.env.setdefault("EXPERIENCE_DATA_DIR", str(log_dir / f"{self.name}-data"))
        self.env.setdefault("EXPERIENCE_RUNTIME_FLAVOUR", flavour)
        if auth:
            self.env.setdefault("EXPERIENCE_AUTH_HS256_SECRET", secrets.token_urlsafe(32))
            self.env.setdefault("EXPERIENCE_ENVIRONMENT", "production")
        else:
            self.env.setdefault("EXPERIENCE_ENVIRONMENT", "development")

    @property
    def secret(self) -> str:
        """The HS256 secret the API verifies tokens with."""
        return self.env["EXPERIENCE_AUTH_HS256_SECRET"]

    def token(self, tenant: str = "t1", user: str = "u1", **overrides: Any) -> str:
        """A token the API accepts (`mint_token` keyword arguments override the defaults)."""
        options: dict[str, Any] = {
            "ttl": timedelta(hours=1),
            "issuer": self.env.get("EXPERIENCE_AUTH_ISSUER"),
            "audience": self.env.get("EXPERIENCE_AUTH_AUDIENCE"),
            "tenant_claim": self.env.get("EXPERIENCE_AUTH_TENANT_CLAIM", "tenant_id"),
            **overrides,
        }
        secret = options.pop("secret", None) or self.secret
        return mint_token(secret, tenant_id=tenant, user_id=user, **options)

    def headers(self, tenant: str = "t1", user: str = "u1", **overrides: Any) -> dict[str, str]:
        """`Authorization: Bearer <token>` for `token(tenant, user, **overrides)`."""
        return {"Authorization": f"Bearer {self.token(tenant, user, **overrides)}"}

    def command(self) -> list[str]:
        command = [
            sys.executable, "-m", "experience_plane", "serve",
            "--host", "127.0.0.1", "--port", str(self.port),
        ]  # fmt: skip
        return command if self.auth else [*command, "--insecure-dev"]

    @property
    def graphql_url(self) -> str:
        return self.url + "/graphql"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"


@contextmanager
def started_together(*processes: ServiceProcess) -> Iterator[None]:
    """Start `processes` at once and wait for each to be healthy; stop them all on exit.

    Each is a second or two of interpreter start-up, so starting them side by side rather than
    one after another shortens every fixture that needs a Runtime and an API. The API does not
    need its Runtime to be up to start (its `/healthz` is liveness only).
    """
    try:
        for process in processes:
            process.launch()
        for process in processes:
            process.wait_healthy()
        yield
    finally:
        stop_together(*processes)


def stop_together(*processes: ServiceProcess) -> None:
    """SIGTERM every process first, then wait for each, so their shutdowns overlap."""
    with ThreadPoolExecutor(max_workers=max(len(processes), 1)) as pool:
        for future in [pool.submit(process._terminate) for process in processes]:
            future.result()
