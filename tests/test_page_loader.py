"""The fast path of uncached pages gives exactly what the plain one gives: the one-query loader
(PostgreSQL) the same overview and chapter pages as the ORM."""

import datetime
import io

import psycopg
import pytest
from django.core.management import call_command
from django.db import close_old_connections, connection
from django.template.loader import render_to_string
from django.test import RequestFactory

from guidance.history import recording
from guidance.models import Block, Guidance, GuidanceStatus, RelationType
from guidance.public.page_loader import load_document
from guidance.public.views import (
    chapter_context,
    chapter_page,
    overview_context,
    overview_page,
    public_record,
)
from tests.factories import (
    make_chapter,
    make_document,
    make_endorsement,
    make_guidance,
    make_relation,
)

pytestmark = pytest.mark.django_db
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the one-query page loader uses PostgreSQL's JSON functions; "
    "other databases take the ORM path, which the other page tests cover",
)


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


def rendered(context, template="guidance/overview.html"):
    request = RequestFactory().get("/")
    return render_to_string(template, context, request=request)


@postgresql_only
def test_every_public_document_renders_the_same_pages_through_either_path(
    every_kind_of_document,
):
    public = Guidance.objects.published().order_by("reference")
    compared = 0
    for reference in public.values_list("reference", flat=True):
        loaded = load_document(reference)
        record, requested = public_record(reference)
        if record != requested:
            assert loaded is None, f"{reference} was migrated: the ORM path redirects it"
            continue
        assert loaded is not None, reference
        assert rendered(overview_page(*loaded)) == rendered(overview_context(record)), reference
        compared += 1
        for chapter in record.chapters.all():
            fast = chapter_page(*load_document(reference, chapter.slug))
            plain = chapter_context(record, chapter.slug)
            template = "guidance/chapter.html"
            assert rendered(fast, template) == rendered(plain, template), chapter
            compared += 1
    assert compared >= 30


@postgresql_only
def test_drafts_and_unknown_references_are_left_to_the_orm_path(every_kind_of_document):
    assert load_document("IPG9105") is None
    assert load_document("IPG999999") is None
    assert load_document("IPG9105", "1-recommendations") is None
    loaded = load_document("IPG9101", "no-such-chapter")
    assert loaded[0].reference == "IPG9101" and loaded[2] is None


@postgresql_only
def test_the_overview_is_one_query(client, every_kind_of_document, django_assert_num_queries):
    client.get("/guidance/ipg9104/")  # reads the programme's 'Your responsibility', kept after
    with django_assert_num_queries(1):
        response = client.get("/guidance/ipg9101/")
    assert response.status_code == 200
    assert "should be read in conjunction with" in response.content.decode()
    with django_assert_num_queries(1):
        response = client.get("/guidance/ipg9101/chapter/2-chapter-2/")
    assert response.status_code == 200
    assert "Paragraph 2.4." in response.content.decode()
    with django_assert_num_queries(1):
        assert client.get("/guidance/ipg9101/chapter/nothing/").status_code == 404
    with django_assert_num_queries(1):
        response = client.get("/guidance/IPG9101/chapter/2-Chapter-2/")
    assert response.status_code == 301
    assert response["Location"] == "/guidance/ipg9101/chapter/2-chapter-2/"


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_the_statement_checks_the_connection_and_replaces_a_dropped_one(
    client, settings, monkeypatch
):
    settings.GUIDANCE_PAGE_CACHE = False
    make_document("IPG9101")
    assert client.get("/guidance/ipg9101/").status_code == 200
    checks = []
    monkeypatch.setattr(connection, "is_usable", lambda: checks.append(1) or True)

    close_old_connections()  # what the end of a request does: the next one checks the connection
    assert client.get("/guidance/ipg9101/").status_code == 200
    assert checks == [], "the page's statement is the health check; no query of its own"

    # The server drops the connection between two requests, as on a restart.
    dropped = connection.connection.info.backend_pid
    database = connection.settings_dict
    with psycopg.connect(
        dbname=database["NAME"], user=database["USER"], host=database["HOST"], port=database["PORT"]
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [dropped])
    close_old_connections()
    response = client.get("/guidance/ipg9101/")
    assert response.status_code == 200
    assert "Recommendation 1 text." in response.content.decode()
    assert connection.connection.info.backend_pid != dropped
