"""Soak: mixed load on two API replicas sharing Redis while the Runtime is faulted, restarted and
frozen and the replicas restart one after the other; nothing accepted may be lost.

Starts the reference Runtime, a `redis-server` and two API replicas as real processes on loopback
(`soak_cluster`), then runs three phases:

1. **Chaos** (`--duration` s): uploads and data mashes (each user action one idempotency key,
   retried with it until accepted), status queries and `--subscriptions` WebSocket subscriptions
   on both replicas, while a loop cycles the Runtime through injected faults (status 5xx, latency,
   dropped connections, 5xx on every call, answers lost after handling, flapping) and restarts.
   The replicas' memory is read once the load is in full swing and again after it.
2. **Frozen Runtime**: executions followed on all five transports (graphql-transport-ws,
   graphql-ws, GraphQL SSE, REST SSE and WebSocket) from both replicas; the Runtime is SIGSTOPped
   for longer than the stale promise, then SIGCONTed. Every watcher must see `stale: true` within
   the promise of the freeze, then the execution's true terminal status.
3. **Rolling restart**: each replica in turn is stopped (SIGTERM: it drains) and started again
   while users submit (failing over to the other replica, same key) and watchers on every
   transport follow executions, resubscribing on the other replica when theirs restarts.

A light load of uploads, mashes and queries runs through phases 2 and 3. Afterwards every
execution a user was ever told was accepted is followed to a terminal status, read by its owner
on both replicas. It prints the figures and exits 1 if any check fails: executions never resolved
or not visible to their owner, duplicate intents, server errors (HTTP 5xx, INTERNAL_SERVER_ERROR),
connections dropped while no replica was away, false failures, tracebacks in the API logs,
watchers that missed stale, saw it later than the promise (plus `--stale-slack` for delivery),
never reached the true terminal status, saw a terminal status twice or lost their stream without
a restart signal; and API memory that grew more than `--max-rss-growth-mb` after the chaos load.

    .venv/bin/python bench/soak.py [--duration 180] [--subscriptions 300] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from soak_cluster import CALM, STALE_PROMISE, Cluster, rss_mib
from soak_faults import Frozen, Rolling, chaos, frozen_runtime, rolling_restart
from soak_load import Figures, Load


async def chaos_phase(load: Load, args: argparse.Namespace, names: list[str]) -> dict[str, float]:
    """Phase 1; the replicas' memory: idle, under load, after (summed over the replicas)."""
    cluster = load.cluster
    pids = [api.pid for api in cluster.apis if api.pid is not None]
    rss = {"idle": sum(map(rss_mib, pids))}
    tasks = [
        *(asyncio.create_task(load.mutators("upload", 0.5)) for _ in range(4)),
        *(asyncio.create_task(load.mutators("mash", 1.5)) for _ in range(2)),
        *(asyncio.create_task(load.queriers()) for _ in range(4)),
        *(asyncio.create_task(load.subscriber(n)) for n in range(args.subscriptions)),
        asyncio.create_task(chaos(load, args.chaos_period, names)),
    ]
    # Memory once every subscription is open: what is left after the load is measured against
    # this, so that open connections are not mistaken for a leak.
    warm = min(20.0, args.duration / 3)
    await asyncio.sleep(warm)
    rss["loaded"] = sum(map(rss_mib, pids))
    await asyncio.sleep(args.duration - warm)
    await stop(load, tasks)
    if cluster.runtime.pid is None:
        cluster.runtime.start()
    cluster.runtime.set_faults(**CALM, phase_delay=0.0)
    await load.resolve_all(within=120)
    await asyncio.sleep(2)
    rss["after"] = sum(map(rss_mib, pids))
    return rss


async def stop(load: Load, tasks: list[asyncio.Task[None]]) -> None:
    load.stop.set()
    await asyncio.wait(tasks, timeout=30)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def light_load(load: Load) -> list[asyncio.Task[None]]:
    """Users going on through the fault phases."""
    load.stop = asyncio.Event()
    return [
        *(asyncio.create_task(load.mutators("upload", 1.0)) for _ in range(2)),
        asyncio.create_task(load.mutators("mash", 2.0)),
        asyncio.create_task(load.queriers()),
    ]


async def soak(args: argparse.Namespace) -> int:
    figures = Figures()
    names: list[str] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp, Cluster(Path(tmp)) as cluster:
        cluster.runtime.set_faults(phase_delay=0.3)
        load = Load(cluster, figures)
        for _ in range(3):  # warm up: sessions, pools, the code paths
            await load.mutate("upload")
        rss = await chaos_phase(load, args, names)
        background = light_load(load)
        frozen = await frozen_runtime(load, args.frozen_executions, args.freeze_seconds)
        rolling = await rolling_restart(load, args.rolling_executions)
        await stop(load, background)
        cluster.runtime.set_faults(**CALM, phase_delay=0.0)
        unresolved, invisible = await load.resolve_all(within=120)
        stats = cluster.runtime.stats()
        await load.http.aclose()
        log = cluster.log_text()
    loaded = time.monotonic() - started
    if args.keep_log:
        await asyncio.to_thread(Path(args.keep_log).write_text, log)
    outcome = (unresolved, invisible, names)
    return report(args, load, frozen, rolling, rss, stats, outcome, log, loaded)


def report(
    args: argparse.Namespace,
    load: Load,
    frozen: Frozen,
    rolling: Rolling,
    rss: dict[str, float],
    stats: dict[str, dict[str, int]],
    outcome: tuple[list[str], list[str], list[str]],
    log: str,
    loaded: float,
) -> int:
    figures = load.figures
    unresolved, invisible, names = outcome
    every = [*load.banked, stats]

    def total(counter: str) -> int:
        return sum(sum(part[counter].values()) for part in every)

    created = total("executions_created")
    distinct = len({a.execution_id for a in figures.accepted.values()})
    duplicates = max(0, created - distinct - figures.abandoned) + figures.split_actions
    false_failures = sorted(
        eid for eid in figures.reported_failed if load.final.get(eid) not in (None, "FAILED")
    )
    finals: dict[str, int] = {}
    for state in load.final.values():
        finals[state] = finals.get(state, 0) + 1
    tracebacks = log.count("Traceback")
    growth = rss["after"] - rss["loaded"]
    latencies = frozen.latencies
    late = [x for x in latencies if x > STALE_PROMISE + args.stale_slack]
    watched = [frozen.phase, rolling.phase]
    print(
        f"soak: {args.duration:.0f}s of chaos load, {args.subscriptions} concurrent "
        f"subscriptions; {loaded:.0f}s in all"
    )
    print(f"  chaos: {', '.join(names)}")
    print(
        f"  user actions: {figures.actions} (accepted {len(figures.accepted)}, given up with "
        f"unknown outcome {figures.abandoned}; requests moved to the other replica "
        f"{figures.failovers})"
    )
    print(
        f"  executions returned to clients: {distinct}; Runtime executions created: {created}; "
        f"Runtime submits: {total('submits')}, deduplicated by key: "
        f"{total('submits_deduplicated')}"
    )
    print(f"  final states: {finals}")
    print(
        f"  queries: {figures.queries}; subscriptions: {figures.subscriptions}, events: "
        f"{figures.subscription_events} (stale: {figures.stale_events})"
    )
    print(f"  typed errors seen by clients: {dict(sorted(figures.typed_errors.items()))}")
    print(
        f"  API RSS (both replicas): {rss['idle']:.1f} MiB idle, {rss['loaded']:.1f} MiB under "
        f"load, {rss['after']:.1f} MiB after (growth since under load {growth:+.1f} MiB)"
    )
    print(
        f"  frozen Runtime: {frozen.frozen_seconds:.1f}s, {len(frozen.phase.watchers)} watchers "
        f"on 5 transports x 2 replicas ({frozen.already_over} over before the freeze); stale "
        f"promise {STALE_PROMISE:.1f}s; stale after the freeze: "
        + (
            f"p50 {statistics.median(latencies):.2f}s, max {max(latencies):.2f}s"
            if latencies
            else "never"
        )
    )
    print(
        f"  rolling restart: replicas away {', '.join(f'{s:.1f}s' for s in rolling.away_seconds)}"
        f"; {len(rolling.phase.watchers)} watchers, {rolling.restarted_watchers} told to "
        "reconnect and resubscribed on the other replica"
    )
    server_errors = figures.server_errors + [e for p in watched for e in p.server_errors()]
    checks = {
        "executions returned to clients that never resolved": len(unresolved),
        "executions not visible to their owner on every replica": len(invisible),
        "duplicate intents": duplicates,
        "server errors (HTTP 5xx, INTERNAL_SERVER_ERROR)": len(server_errors),
        "connections dropped while no replica was away": len(figures.dropped),
        "false failures reported by subscriptions": len(false_failures),
        "tracebacks in the API logs": tracebacks,
        "frozen: watchers that never saw stale": len(frozen.never_stale),
        f"frozen: watchers that saw stale later than {STALE_PROMISE}s + {args.stale_slack}s": len(
            late
        ),
        "frozen: watchers that never reached the true terminal status": len(
            frozen.phase.never_done() + frozen.phase.wrong_final(load.final)
        ),
        "rolling: watchers that never reached the true terminal status": len(
            rolling.phase.never_done() + rolling.phase.wrong_final(load.final)
        ),
        "duplicate terminal events": sum(len(p.duplicate_terminals()) for p in watched),
        "streams lost without a restart signal": sum(len(p.lost()) for p in watched),
    }
    failed = False
    for name, value in checks.items():
        print(f"  {name}: {value}")
        failed |= value != 0
    if growth > args.max_rss_growth_mb:
        print(f"  FAIL: memory grew by more than {args.max_rss_growth_mb} MiB")
        failed = True
    details = [
        *(f"server error: {line}" for line in server_errors),
        *(f"dropped: {line}" for line in figures.dropped),
        *(f"unresolved: {line}" for line in unresolved),
        *(f"invisible: {line}" for line in invisible),
        *(f"never stale: {line}" for line in frozen.never_stale),
        *(f"lost: {line}" for p in watched for line in p.lost()),
        *(f"never done: {line}" for p in watched for line in p.never_done()),
        *(f"wrong final: {line}" for p in watched for line in p.wrong_final(load.final)),
        *(f"duplicate terminal: {line}" for p in watched for line in p.duplicate_terminals()),
    ]
    for line in details[:20]:
        print(f"    {line}")
    if tracebacks:
        start = log.index("Traceback")
        excerpt = log[max(0, log.rfind("\n", 0, start - 300)) : start + 2500]
        print("    first traceback in the API logs:")
        print("\n".join("      " + line for line in excerpt.splitlines()))
    print("soak: FAILED" if failed else "soak: passed")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of chaos load")
    parser.add_argument("--subscriptions", type=int, default=300)
    parser.add_argument("--chaos-period", type=float, default=6.0, help="seconds per phase")
    parser.add_argument("--frozen-executions", type=int, default=4)
    parser.add_argument("--rolling-executions", type=int, default=3, help="per replica")
    parser.add_argument(
        "--freeze-seconds", type=float, default=2 * STALE_PROMISE + 2, help="SIGSTOP for"
    )
    parser.add_argument(
        "--stale-slack", type=float, default=0.5, help="delivery allowance past the promise"
    )
    parser.add_argument("--max-rss-growth-mb", type=float, default=64.0)
    parser.add_argument("--keep-log", help="write the API replicas' logs to this file")
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run of every phase (under a minute)"
    )
    args = parser.parse_args()
    if args.quick:
        args.duration = 8.0
        args.subscriptions = 10
        args.chaos_period = 2.0
        args.frozen_executions = 1
        args.rolling_executions = 1
        args.freeze_seconds = STALE_PROMISE + 2
        args.stale_slack = max(args.stale_slack, 1.0)  # a test run shares the machine
    return asyncio.run(soak(args))


if __name__ == "__main__":
    sys.exit(main())
