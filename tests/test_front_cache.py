"""The front cache (Varnish with the product's VCL): public pages are kept, and a change is on
the next request through it, because the commit purges their surrogate keys; nothing private
is ever kept there."""

import http.server
import io
import shutil
import threading
import urllib.request
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command

from bench import first_requests
from bench.frontcache import varnish
from guidance.history import recording
from guidance.models import Guidance
from guidance.public import front_cache
from tests.factories import make_document

needs_varnish = pytest.mark.skipif(
    shutil.which("varnishd") is None,
    reason="needs Debian's varnish and varnish-modules (xkey): apt-get install varnish "
    "varnish-modules",
)
pytestmark = [needs_varnish, pytest.mark.django_db(transaction=True)]


def get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.headers, response.read().decode()


@pytest.fixture
def front(live_server, settings):
    address = urlsplit(live_server.url)
    with varnish(address.hostname, address.port) as (url, _):
        settings.FRONT_CACHE_URLS = [url]
        settings.FRONT_CACHE_HOST = urlsplit(url).netloc  # the Host this test's reader sends
        yield url


def test_a_change_is_on_the_next_request_through_the_front_cache(front):
    document = make_document("HTG970", title="Venoplasty before the change")
    page = front + document.get_absolute_url()

    first_headers, first = get(page)
    second_headers, second = get(page)
    assert first_headers["X-Cache"] == "miss"
    assert second_headers["X-Cache"] == "hit"
    assert second == first
    assert "Venoplasty before the change" in second
    assert "xkey" not in second_headers  # the keys are the cache's, not the reader's

    with recording(reason="Retitled"):
        document = Guidance.objects.get(pk=document.pk)
        document.title = "Venoplasty after the change"
        document.save()

    headers, after = get(page)
    assert "Venoplasty after the change" in after
    assert "Venoplasty before the change" not in after


def test_a_change_to_one_document_keeps_the_others_in_the_front_cache(front):
    changed = make_document("HTG971", title="The document that changes")
    kept = make_document("HTG972", title="The document that stays")
    get(front + kept.get_absolute_url())
    get(front + changed.get_absolute_url())

    with recording(reason="Retitled"):
        changed.title = "The document that changed"
        changed.save()

    assert get(front + kept.get_absolute_url())[0]["X-Cache"] == "hit"
    assert get(front + changed.get_absolute_url())[0]["X-Cache"] == "miss"


def test_sign_in_and_the_history_area_are_never_kept_in_the_front_cache(front):
    for path in ("/admin/login/", "/audit/"):
        get(front + path)
        headers, _ = get(front + path)
        assert headers["X-Cache"] == "miss", path


def test_after_a_change_the_worker_puts_the_new_pages_in_the_front_cache_before_anyone_asks(front):
    document = make_document("HTG973", title="Before the worker")
    pages = [document.get_absolute_url(), document.get_whole_url(), "/guidance/"]
    pages += [chapter.get_absolute_url() for chapter in document.chapters.all()]
    for page in pages:
        get(front + page)

    with recording(reason="Retitled"):
        document = Guidance.objects.get(pk=document.pk)
        document.title = "After the worker"
        document.save()
    call_command("db_worker", batch=True, stdout=io.StringIO(), stderr=io.StringIO())

    # The first readers, as make bench counts them: every one answered by Varnish.
    first_readers = first_requests.request_each_once(front, pages, connections=2)
    assert first_readers["front_cache_hits"] == len(pages)
    assert first_readers["bad_status"] == 0
    for page in pages:
        headers, body = get(front + page)
        assert "After the worker" in body, page
        assert "Before the worker" not in body, page


def test_the_worker_drops_an_old_page_put_back_after_the_commit_purged_it(front, settings):
    document = make_document("HTG974", title="Before the change")
    page = front + document.get_absolute_url()
    get(page)
    # A reader's request on its way to the application as the change commits can put the old
    # page back after the commit's purge; here the commit's purge does not reach Varnish at all.
    settings.FRONT_CACHE_URLS = []
    with recording(reason="Retitled"):
        document = Guidance.objects.get(pk=document.pk)
        document.title = "After the change"
        document.save()
    settings.FRONT_CACHE_URLS = [front]
    assert "Before the change" in get(page)[1]

    call_command("db_worker", batch=True, stdout=io.StringIO(), stderr=io.StringIO())

    headers, body = get(page)
    assert headers["X-Cache"] == "hit"
    assert "After the change" in body


def test_on_an_https_site_the_worker_asks_for_pages_as_readers_come_through_the_proxy(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.FRONT_CACHE_HOST = "guidance.example.org"
    asked = []

    class FrontCache(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            asked.append((self.path, self.headers["Host"], self.headers["X-Forwarded-Proto"]))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), FrontCache) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
        kept = front_cache.warm(["/guidance/htg975/", "/guidance/"], "localhost", urls=[url])
        server.shutdown()

    assert kept == 2
    assert asked == [
        ("/guidance/htg975/", "guidance.example.org", "https"),
        ("/guidance/", "guidance.example.org", "https"),
    ]
