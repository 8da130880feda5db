"""Nothing of a document is left out of its public pages: checked on the shipped samples."""

import io

import pytest
from django.core.management import call_command
from django.utils.html import escape

from guidance.models import Guidance
from guidance.templatetags.guidance_text import inline, paragraphs

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def samples():
    call_command("load_samples", stdout=io.StringIO(), stderr=io.StringIO())


def rendered(text):
    return [str(inline(part)) for part in paragraphs(text)]


@pytest.mark.parametrize("reference", ["HTG501", "MTG1"])
def test_every_block_of_a_sample_shows_on_its_chapter_page(client, reference):
    document = Guidance.objects.get(reference=reference)
    assert document.blocks.exists()
    whole = client.get(f"/guidance/{reference.lower()}/whole/").content.decode()
    for chapter in document.chapters.all():
        html = client.get(chapter.get_absolute_url()).content.decode()
        assert escape(chapter.heading) in html
        for block in chapter.blocks.all():
            for part in rendered(block.text) + [str(inline(b)) for b in block.bullets]:
                assert part in html, f"{chapter.slug}: {part[:60]!r} is missing"
                assert part in whole, f"whole document: {part[:60]!r} is missing"
            if block.number:
                assert f'id="{block.number}"' in html
            if block.title:
                assert str(inline(block.title)) in html


def test_the_overview_shows_the_recommendations_isbn_and_endorsements_of_a_sample(client):
    document = Guidance.objects.get(reference="HTG501")
    html = client.get("/guidance/htg501/").content.decode()
    for recommendation in document.blocks.filter(kind="recommendation"):
        assert rendered(recommendation.text)[0] in html
    assert f"ISBN: {document.isbn}" in html
    for endorsement in document.endorsements.all():
        assert escape(endorsement.statement) in html
    for paragraph in document.responsibility_statement().paragraphs:
        assert str(inline(paragraph)) in html


def test_the_history_page_shows_every_update_entry_of_a_sample(client):
    document = Guidance.objects.get(reference="HTG501")
    html = client.get("/guidance/htg501/history/").content.decode()
    assert document.update_entries.exists()
    for entry in document.update_entries.all():
        assert f"{entry.date_display}:</strong> {inline(entry.text)}" in html
    assert escape(document.minor_changes_heading) in html
