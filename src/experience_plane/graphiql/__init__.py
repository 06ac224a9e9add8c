"""GraphiQL, served entirely by the API: it works on a machine without internet access.

The page at `/graphql` (for a browser's GET) loads one script, one style sheet and Monaco's web
workers from `ASSETS_PATH`, never from a CDN. Those assets are built from `web/graphiql/`
(GraphiQL with the explorer plugin, bundled by esbuild from the npm registry through a committed
lockfile) into `static/` beside this module, which git ignores: `make install` builds them when
Node is present, and the Docker image builds them in a Node stage. Until they are built the page
says so and how to build them. In development the page can start with a token in GraphiQL's
headers editor, so the first introspection succeeds; production never embeds one.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

ASSETS_PATH = "/graphiql/assets"
STATIC_DIR = Path(__file__).parent / "static"
BUILD_COMMAND = "make install (or: cd web/graphiql && npm ci && npm run build)"

# Every built file's name carries a hash of its content: a changed file is a new URL.
IMMUTABLE = "public, max-age=31536000, immutable"
# The media types the browser must see (the platform's mimetypes table varies).
MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".ttf": "font/ttf",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}
# Everything from this origin: scripts, workers, fetches and the WebSocket; Monaco and React
# set inline styles, and the fonts are data: URLs inside the style sheet.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "worker-src 'self'",
        "connect-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "font-src 'self' data:",
        "img-src 'self' data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)


@dataclass(frozen=True)
class GraphiQLAssets:
    """The built files the page refers to, as `web/graphiql/build.mjs` lists them in
    `manifest.json`: the bundle, its style sheet and one worker per Monaco language label."""

    script: str
    stylesheet: str
    workers: Mapping[str, str]

    @classmethod
    def load(cls, directory: Path = STATIC_DIR) -> GraphiQLAssets | None:
        """The assets built into `directory`, or None when they were not built."""
        try:
            manifest: dict[str, Any] = json.loads((directory / "manifest.json").read_text())
        except FileNotFoundError:
            return None
        return cls(
            script=manifest["script"],
            stylesheet=manifest["stylesheet"],
            workers=dict(manifest["workers"]),
        )


class GraphiQLPage:
    """The GraphiQL page for the GraphQL endpoint at `endpoint`, rendered once.

    `headers` (development only) fill GraphiQL's headers editor, which it sends with every HTTP
    request and as the WebSocket `connection_init` payload.
    """

    def __init__(
        self,
        assets: GraphiQLAssets | None,
        *,
        endpoint: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.assets = assets
        self._html = (
            _page(assets, endpoint=endpoint, headers=headers)
            if assets is not None
            else _not_built_page()
        )

    def response(self) -> HTMLResponse:
        """The page; never cached, as it may carry a development token."""
        return HTMLResponse(
            self._html,
            headers={
                "Cache-Control": "no-store",
                "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                "X-Content-Type-Options": "nosniff",
            },
        )


class GraphiQLAssetFiles(StaticFiles):
    """The built assets, with explicit media types and, their names being content-hashed,
    cached for good."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        media_type = MEDIA_TYPES.get(Path(full_path).suffix)
        if media_type is not None:
            response.headers["Content-Type"] = media_type
        response.headers["Cache-Control"] = IMMUTABLE
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def asset_files(directory: Path = STATIC_DIR) -> GraphiQLAssetFiles:
    """The ASGI app serving the built assets (mounted at `ASSETS_PATH`)."""
    return GraphiQLAssetFiles(directory=directory / "assets", check_dir=False)


def _page(assets: GraphiQLAssets, *, endpoint: str, headers: Mapping[str, str] | None) -> str:
    config = {
        "endpoint": endpoint,
        # graphql-transport-ws on the same path (the page makes it a ws:// or wss:// URL).
        "subscriptionUrl": endpoint,
        "headers": dict(headers) if headers else None,
        "workers": {label: f"{ASSETS_PATH}/{name}" for label, name in assets.workers.items()},
    }
    # JSON inside <script>: escape what could end the element or start markup.
    config_json = (
        json.dumps(config).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    )
    script = html.escape(f"{ASSETS_PATH}/{assets.script}")
    stylesheet = html.escape(f"{ASSETS_PATH}/{assets.stylesheet}")
    return f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>GraphiQL · Experience Plane</title>
    <link rel="stylesheet" href="{stylesheet}">
    <style>html, body, #graphiql {{ height: 100%; margin: 0; }}</style>
    <script id="graphiql-config" type="application/json">{config_json}</script>
    <script src="{script}" defer></script>
  </head>
  <body>
    <div id="graphiql">Loading GraphiQL…</div>
  </body>
</html>
"""


def _not_built_page() -> str:
    command = html.escape(BUILD_COMMAND)
    return f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>GraphiQL · assets not built</title>
  </head>
  <body>
    <h1>GraphiQL's assets were not built</h1>
    <p>This API serves GraphiQL from its own files, never from a CDN, and they are built
    from <code>web/graphiql/</code> with Node 20 or later: run <code>{command}</code>,
    then restart the API. GraphQL itself works at this URL meanwhile (POST, or a WebSocket).</p>
  </body>
</html>
"""
