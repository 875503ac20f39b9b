"""Headless Chromium for the UI tests, and a live Deskmail web server for it to visit.

The browser is Debian's Chromium (`/usr/bin/chromium`, or `DESKMAIL_CHROMIUM`) driven by
Playwright's Python package - `playwright install` is never run, nothing is downloaded. One
browser per test session (per xdist worker); each test gets a fresh context (no cookies).

`live_web(app, config)` runs the real `WebService` (uvicorn on a thread) on a free loopback
port. `screenshot(page, name)` writes `<name>.png` into `DESKMAIL_SCREENSHOTS` when set (the
`scripts/screenshots` command sets it to docs/screenshots) and into the session's temporary
folder otherwise.

Import the fixtures into a conftest (`from tests.servers.browser import browser, ...`) or add
this module to `pytest_plugins`; tests that use them carry the `browser` marker.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, sync_playwright

from deskmail.app import App
from deskmail.web.config import WebConfig
from deskmail.web_service import WebService

CHROMIUM = Path(os.environ.get("DESKMAIL_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT: ViewportSize = {"width": 1360, "height": 860}

Screenshot = Callable[[Page, str], Path]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium, driven by Playwright."""
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def browser_context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile for one test."""
    context = browser.new_context(viewport=VIEWPORT, locale="en-GB", timezone_id="UTC")
    context.set_default_timeout(15_000)
    yield context
    context.close()


@contextmanager
def live_web(app: App, config: WebConfig | None = None) -> Iterator[WebService]:
    """The web service of `app` on a free loopback port, stopped afterwards."""
    service = WebService(app, listen="127.0.0.1:0", config=config)
    service.start()
    try:
        yield service
    finally:
        service.stop(5.0)


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go."""
    configured = os.environ.get("DESKMAIL_SCREENSHOTS")
    folder = Path(configured) if configured else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def screenshot(screenshot_dir: Path) -> Screenshot:
    """Save a full-page PNG of `page` as `<name>.png`; returns its path."""

    def take(page: Page, name: str) -> Path:
        path = screenshot_dir / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
