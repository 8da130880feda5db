import datetime
import re

import pytest

from guidance.models import ChangeKind, GuidanceStatus
from tests.factories import make_document, make_guidance, make_update_entry

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


def test_the_sitemap_dates_each_page_by_its_last_major_update(client):
    make_document(
        "HTG501",
        chapters=2,
        last_updated_on=datetime.date(2026, 3, 1),
        last_updated_precision="month",
    )
    make_document("HTG502", chapters=1)
    make_guidance("IPG640", is_stub=True)
    make_guidance("HTG900", status=GuidanceStatus.DRAFT)

    body = client.get("/sitemap.xml").content.decode()

    entries = dict(
        re.findall(r"<loc>http://testserver([^<]+)</loc><lastmod>([^<]+)</lastmod>", body)
    )
    assert entries["/guidance/htg501/"] == "2026-03-01"
    assert entries["/guidance/htg501/chapter/2-chapter-2/"] == "2026-03-01"
    assert entries["/guidance/htg502/"] == "2019-01-30"
    assert "ipg640" not in body and "htg900" not in body


def test_a_minor_update_does_not_change_the_sitemap_date(client):
    guidance = make_guidance("HTG503")
    make_update_entry(guidance, "Typo fixed.", kind=ChangeKind.MINOR)
    assert "<lastmod>2019-01-30</lastmod>" in client.get("/sitemap.xml").content.decode()
