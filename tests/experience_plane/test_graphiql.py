"""GraphiQL is served by the API itself: its page, and every file the page loads, come from this
origin (tests/frontend/browser runs it in a real browser with the internet blocked)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pydantic import ValidationError

from experience_plane.graphiql import (
    ASSETS_PATH,
    STATIC_DIR,
    GraphiQLAssets,
    GraphiQLPage,
)
from experience_plane.settings import Environment, Settings
from tests.experience_plane.support import running_app
from tests.support.processes import free_port

LOOPBACK = {"127.0.0.1", "localhost", "::1", "testserver"}
MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".ttf": "font/ttf",
}


class _Page(HTMLParser):
    """The URLs a page loads (script `src`, link `href`) and its GraphiQL configuration."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.config: dict[str, object] | None = None
        self._in_config = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        for attribute in ("src", "href"):
            if named.get(attribute):
                self.urls.append(str(named[attribute]))
        self._in_config = named.get("id") == "graphiql-config"

    def handle_data(self, data: str) -> None:
        if self._in_config:
            self.config = json.loads(data)
            self._in_config = False


def dev_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "runtime_url": f"http://127.0.0.1:{free_port()}",
        "environment": Environment.DEVELOPMENT,
        "insecure_dev": True,
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


def built_assets() -> GraphiQLAssets:
    assets = GraphiQLAssets.load()
    if assets is None:
        pytest.fail(
            f"GraphiQL's assets are not built in {STATIC_DIR}: run `make graphiql` (needs Node "
            "20+; `make install` and `make test` run it when Node is present)"
        )
    return assets


async def test_the_page_and_every_asset_it_loads_are_served_by_the_api() -> None:
    built_assets()
    async with running_app(dev_settings()) as app:
        page = await app.http.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert page.headers["cache-control"] == "no-store"
        assert "default-src 'self'" in page.headers["content-security-policy"]
        parsed = _Page(page.text)
        assert parsed.config is not None
        workers = parsed.config["workers"]
        assert isinstance(workers, dict)
        assert set(workers) == {"editor", "json", "graphql"}  # every Monaco worker, served here
        urls = [*parsed.urls, *workers.values()]
        assert len(urls) == 5  # the bundle, its style sheet, three workers

        for url in list(urls):
            assert url.startswith(f"{ASSETS_PATH}/"), url
            asset = await app.http.get(url)
            assert asset.status_code == 200, url
            assert asset.headers["content-type"] == MEDIA_TYPES[Path(url).suffix], url
            assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
            if url.endswith(".css"):  # and what the style sheet loads (Monaco's icon font)
                for ref in re.findall(r"url\(([^)]+)\)", asset.text):
                    ref = ref.strip("'\"")
                    if not ref.startswith("data:"):
                        font = await app.http.get(f"{ASSETS_PATH}/{ref.removeprefix('./')}")
                        assert font.status_code == 200, ref
                        assert font.headers["content-type"] == MEDIA_TYPES[Path(ref).suffix]

        assert (await app.http.get(f"{ASSETS_PATH}/no-such-file.js")).status_code == 404


async def test_the_page_names_no_other_host() -> None:
    built_assets()
    async with running_app(dev_settings()) as app:
        page = (await app.http.get("/graphql", headers={"accept": "text/html"})).text
    hosts = {urlsplit(url).hostname for url in re.findall(r"[a-z][a-z0-9+.-]*://[^\s\"'<>]+", page)}
    assert hosts <= LOOPBACK, hosts


async def test_development_starts_graphiql_with_the_configured_token() -> None:
    built_assets()
    settings = dev_settings(
        insecure_dev=False, auth_hs256_secret="s" * 32, graphiql_dev_token="t.k.n"
    )
    async with running_app(settings) as app:
        page = await app.http.get("/graphql", headers={"accept": "text/html"})
    config = _Page(page.text).config
    assert config is not None
    assert config["headers"] == {"Authorization": "Bearer t.k.n"}


async def test_without_a_token_graphiql_starts_with_no_headers() -> None:
    built_assets()
    async with running_app(dev_settings()) as app:
        page = await app.http.get("/graphql", headers={"accept": "text/html"})
    config = _Page(page.text).config
    assert config is not None
    assert config["headers"] is None
    assert "Bearer" not in page.text


def test_production_refuses_a_graphiql_token() -> None:
    with pytest.raises(ValidationError, match="EXPERIENCE_GRAPHIQL_DEV_TOKEN is for development"):
        Settings(graphiql=True, graphiql_dev_token="t.k.n")  # type: ignore[arg-type]


async def test_unbuilt_assets_give_a_page_saying_how_to_build_them(tmp_path: Path) -> None:
    assert GraphiQLAssets.load(tmp_path) is None
    page = GraphiQLPage(None, endpoint="/graphql").response()
    text = bytes(page.body).decode()
    assert page.status_code == 200
    assert "GraphiQL's assets were not built" in text
    assert "make install" in text
    assert "npm ci &amp;&amp; npm run build" in text
    assert "<script" not in text


def test_the_configuration_cannot_end_its_script_element() -> None:
    assets = GraphiQLAssets(script="a.js", stylesheet="a.css", workers={"editor": "e.js"})
    hostile = {"Authorization": "</script><script>alert(1)</script>"}
    text = bytes(GraphiQLPage(assets, endpoint="/graphql", headers=hostile).response().body)
    assert text.count(b"</script>") == 2  # the configuration's and the bundle's own
    assert _Page(text.decode()).config == {
        "endpoint": "/graphql",
        "subscriptionUrl": "/graphql",
        "headers": hostile,
        "workers": {"editor": f"{ASSETS_PATH}/e.js"},
    }
