"""Headless Debian Chromium for the UI's browser tests: Playwright drives ``/usr/bin/chromium``
(``.ci/run`` installs it; never ``playwright install``), one browser per module, a fresh
context per test that records script errors, CSP violations and failed loads, and
screenshots under ``test-output/browser/`` (git-ignored)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.data import REPO

CHROMIUM = os.environ.get("AIOD_KG_CHROMIUM", "/usr/bin/chromium")
SHOTS = REPO / "test-output" / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]


def playwright_or_skip() -> Any:
    """Playwright's sync API; skips the calling module when it or Chromium is missing."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(
            f"no Chromium at {CHROMIUM} (.ci/run installs Debian's chromium)",
            allow_module_level=True,
        )
    return sync_api


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless Chromium (a module-scoped fixture's body)."""
    sync_api = playwright_or_skip()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def watched_page(
    browser: Any, judged: Callable[[Any], bool] = lambda page: True
) -> Iterator[tuple[Any, list[str]]]:
    """A page in a fresh context and the errors seen on it (script errors, console errors:
    CSP violations, failed loads) while ``judged(page)`` holds (e.g. only on the catalog's
    own pages); the caller asserts on them once the test is done."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)) if judged(page) else None)
    page.on(
        "console",
        lambda m: errors.append(m.text) if m.type == "error" and judged(page) else None,
    )
    try:
        yield page, errors
    finally:
        context.close()


def shot(page: Any, name: str) -> None:
    """Keep a screenshot of the whole page."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
