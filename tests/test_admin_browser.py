"""Editors' workflows in a real headless Chromium, against the samples."""

import io

import pytest
from django.core.management import call_command

from guidance.models import ChangeSet, Guidance
from tests.browser import needs_chromium
from tests.factories import enrol_authenticator, make_user

PASSWORD = "correct horse battery"

pytestmark = [
    *needs_chromium,
    pytest.mark.django_db(transaction=True),
    pytest.mark.second_factor,
]


@pytest.fixture
def site(live_server):
    call_command("load_samples", stdout=io.StringIO(), stderr=io.StringIO())
    for username, group in (("editor", "Editors"), ("publisher", "Publishers")):
        user = make_user(username, groups=[group], is_staff=True, password=PASSWORD)
        authenticators[username] = enrol_authenticator(user)
    return live_server.url


authenticators = {}


def navigate(page, selector):
    """Click and wait for the page it leads to."""
    with page.expect_navigation():
        page.click(selector)


def signed_in(browser, site, username):
    page = browser.new_context().new_page()
    page.goto(f"{site}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    navigate(page, "input[type=submit]")
    # The second step: the code the user's authenticator app shows now.
    page.fill("#id_code", authenticators[username]())
    navigate(page, "form:not(.sign-out) button[type=submit]")
    return page


def open_change_page(page, site, reference):
    page.goto(f"{site}/admin/guidance/guidance/?q={reference}")
    navigate(page, f"#result_list a:text-is('{reference}')")


def test_an_editor_must_give_a_reason_and_cannot_delete_published_guidance(browser, site):
    page = signed_in(browser, site, "editor")
    open_change_page(page, site, "HTG501")
    assert page.locator("a.deletelink").count() == 0

    # Published guidance is edited in its draft edition.
    navigate(page, "#start-edition")
    page.fill("#id_title", "Percutaneous venoplasty for CCSVI in multiple sclerosis")
    navigate(page, "input[name=_continue]")
    assert "Say why you are making this change." in page.locator("#content-main").inner_text()

    page.fill("#id_change_reason", "Shorter title for the list")
    navigate(page, "input[name=_continue]")
    assert "was changed successfully" in page.locator("ul.messagelist").inner_text()
    change = ChangeSet.objects.get(reason="Shorter title for the list")
    assert change.user.username == "editor"
    published = Guidance.objects.get(reference="HTG501")
    assert published.last_updated_on is None
    assert published.title != "Percutaneous venoplasty for CCSVI in multiple sclerosis"


def test_a_publisher_migrates_a_sample_and_the_old_reference_leads_to_it(browser, site):
    page = signed_in(browser, site, "publisher")
    open_change_page(page, site, "MTG1")
    navigate(page, "text=Migrate to a new reference")
    page.select_option("#id_programme", "HTG")
    page.fill("#id_number", "255")
    page.fill("#id_month", "2025-12")
    page.fill("#id_reason", "HealthTech merger, December batch")
    navigate(page, "input[type=submit].default")

    assert "MTG1 is now HTG255" in page.locator("ul.messagelist").inner_text()
    page.goto(f"{site}/guidance/mtg1/")
    assert page.url == f"{site}/guidance/htg255/"
    assert "HTG255" in page.locator("main").inner_text()
