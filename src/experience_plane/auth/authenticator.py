"""From a transport's credentials to a `Principal`: the one object every surface asks.
HTTP and SSE pass the `Authorization` header; a WebSocket passes its `connection_init` payload
(and the handshake's header, used only when the payload carries no credentials). In insecure
development mode there is no verifier and every caller is the dev principal.
"""

from __future__ import annotations

from collections.abc import Mapping

from experience_plane.auth.credentials import CONNECTION_PARAM_KEYS, token_from_connection_params
from experience_plane.auth.principal import Principal
from experience_plane.auth.verifier import TokenVerifier


class Authenticator:
    """Authenticates callers with a `TokenVerifier`, or, insecurely, as one fixed dev principal.

    Exactly one of `verifier` and `dev_principal` is given. Build one per application (the
    lifespan owns it) and `aclose()` it on shutdown.
    """

    def __init__(
        self,
        verifier: TokenVerifier | None = None,
        *,
        dev_principal: Principal | None = None,
    ) -> None:
        if (verifier is None) == (dev_principal is None):
            raise ValueError("Give either a token verifier or an insecure dev principal.")
        self._verifier = verifier
        self._dev_principal = dev_principal

    @property
    def insecure(self) -> bool:
        """True when tokens are not checked at all (insecure development mode)."""
        return self._verifier is None

    async def from_header(self, authorization: str | None) -> Principal:
        """The principal of an `Authorization` header value; raises `AuthenticationError`."""
        if self._verifier is None:
            assert self._dev_principal is not None
            return self._dev_principal
        return await self._verifier.authenticate(authorization)

    async def from_connection_params(
        self, params: Mapping[str, object] | None, authorization: str | None = None
    ) -> Principal:
        """The principal of a WebSocket's `connection_init` payload.

        Browsers cannot set headers on a WebSocket, so the payload is where credentials go;
        non-browser clients that sent `Authorization` on the handshake instead are accepted too.
        """
        if self._verifier is None:
            assert self._dev_principal is not None
            return self._dev_principal
        has_credentials = any((params or {}).get(key) is not None for key in CONNECTION_PARAM_KEYS)
        if not has_credentials and authorization:
            return await self._verifier.authenticate(authorization)
        return await self._verifier.verify(token_from_connection_params(params))

    async def aclose(self) -> None:
        """Release the verifier's resources (the JWKS URL's HTTP client)."""
        if self._verifier is not None:
            await self._verifier.aclose()
