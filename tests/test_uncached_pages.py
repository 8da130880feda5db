"""Pages the cache does not hold: read through the ORM on every database, in a few queries
for every kind of document, on a connection that is replaced when the server dropped it."""

import datetime
import io

import psycopg
import pytest
from django.core.management import call_command
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext

from guidance.history import recording
from guidance.models import Block, Guidance, GuidanceStatus, RelationType
from tests.factories import (
    make_chapter,
    make_document,
    make_endorsement,
    make_guidance,
    make_relation,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("uncached")]
# The document, its relations, chapters, blocks, endorsements and the programme's 'Your
# responsibility' wording (which the page cache keeps per site version: it is off here); a
# document with no relations or endorsements skips their query (resolve() says which it has).
QUERIES_PER_PAGE = 6


@pytest.fixture
def uncached(settings):
    settings.GUIDANCE_PAGE_CACHE = False


@pytest.fixture
def every_kind_of_document():
    call_command("load_samples", stdout=io.StringIO(), stderr=io.StringIO())
    base = make_document("IPG9101", summary="Evidence-based recommendations on [a](https://x.org).")
    make_endorsement(base, "Healthcare Improvement Scotland")
    make_endorsement(base, "A Welsh body")
    make_relation(make_document("NG9102"), RelationType.READ_WITH, base)
    make_relation(base, RelationType.BASED_ON, make_guidance("NG9103"))
    make_relation(make_document("IPG9104"), RelationType.PARTIALLY_REPLACES, base)
    make_relation(
        make_guidance("IPG9105", status=GuidanceStatus.DRAFT), RelationType.REPLACES, base
    )
    stub = make_guidance("IPG9106", title="", is_stub=True)
    make_relation(base, RelationType.REPLACES, stub)
    make_guidance(
        "IPG9107",
        status=GuidanceStatus.WITHDRAWN,
        status_explanation="Withdrawn because the procedure is no longer used.\n\nSee NG1.",
    )
    migrated = make_document("IPG9108")
    make_relation(
        migrated,
        RelationType.MIGRATED_TO,
        base,
        effective_on=datetime.date(2026, 1, 1),
        note="Migrated as part of the HealthTech programme.",
    )
    odd = make_guidance("IPG9109", last_updated_on=datetime.date(2025, 3, 1))
    make_chapter(odd, "", "Overview", blocks=[(Block.Kind.PARAGRAPH, "", "Intro <b>text</b>.")])
    make_chapter(
        odd,
        "2",
        " The recommendations ",
        blocks=[(Block.Kind.RECOMMENDATION, "2.1", "Do this & that.")],
    )
    with recording(reason="Test data"):
        for block in Block.objects.filter(guidance=odd):
            block.bullets = ["one [link](/x)", "two <i>"]
            block.save()
    make_chapter(make_guidance("IPG9110"), "1", "Recommendations\u00a0")


def test_every_page_of_every_kind_of_document_takes_a_few_queries(client, every_kind_of_document):
    pages = 0
    for guidance in Guidance.objects.published().order_by("reference"):
        urls = [guidance.get_absolute_url()]
        urls += [chapter.get_absolute_url() for chapter in guidance.chapters.all()]
        for url in urls:
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url)
            assert response.status_code in (200, 301, 302), url
            assert len(queries) <= QUERIES_PER_PAGE, (url, [q["sql"] for q in queries])
            pages += 1
    assert pages >= 30


def test_the_pages_show_what_the_document_holds(client, every_kind_of_document):
    overview = client.get("/guidance/ipg9101/").content.decode()
    assert "should be read in conjunction with" in overview
    assert "Healthcare Improvement Scotland" in overview
    assert "Paragraph 2.4." in client.get("/guidance/ipg9101/chapter/2-chapter-2/").content.decode()
    assert client.get("/guidance/ipg9101/chapter/nothing/").status_code == 404
    response = client.get("/guidance/IPG9101/chapter/2-Chapter-2/")
    assert response.status_code == 301
    assert response["Location"] == "/guidance/ipg9101/chapter/2-chapter-2/"
    assert client.get("/guidance/ipg9105/").status_code == 404  # a draft


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="drops the connection from a second PostgreSQL one"
)
@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_dropped_between_requests_is_replaced(client):
    make_document("IPG9101")
    assert client.get("/guidance/ipg9101/").status_code == 200
    dropped = connection.connection.info.backend_pid
    database = connection.settings_dict
    with psycopg.connect(
        dbname=database["NAME"], user=database["USER"], host=database["HOST"], port=database["PORT"]
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [dropped])
    close_old_connections()  # what the end of a request does: the next one checks the connection
    response = client.get("/guidance/ipg9101/")
    assert response.status_code == 200
    assert "Recommendation 1 text." in response.content.decode()
    assert connection.connection.info.backend_pid != dropped
