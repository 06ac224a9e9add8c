from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from experience_plane.auth import (
    AuthenticationError,
    AuthFailure,
    parse_authorization,
    token_from_connection_params,
)

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    "value",
    [f"Bearer {TOKEN}", f"bearer {TOKEN}", f"BEARER   {TOKEN}  ", TOKEN, f"  {TOKEN}\t"],
)
def test_bearer_and_bare_tokens_are_accepted(value: str) -> None:
    assert parse_authorization(value) == TOKEN


@pytest.mark.parametrize("value", [None, "", "   ", "Bearer", "bearer   "])
def test_absent_credentials_are_missing_token(value: str | None) -> None:
    with pytest.raises(AuthenticationError) as caught:
        parse_authorization(value)
    assert caught.value.reason is AuthFailure.MISSING_TOKEN


@pytest.mark.parametrize(
    "value",
    [
        f"Basic {TOKEN}",
        "Bearer not-a-jwt",
        "Bearer a.b",
        "Bearer a.b.c.d",
        f"Bearer {TOKEN} extra",
        "Bearer " + "a" * 20_000 + ".b.c",
        "eyJ!.eyJ.sig",
    ],
)
def test_malformed_credentials_are_refused_without_echoing_them(value: str) -> None:
    with pytest.raises(AuthenticationError) as caught:
        parse_authorization(value)
    assert caught.value.reason is AuthFailure.MALFORMED_TOKEN
    assert TOKEN not in str(caught.value)
    assert "not-a-jwt" not in str(caught.value)


@given(st.text())
def test_arbitrary_text_parses_or_raises_authentication_error(value: str) -> None:
    reason: AuthFailure | None = None
    token = ""
    try:
        token = parse_authorization(value)
    except AuthenticationError as error:  # anything else propagates and fails the test
        reason = error.reason
    if reason is None:
        assert token.count(".") == 2
        assert token in value
    else:
        assert reason in {AuthFailure.MISSING_TOKEN, AuthFailure.MALFORMED_TOKEN}


@pytest.mark.parametrize(
    "payload",
    [
        {"Authorization": f"Bearer {TOKEN}"},
        {"authorization": f"bearer {TOKEN}"},
        {"authToken": TOKEN},
        {"token": f"Bearer {TOKEN}"},
    ],
)
def test_connection_init_payloads_yield_the_token(payload: dict[str, object]) -> None:
    assert token_from_connection_params(payload) == TOKEN


def test_connection_init_without_credentials_is_missing_token() -> None:
    for payload in (None, {}, {"other": "x"}):
        with pytest.raises(AuthenticationError) as caught:
            token_from_connection_params(payload)
        assert caught.value.reason is AuthFailure.MISSING_TOKEN


def test_connection_init_with_a_non_string_token_is_malformed() -> None:
    with pytest.raises(AuthenticationError) as caught:
        token_from_connection_params({"authToken": {"nested": TOKEN}})
    assert caught.value.reason is AuthFailure.MALFORMED_TOKEN
