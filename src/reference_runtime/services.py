"""The Runtime's parts, assembled once per app, reached by handlers through a dependency."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends
from starlette.requests import HTTPConnection

from reference_runtime.blobs import BlobStore
from reference_runtime.executor import Executor, StatusHub
from reference_runtime.faults import LiveControls, RuntimeStats
from reference_runtime.settings import RuntimeMode, RuntimeSettings
from reference_runtime.store import Store


@dataclass(frozen=True, slots=True)
class RuntimeServices:
    """Everything a request handler may use."""

    settings: RuntimeSettings
    store: Store
    blobs: BlobStore
    executor: Executor
    hub: StatusHub
    controls: LiveControls
    stats: RuntimeStats

    @property
    def mode(self) -> RuntimeMode:
        """The mode the Runtime runs in."""
        return self.settings.mode


def get_services(connection: HTTPConnection) -> RuntimeServices:
    """The services of the app serving this request or WebSocket."""
    return cast(RuntimeServices, connection.app.state.services)


Services = Annotated[RuntimeServices, Depends(get_services)]
