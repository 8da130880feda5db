"""A real headless Chromium (Debian's package) driven by Playwright, for the browser tests."""

import os
import pathlib

import pytest

CHROMIUM = pathlib.Path("/usr/bin/chromium")
# Without the background-networking flags Chromium tries to reach Google's hosts at start.
# Debian's launcher turns GPU rasterization on, which with no GPU runs in SwiftShader, and site
# isolation starts more processes a page: neither changes what the tests check, and together
# they cost about a tenth of the browser tests' CPU, which the suite's processes share.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-gpu-rasterization",
    "--disable-site-isolation-trials",
    "--disable-features=IsolateOrigins,site-per-process,SpareRendererForSitePerProcess",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

needs_chromium = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    # Playwright's sync API runs an event loop; the tests' own database work is still sync.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE")
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def sign_in(page, site, username, password, authenticator):
    """Sign in to the admin as a person does: the password, then the authenticator's code."""
    page.goto(f"{site}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("input[type=submit]")
    page.fill("#id_code", authenticator())
    with page.expect_navigation():
        page.click("form:not(.sign-out) button[type=submit]")
