"""NICE's guidance page layout: tabs, breadcrumbs, chapter URLs, notices said once."""

import io
import re

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def samples():
    call_command("load_samples", stdout=io.StringIO(), stderr=io.StringIO())


def text_of(response):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def nav(html, label):
    return re.search(rf'<nav[^>]*aria-label="{label}"[^>]*>(.*?)</nav>', html, flags=re.S).group(1)


@pytest.mark.parametrize(
    ("url", "current_guidance", "current_history"),
    [
        ("/guidance/htg501/", ' aria-current="page"', ""),
        (
            "/guidance/htg501/chapter/2-the-condition-current-treatments-and-procedure/",
            ' aria-current="true"',
            "",
        ),
        ("/guidance/htg501/whole/", ' aria-current="true"', ""),
        ("/guidance/htg501/history/", "", ' aria-current="page"'),
    ],
)
def test_guidance_and_history_are_tabs_marking_the_current_one(
    client, url, current_guidance, current_history
):
    tabs = nav(client.get(url).content.decode(), "HTG501")

    assert re.findall(r"<a [^>]*>([^<]+)</a>", tabs) == ["Guidance", "History"]
    assert f'href="/guidance/htg501/"{current_guidance}>Guidance</a>' in tabs
    assert f'href="/guidance/htg501/history/"{current_history}>History</a>' in tabs


@pytest.mark.parametrize(
    "url",
    [
        "/guidance/htg501/",
        "/guidance/htg501/chapter/1-recommendations/",
        "/guidance/htg501/history/",
    ],
)
def test_the_breadcrumbs_read_home_guidance_reference(client, url):
    crumbs = nav(client.get(url).content.decode(), "Breadcrumbs")
    assert re.findall(r">([^<>]+)</(?:a|span)>", crumbs) == ["Home", "Guidance", "HTG501"]
    assert 'href="/"' in crumbs and 'href="/guidance/"' in crumbs


def test_the_migration_is_noticed_once_on_the_overview(client):
    page = text_of(client.get("/guidance/htg501/"))

    assert page.count("IPG640 was migrated to HTG501 in January 2026") == 1
    # NICE's wording is in the update information, not repeated as a second notice.
    assert "has been migrated to HealthTech guidance 501" not in page


def test_the_whole_document_says_the_migration_once_in_its_update_information(client):
    page = text_of(client.get("/guidance/htg501/whole/"))

    assert page.count("migrated") == 1
    assert (
        "Update information Minor changes after publication January 2026: Interventional "
        "procedures guidance 640 has been migrated to HealthTech guidance 501." in page
    )


def test_a_stub_history_invents_no_update_sentence(client):
    page = text_of(client.get("/guidance/ipg420/history/"))

    assert "This guidance has been updated and replaced by" in page
    assert "has not been updated" not in page
    assert "Update information" not in page


def test_a_document_without_updates_says_so_on_its_history(client):
    page = text_of(client.get("/guidance/mtg1/history/"))
    assert "This guidance has not been updated since it was published." in page


@pytest.mark.parametrize(
    ("url", "location"),
    [
        (
            "/guidance/ipg640/chapter/Update-information/",
            "/guidance/htg501/chapter/update-information/",
        ),
        (
            "/guidance/HTG501/chapter/UPDATE-INFORMATION/",
            "/guidance/htg501/chapter/update-information/",
        ),
        (
            "/guidance/htg501/chapter/Recommendations/",
            "/guidance/htg501/chapter/1-recommendations/",
        ),
        (
            "/guidance/ipg640/chapter/recommendations/",
            "/guidance/htg501/chapter/1-recommendations/",
        ),
        (
            "/guidance/htg501/chapter/1-Recommendations/",
            "/guidance/htg501/chapter/1-recommendations/",
        ),
        (
            "/guidance/htg501/chapter/Committee-considerations/",
            "/guidance/htg501/chapter/3-committee-considerations/",
        ),
    ],
)
def test_nice_chapter_urls_lead_to_the_chapter(client, url, location):
    response = client.get(url)
    assert response.status_code == 301
    assert response["Location"] == location
    assert client.get(location).status_code == 200


def test_nice_chapter_url_without_a_trailing_slash_answers(client):
    response = client.get("/guidance/ipg640/chapter/Update-information", follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == "/guidance/htg501/chapter/update-information/"


def test_the_update_information_is_a_chapter_in_the_navigation(client):
    response = client.get("/guidance/htg501/chapter/update-information/")
    contents = nav(response.content.decode(), "Contents of HTG501")
    page = text_of(response)

    assert re.findall(r"<a [^>]*>([^<]+)</a>", contents)[-1] == "Update information"
    assert 'aria-current="page">Update information</a>' in contents
    assert "Update information Minor changes after publication January 2026:" in page
    overview = nav(client.get("/guidance/htg501/").content.decode(), "Contents of HTG501")
    assert "Update information" in overview


def test_a_document_without_update_information_has_no_such_chapter(client):
    assert "Update information" not in client.get("/guidance/mtg1/").content.decode()
    assert client.get("/guidance/mtg1/chapter/update-information/").status_code == 404
