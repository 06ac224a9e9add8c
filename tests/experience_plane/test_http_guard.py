"""The uvicorn names `http_guard` leans on: an upgrade that moves them fails here, naming them."""

from __future__ import annotations

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from experience_plane.http_guard import header_timeout_protocol


def test_uvicorn_h11_protocol_still_has_what_the_guard_overrides() -> None:
    for name in ("connection_made", "data_received", "connection_lost"):
        assert callable(getattr(H11Protocol, name, None)), f"H11Protocol.{name} moved"
    # The guard reads the h11 connection uvicorn keeps as `self.conn`.
    assert h11.Connection(h11.SERVER).their_state is h11.IDLE
    assert "self.conn = h11.Connection(" in _source(H11Protocol.__init__), "H11Protocol.conn moved"


def test_the_protocol_carries_its_timeout() -> None:
    protocol = header_timeout_protocol(2.5)
    assert issubclass(protocol, H11Protocol)
    assert protocol.header_timeout == 2.5  # type: ignore[attr-defined]


def _source(function: object) -> str:
    import inspect

    return inspect.getsource(function)  # type: ignore[arg-type]
