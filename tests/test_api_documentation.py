"""The API's documentation page in a real headless Chromium: Swagger UI under our CSP."""

import pytest

from tests.browser import needs_chromium
from tests.factories import make_document

pytestmark = [*needs_chromium, pytest.mark.django_db(transaction=True)]


def test_the_documentation_page_shows_every_endpoint_and_tries_one_without_csp_violation(
    browser, live_server
):
    make_document("HTG501", title="Percutaneous venoplasty")
    context = browser.new_context()
    page = context.new_page()
    problems = []
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => "
        "console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
    )
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    foreign = []
    page.on(
        "request",
        lambda r: foreign.append(r.url) if not r.url.startswith(live_server.url) else None,
    )

    page.goto(f"{live_server.url}/api/v1/")

    assert page.title() == "Guidance registry API"
    operations = page.locator(".opblock-summary-path")
    operations.first.wait_for()
    paths = set(operations.all_inner_texts())
    assert "/api/v1/guidance/{reference}/fhir/" in {p.replace("\u200b", "") for p in paths}
    assert len(paths) == 9

    # Try the one-guidance endpoint, as a reader of the documentation would.
    page.locator("#operations-guidance-guidance_detail .opblock-summary").click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_placeholder("reference").fill("htg501")
    page.get_by_role("button", name="Execute").click()
    body = page.locator(".live-responses-table .microlight").first
    body.wait_for()
    assert "Percutaneous venoplasty" in body.inner_text()
    assert problems == []
    assert foreign == []
    context.close()
