"""The service's settings, read from the environment (prefix ``EXPERIENCE_``).

Settings are for operators. The few knobs an operator may rarely need (polling, the circuit
breaker, WebSocket timers, Redis leases) form the nested `tuning` group, set as
``EXPERIENCE_TUNING__<NAME>``; everything else that only a benchmark ever turned is a constant next
to its use. Every value, and every rule between two of them, is checked when `Settings` is built,
so a bad configuration stops `serve` at start-up with one line (`describe_invalid`).
"""

from __future__ import annotations

import os
import re
from enum import StrEnum
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from experience_plane.auth.config import AuthSettings
from experience_plane.observability.logging import LogFormat
from experience_plane.runtime.models import RuntimeFlavour

ENV_PREFIX = "EXPERIENCE_"
# A page served from this machine, on any port: what a web app's dev server is.
LOOPBACK_ORIGIN = re.compile(r"https?://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?")
NESTED_DELIMITER = "__"


class Environment(StrEnum):
    """Secure defaults in production; development turns on GraphiQL, introspection and hints."""

    PRODUCTION = "production"
    DEVELOPMENT = "development"


def default_data_dir() -> Path:
    """The per-user data directory, following the XDG base directory convention:
    `$XDG_DATA_HOME/experience-plane`, else `~/.local/share/experience-plane`."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "experience-plane"


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


class Tuning(BaseModel):
    """Advanced knobs with sound defaults (``EXPERIENCE_TUNING__<NAME>``): leave them alone unless
    a measurement says otherwise; the tests turn them to make failures happen quickly.

    Checked together at start-up: the poll interval's minimum may not exceed its maximum, the
    breaker's first open period may not exceed its longest, and a Redis command must time out
    within a third of a watcher's lease (the renewal period), or a slow Redis loses leases.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Execution polling starts at the minimum and backs off to the maximum while nothing changes.
    poll_interval_min: float = Field(default=0.1, gt=0)
    poll_interval_max: float = Field(default=2.0, gt=0)
    # Follow executions through the Runtime's WebSocket stream when it has one (false: poll).
    use_runtime_stream: bool = True
    # A Runtime stream silent this long (the Runtime sends keep-alives every few seconds) is
    # given up as broken: the watcher reads the status instead.
    runtime_stream_idle_seconds: float = Field(default=10.0, gt=0)
    # Status reads are retried this many times (backoff with jitter) before a query fails.
    runtime_status_retries: int = Field(default=3, ge=0)
    # The Runtime client's circuit breaker: this many failed calls in a row open it; it lets one
    # probe through after the reset period, doubling it (up to the maximum) while probes fail.
    runtime_breaker_failure_threshold: int = Field(default=5, ge=1)
    runtime_breaker_reset_seconds: float = Field(default=5.0, gt=0)
    runtime_breaker_max_reset_seconds: float = Field(default=60.0, gt=0)
    # The stale promise: once the Runtime has not been heard from this long (reads failing,
    # hanging or slow, a silent stream), subscribers get the last known status flagged
    # `stale: true`, and queries say so too; the true status follows on recovery. Polling
    # reads at least twice this often. Keep it above the Runtime's keep-alive interval.
    subscription_stale_after_seconds: float = Field(default=5.0, gt=0)
    # WebSockets: how long a client may take to send `connection_init`, and how often the
    # server pings (keep it below any proxy's idle timeout: deploy/nginx.conf).
    ws_connection_init_timeout: float = Field(default=5.0, gt=0)
    ws_keep_alive_interval: float = Field(default=15.0, gt=0)
    # Redis (with `redis_url`): connect and command timeout; an execution watcher's lease,
    # renewed every third of it, a dead holder's taken over once it expires.
    redis_timeout_seconds: float = Field(default=1.0, gt=0)
    redis_lease_seconds: float = Field(default=5.0, gt=0)
    # Idempotency keys kept in memory at most (least recently used dropped first).
    idempotency_max_entries: int = Field(default=100_000, ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        rules = (
            (
                self.poll_interval_min <= self.poll_interval_max,
                f"{_tuning('poll_interval_min')} ({self.poll_interval_min}) must not exceed "
                f"{_tuning('poll_interval_max')} ({self.poll_interval_max})",
            ),
            (
                self.runtime_breaker_reset_seconds <= self.runtime_breaker_max_reset_seconds,
                f"{_tuning('runtime_breaker_reset_seconds')} "
                f"({self.runtime_breaker_reset_seconds}) must not exceed "
                f"{_tuning('runtime_breaker_max_reset_seconds')} "
                f"({self.runtime_breaker_max_reset_seconds})",
            ),
            (
                self.redis_timeout_seconds < self.redis_lease_seconds / 3,
                f"{_tuning('redis_timeout_seconds')} ({self.redis_timeout_seconds}) must be "
                f"less than a third of {_tuning('redis_lease_seconds')} "
                f"({self.redis_lease_seconds}), the period a lease is renewed at",
            ),
        )
        broken = [message for holds, message in rules if not holds]
        if broken:
            raise ValueError("; ".join(broken))
        return self


def _tuning(field: str) -> str:
    return f"{ENV_PREFIX}TUNING{NESTED_DELIMITER}{field.upper()}"


class MovedSetting(SettingsError):
    """A setting moved into the tuning group is still set under its old name, whose value would
    otherwise be ignored without a word."""


class _MovedNames(PydanticBaseSettingsSource):
    """Refuses the old names of the settings now in `Tuning` (issue 12)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        moved = {f"{ENV_PREFIX}{name}".upper(): _tuning(name) for name in Tuning.model_fields}
        found = sorted(moved.keys() & {name.upper() for name in os.environ})
        if found:
            renames = ", ".join(f"{old} is now {moved[old]}" for old in found)
            raise MovedSetting(f"invalid settings: {renames}")
        return {}


class Settings(BaseSettings):
    """Everything the Experience Plane needs to run; defaults are the production-safe ones.

    Built once by `create_app` (or the CLI) and passed down; nothing reads the environment
    at import time. A bad value raises pydantic's `ValidationError` (`describe_invalid` says it
    in one line).
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter=NESTED_DELIMITER, extra="ignore"
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    environment: Environment = Environment.PRODUCTION

    runtime_url: str = "http://127.0.0.1:8001"
    runtime_flavour: RuntimeFlavour = RuntimeFlavour.REFERENCE
    runtime_timeout: float = Field(default=10.0, gt=0)
    solution_id: str = "default"

    # Idempotency keys (uploadContent / createDataMash): how long a key's result is kept.
    idempotency_ttl_seconds: float = Field(default=86_400.0, gt=0)

    # On SIGTERM: open subscriptions are ended at once, in-flight requests get this long.
    shutdown_grace_seconds: float = Field(default=10.0, gt=0)

    # Authentication: at least one of the secret, the JWKS file or the JWKS URL, unless
    # `insecure_dev` makes every caller the dev principal (never in production).
    auth_hs256_secret: SecretStr | None = None
    auth_jwks_file: Path | None = None
    auth_jwks_url: str | None = None
    auth_issuer: str | None = None
    auth_audience: str | None = None
    auth_tenant_claim: str = "tenant_id"
    auth_roles_claim: str = "roles"
    auth_leeway_seconds: float = Field(default=30.0, ge=0)
    insecure_dev: bool = False
    dev_tenant_id: str = "dev-tenant"
    dev_user_id: str = "dev-user"

    max_upload_bytes: int = Field(default=100 * 1024 * 1024, gt=0)
    # Every body but a multipart upload (which is bounded by `max_upload_bytes`).
    max_request_bytes: int = Field(default=1024 * 1024, gt=0)
    # A request line and headers must arrive within this long (half-open sockets are closed).
    request_header_timeout_seconds: float = Field(default=10.0, gt=0)

    # None: follow the environment (on in development, off in production).
    graphiql: bool | None = None
    # A token GraphiQL starts with in its headers editor (`experience-plane dev` sets it to the
    # token it prints); development only, as the page shows it to whoever loads it.
    graphiql_dev_token: SecretStr | None = None
    introspection: bool | None = None
    csrf_prevention: bool = True
    max_query_depth: int = Field(default=10, ge=1)
    max_query_aliases: int = Field(default=30, ge=0)
    max_query_tokens: int = Field(default=5000, ge=1)

    # Comma-separated origins ("https://app.example.com,https://admin.example.com"). In
    # development, pages on loopback origins (any port) are allowed as well.
    ws_allowed_origins: str = ""
    cors_origins: str = ""
    # A graphql-codegen persisted-documents manifest ({"<hash>": "<document>"}): when set, only
    # its documents run (checked at start-up).
    trusted_documents: Path | None = None
    max_subscriptions_per_connection: int = Field(default=100, ge=1)
    # Open subscriptions and event streams per tenant (WebSocket subscriptions, GraphQL SSE,
    # REST events), counted across the replicas when Redis is configured.
    max_streams_per_tenant: int = Field(default=200, ge=1)

    # Mutations per tenant: `rate_limit_burst` at once, then this many per second (0: off).
    rate_limit_per_second: float = Field(default=10.0, ge=0)
    rate_limit_burst: int = Field(default=50, ge=1)

    # Operations. None: JSON lines in production, text in development.
    log_format: LogFormat | None = None
    log_level: str = Field(default="INFO", pattern=r"(?i)^(debug|info|warning|error|critical)$")
    # Prometheus metrics at `/metrics`, unauthenticated (see README "Running in production").
    metrics_enabled: bool = True
    # OpenTelemetry spans over OTLP/HTTP; None: on when OTEL_EXPORTER_OTLP_ENDPOINT is set.
    tracing: bool | None = None
    # Scale-out: unset keeps everything in this process (one replica). Set, replicas share
    # execution watching (one lease-holding watcher per execution), idempotency keys and rate
    # limits through Redis, and fall back to per-replica behaviour while it is unreachable.
    redis_url: str | None = None
    redis_key_prefix: str = "experience"
    # Where the index of the executions this service started is kept when Redis is not
    # configured (a SQLite file, `executions.sqlite3`): the list a Runtime without a list
    # endpoint cannot give survives a restart.
    data_dir: Path = Field(default_factory=default_data_dir)

    tuning: Tuning = Tuning()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.graphiql_dev_token is not None and not self.is_development:
            raise ValueError(
                f"{ENV_PREFIX}GRAPHIQL_DEV_TOKEN is for development only: GraphiQL would show "
                f"the token to anyone who opens it (unset it, or set {ENV_PREFIX}ENVIRONMENT="
                "development)"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """pydantic-settings' sources, after a check for the tuning group's old names."""
        moved = _MovedNames(settings_cls)
        return moved, init_settings, env_settings, dotenv_settings, file_secret_settings

    @property
    def is_development(self) -> bool:
        """Whether the relaxed development defaults apply."""
        return self.environment is Environment.DEVELOPMENT

    @property
    def log_format_in_force(self) -> LogFormat:
        """How log lines are written: the setting, else by environment."""
        if self.log_format is not None:
            return self.log_format
        return LogFormat.TEXT if self.is_development else LogFormat.JSON

    @property
    def graphiql_enabled(self) -> bool:
        """Whether `/graphql` serves GraphiQL to browsers."""
        return self.is_development if self.graphiql is None else self.graphiql

    @property
    def graphiql_headers(self) -> dict[str, str] | None:
        """The headers GraphiQL starts with: the development token's, if one is set."""
        if self.graphiql_dev_token is None:
            return None
        return {"Authorization": f"Bearer {self.graphiql_dev_token.get_secret_value()}"}

    @property
    def introspection_enabled(self) -> bool:
        """Whether `__schema` / `__type` queries are allowed."""
        return self.is_development if self.introspection is None else self.introspection

    @property
    def ws_allowed_origin_list(self) -> tuple[str, ...]:
        """Cross-origin pages allowed to open a WebSocket (same-origin ones always are)."""
        return _split(self.ws_allowed_origins)

    @property
    def loopback_origin_pattern(self) -> re.Pattern[str] | None:
        """Origins allowed for CORS and WebSockets besides the listed ones: loopback pages on any
        port in development (a web app's dev server), none in production."""
        return LOOPBACK_ORIGIN if self.is_development else None

    @property
    def cors_origin_list(self) -> tuple[str, ...]:
        """Origins allowed by CORS; empty means CORS is off."""
        return _split(self.cors_origins)

    def auth_settings(self) -> AuthSettings:
        """The token verifier's settings; raises `ValueError` for a bad combination."""
        secret = self.auth_hs256_secret.get_secret_value() if self.auth_hs256_secret else None
        return AuthSettings(
            hs256_secret=secret or None,
            jwks_file=self.auth_jwks_file,
            jwks_url=self.auth_jwks_url or None,
            issuer=self.auth_issuer or None,
            audience=self.auth_audience or None,
            tenant_claim=self.auth_tenant_claim,
            roles_claim=self.auth_roles_claim,
            leeway_seconds=self.auth_leeway_seconds,
        )


def environment_names() -> tuple[str, ...]:
    """Every environment variable `Settings` reads: `EXPERIENCE_PORT`, ...,
    `EXPERIENCE_TUNING__POLL_INTERVAL_MIN`, ... (the README and the deploy files are checked
    against it)."""
    names: list[str] = []
    for name, field in Settings.model_fields.items():
        group = field.annotation
        if isinstance(group, type) and issubclass(group, BaseModel):
            names += [f"{name}{NESTED_DELIMITER}{inner}" for inner in group.model_fields]
        else:
            names.append(name)
    return tuple(f"{ENV_PREFIX}{name}".upper() for name in names)


def describe_invalid(exc: ValidationError) -> str:
    """A settings error in one line, naming the environment variable: what `serve` prints
    instead of a traceback."""
    error = exc.errors()[0]
    name = f"{ENV_PREFIX}{NESTED_DELIMITER.join(map(str, error['loc']))}".upper()
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "no such setting"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    # A rule between settings (a group's, or the whole's) names its variables itself.
    named = name in environment_names() or error["type"] == "extra_forbidden"
    where = f"{name}: " if named else ""
    return f"invalid settings: {where}{message}{more}"
