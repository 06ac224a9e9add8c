"""Settings of the reference Runtime, read from `REFERENCE_RUNTIME_*` environment variables."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RuntimeMode(StrEnum):
    """How the Runtime behaves: the contract in full, or like the platform's current Runtime."""

    ASYNC = "async"
    PLATFORM = "platform"


def default_data_dir() -> Path:
    """The per-user data directory, following the XDG base directory convention."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "reference-runtime"


class RuntimeSettings(BaseSettings):
    """Everything the reference Runtime can be told; CLI flags override the environment."""

    model_config = SettingsConfigDict(env_prefix="REFERENCE_RUNTIME_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8001, ge=0, le=65535)
    data_dir: Path = Field(default_factory=default_data_dir)
    mode: RuntimeMode = RuntimeMode.ASYNC
    phase_delay: float = Field(default=0.0, ge=0.0)
    fault_latency: float = Field(default=0.0, ge=0.0)
    fault_status_error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    fault_drop_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    control_enabled: bool = False
    # Keep-alive pings on the execution stream while nothing changes; the contract asks for
    # one at least every 3 s (a silent stream is a broken one to the Experience Plane).
    stream_ping_interval: float = Field(default=3.0, gt=0.0)
    log_level: str = "info"
    # Refuse a submit naming a session the tenant never created (404 "Session not found"), as
    # a Runtime that lost its state would. None: on in async mode, off in platform mode (the
    # platform's current Runtime accepts any session id).
    require_session: bool | None = None

    @property
    def requires_session(self) -> bool:
        """Whether submits must name a session created for their tenant."""
        if self.require_session is None:
            return self.mode is RuntimeMode.ASYNC
        return self.require_session
