"""The soak's faults: the chaos loop (Runtime faults and restarts under load), the frozen Runtime
(SIGSTOP past the stale promise, then SIGCONT) and the rolling restart of the API replicas.

The last two are watched by subscribers on every transport (`tests.support.subscribers`), each a
client that follows one execution to its end, resubscribing on the other replica when its own
says it is restarting (or goes away), as a client behind a load balancer would.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from tests.support.processes import ApiProcess
from tests.support.subscribers import (
    TRANSPORTS,
    Ended,
    Error,
    HandshakeRefused,
    Status,
    follow,
)

from soak_cluster import CALM
from soak_load import Accepted, Load

CHAOS: list[tuple[str, dict[str, float]]] = [
    ("status 5xx 40%", {"status_error_rate": 0.4}),
    ("latency 0.8s", {"latency": 0.8}),
    ("dropped connections 15%", {"drop_rate": 0.15}),
    ("5xx on every call 30%", {"error_rate": 0.3}),
    ("answers lost after handling 40%", {"drop_after_handling_rate": 0.4}),
    ("latency past the timeout", {"latency": 2.5}),
]


async def chaos(load: Load, period: float, names: list[str]) -> None:
    """Cycle the Runtime through faults, flapping and restarts until the load stops; the
    Runtime's counters are banked on `load.banked` before each restart (they die with it)."""
    runtime = load.cluster.runtime
    step = 0
    while not load.stop.is_set():
        await load.sleep(period)
        step += 1
        if step % 4 == 0:
            names.append("restart")
            # Every call refused (before it is handled) while the counters are read.
            runtime.set_faults(error_rate=1.0)
            load.banked.append(runtime.stats())
            await asyncio.to_thread(runtime.stop)
            await load.sleep(2)
            await asyncio.to_thread(runtime.start)
            runtime.set_faults(phase_delay=0.3)
        elif step % 4 == 2:
            names.append("flapping")
            for _ in range(5):
                runtime.set_faults(error_rate=1.0, status_error_rate=1.0)
                await load.sleep(0.6)
                runtime.set_faults(**CALM)
                await load.sleep(0.6)
        else:
            name, faults = CHAOS[(step // 2) % len(CHAOS)]
            names.append(name)
            runtime.set_faults(**faults)
            await load.sleep(period)
        runtime.set_faults(**CALM)


@dataclass
class Watcher:
    """One client following one execution over one transport, from `api` on."""

    transport: str
    accepted: Accepted
    api: ApiProcess
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    statuses: list[Status] = field(default_factory=list)
    first_stale_at: float | None = None
    terminals: list[str] = field(default_factory=list)
    stale_terminal: bool = False
    restarts: int = 0  # ended by the server saying it restarts
    lost: list[str] = field(default_factory=list)  # ended any other way before the end
    server_errors: list[str] = field(default_factory=list)
    done: bool = False

    @property
    def name(self) -> str:
        return f"{self.transport} on :{self.api.port} for {self.accepted.execution_id}"


async def watch(load: Load, watcher: Watcher, until: float) -> None:
    """Follow `watcher`'s execution to its end, resubscribing on the other replica when the
    stream ends early; gives up at `until` (loop time)."""
    loop = asyncio.get_running_loop()
    cluster = load.cluster
    token = load.token(watcher.accepted.owner)
    while loop.time() < until:
        api = watcher.api
        try:
            async for event in follow(
                api.url, token, watcher.transport, watcher.accepted.execution_id
            ):
                if isinstance(event, Status):
                    watcher.opened.set()
                    watcher.statuses.append(event)
                    if event.stale and watcher.first_stale_at is None:
                        watcher.first_stale_at = loop.time()
                    if event.terminal:
                        watcher.terminals.append(event.state)
                        watcher.stale_terminal |= event.stale
                elif isinstance(event, Ended) and event.restart:
                    watcher.restarts += 1
                elif isinstance(event, Ended):
                    watcher.lost.append(f"{watcher.name}: {event.how}")
                elif isinstance(event, Error):
                    watcher.lost.append(f"{watcher.name}: error {event.code}")
            if watcher.terminals:
                watcher.done = True
                return
        except HandshakeRefused as exc:
            if exc.status >= 500:
                watcher.server_errors.append(f"{watcher.name}: HTTP {exc.status}")
        except OSError:
            pass  # the replica is away: the other one answers
        # Away, restarting, or ended early: resubscribe, on the other replica.
        watcher.api = cluster.other(api) if cluster.other(api).pid is not None else api
        await asyncio.sleep(0.2)


@dataclass
class WatchedPhase:
    """What the watchers of a phase saw."""

    watchers: list[Watcher]

    def never_done(self) -> list[str]:
        return [w.name for w in self.watchers if not w.done]

    def duplicate_terminals(self) -> list[str]:
        return [w.name for w in self.watchers if len(w.terminals) > 1]

    def wrong_final(self, final: dict[str, str]) -> list[str]:
        """Watchers whose terminal status is not the execution's true one (or was stale)."""
        wrong = []
        for w in self.watchers:
            truth = final.get(w.accepted.execution_id)
            if w.terminals and (w.terminals[-1] != truth or w.stale_terminal):
                wrong.append(f"{w.name}: saw {w.terminals[-1]}, truly {truth}")
        return wrong

    def lost(self) -> list[str]:
        return [line for w in self.watchers for line in w.lost]

    def server_errors(self) -> list[str]:
        return [line for w in self.watchers for line in w.server_errors]


async def submit_watched(
    load: Load, executions: int, within: float
) -> tuple[list[Watcher], list[asyncio.Task[None]]]:
    """Submit `executions` uploads and follow each on every transport from every replica;
    return once every watcher has its first status (or `within` seconds passed)."""
    loop = asyncio.get_running_loop()
    accepted = [
        a for a in await asyncio.gather(*(load.mutate("upload") for _ in range(executions))) if a
    ]
    watchers = [
        Watcher(transport, execution, api)
        for execution in accepted
        for transport in TRANSPORTS
        for api in load.cluster.up()
    ]
    until = loop.time() + 180
    tasks = [asyncio.create_task(watch(load, w, until)) for w in watchers]
    opened = asyncio.gather(*(w.opened.wait() for w in watchers))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(opened, within)
    return watchers, tasks


@dataclass
class Frozen:
    """The frozen-Runtime phase: stale latencies from the freeze, per watcher."""

    phase: WatchedPhase
    frozen_seconds: float
    latencies: list[float]
    never_stale: list[str]
    already_over: int  # executions that ended before the freeze (not counted)


async def frozen_runtime(load: Load, executions: int, freeze_seconds: float) -> Frozen:
    """SIGSTOP the Runtime for `freeze_seconds` (longer than the stale promise) while watchers
    on every transport follow running executions, then SIGCONT and let them finish."""
    loop = asyncio.get_running_loop()
    cluster = load.cluster
    # Slow phases: the executions are still running when the Runtime freezes, and after.
    cluster.runtime.set_faults(**CALM, phase_delay=2.0)
    watchers, tasks = await submit_watched(load, executions, within=20)
    running = [w for w in watchers if w.statuses and not w.statuses[-1].terminal]
    frozen_at = loop.time()
    cluster.freeze()
    await asyncio.sleep(freeze_seconds)
    cluster.thaw()
    frozen_for = loop.time() - frozen_at
    await asyncio.wait(tasks, timeout=120)
    cluster.runtime.set_faults(**CALM, phase_delay=0.3)
    latencies = sorted(
        w.first_stale_at - frozen_at for w in running if w.first_stale_at is not None
    )
    never = [w.name for w in running if w.first_stale_at is None]
    return Frozen(
        WatchedPhase(watchers), frozen_for, latencies, never, len(watchers) - len(running)
    )


@dataclass
class Rolling:
    """The rolling restart: each replica's time away, and what the watchers saw."""

    phase: WatchedPhase
    away_seconds: list[float]
    restarted_watchers: int  # watchers told to reconnect (at least once)


async def rolling_restart(load: Load, executions_per_wave: int) -> Rolling:
    """Restart one replica, then the other (SIGTERM: each drains), with users submitting and
    watchers following on both; watchers on the replica going away resubscribe on the other."""
    cluster = load.cluster
    # Executions long enough to span a restart: 3 phases of 4 s.
    cluster.runtime.set_faults(**CALM, phase_delay=4.0)
    load.failover = True
    watchers: list[Watcher] = []
    tasks: list[asyncio.Task[None]] = []
    away = []
    for api in cluster.apis:
        wave, wave_tasks = await submit_watched(load, executions_per_wave, within=20)
        watchers += wave
        tasks += wave_tasks
        away.append(await cluster.restart_api(api))
    await asyncio.wait(tasks, timeout=120)
    load.failover = False
    cluster.runtime.set_faults(**CALM, phase_delay=0.3)
    return Rolling(WatchedPhase(watchers), away, sum(1 for w in watchers if w.restarts))
