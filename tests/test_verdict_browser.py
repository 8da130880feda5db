"""The failed verdict, as an auditor's browser shows it on the history area's pages."""

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from tests.browser import needs_chromium, sign_in
from tests.factories import enrol_authenticator, make_document, make_user

PASSWORD = "correct horse battery"

pytestmark = [
    *needs_chromium,
    pytest.mark.django_db(transaction=True),
    pytest.mark.second_factor,
]


def set_title(title):
    # As someone with the database would, bypassing the registry and its history.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE guidance_guidance SET title = %s WHERE reference = %s", [title, "HTG960"]
        )


def verify():
    call_command("schedule_verification", "--now", stdout=io.StringIO())


def test_an_auditor_sees_the_failed_verdict_as_an_alert_until_history_verifies_again(
    browser, live_server
):
    make_document("HTG960", chapters=1, recommendations=1, title="Honest title")
    auditor = make_user("auditor", groups=["Auditors"], is_staff=True, password=PASSWORD)
    page = browser.new_context().new_page()
    sign_in(page, live_server.url, "auditor", PASSWORD, enrol_authenticator(auditor))

    set_title("Forged title")
    verify()
    timeline = f"{live_server.url}{reverse('audit:timeline', args=['htg960'])}"
    page.goto(timeline)
    alert = page.get_by_role("alert")
    assert alert.is_visible()
    assert "History does not verify" in alert.inner_text()
    assert "a write that bypassed history" in alert.inner_text()
    page.goto(f"{live_server.url}{reverse('audit:log')}")
    assert page.get_by_role("alert").is_visible()

    set_title("Honest title")
    verify()
    page.goto(timeline)
    assert page.get_by_role("alert").count() == 0
    page.goto(f"{live_server.url}{reverse('audit:index')}")
    assert "it verifies" in page.locator("#verification").inner_text()
