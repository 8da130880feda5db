import datetime
import io

import pytest
from django.core.management import call_command

from guidance.models import (
    Guidance,
    GuidanceStatus,
    Programme,
    Relation,
    RelationType,
    ResponsibilityStatement,
)
from guidance.public.page_cache import pages_purged, tokens
from guidance.public.page_cache.tokens import SITE_TOKEN, document_token
from tests import varying_urls
from tests.factories import make_document, make_guidance
from tests.redis_server import needs_redis, own_redis, redis_cache

pytestmark = pytest.mark.django_db


def test_a_cached_page_is_served_without_any_query(client, django_assert_num_queries):
    make_document("HTG501")
    client.get("/guidance/htg501/")
    with django_assert_num_queries(0):
        response = client.get("/guidance/htg501/")
    assert response.status_code == 200


# A page of one document, HTML or API, reads no query: a query string must not make it render
# again (or anyone could make the registry build a PDF or a FHIR bundle at every request).
DOCUMENT_PAGES = [
    "/guidance/htg501/",
    "/guidance/htg501/pdf/",
    "/api/v1/guidance/htg501/",
    "/api/v1/guidance/htg501/chapters/",
    "/api/v1/guidance/htg501/recommendations/",
    "/api/v1/guidance/htg501/relations/",
    "/api/v1/guidance/htg501/update-information/",
    "/api/v1/guidance/htg501/history/",
    "/api/v1/guidance/htg501/fhir/",
]


@pytest.mark.parametrize("page", DOCUMENT_PAGES)
def test_a_query_string_does_not_make_a_document_page_render_again(
    client, django_assert_num_queries, page
):
    make_document("HTG501")
    first = client.get(page)
    assert first.status_code == 200
    for query in ("?x=1", "?x=2&utm_source=mail", "?page=99999999999999999999"):
        with django_assert_num_queries(0):
            response = client.get(page + query)
        assert response.status_code == 200
        assert response.content == first.content


def test_the_list_is_cached_for_each_query_it_reads(client):
    make_document("HTG501", title="Venoplasty")
    make_document("HTG502", title="Stents")
    assert "Stents" not in client.get("/guidance/?q=venoplasty").content.decode()
    assert "Venoplasty" not in client.get("/guidance/?q=stents").content.decode()


def test_an_edit_shows_at_once(client, as_editor, django_capture_on_commit_callbacks):
    guidance = make_document("HTG501", title="Old title")
    assert "Old title" in client.get("/guidance/htg501/").content.decode()

    with django_capture_on_commit_callbacks(execute=True), as_editor("Corrected the title"):
        guidance.title = "New title"
        guidance.save()

    assert "New title" in client.get("/guidance/htg501/").content.decode()


def test_a_paragraph_edit_shows_at_once_on_its_chapter(
    client, as_editor, django_capture_on_commit_callbacks
):
    guidance = make_document("HTG501")
    url = "/guidance/htg501/chapter/2-chapter-2/"
    client.get(url)

    with django_capture_on_commit_callbacks(execute=True), as_editor("Reworded 2.1"):
        block = guidance.blocks.get(number="2.1")
        block.text = "Reworded paragraph."
        block.save()

    assert "Reworded paragraph." in client.get(url).content.decode()


def test_a_publication_shows_at_once(client, as_editor, django_capture_on_commit_callbacks):
    guidance = make_document("HTG502", status=GuidanceStatus.DRAFT, title="Brand new device")
    assert client.get("/guidance/htg502/").status_code == 404
    assert "Brand new device" not in client.get("/guidance/").content.decode()

    with django_capture_on_commit_callbacks(execute=True), as_editor("Published", kind="major"):
        guidance.status = GuidanceStatus.PUBLISHED
        guidance.published_on = datetime.date(2026, 2, 1)
        guidance.save()

    assert client.get("/guidance/htg502/").status_code == 200
    assert "Brand new device" in client.get("/guidance/").content.decode()


def test_a_migration_shows_at_once_on_both_references(
    client, as_editor, django_capture_on_commit_callbacks
):
    document = make_document("IPG640")
    client.get("/guidance/ipg640/")
    client.get("/guidance/ipg640/chapter/1-recommendations/")

    # What the migrate workflow does: the document takes the new reference and the old one
    # becomes a stub that says where it went.
    with django_capture_on_commit_callbacks(execute=True), as_editor("Migrated to HTG501"):
        document.reference = "HTG501"
        document.programme = Programme.objects.get(code="HTG")
        document.number = 501
        document.save()
        stub = Guidance.objects.create(
            reference="IPG640",
            programme=Programme.objects.get(code="IPG"),
            number=640,
            status=GuidanceStatus.PUBLISHED,
            is_stub=True,
        )
        Relation.objects.create(
            source=stub,
            type=RelationType.MIGRATED_TO,
            target=document,
            effective_on=datetime.date(2026, 1, 1),
        )

    old = client.get("/guidance/ipg640/")
    old_chapter = client.get("/guidance/ipg640/chapter/1-recommendations/")
    assert (old.status_code, old["Location"]) == (301, "/guidance/htg501/")
    assert old_chapter["Location"] == "/guidance/htg501/chapter/1-recommendations/"
    assert "IPG640 was migrated to HTG501 in January 2026" in (
        client.get("/guidance/htg501/").content.decode()
    )


def test_a_withdrawal_shows_at_once(client, as_editor, django_capture_on_commit_callbacks):
    guidance = make_document("HTG503")
    client.get("/guidance/htg503/")
    client.get("/guidance/htg503/chapter/1-recommendations/")

    with django_capture_on_commit_callbacks(execute=True), as_editor("Withdrawn"):
        guidance.status = GuidanceStatus.WITHDRAWN
        guidance.status_explanation = "The device is no longer made."
        guidance.save()

    assert "The device is no longer made." in client.get("/guidance/htg503/").content.decode()
    assert client.get("/guidance/htg503/chapter/1-recommendations/").status_code == 302


def test_a_change_purges_the_pages_of_related_documents_too(
    client, as_editor, django_capture_on_commit_callbacks
):
    old = make_guidance("IPG346", is_stub=True)
    new = make_guidance("IPG508", title="First title")
    with as_editor("Replaced"):
        Relation.objects.create(source=new, type=RelationType.REPLACES, target=old)
    assert "First title" in client.get("/guidance/ipg346/").content.decode()

    with django_capture_on_commit_callbacks(execute=True), as_editor("Retitled"):
        new.title = "Second title"
        new.save()

    assert "Second title" in client.get("/guidance/ipg346/").content.decode()


def test_a_change_leaves_unrelated_pages_cached(
    client, as_editor, django_capture_on_commit_callbacks, django_assert_num_queries
):
    make_document("HTG504")
    other = make_guidance("HTG505")
    client.get("/guidance/htg504/")

    with django_capture_on_commit_callbacks(execute=True), as_editor("Retitled"):
        other.title = "Another title"
        other.save()

    with django_assert_num_queries(0):
        client.get("/guidance/htg504/")


def test_a_new_responsibility_wording_shows_at_once_on_every_page_of_the_programme(
    client, as_editor, django_capture_on_commit_callbacks
):
    make_document("HTG506")
    client.get("/guidance/htg506/")

    with django_capture_on_commit_callbacks(execute=True), as_editor("New wording"):
        ResponsibilityStatement.objects.create(
            programme=Programme.objects.get(code="HTG"),
            applies_from=datetime.date(2020, 1, 1),
            text="The new responsibility wording.",
        )

    assert "The new responsibility wording." in client.get("/guidance/htg506/").content.decode()


@needs_redis
def test_a_token_is_made_once_however_many_processes_ask_for_it(settings):
    settings.CACHES = redis_cache()
    site, document = SITE_TOKEN, document_token("HTG501")

    versions, _ = tokens.read([document], "page:none")
    # Another process asks for the same token and one more: it reads the first, makes the other.
    others, _ = tokens.read([document, site], "page:none")
    assert others[0] == versions[0]
    again, _ = tokens.read([site, document], "page:none")
    assert again == (others[1], others[0])


def test_a_signed_in_reader_is_served_a_cached_page_without_any_query(
    client, django_user_model, django_assert_num_queries
):
    make_document("HTG501")
    client.force_login(django_user_model.objects.create_user("reader", password="x"))
    first = client.get("/guidance/htg501/")
    # The session and the user are not read: the page is the same for every reader.
    with django_assert_num_queries(0):
        response = client.get("/guidance/htg501/")
    assert response.status_code == 200
    assert response.content == first.content


def test_a_cached_page_keeps_the_security_headers_of_the_first_answer(client):
    make_document("HTG501")
    first = client.get("/guidance/htg501/")
    cached = client.get("/guidance/htg501/")

    for header in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"):
        assert cached[header] == first[header]
    assert "frame-ancestors 'none'" in cached["Content-Security-Policy"]
    assert "Set-Cookie" not in cached


def test_the_feed_cached_for_one_host_is_not_served_to_another(client):
    make_document("HTG501")
    assert "http://localhost/" in client.get("/guidance/changes.atom", HTTP_HOST="localhost").text

    other = client.get("/guidance/changes.atom", HTTP_HOST="127.0.0.1")

    assert "http://127.0.0.1/" in other.text
    assert "http://localhost/" not in other.text


def test_the_print_stylesheet_cached_for_one_host_is_not_served_to_another(client):
    assert "http://localhost" in client.get("/print.css", HTTP_HOST="localhost").text

    other = client.get("/print.css", HTTP_HOST="127.0.0.1")

    assert "http://127.0.0.1" in other.text
    assert "http://localhost" not in other.text


def test_a_public_page_is_marked_for_a_shared_cache_with_its_document_keys(client):
    make_document("HTG501")
    first = client.get("/guidance/htg501/")
    cached = client.get("/guidance/htg501/")

    for response in (first, cached):
        cache_control = response["Cache-Control"]
        assert "public" in cache_control and "s-maxage=86400" in cache_control
        assert "max-age=0" in cache_control.replace("s-maxage", "")
        assert response["xkey"].split() == ["pages:site", "pages:document:HTG501"]
    assert client.get("/guidance/")["xkey"].split() == ["pages:site", "pages:listings"]


def test_a_front_cache_purger_hears_the_keys_of_the_pages_a_change_altered(
    client, as_editor, django_capture_on_commit_callbacks
):
    guidance = make_document("HTG501")
    make_document("HTG502")
    purged = []

    def front_cache_purger(sender, keys, **kwargs):
        purged.extend(keys)

    pages_purged.connect(front_cache_purger)
    try:
        with django_capture_on_commit_callbacks(execute=True), as_editor("Retitled"):
            guidance.title = "New title"
            guidance.save()
    finally:
        pages_purged.disconnect(front_cache_purger)

    assert "pages:document:HTG501" in purged
    assert "pages:listings" in purged
    assert "pages:document:HTG502" not in purged
    assert set(client.get("/guidance/htg501/")["xkey"].split()) <= set(purged) | {"pages:site"}


def test_a_page_that_varies_on_a_header_is_kept_for_each_of_its_values(client, settings):
    settings.ROOT_URLCONF = "tests.varying_urls"
    rendered = varying_urls.greeting.rendered
    assert client.get("/greeting/", HTTP_ACCEPT_LANGUAGE="fr").content == b"Greeting in fr"
    assert client.get("/greeting/", HTTP_ACCEPT_LANGUAGE="de").content == b"Greeting in de"

    assert client.get("/greeting/", HTTP_ACCEPT_LANGUAGE="fr").content == b"Greeting in fr"
    assert client.get("/greeting/", HTTP_ACCEPT_LANGUAGE="de").content == b"Greeting in de"
    assert varying_urls.greeting.rendered == rendered + 2


@pytest.mark.django_db(transaction=True)
def test_the_pages_a_change_altered_are_cached_again_before_anyone_asks(
    client, as_editor, django_assert_num_queries
):
    guidance = make_document("HTG501")
    chapter = "/guidance/htg501/chapter/2-chapter-2/"
    client.get("/guidance/htg501/")
    client.get(chapter)

    with as_editor("Retitled"):
        guidance.title = "Rendered in the background"
        guidance.save()
    call_command("db_worker", batch=True, stdout=io.StringIO(), stderr=io.StringIO())

    for path in ("/guidance/htg501/", chapter, "/guidance/htg501/whole/", "/guidance/"):
        with django_assert_num_queries(0):
            response = client.get(path)
        assert "Rendered in the background" in response.content.decode(), path


@pytest.mark.django_db(transaction=True)
def test_with_redis_stopped_pages_are_served_uncached_and_never_stale_when_it_returns(
    request, client, settings, as_editor, django_assert_num_queries
):
    redis_server = own_redis(request)
    settings.CACHES = redis_cache(redis_server.url)
    guidance = make_document("HTG501", title="First title")
    assert "First title" in client.get("/guidance/htg501/").content.decode()
    with django_assert_num_queries(0):
        assert "First title" in client.get("/guidance/htg501/").content.decode()

    redis_server.stop()
    response = client.get("/guidance/htg501/")
    assert response.status_code == 200 and "First title" in response.content.decode()
    with as_editor("Retitled while Redis was down"):
        guidance.title = "Second title"
        guidance.save()
    assert "Second title" in client.get("/guidance/htg501/").content.decode()

    redis_server.start()
    assert "Second title" in client.get("/guidance/htg501/").content.decode()
    # The pages the change altered are rendered again in the background, now kept in Redis.
    call_command("db_worker", batch=True, stdout=io.StringIO(), stderr=io.StringIO())
    with django_assert_num_queries(0):
        assert "Second title" in client.get("/guidance/htg501/").content.decode()
