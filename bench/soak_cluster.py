"""The processes the soak runs against: the reference Runtime, a `redis-server` of its own and
two API replicas sharing it, all real processes on loopback; and what the soak reads off them
(which replicas are up, their memory)."""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import signal
from pathlib import Path
from types import TracebackType
from typing import Self

from tests.support.processes import ApiProcess, RuntimeProcess, stop_together
from tests.support.redis import RedisServer

# The stale promise the soak holds the service to (`subscription_stale_after_seconds`): above the
# Runtime's keep-alive interval on its stream (a silent stream is a broken one), well below the
# time the Runtime is frozen for.
STALE_PROMISE = 3.0
RUNTIME_PING_SECONDS = 1.0
API_ENV = {
    "EXPERIENCE_RUNTIME_TIMEOUT": "2",
    "EXPERIENCE_TUNING__RUNTIME_STATUS_RETRIES": "2",
    "EXPERIENCE_TUNING__SUBSCRIPTION_STALE_AFTER_SECONDS": str(STALE_PROMISE),
    "EXPERIENCE_TUNING__RUNTIME_BREAKER_RESET_SECONDS": "1",
    "EXPERIENCE_TUNING__RUNTIME_BREAKER_MAX_RESET_SECONDS": "4",
    "EXPERIENCE_TUNING__POLL_INTERVAL_MAX": "1",
    "EXPERIENCE_TUNING__REDIS_LEASE_SECONDS": "2",
    "EXPERIENCE_TUNING__REDIS_TIMEOUT_SECONDS": "0.5",
    "EXPERIENCE_RATE_LIMIT_PER_SECOND": "0",
    "EXPERIENCE_MAX_SUBSCRIPTIONS_PER_CONNECTION": "20",
    # The soak's subscribers are many per tenant by design; the ceiling is tested elsewhere.
    "EXPERIENCE_MAX_STREAMS_PER_TENANT": "2000",
}
RUNTIME_ENV = {"REFERENCE_RUNTIME_STREAM_PING_INTERVAL": str(RUNTIME_PING_SECONDS)}
CALM = {
    "latency": 0.0,
    "status_error_rate": 0.0,
    "drop_rate": 0.0,
    "error_rate": 0.0,
    "drop_after_handling_rate": 0.0,
}
REPLICAS = 2


class Cluster:
    """The Runtime, Redis and `REPLICAS` API replicas, started together and stopped on exit."""

    def __init__(self, root: Path) -> None:
        self.runtime = RuntimeProcess(root / "runtime", require_session=True, env=RUNTIME_ENV)
        self.redis = RedisServer(root / "redis")
        env = {
            **API_ENV,
            "EXPERIENCE_AUTH_HS256_SECRET": secrets.token_urlsafe(32),
            "EXPERIENCE_REDIS_URL": self.redis.url,
        }
        self.apis = [
            ApiProcess(self.runtime.url, root / f"api-{n}", auth=True, env=env)
            for n in range(REPLICAS)
        ]
        self.random = random.Random(11)  # noqa: S311 - load spreading, not cryptography

    def __enter__(self) -> Self:
        self.redis.start()
        try:
            # Launched side by side, then waited for: each is a second or two of start-up.
            for process in (self.runtime, *self.apis):
                process.launch()
            for process in (self.runtime, *self.apis):
                process.wait_healthy()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.thaw()
        stop_together(self.runtime, *self.apis)
        self.redis.stop()

    def up(self) -> list[ApiProcess]:
        """The replicas running now."""
        return [api for api in self.apis if api.pid is not None]

    def pick(self) -> ApiProcess:
        """A running replica, as a load balancer would pick one."""
        return self.random.choice(self.up() or self.apis)

    def other(self, api: ApiProcess) -> ApiProcess:
        """The replica a client moves to when `api` goes away."""
        return self.apis[(self.apis.index(api) + 1) % len(self.apis)]

    def freeze(self) -> None:
        """SIGSTOP the Runtime: it hangs, connections are accepted and never answered."""
        if self.runtime.pid is not None:
            os.kill(self.runtime.pid, signal.SIGSTOP)
            self._frozen = True

    def thaw(self) -> None:
        """SIGCONT the Runtime (if frozen)."""
        if getattr(self, "_frozen", False) and self.runtime.pid is not None:
            os.kill(self.runtime.pid, signal.SIGCONT)
        self._frozen = False

    async def restart_api(self, api: ApiProcess) -> float:
        """SIGTERM `api` (it drains), start it again; the seconds it was away."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.to_thread(api.stop)
        await asyncio.to_thread(api.start)
        return loop.time() - started

    def log_text(self) -> str:
        return "".join(api.log_text() for api in self.apis)


def rss_mib(pid: int) -> float:
    """A process's resident memory, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")
