"""The website's signed-in flows in a real browser (headless Debian Chromium, Playwright)
against a real ``aiod-kg serve`` and the real OIDC provider of tests/oidc (npm oidc-provider):
sign-in by redirect (Authorization Code + PKCE done by the page) and sign-out, My assets (a
draft, a submitted and a rejected asset with the reviewer's comment), bookmark stars and the
bookmarks page, the reviewer queue (accept and reject with a comment, by another user with
the reviewer role), descriptions as safe Markdown, and origin marks on a node (its own assets
vs the mirrored central catalogue).

One provider, one server (a node: AIOD_KG_CENTRAL_URL, nothing pushed) and one browser for
the module; each test gets a fresh browser context. Screenshots go to test-output/browser/.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urljoin, urlsplit

import httpx
import pytest
from joserfc.jwk import RSAKey

from tests.support import oidc
from tests.support.browser import chromium, playwright_or_skip, shot, watched_page
from tests.support.data import AUTH, OIDC_PROJECT
from tests.support.server import free_port, needs_engine, running_server, starts_server
from tests.support.ui_data import wait_indexed

sync_api = playwright_or_skip()
pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.engine]

AUDIENCE = "urn:aiod-kg"
UI_CLIENT = "aiod-kg-ui"
NODE = "mynode"
CENTRAL = "aiod-central"
USERS = {
    "ursula": {"name": "Ursula", "roles": ["edit_aiod_resources"]},
    "rita": {"name": "Rita", "roles": ["review_aiod_resources"]},
}
HOSTILE = (
    "**Bold claims** about [a safe link](https://example.org/safe).\n\n"
    "<script>window.__xss = 1</script>\n\n"
    '<img src=x onerror="window.__xss = 2">\n\n'
    "[click me](javascript:window.__xss=3) and <javascript:window.__xss=4> and "
    "[data](data:text/html,<script>window.__xss=5</script>)\n\n"
    "![tracker](https://example.org/pixel.png)\n\n"
    "# A heading\n\n- one\n- two\n"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any, world: World) -> Iterator[Any]:
    """A fresh context per test; no script errors, CSP violations or failed loads on the
    catalog's pages (the provider's own login page is not ours to judge)."""
    with watched_page(browser, lambda tab: bool(tab.url.startswith(world.base))) as (
        tab,
        errors,
    ):
        yield tab
    assert not errors, errors


class OidcProvider:
    """The Node provider process with the UI's public client and two people."""

    def __init__(self, workdir: Path, redirect_uri: str) -> None:
        if shutil.which("node") is None:
            pytest.skip("Node.js is not installed")
        if not (OIDC_PROJECT / "node_modules" / "oidc-provider").is_dir():
            pytest.skip("tests/oidc has no node_modules (make install runs npm ci)")
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.redirect_uri = redirect_uri
        key = RSAKey.generate_key(2048, parameters={"kid": "ui", "use": "sig", "alg": "RS256"})
        config = {
            "keys": {"keys": [key.as_dict(private=True)]},
            "audience": AUDIENCE,
            "clients": {},
            "ui_client": {"client_id": UI_CLIENT, "redirect_uris": [redirect_uri]},
            "users": USERS,
        }
        self.process = oidc.launch(self.port, config, workdir)

    def token(self, login: str) -> str:
        """An access token for ``login`` by the same flow the page runs (the provider's login
        form, Authorization Code + PKCE), for the tests' own API calls."""
        verifier = secrets.token_urlsafe(32)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        with httpx.Client(timeout=30) as client:
            form = client.get(
                f"{self.issuer}/auth",
                params={
                    "response_type": "code",
                    "client_id": UI_CLIENT,
                    "redirect_uri": self.redirect_uri,
                    "scope": "openid profile",
                    "state": "s",
                    "nonce": "n",
                    "code_challenge": challenge.rstrip(b"=").decode(),
                    "code_challenge_method": "S256",
                },
                follow_redirects=True,
            )
            action = re.search(r'action="([^"]+)"', form.text)
            assert action, form.text
            answer = client.post(
                urljoin(str(form.url), action.group(1)),
                data={"prompt": "login", "login": login, "password": "any"},
            )
            while not answer.headers["location"].startswith(self.redirect_uri):
                answer = client.get(urljoin(str(answer.url), answer.headers["location"]))
            code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
            token = client.post(
                f"{self.issuer}/token",
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": self.redirect_uri,
                    "client_id": UI_CLIENT,
                    "code_verifier": verifier,
                },
            )
        assert token.status_code == 200, token.text
        return str(token.json()["access_token"])

    def stop(self) -> None:
        oidc.stop(self.process)


class World:
    def __init__(self, base: str, provider: OidcProvider, ids: dict[str, str]) -> None:
        self.base = base
        self.provider = provider
        self.ids = ids

    def bearer(self, login: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.provider.token(login)}"}


def published(name: str, platform: str, description: str, key: str) -> dict[str, Any]:
    return {
        "platform": platform,
        "platform_resource_identifier": key,
        "name": name,
        "description": {"plain": description},
        "keyword": ["flows"],
        "aiod_entry": {"status": "published"},
    }


def draft(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "description": {"plain": f"{name}, a dataset of Ursula's."},
        "aiod_entry": {"status": "draft"},
    }


@pytest.fixture(scope="module")
@starts_server
@needs_engine
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("ui-flows")
    port = free_port()
    provider = OidcProvider(folder, f"http://127.0.0.1:{port}/signin/callback")
    env = {
        "AIOD_KG_OIDC_ISSUER": provider.issuer,
        "AIOD_KG_OIDC_AUDIENCE": AUDIENCE,
        "AIOD_KG_UI_OIDC_CLIENT_ID": UI_CLIENT,
        "AIOD_KG_OIDC_JWKS_MIN_REFRESH": "0",
        # a node that mirrors its central (nothing is pushed without --sync-every)
        "AIOD_KG_CENTRAL_URL": "http://127.0.0.1:9/",
        "AIOD_KG_NODE_PLATFORM": NODE,
        "AIOD_KG_AIOD_PLATFORM": CENTRAL,
    }
    try:
        with running_server(folder / "store", env=env, port=port) as server:
            base = server.base_url
            records = {
                "local": published(
                    "Lighthouse flows local", NODE, "Tide tables of this node.", "l1"
                ),
                "central": published(
                    "Lighthouse flows central", CENTRAL, "Tide tables of the central.", "c1"
                ),
                "hostile": published("Markdown flows hostile", NODE, HOSTILE, "h1"),
                "star": published("Starfish flows", NODE, "Starfish counts by beach.", "s1"),
            }
            ids = {}
            for key, record in records.items():
                made = httpx.post(f"{base}/datasets", headers=AUTH, json=record, timeout=30)
                assert made.status_code == 200, made.text
                ids[key] = made.json()["identifier"]
            wait_indexed(base, len(ids))
            yield World(base, provider, ids)
    finally:
        provider.stop()


# --------------------------------------------------------------------------- helpers


def sign_in(world: World, page: Any, login: str, start: str = "/") -> None:
    """Sign in by redirect, as a person does: the header's link, the provider's form, back."""
    page.goto(world.base + start)
    page.get_by_role("navigation", name="Account").get_by_role("link", name="Sign in").click()
    page.wait_for_url("**/signin?next=*")
    page.get_by_role("button", name="Sign in with your identity provider").click()
    page.wait_for_url(f"{world.provider.issuer}/**")
    page.locator('input[name="login"]').fill(login)
    page.locator('input[name="password"]').fill("any password")
    page.locator('button[type="submit"]').click()
    page.wait_for_url(world.base + start)
    who = page.get_by_role("navigation", name="Account")
    who.get_by_text(USERS[login]["name"], exact=True).wait_for()


def session_token(page: Any) -> str:
    return str(page.evaluate("sessionStorage.getItem('aiodkg.token')") or "")


def create_draft(world: World, headers: dict[str, str], name: str) -> str:
    made = httpx.post(f"{world.base}/datasets", headers=headers, json=draft(name), timeout=30)
    assert made.status_code == 200, made.text
    return str(made.json()["identifier"])


def submit(world: World, headers: dict[str, str], identifier: str) -> int:
    sent = httpx.post(
        f"{world.base}/submissions",
        headers=headers,
        json={"asset_identifiers": [identifier], "comment": "please review"},
        timeout=30,
    )
    assert sent.status_code == 200, sent.text
    return int(sent.json()["submission_identifier"])


# --------------------------------------------------------------------------- sign-in


def test_redirect_sign_in_and_sign_out(world: World, page: Any) -> None:
    page.goto(world.base + "/")
    account = page.get_by_role("navigation", name="Account")
    assert account.get_by_role("link", name="My assets").count() == 0  # hidden: signed out
    assert account.get_by_role("button", name="Sign out").count() == 0
    page.goto(world.base + "/signin")
    shot(page, "20-signin")
    sign_in(world, page, "ursula", "/?q=lighthouse")
    token = session_token(page)
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["iss"] == world.provider.issuer and claims["sub"] == "ursula"
    assert claims["aud"] == AUDIENCE
    assert "code=" not in page.url  # the one-time code never stays in the address
    assert page.evaluate("sessionStorage.getItem('aiodkg.oidc')") is None  # state used up
    assert account.get_by_role("link", name="My assets").is_visible()
    assert account.get_by_role("link", name="Review queue").count() == 0  # not a reviewer
    shot(page, "21-signed-in")
    # the token works for the API as the page sends it
    me = httpx.get(
        f"{world.base}/authorization_test",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert me.json()["name"] == "Ursula"

    account.get_by_role("button", name="Sign out").click()
    account.get_by_role("link", name="Sign in").wait_for()
    assert session_token(page) == ""
    assert account.get_by_role("link", name="My assets").count() == 0
    assert account.get_by_role("button", name="Sign out").count() == 0
    shot(page, "22-signed-out")


def test_callback_refuses_a_foreign_state(world: World, page: Any) -> None:
    """An answer to a sign-in this tab did not start (a forged or replayed redirect) signs
    nobody in."""
    page.goto(world.base + "/signin/callback?code=forged&state=forged")
    page.get_by_text("Sign-in failed: this answer is not for a sign-in started").wait_for()
    assert session_token(page) == ""
    assert page.get_by_role("link", name="Start the sign-in again").is_visible()


def test_sign_in_with_a_key_still_works(world: World, page: Any) -> None:
    made = httpx.post(
        f"{world.base}/api_keys", headers=AUTH, json={"name": "Keyed", "roles": []}, timeout=30
    )
    page.goto(world.base + "/signin?next=/my/bookmarks")
    page.get_by_label("API key or access token").fill(made.json()["key"])
    page.get_by_role("button", name="Sign in with the key").click()
    page.wait_for_url("**/my/bookmarks")
    page.get_by_role("navigation", name="Account").get_by_text("Keyed", exact=True).wait_for()
    page.get_by_text("No bookmarks yet.").wait_for()


# --------------------------------------------------------------------------- my assets


def test_my_assets_draft_submitted_rejected_with_comment(world: World, page: Any) -> None:
    ursula, rita = world.bearer("ursula"), world.bearer("rita")
    drafted = create_draft(world, ursula, "Ursula's draft table")
    waiting = create_draft(world, ursula, "Ursula's submitted table")
    refused = create_draft(world, ursula, "Ursula's refused table")
    submit(world, ursula, waiting)
    number = submit(world, ursula, refused)
    decided = httpx.post(
        f"{world.base}/reviews",
        headers=rita,
        json={
            "submission_identifier": number,
            "decision": "rejected",
            "comment": "Add a licence <b>please</b>",
        },
        timeout=30,
    )
    assert decided.status_code == 200, decided.text

    sign_in(world, page, "ursula")
    page.get_by_role("navigation", name="Account").get_by_role("link", name="My assets").click()
    page.wait_for_url("**/my/assets")
    for status, identifier in (("draft", drafted), ("submitted", waiting), ("rejected", refused)):
        group = page.locator(f"#list-{status}")
        group.locator(f'li[data-identifier="{identifier}"]').wait_for()
    rejected = page.locator(f'#list-rejected li[data-identifier="{refused}"]')
    comment = rejected.locator(".review-comment")
    assert "Add a licence <b>please</b>" in comment.inner_text()  # the comment, as text
    assert comment.locator("b").count() == 0
    assert page.locator("#list-draft").get_by_text("Ursula's draft table").count() == 1
    shot(page, "23-my-assets")

    # a draft is submitted from the page
    page.get_by_role("button", name="Submit Ursula's draft table for review").click()
    page.locator(f'#list-submitted li[data-identifier="{drafted}"]').wait_for()
    got = httpx.get(f"{world.base}/datasets/{drafted}", headers=ursula, timeout=30)
    assert got.json()["aiod_entry"]["status"] == "submitted"


# --------------------------------------------------------------------------- bookmarks


def starred(page: Any) -> None:
    """Wait until the page's first star shows the bookmark (a locator assertion: the page's
    CSP refuses the eval that a string predicate of ``wait_for_function`` needs)."""
    sync_api.expect(page.locator("button.star").first).to_have_attribute("aria-pressed", "true")


def test_bookmark_stars_and_page(world: World, page: Any) -> None:
    sign_in(world, page, "ursula", "/?q=starfish")
    star = page.get_by_role("button", name="Bookmark Starfish flows")
    star.wait_for()
    assert star.get_attribute("aria-pressed") == "false"
    star.click()
    starred(page)
    shot(page, "24-star-result")

    page.goto(f"{world.base}/datasets/{world.ids['local']}")
    on_page = page.get_by_role("button", name="Bookmark Lighthouse flows local")
    on_page.wait_for()
    on_page.click()
    starred(page)
    marked = httpx.get(f"{world.base}/bookmarks", headers=world.bearer("ursula"), timeout=30)
    assert {b["resource_identifier"] for b in marked.json()} >= {
        world.ids["star"],
        world.ids["local"],
    }

    page.get_by_role("navigation", name="Account").get_by_role("link", name="Bookmarks").click()
    page.wait_for_url("**/my/bookmarks")
    listing = page.get_by_role("list", name="Bookmarked assets")
    listing.get_by_role("link", name="Starfish flows").wait_for()
    assert listing.get_by_role("link", name="Lighthouse flows local").count() == 1
    shot(page, "25-bookmarks")
    page.get_by_role("button", name="Remove bookmark Starfish flows").click()
    page.get_by_text("Removed the bookmark of Starfish flows.").wait_for()
    assert listing.get_by_role("link", name="Starfish flows").count() == 0
    after = httpx.get(f"{world.base}/bookmarks", headers=world.bearer("ursula"), timeout=30)
    assert world.ids["star"] not in {b["resource_identifier"] for b in after.json()}

    # the star shows the bookmark on the next visit, and is gone when signed out
    page.goto(f"{world.base}/datasets/{world.ids['local']}")
    starred(page)
    page.get_by_role("navigation", name="Account").get_by_role("button", name="Sign out").click()
    assert page.locator("button.star").is_hidden()


# --------------------------------------------------------------------------- review queue


def test_reviewer_queue_accept_and_reject_with_comment(world: World, page: Any) -> None:
    ursula = world.bearer("ursula")
    good = create_draft(world, ursula, "Queue good table")
    weak = create_draft(world, ursula, "Queue weak table")
    first, second = submit(world, ursula, good), submit(world, ursula, weak)

    sign_in(world, page, "rita")
    account = page.get_by_role("navigation", name="Account")
    account.get_by_role("link", name="Review queue").click()
    page.wait_for_url("**/review-queue")
    queue = page.get_by_role("list", name="Pending submissions")
    accept_item = queue.locator(f'li[data-submission="{first}"]')
    reject_item = queue.locator(f'li[data-submission="{second}"]')
    accept_item.wait_for()
    assert "Queue good table" in accept_item.inner_text()
    shot(page, "26-review-queue")

    page.get_by_label(f"Comment for submission {first}").fill("Clear and complete, thanks.")
    page.get_by_role("button", name=f"Accept submission {first}").click()
    accept_item.get_by_text("Accepted: published.").wait_for()
    page.get_by_label(f"Comment for submission {second}").fill("The description is too thin.")
    page.get_by_role("button", name=f"Reject submission {second}").click()
    reject_item.get_by_text("Rejected: sent back to its owner.").wait_for()
    shot(page, "27-review-decided")

    assert httpx.get(f"{world.base}/datasets/{good}", timeout=30).status_code == 200  # public
    back = httpx.get(f"{world.base}/datasets/{weak}", headers=ursula, timeout=30).json()
    assert back["aiod_entry"]["status"] == "rejected"
    done = httpx.get(f"{world.base}/submissions/{second}", headers=ursula, timeout=30).json()
    assert done["reviews"][0]["comment"] == "The description is too thin."

    # a non-reviewer sees no queue
    page.get_by_role("navigation", name="Account").get_by_role("button", name="Sign out").click()
    sign_in(world, page, "ursula", "/review-queue")
    page.get_by_text("Only reviewers").wait_for()
    assert page.get_by_role("list", name="Pending submissions").is_hidden()


# --------------------------------------------------------------------------- Markdown, origin


def test_markdown_description_runs_no_html(world: World, page: Any) -> None:
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(f"{world.base}/datasets/{world.ids['hostile']}")
    description = page.get_by_role("region", name="Description")
    assert description.locator("strong").inner_text() == "Bold claims"
    safe = description.get_by_role("link", name="a safe link")
    assert safe.get_attribute("href") == "https://example.org/safe"
    assert "nofollow" in (safe.get_attribute("rel") or "")
    assert description.get_by_role("heading", name="A heading").count() == 1
    assert page.locator("h1").count() == 1  # the description's heading sits lower
    assert description.locator("li").count() == 2
    assert description.locator("script, img, iframe, [onerror]").count() == 0
    hrefs = [a.get_attribute("href") or "" for a in description.locator("a").all()]
    assert all(h.startswith("https://") for h in hrefs), hrefs
    text = description.inner_text()
    assert "<script>window.__xss = 1</script>" in text  # shown as text, never run
    assert "[click me](javascript:window.__xss=3)" in text
    page.locator("button.star").first.wait_for(state="attached")
    assert page.evaluate("window.__xss") is None and not dialogs
    shot(page, "28-markdown")


def test_origin_marks_on_results_and_asset_page(world: World, page: Any) -> None:
    page.goto(world.base + "/?q=lighthouse+flows")
    hits = page.locator("ol.hits li.hit")
    marks = {
        hit.locator("h3").inner_text().strip(): hit.locator(".origin").inner_text().strip()
        for hit in hits.all()
    }
    assert marks["Lighthouse flows local"] == "This node", marks
    assert marks["Lighthouse flows central"] == "Central catalogue", marks
    shot(page, "29-origin-results")
    # the same marks as /search gives (one hit per work there: a pair may be grouped)
    api = httpx.get(f"{world.base}/search", params={"q": "lighthouse flows"}, timeout=30).json()
    expected = {"Lighthouse flows local": "node", "Lighthouse flows central": "central"}
    origins = {h["name"]: h["origin"] for h in api["items"] if h["name"] in expected}
    assert origins and all(expected[name] == found for name, found in origins.items())

    page.goto(f"{world.base}/datasets/{world.ids['central']}")
    mark = page.locator(".asset-head .origin")
    assert mark.inner_text().strip() == "Central catalogue"
    assert CENTRAL in (mark.get_attribute("title") or "")
    shot(page, "30-origin-asset")


def test_signed_in_pages_ask_to_sign_in(world: World, page: Any) -> None:
    for path in ("/my/assets", "/my/bookmarks", "/review-queue"):
        page.goto(world.base + path)
        prompt = page.locator("#needs-signin")
        prompt.wait_for()
        href = prompt.get_by_role("link", name="Sign in").get_attribute("href") or ""
        assert unquote(href) == "/signin?next=" + path
