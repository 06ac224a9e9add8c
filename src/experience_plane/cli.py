"""`experience-plane`: serve the API (`serve`, refusing to start without authentication unless
`--insecure-dev`), run the reference Runtime and the API together for development with a fresh
HS256 secret and a ready token (`dev`), mint an HS256 token (`token`), and write the SDL
and Apollo's `possibleTypes` (`export-schema`); each sub-command's `--help` gives its options.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import logging.config
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from types import FrameType

import httpx
import uvicorn
from pydantic import ValidationError

from experience_plane.auth import generate_dev_secret, mint_token
from experience_plane.observability.logging import uvicorn_log_config
from experience_plane.settings import Settings, describe_invalid
from experience_plane_sdk import cli as client_cli

# Open subscriptions must not hold a stop for long.
STARTUP_TIMEOUT_SECONDS = 30.0
DEFAULT_SCHEMA_PATH = Path("schema/schema.graphql")
DEFAULT_POSSIBLE_TYPES_PATH = Path("schema/possible-types.json")
DEFAULT_DEV_DATA_DIR = Path(".data/runtime")
DEV_TOKEN_TTL = timedelta(hours=12)
# No permessage-deflate on WebSockets: compressing ~300-byte subscription events costs more CPU
# and per-connection memory (zlib state) than it saves bandwidth (docs/benchmarks.md).
WS_PER_MESSAGE_DEFLATE = False
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """`90`, `90s`, `30m`, `8h` or `2d` as a positive duration (`argparse` type)."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None or float(match[1]) <= 0:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (use e.g. 90s, 30m, 8h, 2d)")
    return timedelta(seconds=float(match[1]) * _DURATION_UNITS[match[2]])


CLIENT_COMMANDS = client_cli.COMMANDS


def build_parser() -> argparse.ArgumentParser:
    """The command line of `experience-plane`."""
    parser = argparse.ArgumentParser(
        prog="experience-plane",
        description="The Experience Plane GraphQL API.",
        epilog=(
            "client commands (run against a running API; see `experience-plane upload --help`): "
            + ", ".join(CLIENT_COMMANDS)
            + "; their global options (--json, --url, ...) go before or after the command."
        ),
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the API (settings from EXPERIENCE_* variables)")
    serve.add_argument("--host", help="interface to listen on (default: EXPERIENCE_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (default: EXPERIENCE_PORT)")
    serve.add_argument(
        "--insecure-dev",
        action="store_true",
        help="NO AUTHENTICATION: every request acts as the dev principal (local development only)",
    )

    dev = commands.add_parser("dev", help="run the reference Runtime and the API together")
    dev.add_argument("--host", default="127.0.0.1", help="interface for both (default 127.0.0.1)")
    dev.add_argument("--port", type=int, default=8000, help="the API's port (default 8000)")
    dev.add_argument(
        "--runtime-port", type=int, default=8001, help="the Runtime's port (default 8001)"
    )
    dev.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DEV_DATA_DIR,
        help=(
            f"the Runtime's data directory (default {DEFAULT_DEV_DATA_DIR}); the API keeps its "
            "execution index beside it, in experience-plane/"
        ),
    )
    dev.add_argument(
        "--phase-delay",
        type=float,
        default=0.5,
        help="seconds the Runtime spends per phase, so changes are watchable (default 0.5)",
    )
    dev.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help=(
            "also allow web pages on ORIGIN (e.g. https://app.test:8443) over CORS and "
            "WebSockets; loopback origins on any port always are (repeatable)"
        ),
    )
    dev.add_argument("--tenant", default="dev-tenant", help="the printed token's tenant")
    dev.add_argument("--user", default="dev-user", help="the printed token's user")

    token = commands.add_parser(
        "token", help="mint an HS256 bearer token (--secret or EXPERIENCE_AUTH_HS256_SECRET)"
    )
    token.add_argument("--tenant", required=True, help="the tenant the token speaks for")
    token.add_argument("--user", required=True, help="the user id (the token's `sub`)")
    token.add_argument("--roles", default="", help="comma-separated roles, e.g. reader,writer")
    token.add_argument(
        "--ttl", type=parse_duration, default=timedelta(hours=8), help="lifetime (default 8h)"
    )
    token.add_argument("--secret", help="the HS256 secret (default: EXPERIENCE_AUTH_HS256_SECRET)")

    export = commands.add_parser("export-schema", help="write the GraphQL SDL")
    export.add_argument(
        "--output",
        "-o",
        default=str(DEFAULT_SCHEMA_PATH),
        help=f"file to write, or - for stdout (default {DEFAULT_SCHEMA_PATH})",
    )
    export.add_argument(
        "--possible-types",
        metavar="PATH",
        help=(
            "also write every interface and union with its member types, in Apollo Client's "
            f"`possibleTypes` shape (`make schema` writes {DEFAULT_POSSIBLE_TYPES_PATH})"
        ),
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen command; returns the process exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if client_cli.command_name(arguments) in CLIENT_COMMANDS:
        # One CLI for people: the client side lives in the SDK, which imports nothing from here;
        # its global options (`--json`, `--url`, ...) may come before the command's name.
        return client_cli.main(arguments)
    args = build_parser().parse_args(arguments)
    if args.command == "serve":
        return serve(host=args.host, port=args.port, insecure_dev=args.insecure_dev)
    if args.command == "dev":
        return dev(
            host=args.host,
            port=args.port,
            runtime_port=args.runtime_port,
            data_dir=args.data_dir,
            phase_delay=args.phase_delay,
            tenant=args.tenant,
            user=args.user,
            cors_origins=args.cors_origin,
        )
    if args.command == "token":
        return token(
            tenant=args.tenant, user=args.user, roles=args.roles, ttl=args.ttl, secret=args.secret
        )
    return export_schema(args.output, possible_types_output=args.possible_types)


def _fail(message: str) -> int:
    print(f"experience-plane: {message}", file=sys.stderr)
    return 2


def serve(*, host: str | None = None, port: int | None = None, insecure_dev: bool = False) -> int:
    """Run the API with uvicorn; the app factory reads its settings from the environment.

    Returns 2 at once, with a one-line reason, when the settings are unusable (in particular
    when no authentication is configured and insecure development mode was not asked for).
    """
    from experience_plane.app import INSECURE_DEV_WARNING, check_auth_configured

    if insecure_dev:
        # The app factory runs inside uvicorn and reads the environment.
        os.environ["EXPERIENCE_INSECURE_DEV"] = "true"
    try:
        settings = Settings()
        check_auth_configured(settings)
    except ValidationError as exc:
        return _fail(describe_invalid(exc))
    except ValueError as exc:
        return _fail(str(exc))
    # JSON lines in production, each with the request id; uvicorn's own logs included.
    log_config = uvicorn_log_config(settings.log_format_in_force, settings.log_level)
    logging.config.dictConfig(log_config)
    if settings.insecure_dev:
        logging.getLogger("experience_plane").warning(
            INSECURE_DEV_WARNING, settings.dev_tenant_id, settings.dev_user_id
        )
    from experience_plane.app import create_app
    from experience_plane.http_guard import header_timeout_protocol
    from experience_plane.lifecycle import DrainingServer, Lifecycle

    try:
        app = create_app(settings)
    except ValueError as exc:
        return _fail(str(exc))
    config = uvicorn.Config(
        app,
        log_config=log_config,
        host=host or settings.host,
        port=settings.port if port is None else port,
        # In-flight requests get this long once SIGTERM arrives; subscriptions end at once.
        timeout_graceful_shutdown=max(1, round(settings.shutdown_grace_seconds)),
        ws_per_message_deflate=WS_PER_MESSAGE_DEFLATE,
        # A WebSocket message is capped like a request body (larger ones: close 1009).
        ws_max_size=settings.max_request_bytes,
        # Half-open sockets: a request head must arrive in time; idle keep-alives close at 5 s.
        http=header_timeout_protocol(settings.request_header_timeout_seconds),
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    lifecycle = app.state.lifecycle
    assert isinstance(lifecycle, Lifecycle)
    tune_garbage_collector()
    DrainingServer(config, lifecycle).run()
    return 0


# Seconds an idle kept-alive HTTP connection stays open (uvicorn's default, said out loud).
KEEP_ALIVE_SECONDS = 5

# Allocations of container objects between two youngest-generation collections (CPython: 700).
GC_YOUNG_THRESHOLD = 50_000


def tune_garbage_collector() -> None:
    """Fewer cyclic garbage collections for a long-running server.

    With thousands of open subscriptions (tasks, generators, contexts) CPython's default
    thresholds run a collection every 700 allocations and often reach the old generation,
    which walks every live object: measured at 13 % of the API's CPU while 3,000 subscriptions
    received events (docs/benchmarks.md). Objects created at startup are frozen out of
    collections, and the youngest generation is collected every 50,000 allocations; garbage
    cycles still get collected, they only wait a little longer.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def token(*, tenant: str, user: str, roles: str, ttl: timedelta, secret: str | None) -> int:
    """Print an HS256 token for `tenant`/`user` that the API (same secret) accepts."""
    try:
        settings = Settings()
    except ValidationError as exc:
        return _fail(describe_invalid(exc))
    except ValueError as exc:
        return _fail(str(exc))
    if secret is None and settings.auth_hs256_secret is not None:
        secret = settings.auth_hs256_secret.get_secret_value()
    if not secret:
        return _fail("no secret: pass --secret or set EXPERIENCE_AUTH_HS256_SECRET.")
    try:
        minted = mint_token(
            secret,
            tenant_id=tenant,
            user_id=user,
            roles=[role.strip() for role in roles.split(",") if role.strip()],
            ttl=ttl,
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            tenant_claim=settings.auth_tenant_claim,
        )
    except ValueError as exc:
        return _fail(str(exc))
    print(minted)
    return 0


def export_schema(output: str, *, possible_types_output: str | None = None) -> int:
    """Write the schema's SDL to `output` (`-` for stdout) and, when asked, Apollo's
    `possibleTypes` to `possible_types_output`."""
    from experience_plane.graphql.schema import possible_types_json, schema_sdl

    _write_generated(output, schema_sdl(), "Schema")
    if possible_types_output is not None:
        _write_generated(possible_types_output, possible_types_json(), "Possible types")
    return 0


def _write_generated(output: str, text: str, what: str) -> None:
    if output == "-":
        sys.stdout.write(text)
        return
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"{what} written to {path}")


def dev_api_data_dir(runtime_data_dir: Path) -> Path:
    """Where `dev` has the API keep its data: beside the Runtime's data directory
    (`.data/experience-plane` for the default `.data/runtime`)."""
    return runtime_data_dir.parent / "experience-plane"


class _Stop(Exception):
    """Raised by the signal handler to leave the dev loop."""


def dev(
    *,
    host: str,
    port: int,
    runtime_port: int,
    data_dir: Path,
    phase_delay: float,
    tenant: str = "dev-tenant",
    user: str = "dev-user",
    cors_origins: Sequence[str] = (),
) -> int:
    """Run the reference Runtime and the API as child processes until interrupted.

    The API runs in the development environment (GraphiQL, introspection, hints) with real
    authentication: a secret generated for this run, and a token for `tenant`/`user` printed
    and already in GraphiQL's headers (GraphiQL sends them on HTTP and as the WebSocket
    `connection_init` payload, so subscriptions work with it too).
    Web pages on loopback origins (a web app's dev server, any port) may call it over CORS and
    WebSockets, and so may those on `cors_origins`.
    """
    runtime_url = f"http://{host}:{runtime_port}"
    api_url = f"http://{host}:{port}"
    children: list[tuple[str, subprocess.Popen[bytes]]] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        raise _Stop

    runtime_command = [
        sys.executable, "-m", "reference_runtime",
        "--host", host, "--port", str(runtime_port), "--data-dir", str(data_dir),
    ]  # fmt: skip
    api_command = [
        sys.executable, "-m", "experience_plane", "serve", "--host", host, "--port", str(port),
    ]  # fmt: skip
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        runtime_env = {"REFERENCE_RUNTIME_PHASE_DELAY": str(phase_delay)}
        children.append(("reference Runtime", _spawn(runtime_command, runtime_env)))
        _wait_healthy("reference Runtime", runtime_url + "/health", children[-1][1])
        secret = generate_dev_secret()
        dev_token = mint_token(secret, tenant_id=tenant, user_id=user, ttl=DEV_TOKEN_TTL)
        api_env = {
            "EXPERIENCE_RUNTIME_URL": runtime_url,
            "EXPERIENCE_ENVIRONMENT": "development",
            "EXPERIENCE_AUTH_HS256_SECRET": secret,
            "EXPERIENCE_INSECURE_DEV": "false",
            # The API's execution index, beside the Runtime's data: the list of work survives
            # a restart of `dev` as the Runtime's state does.
            "EXPERIENCE_DATA_DIR": str(dev_api_data_dir(data_dir)),
            # GraphiQL opens with this token in its headers: the first introspection succeeds.
            "EXPERIENCE_GRAPHIQL_DEV_TOKEN": dev_token,
            **_with_origins(cors_origins),
        }
        children.append(("Experience Plane API", _spawn(api_command, api_env)))
        _wait_healthy("Experience Plane API", api_url + "/readyz", children[-1][1])
        header = json.dumps({"Authorization": f"Bearer {dev_token}"})
        print(f"Reference Runtime ready at {runtime_url} (data in {data_dir})", flush=True)
        print(f"Dev token for tenant {tenant!r}, user {user!r} (valid 12 h):", flush=True)
        print(f"  {dev_token}", flush=True)
        print(f"GraphiQL Headers tab: {header}", flush=True)
        print(f"GraphiQL ready at {api_url}/graphql", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        while True:
            for name, process in children:
                if process.poll() is not None:
                    print(f"{name} exited with {process.returncode}", file=sys.stderr)
                    return 1
            time.sleep(0.2)
    except _Stop:
        return 0
    except _StartupFailed as exc:
        print(str(exc), file=sys.stderr)
        return 1
    finally:
        # Ignore further signals while stopping, so a second Ctrl-C cannot orphan a child.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        # The API first: it holds connections to the Runtime.
        for name, process in reversed(children):
            _terminate(name, process)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _with_origins(origins: Sequence[str]) -> dict[str, str]:
    """The origin settings with `origins` added to what the environment already lists."""
    if not origins:
        return {}
    added = ",".join(origin.strip() for origin in origins if origin.strip())
    env: dict[str, str] = {}
    for name in ("EXPERIENCE_CORS_ORIGINS", "EXPERIENCE_WS_ALLOWED_ORIGINS"):
        listed = os.environ.get(name, "").strip().strip(",")
        env[name] = f"{listed},{added}" if listed else added
    return env


class _StartupFailed(Exception):
    """A child process exited or did not become healthy in time."""


def _spawn(command: list[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    # A session of its own: a terminal's Ctrl-C reaches only this process, which then stops
    # the children in order instead of all of them racing to exit.
    return subprocess.Popen(  # noqa: S603 - our own interpreter and modules
        command, env={**os.environ, **env}, start_new_session=True
    )


def _wait_healthy(name: str, url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise _StartupFailed(f"{name} exited with {process.returncode} while starting")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise _StartupFailed(f"{name} did not become healthy at {url} in {STARTUP_TIMEOUT_SECONDS}s")


def _terminate(name: str, process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        print(f"{name} did not stop in {timeout}s; killing it", file=sys.stderr)
        process.kill()
        process.wait()
