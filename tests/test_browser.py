"""Every public page type in a real headless Chromium: axe, landmarks, keyboard, CSP, print."""

import importlib
import io
from urllib.parse import urlparse

import pytest
from django.core.management import call_command

from guidance.history import recording
from guidance.models import GuidanceStatus, Programme
from tests.browser import needs_chromium
from tests.factories import make_document

WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

PAGES = {
    "overview": "/guidance/htg501/",
    "chapter": "/guidance/htg501/chapter/2-the-condition-current-treatments-and-procedure/",
    "history": "/guidance/htg501/history/",
    "whole document": "/guidance/htg501/whole/",
    "replaced": "/guidance/ipg420/",
    "replaced stub": "/guidance/ipg346/",
    "withdrawn": "/guidance/ipg100/",
    "migrated target": "/guidance/ipg640/",
    "list": "/guidance/",
    "list with filters": "/guidance/?q=sclerosis&programme=HTG&status=published"
    "&published_from=2019-01-01&published_to=2026-12-31&sort=title",
    "list with errors": "/guidance/?published_from=soon",
    "list with no results": "/guidance/?q=nothingmatchesthis",
    "not found": "/guidance/no-such-reference/",
}

pytestmark = [
    *needs_chromium,
]


def restore_programmes():
    # The live server's transactional tests empty every table between tests, including the
    # programmes that a migration loaded.
    if Programme.objects.exists():
        return
    loaded = importlib.import_module("guidance.migrations.0002_programmes")
    with recording(reason="Programmes for the browser tests"):
        for code, name, vocabulary, is_active in loaded.PROGRAMMES:
            Programme.objects.create(
                code=code, name=name, recommendation_vocabulary=vocabulary, is_active=is_active
            )


@pytest.fixture
def site(live_server):
    restore_programmes()
    call_command("load_samples", stdout=io.StringIO(), stderr=io.StringIO())
    make_document(
        "IPG100",
        title="A withdrawn procedure",
        status=GuidanceStatus.WITHDRAWN,
        status_explanation="Withdrawn because the device is no longer made.",
    )
    return live_server.url


class Watched:
    """A browser page that records CSP violations and any request leaving the site."""

    def __init__(self, browser, base_url):
        self.context = browser.new_context()
        self.page = self.context.new_page()
        self.host = urlparse(base_url).netloc
        self.base_url = base_url
        self.csp_violations = []
        self.foreign_requests = []
        self.page.add_init_script(
            "document.addEventListener('securitypolicyviolation', e => "
            "console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
        )
        self.page.on("console", self._console)
        self.page.on("request", self._request)

    def _console(self, message):
        text = message.text
        if "Content Security Policy" in text or "CSP violation" in text:
            self.csp_violations.append(text)

    def _request(self, request):
        if urlparse(request.url).netloc not in (self.host, ""):
            self.foreign_requests.append(request.url)

    def open(self, path):
        return self.page.goto(self.base_url + path)

    def close(self):
        self.context.close()


@pytest.fixture
def watched(browser, site):
    watched = Watched(browser, site)
    yield watched
    watched.close()


@pytest.mark.parametrize("page_type", PAGES)
def test_every_page_type_passes_axe_with_landmarks_and_no_csp_violation(watched, page_type):
    from axe_playwright_python.sync_playwright import Axe  # noqa: PLC0415

    response = watched.open(PAGES[page_type])
    page = watched.page

    expected = {"not found": 404, "list with errors": 400}
    assert response.status == expected.get(page_type, 200)
    results = Axe().run(
        page, options={"runOnly": {"type": "tag", "values": WCAG_22_AA}, "resultTypes": []}
    )
    assert results.violations_count == 0, results.generate_report()
    assert page.locator("h1").count() == 1
    assert page.locator("a.skip-link[href='#content']").count() == 1
    assert page.locator("header[role=banner]").count() == 1
    assert page.locator("main#content").count() == 1
    assert page.locator("footer[role=contentinfo]").count() == 1
    assert page.locator("link[rel=stylesheet]").first.evaluate("l => l.sheet !== null")
    assert watched.csp_violations == []
    assert watched.foreign_requests == []


def test_the_skip_link_is_the_first_stop_and_moves_focus_to_the_content(watched):
    watched.open(PAGES["overview"])
    page = watched.page

    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    assert page.locator("a.skip-link").is_visible()
    page.keyboard.press("Enter")

    assert page.evaluate("document.activeElement.id") == "content"


def test_a_search_can_be_made_from_the_keyboard(watched):
    watched.open(PAGES["list"])
    page = watched.page

    page.get_by_label("Search by keyword or reference").focus()
    page.keyboard.type("IPG640")
    page.keyboard.press("Enter")
    page.wait_for_url("**/guidance/?q=IPG640*")

    assert page.locator("[role=status]").inner_text() == "Showing 1 to 1 of 1"
    assert page.locator("table td").nth(1).inner_text() == "HTG501"


def test_a_paragraph_anchor_scrolls_to_and_marks_the_paragraph(watched):
    watched.open(PAGES["chapter"] + "#2.4")
    paragraph = watched.page.locator("[id='2.4']")
    assert paragraph.is_visible()
    assert paragraph.evaluate("element => element.matches(':target')")


def test_a_document_prints_without_navigation_and_with_link_targets(watched):
    watched.open(PAGES["overview"])
    page = watched.page
    page.emulate_media(media="print")

    assert not page.locator("header[role=banner]").is_visible()
    assert not page.locator("nav.contents").is_visible()
    assert page.locator("h1").is_visible()
    link_text = page.locator(".document .replaces a").first.evaluate(
        "a => getComputedStyle(a, '::after').content"
    )
    assert "/guidance/ipg420/" in link_text
