import datetime
import io
import re

import pytest
from django.core.management import call_command
from django.db import connection

from guidance.models import GuidanceStatus
from guidance.public.page_cache import forget_all_pages
from tests.factories import make_chapter, make_guidance

pytestmark = pytest.mark.django_db


def load_samples():
    call_command("load_samples", stdout=io.StringIO(), stderr=io.StringIO())


def result_references(response):
    return re.findall(r"<td>([A-Z]+\d+)</td>", response.content.decode())


def status_text(response):
    match = re.search(r'role="status">([^<]*)<', response.content.decode())
    return match.group(1).strip()


@pytest.mark.parametrize("query", ["IPG640", "ipg640", "ipg 0640"])
def test_searching_a_former_reference_finds_the_current_document(client, query):
    load_samples()
    response = client.get("/guidance/", {"q": query})
    assert result_references(response) == ["HTG501"]


def test_searching_a_title_word_finds_the_document(client):
    load_samples()
    assert result_references(client.get("/guidance/", {"q": "venoplasty"})) == ["HTG501"]


def test_searching_a_phrase_from_the_text_finds_the_document(client):
    load_samples()
    response = client.get("/guidance/", {"q": '"balloon catheter"'})
    assert result_references(response) == ["MTG1"]


def test_a_search_without_results_says_so(client):
    load_samples()
    response = client.get("/guidance/", {"q": "zzzunknownword"})
    assert "No guidance matches your search" in status_text(response)
    assert "<table" not in response.content.decode()


def test_drafts_are_never_found(client):
    make_guidance("HTG900", title="Secret draft device", status=GuidanceStatus.DRAFT)
    assert result_references(client.get("/guidance/", {"q": "secret"})) == []
    assert result_references(client.get("/guidance/", {"q": "HTG900"})) == []


def test_results_are_counted_and_paginated(client):
    for number in range(1, 26):
        make_guidance(f"TA{number}", published_on=datetime.date(2020, 1, number))

    first = client.get("/guidance/")
    second = client.get("/guidance/", {"page": 2})

    assert status_text(first) == "Showing 1 to 20 of 25"
    assert status_text(second) == "Showing 21 to 25 of 25"
    assert result_references(first)[0] == "TA25"
    assert 'href="?page=2"' in first.content.decode()


def test_filters_by_programme_status_and_published_dates(client):
    make_guidance("TA1", published_on=datetime.date(2018, 5, 1))
    make_guidance("TA2", published_on=datetime.date(2021, 5, 1))
    make_guidance("TA3", published_on=datetime.date(2021, 6, 1), status=GuidanceStatus.WITHDRAWN)
    make_guidance("NG1", published_on=datetime.date(2021, 5, 1))

    assert result_references(client.get("/guidance/", {"programme": "TA"})) == ["TA3", "TA2", "TA1"]
    assert result_references(client.get("/guidance/", {"status": "withdrawn"})) == ["TA3"]
    in_2021 = {"programme": "TA", "published_from": "2021-01-01", "published_to": "2021-05-31"}
    assert result_references(client.get("/guidance/", in_2021)) == ["TA2"]


def test_sorts_by_title(client):
    make_guidance("TA1", title="Zebra")
    make_guidance("TA2", title="Apple")
    assert result_references(client.get("/guidance/", {"sort": "title"})) == ["TA2", "TA1"]


def test_bad_filter_values_get_a_clear_message(client):
    make_guidance("TA1")
    response = client.get(
        "/guidance/", {"published_from": "yesterday", "published_to": "2020-01-01", "page": "x"}
    )
    assert response.status_code == 200
    assert "Enter the &#x27;published from&#x27; date as YYYY-MM-DD." in response.content.decode()
    swapped = client.get(
        "/guidance/", {"published_from": "2021-01-01", "published_to": "2020-01-01"}
    )
    assert "must be on or after" in swapped.content.decode()


def test_the_search_form_keeps_what_was_asked(client):
    response = client.get("/guidance/", {"q": "<script>alert(1)</script>"})
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html
    assert 'value="&lt;script&gt;alert(1)&lt;/script&gt;"' in html


def test_the_list_runs_a_fixed_number_of_queries(client, django_assert_max_num_queries):
    for number in range(1, 30):
        make_guidance(f"TA{number}")
    with django_assert_max_num_queries(4):
        client.get("/guidance/", {"q": "guidance", "programme": "TA"})


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
def test_postgresql_ranks_title_matches_first_and_understands_web_queries(client):
    make_chapter(
        make_guidance("TA1", title="Knee replacement"),
        blocks=[("recommendation", "1.1", "Hip pain is not covered.")],
    )
    make_chapter(
        make_guidance("TA2", title="Hip replacement"),
        blocks=[("recommendation", "1.1", "Use for hip pain.")],
    )

    assert result_references(client.get("/guidance/", {"q": "hip"})) == ["TA2", "TA1"]
    assert result_references(client.get("/guidance/", {"q": "hip -covered"})) == ["TA2"]
    assert result_references(client.get("/guidance/", {"q": "knee or nothing"})) == ["TA1"]


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
def test_postgresql_search_follows_every_edit_of_the_text(client, as_editor):
    guidance = make_guidance("TA1", title="Knee replacement")
    make_chapter(guidance, blocks=[("recommendation", "1.1", "Use the oldword device.")])
    assert result_references(client.get("/guidance/", {"q": "oldword"})) == ["TA1"]

    with as_editor("Reworded"):
        block = guidance.blocks.get()
        block.text = "Use the newword device."
        block.save()
    forget_all_pages()

    assert result_references(client.get("/guidance/", {"q": "oldword"})) == []
    assert result_references(client.get("/guidance/", {"q": "newword"})) == ["TA1"]


@pytest.mark.parametrize("params", [{}, {"sort": "date"}, {"q": "guidance"}])
def test_newest_first_puts_undated_guidance_last(client, params):
    make_guidance("TA1", published_on=datetime.date(2019, 1, 1))
    make_guidance("TA2", published_on=None)
    make_guidance("TA3", published_on=datetime.date(2023, 6, 1))
    assert result_references(client.get("/guidance/", params)) == ["TA3", "TA1", "TA2"]


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"q": "word " * 41}, "Ensure this value has at most 200 characters"),
        ({"programme": "XYZ"}, "Select a valid choice"),
    ],
)
def test_a_refused_search_shows_the_error_and_no_results(client, params, error):
    make_guidance("TA1")
    response = client.get("/guidance/", params)
    html = response.content.decode()
    assert error in html
    assert status_text(response) == "Your search was not run: correct what is marked above."
    assert "<table" not in html
    assert result_references(response) == []


def test_records_known_only_from_a_notice_are_not_search_results(client):
    load_samples()
    stubs = ["IPG346", "IPG420", "IPG508", "IPG640"]
    found = result_references(client.get("/guidance/", {"q": "-venoplasty"}))
    assert not set(found) & set(stubs)
    if connection.vendor == "postgresql":
        assert found == ["MTG1"]  # every document without the word
    make_guidance("IPG9", title="Venoplasty named in a notice", is_stub=True, published_on=None)
    assert result_references(client.get("/guidance/", {"q": "venoplasty"})) == ["HTG501"]
    assert result_references(client.get("/guidance/", {"q": "IPG9"})) == ["IPG9"]


@pytest.mark.parametrize("query", ["ipg420", "IPG 420"])
def test_searching_a_replaced_reference_finds_what_replaces_it_too(client, query):
    load_samples()
    assert sorted(result_references(client.get("/guidance/", {"q": query}))) == [
        "HTG501",
        "IPG420",
    ]


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
def test_postgresql_search_reads_the_index_of_reference_and_title_words():
    from guidance.models import Guidance  # noqa: PLC0415

    make_guidance("TA1", title="Knee replacement")
    with connection.cursor() as cursor:
        # With sequential scans priced out, a query the index can answer is answered from it.
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = Guidance.objects.published().search("knee").explain()
    assert "guidance_search_words" in plan
