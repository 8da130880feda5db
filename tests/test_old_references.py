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


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("/guidance/ipg640/", "/guidance/htg501/"),
        ("/guidance/IPG640/", "/guidance/htg501/"),
        ("/guidance/ipg640/history/", "/guidance/htg501/history/"),
        (
            "/guidance/ipg640/chapter/1-recommendations/",
            "/guidance/htg501/chapter/1-recommendations/",
        ),
        (
            "/guidance/ipg640/chapter/3-Committee-considerations/",
            "/guidance/htg501/chapter/3-committee-considerations/",
        ),
    ],
)
def test_a_migrated_reference_redirects_permanently_to_the_same_page_of_its_new_reference(
    client, old, new
):
    response = client.get(old)
    assert response.status_code == 301
    assert response["Location"] == new
    assert client.get(new).status_code == 200


def test_the_new_reference_says_what_was_migrated_and_when(client):
    page = text_of(client.get("/guidance/ipg640/", follow=True))
    assert "IPG640 was migrated to HTG501 in January 2026; the recommendations are unchanged." in (
        page
    )
    assert "Published: 30 January 2019" in page
    assert "Last updated" not in page


def test_a_replaced_sample_keeps_a_page_naming_its_successor(client):
    response = client.get("/guidance/ipg420/")
    assert response.status_code == 200
    assert re.search(
        r'This guidance has been updated and replaced by <a href="/guidance/htg501/">'
        r"NICE HealthTech guidance 501</a>",
        response.content.decode(),
    )


def test_a_stub_known_only_from_a_notice_says_it_was_replaced(client):
    response = client.get("/guidance/IPG346/", follow=True)
    assert response.redirect_chain == [("/guidance/ipg346/", 301)]
    assert "This guidance has been updated and replaced by" in text_of(response)
    assert 'href="/guidance/ipg508/"' in response.content.decode()


def test_the_lineage_names_every_earlier_reference(client):
    page = text_of(client.get("/guidance/htg501/history/"))
    assert "Published as IPG640 : 30 January 2019" in page
    assert "Replaced IPG420" in page
    assert "IPG640 migrated to HTG501 in January 2026" in page
