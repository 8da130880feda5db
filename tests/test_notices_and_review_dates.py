import datetime
from pathlib import Path

import pytest
from django.urls import reverse

from guidance.interchange.importers import import_guidance_file
from guidance.models import Block, Guidance
from tests.admin_forms import change_form_data
from tests.factories import make_user
from tests.test_chapter_editor import page_data

pytestmark = pytest.mark.django_db

DOCUMENTS = Path(__file__).resolve().parent / "documents"


def test_the_overview_shows_the_notices_and_review_dates_the_document_states(client):
    import_guidance_file(DOCUMENTS / "cg_overview_shape.md")

    page = client.get("/guidance/cg127/").content.decode()

    assert 'Last reviewed: <time datetime="2019-06-04">4 June 2019</time>' in page
    assert 'Review decision date: <time datetime="2021-03-01">March 2021</time>' in page
    assert "March 2020: the MHRA has issued a warning" in page
    assert "This guideline should be read in conjunction with" in page


def test_a_chapter_shows_heading_levels_and_research_recommendations(client):
    import_guidance_file(DOCUMENTS / "nice" / "ng143.md")

    page = client.get("/guidance/ng143/chapter/recommendations-for-research/").content.decode()

    assert '<h3 class="chapter__sub-heading">Key recommendations for research</h3>' in page
    assert '<h4 class="research__heading">1 Symptoms and signs of serious illness</h4>' in page
    assert "recommends a UK-based epidemiological study" in page


def test_an_editor_changes_notices_review_dates_and_heading_levels_in_the_admin(client):
    import_guidance_file(DOCUMENTS / "cg_overview_shape.md")
    client.force_login(make_user("editor", groups=["Editors"], is_staff=True))
    published = Guidance.objects.get(reference="CG127")
    # Published guidance is edited in its draft edition.
    assert client.post(reverse("admin:guidance_edition", args=[published.pk])).status_code == 302
    cg = Guidance.with_editions.get(edition_of=published)
    url = reverse("admin:guidance_guidance_change", args=[cg.pk])
    page = client.get(url)

    response = client.post(
        url,
        change_form_data(
            page,
            notices="April 2024: A safety notice.",
            last_reviewed_on="2024-05-01",
            last_reviewed_precision="month",
            change_reason="Reviewed",
            change_kind="minor",
        ),
    )

    assert response.status_code == 302
    cg.refresh_from_db()
    assert cg.notice_paragraphs == ["April 2024: A safety notice."]
    assert (cg.last_reviewed_on, cg.last_reviewed_display) == (
        datetime.date(2024, 5, 1),
        "May 2024",
    )
    # Paragraphs, and a heading's level, are edited on the chapter's page.
    heading = cg.blocks.get(kind=Block.Kind.HEADING)
    chapter_page = reverse("admin:guidance_chapter", args=[cg.pk, heading.chapter_id])
    shown = client.get(chapter_page)
    (index,) = [
        i
        for i, form in enumerate(shown.context["formset"].forms)
        if form.initial.get("id") == heading.pk
    ]
    response = client.post(
        chapter_page,
        page_data(
            shown,
            **{f"blocks-{index}-level": "2", "change_reason": "Level", "change_kind": "minor"},
        ),
    )
    assert response.status_code == 302
    heading.refresh_from_db()
    assert heading.level == 2


def test_a_review_date_without_its_precision_is_refused_in_the_admin(client):
    import_guidance_file(DOCUMENTS / "cg_overview_shape.md")
    client.force_login(make_user("editor", groups=["Editors"], is_staff=True))
    cg = Guidance.objects.get(reference="CG127")
    url = reverse("admin:guidance_guidance_change", args=[cg.pk])
    page = client.get(url)

    response = client.post(
        url,
        change_form_data(
            page,
            review_decision_on="2027-03-01",
            review_decision_precision="",
            change_reason="Review",
            change_kind="minor",
        ),
    )

    assert response.status_code == 200
    assert "Say how precisely the date is known." in response.content.decode()
