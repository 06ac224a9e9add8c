"""`reference-runtime`: run the reference Runtime with uvicorn."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvicorn

from reference_runtime.app import create_app
from reference_runtime.settings import RuntimeMode, RuntimeSettings

# Open streams must not hold a stop (or a test's restart) for long.
GRACEFUL_SHUTDOWN_SECONDS = 3


def build_parser() -> argparse.ArgumentParser:
    """The command line; every flag falls back to its `REFERENCE_RUNTIME_*` variable."""
    parser = argparse.ArgumentParser(
        prog="reference-runtime",
        description="The reference Runtime: sessions, intents and executions over HTTP.",
    )
    parser.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8001)")
    parser.add_argument(
        "--data-dir", type=Path, help="where state lives (default ~/.local/share/reference-runtime)"
    )
    parser.add_argument(
        "--mode",
        choices=[mode.value for mode in RuntimeMode],
        help="async (the full contract, default) or platform (like the platform's Runtime)",
    )
    parser.add_argument("--log-level", help="uvicorn log level (default info)")
    return parser


def settings_from_args(argv: Sequence[str] | None = None) -> RuntimeSettings:
    """Settings from the environment, with the command line's flags on top."""
    args = build_parser().parse_args(argv)
    overrides: dict[str, Any] = {
        key: value
        for key, value in {
            "host": args.host,
            "port": args.port,
            "data_dir": args.data_dir,
            "mode": args.mode,
            "log_level": args.log_level,
        }.items()
        if value is not None
    }
    return RuntimeSettings(**overrides)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the Runtime until interrupted."""
    settings = settings_from_args(argv)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
