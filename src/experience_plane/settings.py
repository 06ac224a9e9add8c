"""The service's settings, read from the environment (prefix ``EXPERIENCE_``)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RuntimeFlavourSetting(StrEnum):
    """Which Runtime the service talks to: the reference one or the platform's current one."""

    REFERENCE = "reference"
    PLATFORM = "platform"


class Settings(BaseSettings):
    """Everything the Experience Plane needs to run, with defaults for local development.

    Built once by `create_app` (or the CLI) and passed down; nothing reads the environment
    at import time.
    """

    model_config = SettingsConfigDict(env_prefix="EXPERIENCE_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)

    runtime_url: str = "http://127.0.0.1:8001"
    runtime_flavour: RuntimeFlavourSetting = RuntimeFlavourSetting.REFERENCE
    runtime_timeout: float = Field(default=10.0, gt=0)
    solution_id: str = "default"
    poll_interval_min: float = Field(default=0.1, gt=0)
    poll_interval_max: float = Field(default=2.0, gt=0)
    use_runtime_stream: bool = True

    max_upload_bytes: int = Field(default=100 * 1024 * 1024, gt=0)
    upload_chunk_bytes: int = Field(default=64 * 1024, gt=0)

    graphiql: bool = True
    max_query_depth: int = Field(default=10, ge=1)
    max_query_aliases: int = Field(default=30, ge=0)
    max_query_tokens: int = Field(default=5000, ge=1)
    # Bounded so that a flood of distinct query texts cannot grow memory without limit.
    query_cache_size: int = Field(default=256, ge=1)

    # Until JWT authentication lands every request acts as this principal.
    dev_tenant_id: str = "dev-tenant"
    dev_user_id: str = "dev-user"
