"""Settings: production-safe defaults, development relaxations, the auth mapping."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from experience_plane.runtime.models import RuntimeFlavour
from experience_plane.settings import (
    Environment,
    MovedSetting,
    Settings,
    Tuning,
    describe_invalid,
    environment_names,
)

SECRET = "s" * 32


def test_production_is_the_default_and_is_locked_down() -> None:
    settings = Settings()
    assert settings.environment is Environment.PRODUCTION
    assert settings.graphiql_enabled is False
    assert settings.introspection_enabled is False
    assert settings.csrf_prevention is True
    assert settings.insecure_dev is False
    assert settings.cors_origin_list == ()
    assert settings.ws_allowed_origin_list == ()
    assert settings.auth_settings().enabled is False


def test_development_turns_on_the_ide_and_introspection_unless_overridden() -> None:
    settings = Settings(environment=Environment.DEVELOPMENT)
    assert settings.graphiql_enabled is True
    assert settings.introspection_enabled is True
    overridden = Settings(environment=Environment.DEVELOPMENT, graphiql=False, introspection=False)
    assert overridden.graphiql_enabled is False
    assert overridden.introspection_enabled is False
    assert Settings(graphiql=True).graphiql_enabled is True


def test_auth_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPERIENCE_AUTH_HS256_SECRET", SECRET)
    monkeypatch.setenv("EXPERIENCE_AUTH_JWKS_FILE", "/etc/keys.json")
    monkeypatch.setenv("EXPERIENCE_AUTH_ISSUER", "https://issuer.test")
    monkeypatch.setenv("EXPERIENCE_AUTH_AUDIENCE", "experience-plane")
    monkeypatch.setenv("EXPERIENCE_AUTH_TENANT_CLAIM", "org.id")
    monkeypatch.setenv("EXPERIENCE_AUTH_ROLES_CLAIM", "groups")
    monkeypatch.setenv("EXPERIENCE_AUTH_LEEWAY_SECONDS", "5")
    auth = Settings().auth_settings()
    assert auth.hs256_secret == SECRET
    assert auth.jwks_file == Path("/etc/keys.json")
    assert (auth.issuer, auth.audience) == ("https://issuer.test", "experience-plane")
    assert (auth.tenant_claim, auth.roles_claim, auth.leeway_seconds) == ("org.id", "groups", 5)
    # The secret never shows in the settings' repr (logs, tracebacks).
    assert SECRET not in repr(Settings())


def test_origin_lists_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPERIENCE_CORS_ORIGINS", "https://a.test, https://b.test,")
    monkeypatch.setenv("EXPERIENCE_WS_ALLOWED_ORIGINS", "https://a.test")
    settings = Settings()
    assert settings.cors_origin_list == ("https://a.test", "https://b.test")
    assert settings.ws_allowed_origin_list == ("https://a.test",)


def test_a_bad_auth_combination_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        Settings(auth_hs256_secret="short").auth_settings()  # type: ignore[arg-type]


def test_tuning_is_a_nested_group_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EXPERIENCE_TUNING__POLL_INTERVAL_MAX", "0.5")
    monkeypatch.setenv("EXPERIENCE_TUNING__USE_RUNTIME_STREAM", "false")
    tuning = Settings().tuning
    assert (tuning.poll_interval_min, tuning.poll_interval_max) == (0.1, 0.5)
    assert tuning.use_runtime_stream is False
    assert Settings(tuning=Tuning(redis_lease_seconds=9)).tuning.redis_lease_seconds == 9
    assert "EXPERIENCE_TUNING__REDIS_LEASE_SECONDS" in environment_names()
    assert "EXPERIENCE_TUNING" not in environment_names()


def test_the_flavour_is_the_runtime_clients_enum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPERIENCE_RUNTIME_FLAVOUR", "platform")
    assert Settings().runtime_flavour is RuntimeFlavour.PLATFORM


@pytest.mark.parametrize(
    ("environment", "line"),
    [
        (
            {"EXPERIENCE_TUNING__POLL_INTERVAL_MIN": "5"},
            "invalid settings: EXPERIENCE_TUNING__POLL_INTERVAL_MIN (5.0) must not exceed "
            "EXPERIENCE_TUNING__POLL_INTERVAL_MAX (2.0)",
        ),
        (
            {
                "EXPERIENCE_TUNING__RUNTIME_BREAKER_RESET_SECONDS": "30",
                "EXPERIENCE_TUNING__RUNTIME_BREAKER_MAX_RESET_SECONDS": "10",
            },
            "invalid settings: EXPERIENCE_TUNING__RUNTIME_BREAKER_RESET_SECONDS (30.0) must not "
            "exceed EXPERIENCE_TUNING__RUNTIME_BREAKER_MAX_RESET_SECONDS (10.0)",
        ),
        (
            {"EXPERIENCE_TUNING__REDIS_LEASE_SECONDS": "2"},
            "invalid settings: EXPERIENCE_TUNING__REDIS_TIMEOUT_SECONDS (1.0) must be less than "
            "a third of EXPERIENCE_TUNING__REDIS_LEASE_SECONDS (2.0), the period a lease is "
            "renewed at",
        ),
        (
            {"EXPERIENCE_TUNING__POLL_INTERVAL_MAX": "0"},
            "invalid settings: EXPERIENCE_TUNING__POLL_INTERVAL_MAX: "
            "Input should be greater than 0",
        ),
        (
            {"EXPERIENCE_TUNING__POLL_INTERVAL": "1"},
            "invalid settings: EXPERIENCE_TUNING__POLL_INTERVAL: no such setting",
        ),
        (
            {"EXPERIENCE_PORT": "http"},
            "invalid settings: EXPERIENCE_PORT: "
            "Input should be a valid integer, unable to parse string as an integer",
        ),
    ],
)
def test_a_bad_value_or_combination_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], line: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert describe_invalid(caught.value) == line


def test_every_broken_rule_is_named() -> None:
    with pytest.raises(ValidationError) as caught:
        Tuning(poll_interval_min=3, runtime_breaker_reset_seconds=100)
    message = describe_invalid(caught.value)
    assert "POLL_INTERVAL_MIN" in message
    assert "RUNTIME_BREAKER_RESET_SECONDS" in message


def test_an_old_name_of_a_tuning_setting_is_refused_not_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EXPERIENCE_RUNTIME_BREAKER_RESET_SECONDS", "1")
    monkeypatch.setenv("experience_poll_interval_max", "1")
    with pytest.raises(MovedSetting) as caught:
        Settings()
    assert str(caught.value) == (
        "invalid settings: EXPERIENCE_POLL_INTERVAL_MAX is now "
        "EXPERIENCE_TUNING__POLL_INTERVAL_MAX, EXPERIENCE_RUNTIME_BREAKER_RESET_SECONDS is now "
        "EXPERIENCE_TUNING__RUNTIME_BREAKER_RESET_SECONDS"
    )
