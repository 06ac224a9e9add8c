"""Settings: production-safe defaults, development relaxations, the auth mapping."""

from __future__ import annotations

from pathlib import Path

import pytest

from experience_plane.settings import Environment, Settings

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
