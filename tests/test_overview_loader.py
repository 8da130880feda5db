"""The fast paths of an uncached overview give exactly what the plain ones give: the one-query
loader (PostgreSQL) the same page as the ORM, page_url() the same URLs as reverse()."""

import datetime
import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse, set_script_prefix

from guidance.history import recording
from guidance.models import Block, Guidance, GuidanceStatus, RelationType, page_url
from guidance.overview_loader import load_overview
from guidance.views import overview_context, overview_page, public_record
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
    reason="the one-query overview uses PostgreSQL's JSON functions; "
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


def rendered(context):
    request = RequestFactory().get("/")
    return render_to_string("guidance/overview.html", context, request=request)


@postgresql_only
def test_every_public_document_renders_the_same_page_through_either_path(
    every_kind_of_document,
):
    public = Guidance.objects.published().order_by("reference")
    compared = 0
    for reference in public.values_list("reference", flat=True):
        loaded = load_overview(reference)
        record, requested = public_record(reference)
        if record != requested:
            assert loaded is None, f"{reference} was migrated: the ORM path redirects it"
            continue
        assert loaded is not None, reference
        assert rendered(overview_page(*loaded)) == rendered(overview_context(record)), reference
        compared += 1
    assert compared >= 12


@postgresql_only
def test_drafts_and_unknown_references_are_left_to_the_orm_path(every_kind_of_document):
    assert load_overview("IPG9105") is None
    assert load_overview("IPG999999") is None


@postgresql_only
def test_the_overview_is_one_query(client, every_kind_of_document, django_assert_num_queries):
    client.get("/guidance/ipg9104/")  # reads the programme's 'Your responsibility', kept after
    with django_assert_num_queries(1):
        response = client.get("/guidance/ipg9101/")
    assert response.status_code == 200
    assert "should be read in conjunction with" in response.content.decode()


@pytest.mark.parametrize(
    "name, arguments",
    [
        ("guidance:overview", ["htg501"]),
        ("guidance:chapter", ["htg501", "1-recommendations"]),
        ("guidance:history", ["ipg640"]),
        ("guidance:whole", ["ng12"]),
    ],
)
@pytest.mark.parametrize("script_prefix", ["/", "/registry/", "/~argument~/"])
def test_page_urls_are_what_reverse_gives(name, arguments, script_prefix):
    set_script_prefix(script_prefix)
    try:
        assert page_url(name, *arguments) == reverse(name, args=arguments)
        assert page_url(name, *arguments).startswith(script_prefix)
    finally:
        set_script_prefix("/")
