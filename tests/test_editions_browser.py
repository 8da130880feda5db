"""Editions, review, scheduled publication and the relation rules in a real headless Chromium."""

import datetime
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from guidance.editorial.services import migrate_guidance
from guidance.models import ChangeSet, Guidance
from guidance.public.page_cache import forget_all_pages
from tests.browser import needs_chromium, sign_in
from tests.factories import enrol_authenticator, make_guidance, make_user
from tests.redis_server import redis_is_running

PASSWORD = "correct horse battery"
ROOT = Path(__file__).resolve().parents[1]

pytestmark = [
    *needs_chromium,
    pytest.mark.django_db(transaction=True),
    pytest.mark.second_factor,
]

authenticators = {}


@pytest.fixture
def site(live_server):
    call_command("load_samples", stdout=io.StringIO(), stderr=io.StringIO())
    for username, group in (("editor", "Editors"), ("publisher", "Publishers")):
        user = make_user(username, groups=[group], is_staff=True, password=PASSWORD)
        authenticators[username] = enrol_authenticator(user)
    return live_server.url


def navigate(page, selector):
    """Click and wait for the page it leads to."""
    with page.expect_navigation():
        page.click(selector)


def signed_in(browser, site, username):
    page = browser.new_context().new_page()
    sign_in(page, site, username, PASSWORD, authenticators[username])
    return page


def edit_in_a_draft(page, site, reference, title, reason):
    page.goto(f"{site}/admin/guidance/guidance/?q={reference}")
    navigate(page, f"#result_list a:text-is('{reference}')")
    navigate(page, "#start-edition")
    assert "This is the draft edition of" in page.locator("#content-main").inner_text()
    page.fill("#id_title", title)
    page.fill("#id_change_reason", reason)
    navigate(page, "input[name=_continue]")
    assert "was changed successfully" in page.locator("ul.messagelist").inner_text()


def submit_for_review(page, note):
    navigate(page, "text=Submit for review")
    page.fill("#id_note", note)
    navigate(page, "input[type=submit].default")


def public_title(page, site, reference):
    page.goto(f"{site}/guidance/{reference.lower()}/")
    return page.locator("main h1").inner_text()


def test_an_edit_to_published_htg501_stays_off_the_public_page_until_approved(browser, site):
    editor = signed_in(browser, site, "editor")
    original = public_title(editor, site, "HTG501")
    edit_in_a_draft(editor, site, "HTG501", "Venoplasty for CCSVI (draft)", "Clearer title")

    reader = browser.new_context().new_page()
    assert public_title(reader, site, "HTG501") == original
    # The preview shows the draft, and its links stay inside the preview.
    editor.goto(editor.url.replace("/change/", "/preview/"))
    assert "Venoplasty for CCSVI (draft)" in editor.locator("main").inner_text()
    navigate(editor, "nav a:text-is('History')")
    assert "/preview/history/" in editor.url
    navigate(editor, "text=Back to the edit form")
    submit_for_review(editor, "New title agreed with the committee")

    publisher = signed_in(browser, site, "publisher")
    waiting = publisher.locator("#awaiting-review")
    assert "New title agreed with the committee" in waiting.inner_text()
    navigate(publisher, "#awaiting-review a")
    differences = publisher.locator(".edition-differences")
    assert "(draft)" in differences.locator("ins").all_inner_texts()[-1]
    assert public_title(reader, site, "HTG501") == original

    publisher.check("input[name=decision][value=publish]")
    publisher.fill("#id_comment", "Approved")
    navigate(publisher, "input[type=submit].default")
    assert "is published" in publisher.locator("ul.messagelist").inner_text()
    assert public_title(reader, site, "HTG501") == "Venoplasty for CCSVI (draft)"


# The server and the worker share the page cache through Redis, as in production (a database
# of its own: the test empties it).
SHARED_REDIS = "redis://127.0.0.1:6379/14"


@pytest.fixture
def worker(site, settings):
    """The real background worker, as `make run` starts it, on the test database."""
    if connection.vendor != "postgresql":
        pytest.skip("a second process cannot open SQLite's in-memory test database")
    if not redis_is_running():
        pytest.skip("needs Redis at 127.0.0.1:6379 for the page cache both processes share")
    settings.CACHES = {
        "default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": SHARED_REDIS}
    }
    forget_all_pages()
    database = connection.settings_dict
    url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    process = subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--interval", "0.5"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url, "REDIS_URL": SHARED_REDIS},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    yield process
    process.terminate()
    process.wait(timeout=10)


def test_a_scheduled_publication_goes_live_on_time_with_the_worker_running(browser, site, worker):
    editor = signed_in(browser, site, "editor")
    original = public_title(editor, site, "HTG501")
    edit_in_a_draft(editor, site, "HTG501", "Embargoed title", "Embargoed until the launch")
    submit_for_review(editor, "For the launch")

    publisher = signed_in(browser, site, "publisher")
    navigate(publisher, "#awaiting-review a")
    publisher.check("input[name=decision][value=schedule]")
    go_live = timezone.localtime() + datetime.timedelta(seconds=6)
    publisher.fill("#id_publish_at", go_live.strftime("%Y-%m-%dT%H:%M:%S"))
    publisher.fill("#id_comment", "Approved for the launch")
    navigate(publisher, "input[type=submit].default")
    assert "will go live" in publisher.locator("ul.messagelist").inner_text()
    assert "Embargoed title" not in public_title(publisher, site, "HTG501")
    assert timezone.localtime() < go_live  # it did not go live early

    reader = browser.new_context().new_page()
    deadline = time.monotonic() + 30
    while public_title(reader, site, "HTG501") == original and time.monotonic() < deadline:
        time.sleep(0.5)
    assert public_title(reader, site, "HTG501") == "Embargoed title"
    publication = ChangeSet.objects.get(source=ChangeSet.Source.PUBLICATION)
    assert publication.created_at >= go_live.replace(microsecond=0)
    assert publication.user.username == "system"


def test_relations_are_kept_consistent(browser, site):
    former = make_guidance("IPG166", title="An old procedure")
    migrate_guidance(
        guidance=former,
        new_reference="HTG520",
        month=datetime.date(2026, 1, 1),
        user=make_user("migrator"),
        reason="HealthTech merger",
    )
    publisher = signed_in(browser, site, "publisher")
    publisher.goto(f"{site}/admin/guidance/guidance/?q=HTG501")
    navigate(publisher, "#result_list a:text-is('HTG501')")
    # 'Migrated to' is not among the relations a person can add by hand.
    publisher.click("#relations-group .add-row a")
    options = publisher.locator("#id_relations-0-type option").all_inner_texts()
    assert "replaces" in options
    assert "migrated to" not in options

    navigate(publisher, "text=Record what it replaces")
    publisher.fill("#id_replaced", "IPG166")
    publisher.fill("#id_reason", "HTG501 supersedes it")
    navigate(publisher, "input[type=submit].default")
    messages = publisher.locator("ul.messagelist").inner_text()
    assert "IPG166 now leads to HTG520" in messages
    current = Guidance.objects.get(reference="HTG520")
    assert current.inverse_relations.get(type="replaces").source.reference == "HTG501"
    publisher.goto(f"{site}/guidance/htg520/")
    assert "replaced by" in publisher.locator("main").inner_text()
