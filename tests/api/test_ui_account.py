"""The signed-in flows' server side (no browser): the Markdown sanitiser, the sign-in pages
(provider endpoints from the cached discovery document, the callback's CSP), the account
pages' shells, origin marks on a node's search and asset pages, the local view."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.ui.markdown import MAX_CHARS, lead_and_rest, render_markdown, safe_link
from kg.catalog import Catalog
from kg.settings import Settings
from tests.support.auth import Issuer, auth_settings
from tests.support.data import AUTH

BROWSER = {"Accept": "text/html"}

# --------------------------------------------------------------------------- Markdown

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "<svg onload=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](java&#115;cript:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<javascript:alert(1)>",
    "[x]( javascript:alert(1))",
    "[x](//evil.example/)",
    "![x](javascript:alert(1))",
    '![x](https://example.org/a.png" onerror="alert(1))',
    '[x](https://example.org/" onmouseover="alert(1))',
    "<iframe src=https://example.org></iframe>",
    "<style>body{display:none}</style>",
    "[ref]\n\n[ref]: javascript:alert(1)",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_never_makes_active_html(text: str) -> None:
    html = str(render_markdown(text))
    tags = re.findall(r"<[^>]*>", html)  # what a browser reads as markup
    assert not [t for t in tags if re.match(r"</?(script|img|svg|iframe|style)\b", t)], html
    assert not [t for t in tags if re.search(r"\son\w+\s*=", t)], html
    for href in re.findall(r'href="([^"]*)"', html):
        assert href.startswith(("https://", "http://", "mailto:")), html


def test_markdown_renders_what_descriptions_use() -> None:
    html = str(render_markdown("# Title\n\n**bold** _it_ `code`\n\n- a\n- b\n\n> quote"))
    assert "<h3>Title</h3>" in html  # under the page's h1 and h2
    assert "<strong>bold</strong>" in html and "<em>it</em>" in html
    assert "<code>code</code>" in html and html.count("<li>") == 2
    assert "<blockquote>" in html
    link = str(render_markdown("[site](https://example.org/x?a=1&b=2) <mailto:a@example.org>"))
    assert 'href="https://example.org/x?a=1&amp;b=2"' in link
    assert 'rel="nofollow ugc noopener"' in link
    assert 'href="mailto:a@example.org"' in link
    image = str(render_markdown("![a chart](https://example.org/chart.png)"))
    assert "<img" not in image and 'href="https://example.org/chart.png"' in image
    assert str(render_markdown("<b>bold?</b>")) == "<p>&lt;b&gt;bold?&lt;/b&gt;</p>\n"
    assert render_markdown(None) == "" and render_markdown("   ") == ""


def test_markdown_input_is_bounded() -> None:
    long = ("word " * 30 + "\n") * (MAX_CHARS // 100)
    html = str(render_markdown(long))
    assert len(html) < MAX_CHARS * 2
    assert "The description is longer" in html
    deep = "> " * 500 + "deep"  # nesting beyond the limit stays text, quickly
    assert str(render_markdown(deep)).count("<blockquote>") <= 20


def test_safe_links_and_lead() -> None:
    assert safe_link("https://example.org/a") and safe_link("mailto:x@example.org")
    for bad in ("javascript:x", "//example.org", "/relative", "https://", "ftp://x.org/", ""):
        assert not safe_link(bad), bad
    lead, rest = lead_and_rest("a" * 600 + "\n\n```\nx\n\ny\n```\n\n" + "b" * 600, 700)
    assert lead.endswith("```") and rest == "b" * 600  # never split inside a code fence
    assert lead_and_rest("short", 700) == ("short", "")


# --------------------------------------------------------------------------- pages


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    found = Issuer()
    yield found
    found.close()


def _issuer_with_endpoints(issuer: Issuer) -> None:
    """The test issuer's discovery document, with the endpoints of a real provider."""
    handler = issuer.server.RequestHandlerClass
    original = handler.do_GET  # type: ignore[attr-defined]

    def do_get(self: Any) -> None:
        if self.path != "/.well-known/openid-configuration":
            original(self)
            return
        import json

        body = json.dumps(
            {
                "issuer": issuer.url,
                "jwks_uri": issuer.url + "/jwks",
                "authorization_endpoint": issuer.url + "/auth",
                "token_endpoint": issuer.url + "/token",
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    handler.do_GET = do_get  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def oidc_client(issuer: Issuer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    _issuer_with_endpoints(issuer)
    settings = auth_settings(
        tmp_path_factory.mktemp("ui-account"), issuer, ui_oidc_client_id="aiod-kg-ui"
    )
    catalog = Catalog(settings)
    with TestClient(create_app(settings, catalog), raise_server_exceptions=False) as client:
        app: Any = client.app
        app.state.oidc.keys()  # the refresher has fetched discovery and keys
        yield client
    catalog.close()


def test_signin_page_offers_the_provider(oidc_client: TestClient, issuer: Issuer) -> None:
    response = oidc_client.get("/signin", headers=BROWSER)
    assert response.status_code == 200
    page = response.text
    assert 'id="oidc-signin"' in page and 'data-client="aiod-kg-ui"' in page
    assert f'data-authorize="{issuer.url}/auth"' in page
    assert f'data-token="{issuer.url}/token"' in page
    assert 'for="key"' in page  # the key fallback stays
    assert response.headers["cache-control"] == "no-store"
    assert "connect-src 'self';" in response.headers["content-security-policy"]
    assert "<script>" not in page


def test_callback_may_connect_to_the_token_endpoint_only(
    oidc_client: TestClient, issuer: Issuer
) -> None:
    response = oidc_client.get("/signin/callback?code=x&state=y", headers=BROWSER)
    policy = response.headers["content-security-policy"]
    assert f"connect-src 'self' {issuer.url};" in policy
    assert "script-src 'self';" in policy and "unsafe" not in policy
    assert response.headers["referrer-policy"] == "no-referrer"
    assert 'id="callback-page"' in response.text


def test_account_pages_are_shells(oidc_client: TestClient) -> None:
    for path, marker in (
        ("/my/assets", 'id="list-rejected"'),
        ("/my/bookmarks", 'id="bookmarks"'),
        ("/review-queue", 'id="queue"'),
    ):
        response = oidc_client.get(path, headers=BROWSER)
        assert response.status_code == 200
        page = response.text
        assert marker in page and "/ui/static/account.js" in page
        assert 'data-prefixes="' in page and "data:datasets" in page
        assert 'id="needs-signin"' in page
        assert "<script>" not in page


def test_no_provider_button_without_a_ui_client(tmp_path: Path, issuer: Issuer) -> None:
    settings = auth_settings(tmp_path, issuer)  # no AIOD_KG_UI_OIDC_CLIENT_ID
    catalog = Catalog(settings)
    try:
        with TestClient(create_app(settings, catalog)) as client:
            page = client.get("/signin").text
            assert 'id="oidc-signin"' not in page and 'for="key"' in page
            policy = client.get("/signin/callback").headers["content-security-policy"]
            assert "connect-src 'self';" in policy
    finally:
        catalog.close()


def test_header_has_the_account_menu(oidc_client: TestClient) -> None:
    page = oidc_client.get("/", headers=BROWSER).text
    assert 'aria-label="Account"' in page and 'href="/signin"' in page
    assert "/ui/static/session.js" in page
    for hidden in ("/my/assets", "/my/bookmarks", "/review-queue"):
        assert re.search(rf"<li data-(signed-in|reviewer) hidden><a href=\"{hidden}\"", page)


# --------------------------------------------------------------------------- origin marks


def _node(tmp: Path, view: str) -> tuple[TestClient, Catalog, dict[str, str]]:
    settings = Settings(
        store=str(tmp / "store"),
        admin_key="test-admin-key",
        base_url="http://127.0.0.1:8000",
        central_url="http://127.0.0.1:9/",
        node_platform="mynode",
        aiod_platform="aiod-central",
        node_view=view,
        linking_enabled=False,
    )
    catalog = Catalog(settings)
    client = TestClient(create_app(settings, catalog), raise_server_exceptions=False)
    client.__enter__()
    ids = {}
    for key, platform in (("local", "mynode"), ("central", "aiod-central")):
        ids[key] = client.post(
            "/datasets",
            headers=AUTH,
            json={
                "platform": platform,
                "platform_resource_identifier": key,
                "name": f"Harbour {key} soundings",
                "description": {"plain": f"Depth soundings of the harbour ({key})."},
                "aiod_entry": {"status": "published"},
            },
        ).json()["identifier"]
    app: Any = client.app
    assert app.state.search.flush(120)
    return client, catalog, ids


def test_origin_marks_on_a_merged_node(tmp_path: Path) -> None:
    client, catalog, ids = _node(tmp_path, "merged")
    try:
        page = client.get("/", params={"q": "harbour soundings"}).text
        assert page.count('class="origin origin-node"') == 1
        assert page.count('class="origin origin-central"') == 1
        central = client.get(f"/datasets/{ids['central']}", headers=BROWSER).text
        assert 'class="origin origin-central"' in central and "aiod-central" in central
        local = client.get(f"/datasets/{ids['local']}", headers=BROWSER).text
        assert 'class="origin origin-node"' in local
    finally:
        client.__exit__(None, None, None)
        catalog.close()


def test_local_view_leaves_the_central_out_of_the_ui(tmp_path: Path) -> None:
    client, catalog, _ids = _node(tmp_path, "local")
    try:
        page = client.get("/", params={"q": "harbour soundings"}).text
        assert "Harbour local soundings" in page
        assert "Harbour central soundings" not in page
    finally:
        client.__exit__(None, None, None)
        catalog.close()


def test_no_marks_off_a_node(oidc_client: TestClient) -> None:
    made = oidc_client.post(
        "/datasets",
        headers=AUTH,
        json={
            "platform": "example",
            "platform_resource_identifier": "plain",
            "name": "Plain dataset",
            "description": {"plain": "Nothing **special**."},
            "aiod_entry": {"status": "published"},
        },
    ).json()
    page = oidc_client.get(f"/datasets/{made['identifier']}", headers=BROWSER).text
    assert 'class="origin' not in page
    assert "<strong>special</strong>" in page  # the description as Markdown
    assert f'data-identifier="{made["identifier"]}"' in page  # the star, for session.js
