import re

import pytest
from django.urls import reverse

from guidance.models import Block, GuidanceStatus
from tests.factories import make_chapter, make_document, make_guidance, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor(client):
    client.force_login(make_user("editor", groups=["Editors"], is_staff=True))


def test_a_draft_is_previewed_with_the_public_page_templates(client, editor):
    draft = make_guidance("HTG900", status=GuidanceStatus.DRAFT, title="A draft procedure")
    make_chapter(draft, blocks=[(Block.Kind.RECOMMENDATION, "1.1", "Use it with care.")])

    assert client.get(draft.get_absolute_url()).status_code == 404
    response = client.get(reverse("admin:guidance_preview", args=[draft.pk]))

    assert response.status_code == 200
    assert "guidance/overview.html" in [t.name for t in response.templates]
    content = response.content.decode()
    assert "A draft procedure" in content
    assert "Use it with care." in content


def test_the_preview_of_published_guidance_is_its_public_page_with_links_kept_inside(
    client, editor
):
    document = make_document("HTG501", title="Venoplasty")
    public = client.get(document.get_absolute_url()).content.decode()
    preview = client.get(reverse("admin:guidance_preview", args=[document.pk])).content.decode()
    preview_root = reverse("admin:guidance_preview", args=[document.pk])
    # Printed, each names its own address.
    banner = re.compile(r'<p class="print-banner">[^<]*</p>')
    assert banner.search(preview).group() != banner.search(public).group()
    preview, public = banner.sub("", preview), banner.sub("", public)
    assert (
        preview.split('<main id="content"')[1].replace(preview_root, "/guidance/htg501/")
        == (public.split('<main id="content"')[1])
    )
    assert 'href="/guidance/htg501/' not in preview
    assert reverse("admin:guidance_guidance_change", args=[document.pk]) in preview


def test_a_chapter_of_a_draft_is_previewed_too(client, editor):
    draft = make_document("HTG900", status=GuidanceStatus.DRAFT, chapters=2)
    chapter = draft.chapters.get(number="2")
    response = client.get(reverse("admin:guidance_preview_chapter", args=[draft.pk, chapter.slug]))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Paragraph 2.1." in content
    # Every link of the draft's own pages stays inside the preview, and each one opens.
    for page in ("chapter/1-recommendations/", "history/", "whole/"):
        url = reverse("admin:guidance_preview", args=[draft.pk]) + page
        assert f'href="{url}' in content or page == "whole/", page
        assert client.get(url).status_code == 200, page
    assert "Back to the edit form" in content
    missing = reverse("admin:guidance_preview_chapter", args=[draft.pk, "no-such-chapter"])
    assert client.get(missing).status_code == 404


def test_the_change_page_links_to_the_preview(client, editor):
    draft = make_guidance("HTG900", status=GuidanceStatus.DRAFT)
    page = client.get(reverse("admin:guidance_guidance_change", args=[draft.pk]))
    assert reverse("admin:guidance_preview", args=[draft.pk]) in page.content.decode()


def test_view_on_site_of_a_draft_opens_its_preview(client, editor):
    draft = make_guidance("HTG900", status=GuidanceStatus.DRAFT)
    page = client.get(reverse("admin:guidance_guidance_change", args=[draft.pk])).content.decode()
    assert (
        f'href="{reverse("admin:guidance_preview", args=[draft.pk])}" class="viewsitelink"' in page
    )
