import datetime
import html
import io
import re
import xml.etree.ElementTree as ET

import feedparser
import pytest
from django.core.management import call_command
from django.utils import timezone

from guidance.editorial.services import migrate_guidance
from guidance.models import Block, GuidanceStatus
from guidance.public import sitemaps
from tests.factories import make_document, make_guidance, make_update_entry

ATOM = "{http://www.w3.org/2005/Atom}"
DCTERMS = "{http://purl.org/dc/terms/}"
# RFC 3339 date-time, as RFC 4287 requires of atom:updated.
RFC_3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
IRI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$")

pytestmark = pytest.mark.django_db


def test_the_atom_feed_lists_publications_and_updates_newest_first(client):
    guidance = make_guidance("HTG501", title="Venoplasty")
    make_update_entry(guidance, "Migrated to HealthTech.", date=datetime.date(2026, 1, 1))
    make_guidance("HTG900", title="Draft thing", status=GuidanceStatus.DRAFT)

    response = client.get("/guidance/changes.atom")

    body = response.content.decode()
    assert response["Content-Type"].startswith("application/atom+xml")
    titles = re.findall(r"<entry><title>([^<]+)</title>", body)
    assert titles == ["Updated: HTG501 Venoplasty", "Published: HTG501 Venoplasty"]
    assert "January 2026: Migrated to HealthTech." in body
    assert "Draft thing" not in body


def sitemap(client):
    """{path: lastmod} of every section the sitemap's index names."""
    index = client.get("/sitemap.xml").content.decode()
    pages = {}
    for section in re.findall(r"<loc>http://testserver([^<]+)</loc>", index):
        body = client.get(section).content.decode()
        pages |= re.findall(r"<loc>http://testserver([^<]+)</loc><lastmod>([^<]+)</lastmod>", body)
    return pages


def test_the_sitemap_lists_every_public_page(client):
    htg501 = make_document("HTG501", chapters=2)
    make_update_entry(htg501, "Migrated.", date=datetime.date(2026, 1, 1))
    make_document("HTG502", chapters=1)
    make_document("IPG100", chapters=1, status=GuidanceStatus.WITHDRAWN)
    make_guidance("IPG640", is_stub=True)
    make_guidance("HTG900", status=GuidanceStatus.DRAFT)

    paths = set(sitemap(client))

    assert paths == {
        "/guidance/htg501/",
        "/guidance/htg501/chapter/1-recommendations/",
        "/guidance/htg501/chapter/2-chapter-2/",
        "/guidance/htg501/chapter/update-information/",
        "/guidance/htg501/whole/",
        "/guidance/htg501/history/",
        "/guidance/htg502/",
        "/guidance/htg502/chapter/1-recommendations/",
        "/guidance/htg502/whole/",
        "/guidance/htg502/history/",
        # Withdrawn guidance keeps its overview and history; its chapters lead to the overview.
        "/guidance/ipg100/",
        "/guidance/ipg100/history/",
    }
    for path in paths:
        assert client.get(path).status_code == 200, path


def test_the_sitemap_is_an_index_of_sections_served_in_pages(client, settings, monkeypatch):
    settings.GUIDANCE_PAGE_CACHE = False
    monkeypatch.setattr(sitemaps.DatedSitemap, "limit", 3)
    for number in range(5):
        make_document(f"HTG50{number}", chapters=2)
    index = client.get("/sitemap.xml")
    assert index.status_code == 200
    sections = re.findall(r"<loc>http://testserver([^<]+)</loc>", index.content.decode())
    assert "/sitemap-chapters.xml?p=4" in sections  # ten chapters, three to a page
    assert client.get("/sitemap-chapters.xml?p=5").status_code == 404
    assert client.get("/sitemap-nothing.xml").status_code == 404
    assert len(sitemap(client)) == 5 * 2 + 5 + 5 + 5  # chapters, overviews, whole, history


def test_a_page_of_the_sitemap_reads_only_the_history_it_shows(
    client, settings, django_assert_max_num_queries
):
    settings.GUIDANCE_PAGE_CACHE = False
    for number in range(5):
        make_document(f"HTG50{number}", chapters=2)
    # The history of the document's rows (six tables), its pages' blocks, and the pages.
    with django_assert_max_num_queries(6 + 1 + 2):
        response = client.get("/sitemap-chapters.xml")
    assert response.status_code == 200
    assert "/guidance/htg504/chapter/2-chapter-2/" in response.content.decode()


def test_each_page_is_dated_by_the_last_change_that_altered_it(client, monkeypatch, as_editor):
    document = make_document("HTG501", chapters=3)
    # Recorded times only move forward along the chain: the later change is the one moved.
    later = timezone.now() + datetime.timedelta(days=300)
    before, after = timezone.localdate().isoformat(), timezone.localdate(later).isoformat()

    paragraph = Block.objects.get(guidance=document, number="2.1")
    with monkeypatch.context() as future, as_editor("Reworded 2.1"):
        future.setattr(timezone, "now", lambda: later)
        paragraph.text = "Reworded."
        paragraph.save()
    dates = sitemap(client)

    assert dates["/guidance/htg501/chapter/2-chapter-2/"] == after
    assert dates["/guidance/htg501/whole/"] == after
    assert dates["/guidance/htg501/"] == before
    assert dates["/guidance/htg501/chapter/3-chapter-3/"] == before
    assert dates["/guidance/htg501/history/"] == before


def test_a_migration_dates_every_page_of_the_document(client, monkeypatch, as_editor):
    document = make_document("IPG640", chapters=2)
    later = timezone.now() + datetime.timedelta(days=300)
    monkeypatch.setattr(timezone, "now", lambda: later)
    migrate_guidance(
        guidance=document,
        new_reference="HTG501",
        month=datetime.date(2026, 1, 1),
        user=as_editor.user,
        reason="Moved to HealthTech",
    )
    monkeypatch.undo()
    dates = sitemap(client)

    after = timezone.localdate(later).isoformat()
    for page in ("", "chapter/1-recommendations/", "whole/", "history/"):
        assert dates[f"/guidance/htg501/{page}"] == after
    assert not any("ipg640" in path for path in dates)


def atom_problems(body):
    """What RFC 4287 requires of a feed and its entries that this feed lacks."""
    feed = ET.fromstring(body)
    problems = []
    for name in ("id", "title", "updated"):
        if feed.find(ATOM + name) is None:
            problems.append(f"feed has no {name}")
    feed_author = feed.find(f"{ATOM}author/{ATOM}name") is not None
    ids = []
    for number, entry in enumerate(feed.findall(ATOM + "entry"), start=1):
        for name in ("id", "title", "updated"):
            if entry.find(ATOM + name) is None:
                problems.append(f"entry {number} has no {name}")
        if not feed_author and entry.find(f"{ATOM}author/{ATOM}name") is None:
            problems.append(f"entry {number} has no author")
        entry_id = entry.findtext(ATOM + "id", "")
        ids.append(entry_id)
        if not IRI.match(entry_id):
            problems.append(f"entry {number} id {entry_id!r} is not an IRI")
        for name in ("updated", "published"):
            value = entry.findtext(ATOM + name)
            if value is not None and not RFC_3339.match(value):
                problems.append(f"entry {number} {name} {value!r} is not a date-time")
        if entry.find(f"{ATOM}link[@rel='alternate']") is None:
            problems.append(f"entry {number} has no alternate link")
    if len(set(ids)) != len(ids):
        problems.append("entry ids repeat")
    return problems


@pytest.fixture
def samples():
    call_command("load_samples", stdout=io.StringIO(), stderr=io.StringIO())


def test_the_feed_is_valid_atom(client, samples):
    body = client.get("/guidance/changes.atom").content

    assert atom_problems(body) == []
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.author == "Guidance registry"
    assert len(parsed.entries) == 2


def test_the_feed_names_the_reference_in_force_at_each_event(client, samples):
    entries = feedparser.parse(client.get("/guidance/changes.atom").content).entries
    titles = {
        entry.title.split(" ")[0]: entry.title for entry in entries if "venoplasty" in entry.title
    }

    # Published in 2019 as IPG640; migrated to HTG501 in January 2026.
    assert titles["Published:"].startswith("Published: IPG640 Percutaneous venoplasty")
    assert titles["Updated:"].startswith("Updated: HTG501 Percutaneous venoplasty")
    published = next(e for e in entries if e.title.startswith("Published: IPG640"))
    assert (
        published.summary
        == "NICE interventional procedures guidance 640 was published on 30 January 2019."
    )


def test_an_event_date_keeps_its_precision_and_no_time_is_invented(client):
    guidance = make_guidance("HTG501", title="Venoplasty")
    make_update_entry(guidance, "Migrated.", date=datetime.date(2026, 1, 1))

    feed = ET.fromstring(client.get("/guidance/changes.atom").content)
    entries = {e.findtext(ATOM + "title"): e for e in feed.findall(ATOM + "entry")}

    updated = entries["Updated: HTG501 Venoplasty"]
    assert updated.findtext(DCTERMS + "date") == "2026-01"
    assert not updated.findtext(ATOM + "updated").startswith("2026-01-01T00:00:00")
    assert updated.find(ATOM + "published") is None
    assert entries["Published: HTG501 Venoplasty"].findtext(DCTERMS + "date") == "2019-01-30"


def test_update_text_reaches_a_feed_reader_as_text(client):
    guidance = make_guidance("HTG501", title="Venoplasty <b>bold</b>")
    make_update_entry(guidance, "<script>alert(1)</script> & more", date=datetime.date(2026, 1, 1))

    entries = feedparser.parse(client.get("/guidance/changes.atom").content).entries
    update = next(entry for entry in entries if entry.title.startswith("Updated"))

    assert "<script" not in update.summary
    assert html.unescape(update.summary) == "January 2026: <script>alert(1)</script> & more"
    assert update.title == "Updated: HTG501 Venoplasty <b>bold</b>"


def test_entry_ids_stay_the_same_on_every_host(client):
    make_guidance("HTG501", title="Venoplasty")

    def ids(host):
        body = client.get("/guidance/changes.atom", HTTP_HOST=host).content
        return [entry.id for entry in feedparser.parse(body).entries]

    assert ids("localhost") == ids("127.0.0.1")
    assert ids("localhost")[0].startswith("urn:uuid:")
