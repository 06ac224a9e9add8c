from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.experience_plane.auth.support import JwksServer, SigningKey, ec_key, jwks, rsa_key


@pytest.fixture(scope="session")
def rsa_signing_key() -> SigningKey:
    return rsa_key("rsa-1")


@pytest.fixture(scope="session")
def rsa_rotated_key() -> SigningKey:
    return rsa_key("rsa-2")


@pytest.fixture(scope="session")
def ec_signing_key() -> SigningKey:
    return ec_key("ec-1")


@pytest.fixture
def jwks_file(tmp_path: Path, rsa_signing_key: SigningKey, ec_signing_key: SigningKey) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks(rsa_signing_key, ec_signing_key)))
    return path


@pytest.fixture
def jwks_server(rsa_signing_key: SigningKey, ec_signing_key: SigningKey) -> Iterator[JwksServer]:
    server = JwksServer(jwks(rsa_signing_key, ec_signing_key))
    server.start()
    try:
        yield server
    finally:
        server.stop()
